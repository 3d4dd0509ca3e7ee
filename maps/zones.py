"""The zone map (分片走访地图): each "2+1" group's zone, its households, the areas, the depot.

A pure renderer: GeoDataFrames in, a ``folium.Map`` out (built on :func:`maps.offline.offline_map`,
so it opens offline); write it with :func:`maps.offline.save_html`.  One map per village; a town
map is the same call with the zones, households, areas and villages of all its villages (zone
labels must then be unique across the town, e.g. ``"<village_id>-1"``).

Drawn, bottom to top: zone outlines filled in the zone's colour (tooltip: group, members,
households, workload), roads (grey), area outlines (thin dark lines, names as small permanent
labels), split areas (dashed red), village boundaries, households as canvas circle markers in their
zone's colour with a darker ring, the village committee (depot), the group names on their zones.
A title box names the village, the legend has one row per zone (colour, group, members,
households, workload in hours) and the other layers.

Colours come from :data:`ZONE_PALETTE` (20 qualitative colours, the first 12 clearly distinct),
given to the zones in sorted order of their labels (row order if the labels do not sort), so the
same plan always gets the same colours.  Beyond 20 zones the colours repeat.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Collection
from typing import Any

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from folium.elements import MacroElement
from folium.template import Template

from geo.layers import WGS84
from maps.i18n import check_lang, label
from maps.offline import HtmlControl, TileProvider, html_text, offline_map, resolve_tiles, to_tile_datum
from maps.overview import (
    DEPOT_COLOUR,
    column_problems,
    HOUSEHOLD_RADIUS,
    ROAD_COLOUR,
    VILLAGE_OUTLINE,
    _drawable,
    _features,
    _wgs84,
    add_depots,
    add_roads,
    add_village_outlines,
)

logger = logging.getLogger(__name__)

ZONE_PALETTE = (
    "#4e79a7", "#f28e2b", "#59a14f", "#b07aa1", "#edc948", "#76b7b2",
    "#ff9da7", "#9c755f", "#e15759", "#bcbd22", "#393b79", "#17becf",
    "#843c39", "#637939", "#7b4173", "#8c6d31", "#a0cbe8", "#8cd17d", "#ffbe7d", "#d4a6c8",
)
"""Zone colours in order (Tableau 10 without its grey, then darker and lighter extras)."""
ZONE_FILL_OPACITY = 0.38
ZONE_EDGE_DARKEN = 0.65
"""Zone outlines and household rings are the zone colour times this (darker)."""
AREA_OUTLINE = "#333333"
SPLIT_COLOUR = DEPOT_COLOUR
UNZONED_COLOUR = "#9e9e9e"
_LABEL_CLEAR_M = 40.0
"""A group name keeps this far (metres) from the area names (they would overlap at village scale)."""

_REQUIRED = {
    "zones": ("zone", "group_label", "households", "workload_min", "geometry"),
    "households": ("household_id", "zone", "geometry"),
    "areas": ("area_id", "name", "kind", "geometry"),
    "villages": ("village_id", "name", "depot_lon", "depot_lat", "geometry"),
    "roads": ("geometry",),
}

_CSS = """
<style>
.zd-area-name { display: inline-block; transform: translate(-50%, -50%); white-space: nowrap; font-size: 11px; color: #333;
    text-shadow: 0 0 2px #fff, 0 0 2px #fff, 0 0 3px #fff; pointer-events: none; }
.zd-zone-name { display: inline-block; transform: translate(-50%, -50%); white-space: nowrap; font-size: 13px; font-weight: 700;
    background: rgba(255, 255, 255, 0.85); border: 2px solid; border-radius: 9px; padding: 0 6px;
    line-height: 1.4; pointer-events: none; }
.zd-legend td.zd-members { white-space: normal; max-width: 16em; }
.zd-legend tr.zd-sum td { border-top: 1px solid #999; }
.zd-legend tr.zd-sub td { font-weight: 600; padding-top: 4px; }
</style>
"""


def zone_colour(position: int) -> str:
    """The fill colour of the zone at ``position`` in the zone order (cycles after 20)."""
    return ZONE_PALETTE[position % len(ZONE_PALETTE)]


def darker(colour: str, factor: float = ZONE_EDGE_DARKEN) -> str:
    """``#rrggbb`` with each channel multiplied by ``factor``."""
    r, g, b = (int(colour[i:i + 2], 16) for i in (1, 3, 5))
    return "#{:02x}{:02x}{:02x}".format(*(round(c * factor) for c in (r, g, b)))


def zone_map(
    *,
    zones: gpd.GeoDataFrame,
    households: gpd.GeoDataFrame,
    areas: gpd.GeoDataFrame,
    villages: gpd.GeoDataFrame | None = None,
    roads: gpd.GeoDataFrame | None = None,
    split_area_ids: Collection[str] = (),
    lang: str = "zh",
    tiles: str | TileProvider | None = "none",
    title: str | None = None,
) -> folium.Map:
    """Return the zone map (see the module docstring), fitted to the data.

    Parameters
    ----------
    zones : GeoDataFrame
        One row per zone: ``zone`` (int or str, unique), ``group_label`` (e.g. "第1组"),
        ``households`` (int), ``workload_min`` (float, minutes), geometry (the outline, e.g. from
        :func:`geo.outlines.zone_outlines`); optional ``members`` (names joined by "、"; empty or
        missing: "no members yet"), ``group_id`` and ``village_id`` (with several villages the
        legend groups the zones by village).
    households : GeoDataFrame
        Household points (:mod:`geo.layers` columns, at least ``household_id``) and ``zone``.
        Households whose zone is missing or not in ``zones`` are drawn grey and counted in the
        legend.
    areas : GeoDataFrame
        Natural villages and compounds (``area_id``, ``name``, ``kind``, geometry); the scattered
        area and areas without geometry are not drawn.
    villages : GeoDataFrame, optional
        Their boundaries (if any) and depots (``depot_lon``/``depot_lat``) are drawn; their names
        make the default title.
    roads : GeoDataFrame, optional
        Drawn as thin grey lines.
    split_area_ids : collection of str
        Areas split between zones: outlined in dashed red, counted in the legend.
    lang : {"zh", "en"}
    tiles : str or TileProvider
        As in :func:`maps.offline.offline_map` (default ``"none"``: no network); with Gaode every
        layer is shifted to GCJ-02 (:func:`maps.offline.to_tile_datum`).
    title : str, optional
        Default: the village name(s) (or the town) and "分片走访地图" / "Zone map".

    Raises
    ------
    ValueError
        Listing every problem: missing columns, duplicated or missing zone labels.
    """
    check_lang(lang)
    _check({"zones": zones, "households": households, "areas": areas, "villages": villages, "roads": roads})
    zones = _ordered(_wgs84(zones, "zones"))
    households = _wgs84(households, "households")
    areas = _wgs84(areas, "areas")
    villages = _wgs84(villages, "villages") if villages is not None else None
    roads = _wgs84(roads, "roads") if roads is not None else None
    tiles = resolve_tiles(tiles)  # Gaode: every layer shifted to GCJ-02 (to_tile_datum)
    zones, households, areas = (to_tile_datum(g, tiles) for g in (zones, households, areas))
    if villages is not None:
        villages = to_tile_datum(villages, tiles, lonlat_columns=("depot_lon", "depot_lat"))
    roads = to_tile_datum(roads, tiles) if roads is not None else None

    colours = {z: zone_colour(i) for i, z in enumerate(zones["zone"])}
    zone_shapes = _drawable(zones)
    area_shapes = _drawable(areas[areas["kind"] != "scattered"])
    split_ids = {str(a) for a in split_area_ids}
    unknown = split_ids - set(areas["area_id"].astype(str))
    if unknown:
        logger.warning("split areas not among the areas, not drawn: %s", ", ".join(sorted(unknown)))
    split_shapes = area_shapes[area_shapes["area_id"].astype(str).isin(split_ids)]
    points = _drawable(households)
    road_lines = _drawable(roads) if roads is not None else None
    depots = _depots(villages)

    if title is None:
        title = _default_title(villages, lang)
    # Fitted to all but the roads (they often reach far beyond the village).
    village_shapes = _drawable(villages) if villages is not None else None
    bounds = _bounds([zone_shapes, area_shapes, points, village_shapes], depots)
    m = offline_map(bounds=bounds, tiles=tiles, lang=lang, title=title)
    m.options["zoom_snap"] = 0.25  # fill the view: fitBounds may stop between whole zoom levels
    m.get_root().header.add_child(folium.Element(_CSS), name="zhudian_zone_css")

    counts = households["area_id"].astype(str).value_counts() if "area_id" in households.columns else None
    _add_zones(m, zone_shapes, colours, lang=lang)
    if road_lines is not None:
        add_roads(m, road_lines, lang=lang)
    _add_area_outlines(m, area_shapes, counts, lang=lang)
    _add_split_areas(m, split_shapes, lang=lang)
    if village_shapes is not None:
        add_village_outlines(m, village_shapes, lang=lang)
    n_unzoned = _add_households(m, points, zones, colours, lang=lang)
    add_depots(m, depots, lang=lang)
    _add_names(m, area_shapes, zone_shapes, colours, lang=lang)

    HtmlControl(html_text(title), position="topright", class_name="zd-box zd-title").add_to(m)
    legend = _legend(zones, colours, villages, n_split=len(split_shapes), n_unzoned=n_unzoned, n_depots=len(depots),
                     village_lines=village_shapes is not None and len(village_shapes) > 0,
                     roads=road_lines is not None, lang=lang)
    HtmlControl(legend, position="bottomright", class_name="zd-box zd-legend").add_to(m)
    if bounds is not None:
        _FitBesideLegend(bounds).add_to(m)
    folium.LayerControl(collapsed=True, position="topright").add_to(m)
    return m


# --------------------------------------------------------------------------------------------
# Checking


def _check(layers: dict[str, gpd.GeoDataFrame | None]) -> None:
    """Raise one ``ValueError`` listing every problem of every layer."""
    problems = column_problems(layers, _REQUIRED)
    zones = layers["zones"]
    if isinstance(zones, gpd.GeoDataFrame) and "zone" in zones.columns:
        dup = zones["zone"][zones["zone"].duplicated()].unique().tolist()
        if dup:
            problems.append(f"zones: zone label(s) {', '.join(map(repr, dup))} appear more than once; "
                            f"give each zone a unique label (for a town, prefix the village id)")
        if zones["zone"].isna().any():
            problems.append("zones: some rows have no zone label")
    if problems:
        raise ValueError("Cannot draw the zone map:\n- " + "\n- ".join(problems))


def _ordered(zones: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Zones in sorted order of their labels (row order if they do not sort)."""
    try:
        order = sorted(range(len(zones)), key=lambda i: zones["zone"].iloc[i])
    except TypeError:
        return zones.reset_index(drop=True)
    return zones.iloc[order].reset_index(drop=True)


def _depots(villages: gpd.GeoDataFrame | None) -> gpd.GeoDataFrame:
    if villages is None:
        return gpd.GeoDataFrame({"name": [], "depot_lon": [], "depot_lat": []}, geometry=[])
    ok = (pd.to_numeric(villages["depot_lon"], errors="coerce").notna()
          & pd.to_numeric(villages["depot_lat"], errors="coerce").notna())
    return villages[ok]


def _bounds(layers: list[gpd.GeoDataFrame | None], depots: gpd.GeoDataFrame):
    boxes = [g.total_bounds for g in layers if g is not None and len(g)]
    if len(depots):
        lon, lat = depots["depot_lon"].astype(float), depots["depot_lat"].astype(float)
        boxes.append(np.array([lon.min(), lat.min(), lon.max(), lat.max()]))
    if not boxes:
        return None
    stack = np.vstack(boxes)
    return (float(stack[:, 0].min()), float(stack[:, 1].min()), float(stack[:, 2].max()), float(stack[:, 3].max()))


def _default_title(villages: gpd.GeoDataFrame | None, lang: str) -> str:
    title = label("zone_map_title", lang)
    if villages is None or not len(villages):
        return title
    names = [str(n) for n in villages["name"].dropna()]
    towns = villages["town"].dropna().unique().tolist() if "town" in villages.columns else []
    if 0 < len(names) <= 3:
        where = "、".join(names) if lang == "zh" else ", ".join(names)
    elif len(towns) == 1:
        where = str(towns[0])
    else:
        return title
    return f"{where} · {title}"


class _FitBesideLegend(MacroElement):
    """Fit the bounds again, keeping the data clear of the legend (bottom right) where there is room."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function () {
            var map = {{ this._parent.get_name() }};
            var legend = map.getContainer().querySelector(".zd-legend");
            var right = legend ? legend.offsetWidth + 24 : 12;
            if (right > 0.45 * map.getSize().x) { right = 12; }  // a narrow screen: no room beside it
            map.fitBounds({{ this.bounds|tojson }},
                          {animate: false, paddingTopLeft: [12, 12], paddingBottomRight: [right, 12]});
        })();
        {% endmacro %}
        """
    )

    def __init__(self, bounds: tuple[float, float, float, float]) -> None:
        super().__init__()
        self._name = "FitBesideLegend"
        west, south, east, north = bounds
        self.bounds = [[round(south, 6), round(west, 6)], [round(north, 6), round(east, 6)]]


# --------------------------------------------------------------------------------------------
# Layers


def _hours(minutes: Any) -> float:
    try:
        value = float(minutes)
    except (TypeError, ValueError):
        return math.nan
    return value / 60.0


def _hours_text(minutes: Any, lang: str, key: str = "workload_h") -> str:
    h = _hours(minutes)
    return "—" if math.isnan(h) else label(key, lang, h=h)


def _members_text(row: Any, lang: str) -> str:
    members = getattr(row, "members", None)
    if members is None or (isinstance(members, float) and math.isnan(members)) or not str(members).strip():
        return label("no_members", lang)
    return str(members)


def _add_zones(m: folium.Map, zones: gpd.GeoDataFrame, colours: dict, *, lang: str) -> None:
    """Zone outlines filled in their colour; tooltip: group, members, households, workload."""
    if not len(zones):
        return
    fills = [colours[z] for z in zones["zone"]]

    def props(row: Any) -> dict:
        lines = [f"<b>{html_text(row.group_label)}</b>", html_text(_members_text(row, lang)),
                 html_text(label("n_households", lang, n=int(row.households))),
                 html_text(_hours_text(row.workload_min, lang, "workload_full"))]
        return {"tip": "<br>".join(lines)}

    folium.GeoJson(
        _features(zones, props), name=label("zones", lang),
        style_function=lambda feature: {
            "color": darker(fills[feature["id"]]), "weight": 2, "opacity": 0.95,
            "fillColor": fills[feature["id"]], "fillOpacity": ZONE_FILL_OPACITY},
        tooltip=folium.GeoJsonTooltip(fields=["tip"], labels=False),
    ).add_to(m)


def _add_area_outlines(m: folium.Map, areas: gpd.GeoDataFrame, counts: pd.Series | None, *, lang: str) -> None:
    """Natural villages and compounds as thin dark outlines (no fill), tooltip on the line."""
    if not len(areas):
        return

    def props(row: Any) -> dict:
        kind = row.kind if row.kind in ("natural_village", "compound") else None
        tip = html_text(row.name) + (f" · {html_text(label(kind, lang))}" if kind else "")
        if counts is not None:
            tip += f"<br>{html_text(label('n_households', lang, n=int(counts.get(str(row.area_id), 0))))}"
        return {"tip": tip}

    folium.GeoJson(
        _features(areas, props), name=label("area_outline", lang),
        style_function=lambda feature: {"color": AREA_OUTLINE, "weight": 1.1, "opacity": 0.85, "fill": False},
        tooltip=folium.GeoJsonTooltip(fields=["tip"], labels=False),
    ).add_to(m)


def _add_split_areas(m: folium.Map, areas: gpd.GeoDataFrame, *, lang: str) -> None:
    if not len(areas):
        return
    tip = html_text(label("split_area_tip", lang))
    folium.GeoJson(
        _features(areas, lambda row: {"tip": f"{html_text(row.name)}<br>{tip}"}), name=label("split_area", lang),
        style_function=lambda feature: {"color": SPLIT_COLOUR, "weight": 2.5, "opacity": 0.95,
                                        "dashArray": "7 5", "fill": False},
        tooltip=folium.GeoJsonTooltip(fields=["tip"], labels=False),
    ).add_to(m)


def _add_households(m: folium.Map, points: gpd.GeoDataFrame, zones: gpd.GeoDataFrame, colours: dict,
                    *, lang: str) -> int:
    """Households as canvas circle markers in their zone's colour; return how many have no zone."""
    points = points[points.geometry.geom_type == "Point"]
    if not len(points):
        return 0
    group_of = dict(zip(zones["zone"], zones["group_label"].astype(str), strict=True))
    zone_values = points["zone"].tolist()
    known = [z in colours if not _missing(z) else False for z in zone_values]
    n_unzoned = len(known) - sum(known)
    if n_unzoned:
        logger.warning("%d household(s) have no zone of the zone map and are drawn grey", n_unzoned)
    fills = [colours[z] if k else UNZONED_COLOUR for z, k in zip(zone_values, known, strict=True)]
    edges = [darker(c) for c in fills]
    unzoned = label("household_unzoned", lang)
    xy = np.round(shapely.get_coordinates(points.geometry.values), 6)
    ids = points["household_id"].astype(str).to_numpy()
    data = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "id": i,
         "properties": {"h": f"{html_text(hid)} · {html_text(group_of[z] if k else unzoned)}"},
         "geometry": {"type": "Point", "coordinates": [float(x), float(y)]}}
        for i, (hid, z, k, (x, y)) in enumerate(zip(ids, zone_values, known, xy, strict=True))
    ]}
    folium.GeoJson(
        data, name=label("households_by_zone", lang),
        marker=folium.CircleMarker(radius=HOUSEHOLD_RADIUS, weight=1.2, opacity=1.0, fill=True, fill_opacity=1.0),
        style_function=lambda feature: {"fillColor": fills[feature["id"]], "color": edges[feature["id"]]},
        tooltip=folium.GeoJsonTooltip(fields=["h"], labels=False),
    ).add_to(m)
    return n_unzoned


