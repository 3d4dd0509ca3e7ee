"""Zone outlines: one polygon per zone, drawn around its households, following the settled land.

A zone (片区) is a set of households; the planner says which zone each household is in, and the
map and the ``--out`` GeoJSON need an outline for it.  :func:`zone_outlines` draws them:

1. Households are projected to the UTM zone of the data (:func:`geo.crs.utm_crs`).  Households at
   the same point (a compound's households usually share their building's point) are one *site*;
   a site belongs to the zone most of its households are in (ties: the zone that comes first).
   A site cannot be split between zones, so a household whose site went to another zone lies in
   that zone's outline, not its own: the ``households_outside`` column counts them and a warning
   is logged.
2. The Voronoi cells of the sites (``shapely.voronoi_polygons``) partition the plane: every point
   of it goes to the nearest site.
3. The cells are clipped to the *settled land*: the natural villages and compounds near the
   households (within ``pad_m``), grown by ``pad_m``, together with a disc of radius ``pad_m``
   around every household; holes in it smaller than ``(3 * pad_m)**2`` (courtyards, gaps between
   houses) are filled.  Outlines so follow the villages and do not spill into empty fields.
4. The clipped cells are dissolved by zone.  A piece of a zone that holds none of its sites (a
   corner of a cell cut off from its site by the clipping) is given to the zone it shares the
   longest border with, so ``parts`` counts real pieces of a zone: ``parts > 1`` means the zone's
   households are in separate places.

Outlines of different zones do not overlap (they are unions of disjoint cells; coordinates are
snapped to a 1 mm grid in UTM, so shared borders match exactly) and together cover the settled
land.  The result is in WGS 84.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Hashable, Sequence

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely
from shapely.geometry import box

from geo._shapes import polygonal
from geo.crs import utm_crs
from geo.layers import WGS84

logger = logging.getLogger(__name__)

SETTLED_KINDS = ("natural_village", "compound")
"""Area kinds whose polygons are settled land (the scattered-households area has no outline)."""

OUTLINE_COLUMNS = ["zone", "households", "households_outside", "area_m2", "parts", "geometry"]

_SITE_GRID_M = 0.01
"""Households closer than about this (metres, UTM) are one site: the same building point."""
_GRID_M = 0.001
"""Outline coordinates are snapped to this grid (metres, UTM) so neighbouring zones share borders."""
_HOLE_PAD_FACTOR = 3.0
"""Holes of the settled land smaller than ``(_HOLE_PAD_FACTOR * pad_m)**2`` are filled (1.44 ha at 40 m)."""
_MAX_PASSES = 5
"""Passes of moving site-less pieces to their neighbour (one is nearly always enough)."""


def zone_outlines(
    households: gpd.GeoDataFrame | gpd.GeoSeries,
    labels: Sequence[int | str] | npt.ArrayLike,
    *,
    areas: gpd.GeoDataFrame | None = None,
    pad_m: float = 40.0,
) -> gpd.GeoDataFrame:
    """Return one outline per zone around the households, clipped to the settled land.

    Parameters
    ----------
    households : GeoDataFrame or GeoSeries
        Household points (WGS 84, or any CRS set on the frame; without a CRS they are taken as
        WGS 84 if they look like longitude/latitude).
    labels : sequence of int or str
        The zone of each household, in the order of ``households``.  Zones are listed in sorted
        order (first-appearance order if the labels do not sort).
    areas : GeoDataFrame, optional
        Areas (:mod:`geo.layers` columns; only ``geometry`` and, if present, ``kind`` are used).
        Polygons of kind ``natural_village`` or ``compound`` within ``pad_m`` of a household are
        part of the settled land; areas of other kinds, far away or without geometry are ignored.
        Without areas the settled land is the households' discs only.
    pad_m : float, default 40
        Metres: the settled land reaches this far beyond the areas and around each household.

    Returns
    -------
    GeoDataFrame
        One row per zone, in WGS 84, columns ``zone`` (the label), ``households`` (its number of
        households), ``households_outside`` (how many of them share a site with households of
        another zone and so lie in that zone's outline; usually 0), ``area_m2`` (outline area,
        square metres in UTM), ``parts`` (number of polygons of the outline; 0 only if the zone
        lost all its sites, see above) and ``geometry`` (valid Polygon or MultiPolygon).

    Raises
    ------
    ValueError
        Listing every problem at once: no households, a label count that does not match, missing
        labels, geometries that are not points, a non-positive ``pad_m``, areas without CRS
        that are not longitude/latitude.
    """
    points = _household_points(households, labels, pad_m)
    zone_values = _zone_order(list(labels))
    index_of = {z: i for i, z in enumerate(zone_values)}
    zone_of = np.fromiter((index_of[z] for z in labels), dtype=np.int64, count=len(points))
    n_zones = len(zone_values)

    xy = shapely.get_coordinates(points)
    crs = utm_crs(xy[:, 0], xy[:, 1])
    xy = shapely.get_coordinates(gpd.GeoSeries(points, crs=WGS84).to_crs(crs).values)

    # Sites: households at the same point; each belongs to the zone most of its households are in.
    sites_xy, site_of = np.unique(np.round(xy / _SITE_GRID_M) * _SITE_GRID_M, axis=0, return_inverse=True)
    site_of = site_of.ravel()
    counts = np.zeros((len(sites_xy), n_zones), dtype=np.int64)
    np.add.at(counts, (site_of, zone_of), 1)
    site_zone = counts.argmax(axis=1)  # ties: the first zone in order
    outside = zone_of != site_zone[site_of]
    households_outside = np.bincount(zone_of[outside], minlength=n_zones)
    if outside.any():
        logger.warning(
            "%d household(s) share a building point with households of another zone and are drawn "
            "in that zone's outline (zones %s)", int(outside.sum()),
            ", ".join(str(zone_values[z]) for z in np.flatnonzero(households_outside)))

    sites = shapely.points(sites_xy)
    mask = _settled_land(sites, areas, crs, pad_m)
    minx, miny, maxx, maxy = mask.bounds
    extent = box(minx - pad_m, miny - pad_m, maxx + pad_m, maxy + pad_m)
    cells = shapely.get_parts(shapely.voronoi_polygons(shapely.multipoints(sites), extend_to=extent, ordered=True))
    if len(cells) != len(sites):  # ordered=True gives one cell per site, in order
        raise RuntimeError(f"Voronoi diagram has {len(cells)} cells for {len(sites)} sites.")
    cells = shapely.set_precision(shapely.intersection(cells, mask), _GRID_M)

    outlines = [_polygonal(shapely.union_all(cells[site_zone == z])) for z in range(n_zones)]
    outlines = _give_away_siteless_parts(outlines, sites, site_zone)
    lost = [str(zone_values[z]) for z in range(n_zones) if outlines[z].is_empty]
    if lost:
        logger.warning("zone(s) %s have no outline: all their households share building points "
                       "with households of other zones", ", ".join(lost))

    metric = gpd.GeoSeries(outlines, crs=crs)
    geoms = gpd.GeoSeries(metric.to_crs(WGS84).values, crs=WGS84)
    geoms = gpd.GeoSeries([_polygonal(shapely.make_valid(g)) for g in geoms.values], crs=WGS84)
    return gpd.GeoDataFrame(
        {
            "zone": pd.Series(zone_values),
            "households": np.bincount(zone_of, minlength=n_zones).astype(np.int64),
            "households_outside": households_outside.astype(np.int64),
            "area_m2": metric.area.to_numpy(),
            "parts": np.array([_n_parts(g) for g in outlines], dtype=np.int64),
        },
        geometry=geoms.values,
        crs=WGS84,
    )[OUTLINE_COLUMNS]


# --------------------------------------------------------------------------------------------


def _household_points(households, labels, pad_m: float) -> np.ndarray:
    """Validate the inputs; return the household points in WGS 84 (array of shapely Points)."""
    problems: list[str] = []
    if not isinstance(households, gpd.GeoDataFrame | gpd.GeoSeries):
        raise ValueError(f"households must be a GeoDataFrame or GeoSeries, got {type(households).__name__}.")
    if not (isinstance(pad_m, int | float) and math.isfinite(pad_m) and pad_m > 0):
        problems.append(f"pad_m must be a positive number of metres, got {pad_m!r}")
    geoms = households.geometry if isinstance(households, gpd.GeoDataFrame) else households
    n = len(geoms)
    if n == 0:
        problems.append("there are no households: a zone outline needs at least one")
    try:
        n_labels = len(labels)
    except TypeError:
        n_labels = -1
    if n_labels != n:
        problems.append(f"labels has {n_labels if n_labels >= 0 else 'no'} entries for {n} households: "
                        f"give one zone label per household, in the same order")
    else:
        missing = [i for i, z in enumerate(labels) if _is_missing(z)]
        if missing:
            problems.append(f"{len(missing)} household(s) have no zone label (rows {_rows(missing)})")
        unhashable = [i for i, z in enumerate(labels) if not isinstance(z, Hashable)]
        if unhashable:
            problems.append(f"zone labels must be int or str (rows {_rows(unhashable)})")
    bad = np.flatnonzero(geoms.isna().to_numpy() | ~(geoms.geom_type == "Point").to_numpy()
                         | geoms.is_empty.to_numpy()) if n else np.array([], dtype=int)
    if len(bad):
        problems.append(f"{len(bad)} household geometries are not points (rows {_rows(bad.tolist())}): "
                        f"give every household a point")
    if problems:
        raise ValueError("Cannot draw zone outlines:\n- " + "\n- ".join(problems))
    geoms = _to_wgs84(geoms, "households")
    xy = shapely.get_coordinates(geoms.values)
    if not np.isfinite(xy).all():
        raise ValueError("Cannot draw zone outlines:\n- some household coordinates are not finite numbers")
    return shapely.force_2d(geoms.values)


def _is_missing(value: object) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):  # not a scalar
        return False


def _rows(rows: list[int], limit: int = 10) -> str:
    shown = ", ".join(str(r) for r in rows[:limit])
    return shown + (f" and {len(rows) - limit} more" if len(rows) > limit else "")


def _to_wgs84(geoms: gpd.GeoSeries, name: str) -> gpd.GeoSeries:
    if geoms.crs is None:
        drawn = geoms[geoms.notna() & ~geoms.is_empty]
        if len(drawn):
            minx, miny, maxx, maxy = drawn.total_bounds
            if minx < -180 or maxx > 180 or miny < -90 or maxy > 90:
                raise ValueError(f"{name} have no CRS and their coordinates are not longitude/latitude: "
                                 f"set their CRS (gdf.set_crs(...)) so they can be reprojected.")
        return geoms.set_crs(WGS84)
    return geoms if geoms.crs.equals(WGS84) else geoms.to_crs(WGS84)


def _zone_order(labels: list) -> list:
    """Distinct labels, sorted if they sort, else in order of first appearance."""
    distinct = list(dict.fromkeys(labels))
    try:
        return sorted(distinct)
    except TypeError:
        return distinct


def _settled_land(sites: np.ndarray, areas: gpd.GeoDataFrame | None, crs, pad_m: float):
    """Union of the households' discs and the nearby settled areas, both grown by ``pad_m`` (UTM)."""
    parts = [shapely.buffer(sites, pad_m)]
    if areas is not None and len(areas):
        shapes = areas
        if "kind" in areas.columns:
            shapes = areas[areas["kind"].isin(SETTLED_KINDS)]
        geoms = shapes.geometry
        geoms = geoms[geoms.notna() & ~geoms.is_empty]
        if len(geoms):
            metric = _to_wgs84(geoms, "areas").to_crs(crs).values
            metric = shapely.make_valid(metric)
            metric = metric[np.isin(shapely.get_type_id(metric), (3, 6, 7))]  # (Multi)Polygon, collection
            near = shapely.STRtree(metric).query(sites, predicate="dwithin", distance=pad_m)[1]
            near = np.unique(near)
            if len(near):
                parts.append(shapely.buffer(metric[near], pad_m))
    land = _polygonal(shapely.union_all(np.concatenate(parts)))
    return _fill_small_holes(land, (_HOLE_PAD_FACTOR * pad_m) ** 2)


