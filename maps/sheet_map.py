"""Static map pictures for the printed sheets, drawn with matplotlib as SVG (vector, no tiles).

Pure functions: metric GeoDataFrames and coordinates in (all in one projected CRS, metres, e.g. the
village's UTM zone from :func:`geo.crs.utm_crs`), SVG bytes out.  :mod:`maps.sheets` places the
SVG on the PDF page with fpdf2, which turns it into PDF vector paths.  Text in these pictures
(stop numbers, area names, the depot) is drawn as outlines of the CJK face given by
``font_family``; the searchable text of a sheet (title, table) is written by :mod:`maps.sheets`.

Sizes are in millimetres on paper; the map scale follows from the extent and the frame size.
"""

from __future__ import annotations

import io
import logging
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import shapely

from maps.i18n import label

logger = logging.getLogger(__name__)

MM_PER_INCH = 25.4
PT_PER_MM = 72 / MM_PER_INCH
ROAD_COLOUR = "#a6a6a6"
MAJOR_ROAD_COLOUR = "#8c8c8c"
MAJOR_ROADS = frozenset({"motorway", "trunk", "primary", "secondary", "tertiary"})
AREA_EDGE = "#555555"
PATH_COLOUR = "#c0392b"
DEPOT_COLOUR = "#111111"
STOP_DIAMETER_MM = 3.8
HOUSEHOLD_DOT_MM = 1.3
"""Diameter of a household dot on the zone map, mm."""
SIMPLIFY_MM = 0.15
"""Lines are simplified to this tolerance on paper (mm) before drawing: invisible, but far fewer points."""
_NICE_M = (20, 50, 100, 200, 250, 500, 1000, 2000, 2500, 5000, 10000, 20000)


@dataclass(frozen=True)
class Extent:
    """A map window in metres (projected CRS) with the frame's aspect ratio."""

    minx: float
    miny: float
    maxx: float
    maxy: float

    @property
    def width(self) -> float:
        return self.maxx - self.minx

    @property
    def height(self) -> float:
        return self.maxy - self.miny

    def box(self) -> shapely.Polygon:
        return shapely.box(self.minx, self.miny, self.maxx, self.maxy)


def fit_extent(bounds: Sequence[float], width_mm: float, height_mm: float, *, pad: float = 0.08,
               min_span_m: float = 300.0) -> Extent:
    """The window around ``bounds`` (minx, miny, maxx, maxy in metres) with the frame's aspect.

    ``pad`` is the share of the span added on each side; the window is at least ``min_span_m``
    wide and high (a single house does not fill the page).

    Raises
    ------
    ValueError
        If the bounds are not finite or the frame has no area.
    """
    minx, miny, maxx, maxy = map(float, bounds)
    if not all(map(math.isfinite, (minx, miny, maxx, maxy))) or width_mm <= 0 or height_mm <= 0:
        raise ValueError(f"Cannot fit a map to bounds {tuple(bounds)} in a {width_mm} x {height_mm} mm frame: "
                         "give finite bounds (metres) and a frame larger than 0 mm.")
    cx, cy = (minx + maxx) / 2, (miny + maxy) / 2
    w = max((maxx - minx) * (1 + 2 * pad), min_span_m)
    h = max((maxy - miny) * (1 + 2 * pad), min_span_m)
    aspect = width_mm / height_mm
    if w / h > aspect:
        h = w / aspect
    else:
        w = h * aspect
    return Extent(cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)


def _figure(width_mm: float, height_mm: float, extent: Extent):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width_mm / MM_PER_INCH, height_mm / MM_PER_INCH))
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(extent.minx, extent.maxx)
    ax.set_ylim(extent.miny, extent.maxy)
    ax.set_aspect("equal", adjustable="box")
    ax.set_axis_off()
    return fig, ax


def _svg(fig) -> bytes:
    import matplotlib

    buf = io.BytesIO()
    with matplotlib.rc_context({"svg.fonttype": "path", "svg.hashsalt": "zhudian", "svg.image_inline": True}):
        fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None})
    # fpdf2 does not read <metadata> (and logs a warning for each): leave it out
    return re.sub(rb"<metadata>.*?</metadata>\s*", b"", buf.getvalue(), count=1, flags=re.S)