def _missing(value: Any) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _label_points(geoms: gpd.GeoSeries, *, avoid: gpd.GeoSeries | None = None,
                  keep_clear: list[tuple[float, float]] = ()) -> list[tuple[float, float]]:
    """Where to put a label in each geometry, as ``(lat, lon)``.

    The centre of the largest circle inside the geometry (inside its largest part), measured in
    metres.  With ``avoid``, the parts of ``avoid`` smaller than a geometry are cut out of it first
    (where that leaves something): a natural village's name then stands clear of the compounds in it.
    ``keep_clear`` are ``(lat, lon)`` of labels already placed: discs of :data:`_LABEL_CLEAR_M`
    around them are cut out too.
    """
    if not len(geoms):
        return []
    crs = geoms.estimate_utm_crs()
    metric = geoms.to_crs(crs).values
    others = avoid.to_crs(crs).values if avoid is not None and len(avoid) else np.array([], dtype=object)
    if len(keep_clear):
        placed = gpd.GeoSeries(gpd.points_from_xy([p[1] for p in keep_clear], [p[0] for p in keep_clear]),
                               crs=WGS84).to_crs(crs).buffer(_LABEL_CLEAR_M).values
        others = np.concatenate([others, placed])
    others_area = shapely.area(others)
    tree = shapely.STRtree(others)
    centres = []
    for geom in metric:
        target = geom
        if len(others):
            near = tree.query(geom, predicate="intersects")
            smaller = [others[j] for j in near if others_area[j] < 0.9 * geom.area]  # discs included
            if smaller:
                rest = shapely.difference(geom, shapely.union_all(smaller))
                if not rest.is_empty and rest.area > 0.05 * geom.area:
                    target = rest
        parts = shapely.get_parts(target)
        parts = parts[shapely.get_type_id(parts) == 3]
        largest = parts[int(np.argmax(shapely.area(parts)))] if len(parts) else geom
        radius = shapely.maximum_inscribed_circle(largest, tolerance=max(math.sqrt(largest.area) / 100, 0.5))
        centres.append(shapely.get_point(radius, 0))
    points = gpd.GeoSeries(centres, crs=crs).to_crs(WGS84)
    return [(round(p.y, 6), round(p.x, 6)) for p in points]


