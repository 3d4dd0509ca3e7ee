"""Find a CJK font for the printed sheets (Simplified Chinese glyph forms, embeddable in a PDF).

The project's set-up installs Debian's ``fonts-noto-cjk`` (``.ci/system-deps.sh``).  Its files are
OpenType *collections* (``NotoSansCJK-Regular.ttc``): one file, ten faces (JP, KR, SC, TC, HK and
their mono variants).  A face must be asked for by name and index: face 0 is the Japanese one,
whose glyphs differ from the Chinese standard forms (令, 关, 直, 骨 ...).  So the search asks
fontconfig (``fc-match``) and then matplotlib's font list for each of :data:`CJK_FAMILIES` in
turn and keeps the first face whose family really is the one asked for and which has a glyph for
every character of :data:`PROBE` (no tofu).

``ZHUDIAN_CJK_FONT=/path/to/font.ttc#2`` (file, optional ``#face index``) overrides the search,
e.g. on a machine without fontconfig.

Noto CJK outlines are CFF (PostScript) curves.  :mod:`maps.sheets` writes the pages with fpdf2,
which embeds such a face as a CID-keyed CFF font (``pdffonts``: "CID Type 0C", emb yes);
matplotlib draws only the map pictures, whose text becomes outlines.
"""

from __future__ import annotations

import functools
import logging
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

CJK_FAMILIES = (
    "Noto Sans CJK SC",
    "Source Han Sans SC",
    "Source Han Sans CN",
    "WenQuanYi Micro Hei",
    "WenQuanYi Zen Hei",
)
"""Families tried in order; all are Simplified Chinese faces (Noto/Source Han SC, WenQuanYi)."""

PROBE = "驻点走访路线单村委会已见面不在家拒访户主电话第组□"
"""Characters every sheet prints; a face missing any of them is not used."""

ENV_VAR = "ZHUDIAN_CJK_FONT"

_INSTALL_HINT = ("请安装中文字体: Debian/Ubuntu 运行 sudo apt-get install fonts-noto-cjk "
                 "(或在项目目录运行 sh .ci/system-deps.sh); 也可设置环境变量 "
                 f"{ENV_VAR}=/字体文件路径.ttc#序号 指定字体")


class FontNotFoundError(FileNotFoundError):
    """No usable CJK font: the message says which families were tried and how to install one."""


@dataclass(frozen=True)
class FontFace:
    """One face of a font file.

    Attributes
    ----------
    path : Path
        The font file (``.ttf``, ``.otf`` or a ``.ttc`` collection).
    index : int
        The face's index in a collection (0 for a single-face file).
    family : str
        Its family name, e.g. ``"Noto Sans CJK SC"``.
    bold : bool
        True for a bold face.
    """

    path: Path
    index: int
    family: str
    bold: bool = False


@dataclass(frozen=True)
class CjkFonts:
    """The regular and bold face of one family (``bold`` is the regular face when there is none).

    A subset made by :func:`subset_fonts` keeps the faces it was cut from in ``full`` and the
    characters it covers in ``chars`` (None: the faces are complete).
    """

    regular: FontFace
    bold: FontFace
    full: CjkFonts | None = None
    chars: frozenset[str] | None = None

    @property
    def family(self) -> str:
        return self.regular.family

    def covers(self, text: str) -> bool:
        """True if every character of ``text`` is in the faces (always for complete faces)."""
        return self.chars is None or all(c in self.chars or c.isspace() for c in text)


def _check_face(path: Path, index: int) -> tuple[str, bool] | None:
    """(family, bold) of the face if it has every :data:`PROBE` glyph, else None."""
    from matplotlib.ft2font import FT2Font

    try:
        font = FT2Font(str(path), face_index=index)
    except (OSError, RuntimeError, ValueError) as exc:
        logger.debug("cannot open %s#%d: %s", path, index, exc)
        return None
    missing = [c for c in PROBE if font.get_char_index(ord(c)) == 0]
    if missing:
        logger.debug("%s#%d lacks %s", path, index, "".join(missing))
        return None
    return font.family_name, "bold" in font.style_name.lower()


def _fc_match(family: str, bold: bool) -> tuple[Path, int] | None:
    exe = shutil.which("fc-match")
    if exe is None:
        return None
    pattern = f"{family}:style=Bold" if bold else f"{family}:style=Regular"
    try:
        out = subprocess.run([exe, "-f", "%{file}\t%{index}\t%{family}", pattern], capture_output=True,
                             text=True, timeout=20, check=True).stdout
    except (OSError, subprocess.SubprocessError) as exc:
        logger.debug("fc-match %s failed: %s", pattern, exc)
        return None
    parts = out.split("\t")
    if len(parts) < 3 or family.lower() not in [f.strip().lower() for f in parts[2].split(",")]:
        return None  # fontconfig substitutes another family when the one asked for is missing
    return Path(parts[0]), int(parts[1] or 0)


def _mpl_match(family: str, bold: bool) -> tuple[Path, int] | None:
    from matplotlib import font_manager

    try:
        found = font_manager.findfont(font_manager.FontProperties(family=family, weight="bold" if bold else "normal"),
                                      fallback_to_default=False)
    except ValueError:
        return None
    return Path(str(getattr(found, "path", found))), int(getattr(found, "face_index", 0))