def _clip(gdf: gpd.GeoDataFrame | None, extent: Extent) -> gpd.GeoDataFrame | None:
    """The rows meeting the window, cut to it (smaller SVG, nothing outside the frame)."""
    if gdf is None or not len(gdf):
        return None
    geoms = gdf.geometry.values
    keep = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    keep &= shapely.intersects(geoms, extent.box())
    if not keep.any():
        return None
    sub = gdf[keep].copy()
    sub = sub.set_geometry(shapely.clip_by_rect(sub.geometry.values, extent.minx, extent.miny, extent.maxx,
                                                extent.maxy))
    return sub[~shapely.is_empty(sub.geometry.values)]


def geometry_path(geoms: Sequence[shapely.Geometry] | npt.NDArray[np.object_], *, tolerance: float = 0.0):
    """One matplotlib ``Path`` holding every line and polygon ring of ``geoms`` (same units).

    One compound path per layer keeps the SVG (and the PDF built from it) small and fast to
    convert: thousands of road segments become one ``<path>``.  Polygon rings are oriented
    exterior counter-clockwise, holes clockwise, so a filled path leaves the holes empty.
    ``tolerance`` > 0 simplifies the geometry first (same units; e.g. a quarter millimetre on
    paper).  Returns None when there is nothing to draw.
    """
    from matplotlib.path import Path as MplPath

    arr = np.asarray(geoms, dtype=object).reshape(-1)
    if not len(arr):
        return None
    arr = arr[~(shapely.is_missing(arr) | shapely.is_empty(arr))]
    if tolerance > 0:
        arr = shapely.simplify(arr, tolerance, preserve_topology=True)
    parts = shapely.get_parts(arr)
    kinds = shapely.get_type_id(parts)
    polys = parts[kinds == 3]
    lines = parts[(kinds == 1) | (kinds == 2)]
    pieces = [lines]
    if len(polys):
        pieces.append(shapely.get_rings(shapely.orient_polygons(polys)))
    rings = np.concatenate(pieces) if len(pieces) > 1 else pieces[0]
    if not len(rings):
        return None
    xy, idx = shapely.get_coordinates(rings, return_index=True)
    if not len(xy):
        return None
    codes = np.full(len(xy), MplPath.LINETO, dtype=np.uint8)
    codes[np.r_[True, idx[1:] != idx[:-1]]] = MplPath.MOVETO
    return MplPath(xy, codes)


def _draw(ax, geoms, *, tolerance: float, zorder: float, edge: str | None = None, width: float = 0.5,
          fill: str | None = None, alpha: float = 1.0, dashes: tuple | None = None) -> None:
    from matplotlib.patches import PathPatch

    path = geometry_path(geoms, tolerance=tolerance)
    if path is None:
        return
    patch = PathPatch(path, facecolor=fill if fill is not None else "none", edgecolor=edge or "none",
                      linewidth=width if edge else 0, alpha=alpha, zorder=zorder, capstyle="round",
                      joinstyle="round", fill=fill is not None)
    if dashes is not None:
        patch.set_linestyle(dashes)
    ax.add_artist(patch)  # not add_patch: no data-limit update (walks every curve), the window is fixed


def _draw_roads(ax, roads: gpd.GeoDataFrame | None, *, tolerance: float, scale: float = 1.0) -> None:
    if roads is None:
        return
    major = roads["highway"].isin(MAJOR_ROADS).to_numpy() if "highway" in roads.columns else np.zeros(len(roads), bool)
    geoms = roads.geometry.values
    _draw(ax, geoms[~major], tolerance=tolerance, zorder=2, edge=ROAD_COLOUR, width=0.45 * scale)
    _draw(ax, geoms[major], tolerance=tolerance, zorder=2, edge=MAJOR_ROAD_COLOUR, width=1.0 * scale)


def _halo(width: float = 2.2):
    from matplotlib import patheffects

    return [patheffects.withStroke(linewidth=width, foreground="white")]