def _add_names(m: folium.Map, areas: gpd.GeoDataFrame, zones: gpd.GeoDataFrame, colours: dict,
               *, lang: str) -> None:
    """Area names (small, dark) and group names (bold, in the zone colour) as permanent labels."""
    area_places: list[tuple[float, float]] = []
    if len(areas):
        group = folium.FeatureGroup(name=label("area_names", lang))
        named = areas[[not _missing(n) and bool(str(n).strip()) for n in areas["name"]]]
        area_places = _label_points(named.geometry, avoid=areas.geometry)
        for where, name in zip(area_places, named["name"], strict=True):
            folium.Marker(
                location=where, interactive=False,
                icon=folium.DivIcon(html=f'<div class="zd-area-name">{html_text(name)}</div>', icon_size=(0, 0),
                                    class_name="zd-label-icon"),
            ).add_to(group)
        group.add_to(m)
    if len(zones):
        group = folium.FeatureGroup(name=label("zone_labels", lang))
        where = _label_points(zones.geometry, keep_clear=area_places)
        for place, zone, text in zip(where, zones["zone"], zones["group_label"], strict=True):
            style = f"color:{darker(colours[zone], 0.5)};border-color:{darker(colours[zone])}"
            folium.Marker(
                location=place, interactive=False,
                icon=folium.DivIcon(html=f'<div class="zd-zone-name" style="{style}">{html_text(text)}</div>',
                                    icon_size=(0, 0), class_name="zd-label-icon"),
            ).add_to(group)
        group.add_to(m)