def _from_env(value: str) -> CjkFonts:
    path_text, _, index_text = value.partition("#")
    path = Path(path_text).expanduser()
    try:
        index = int(index_text or 0)
    except ValueError:
        raise FontNotFoundError(f"{ENV_VAR}={value!r}: '#' 后应为字体序号 (整数), 如 NotoSansCJK-Regular.ttc#2") from None
    if not path.is_file():
        raise FontNotFoundError(f"{ENV_VAR}={value!r}: 字体文件不存在; {_INSTALL_HINT}")
    checked = _check_face(path, index)
    if checked is None:
        raise FontNotFoundError(f"{ENV_VAR}={value!r}: 该字体缺少中文字符 ({PROBE}); 换一个简体中文字体")
    face = FontFace(path, index, checked[0], checked[1])
    return CjkFonts(face, face)


@functools.lru_cache(maxsize=1)
def find_cjk_fonts() -> CjkFonts:
    """The first usable family of :data:`CJK_FAMILIES` (or ``$ZHUDIAN_CJK_FONT``), regular and bold.

    Returns
    -------
    CjkFonts
        Faces whose family is the one asked for (never a substitute) and that contain every
        character of :data:`PROBE`.

    Raises
    ------
    FontNotFoundError
        When no family is installed (the message says how to install ``fonts-noto-cjk``), or when
        ``$ZHUDIAN_CJK_FONT`` names a missing file or a face without Chinese glyphs.
    """
    env = os.environ.get(ENV_VAR, "").strip()
    if env:
        return _from_env(env)
    for family in CJK_FAMILIES:
        faces = []
        for bold in (False, True):
            face = None
            for match in (_fc_match, _mpl_match):
                found = match(family, bold)
                if found is None:
                    continue
                checked = _check_face(*found)
                if checked is not None and checked[0].lower() == family.lower():
                    face = FontFace(found[0], found[1], checked[0], bold=checked[1])
                    break
            faces.append(face)
        regular, bold_face = faces
        if regular is None:
            continue
        if bold_face is None or not bold_face.bold:
            bold_face = regular
        logger.debug("CJK font: %s (%s#%d, bold %s#%d)", family, regular.path, regular.index,
                     bold_face.path, bold_face.index)
        return CjkFonts(regular, bold_face)
    raise FontNotFoundError(f"找不到简体中文字体 (试过 {', '.join(CJK_FAMILIES)}); {_INSTALL_HINT}")


def subset_fonts(fonts: CjkFonts, text: str, folder: str | os.PathLike[str]) -> CjkFonts:
    """The faces cut down to the characters of ``text`` (plus printable Latin-1), saved in ``folder``.

    A whole Noto CJK face has 65,535 glyphs: reading it and subsetting it again for every PDF
    costs about a second per face and file.  A job writing many PDFs subsets once with this
    function and hands the result to every renderer; text outside the subset still prints,
    through the full faces (see :mod:`maps.sheets` and ``CjkFonts.full``).

    Raises
    ------
    OSError
        When the font files cannot be read or ``folder`` cannot be written.
    """
    from fontTools import subset

    chars = set(text) | {chr(c) for c in (*range(0x20, 0x7F), *range(0xA0, 0x100))}
    chars = {c for c in chars if not c.isspace() or c == " "}
    faces = {}
    for face in {fonts.regular, fonts.bold}:
        options = subset.Options()
        options.font_number = face.index
        options.layout_features = []
        options.name_IDs = ["*"]
        options.notdef_outline = True
        options.hinting = False
        options.desubroutinize = True  # fpdf2 subsets again per PDF: without subroutines that is quick
        font = subset.load_font(str(face.path), options)
        subsetter = subset.Subsetter(options=options)
        subsetter.populate(text="".join(sorted(chars)))
        subsetter.subset(font)
        out = Path(folder) / f"{face.family.replace(' ', '')}-{'Bold' if face.bold else 'Regular'}-subset.otf"
        font.save(str(out))
        font.close()
        faces[face] = FontFace(out, 0, face.family, face.bold)
    return CjkFonts(faces[fonts.regular], faces[fonts.bold], full=fonts.full or fonts, chars=frozenset(chars))


def matplotlib_family(fonts: CjkFonts) -> str:
    """The family name to give matplotlib for ``fonts`` (registered with it first if needed).

    matplotlib caches its font list; a font installed after the cache was built, or given by
    ``$ZHUDIAN_CJK_FONT``, is added to it here so that text drawn in the map uses the same face.
    """
    from matplotlib import font_manager

    fonts = fonts.full or fonts  # never hand matplotlib a subset: map labels may need any glyph
    try:
        found = font_manager.findfont(font_manager.FontProperties(family=fonts.family), fallback_to_default=False)
    except ValueError:
        found = None
    if found is None or Path(str(getattr(found, "path", found))) != fonts.regular.path:
        font_manager.fontManager.addfont(str(fonts.regular.path))
        if fonts.bold.path != fonts.regular.path:
            font_manager.fontManager.addfont(str(fonts.bold.path))
    return fonts.family