def _area_names(ax, areas: gpd.GeoDataFrame | None, extent: Extent, *, family: str, size: float) -> None:
    """Area names at a point inside each area (within the window)."""
    if areas is None or "name" not in areas.columns:
        return
    inner = shapely.buffer(extent.box(), -0.04 * min(extent.width, extent.height))
    for name, geom in zip(areas["name"], areas.geometry.values):
        if not name or geom is None or geom.is_empty:
            continue
        p = shapely.point_on_surface(geom)
        if not inner.contains(p):
            continue
        ax.text(p.x, p.y, str(name), ha="center", va="center", fontsize=size, color="#333333", family=family,
                zorder=4, path_effects=_halo())


def _depot(ax, xy: tuple[float, float] | None, *, family: str, lang: str, text: str, size: float = 7.0) -> None:
    if xy is None:
        return
    ax.scatter([xy[0]], [xy[1]], marker="s", s=42, c=DEPOT_COLOUR, edgecolors="white", linewidths=0.8, zorder=8)
    ax.annotate(text, xy, xytext=(5, -5), textcoords="offset points", ha="left", va="top", fontsize=size,
                family=family, weight="bold", color=DEPOT_COLOUR, zorder=9, path_effects=_halo())


def _scale_bar(ax, extent: Extent, width_mm: float, *, family: str, lang: str) -> None:
    """A scale bar about a fifth of the frame wide, bottom left, and a north arrow top right."""
    target = extent.width / 5
    length = max([n for n in _NICE_M if n <= target] or [_NICE_M[0]])
    x0 = extent.minx + extent.width * 0.03
    y0 = extent.miny + extent.height * 0.04
    tick = extent.height * 0.012
    ax.plot([x0, x0 + length], [y0, y0], color="#222222", linewidth=1.6, solid_capstyle="butt", zorder=10)
    ax.plot([x0, x0], [y0 - tick, y0 + tick], color="#222222", linewidth=0.8, zorder=10)
    ax.plot([x0 + length, x0 + length], [y0 - tick, y0 + tick], color="#222222", linewidth=0.8, zorder=10)
    text = label("scale_km", lang, km=length / 1000) if length >= 1000 else label("scale_m", lang, m=length)
    ax.text(x0 + length / 2, y0 + tick * 1.6, text, ha="center", va="bottom", fontsize=6.5, family=family, color="#222222",
            zorder=10, path_effects=_halo())
    xn, yn = extent.maxx - extent.width * 0.03, extent.maxy - extent.height * 0.05
    ax.annotate("", xy=(xn, yn), xytext=(xn, yn - extent.height * 0.08),
                arrowprops={"arrowstyle": "-|>", "color": "#222222", "linewidth": 1.0}, zorder=10)
    ax.text(xn, yn - extent.height * 0.095, label("north", lang), ha="center", va="top", fontsize=7, family=family,
            color="#222222",
            weight="bold", zorder=10, path_effects=_halo())


def _place_labels(xy: npt.NDArray[np.float64], min_dist: float) -> npt.NDArray[np.float64]:
    """Label positions near ``xy`` (same units) at least ``min_dist`` apart where possible.

    Points are taken in order; a label that would overlap one already placed moves out to the
    first free position on rings of 1.15, 2.2 and 3.3 ``min_dist`` around its point.
    """
    placed: list[npt.NDArray[np.float64]] = []
    out = np.array(xy, dtype=np.float64, copy=True)
    angles = np.deg2rad(np.arange(0, 360, 30) + 15)
    for i, p in enumerate(xy):
        candidates = [p] + [p + r * min_dist * np.array([np.cos(a), np.sin(a)])
                            for r in (1.15, 2.2, 3.3) for a in angles]
        best = candidates[0]
        for c in candidates:
            if all(np.hypot(*(c - q)) >= min_dist for q in placed) and \
                    all(np.hypot(*(c - q)) >= 0.55 * min_dist for j, q in enumerate(xy) if j != i):
                best = c
                break
        placed.append(best)
        out[i] = best
    return out


