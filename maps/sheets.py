"""Printed sheets (PDF): a group's month of route sheets, the village's A3 zone map, contact cards.

Pure renderers: plain data (the dataclasses below, metric GeoDataFrames) in, PDF bytes out; no
store access (:mod:`api.sheets` loads the data).  Pages are laid out with fpdf2, which embeds
the CJK face found by :mod:`maps.fonts` (subset, CID-keyed CFF for Noto CJK: real, searchable
text); the map pictures are drawn by :mod:`maps.sheet_map` with matplotlib and placed as vector
graphics.  Texts come from :func:`maps.i18n.label`: Simplified Chinese by default, English with
``lang="en"``.

Route sheets (:func:`route_sheets_pdf`), A4 portrait
    Page 1 is the cover: group, members and phones, zone, and one row per session of the month
    (date, kind, time window, stops, walking km, page).  Then one page per session with stops:
    header (village, group, zone, members with phones, date, kind and window), the route map
    (:func:`maps.sheet_map.route_map_svg`), the stop table (no., household id, address, head,
    phone, tags, planned arrival, three check boxes 已见面 / 不在家 / 拒访 drawn as squares, notes)
    and a footer (stops, walking km and minutes, data credit, page x/y).  A session with more
    stops than :data:`FIRST_PAGE_ROWS` continues its table on pages of :data:`NEXT_PAGE_ROWS`
    rows.  Household phones are masked (``138****1234``, :func:`mask_phone`) unless
    ``show_phones``; members' phones (officials' work numbers) are always shown.

Zone map (:func:`zone_map_pdf`), A3 landscape
    The village's zones in their group colours (the colours of :func:`maps.zones.zone_colour`, so
    print and screen agree), area outlines and names, households as dots, the village committee,
    and a legend listing each group with its members, households and workload in hours.

Contact cards (:func:`contact_cards_pdf`), A4 portrait
    Ten 90 x 54 mm cards per page with dashed cut lines: per household, its head and address, the
    group and its members' names and phones.
"""

from __future__ import annotations

import datetime as dt
import io
import logging
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import geopandas as gpd
import shapely

from maps.fonts import CjkFonts, find_cjk_fonts, matplotlib_family
from maps.i18n import check_lang, label
from maps.offline import OSM_ODBL_ATTRIBUTION
from maps.sheet_map import PATH_COLOUR, route_map_svg, zone_map_svg
from maps.zones import darker

logger = logging.getLogger(__name__)

