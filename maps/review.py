"""Review-meeting outputs: the monthly / quarterly report (HTML, PDF, XLSX), its charts and its static
coverage-gap map, and the spot-check (暗访) checklist PDF.

Pure renderers: a :class:`ReportDoc` (plain tables, chart pictures, the map picture) in, text or
bytes out; :mod:`api.report` computes the figures and builds the document.

- HTML: one self-contained file (no CDN, no external file): charts as inline SVG, the map as an
  inline SVG; an optional link to the interactive coverage map.
- PDF: A4 portrait, Simplified Chinese text set in the embedded CJK face of :mod:`maps.fonts`
  (searchable), charts and the map as vector graphics (matplotlib SVG placed by fpdf2).
- XLSX: one sheet per table; counts as integers, rates as numbers formatted as percentages,
  dates as dates (openpyxl).

Numbers are printed the same way everywhere (:func:`cell_text`): integers plainly, rates with one
decimal and a percent sign, a missing value as "—".
"""

from __future__ import annotations

import datetime as dt
import html
import io
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import shapely

KINDS = ("text", "int", "pct", "date", "bool")
DASH = "—"
A4_W, A4_H = 210.0, 297.0
MARGIN = 12.0
FOOT = 287.0


@dataclass(frozen=True)
class Column:
    """A table column: ``key`` in the rows, its printed ``title`` and ``kind`` (:data:`KINDS`)."""

    key: str
    title: str
    kind: str = "text"
    width: float = 1.0
    """Relative width in the PDF."""

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"Column {self.key!r}: kind must be one of {KINDS}, got {self.kind!r}")


@dataclass
class Table:
    """One table of the report (one XLSX sheet); ``rows`` are dicts keyed by column key."""

    key: str
    title: str
    columns: list[Column]
    rows: list[dict[str, Any]]
    note: str = ""
    sheet: str = ""
    """XLSX sheet name (default the title, cut to 31 characters)."""


@dataclass
class Chart:
    """A chart: its title and SVG document."""

    title: str
    svg: bytes


@dataclass
class ReportDoc:
    """Everything a report shows, ready to render."""

    title: str
    subtitle: str
    summary: list[tuple[str, str]]
    tables: list[Table]
    charts: list[Chart] = field(default_factory=list)
    map_svg: bytes | None = None
    map_title: str = "走访覆盖图"
    map_link: str | None = None
    notes: list[str] = field(default_factory=list)


def cell_text(value: Any, kind: str) -> str:
    """How a value prints in HTML and PDF (XLSX keeps the number)."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return DASH
    if kind == "pct":
        return f"{100 * float(value):.1f}%"
    if kind == "int":
        return str(int(value))
    if kind == "date":
        return value.isoformat() if isinstance(value, dt.date) else str(value)[:10]
    if kind == "bool":
        return "是" if value else "否"
    return str(value)


# --------------------------------------------------------------------------------------------
# Charts and the map


def _svg(fig) -> bytes:
    import matplotlib

    buf = io.BytesIO()
    with matplotlib.rc_context({"svg.fonttype": "path", "svg.hashsalt": "zhudian", "svg.image_inline": True}):
        fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None})
    return re.sub(rb"<metadata>.*?</metadata>\s*", b"", buf.getvalue(), count=1, flags=re.S)


_INK = {"text.color": "#222222", "axes.labelcolor": "#222222", "xtick.color": "#333333", "ytick.color": "#333333",
        "axes.edgecolor": "#444444", "legend.labelcolor": "#222222"}
"""Explicit (non-black) colours: fpdf2 draws SVG shapes without a fill attribute in its own default."""


def _ink(func):
    import functools

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        import matplotlib

        with matplotlib.rc_context(_INK):
            return func(*args, **kwargs)

    return wrapper


@_ink
def line_chart(title: str, months: Sequence[dt.date], series: dict[str, Sequence[float]], *, percent: bool = True,
               font_family: str = "Noto Sans CJK SC", width_mm: float = 180, height_mm: float = 85) -> Chart:
    """Lines by month (one per series); values 0-1 shown as percentages when ``percent``."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import PercentFormatter

    fig = Figure(figsize=(width_mm / 25.4, height_mm / 25.4))
    ax = fig.add_axes((0.08, 0.14, 0.66, 0.76))
    x = np.arange(len(months))
    for name, ys in series.items():
        ax.plot(x, np.asarray(ys, dtype=float), marker="o", markersize=3, linewidth=1.4, label=name)
    ax.set_xticks(x, [f"{m.month}月" for m in months], family=font_family, fontsize=8)
    if percent:
        ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
        ax.set_ylim(0, 1.02)
    ax.tick_params(labelsize=8)
    ax.grid(axis="y", color="#dddddd", linewidth=0.6)
    ax.set_title(title, family=font_family, fontsize=10)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), prop={"family": font_family, "size": 7}, frameon=False)
    for s in ("top", "right"):
        ax.spines[s].set_visible(False)
    return Chart(title, _svg(fig))


