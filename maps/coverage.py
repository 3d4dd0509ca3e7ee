"""The coverage-gap map (走访覆盖图): who has been visited this year, and where the gaps are.

For the review meeting.  A pure renderer: households with a status, units (zones, or areas when a
village has no zones) and villages in, a ``folium.Map`` out (built on
:func:`maps.offline.offline_map`, so it opens offline).

* Units are shaded by their **visit rate** this year (households visited this year / households,
  movers left out) in five classes of :data:`RATE_COLOURS` (pale = gap), with a tooltip giving
  the rate and counts.  On a one-village map each unit is labelled with its name and rate; on a
  town map each village is, and the legend lists the villages' rates.
* Households are canvas circle markers coloured by :data:`STATUS_COLOUR`, drawn as one compact
  layer (:class:`maps.offline.PointsLayer`) so a whole town (8,000+ households) stays a few MB and
  renders in well under a second.  The legend counts each status.

The status of a household (:func:`household_status`) is the first that applies of
``moved`` (last outcome: moved away; not counted in rates), ``priority_overdue`` (a priority
household due this month by the month plan's own rules, :func:`planner.month.select_due`),
``not_home`` (last attempt found nobody home), ``visited`` (visited this year) and
``never_visited`` (not visited this year).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from maps.i18n import check_lang, label
from maps.offline import (
    FitBesideControls,
    HtmlControl,
    PointsLayer,
    TileProvider,
    html_text,
    offline_map,
    resolve_tiles,
    to_tile_datum,
)
from maps.overview import VILLAGE_OUTLINE, _drawable, _wgs84, column_problems
from maps.zones import _label_points
from planner.month import HouseholdState, MonthRules, select_due

logger = logging.getLogger(__name__)

STATUSES = ("visited", "never_visited", "priority_overdue", "not_home", "moved")
"""Household statuses, in legend order."""
STATUS_COLOUR = {
    "visited": "#1a9641",
    "never_visited": "#d7191c",
    "priority_overdue": "#7b3294",
    "not_home": "#ff9f1c",
    "moved": "#8c8c8c",
}
HOUSEHOLD_RADIUS = 3.5
RATE_BREAKS = (0.2, 0.4, 0.6, 0.8)
"""Upper bounds of the first four rate classes (the fifth is 80-100%)."""
RATE_COLOURS = ("#eff3ff", "#bdd7e7", "#6baed6", "#3182bd", "#08519c")
RATE_FILL_OPACITY = 0.6
NO_RATE_COLOUR = "#d9d9d9"
UNIT_OUTLINE = "#44546a"
COORD_DECIMALS = 5
"""Households are drawn at 5 decimals (about 1 m)."""

_REQUIRED = {
    "households": ("household_id", "status", "geometry"),
    "units": ("unit", "name", "geometry"),
    "villages": ("village_id", "name"),
}

_CSS = """
<style>
.zd-unit-name { display: inline-block; transform: translate(-50%, -50%); white-space: nowrap; font-size: 12px;
    font-weight: 700; color: #1d2a3a; background: rgba(255, 255, 255, 0.8); border-radius: 3px; padding: 0 4px;
    line-height: 1.35; pointer-events: none; box-shadow: 0 0 2px rgba(0, 0, 0, 0.25); }