def route_map_svg(
    *,
    width_mm: float,
    height_mm: float,
    stops_xy: npt.ArrayLike,
    depot_xy: tuple[float, float] | None,
    path: shapely.Geometry | None = None,
    areas: gpd.GeoDataFrame | None = None,
    roads: gpd.GeoDataFrame | None = None,
    zone_outline: shapely.Geometry | None = None,
    zone_colour: str = "#4e79a7",
    font_family: str = "Noto Sans CJK SC",
    lang: str = "zh",
    depot_text: str | None = None,
) -> bytes:
    """The route map of one session: path along the roads, numbered stops, depot, areas, roads.

    Parameters
    ----------
    width_mm, height_mm : float
        Frame size on paper, millimetres.
    stops_xy : array (n, 2)
        Stop positions in visit order, metres (the sheet's CRS); numbered 1..n.
    depot_xy : (x, y) or None
        Where the walk starts and ends (the village committee unless ``depot_text`` says).
    depot_text : str, optional
        The label of that point when it is not the village committee (e.g. ``外点 Malbun``).
    path : LineString, optional
        The walking line depot -> stops -> depot (e.g. :func:`geo.routes.route_lines`, projected).
    areas : GeoDataFrame, optional
        Natural villages / compounds (``name``, polygon geometry) in the same CRS.
    roads : GeoDataFrame, optional
        Road lines (``highway`` optional: major roads are drawn wider).
    zone_outline : geometry, optional
        The group's zone, shaded lightly in ``zone_colour`` (the zone map's colour).
    font_family : str
        A family matplotlib knows (see :func:`maps.fonts.matplotlib_family`).
    lang : {"zh", "en"}

    Returns
    -------
    bytes
        An SVG document of the given size.

    Raises
    ------
    ValueError
        If there is nothing to draw (no stops and no depot) or the frame has no area.
    """
    xy = np.asarray(stops_xy, dtype=np.float64).reshape(-1, 2)
    pts = np.vstack([xy, [depot_xy]]) if depot_xy is not None else xy
    if not len(pts):
        raise ValueError("route_map_svg: nothing to draw: give at least one stop or the depot.")
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    if path is not None and not path.is_empty:
        b = path.bounds
        lo, hi = np.minimum(lo, b[:2]), np.maximum(hi, b[2:])
    extent = fit_extent((*lo, *hi), width_mm, height_mm)
    fig, ax = _figure(width_mm, height_mm, extent)
    m_per_mm = extent.width / width_mm
    tol = SIMPLIFY_MM * m_per_mm

    if zone_outline is not None and not zone_outline.is_empty:
        zone = shapely.clip_by_rect(zone_outline, extent.minx, extent.miny, extent.maxx, extent.maxy)
        _draw(ax, [zone], tolerance=tol, zorder=1, fill=zone_colour, alpha=0.13)
        _draw(ax, [zone.boundary], tolerance=tol, zorder=1.5, edge=zone_colour, width=1.0, alpha=0.7)
    _draw_roads(ax, _clip(roads, extent), tolerance=tol)
    clipped_areas = _clip(areas, extent)
    if clipped_areas is not None:
        _draw(ax, shapely.boundary(clipped_areas.geometry.values), tolerance=tol, zorder=3, edge=AREA_EDGE,
              width=0.5, dashes=(0, (4, 2)))
        _area_names(ax, clipped_areas, extent, family=font_family, size=6.5)
    if path is not None and not path.is_empty:
        _draw(ax, [path], tolerance=tol / 2, zorder=5, edge=PATH_COLOUR, width=1.6, alpha=0.85)
    if len(xy):
        label_xy = _place_labels(xy, STOP_DIAMETER_MM * 1.05 * m_per_mm)
        moved = np.hypot(*(label_xy - xy).T) > 1e-6
        for (x0, y0), (x1, y1) in zip(xy[moved], label_xy[moved]):
            ax.plot([x0, x1], [y0, y1], color="#333333", linewidth=0.4, zorder=6)
        ax.scatter(xy[:, 0], xy[:, 1], s=4, c="#333333", linewidths=0, zorder=6)
        diameter_pt = STOP_DIAMETER_MM * PT_PER_MM
        ax.scatter(label_xy[:, 0], label_xy[:, 1], s=diameter_pt ** 2, c="white", edgecolors=PATH_COLOUR,
                   linewidths=1.0, zorder=7)
        for k, (x, y) in enumerate(label_xy, start=1):
            ax.text(x, y, str(k), ha="center", va="center_baseline", fontsize=5.5 if k < 100 else 4.5,
                    family=font_family, weight="bold", color="#111111", zorder=8)
    _depot(ax, depot_xy, family=font_family, lang=lang, text=depot_text or label("depot_start_end", lang))
    _scale_bar(ax, extent, width_mm, family=font_family, lang=lang)
    return _svg(fig)