@_ink
def bar_chart(title: str, months: Sequence[dt.date], bars: Sequence[float], rate: Sequence[float], *,
              bar_label: str, rate_label: str, font_family: str = "Noto Sans CJK SC", width_mm: float = 180,
              height_mm: float = 70) -> Chart:
    """Bars (counts) by month with a rate line on a second axis."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import PercentFormatter

    fig = Figure(figsize=(width_mm / 25.4, height_mm / 25.4))
    ax = fig.add_axes((0.08, 0.16, 0.80, 0.72))
    x = np.arange(len(months))
    ax.bar(x, bars, color="#6baed6", label=bar_label)
    ax.set_xticks(x, [f"{m.month}月" for m in months], family=font_family, fontsize=8)
    ax.tick_params(labelsize=8)
    ax2 = ax.twinx()
    ax2.plot(x, np.asarray(rate, dtype=float), color="#d7191c", marker="o", markersize=3, label=rate_label)
    ax2.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    ax2.set_ylim(0, max(0.4, float(np.nanmax(np.asarray(rate, dtype=float))) * 1.2 if len(rate) and
                        np.isfinite(np.asarray(rate, dtype=float)).any() else 0.4))
    ax2.tick_params(labelsize=8)
    ax.set_title(title, family=font_family, fontsize=10)
    h1, l1 = ax.get_legend_handles_labels()
    h2, l2 = ax2.get_legend_handles_labels()
    ax.legend(h1 + h2, l1 + l2, loc="upper left", prop={"family": font_family, "size": 7}, frameon=False)
    for s in ("top",):
        ax.spines[s].set_visible(False)
        ax2.spines[s].set_visible(False)
    return Chart(title, _svg(fig))


@_ink
def coverage_map_svg(households: gpd.GeoDataFrame, units: gpd.GeoDataFrame | None, *, width_mm: float = 186,
                     height_mm: float = 186, font_family: str = "Noto Sans CJK SC", lang: str = "zh") -> bytes:
    """The coverage-gap map as a static vector picture: units shaded by visit rate (the colours
    of :func:`maps.coverage.rate_colour`), households coloured by status (:data:`maps.coverage.STATUS_COLOUR`),
    a legend.  Inputs in one metric CRS: households with ``status``; units with ``name`` and ``rate``.

    Raises
    ------
    ValueError
        With no households to fit the map to.
    """
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    from maps.coverage import RATE_BREAKS, RATE_COLOURS, STATUS_COLOUR, STATUSES, rate_colour
    from maps.i18n import label
    from maps.sheet_map import _draw, _figure, fit_extent
    from maps.zones import darker

    pts = households[households.geometry.notna() & ~households.geometry.is_empty]
    if not len(pts):
        raise ValueError("coverage_map_svg: no households to draw")
    extent = fit_extent(pts.total_bounds, width_mm, height_mm, pad=0.04)
    fig, ax = _figure(width_mm, height_mm, extent)
    tol = 0.15 * extent.width / width_mm
    if units is not None and len(units):
        for rate, geom in zip(units["rate"], units.geometry.values):
            if geom is None or geom.is_empty:
                continue
            _draw(ax, [geom], tolerance=tol, zorder=1, fill=rate_colour(rate), alpha=0.75)
            _draw(ax, [geom.boundary], tolerance=tol, zorder=1.5, edge="#44546a", width=0.6)
    radius = 0.55 * extent.width / width_mm
    for status in STATUSES:
        group = pts[pts["status"] == status]
        if len(group):
            dots = shapely.buffer(group.geometry.values, radius, quad_segs=2)
            colour = STATUS_COLOUR[status]
            _draw(ax, dots, tolerance=0, zorder=3 + (status != "visited"), fill=colour, edge=darker(colour), width=0.2)
    if units is not None and len(units):
        for name, rate, geom in zip(units["name"], units["rate"], units.geometry.values):
            if geom is None or geom.is_empty:
                continue
            p = shapely.point_on_surface(geom)
            text = f"{name} {rate:.0%}" if rate is not None and math.isfinite(rate) else str(name)
            ax.text(p.x, p.y, text, ha="center", va="center", fontsize=6.5, family=font_family, zorder=6,
                    bbox={"boxstyle": "round,pad=0.2", "facecolor": "white", "edgecolor": "none", "alpha": 0.8})
    counts = pts["status"].value_counts()
    handles = [Line2D([], [], marker="o", linestyle="", markersize=5, color=STATUS_COLOUR[s],
                      label=f"{label('status_' + s, lang)} {int(counts.get(s, 0))}") for s in STATUSES]
    bounds = (0.0, *RATE_BREAKS, 1.0)
    handles += [Patch(facecolor=c, edgecolor="#44546a", label=f"{bounds[i]:.0%}-{bounds[i + 1]:.0%}")
                for i, c in enumerate(RATE_COLOURS)]
    ax.legend(handles=handles, loc="lower right", prop={"family": font_family, "size": 6.5}, framealpha=0.9,
              title=label("visit_rate", lang), title_fontproperties={"family": font_family, "size": 7})
    return _svg(fig)


# --------------------------------------------------------------------------------------------
# HTML

_CSS = """
body{font-family:"Noto Sans CJK SC","Source Han Sans SC","Microsoft YaHei",sans-serif;margin:24px auto;max-width:1100px;
color:#222;padding:0 16px}
h1{font-size:24px;margin-bottom:4px} h2{font-size:18px;margin-top:28px;border-bottom:2px solid #3182bd;padding-bottom:4px}
.sub{color:#555;margin-top:0}
.kpi{display:grid;grid-template-columns:repeat(auto-fill,minmax(170px,1fr));gap:8px;margin:12px 0}
.kpi div{background:#f3f6fa;border-radius:6px;padding:8px 10px}.kpi b{display:block;font-size:20px;color:#08519c}
.kpi span{font-size:12px;color:#555}
table{border-collapse:collapse;width:100%;font-size:13px;margin:6px 0}
th,td{border-bottom:1px solid #ddd;padding:4px 6px;text-align:left;vertical-align:top}
th{background:#eef2f7;position:sticky;top:0} td.n{text-align:right;font-variant-numeric:tabular-nums}
tr.miss td{background:#fff5f0} .note{color:#666;font-size:12px} figure{margin:10px 0}
figure svg{max-width:100%;height:auto} figcaption{font-size:13px;color:#444}
"""


def _strip_xml_header(svg: bytes) -> str:
    text = svg.decode("utf-8")
    text = re.sub(r"^<\?xml[^>]*>\s*", "", text)
    return re.sub(r"^<!DOCTYPE[^>]*>\s*", "", text)


def report_html(doc: ReportDoc) -> str:
    """The report as one self-contained HTML page (UTF-8, no external resources)."""
    e = html.escape
    parts = [f"<!doctype html>\n<html lang=\"zh-CN\"><head><meta charset=\"utf-8\"><title>{e(doc.title)}</title>"
             f"<style>{_CSS}</style></head><body>",
             f"<h1>{e(doc.title)}</h1><p class=\"sub\">{e(doc.subtitle)}</p>",
             "<div class=\"kpi\">" + "".join(f"<div><b>{e(v)}</b><span>{e(k)}</span></div>" for k, v in doc.summary)
             + "</div>"]
    charts_done = False
    for t in doc.tables:
        parts.append(_html_table(t))
        if t.key == "villages" and not charts_done:
            parts.extend(_html_charts(doc))
            charts_done = True
    if not charts_done:
        parts.extend(_html_charts(doc))
    if doc.map_svg is not None:
        link = (f' <a href="{e(doc.map_link)}">打开交互式走访覆盖图</a>' if doc.map_link else "")
        parts.append(f"<h2>{e(doc.map_title)}</h2><figure>{_strip_xml_header(doc.map_svg)}"
                     f"<figcaption>{e(doc.map_title)}{link}</figcaption></figure>")
    for n in doc.notes:
        parts.append(f"<p class=\"note\">{e(n)}</p>")
    parts.append("</body></html>\n")
    return "\n".join(parts)


def _html_charts(doc: ReportDoc) -> list[str]:
    if not doc.charts:
        return []
    out = ["<h2>月度趋势</h2>"]
    for c in doc.charts:
        out.append(f"<figure>{_strip_xml_header(c.svg)}<figcaption>{html.escape(c.title)}</figcaption></figure>")
    return out


_NUM = ' class="n"'


def _html_table(t: Table) -> str:
    e = html.escape
    head = "".join(f"<th>{e(c.title)}</th>" for c in t.columns)
    body = []
    for r in t.rows:
        cls = " class=\"miss\"" if r.get("_flag") else ""
        cells = "".join(f"<td{_NUM if c.kind in ('int', 'pct') else ''}>{e(cell_text(r.get(c.key), c.kind))}</td>"
                        for c in t.columns)
        body.append(f"<tr{cls}>{cells}</tr>")
    if not t.rows:
        body.append(f"<tr><td colspan=\"{len(t.columns)}\">(无)</td></tr>")
    note = f"<p class=\"note\">{e(t.note)}</p>" if t.note else ""
    return (f"<h2 id=\"{e(t.key)}\">{e(t.title)}</h2>{note}<table data-table=\"{e(t.key)}\"><thead><tr>{head}</tr></thead>"
            f"<tbody>{''.join(body)}</tbody></table>")


# --------------------------------------------------------------------------------------------
# XLSX


def _sheet_name(name: str, used: set[str]) -> str:
    base = re.sub(r"[\[\]:*?/\\]", "_", name)[:31] or "表"
    out, k = base, 2
    while out in used:
        out = f"{base[:28]}({k})"
        k += 1
    used.add(out)
    return out


def report_xlsx(doc: ReportDoc) -> bytes:
    """One sheet per table (plus 概况, the key figures); numbers stay numbers."""
    from openpyxl import Workbook
    from openpyxl.styles import Font, PatternFill

    wb = Workbook()
    used: set[str] = set()
    ws = wb.active
    ws.title = _sheet_name("概况", used)
    ws.append([doc.title])
    ws["A1"].font = Font(bold=True, size=14)
    ws.append([doc.subtitle])
    ws.append([])
    for k, v in doc.summary:
        ws.append([k, v])
    ws.column_dimensions["A"].width = 28
    ws.column_dimensions["B"].width = 18
    head_fill = PatternFill("solid", fgColor="EEF2F7")
    for t in doc.tables:
        ws = wb.create_sheet(_sheet_name(t.sheet or t.title, used))
        ws.append([c.title for c in t.columns])
        for cell in ws[1]:
            cell.font = Font(bold=True)
            cell.fill = head_fill
        for r in t.rows:
            ws.append([_xlsx_value(r.get(c.key), c.kind) for c in t.columns])
        for j, c in enumerate(t.columns, start=1):
            fmt = {"pct": "0.0%", "date": "yyyy-mm-dd", "int": "0"}.get(c.kind)
            if fmt:
                for row in ws.iter_rows(min_row=2, min_col=j, max_col=j):
                    row[0].number_format = fmt
            letter = ws.cell(row=1, column=j).column_letter
            ws.column_dimensions[letter].width = max(8, min(40, 2.2 * len(c.title) + 4 if c.kind != "text" else 16))
        ws.freeze_panes = "A2"
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _xlsx_value(value: Any, kind: str) -> Any:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return None
    if kind == "int":
        return int(value)
    if kind == "pct":
        return float(value)
    if kind == "date":
        if isinstance(value, dt.datetime):
            return value.date()
        return value
    if kind == "bool":
        return "是" if value else "否"
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    return value


# --------------------------------------------------------------------------------------------
# PDF


class _Flow:
    """A4 pages filled top to bottom, with a footer on each page."""

    def __init__(self, doc, footer: str):
        self.doc = doc
        self.footer = footer
        self.page = 0
        self.y = FOOT
        self.new_page()

    def new_page(self) -> None:
        self.doc.pdf.add_page()
        self.page += 1
        self.y = MARGIN
        self.doc.hline(MARGIN, A4_W - MARGIN, FOOT, width=0.3)
        self.doc.text(MARGIN, FOOT + 4.5, self.footer, 8)
        self.doc.text(A4_W - MARGIN, FOOT + 4.5, f"第 {self.page} 页", 8, align="R")

    def need(self, h: float) -> None:
        if self.y + h > FOOT - 3:
            self.new_page()


def report_pdf(doc: ReportDoc, *, fonts=None) -> bytes:
    """The report as an A4 portrait PDF with the embedded CJK face (``fonts``: :class:`maps.fonts.CjkFonts`,
    default the installed one)."""
    from maps.sheets import _fonts, _Pdf

    pdf = _Pdf(_fonts(fonts), lang="zh", title=doc.title)
    flow = _Flow(pdf, doc.title)
    pdf.text(MARGIN, flow.y + 8, doc.title, 16, bold=True)
    pdf.text(MARGIN, flow.y + 15, doc.subtitle, 9, colour=(80, 80, 80))
    flow.y += 20
    # key figures: 3 columns
    w = (A4_W - 2 * MARGIN) / 3
    for i, (k, v) in enumerate(doc.summary):
        col, row = i % 3, i // 3
        x, y = MARGIN + col * w, flow.y + row * 13
        pdf.box(x + 0.5, y, w - 1, 12, fill=(243, 246, 250), line=None)
        pdf.text(x + 3, y + 6, v, 12, bold=True, colour=(8, 81, 156))
        pdf.text(x + 3, y + 10.5, k, 7.5, colour=(80, 80, 80))
    flow.y += 13 * math.ceil(len(doc.summary) / 3) + 4
    charts_done = False
    for t in doc.tables:
        _pdf_table(pdf, flow, t)
        if t.key == "villages" and not charts_done:
            _pdf_charts(pdf, flow, doc)
            charts_done = True
    if not charts_done:
        _pdf_charts(pdf, flow, doc)
    if doc.map_svg is not None:
        flow.new_page()
        pdf.text(MARGIN, flow.y + 6, doc.map_title, 12, bold=True)
        pdf.svg(doc.map_svg, MARGIN, flow.y + 10, A4_W - 2 * MARGIN, A4_W - 2 * MARGIN)
        flow.y += 10 + A4_W - 2 * MARGIN
    for n in doc.notes:
        lines, s = pdf.fit(n, A4_W - 2 * MARGIN, 7.5, max_lines=6)
        flow.need(4 * len(lines) + 2)
        for line in lines:
            pdf.text(MARGIN, flow.y + 4, line, s, colour=(90, 90, 90))
            flow.y += 3.8
        flow.y += 1.5
    return pdf.output()


def _pdf_charts(pdf, flow: _Flow, doc: ReportDoc) -> None:
    for c in doc.charts:
        h = 80.0
        flow.need(h + 4)
        pdf.svg(c.svg, MARGIN, flow.y, A4_W - 2 * MARGIN, h)
        flow.y += h + 4


_KIND_WIDTH = {"text": 1.6, "int": 1.0, "pct": 1.1, "date": 1.5, "bool": 0.8}


def _pdf_table(pdf, flow: _Flow, t: Table) -> None:
    total_w = A4_W - 2 * MARGIN
    weights = np.array([c.width * _KIND_WIDTH[c.kind] for c in t.columns], dtype=float)
    widths = weights / weights.sum() * total_w
    head_h, row_h = 9.0, 5.6
    size = 7.0 if len(t.columns) <= 10 else 6.0
    flow.need(12 + head_h + row_h * min(3, max(1, len(t.rows))))
    pdf.text(MARGIN, flow.y + 6, t.title, 11.5, bold=True)
    flow.y += 8
    if t.note:
        lines, s = pdf.fit(t.note, total_w, 7, max_lines=3)
        for line in lines:
            pdf.text(MARGIN, flow.y + 3, line, s, colour=(90, 90, 90))
            flow.y += 3.4
        flow.y += 1

    def header() -> None:
        x = MARGIN
        pdf.box(MARGIN, flow.y, total_w, head_h, fill=(238, 242, 247), line=None)
        for c, w in zip(t.columns, widths):
            pdf.cell(x, flow.y, w, head_h, c.title, size, bold=True, align="C", max_lines=2, pad=0.6)
            x += w
        flow.y += head_h

    header()
    rows = t.rows or [None]
    for r in rows:
        if flow.y + row_h > FOOT - 3:
            flow.new_page()
            header()
        x = MARGIN
        if r is None:
            pdf.cell(x, flow.y, total_w, row_h, "(无)", size)
        else:
            if r.get("_flag"):
                pdf.box(MARGIN, flow.y, total_w, row_h, fill=(255, 245, 240), line=None)
            for c, w in zip(t.columns, widths):
                pdf.cell(x, flow.y, w, row_h, cell_text(r.get(c.key), c.kind), size,
                         align="R" if c.kind in ("int", "pct") else "L", max_lines=1, pad=0.6)
                x += w
        flow.y += row_h
        pdf.hline(MARGIN, MARGIN + total_w, flow.y, width=0.1, colour=(200, 200, 200))
    flow.y += 5


# --------------------------------------------------------------------------------------------
# Spot-check checklist


@dataclass
class CheckStop:
    """One household on an inspector's route."""

    seq: int
    household_id: str
    address: str | None
    head: str | None
    phone: str | None
    group_id: str | None
    visit_date: dt.date | None
    outcome: str | None


@dataclass
class CheckVillage:
    """The inspector's route in one village: stops in walking order and the map picture."""

    village_id: str
    name: str
    stops: list[CheckStop]
    walk_m: int = 0
    map_svg: bytes | None = None


def checklist_pdf(check_id: int, day: dt.date, seed: int, villages: Sequence[CheckVillage], *, fonts=None,
                  show_phones: bool = False) -> bytes:
    """The printable spot-check checklist: per village a page with the route map and a table of
    households (reported visit date and group) with check boxes 确认走访 / 否认走访 / 无人 and notes."""
    from maps.sheets import _fonts, _Pdf, mask_phone

    pdf = _Pdf(_fonts(fonts), lang="zh", title=f"暗访抽查清单 {check_id}")
    cols = (("序号", 9), ("户编号", 20), ("地址", 38), ("户主", 15), ("电话", 22), ("小组", 24), ("报告走访", 18),
            ("确认", 10), ("否认", 10), ("无人", 10), ("备注", 10))
    total = sum(w for _, w in cols)
    scale = (A4_W - 2 * MARGIN) / total
    for v in villages:
        pages = max(1, math.ceil(max(0, len(v.stops) - 14) / 40) + 1)
        flow = _Flow(pdf, f"暗访 {check_id} · {day.isoformat()} · 种子 {seed}")
        pdf.text(MARGIN, flow.y + 7, f"暗访抽查清单 · {v.name} ({v.village_id})", 14, bold=True)
        pdf.text(MARGIN, flow.y + 13, f"抽查日期 {day.isoformat()} · 抽查编号 {check_id} · 共 {len(v.stops)} 户 · "
                                      f"步行约 {v.walk_m / 1000:.1f} 公里 · 共 {pages} 页", 9, colour=(80, 80, 80))
        flow.y += 17
        if v.map_svg is not None:
            pdf.svg(v.map_svg, MARGIN, flow.y, A4_W - 2 * MARGIN, 100)
            flow.y += 103

        def header() -> None:
            x = MARGIN
            pdf.box(MARGIN, flow.y, A4_W - 2 * MARGIN, 7, fill=(238, 242, 247), line=None)
            for title, w in cols:
                pdf.cell(x, flow.y, w * scale, 7, title, 7.5, bold=True, align="C")
                x += w * scale
            flow.y += 7

        header()
        for s in v.stops:
            if flow.y + 8 > FOOT - 3:
                flow.new_page()
                header()
            x = MARGIN
            values = (str(s.seq), s.household_id, s.address or "", s.head or "",
                      (s.phone or "") if show_phones else mask_phone(s.phone), s.group_id or "",
                      s.visit_date.isoformat() if s.visit_date else "")
            for (title, w), text in zip(cols, values):
                pdf.cell(x, flow.y, w * scale, 8, text, 7.5, max_lines=2)
                x += w * scale
            for _ in range(3):
                pdf.box(x + (10 * scale - 3.6) / 2, flow.y + 2.2, 3.6, 3.6, width=0.3)
                x += 10 * scale
            flow.y += 8
            pdf.hline(MARGIN, A4_W - MARGIN, flow.y, width=0.1, colour=(190, 190, 190))
        flow.y += 4
        flow.need(16)
        pdf.text(MARGIN, flow.y + 5, "核实方式: 当面询问户主或家庭成员近期是否有驻点干部上门走访; 不提前通知村里。", 8)
        pdf.text(MARGIN, flow.y + 10, "督查人员签名: ____________    日期: ____________", 8)
        flow.y += 14
    return pdf.output()