.zd-sub { color: #444; font-size: 12px; font-weight: 400; }
.zd-legend tr.zd-sum td { border-top: 1px solid #999; font-weight: 600; }
.zd-legend tr.zd-gap td { padding-top: 5px; font-weight: 600; }
</style>
"""


def household_status(states: Sequence[HouseholdState], *, year: int, month: int,
                     rules: MonthRules = MonthRules()) -> list[str]:
    """The status of each household (see the module docstring), in the order of ``states``.

    ``priority_overdue`` uses the month plan's rules (:func:`planner.month.select_due`, class
    ``priority`` or ``follow_up``), so the map and the plan agree on who is overdue in
    ``year``/``month``.
    """
    due = select_due(states, year=year, month=month, rules=rules)
    overdue = {d.household for d in due if d.priority in ("priority", "follow_up")}
    out = []
    for i, s in enumerate(states):
        if s.last_outcome == "moved":
            out.append("moved")
        elif i in overdue:
            out.append("priority_overdue")
        elif s.last_outcome == "not_home":
            out.append("not_home")
        elif s.visits_this_year > 0:
            out.append("visited")
        else:
            out.append("never_visited")
    return out


def rate_colour(rate: float) -> str:
    """The fill colour of a visit rate (0-1); NaN (no households) is grey."""
    if rate is None or not math.isfinite(rate):
        return NO_RATE_COLOUR
    return RATE_COLOURS[int(np.searchsorted(RATE_BREAKS, rate, side="right"))]


def rate_counts(status: pd.Series, by: pd.Series | None = None) -> pd.DataFrame:
    """Columns ``n`` (households), ``visited``, ``moved`` and ``rate``, overall (one row) or per value of ``by``.

    ``status`` holds ``"visited"`` (reached this year), ``"moved"`` or anything else.
    ``rate`` = visited / (n - moved), NaN where no household is left.
    """
    frame = pd.DataFrame({"visited": (status == "visited").astype(int), "moved": (status == "moved").astype(int),
                          "n": 1})
    if by is None:
        out = frame.sum().to_frame().T
    else:
        out = frame.groupby(by.to_numpy()).sum()
    counted = out["n"] - out["moved"]
    out["rate"] = np.where(counted > 0, out["visited"] / counted.where(counted > 0, 1), np.nan)
    return out


def coverage_map(
    households: gpd.GeoDataFrame,
    units: gpd.GeoDataFrame | None = None,
    villages: gpd.GeoDataFrame | None = None,
    *,
    visited_this_year: Sequence[bool] | None = None,
    as_of: str | None = None,
    lang: str = "zh",
    tiles: str | TileProvider | None = "none",
    title: str | None = None,
) -> folium.Map:
    """Return the coverage-gap map (see the module docstring), fitted to the data.

    Parameters
    ----------
    households : GeoDataFrame
        Points with ``household_id`` and ``status`` (one of :data:`STATUSES`, e.g. from
        :func:`household_status`); optional ``unit`` (the unit it belongs to), ``village_id``,
        ``address`` and ``last_visit`` (shown in the tooltip).
    units : GeoDataFrame, optional
        Zones or areas to shade: ``unit`` (matches ``households.unit``), ``name``, geometry;
        optional ``village_id``.
    villages : GeoDataFrame, optional
        ``village_id``, ``name`` and (optional) boundary geometry: outlines, and names on a town map.
    visited_this_year : sequence of bool, optional
        Per household: reached this year (for the rates).  Default: status ``visited``.  Pass it
        so that a priority household visited in March but due again counts as visited.
    as_of : str, optional
        The month the statuses refer to (e.g. "2026-12"), shown under the title.
    lang : {"zh", "en"}
    tiles : str or TileProvider
        As in :func:`maps.offline.offline_map`; with Gaode every layer is shifted to GCJ-02.
    title : str, optional
        Default: the village name (one village) and "走访覆盖图" / "Coverage gaps".

    Raises
    ------
    ValueError
        Listing every problem: missing columns, unknown statuses, a ``visited_this_year`` of
        another length.
    """
    check_lang(lang)
    problems = column_problems({"households": households, "units": units, "villages": villages}, _REQUIRED)
    if isinstance(households, gpd.GeoDataFrame) and "status" in households.columns:
        bad = sorted(set(households["status"].astype(str)) - set(STATUSES))
        if bad:
            problems.append(f"households: unknown status {', '.join(map(repr, bad))}; expected one of "
                            f"{', '.join(STATUSES)}")
    if visited_this_year is not None and len(visited_this_year) != len(households):
        problems.append(f"visited_this_year has {len(visited_this_year)} values for {len(households)} households")
    if problems:
        raise ValueError("Cannot draw the coverage map:\n- " + "\n- ".join(problems))
    provider = resolve_tiles(tiles)
    households = to_tile_datum(_wgs84(households, "households"), provider).reset_index(drop=True)
    units = to_tile_datum(_wgs84(units, "units"), provider) if units is not None else None
    if villages is not None and "geometry" in villages.columns and isinstance(villages, gpd.GeoDataFrame):
        villages = to_tile_datum(_wgs84(villages, "villages"), provider)

    status = households["status"].astype(str)
    reached = (pd.Series(np.asarray(visited_this_year, dtype=bool)) if visited_this_year is not None
               else status == "visited")
    # "visited" in rate_counts means reached this year.
    rate_status = pd.Series(np.where(status == "moved", "moved", np.where(reached, "visited", "other")))
    total = rate_counts(rate_status).iloc[0]
    points = households[households.geometry.notna() & ~households.geometry.is_empty
                        & (households.geometry.geom_type == "Point")]
    if len(points) < len(households):
        logger.warning("%d households have no point location and are not drawn", len(households) - len(points))

    unit_rates = None
    unit_shapes = None
    if units is not None and "unit" in households.columns:
        unit_rates = rate_counts(rate_status, households["unit"].astype(str))
        unit_shapes = _drawable(units).copy()
        unit_shapes["unit"] = unit_shapes["unit"].astype(str)
        unit_shapes = unit_shapes.join(unit_rates, on="unit")
        unit_shapes[["n", "visited", "moved"]] = unit_shapes[["n", "visited", "moved"]].fillna(0).astype(int)
    village_rows = None
    several = "village_id" in households.columns and households["village_id"].nunique() > 1
    if several:
        village_rows = rate_counts(rate_status, households["village_id"].astype(str))

    single_name = None
    if villages is not None and len(villages) == 1:
        single_name = str(villages["name"].iloc[0])
    if title is None:
        title = f"{single_name} · {label('coverage_map_title', lang)}" if single_name else label("coverage_map_title", lang)

    boxes = [g.total_bounds for g in (points, unit_shapes) if g is not None and len(g)]
    bounds = None
    if boxes:
        stack = np.vstack(boxes)
        bounds = (float(stack[:, 0].min()), float(stack[:, 1].min()), float(stack[:, 2].max()), float(stack[:, 3].max()))
    m = offline_map(bounds=bounds, tiles=provider, lang=lang, title=title)
    m.options["zoom_snap"] = 0.25
    m.get_root().header.add_child(folium.Element(_CSS), name="zhudian_coverage_css")

    if unit_shapes is not None and len(unit_shapes):
        _add_units(m, unit_shapes, lang)
    village_shapes = None
    if villages is not None and isinstance(villages, gpd.GeoDataFrame) and "geometry" in villages.columns:
        village_shapes = _drawable(villages)
        if len(village_shapes):
            folium.GeoJson(
                _simple_features(village_shapes, lambda row: {}), name=label("village", lang), interactive=False,
                style_function=lambda f: {"color": VILLAGE_OUTLINE, "weight": 1.6, "opacity": 0.9, "fill": False,
                                          "dashArray": "6 3"},
            ).add_to(m)
    if len(points):
        _add_households(m, points, lang)
    if several and village_rows is not None:
        _add_village_labels(m, points, village_shapes, village_rows, villages, lang)
    elif unit_shapes is not None and len(unit_shapes):
        _add_unit_labels(m, unit_shapes, lang)

    sub = label("visit_rate_of", lang, rate=0 if math.isnan(total["rate"]) else total["rate"],
                visited=int(total["visited"]), n=int(total["n"] - total["moved"]))
    if as_of:
        sub = f"{label('as_of', lang, month=as_of)} · {sub}"
    HtmlControl(f'{html_text(title)}<div class="zd-sub">{html_text(sub)}</div>', position="topright",
                class_name="zd-box zd-title").add_to(m)
    counts = status.value_counts()
    HtmlControl(_legend(counts, unit_shapes, village_rows, villages, lang), position="bottomright",
                class_name="zd-box zd-legend").add_to(m)
    if bounds is not None:
        FitBesideControls(bounds).add_to(m)
    folium.LayerControl(collapsed=True, position="topleft").add_to(m)
    return m


def _simple_features(gdf: gpd.GeoDataFrame, properties) -> dict:
    """GeoJSON of ``gdf`` simplified to ~1 m and rounded to :data:`COORD_DECIMALS` (small town maps)."""
    geoms = shapely.simplify(np.asarray(gdf.geometry.values, dtype=object), 1e-5, preserve_topology=True)
    geoms = shapely.transform(geoms, lambda c: np.round(c, COORD_DECIMALS))
    return {"type": "FeatureCollection", "features": [
        {"type": "Feature", "id": i, "properties": properties(row), "geometry": shapely.geometry.mapping(g)}
        for i, (row, g) in enumerate(zip(gdf.itertuples(index=False), geoms, strict=True))]}


def _rate_text(row, lang: str) -> str:
    n = int(row.n - row.moved)
    rate = row.rate if n else 0.0
    return label("visit_rate_of", lang, rate=rate if math.isfinite(rate) else 0.0, visited=int(row.visited), n=n)


def _add_units(m: folium.Map, units: gpd.GeoDataFrame, lang: str) -> None:
    fills = [rate_colour(r) for r in units["rate"]]

    def props(row) -> dict:
        return {"tip": f"<b>{html_text(row.name)}</b><br>{html_text(_rate_text(row, lang))}"}

    folium.GeoJson(
        _simple_features(units, props), name=label("rate_classes", lang),
        style_function=lambda f: {"color": UNIT_OUTLINE, "weight": 1.2, "opacity": 0.8,
                                  "fillColor": fills[f["id"]], "fillOpacity": RATE_FILL_OPACITY},
        tooltip=folium.GeoJsonTooltip(fields=["tip"], labels=False),
    ).add_to(m)


def _add_households(m: folium.Map, points: gpd.GeoDataFrame, lang: str) -> None:
    status = points["status"].astype(str).to_numpy()
    order = {s: i for i, s in enumerate(STATUSES)}
    classes = np.array([order[s] for s in status], dtype=np.int64)
    styles = [{"radius": HOUSEHOLD_RADIUS, "weight": 0.8, "color": "#ffffff", "opacity": 0.9,
               "fillColor": STATUS_COLOUR[s], "fillOpacity": 1.0} for s in STATUSES]
    names = {s: html_text(label(f"status_{s}", lang)) for s in STATUSES}
    ids = points["household_id"].astype(str).to_numpy()
    address = points["address"].fillna("").astype(str).to_numpy() if "address" in points.columns else None
    last = points["last_visit"].to_numpy() if "last_visit" in points.columns else None
    tips = []
    for i, (hid, s) in enumerate(zip(ids, status, strict=True)):
        tip = html_text(hid)
        if address is not None and address[i]:
            tip += f" · {html_text(address[i])}"
        tip += f"<br>{names[s]}"
        if last is not None and last[i] is not None and not pd.isna(last[i]):
            tip += f" · {html_text(label('last_visit', lang, d=str(last[i])[:10]))}"
        tips.append(tip)
    # Draw the gaps on top: visited first, then the statuses that need action.
    draw = np.argsort([0 if s == "visited" else 1 for s in status], kind="stable")
    PointsLayer(points.geometry.x.to_numpy()[draw], points.geometry.y.to_numpy()[draw], classes[draw], styles,
                [tips[i] for i in draw], name=label("household_status", lang), decimals=COORD_DECIMALS).add_to(m)


def _label_marker(where: tuple[float, float], text: str) -> folium.Marker:
    return folium.Marker(location=where, interactive=False,
                         icon=folium.DivIcon(html=f'<div class="zd-unit-name">{html_text(text)}</div>',
                                             icon_size=(0, 0), class_name="zd-label-icon"))


def _pct(rate: float) -> str:
    return "—" if rate is None or not math.isfinite(rate) else f"{rate:.0%}"


def _add_unit_labels(m: folium.Map, units: gpd.GeoDataFrame, lang: str) -> None:
    group = folium.FeatureGroup(name=label("area_names", lang))
    for where, row in zip(_label_points(units.geometry), units.itertuples(index=False), strict=True):
        _label_marker(where, f"{row.name} {_pct(row.rate)}").add_to(group)
    group.add_to(m)


def _add_village_labels(m: folium.Map, points: gpd.GeoDataFrame, shapes: gpd.GeoDataFrame | None,
                        rows: pd.DataFrame, villages: gpd.GeoDataFrame | None, lang: str) -> None:
    names = {}
    if villages is not None:
        names = dict(zip(villages["village_id"].astype(str), villages["name"].astype(str), strict=False))
    group = folium.FeatureGroup(name=label("by_village", lang))
    have_shape = {}
    if shapes is not None and len(shapes):
        have_shape = dict(zip(shapes["village_id"].astype(str), shapes.geometry, strict=False))
    for vid, row in rows.iterrows():
        vid = str(vid)
        geom = have_shape.get(vid)
        if geom is not None:
            where = _label_points(gpd.GeoSeries([geom], crs="EPSG:4326"))[0]
        else:
            own = points[points["village_id"].astype(str) == vid]
            if not len(own):
                continue
            where = (round(float(own.geometry.y.median()), 6), round(float(own.geometry.x.median()), 6))
        _label_marker(where, f"{names.get(vid, vid)} {_pct(row['rate'])}").add_to(group)
    group.add_to(m)


def _legend(counts: pd.Series, units: gpd.GeoDataFrame | None, village_rows: pd.DataFrame | None,
            villages: gpd.GeoDataFrame | None, lang: str) -> str:
    def cell(text: str, cls: str = "", span: int = 1) -> str:
        attrs = (f' class="{cls}"' if cls else "") + (f' colspan="{span}"' if span > 1 else "")
        return f"<td{attrs}>{html_text(text)}</td>"

    rows = [f'<tr class="zd-gap"><td></td>{cell(label("household_status", lang), span=2)}</tr>']
    for s in STATUSES:
        n = int(counts.get(s, 0))
        if s == "moved" and n == 0:
            continue
        rows.append(f'<tr><td><span class="zd-dot" style="background:{STATUS_COLOUR[s]}"></span></td>'
                    f"{cell(label(f'status_{s}', lang))}{cell(str(n), 'zd-n')}</tr>")
    rows.append(f'<tr class="zd-sum"><td></td>{cell(label("households_total", lang))}'
                f"{cell(str(int(counts.sum())), 'zd-n')}</tr>")
    if units is not None and len(units):
        rows.append(f'<tr class="zd-gap"><td></td>{cell(label("rate_classes", lang), span=2)}</tr>')
        classes = [rate_colour(r) for r in units["rate"]]
        bounds = (0.0, *RATE_BREAKS, 1.0)
        for k, colour in enumerate(RATE_COLOURS):
            r, g, b = (int(colour[i:i + 2], 16) for i in (1, 3, 5))
            swatch = (f'<span class="zd-swatch" style="background:rgba({r},{g},{b},{RATE_FILL_OPACITY});'
                      f'border:1px solid {UNIT_OUTLINE}"></span>')
            rows.append(f"<tr><td>{swatch}</td>{cell(f'{bounds[k]:.0%}–{bounds[k + 1]:.0%}')}"
                        f"{cell(str(classes.count(colour)), 'zd-n')}</tr>")
    if village_rows is not None:
        names = {}
        if villages is not None:
            names = dict(zip(villages["village_id"].astype(str), villages["name"].astype(str), strict=False))
        rows.append(f'<tr class="zd-gap"><td></td>{cell(label("by_village", lang))}'
                    f"{cell(label('visit_rate', lang), 'zd-n')}</tr>")
        for vid, row in village_rows.iterrows():
            n = int(row["n"] - row["moved"])
            rows.append(f"<tr><td></td>{cell(names.get(str(vid), str(vid)))}"
                        f"{cell(f'{_pct(row.rate)} ({int(row.visited)}/{n})', 'zd-n')}</tr>")
    return f'<div class="zd-head">{html_text(label("legend", lang))}</div><table>{"".join(rows)}</table>'