def _fill_small_holes(geom, max_hole_m2: float):
    """``geom`` without its holes smaller than ``max_hole_m2`` (courtyards, gaps between houses)."""
    polys = []
    for poly in shapely.get_parts(geom):
        holes = [ring for ring in poly.interiors if shapely.Polygon(ring).area >= max_hole_m2]
        polys.append(shapely.Polygon(poly.exterior, holes))
    return polys[0] if len(polys) == 1 else shapely.MultiPolygon(polys)


def _polygonal(geom):
    """The polygons of ``geom``; an empty Polygon when it has none."""
    return polygonal(geom) or shapely.Polygon()


def _n_parts(geom) -> int:
    return 0 if geom.is_empty else int(shapely.get_num_geometries(geom))


def _give_away_siteless_parts(outlines: list, sites: np.ndarray, site_zone: np.ndarray) -> list:
    """Move every piece of a zone without a site of that zone to the zone sharing most border with it."""
    outlines = list(outlines)
    for _ in range(_MAX_PASSES):
        moved = False
        for z, outline in enumerate(outlines):
            if _n_parts(outline) < 2:
                continue
            pieces = shapely.get_parts(outline)
            own = sites[site_zone == z]
            has_site = np.array([shapely.intersects(piece, own).any() for piece in pieces])
            if has_site.all():
                continue
            keep = list(pieces[has_site])
            for piece in pieces[~has_site]:
                border = np.array([
                    0.0 if other == z or outlines[other].is_empty
                    else shapely.length(shapely.intersection(piece.boundary, outlines[other]))
                    for other in range(len(outlines))
                ])
                target = int(border.argmax())
                if border[target] <= _GRID_M:  # an island: it stays with its zone
                    keep.append(piece)
                    continue
                outlines[target] = _polygonal(shapely.set_precision(
                    shapely.union(outlines[target], piece), _GRID_M))
                moved = True
            outlines[z] = _polygonal(shapely.union_all(keep)) if keep else shapely.Polygon()
        if not moved:
            break
    return outlines
