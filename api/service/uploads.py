"""Uploaded files: written to a temporary folder under their own (sanitised) names, zips checked.

The readers of :mod:`geo` then read them exactly as the CLI reads the user's files.  A zip is not
extracted: it is read in place (GDAL ``/vsizip``), after checks that its member names stay inside
the archive (no ``..``, no absolute paths) and that its members really unzip to no more than the
limit (each member is streamed and counted, so a lying header or a zip bomb is caught).
"""

from __future__ import annotations

import re
import shutil
import zipfile
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import BinaryIO

from api.service.errors import ApiError
from geo.errors import Problem

VECTOR_SUFFIXES = (".geojson", ".json", ".gpkg", ".zip")
TABLE_SUFFIXES = (".csv", ".tsv", ".txt", ".xlsx", ".xls")
MAX_MEMBERS = 1000
_CHUNK = 1 << 20


def safe_name(filename: str | None, default: str) -> str:
    """The last component of an uploaded file's name, without path or control characters."""
    name = (filename or "").replace("\\", "/").split("/")[-1]
    name = re.sub(r"[\x00-\x1f<>:\"|?*]", "_", name).strip().lstrip(".")
    return name[:120] or default


def save_upload(src: BinaryIO, filename: str | None, folder: Path, *, default: str,
                suffixes: tuple[str, ...], max_unzipped: int) -> Path:
    """Copy one upload into ``folder`` and check it.

    Returns
    -------
    Path
        The saved file (its name is the user's, so that problems name the user's file).

    Raises
    ------
    ApiError
        422 for a file type the endpoint does not take or an unsafe zip; 413 for a zip that
        unzips to more than ``max_unzipped`` bytes.
    """
    name = safe_name(filename, default)
    suffix = Path(name).suffix.lower()
    if suffix not in suffixes:
        raise ApiError(422, Problem(name, "", f"不支持的文件类型 {suffix or '(无扩展名)'}",
                                    f"上传 {' / '.join(suffixes)} 文件; Shapefile 请把 .shp/.shx/.dbf/.prj 压缩成一个 zip"))
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    k = 1
    while path.exists():  # two uploads with the same name
        path = folder / f"{Path(name).stem}-{k}{suffix}"
        k += 1
    with path.open("wb") as out:
        shutil.copyfileobj(src, out, _CHUNK)
    if suffix == ".zip":
        check_zip(path, name, max_unzipped)
    return path


def _unsafe(member: str) -> bool:
    text = member.replace("\\", "/")
    if text.startswith("/") or PureWindowsPath(member).drive or re.match(r"^[A-Za-z]:", text):
        return True
    return ".." in PurePosixPath(text).parts


def check_zip(path: Path, name: str, max_unzipped: int) -> None:
    """Refuse a zip with unsafe member names, too many members, or too much unzipped data.

    A file that is not a zip at all is left to the reader (which says so in its own words).

    Raises
    ------
    ApiError
        422 (unsafe names, damaged archive) or 413 (unzipped size over ``max_unzipped``).
    """
    if not zipfile.is_zipfile(path):
        return
    limit_mb = max_unzipped / 1024 / 1024
    too_big = ApiError(413, Problem(name, "", f"zip 解压后超过 {limit_mb:.0f} MB 的上限",
                                    "只压缩需要的图层文件, 或分开上传; 确需更大请联系管理员调整 ZHUDIAN_MAX_UNZIPPED_MB"))
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
            if len(infos) > MAX_MEMBERS:
                raise ApiError(422, Problem(name, "", f"zip 包里有 {len(infos)} 个文件, 超过 {MAX_MEMBERS} 个",
                                            "每个图层单独压缩成一个 zip"))
            bad = [i.filename for i in infos if _unsafe(i.filename)]
            if bad:
                raise ApiError(422, [Problem(name, b, "zip 里的路径指向压缩包之外 (含 .. 或绝对路径), 不安全",
                                             "重新压缩: 只放文件本身, 不要带上级目录") for b in bad[:20]])
            if sum(i.file_size for i in infos) > max_unzipped:
                raise too_big
            total = 0
            for info in infos:  # the header may lie: count what really comes out
                if info.is_dir():
                    continue
                with zf.open(info) as member:
                    while chunk := member.read(_CHUNK):
                        total += len(chunk)
                        if total > max_unzipped:
                            raise too_big
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, EOFError, OSError) as exc:
        raise ApiError(422, Problem(name, "", f"zip 压缩包损坏或无法读取 ({type(exc).__name__}: {exc})",
                                    "重新压缩后上传 (使用标准 zip 格式)")) from exc
    except RuntimeError as exc:  # encrypted member
        raise ApiError(422, Problem(name, "", f"zip 无法读取 ({exc})", "不要加密压缩包")) from exc
