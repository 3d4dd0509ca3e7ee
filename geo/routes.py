"""Route geometries and exports: walking lines along the roads, GeoJSON and GPX for phones.

A route is one session of one "2+1" group: an ordered list of stops (households) that starts and
ends at a depot (the village committee office, 村委会).  This module turns routes into geometry
(:func:`route_lines`, :func:`route_legs`, :func:`route_stops`) and files (:func:`write_geojson`,
:func:`write_gpx`).

Geometry
    Each route is cut into legs (depot -> stop 1 -> ... -> stop n -> depot).  All legs of all routes
    are solved together with :meth:`geo.network.WalkNetwork.paths` in the UTM zone of the routes'
    points (:func:`geo.crs.utm_crs`), so a leg goes straight from a household to its snap point on
    the nearest road, along the roads, and straight to the next household.  Where there are no roads
    (``roads`` is None or empty), a household is farther than ``max_snap_m`` from every road, or two
    points are in different network components, the leg is the straight segment.  ``walk_m`` is the
    length of the drawn line in metres (UTM), *not* multiplied by the detour factor that the
    planner's matrices apply to straight-line fallbacks.

Files
    Both writers are atomic (a temporary file in the same folder, then ``os.replace``), write UTF-8
    with Chinese text as is, and round coordinates to 7 decimals (about 1 cm).  The GPX is GPX 1.1
    built with :mod:`xml.etree.ElementTree` (text is escaped; characters XML 1.0 forbids are
    dropped), children in the order the GPX 1.1 schema requires: ``metadata``, ``wpt`` (one per stop,
    named ``"序号. 户编号"``), ``rte`` (one per route, its stops in order), ``trk`` (one per route, the
    walking line as one ``trkseg``).
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas
import numpy as np
import numpy.typing as npt
import pandas as pd
import pyproj
import shapely

from geo.atomic import write_atomic
from geo.crs import utm_crs
from geo.layers import WGS84
from geo.network import WalkNetwork

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]

GPX_NS = "http://www.topografix.com/GPX/1/1"
GPX_SCHEMA = "http://www.topografix.com/GPX/1/1/gpx.xsd"
CREATOR = "Zhudian"
DEPOT_ID = "depot"
"""``from_id`` / ``to_id`` of a leg end at the depot in :func:`route_legs`."""

_TIME = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
_XML_BAD = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_DECIMALS = 7

ROUTE_COLUMNS = ["route_id", "name", "date", "n_stops", "walk_m", "geometry"]
LEG_COLUMNS = ["route_id", "leg", "from_id", "to_id", "walk_m", "straight_m", "geometry"]
STOP_COLUMNS = ["route_id", "seq", "household_id", "arrive", "depart", "label", "geometry"]


# ---------------------------------------------------------------------- types


def _check_lonlat(lon: float, lat: float, what: str) -> None:
    if not (math.isfinite(lon) and math.isfinite(lat) and -180.0 <= lon <= 180.0
            and -90.0 <= lat <= 90.0):
        raise ValueError(f"{what}: expected WGS 84 longitude/latitude in degrees, "
                         f"got lon={lon!r}, lat={lat!r}.")


def _check_time(value: str, what: str) -> None:
    if not isinstance(value, str) or not _TIME.match(value):
        raise ValueError(f"{what}: expected a time \"HH:MM\" (00:00-23:59), got {value!r}.")


@dataclass(frozen=True)
class RouteStop:
    """One planned visit of a route.

    ``lon``/``lat`` are WGS 84 degrees; ``arrive``/``depart`` are local times ``"HH:MM"``; ``seq``
    is the visit's number in the route (shown as ``"seq. household_id"`` in the GPX); ``label`` is
    an optional text for the field team, e.g. the address.
    """

    household_id: str
    lon: float
    lat: float
    arrive: str
    depart: str
    seq: int
    label: str | None = None

    def __post_init__(self) -> None:
        what = f"stop {self.household_id!r}"
        if not isinstance(self.household_id, str) or not self.household_id:
            raise ValueError(f"{what}: household_id must be a non-empty string.")
        _check_lonlat(self.lon, self.lat, what)
        _check_time(self.arrive, f"{what} arrive")
        _check_time(self.depart, f"{what} depart")


@dataclass(frozen=True)
class RouteSpec:
    """One route: stops in visiting order, from and back to the depot.

    ``stops`` are visited in list order; their ``seq`` must increase along the list.  ``date`` is
    the session's date (``"YYYY-MM-DD"``), ``start``/``end`` its local times ``"HH:MM"``.
    """

    route_id: str
    name: str
    date: str
    depot_lon: float
    depot_lat: float
    stops: list[RouteStop]
    start: str
    end: str

    def __post_init__(self) -> None:
        what = f"route {self.route_id!r}"
        if not isinstance(self.route_id, str) or not self.route_id:
            raise ValueError(f"{what}: route_id must be a non-empty string.")
        _check_lonlat(self.depot_lon, self.depot_lat, f"{what} depot")
        _check_time(self.start, f"{what} start")
        _check_time(self.end, f"{what} end")
        seqs = [s.seq for s in self.stops]
        if any(b <= a for a, b in zip(seqs, seqs[1:])):
            raise ValueError(f"{what}: stop seq must increase along the list (the visiting "
                             f"order), got {seqs}.")

    def points(self) -> FloatArray:
        """Lon/lat of depot, stops, depot: shape (n_stops + 2, 2)."""
        depot = (self.depot_lon, self.depot_lat)
        return np.array([depot, *[(s.lon, s.lat) for s in self.stops], depot], dtype=np.float64)


# ---------------------------------------------------------------------- geometry


def _check_routes(routes: Sequence[RouteSpec]) -> list[RouteSpec]:
    routes = list(routes)
    counts = Counter(r.route_id for r in routes)
    dup = sorted(rid for rid, n in counts.items() if n > 1)
    if dup:
        raise ValueError(f"route_id must be unique; repeated: {', '.join(dup)}.")
    return routes


def routes_crs(routes: Sequence[RouteSpec]) -> pyproj.CRS:
    """The UTM CRS of the routes' points (depots and stops), used for all route geometry."""
    xy = np.vstack([r.points() for r in routes]) if routes else np.empty((0, 2))
    return utm_crs(xy[:, 0], xy[:, 1])


