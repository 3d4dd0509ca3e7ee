"""The overview map: villages, their natural villages and compounds, roads, households, depots.

A pure renderer: GeoDataFrames in (columns of :mod:`geo.layers`), a ``folium.Map`` out (built on
:func:`maps.offline.offline_map`, so it opens offline); write it with :func:`maps.offline.save_html`.

Size: households are one ``GeoJson`` layer of canvas circle markers (coordinates rounded to 6
decimals, ~0.1 m; properties: the household id for a one-line tooltip and the placement), roads one
non-interactive ``GeoJson`` layer.  A town of ~8,000 households and ~7,000 road edges gives a page
of a few MB.

The layers are drawn by ``add_areas``, ``add_roads``, ``add_village_outlines``, ``add_households``
and ``add_depots``, which other renderers (zones, routes) can call on their own ``offline_map``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable
from typing import Any

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.layers import AREA_KINDS, PLACEMENTS, WGS84
from maps.i18n import check_lang, label
from maps.offline import HtmlControl, TileProvider, html_text, offline_map, resolve_tiles, to_tile_datum

logger = logging.getLogger(__name__)

VILLAGE_OUTLINE = "#2b2b2b"
AREA_FILL = {"natural_village": "#5aae61", "compound": "#f1a340"}
"""Fill colour of an area by kind (scattered areas have no outline and are not drawn)."""
AREA_FILL_OPACITY = 0.35
ROAD_COLOUR = "#8a8a8a"
HOUSEHOLD_COLOUR = {
    "in_area": "#2166ac",
    "attached": "#7b3294",
    "scattered": "#e66101",
    "unplaced": "#555555",
}
"""Fill colour of a household marker by placement (drawn opaque with a thin white ring)."""
HOUSEHOLD_RADIUS = 3.5
DEPOT_COLOUR = "#d7191c"

_HOUSEHOLD_LABEL = {
    "in_area": "household_in_area",
    "attached": "household_attached",
    "scattered": "household_scattered",
    "unplaced": "household_unplaced",
}
_REQUIRED = {
    "villages": ("village_id", "name", "depot_lon", "depot_lat", "geometry"),
    "areas": ("area_id", "village_id", "name", "kind", "geometry"),
    "households": ("household_id", "area_id", "placement", "geometry"),
    "roads": ("geometry",),
}


def column_problems(layers: dict[str, gpd.GeoDataFrame | None], required: dict[str, tuple[str, ...]]) -> list[str]:
    """Problems with the given layers: not a GeoDataFrame, or missing required columns."""
    problems: list[str] = []
    for name, gdf in layers.items():
        if gdf is None:
            continue
        if not isinstance(gdf, gpd.GeoDataFrame):
            problems.append(f"{name}: expected a GeoDataFrame, got {type(gdf).__name__}")
            continue
        missing = [c for c in required[name] if c not in gdf.columns]
        if missing:
            problems.append(f"{name}: missing column(s) {', '.join(missing)} (see geo/layers.py)")
    return problems


def _check(layers: dict[str, gpd.GeoDataFrame | None]) -> None:
    """Raise one ``ValueError`` listing every problem of every layer."""
    problems = column_problems(layers, _REQUIRED)
    areas, households = layers["areas"], layers["households"]
    if isinstance(areas, gpd.GeoDataFrame) and "kind" in areas.columns:
        bad = sorted(set(areas["kind"].dropna()) - set(AREA_KINDS))
        if bad:
            problems.append(f"areas: unknown kind {', '.join(map(repr, bad))}; expected one of {', '.join(AREA_KINDS)}")
    if isinstance(households, gpd.GeoDataFrame) and "placement" in households.columns:
        bad = sorted(set(households["placement"].dropna()) - set(PLACEMENTS))
        if bad:
            problems.append(
                f"households: unknown placement {', '.join(map(repr, bad))}; expected one of {', '.join(PLACEMENTS)}"
            )
    if problems:
        raise ValueError("Cannot draw the overview map:\n- " + "\n- ".join(problems))


def _wgs84(gdf: gpd.GeoDataFrame, name: str) -> gpd.GeoDataFrame:
    """Reproject to WGS 84 if needed; a layer without CRS is taken as WGS 84 if it looks like it."""
    if gdf.crs is None:
        geoms = gdf.geometry[gdf.geometry.notna() & ~gdf.geometry.is_empty]
        if len(geoms):
            minx, miny, maxx, maxy = geoms.total_bounds
            if minx < -180 or maxx > 180 or miny < -90 or maxy > 90:
                raise ValueError(
                    f"{name} has no CRS and its coordinates are not longitude/latitude: "
                    f"set its CRS (gdf.set_crs(...)) so it can be reprojected to {WGS84}."
                )
        return gdf
    if gdf.crs.equals(WGS84):
        return gdf
    return gdf.to_crs(WGS84)


def _drawable(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    keep = gdf.geometry.notna() & ~gdf.geometry.is_empty
    return gdf[keep]


def _rounded(geoms: Iterable[Any]) -> np.ndarray:
    arr = shapely.force_2d(np.asarray(list(geoms), dtype=object))
    return shapely.transform(arr, lambda c: np.round(c, 6))


def _features(gdf: gpd.GeoDataFrame, properties: Callable[[Any], dict]) -> dict:
    """A FeatureCollection of ``gdf`` with rounded coordinates and only the given properties."""
    geoms = _rounded(gdf.geometry)
    features = [
        {"type": "Feature", "id": i, "properties": properties(row),
         "geometry": shapely.geometry.mapping(geom)}
        for i, (row, geom) in enumerate(zip(gdf.itertuples(index=False), geoms, strict=True))
    ]
    return {"type": "FeatureCollection", "features": features}


def _road_network(roads: gpd.GeoDataFrame) -> shapely.MultiLineString | None:
    """All road lines as one MultiLineString, rounded, each edge once whatever its direction."""
    lines = shapely.normalize(_rounded(shapely.get_parts(roads.geometry.values)))
    lines = lines[shapely.get_type_id(lines) == 1]  # LineStrings only
    if not len(lines):
        return None
    unique = np.unique(shapely.to_wkb(lines), return_index=True)[1]
    return shapely.multilinestrings(lines[np.sort(unique)])


def _road_km(network: shapely.MultiLineString | None) -> float:
    if network is None:
        return 0.0
    roads = gpd.GeoSeries([network], crs=WGS84)
    try:
        metric = roads.to_crs(roads.estimate_utm_crs())
    except Exception:  # noqa: BLE001 - e.g. no CRS database; the legend then shows no length
        logger.warning("could not project roads to measure their length", exc_info=True)
        return math.nan
    return float(metric.length.sum()) / 1000.0


def _legend_html(rows: list[tuple[str, str, str]], lang: str) -> str:
    """``rows`` of ``(swatch html, label, count text)``."""
    body = "".join(
        f'<tr><td>{swatch}</td><td>{html_text(text)}</td><td class="zd-n">{html_text(count)}</td></tr>'
        for swatch, text, count in rows
    )
    return f'<div class="zd-head">{html_text(label("legend", lang))}</div><table>{body}</table>'


def add_areas(m: folium.Map, areas: gpd.GeoDataFrame, household_counts: pd.Series, *, lang: str) -> None:
    """Areas filled by kind; tooltip: name and number of households (``household_counts`` by area id)."""
    if not len(areas):
        return

    def props(row: Any) -> dict:
        n = int(household_counts.get(row.area_id, 0))
        return {"kind": row.kind, "tip": f"{html_text(row.name)}<br>{html_text(label('n_households', lang, n=n))}"}

    def style(feature: dict) -> dict:
        colour = AREA_FILL[feature["properties"]["kind"]]
        return {"color": colour, "weight": 1, "opacity": 0.9, "fillColor": colour, "fillOpacity": AREA_FILL_OPACITY}

    folium.GeoJson(
        _features(areas, props), name=f"{label('natural_village', lang)} / {label('compound', lang)}",
        style_function=style, tooltip=folium.GeoJsonTooltip(fields=["tip"], labels=False),
    ).add_to(m)


def add_roads(m: folium.Map, roads: gpd.GeoDataFrame, *, lang: str) -> shapely.MultiLineString | None:
    """Roads as thin grey lines, not interactive; return the network drawn (each edge once).

    One MultiLineString feature: no per-edge overhead in the HTML, and each edge once whatever its
    direction (a walking network usually has both directions of every street).
    """
    network = _road_network(roads) if len(roads) else None
    if network is not None:
        folium.GeoJson(
            {"type": "Feature", "id": 0, "properties": {}, "geometry": shapely.geometry.mapping(network)},
            name=label("road", lang),
            style_function=lambda feature: {"color": ROAD_COLOUR, "weight": 1.2, "opacity": 0.85},
            interactive=False,
        ).add_to(m)
    return network


def add_village_outlines(m: folium.Map, villages: gpd.GeoDataFrame, *, lang: str) -> None:
    """Village boundaries as thin dashed dark lines with name tooltips."""
    if not len(villages):
        return
    folium.GeoJson(
        _features(villages, lambda row: {"tip": html_text(row.name)}), name=label("village", lang),
        style_function=lambda feature: {"color": VILLAGE_OUTLINE, "weight": 1.6, "opacity": 0.9,
                                        "fill": False, "dashArray": "6 3"},
        tooltip=folium.GeoJsonTooltip(fields=["tip"], labels=False),
    ).add_to(m)


def add_households(m: folium.Map, households: gpd.GeoDataFrame, *, lang: str) -> None:
    """Households as one layer of canvas circle markers coloured by placement; id tooltip."""
    points = households[households.geometry.geom_type == "Point"]
    if len(points) < len(households):
        logger.warning("%d household geometries are not points and are not drawn", len(households) - len(points))
    if not len(points):
        return
    xy = np.round(shapely.get_coordinates(points.geometry.values), 6)
    ids = points["household_id"].astype(str).to_numpy()
    colours = [HOUSEHOLD_COLOUR[p] for p in points["placement"].fillna("unplaced").astype(str)]
    # Properties: only the id for the tooltip.  The colour is looked up by feature id when folium
    # renders: it writes a switch on the ids of all but the most common colour.
    data = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "id": i, "properties": {"h": html_text(hid)},
         "geometry": {"type": "Point", "coordinates": [float(x), float(y)]}}
        for i, (hid, (x, y)) in enumerate(zip(ids, xy, strict=True))
    ]}
    folium.GeoJson(
        data, name=label("households", lang),
        marker=folium.CircleMarker(radius=HOUSEHOLD_RADIUS, weight=0.8, color="#ffffff", opacity=0.9,
                                   fill=True, fill_opacity=1.0),
        style_function=lambda feature: {"fillColor": colours[feature["id"]]},
        tooltip=folium.GeoJsonTooltip(fields=["h"], labels=False),
    ).add_to(m)


def add_depots(m: folium.Map, villages: gpd.GeoDataFrame, *, lang: str) -> None:
    """Village committees (``depot_lon``/``depot_lat``) as small red "村委" labels (DivIcons)."""
    if not len(villages):
        return
    group = folium.FeatureGroup(name=label("depot", lang))
    short = html_text(label("depot_short", lang))
    for row in villages.itertuples(index=False):
        folium.Marker(
            location=[float(row.depot_lat), float(row.depot_lon)],
            icon=folium.DivIcon(html=f'<div class="zd-depot">{short}</div>', icon_size=(0, 0),
                                class_name="zd-depot-icon"),
            tooltip=folium.Tooltip(f"{html_text(row.name)} {html_text(label('depot', lang))}"),
        ).add_to(group)
    group.add_to(m)


def overview_map(
    villages: gpd.GeoDataFrame,
    areas: gpd.GeoDataFrame,
    households: gpd.GeoDataFrame,
    roads: gpd.GeoDataFrame | None = None,
    *,
    lang: str = "zh",
    tiles: str | TileProvider | None = "none",
    title: str | None = None,
) -> folium.Map:
    """Return the overview map of ``villages`` (see the module docstring), fitted to the data.

    Layers (each can be switched in the layer control): village outlines (name tooltips), areas
    filled by kind (name and household count tooltips), roads, households coloured by placement
    (``in_area`` / ``attached`` / ``scattered``; household id tooltip), the village committees
    (depots) as red "村委" labels.  A legend with counts and a title box are added; ``title``
    defaults to the village names (up to three) and "驻点总览" / "Overview".  ``lang`` is ``"zh"``
    (default) or ``"en"``; ``tiles`` as in :func:`maps.offline.offline_map`.  Input GeoDataFrames
    with another CRS are reprojected to WGS 84.  Raises ``ValueError`` listing every missing column
    or unknown ``kind``/``placement``.
    """
    check_lang(lang)
    _check({"villages": villages, "areas": areas, "households": households, "roads": roads})
    villages = _wgs84(villages, "villages")
    areas = _wgs84(areas, "areas")
    households = _wgs84(households, "households")
    roads = _wgs84(roads, "roads") if roads is not None else None
    tiles = resolve_tiles(tiles)  # Gaode: every layer shifted to GCJ-02 (to_tile_datum)
    villages = to_tile_datum(villages, tiles, lonlat_columns=("depot_lon", "depot_lat"))
    areas = to_tile_datum(areas, tiles)
    households = to_tile_datum(households, tiles)
    roads = to_tile_datum(roads, tiles) if roads is not None else None

    village_shapes = _drawable(villages)
    area_shapes = _drawable(areas[areas["kind"] != "scattered"])
    household_points = _drawable(households)
    road_lines = _drawable(roads) if roads is not None else None
    depots = villages[pd.to_numeric(villages["depot_lon"], errors="coerce").notna()
                      & pd.to_numeric(villages["depot_lat"], errors="coerce").notna()]

    # Fit to everything drawn.
    boxes = [g.total_bounds for g in (village_shapes, area_shapes, household_points, road_lines)
             if g is not None and len(g)]
    if len(depots):
        lon, lat = depots["depot_lon"].astype(float), depots["depot_lat"].astype(float)
        boxes.append(np.array([lon.min(), lat.min(), lon.max(), lat.max()]))
    bounds = None
    if boxes:
        stack = np.vstack(boxes)
        bounds = (float(stack[:, 0].min()), float(stack[:, 1].min()),
                  float(stack[:, 2].max()), float(stack[:, 3].max()))

    names = [str(n) for n in villages["name"].dropna()]
    if title is None:
        title = label("overview_title", lang)
        if 0 < len(names) <= 3:
            title = f"{'、'.join(names) if lang == 'zh' else ', '.join(names)} · {title}"

    m = offline_map(bounds=bounds, tiles=tiles, lang=lang, title=title)
    add_areas(m, area_shapes, households["area_id"].value_counts(), lang=lang)
    network = add_roads(m, road_lines, lang=lang) if road_lines is not None else None
    add_village_outlines(m, village_shapes, lang=lang)
    add_households(m, household_points, lang=lang)
    add_depots(m, depots, lang=lang)
    short = html_text(label("depot_short", lang))

    # Title, legend, layer switch.
    HtmlControl(html_text(title), position="topright", class_name="zd-box zd-title").add_to(m)
    n_kind = area_shapes["kind"].value_counts()
    n_place = households["placement"].fillna("unplaced").value_counts()

    def fill_swatch(colour: str) -> str:
        r, g, b = (int(colour[i:i + 2], 16) for i in (1, 3, 5))
        return (f'<span class="zd-swatch" style="background:rgba({r},{g},{b},{AREA_FILL_OPACITY});'
                f'border:1px solid {colour}"></span>')

    rows = [
        (f'<span class="zd-swatch" style="border:2px dashed {VILLAGE_OUTLINE}"></span>',
         label("village", lang), str(len(villages))),
        (fill_swatch(AREA_FILL["natural_village"]), label("natural_village", lang),
         str(int(n_kind.get("natural_village", 0)))),
        (fill_swatch(AREA_FILL["compound"]), label("compound", lang), str(int(n_kind.get("compound", 0)))),
    ]
    if roads is not None:
        km = _road_km(network)
        rows.append((f'<span class="zd-line" style="border-top:2px solid {ROAD_COLOUR}"></span>',
                     label("road", lang), "" if math.isnan(km) else label("road_km", lang, km=km)))
    for placement in PLACEMENTS:
        n = int(n_place.get(placement, 0))
        if placement == "unplaced" and n == 0:
            continue
        rows.append((f'<span class="zd-dot" style="background:{HOUSEHOLD_COLOUR[placement]}"></span>',
                     label(_HOUSEHOLD_LABEL[placement], lang), str(n)))
    rows.append((f'<span class="zd-depot">{short}</span>', label("depot", lang), str(len(depots))))
    rows.append(("", label("households_total", lang), str(len(households))))
    HtmlControl(_legend_html(rows, lang), position="bottomright", class_name="zd-box zd-legend").add_to(m)
    folium.LayerControl(collapsed=True, position="topright").add_to(m)
    return m