def zone_map_svg(
    *,
    width_mm: float,
    height_mm: float,
    zones: gpd.GeoDataFrame,
    households: gpd.GeoDataFrame,
    depot_xy: tuple[float, float] | None,
    areas: gpd.GeoDataFrame | None = None,
    roads: gpd.GeoDataFrame | None = None,
    font_family: str = "Noto Sans CJK SC",
    lang: str = "zh",
) -> bytes:
    """The wall map of a village's zones (分片走访地图) without legend (the page draws it).

    Parameters
    ----------
    width_mm, height_mm : float
        Frame size on paper, millimetres.
    zones : GeoDataFrame
        One row per zone: ``colour`` (``#rrggbb``), ``name`` (the group's short name, drawn on
        the zone), polygon geometry (may be missing), metres.
    households : GeoDataFrame
        Points with ``colour`` (their zone's; grey for none), metres.
    depot_xy : (x, y) or None
        The village committee.
    areas, roads : GeoDataFrame, optional
        As in :func:`route_map_svg`.
    font_family, lang : as in :func:`route_map_svg`.

    Returns
    -------
    bytes
        An SVG document of the given size.

    Raises
    ------
    ValueError
        If there are neither households nor zone outlines to fit the map to.
    """
    from maps.zones import darker

    shapes = [g for g in zones.geometry.values if g is not None and not g.is_empty]
    pts = households[~households.geometry.is_empty & households.geometry.notna()]
    bounds = [shapely.total_bounds(np.asarray(shapes, dtype=object))] if shapes else []
    if len(pts):
        bounds.append(pts.total_bounds)
    if not bounds:
        raise ValueError("zone_map_svg: nothing to fit the map to: no zone outlines and no households.")
    b = np.vstack(bounds)
    extent = fit_extent((*b[:, :2].min(axis=0), *b[:, 2:].max(axis=0)), width_mm, height_mm, pad=0.03)
    fig, ax = _figure(width_mm, height_mm, extent)
    tol = SIMPLIFY_MM * extent.width / width_mm
    drawable = zones[zones.geometry.notna() & ~zones.geometry.is_empty]
    for colour, geom in zip(drawable["colour"], drawable.geometry.values):
        _draw(ax, [geom], tolerance=tol, zorder=1, fill=colour, alpha=0.30)
        _draw(ax, [geom.boundary], tolerance=tol, zorder=1.5, edge=darker(colour), width=1.4)
    _draw_roads(ax, _clip(roads, extent), tolerance=tol, scale=1.2)
    clipped_areas = _clip(areas, extent)
    if clipped_areas is not None:
        _draw(ax, shapely.boundary(clipped_areas.geometry.values), tolerance=tol, zorder=3, edge=AREA_EDGE,
              width=0.7, dashes=(0, (5, 2)))
    if len(pts):
        radius = HOUSEHOLD_DOT_MM / 2 * extent.width / width_mm
        for colour, group in pts.groupby("colour", sort=True):
            dots = shapely.buffer(group.geometry.values, radius, quad_segs=2)
            _draw(ax, dots, tolerance=0, zorder=5, fill=colour, edge=darker(colour), width=0.35)
    if clipped_areas is not None:
        _area_names(ax, clipped_areas, extent, family=font_family, size=9)
    for name, colour, geom in zip(drawable["name"], drawable["colour"], drawable.geometry.values):
        p = shapely.point_on_surface(geom)
        ax.text(p.x, p.y, str(name), ha="center", va="center", fontsize=13, weight="bold", family=font_family,
                color=darker(colour, 0.5), zorder=7,
                bbox={"boxstyle": "round,pad=0.3", "facecolor": "white", "edgecolor": darker(colour), "alpha": 0.9,
                      "linewidth": 1.5})
    _depot(ax, depot_xy, family=font_family, lang=lang, text=label("depot", lang), size=10)
    _scale_bar(ax, extent, width_mm, family=font_family, lang=lang)
    return _svg(fig)