def _legs_metric(
    routes: list[RouteSpec],
    roads: geopandas.GeoDataFrame | None,
    network: WalkNetwork | None,
    crs: pyproj.CRS | None,
) -> tuple[list[list[shapely.LineString]], pyproj.Transformer]:
    """Leg lines in metres per route, and the transformer back to WGS 84."""
    if not routes:
        return [], pyproj.Transformer.from_crs(WGS84, WGS84, always_xy=True)
    crs = routes_crs(routes) if crs is None else pyproj.CRS.from_user_input(crs)
    fwd = pyproj.Transformer.from_crs(WGS84, crs, always_xy=True)
    back = pyproj.Transformer.from_crs(crs, WGS84, always_xy=True)
    if network is None and roads is not None and len(roads):
        if roads.crs is None:
            raise ValueError("The roads have no CRS: set one first (roads.set_crs('EPSG:4326') "
                             "for longitude/latitude).")
        network = WalkNetwork.from_lines(roads.geometry.to_crs(crs))
    points = [np.column_stack(fwd.transform(*r.points().T)) for r in routes]
    a = np.vstack([p[:-1] for p in points])
    b = np.vstack([p[1:] for p in points])
    lines = [shapely.LineString([p, q]) for p, q in zip(a, b)]
    moves = np.flatnonzero((a != b).any(axis=1))  # a leg between equal points stays at length 0
    if network is not None and len(moves):
        for i, g in zip(moves, network.paths(a[moves], b[moves])):
            lines[i] = g
    out, i = [], 0
    for p in points:
        out.append(lines[i:i + len(p) - 1])
        i += len(p) - 1
    return out, back


def _join(legs: list[shapely.LineString]) -> shapely.LineString:
    coords = np.concatenate([shapely.get_coordinates(g) for g in legs])
    keep = np.r_[True, (np.diff(coords, axis=0) != 0).any(axis=1)]
    coords = coords[keep]
    if len(coords) < 2:
        coords = np.vstack([coords, coords])
    return shapely.LineString(coords)