A4 = (210.0, 297.0)
A3_LANDSCAPE = (420.0, 297.0)
MARGIN = 10.0
ROW_H = 7.5
"""Height of a stop row, mm (room for a tick and two short lines of text)."""
HEAD_H = 8.0
MAP_TOP, MAP_H = 34.0, 98.0
TABLE_TOP = MAP_TOP + MAP_H + 7.0
FOOTER_Y = 283.0
FIRST_PAGE_ROWS = int((FOOTER_Y - 2 - TABLE_TOP - HEAD_H) // ROW_H)
"""Stop rows under the map on a session's first page (17)."""
NEXT_PAGE_ROWS = int((FOOTER_Y - 2 - 30.0 - HEAD_H) // ROW_H)
"""Stop rows on a continuation page (32)."""
BOX_MM = 3.6
"""Side of a check box, mm."""
_FONT = "cjk"
_FONT_FULL = "cjkfull"
_PT_MM = 25.4 / 72
_TAG_KEYS = {"elderly_alone", "low_income", "disabled", "evening_only"}

# (key, width mm, align) of the stop table; widths add up to the 190 mm between the margins
STOP_COLUMNS: tuple[tuple[str, float, str], ...] = (
    ("sheet_no", 8, "C"), ("sheet_household", 17, "L"), ("sheet_address", 33, "L"), ("sheet_head", 15, "L"),
    ("sheet_phone", 22, "L"), ("sheet_tags", 22, "L"), ("sheet_arrive", 11, "C"), ("sheet_met", 12, "C"),
    ("sheet_not_home", 12, "C"), ("sheet_refused", 12, "C"), ("sheet_notes", 26, "L"),
)
CHECK_COLUMNS = ("sheet_met", "sheet_not_home", "sheet_refused")


# ---------------------------------------------------------------------- data


@dataclass(frozen=True)
class SheetMember:
    """A group member as printed: name, phone (shown in full), role and title.

    ``role`` is ``leader``, ``member`` or ``auxiliary`` (:class:`planner.groups.Person`).
    """

    name: str
    phone: str | None = None
    role: str = "member"
    title: str | None = None


@dataclass(frozen=True)
class SheetStop:
    """One planned visit: household data, planned arrival ``"HH:MM"`` and position in metres."""

    household_id: str
    address: str
    head: str
    phone: str | None
    tags: tuple[str, ...]
    arrive: str
    x: float
    y: float


@dataclass
class SheetSession:
    """One session of a group: date, kind (``stationing`` | ``evening``), window ``"HH:MM"``,
    the stops in visit order, the walking line (metres, may be None) with its length (m) and time
    (minutes)."""

    date: dt.date
    kind: str
    start: str
    end: str
    stops: list[SheetStop] = field(default_factory=list)
    walk_m: float = 0.0
    walk_min: float = 0.0
    path: shapely.Geometry | None = None
    start_xy: tuple[float, float] | None = None
    """Where this session starts and ends (projected), when not at the village committee."""
    start_text: str | None = None
    """What that place is (printed in the legend), e.g. ``外点 Malbun（乘车前往）``."""


@dataclass
class SheetGroup:
    """A group's month as printed on its route sheets.

    Attributes
    ----------
    village_id, village_name, town : str
    group_id : str
        The stored id (e.g. ``990101001009-G1``), printed small.
    group_name : str
        What people call it (``第1组``).
    zone_label : str
        Short zone label (``Z1``).
    zone_areas : list of str
        Names of the natural villages / compounds in the zone.
    members : list of SheetMember
    colour : str
        The zone's colour ``#rrggbb`` (as on the zone map).
    sessions : list of SheetSession
        In date and time order (sessions without stops are listed on the cover only).
    depot_xy : (x, y) or None
        The village committee, metres.
    zone_outline : geometry, optional
        The zone, metres.
    """

    village_id: str
    village_name: str
    town: str
    group_id: str
    group_name: str
    zone_label: str
    zone_areas: list[str]
    members: list[SheetMember]
    colour: str
    sessions: list[SheetSession]
    depot_xy: tuple[float, float] | None = None
    zone_outline: shapely.Geometry | None = None


@dataclass
class Background:
    """Map layers under the routes, in the sheets' metric CRS: areas (``name``) and roads
    (``highway`` optional).  Either may be None."""

    areas: gpd.GeoDataFrame | None = None
    roads: gpd.GeoDataFrame | None = None


@dataclass(frozen=True)
class ZoneRow:
    """One zone of the A3 zone map and its legend row (workload in minutes)."""

    zone_label: str
    group_name: str
    members: list[SheetMember]
    households: int
    workload_min: float
    colour: str
    outline: shapely.Geometry | None = None


@dataclass(frozen=True)
class CardHousehold:
    """A household that gets a contact card."""

    household_id: str
    head: str
    address: str


# ---------------------------------------------------------------------- text helpers


def mask_phone(phone: str | None) -> str:
    """``13812341234`` -> ``138****1234``: keep the first 3 (after a +86 country code) and last 4
    digits of numbers of 8 or more digits (the middle becomes ``*``), only the last 2 of shorter
    ones; other characters stay; ``None`` -> ``""``."""
    if phone is None or (isinstance(phone, float) and math.isnan(phone)):
        return ""
    text = str(phone).strip()
    digits = [i for i, c in enumerate(text) if c.isdigit()]
    if not digits:
        return text
    front = 5 if len(digits) == 13 and text[digits[0]:digits[1] + 1] == "86" else 3  # +86 138...: keep 86 too
    keep = set(digits[:front] + digits[-4:]) if len(digits) >= 8 else set(digits[-2:])
    return "".join(c if (not c.isdigit() or i in keep) else "*" for i, c in enumerate(text))


def tag_text(tags: Iterable[str], lang: str) -> str:
    """Household tags in words (``elderly_alone`` -> 独居老人), unknown tags as they are."""
    words = [label(f"tag_{t}", lang) if t in _TAG_KEYS else t for t in tags if t]
    return ("、" if lang == "zh" else ", ").join(words)


def date_text(day: dt.date, lang: str) -> str:
    """``2026年12月1日 星期二`` / ``Tue 2026-12-01``."""
    wd = label("sheet_weekdays", lang).split(",")[day.weekday()]
    return label("sheet_date", lang, y=day.year, m=day.month, d=day.day, wd=wd)


def kind_text(kind: str, start: str, lang: str) -> str:
    """``驻点日 上午`` / ``夜访`` (a stationing day before noon is the morning part)."""
    if kind == "evening":
        return label("sheet_evening", lang)
    part = label("sheet_am", lang) if start < "12:00" else label("sheet_pm", lang)
    return f"{label('sheet_stationing', lang)} {part}"


def _member_text(m: SheetMember, lang: str, *, with_phone: bool = True) -> str:
    bits = [m.name]
    if m.title:
        bits.append(m.title)
    elif m.role in ("leader", "member", "auxiliary"):
        bits.append(label(f"sheet_{m.role}", lang))
    if with_phone and m.phone:
        bits.append(str(m.phone))
    return " ".join(bits)


# ---------------------------------------------------------------------- PDF helpers


class _Pdf:
    """An fpdf2 document with the CJK face as family ``cjk`` (regular and bold) and helpers in mm."""

    def __init__(self, fonts: CjkFonts, *, lang: str, title: str, paper: str = "A4", landscape: bool = False):
        from fpdf import FPDF

        self.pdf = FPDF(orientation="L" if landscape else "P", unit="mm", format=paper)
        self.pdf.set_auto_page_break(False)
        self.pdf.set_margins(MARGIN, MARGIN, MARGIN)
        self.pdf.add_font(_FONT, "", str(fonts.regular.path), collection_font_number=fonts.regular.index)
        self.pdf.add_font(_FONT, "B", str(fonts.bold.path), collection_font_number=fonts.bold.index)
        self.fonts = fonts
        self._fallback = False
        self.pdf.set_title(title)
        self.pdf.set_creator("Zhudian")
        self.pdf.set_lang("zh-CN" if lang == "zh" else "en")
        self.lang = lang

    def font(self, size: float, bold: bool = False, text: str = "") -> None:
        """Select the CJK face; a text outside a subset font is set in the full face instead."""
        self.pdf.set_font(self._family(text), "B" if bold else "", size)

    def _family(self, text: str) -> str:
        if self.fonts.covers(text) or self.fonts.full is None:
            return _FONT
        if not self._fallback:  # added the first time a character outside the subset shows up
            full = self.fonts.full
            self.pdf.add_font(_FONT_FULL, "", str(full.regular.path), collection_font_number=full.regular.index)
            self.pdf.add_font(_FONT_FULL, "B", str(full.bold.path), collection_font_number=full.bold.index)
            self._fallback = True
        return _FONT_FULL

    def width(self, text: str, size: float, bold: bool = False) -> float:
        self.font(size, bold, text)
        return self.pdf.get_string_width(text)

    def text(self, x: float, y: float, text: str, size: float, *, bold: bool = False, align: str = "L",
             colour: tuple[int, int, int] = (0, 0, 0)) -> None:
        """One line with its baseline at ``y`` mm; ``align`` L/C/R relative to ``x``."""
        if not text:
            return
        w = self.width(text, size, bold)
        x0 = x - w if align == "R" else x - w / 2 if align == "C" else x
        self.pdf.set_text_color(*colour)
        self.pdf.text(x0, y, text)
        self.pdf.set_text_color(0, 0, 0)

    def fit(self, text: str, w: float, size: float, *, bold: bool = False, max_lines: int = 2,
            min_size: float = 5.5) -> tuple[list[str], float]:
        """Lines and font size that fit ``text`` in width ``w`` mm: one line at ``size``, else up to
        ``max_lines`` lines at a size down to ``min_size``, else truncated with an ellipsis."""
        if not text:
            return [], size
        s = size
        while s >= max(min_size, size - 1.5) - 1e-9:  # first a slightly smaller single line
            if self.width(text, s, bold) <= w:
                return [text], s
            s -= 0.5
        s = size
        while s >= min_size - 1e-9:
            lines = self._wrap(text, w, s, bold)
            if len(lines) <= max_lines:
                return lines, s
            s -= 0.5
        lines = self._wrap(text, w, min_size, bold)[:max_lines]
        last = lines[-1]
        while last and self.width(last + "…", min_size, bold) > w:
            last = last[:-1]
        lines[-1] = last + "…"
        return lines, min_size

    def _wrap(self, text: str, w: float, size: float, bold: bool) -> list[str]:
        """Break anywhere between CJK characters, at spaces or hyphens in Latin text."""
        tokens = re.findall(r"[A-Za-z0-9@.'*#_/+-]+[ ]?|\s|.", text)
        lines, cur = [], ""
        for tok in tokens:
            if self.width(cur + tok, size, bold) <= w or not cur:
                if not cur and self.width(tok, size, bold) > w:  # a word longer than the line: cut it
                    for ch in tok:
                        if cur and self.width(cur + ch, size, bold) > w:
                            lines.append(cur)
                            cur = ""
                        cur += ch
                    continue
                cur += tok
            else:
                lines.append(cur.rstrip())
                cur = tok.lstrip()
        if cur.strip():
            lines.append(cur.rstrip())
        return lines

    def cell(self, x: float, y: float, w: float, h: float, text: str, size: float, *, align: str = "L",
             bold: bool = False, max_lines: int = 2, pad: float = 1.0) -> None:
        """Text fitted into the box (x, y, w, h) mm, vertically centred."""
        lines, s = self.fit(text, w - 2 * pad, size, bold=bold, max_lines=max_lines)
        if not lines:
            return
        lh = s * _PT_MM * 1.18
        top = y + (h - lh * len(lines)) / 2
        for i, line in enumerate(lines):
            base = top + lh * (i + 0.80)
            xx = x + pad if align == "L" else x + w - pad if align == "R" else x + w / 2
            self.text(xx, base, line, s, bold=bold, align=align)

    def box(self, x: float, y: float, w: float, h: float, *, fill: tuple[int, int, int] | None = None,
            line: tuple[int, int, int] | None = (0, 0, 0), width: float = 0.2) -> None:
        if fill is not None:
            self.pdf.set_fill_color(*fill)
        if line is not None:
            self.pdf.set_draw_color(*line)
            self.pdf.set_line_width(width)
        style = ("F" if line is None else "DF") if fill is not None else "D"
        self.pdf.rect(x, y, w, h, style=style)

    def hline(self, x0: float, x1: float, y: float, *, width: float = 0.2, colour=(0, 0, 0)) -> None:
        self.pdf.set_draw_color(*colour)
        self.pdf.set_line_width(width)
        self.pdf.line(x0, y, x1, y)

    def svg(self, data: bytes, x: float, y: float, w: float, h: float) -> None:
        self.pdf.image(io.BytesIO(data), x=x, y=y, w=w, h=h)

    def output(self) -> bytes:
        return bytes(self.pdf.output())


def _rgb(colour: str) -> tuple[int, int, int]:
    return tuple(int(colour[i:i + 2], 16) for i in (1, 3, 5))  # type: ignore[return-value]


def _fonts(fonts: CjkFonts | None) -> CjkFonts:
    return fonts if fonts is not None else find_cjk_fonts()


# ---------------------------------------------------------------------- route sheets


def session_pages(n_stops: int) -> int:
    """Pages a session of ``n_stops`` stops takes (0 without stops)."""
    if n_stops <= 0:
        return 0
    rest = max(0, n_stops - FIRST_PAGE_ROWS)
    return 1 + math.ceil(rest / NEXT_PAGE_ROWS)


def route_sheets_pdf(
    group: SheetGroup,
    month: dt.date,
    background: Background | None = None,
    *,
    lang: str = "zh",
    show_phones: bool = False,
    credit: str | None = OSM_ODBL_ATTRIBUTION,
    fonts: CjkFonts | None = None,
) -> bytes:
    """A group's month of route sheets as one A4 PDF: a cover page, then each session with stops.

    Parameters
    ----------
    group : SheetGroup
        The group, its members and its sessions (see the module docstring for the layout).
    month : date
        Any day of the month (printed on the cover).
    background : Background, optional
        Areas and roads under the routes, in the CRS of the stops' ``x``/``y`` (metres).
    lang : {"zh", "en"}
    show_phones : bool
        Print household phones in full (default masked: ``138****1234``).
    credit : str or None
        Data credit in every footer (default the OpenStreetMap ODbL credit of the demo data).
    fonts : CjkFonts, optional
        Default :func:`maps.fonts.find_cjk_fonts`.

    Returns
    -------
    bytes
        The PDF; pages: 1 + sum of :func:`session_pages` over the sessions.

    Raises
    ------
    ValueError
        For an unsupported ``lang``.
    maps.fonts.FontNotFoundError
        When no CJK font is installed (the message says how to install one).
    """
    check_lang(lang)
    fonts = _fonts(fonts)
    family = matplotlib_family(fonts)
    background = background or Background()
    title = label("sheet_title", lang, village=group.village_name, group=group.group_name)
    doc = _Pdf(fonts, lang=lang, title=title)
    pages = [session_pages(len(s.stops)) for s in group.sessions]
    total = 1 + sum(pages)
    first_page = {}
    page = 2
    for k, n in enumerate(pages):
        if n:
            first_page[k] = page
            page += n
    _cover(doc, group, month, first_page, total, lang=lang, credit=credit)
    page = 2
    for k, s in enumerate(group.sessions):
        if not s.stops:
            continue
        _session_pages(doc, group, s, background, page, total, family=family, lang=lang,
                       show_phones=show_phones, credit=credit)
        page += pages[k]
    return doc.output()


def _members_line(group: SheetGroup, lang: str) -> str:
    team = [m for m in group.members if m.role != "auxiliary"]
    aux = [m for m in group.members if m.role == "auxiliary"]
    sep = "；" if lang == "zh" else "; "
    text = f"{label('sheet_members', lang)}: " + sep.join(_member_text(m, lang) for m in team)
    if aux:
        text += sep + f"{label('sheet_auxiliary', lang)}: " + sep.join(_member_text(m, lang) for m in aux)
    return text


def _zone_line(group: SheetGroup, lang: str) -> str:
    areas = ("、" if lang == "zh" else ", ").join(group.zone_areas) or "—"
    return label("sheet_zone", lang, zone=group.zone_label, areas=areas)


def _footer(doc: _Pdf, left: str, page: int, total: int, *, credit: str | None, lang: str,
            width: float = A4[0], y: float = FOOTER_Y) -> None:
    doc.hline(MARGIN, width - MARGIN, y, width=0.3)
    doc.text(MARGIN, y + 4.2, left, 8.5, bold=True)
    doc.text(width - MARGIN, y + 4.2, label("sheet_page", lang, i=page, n=total), 8.5, align="R")
    if credit:
        doc.text(MARGIN, y + 8.4, credit, 7, colour=(90, 90, 90))


def _cover(doc: _Pdf, group: SheetGroup, month: dt.date, first_page: dict[int, int], total: int, *,
           lang: str, credit: str | None) -> None:
    pdf = doc.pdf
    pdf.add_page()
    x0, x1 = MARGIN, A4[0] - MARGIN
    doc.text(x0, 24, label("sheet_title", lang, village=group.village_name, group=group.group_name), 20, bold=True)
    doc.text(x0, 34, label("sheet_month_title", lang, y=month.year, m=month.month), 14, bold=True,
             colour=(60, 60, 60))
    doc.box(x1 - 14, 15, 14, 14, fill=_rgb(group.colour), line=_rgb(darker(group.colour)), width=0.6)
    y = 42
    info = [label("sheet_town_village", lang, town=group.town, village=group.village_name, village_id=group.village_id)
            + " · " + label("sheet_group_id", lang, group_id=group.group_id), _zone_line(group, lang)]
    for line in info:
        lines, s = doc.fit(line, x1 - x0, 10, max_lines=3)
        for ln in lines:
            doc.text(x0, y, ln, s)
            y += 5
    # members table
    y += 3
    doc.text(x0, y, label("sheet_members", lang), 11, bold=True)
    y += 3
    widths = (40, 70, 50)
    heads = (label("sheet_members", lang), label("sheet_role", lang), label("sheet_phone", lang))
    doc.box(x0, y, sum(widths), 7, fill=(235, 235, 235), line=(120, 120, 120))
    xx = x0
    for w, h in zip(widths, heads):
        doc.cell(xx, y, w, 7, h, 9, bold=True)
        xx += w
    y += 7
    for m in group.members:
        role = label(f"sheet_{m.role}", lang) if m.role in ("leader", "member", "auxiliary") else ""
        role = " · ".join(r for r in (role, m.title or "") if r)
        xx = x0
        for w, t in zip(widths, (m.name, role, m.phone or "—")):
            doc.cell(xx, y, w, 7, t, 9.5)
            xx += w
        doc.hline(x0, x0 + sum(widths), y + 7, width=0.1, colour=(170, 170, 170))
        y += 7
    # summary and sessions
    used = [s for s in group.sessions if s.stops]
    y += 8
    doc.text(x0, y, label("sheet_sessions", lang), 11, bold=True)
    doc.text(x1, y, label("sheet_summary", lang, sessions=len(group.sessions), used=len(used),
                          stops=sum(len(s.stops) for s in group.sessions),
                          km=sum(s.walk_m for s in group.sessions) / 1000), 9, align="R")
    y += 3
    widths = (10, 52, 38, 30, 16, 22, 22)
    heads = (label("sheet_no", lang), label("date", lang), label("sheet_kind", lang), label("sheet_window", lang),
             label("sheet_stops", lang), label("sheet_km", lang), label("sheet_page_head", lang))
    aligns = ("C", "L", "L", "C", "C", "C", "C")
    row_h = 6.2
    max_rows = int((FOOTER_Y - 14 - y - 7) // row_h)
    doc.box(x0, y, sum(widths), 7, fill=(235, 235, 235), line=(120, 120, 120))
    xx = x0
    for w, h, a in zip(widths, heads, aligns):
        doc.cell(xx, y, w, 7, h, 9, bold=True, align=a)
        xx += w
    y += 7
    sessions = list(enumerate(group.sessions))
    shown = sessions if len(sessions) <= max_rows else sessions[:max_rows - 1]
    for k, s in shown:
        if k % 2:
            doc.box(x0, y, sum(widths), row_h, fill=(246, 246, 246), line=None)
        values = (str(k + 1), date_text(s.date, lang), kind_text(s.kind, s.start, lang), f"{s.start}–{s.end}",
                  str(len(s.stops)) if s.stops else label("sheet_none", lang),
                  f"{s.walk_m / 1000:.1f}" if s.stops else "—", str(first_page.get(k, "—")))
        xx = x0
        for w, t, a in zip(widths, values, aligns):
            doc.cell(xx, y, w, row_h, t, 9, align=a, max_lines=1)
            xx += w
        y += row_h
    if len(shown) < len(sessions):
        doc.cell(x0, y, sum(widths), row_h, f"… +{len(sessions) - len(shown)}", 9)
        y += row_h
    doc.hline(x0, x0 + sum(widths), y, width=0.3, colour=(120, 120, 120))
    y += 6
    lines, s = doc.fit(label("sheet_how_to", lang), x1 - x0, 9, max_lines=2)
    for ln in lines:
        doc.text(x0, y, ln, s, colour=(60, 60, 60))
        y += 4.5
    _footer(doc, label("sheet_month_title", lang, y=month.year, m=month.month), 1, total, credit=credit, lang=lang)


def _session_header(doc: _Pdf, group: SheetGroup, s: SheetSession, *, lang: str, continued: bool) -> None:
    x0, x1 = MARGIN, A4[0] - MARGIN
    title = label("sheet_title", lang, village=group.village_name, group=group.group_name)
    if continued:
        title += label("sheet_continued", lang)
    when = f"{date_text(s.date, lang)}  {kind_text(s.kind, s.start, lang)} {s.start}–{s.end}"
    when_w = doc.width(when, 12, True) + 4
    lines, size = doc.fit(title, x1 - x0 - when_w - 3, 15, bold=True, max_lines=1, min_size=9)
    doc.text(x0, 17, lines[0], size, bold=True)
    doc.box(x1 - when_w, 10.5, when_w, 8.5, fill=_rgb(group.colour), line=None)
    doc.text(x1 - 2, 16.8, when, 12, bold=True, align="R",
             colour=(255, 255, 255) if _dark(group.colour) else (0, 0, 0))
    line2 = (label("sheet_town_village", lang, town=group.town, village=group.village_name,
                   village_id=group.village_id) + " · " + _zone_line(group, lang))
    lines, sz = doc.fit(line2, x1 - x0, 8.5, max_lines=1)
    doc.text(x0, 23.5, lines[0], sz, colour=(50, 50, 50))
    lines, sz = doc.fit(_members_line(group, lang), x1 - x0, 8.5, max_lines=1, min_size=6.5)
    doc.text(x0, 28.5, lines[0], sz)
    doc.hline(x0, x1, 30.5, width=0.4)


def _dark(colour: str) -> bool:
    r, g, b = _rgb(colour)
    return 0.299 * r + 0.587 * g + 0.114 * b < 150


def _legend_strip(doc: _Pdf, y: float, group: SheetGroup, lang: str, start_text: str | None = None) -> None:
    pdf = doc.pdf
    x = MARGIN + 1
    # depot (or where this session starts)
    start = label("sheet_legend_depot", lang) if start_text is None else label("sheet_legend_start", lang,
                                                                                name=start_text)
    doc.box(x, y - 2.3, 2.6, 2.6, fill=(17, 17, 17), line=None)
    doc.text(x + 4, y, start, 7.5)
    x += 6 + doc.width(start, 7.5)
    # path
    pdf.set_draw_color(*_rgb(PATH_COLOUR))
    pdf.set_line_width(0.6)
    pdf.line(x, y - 1, x + 8, y - 1)
    doc.text(x + 10, y, label("sheet_legend_path", lang), 7.5)
    x += 12 + doc.width(label("sheet_legend_path", lang), 7.5)
    # stop
    pdf.set_draw_color(*_rgb(PATH_COLOUR))
    pdf.set_fill_color(255, 255, 255)
    pdf.set_line_width(0.35)
    pdf.circle(x + 1.9, y - 1.1, 1.9, style="DF")
    doc.text(x + 1.9, y - 0.2, "1", 5.5, bold=True, align="C")
    doc.text(x + 5, y, label("sheet_legend_stop", lang), 7.5)
    x += 7 + doc.width(label("sheet_legend_stop", lang), 7.5)
    # zone
    doc.box(x, y - 2.5, 5, 3, fill=_rgb(_light(group.colour)), line=_rgb(group.colour), width=0.3)
    doc.text(x + 6.5, y, label("sheet_legend_zone", lang), 7.5)
    x += 8.5 + doc.width(label("sheet_legend_zone", lang), 7.5)
    pdf.set_draw_color(85, 85, 85)
    pdf.set_line_width(0.25)
    pdf.set_dash_pattern(dash=1.2, gap=0.6)
    pdf.line(x, y - 1, x + 8, y - 1)
    pdf.set_dash_pattern()
    doc.text(x + 10, y, label("sheet_legend_area", lang), 7.5)


def _light(colour: str, share: float = 0.18) -> str:
    r, g, b = _rgb(colour)
    mix = [round(255 - (255 - c) * share) for c in (r, g, b)]
    return "#{:02x}{:02x}{:02x}".format(*mix)


def _table_head(doc: _Pdf, y: float, lang: str) -> None:
    x = MARGIN
    total_w = sum(w for _, w, _ in STOP_COLUMNS)
    doc.box(x, y, total_w, HEAD_H, fill=(230, 230, 230), line=(0, 0, 0), width=0.3)
    for key, w, align in STOP_COLUMNS:
        doc.cell(x, y, w, HEAD_H, label(key, lang), 7.5, bold=True, align="C" if align == "C" else "L",
                 pad=0.8)
        x += w


def _table_rows(doc: _Pdf, y: float, rows: Sequence[tuple[int, SheetStop]], *, lang: str, show_phones: bool) -> float:
    pdf = doc.pdf
    x0 = MARGIN
    total_w = sum(w for _, w, _ in STOP_COLUMNS)
    for i, (n, st) in enumerate(rows):
        if i % 2:
            doc.box(x0, y, total_w, ROW_H, fill=(244, 244, 244), line=None)
        values = {
            "sheet_no": str(n), "sheet_household": st.household_id, "sheet_address": st.address or "",
            "sheet_head": st.head or "", "sheet_phone": st.phone if show_phones else mask_phone(st.phone),
            "sheet_tags": tag_text(st.tags, lang), "sheet_arrive": st.arrive, "sheet_notes": "",
        }
        x = x0
        for key, w, align in STOP_COLUMNS:
            if key in CHECK_COLUMNS:
                pdf.set_draw_color(0, 0, 0)
                pdf.set_line_width(0.3)
                pdf.set_fill_color(255, 255, 255)
                pdf.rect(x + (w - BOX_MM) / 2, y + (ROW_H - BOX_MM) / 2, BOX_MM, BOX_MM, style="DF")
            elif values[key]:
                doc.cell(x, y, w, ROW_H, values[key], 8.5 if key in ("sheet_no", "sheet_household") else 8,
                         align=align, bold=key == "sheet_no", max_lines=1 if key in ("sheet_household", "sheet_phone",
                                                                                     "sheet_arrive") else 2)
            x += w
        y += ROW_H
        doc.hline(x0, x0 + total_w, y, width=0.1, colour=(160, 160, 160))
    return y


def _table_frame(doc: _Pdf, top: float, bottom: float) -> None:
    pdf = doc.pdf
    pdf.set_draw_color(120, 120, 120)
    pdf.set_line_width(0.1)
    x = MARGIN
    for _, w, _ in STOP_COLUMNS[:-1]:
        x += w
        pdf.line(x, top, x, bottom)
    doc.box(MARGIN, top, sum(w for _, w, _ in STOP_COLUMNS), bottom - top, line=(0, 0, 0), width=0.3)


def _session_pages(doc: _Pdf, group: SheetGroup, s: SheetSession, background: Background, page: int, total: int, *,
                   family: str, lang: str, show_phones: bool, credit: str | None) -> None:
    pdf = doc.pdf
    numbered = list(enumerate(s.stops, start=1))
    chunks = [numbered[:FIRST_PAGE_ROWS]]
    rest = numbered[FIRST_PAGE_ROWS:]
    while rest:
        chunks.append(rest[:NEXT_PAGE_ROWS])
        rest = rest[NEXT_PAGE_ROWS:]
    footer = " · ".join([label("sheet_footer_stops", lang, n=len(s.stops)),
                         label("sheet_footer_walk", lang, km=s.walk_m / 1000, min=s.walk_min),
                         f"{kind_text(s.kind, s.start, lang)} {s.start}–{s.end}"])
    if not show_phones:
        footer += " · " + label("sheet_phones_masked", lang)
    for c, rows in enumerate(chunks):
        pdf.add_page()
        _session_header(doc, group, s, lang=lang, continued=c > 0)
        if c == 0:
            svg = route_map_svg(width_mm=A4[0] - 2 * MARGIN, height_mm=MAP_H,
                                stops_xy=[(st.x, st.y) for st in s.stops], depot_xy=s.start_xy or group.depot_xy,
                                path=s.path,
                                areas=background.areas, roads=background.roads, zone_outline=group.zone_outline,
                                zone_colour=group.colour, font_family=family, lang=lang,
                                depot_text=s.start_text)
            doc.svg(svg, MARGIN, MAP_TOP, A4[0] - 2 * MARGIN, MAP_H)
            doc.box(MARGIN, MAP_TOP, A4[0] - 2 * MARGIN, MAP_H, line=(0, 0, 0), width=0.3)
            _legend_strip(doc, MAP_TOP + MAP_H + 4.2, group, lang, start_text=s.start_text)
            top = TABLE_TOP
        else:
            top = 34.0
        _table_head(doc, top, lang)
        bottom = _table_rows(doc, top + HEAD_H, rows, lang=lang, show_phones=show_phones)
        _table_frame(doc, top, bottom)
        _footer(doc, footer, page + c, total, credit=credit, lang=lang)


# ---------------------------------------------------------------------- zone map


def zone_map_pdf(
    *,
    village_name: str,
    town: str,
    version: int | None,
    zones: Sequence[ZoneRow],
    households: gpd.GeoDataFrame,
    depot_xy: tuple[float, float] | None,
    background: Background | None = None,
    lang: str = "zh",
    credit: str | None = OSM_ODBL_ATTRIBUTION,
    fonts: CjkFonts | None = None,
) -> bytes:
    """The village's wall map of zones (分片走访地图) on one A3 landscape page.

    Parameters
    ----------
    village_name, town : str
    version : int or None
        The zone plan's version (printed in the subtitle).
    zones : sequence of ZoneRow
        In legend order (their colours as on the HTML zone map).
    households : GeoDataFrame
        Points in metres with ``zone_label`` (households of no listed zone are grey).
    depot_xy : (x, y) or None
        The village committee, metres.
    background : Background, optional
        Areas (outlined and named) and roads, metres.
    lang, credit, fonts : as in :func:`route_sheets_pdf`.

    Returns
    -------
    bytes
        A one-page PDF.

    Raises
    ------
    ValueError
        For an unsupported ``lang``, or nothing to draw (no households and no zone outlines).
    maps.fonts.FontNotFoundError
        When no CJK font is installed.
    """
    check_lang(lang)
    fonts = _fonts(fonts)
    family = matplotlib_family(fonts)
    background = background or Background()
    W, H = A3_LANDSCAPE
    title = label("zone_sheet_title", lang, village=village_name)
    doc = _Pdf(fonts, lang=lang, title=title, paper="A3", landscape=True)
    doc.pdf.add_page()
    m = 12.0
    doc.text(m, 22, title, 24, bold=True)
    n_households = int(sum(z.households for z in zones))
    doc.text(m, 30, label("zone_sheet_subtitle", lang, town=town, version=version if version is not None else "—",
                          groups=len(zones), n=n_households), 11, colour=(60, 60, 60))
    map_x, map_y, map_w, map_h = m, 35.0, 290.0, H - 35.0 - 14.0
    colours = {z.zone_label: z.colour for z in zones}
    hh = households.copy()
    hh["colour"] = [colours.get(str(z), "#9e9e9e") for z in hh["zone_label"]] if "zone_label" in hh.columns \
        else "#9e9e9e"
    zframe = gpd.GeoDataFrame({"colour": [z.colour for z in zones], "name": [z.group_name for z in zones]},
                              geometry=[z.outline for z in zones], crs=households.crs)
    svg = zone_map_svg(width_mm=map_w, height_mm=map_h, zones=zframe, households=hh, depot_xy=depot_xy,
                       areas=background.areas, roads=background.roads, font_family=family, lang=lang)
    doc.svg(svg, map_x, map_y, map_w, map_h)
    doc.box(map_x, map_y, map_w, map_h, line=(0, 0, 0), width=0.4)
    # legend panel
    lx = map_x + map_w + 6
    lw = W - m - lx
    y = map_y + 6
    doc.text(lx, y, label("legend", lang), 14, bold=True)
    y += 4
    widths = (lw - 52, 20, 32)
    heads = (label("group", lang), label("n_households_head", lang), label("zone_sheet_hours", lang))
    doc.box(lx, y, lw, 8, fill=(235, 235, 235), line=(120, 120, 120))
    xx = lx
    for w, h_ in zip(widths, heads):
        doc.cell(xx, y, w, 8, h_, 9, bold=True, align="L" if xx == lx else "C")
        xx += w
    y += 8
    for z in zones:
        doc.box(lx + 1.5, y + 2, 6, 5, fill=_rgb(_light(z.colour, 0.45)), line=_rgb(darker(z.colour)), width=0.5)
        doc.cell(lx + 8, y, widths[0] - 8, 9, z.group_name, 11, bold=True)
        doc.cell(lx + widths[0], y, widths[1], 9, str(z.households), 10, align="C")
        doc.cell(lx + widths[0] + widths[1], y, widths[2], 9, f"{z.workload_min / 60:.1f}", 10, align="C")
        y += 9
        members = [_member_text(mm, lang) for mm in z.members] or [label("no_members", lang)]
        for text in members:
            lines, s = doc.fit(text, lw - 10, 8.5, max_lines=1, min_size=6.5)
            doc.text(lx + 8, y + 3, lines[0], s, colour=(50, 50, 50))
            y += 4.4
        y += 2
        doc.hline(lx, lx + lw, y, width=0.1, colour=(170, 170, 170))
        if y > map_y + map_h - 60:
            break
    y += 3
    doc.text(lx, y + 3, f"{label('total', lang)}: {label('n_households', lang, n=n_households)}, "
             f"{label('workload_h', lang, h=sum(z.workload_min for z in zones) / 60)}", 9, bold=True)
    y += 12
    # symbols
    pdf = doc.pdf
    pdf.set_fill_color(78, 121, 167)
    pdf.set_draw_color(50, 80, 110)
    pdf.set_line_width(0.2)
    pdf.circle(lx + 4, y - 1.2, 1.1, style="DF")
    doc.text(lx + 9, y, label("households_by_zone", lang), 9)
    y += 6
    doc.box(lx + 2.6, y - 2.6, 2.8, 2.8, fill=(17, 17, 17), line=None)
    doc.text(lx + 9, y, label("depot", lang), 9)
    y += 6
    pdf.set_draw_color(85, 85, 85)
    pdf.set_line_width(0.3)
    pdf.set_dash_pattern(dash=1.5, gap=0.6)
    pdf.line(lx + 1, y - 1.2, lx + 7, y - 1.2)
    pdf.set_dash_pattern()
    doc.text(lx + 9, y, label("area_outline", lang), 9)
    y += 6
    pdf.set_draw_color(140, 140, 140)
    pdf.set_line_width(0.5)
    pdf.line(lx + 1, y - 1.2, lx + 7, y - 1.2)
    doc.text(lx + 9, y, label("road", lang), 9)
    doc.hline(m, W - m, H - 11, width=0.3)
    if credit:
        doc.text(m, H - 6.5, credit, 8, colour=(90, 90, 90))
    return doc.output()


# ---------------------------------------------------------------------- contact cards

CARD_W, CARD_H = 90.0, 54.0
CARDS_X, CARDS_Y = 2, 5


def contact_cards_pdf(
    group: SheetGroup,
    households: Sequence[CardHousehold],
    *,
    lang: str = "zh",
    fonts: CjkFonts | None = None,
) -> bytes:
    """Contact cards (驻点联系卡) for ``households``, ten 90 x 54 mm cards per A4 page with cut lines.

    Each card names its household (head, address, id) and the group with its members' names,
    roles and phones (officials' work numbers: printed in full).

    Raises
    ------
    ValueError
        For an unsupported ``lang`` or no households.
    maps.fonts.FontNotFoundError
        When no CJK font is installed.
    """
    check_lang(lang)
    if not households:
        raise ValueError(f"No households to make contact cards for (group {group.group_id}): plan the month first.")
    fonts = _fonts(fonts)
    doc = _Pdf(fonts, lang=lang, title=f"{label('card_title', lang)} {group.village_name} {group.group_name}")
    pdf = doc.pdf
    per_page = CARDS_X * CARDS_Y
    x_off = (A4[0] - CARDS_X * CARD_W) / 2
    y_off = (A4[1] - CARDS_Y * CARD_H) / 2
    for start in range(0, len(households), per_page):
        pdf.add_page()
        for k, hh in enumerate(households[start:start + per_page]):
            col, row = k % CARDS_X, k // CARDS_X
            _card(doc, x_off + col * CARD_W, y_off + row * CARD_H, group, hh, lang)
        # cut lines (dashed) through the whole sheet
        pdf.set_draw_color(150, 150, 150)
        pdf.set_line_width(0.15)
        pdf.set_dash_pattern(dash=2, gap=1.5)
        for c in range(CARDS_X + 1):
            x = x_off + c * CARD_W
            pdf.line(x, 3, x, A4[1] - 3)
        for r in range(CARDS_Y + 1):
            y = y_off + r * CARD_H
            pdf.line(3, y, A4[0] - 3, y)
        pdf.set_dash_pattern()
    return doc.output()


def _card(doc: _Pdf, x: float, y: float, group: SheetGroup, hh: CardHousehold, lang: str) -> None:
    pad = 5.0
    w = CARD_W - 2 * pad
    doc.box(x + pad, y + pad, w, 8.5, fill=_rgb(group.colour), line=None)
    fg = (255, 255, 255) if _dark(group.colour) else (0, 0, 0)
    doc.text(x + pad + 2, y + pad + 6.2, label("card_title", lang), 12, bold=True, colour=fg)
    doc.text(x + CARD_W - pad - 2, y + pad + 6, hh.household_id, 7.5, align="R", colour=fg)
    yy = y + pad + 13
    lines, s = doc.fit(label("card_to", lang, head=hh.head or "", address=hh.address or ""), w, 8.5, max_lines=1,
                       min_size=6)
    doc.text(x + pad, yy, lines[0], s, bold=True)
    yy += 5
    lines, s = doc.fit(label("card_team", lang, village=group.village_name, group=group.group_name), w, 8.5,
                       max_lines=1, min_size=6)
    doc.text(x + pad, yy, lines[0], s)
    yy += 4.6
    doc.text(x + pad, yy, label("card_text", lang), 7.5, colour=(70, 70, 70))
    yy += 5.2
    for m in group.members[:4]:
        name_role = _member_text(m, lang, with_phone=False)
        lines, s = doc.fit(name_role, w - 30, 8.5, max_lines=1, min_size=6)
        doc.text(x + pad + 1, yy, lines[0], s)
        doc.text(x + CARD_W - pad - 1, yy, str(m.phone or "—"), 9, bold=True, align="R")
        yy += 4.9


# ---------------------------------------------------------------------- helpers for callers


def label_characters(lang: str) -> str:
    """Every character the sheets' own texts use in ``lang`` (labels, digits, punctuation): with
    the data's text, what a font subset for :func:`maps.fonts.subset_fonts` needs."""
    from maps.i18n import _LABELS

    check_lang(lang)
    return "".join(zh if lang == "zh" else en for zh, en in _LABELS.values()) + "0123456789–…·、；：（）√□*—"