# --------------------------------------------------------------------------------------------
# Legend


def _legend(zones: gpd.GeoDataFrame, colours: dict, villages: gpd.GeoDataFrame | None, *, n_split: int,
            n_unzoned: int, n_depots: int, village_lines: bool, roads: bool, lang: str) -> str:
    def cell(text: str, cls: str = "") -> str:
        return f'<td{f" class={chr(34)}{cls}{chr(34)}" if cls else ""}>{html_text(text)}</td>'

    def swatch(colour: str) -> str:
        r, g, b = (int(colour[i:i + 2], 16) for i in (1, 3, 5))
        return (f'<span class="zd-swatch" style="background:rgba({r},{g},{b},{ZONE_FILL_OPACITY});'
                f'border:2px solid {darker(colour)}"></span>')

    head = ("<tr><td></td>" + "".join(cell(label(k, lang)) for k in ("group", "members"))
            + cell(label("n_households_head", lang), "zd-n") + cell(label("workload", lang), "zd-n") + "</tr>")
    rows = [head]
    by_village = "village_id" in zones.columns and zones["village_id"].nunique() > 1
    village_names = {}
    if by_village and villages is not None:
        village_names = dict(zip(villages["village_id"].astype(str), villages["name"].astype(str), strict=False))
    current = object()
    listed = zones.sort_values("village_id", kind="stable") if by_village else zones
    for row in listed.itertuples(index=False):
        if by_village and row.village_id != current:
            current = row.village_id
            rows.append(f'<tr class="zd-sub"><td></td><td colspan="4">'
                        f'{html_text(village_names.get(str(current), current))}</td></tr>')
        rows.append(
            f"<tr><td>{swatch(colours[row.zone])}</td>{cell(row.group_label)}{cell(_members_text(row, lang), 'zd-members')}"
            f"{cell(label('n_households_short', lang, n=int(row.households)), 'zd-n')}"
            f"{cell(_hours_text(row.workload_min, lang), 'zd-n')}</tr>")
    total_h = pd.to_numeric(zones["workload_min"], errors="coerce").sum(min_count=1)
    rows.append(f'<tr class="zd-sum"><td></td>{cell(label("total", lang))}<td></td>'
                f"{cell(label('n_households_short', lang, n=int(zones['households'].sum())), 'zd-n')}"
                f"{cell(_hours_text(total_h, lang), 'zd-n')}</tr>")

    others = [
        (f'<span class="zd-swatch" style="border:1.5px solid {AREA_OUTLINE}"></span>', label("area_outline", lang), ""),
        (f'<span class="zd-swatch" style="border:2px dashed {SPLIT_COLOUR}"></span>', label("split_area", lang),
         str(n_split)),
    ]
    if village_lines:
        others.append((f'<span class="zd-swatch" style="border:2px dashed {VILLAGE_OUTLINE}"></span>',
                       label("village", lang), ""))
    if roads:
        others.append((f'<span class="zd-line" style="border-top:2px solid {ROAD_COLOUR}"></span>',
                       label("road", lang), ""))
    if n_unzoned:
        others.append((f'<span class="zd-dot" style="background:{UNZONED_COLOUR}"></span>',
                       label("household_unzoned", lang), str(n_unzoned)))
    if n_depots:
        others.append((f'<span class="zd-depot">{html_text(label("depot_short", lang))}</span>',
                       label("depot", lang), ""))
    rows.extend(f'<tr><td>{sw}</td><td colspan="2">{html_text(text)}</td>{cell(n, "zd-n")}<td></td></tr>'
                for sw, text, n in others)
    return f'<div class="zd-head">{html_text(label("legend", lang))}</div><table>{"".join(rows)}</table>'