def _to_wgs84(geoms: list[Any], back: pyproj.Transformer) -> list[Any]:
    if not geoms:
        return []

    def func(xy: FloatArray) -> FloatArray:
        x, y = back.transform(xy[:, 0], xy[:, 1])
        return np.column_stack([x, y])

    return list(shapely.transform(np.asarray(geoms, dtype=object), func))


def route_lines(
    routes: Sequence[RouteSpec],
    roads: geopandas.GeoDataFrame | None,
    *,
    network: WalkNetwork | None = None,
    crs: pyproj.CRS | str | None = None,
) -> geopandas.GeoDataFrame:
    """One walking line per route, depot -> stops -> depot, along the roads where there are roads.

    Parameters
    ----------
    routes : sequence of RouteSpec
        ``route_id`` must be unique.
    roads : GeoDataFrame or None
        Road lines in any CRS (the roads layer is WGS 84); projected to ``crs`` and turned into a
        :class:`~geo.network.WalkNetwork` once.  None or empty: straight segments.
    network : WalkNetwork, optional
        A network already built, in metres in ``crs``; then ``roads`` is not used.
    crs : CRS, optional
        The metric CRS of the geometry work (and of ``network``); default the UTM zone of the
        routes' points (:func:`routes_crs`).  Pass it when ``network`` was built in another CRS.

    Returns
    -------
    geopandas.GeoDataFrame
        Columns :data:`ROUTE_COLUMNS`, one row per route in the given order, EPSG:4326:
        ``n_stops`` int, ``walk_m`` float (length of the line in metres), ``geometry`` LineString
        from the depot through every stop in order back to the depot (a route without stops is a
        zero-length line at the depot).
    """
    routes = _check_routes(routes)
    legs, back = _legs_metric(routes, roads, network, crs)
    lines = [_join(r_legs) for r_legs in legs]
    frame = {
        "route_id": [r.route_id for r in routes],
        "name": [r.name for r in routes],
        "date": [r.date for r in routes],
        "n_stops": np.array([len(r.stops) for r in routes], dtype=np.int64),
        "walk_m": np.array([sum(g.length for g in r_legs) for r_legs in legs], dtype=np.float64),
    }
    return geopandas.GeoDataFrame(frame, geometry=_to_wgs84(lines, back), crs=WGS84)


def route_legs(
    routes: Sequence[RouteSpec],
    roads: geopandas.GeoDataFrame | None,
    *,
    network: WalkNetwork | None = None,
    crs: pyproj.CRS | str | None = None,
) -> geopandas.GeoDataFrame:
    """The legs of every route, one row per leg (same parameters as :func:`route_lines`).

    Returns
    -------
    geopandas.GeoDataFrame
        Columns :data:`LEG_COLUMNS`, EPSG:4326: ``leg`` 0..n_stops; ``from_id``/``to_id`` a
        household id or :data:`DEPOT_ID`; ``walk_m`` the length of the leg's line, ``straight_m``
        the straight-line distance, both metres.
    """
    routes = _check_routes(routes)
    legs, back = _legs_metric(routes, roads, network, crs)
    rows: dict[str, list[Any]] = {c: [] for c in LEG_COLUMNS}
    for r, r_legs in zip(routes, legs):
        ids = [DEPOT_ID, *[s.household_id for s in r.stops], DEPOT_ID]
        for k, g in enumerate(r_legs):
            coords = shapely.get_coordinates(g)
            rows["route_id"].append(r.route_id)
            rows["leg"].append(k)
            rows["from_id"].append(ids[k])
            rows["to_id"].append(ids[k + 1])
            rows["walk_m"].append(g.length)
            rows["straight_m"].append(float(np.hypot(*(coords[-1] - coords[0]))))
            rows["geometry"].append(g)
    geoms = _to_wgs84(rows.pop("geometry"), back)
    frame = geopandas.GeoDataFrame(rows, geometry=geoms, crs=WGS84)
    return frame.astype({"leg": np.int64, "walk_m": np.float64, "straight_m": np.float64})


def route_stops(routes: Sequence[RouteSpec]) -> geopandas.GeoDataFrame:
    """The stops of every route as points (EPSG:4326), columns :data:`STOP_COLUMNS`, in order."""
    routes = _check_routes(routes)
    stops = [(r.route_id, s) for r in routes for s in r.stops]
    frame = {
        "route_id": [rid for rid, _ in stops],
        "seq": np.array([s.seq for _, s in stops], dtype=np.int64),
        "household_id": [s.household_id for _, s in stops],
        "arrive": [s.arrive for _, s in stops],
        "depart": [s.depart for _, s in stops],
        "label": pd.Series([s.label for _, s in stops], dtype=object),  # None stays None
    }
    geometry = shapely.points([s.lon for _, s in stops], [s.lat for _, s in stops])
    return geopandas.GeoDataFrame(frame, geometry=np.asarray(geometry, dtype=object).reshape(-1),
                                  crs=WGS84)


# ---------------------------------------------------------------------- files


def _round(coords: FloatArray) -> list[list[float]]:
    return np.round(coords, _DECIMALS).tolist()


def _point(lon: float, lat: float) -> dict[str, Any]:
    return {"type": "Point", "coordinates": [round(lon, _DECIMALS), round(lat, _DECIMALS)]}


def geojson_dict(
    routes: Sequence[RouteSpec],
    roads: geopandas.GeoDataFrame | None,
    *,
    network: WalkNetwork | None = None,
    crs: pyproj.CRS | str | None = None,
) -> dict[str, Any]:
    """The GeoJSON FeatureCollection :func:`write_geojson` writes, as a dict.

    Per route, in order: one ``"kind": "route"`` LineString (``route_id``, ``name``, ``date``,
    ``start``, ``end``, ``n_stops``, ``walk_m`` rounded to 0.1 m), one ``"kind": "depot"`` Point
    (``route_id``), then one ``"kind": "stop"`` Point per stop (``route_id``, ``seq``,
    ``household_id``, ``arrive``, ``depart``, ``label``).
    """
    routes = _check_routes(routes)
    lines = route_lines(routes, roads, network=network, crs=crs)
    features: list[dict[str, Any]] = []
    for r, line, walk in zip(routes, lines.geometry, lines["walk_m"]):
        features.append({"type": "Feature", "properties": {
            "kind": "route", "route_id": r.route_id, "name": r.name, "date": r.date,
            "start": r.start, "end": r.end, "n_stops": len(r.stops), "walk_m": round(float(walk), 1),
        }, "geometry": {"type": "LineString", "coordinates": _round(shapely.get_coordinates(line))}})
        features.append({"type": "Feature", "properties": {"kind": "depot", "route_id": r.route_id},
                         "geometry": _point(r.depot_lon, r.depot_lat)})
        for s in r.stops:
            features.append({"type": "Feature", "properties": {
                "kind": "stop", "route_id": r.route_id, "seq": s.seq,
                "household_id": s.household_id, "arrive": s.arrive, "depart": s.depart,
                "label": s.label,
            }, "geometry": _point(s.lon, s.lat)})
    return {"type": "FeatureCollection", "features": features}


def write_geojson(
    routes: Sequence[RouteSpec],
    roads: geopandas.GeoDataFrame | None,
    path: str | os.PathLike[str],
    *,
    network: WalkNetwork | None = None,
    crs: pyproj.CRS | str | None = None,
) -> Path:
    """Write the routes' lines, depots and stops as one GeoJSON FeatureCollection (WGS 84, UTF-8).

    The features are those of :func:`geojson_dict`; the write is atomic.  Returns ``path``.
    """
    data = json.dumps(geojson_dict(routes, roads, network=network, crs=crs), ensure_ascii=False,
                      allow_nan=False)
    return write_atomic(path, data.encode("utf-8"))


def _text(value: object) -> str:
    """Text safe for XML 1.0 (ElementTree escapes markup but not forbidden control characters)."""
    return _XML_BAD.sub("", str(value))


def _sub(parent: ET.Element, tag: str, text: object | None = None, **attrs: str) -> ET.Element:
    el = ET.SubElement(parent, tag, attrs)
    if text is not None:
        el.text = _text(text)
    return el


def _latlon(lon: float, lat: float) -> dict[str, str]:
    return {"lat": f"{lat:.{_DECIMALS}f}", "lon": f"{lon:.{_DECIMALS}f}"}


def stop_name(stop: RouteStop) -> str:
    """The GPX name of a stop: ``"序号. 户编号"``, e.g. ``"3. H00012"``."""
    return f"{stop.seq}. {stop.household_id}"


def stop_desc(stop: RouteStop) -> str:
    """The GPX description of a stop: planned arrival (and departure), then the label."""
    desc = f"计划到达 {stop.arrive}，离开 {stop.depart}"
    return f"{desc}；{stop.label}" if stop.label else desc


def gpx_tree(
    routes: Sequence[RouteSpec],
    roads: geopandas.GeoDataFrame | None,
    *,
    network: WalkNetwork | None = None,
    crs: pyproj.CRS | str | None = None,
) -> ET.ElementTree:
    """The GPX 1.1 document :func:`write_gpx` writes, as an ElementTree.

    ``metadata`` (name, bounds of every point), then a ``wpt`` per stop (``name`` "序号. 户编号",
    ``cmt`` the route name, ``desc`` planned times and label, ``type`` the route id), a ``rte`` per
    route (``name``, ``desc`` date and times, ``number``, a ``rtept`` per stop in order), and a ``trk``
    per route (same ``name``, one ``trkseg`` with the walking line as ``trkpt``).
    """
    routes = _check_routes(routes)
    lines = route_lines(routes, roads, network=network, crs=crs)
    root = ET.Element("gpx", {
        "version": "1.1", "creator": CREATOR, "xmlns": GPX_NS,
        "xmlns:xsi": "http://www.w3.org/2001/XMLSchema-instance",
        "xsi:schemaLocation": f"{GPX_NS} {GPX_SCHEMA}",
    })
    meta = _sub(root, "metadata")
    _sub(meta, "name", "驻点走访路线" if len(routes) != 1 else routes[0].name)
    coords = [shapely.get_coordinates(g) for g in lines.geometry]
    if coords:
        allxy = np.vstack(coords + [r.points() for r in routes])
        lo, hi = allxy.min(axis=0), allxy.max(axis=0)
        _sub(meta, "bounds", minlat=f"{lo[1]:.{_DECIMALS}f}", minlon=f"{lo[0]:.{_DECIMALS}f}",
             maxlat=f"{hi[1]:.{_DECIMALS}f}", maxlon=f"{hi[0]:.{_DECIMALS}f}")
    for r in routes:
        for s in r.stops:
            wpt = _sub(root, "wpt", **_latlon(s.lon, s.lat))
            _sub(wpt, "name", stop_name(s))
            _sub(wpt, "cmt", r.name)
            _sub(wpt, "desc", stop_desc(s))
            _sub(wpt, "type", r.route_id)
    for number, r in enumerate(routes, start=1):
        rte = _sub(root, "rte")
        _sub(rte, "name", r.name)
        _sub(rte, "desc", f"{r.date} {r.start}-{r.end}，{len(r.stops)} 户")
        _sub(rte, "number", number)
        for s in r.stops:
            pt = _sub(rte, "rtept", **_latlon(s.lon, s.lat))
            _sub(pt, "name", stop_name(s))
            _sub(pt, "desc", stop_desc(s))
    for number, (r, xy, walk) in enumerate(zip(routes, coords, lines["walk_m"]), start=1):
        trk = _sub(root, "trk")
        _sub(trk, "name", r.name)
        _sub(trk, "desc", f"{r.date} {r.start}-{r.end}，步行约 {walk / 1000:.1f} 公里")
        _sub(trk, "number", number)
        seg = _sub(trk, "trkseg")
        for lon, lat in xy:
            _sub(seg, "trkpt", **_latlon(float(lon), float(lat)))
    tree = ET.ElementTree(root)
    ET.indent(tree, space=" ")
    return tree


def write_gpx(
    routes: Sequence[RouteSpec],
    roads: geopandas.GeoDataFrame | None,
    path: str | os.PathLike[str],
    *,
    network: WalkNetwork | None = None,
    crs: pyproj.CRS | str | None = None,
) -> Path:
    """Write the routes as a GPX 1.1 file for phones (UTF-8, atomic); see :func:`gpx_tree`.

    Returns ``path``.
    """
    tree = gpx_tree(routes, roads, network=network, crs=crs)
    data = ET.tostring(tree.getroot(), encoding="utf-8", xml_declaration=True)
    return write_atomic(path, data + b"\n")
