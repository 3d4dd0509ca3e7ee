"""Tests of geo.routes: walking lines along a synthetic road grid, GeoJSON and GPX exports.

The grid is 4 x 4 roads 100 m apart in UTM zone 50N near 117.2E 28.3N (converted to WGS 84, as
the roads layer is).  Walking distances between points on the grid are worked out by hand in
``EXPECTED_M`` and cross-checked against :func:`geo.network.travel_matrices`.
"""

from __future__ import annotations

import json
import math
import xml.etree.ElementTree as ET
from pathlib import Path

import geopandas
import numpy as np
import pyproj
import pytest
import shapely
from shapely import LineString

from geo.network import WalkNetwork, travel_matrices
from geo.routes import (
    DEPOT_ID,
    GPX_NS,
    RouteSpec,
    RouteStop,
    route_legs,
    route_lines,
    route_stops,
    routes_crs,
    write_geojson,
    write_gpx,
)

DATA = Path(__file__).resolve().parents[1] / "data"
UTM = pyproj.CRS.from_epsg(32650)
TO_UTM = pyproj.Transformer.from_crs("EPSG:4326", UTM, always_xy=True)
TO_WGS = pyproj.Transformer.from_crs(UTM, "EPSG:4326", always_xy=True)
X0, Y0 = TO_UTM.transform(117.2, 28.3)
NS = {"g": GPX_NS}


def lonlat(x: float, y: float) -> tuple[float, float]:
    """Grid metres (from the grid origin) to WGS 84."""
    lon, lat = TO_WGS.transform(X0 + x, Y0 + y)
    return float(lon), float(lat)


def to_grid(geom):
    """A WGS 84 geometry to grid metres."""
    def func(xy):
        x, y = TO_UTM.transform(xy[:, 0], xy[:, 1])
        return np.column_stack([np.asarray(x) - X0, np.asarray(y) - Y0])
    return shapely.transform(geom, func)


def grid_roads() -> geopandas.GeoDataFrame:
    lines = [LineString([(0, k), (300, k)]) for k in range(0, 301, 100)]
    lines += [LineString([(k, 0), (k, 300)]) for k in range(0, 301, 100)]
    lines_wgs = [LineString([lonlat(*p) for p in g.coords]) for g in lines]
    return geopandas.GeoDataFrame({"road_id": [f"R{i}" for i in range(len(lines))]},
                                  geometry=lines_wgs, crs="EPSG:4326")


GRID_XY = {"depot": (0, 0), "H1": (50, 100), "H2": (250, 200), "H3": (150, 300),
           "H4": (120, 150)}  # H4 is 20 m off the road x = 100
EXPECTED_M = {"A": [150, 300, 450], "B": [450, 220, 270]}


def stop(hid: str, seq: int, arrive: str, label: str | None = None) -> RouteStop:
    lon, lat = lonlat(*GRID_XY[hid])
    depart = f"{arrive[:3]}{int(arrive[3:]) + 10:02d}"
    return RouteStop(hid, lon, lat, arrive, depart, seq, label)


def two_routes() -> list[RouteSpec]:
    dlon, dlat = lonlat(*GRID_XY["depot"])
    a = RouteSpec("A", "第1组 2026-12-01 驻点日上午", "2026-12-01", dlon, dlat,
                  [stop("H1", 1, "08:30", "石板房村 3 号 <东>&"), stop("H2", 2, "09:10")],
                  "08:00", "11:30")
    b = RouteSpec("B", "第2组 2026-12-01 夜访", "2026-12-01", dlon, dlat,
                  [stop("H3", 1, "19:00", "王家巷 12 号"), stop("H4", 2, "19:40", "李\x01家")],
                  "18:30", "21:00")
    return [a, b]


def straight_length_m(route: RouteSpec) -> float:
    xy = np.column_stack(TO_UTM.transform(*route.points().T))
    return float(np.hypot(*np.diff(xy, axis=0).T).sum())


# ---------------------------------------------------------------------- types


def test_specs_validate_at_construction():
    with pytest.raises(ValueError, match="HH:MM"):
        RouteStop("H1", 117.2, 28.3, "8:30", "08:40", 1)
    with pytest.raises(ValueError, match="longitude/latitude"):
        RouteStop("H1", 28.3, 217.2, "08:30", "08:40", 1)
    with pytest.raises(ValueError, match="seq must increase"):
        RouteSpec("A", "n", "2026-12-01", 117.2, 28.3,
                  [RouteStop("H1", 117.2, 28.3, "08:30", "08:40", 2),
                   RouteStop("H2", 117.2, 28.3, "08:50", "09:00", 1)], "08:00", "11:00")
    routes = two_routes()
    with pytest.raises(ValueError, match="repeated: A"):
        route_stops([routes[0], routes[0]])


# ---------------------------------------------------------------------- geometry


def test_lines_follow_the_roads():
    routes, roads = two_routes(), grid_roads()
    lines = route_lines(routes, roads)
    assert list(lines.columns) == ["route_id", "name", "date", "n_stops", "walk_m", "geometry"]
    assert lines.crs.to_epsg() == 4326
    assert list(lines["route_id"]) == ["A", "B"] and list(lines["n_stops"]) == [2, 2]
    assert routes_crs(routes).to_epsg() == 32650
    roads_grid = shapely.union_all([to_grid(g) for g in roads.geometry])
    for route, line, walk in zip(routes, lines.geometry, lines["walk_m"]):
        expected = sum(EXPECTED_M[route.route_id])
        line_m = to_grid(line)
        assert walk == pytest.approx(expected, abs=1.0)
        assert line_m.length == pytest.approx(walk, abs=0.05)
        assert walk >= straight_length_m(route) - 1e-6
        # starts and ends at the depot and passes every stop, in order
        coords = shapely.get_coordinates(line_m)
        np.testing.assert_allclose(coords[0], GRID_XY["depot"], atol=1e-6)
        np.testing.assert_allclose(coords[-1], GRID_XY["depot"], atol=1e-6)
        positions = [line_m.project(shapely.Point(GRID_XY[s.household_id])) for s in route.stops]
        assert positions == sorted(positions)
        for s in route.stops:
            assert line_m.distance(shapely.Point(GRID_XY[s.household_id])) < 1e-6
        # every vertex on a road, except the off-road household H4
        off = [i for i, xy in enumerate(coords) if np.allclose(xy, GRID_XY["H4"], atol=1e-6)]
        on_road = shapely.distance(shapely.points(np.delete(coords, off, axis=0)), roads_grid)
        assert on_road.max() < 2e-3  # 1 mm noding grid; WGS 84 chords vs UTM lines
        assert len(off) == (1 if route.route_id == "B" else 0)


def test_legs_equal_network_distances():
    routes, roads = two_routes(), grid_roads()
    legs = route_legs(routes, roads)
    assert list(legs["route_id"]) == ["A"] * 3 + ["B"] * 3
    assert list(legs["from_id"][:3]) == [DEPOT_ID, "H1", "H2"]
    assert list(legs["to_id"][:3]) == ["H1", "H2", DEPOT_ID]
    net = WalkNetwork.from_lines(roads.geometry.to_crs(UTM))
    for route in routes:
        xy = np.column_stack(TO_UTM.transform(*route.points().T))
        matrix = travel_matrices(xy, net).distance_m
        mine = legs[legs["route_id"] == route.route_id]
        for k, walk in enumerate(mine["walk_m"]):
            assert walk == pytest.approx(matrix[k, k + 1], abs=1.0)
            assert walk == pytest.approx(EXPECTED_M[route.route_id][k], abs=1.0)
        assert (mine["walk_m"] >= mine["straight_m"] - 1e-6).all()
    # a network passed in gives the same lines
    again = route_lines(routes, None, network=net, crs=UTM)
    assert np.allclose(again["walk_m"], route_lines(routes, roads)["walk_m"])


@pytest.mark.parametrize("roads", [None, "empty"])
def test_without_roads_lines_are_straight(roads):
    routes = two_routes()
    if roads == "empty":
        roads = grid_roads().iloc[:0]
    lines = route_lines(routes, roads)
    for route, line, walk in zip(routes, lines.geometry, lines["walk_m"]):
        np.testing.assert_allclose(shapely.get_coordinates(line), route.points(), atol=1e-9)
        assert walk == pytest.approx(straight_length_m(route), rel=1e-9)


def test_route_without_stops_and_roads_without_crs():
    dlon, dlat = lonlat(0, 0)
    empty = RouteSpec("E", "空", "2026-12-01", dlon, dlat, [], "08:00", "09:00")
    lines = route_lines([empty], grid_roads())
    assert lines["walk_m"].iloc[0] == 0.0 and lines["n_stops"].iloc[0] == 0
    with pytest.raises(ValueError, match="no CRS"):
        route_lines(two_routes(), grid_roads().set_crs(None, allow_override=True))


def test_route_stops_points():
    stops = route_stops(two_routes())
    assert stops.crs.to_epsg() == 4326
    assert list(stops["household_id"]) == ["H1", "H2", "H3", "H4"]
    assert list(stops["seq"]) == [1, 2, 1, 2]
    assert stops["label"].iloc[1] is None
    assert stops.geometry.iloc[0].x == pytest.approx(lonlat(*GRID_XY["H1"])[0])


# ---------------------------------------------------------------------- files


def test_geojson(tmp_path):
    routes = two_routes()
    out = write_geojson(routes, grid_roads(), tmp_path / "routes.geojson")
    assert out == tmp_path / "routes.geojson"
    assert [p.name for p in tmp_path.iterdir()] == ["routes.geojson"]  # no temp file left
    text = out.read_text(encoding="utf-8")
    assert "第1组" in text  # not \u-escaped
    doc = json.loads(text)
    assert doc["type"] == "FeatureCollection"
    kinds = [f["properties"]["kind"] for f in doc["features"]]
    assert kinds.count("route") == 2 and kinds.count("depot") == 2 and kinds.count("stop") == 4
    frame = geopandas.read_file(out)
    assert len(frame) == 8
    route_a = next(f for f in doc["features"] if f["properties"]["kind"] == "route")
    assert route_a["properties"]["walk_m"] == pytest.approx(900, abs=1)
    assert len(route_a["geometry"]["coordinates"]) > 4  # bends along the grid


def test_gpx(tmp_path):
    routes = two_routes()
    out = write_gpx(routes, grid_roads(), tmp_path / "routes.gpx")
    raw = out.read_bytes()
    assert raw.startswith(b"<?xml version='1.0' encoding='utf-8'?>")
    assert "第1组 2026-12-01 驻点日上午".encode() in raw
    root = ET.parse(out).getroot()
    assert root.tag == f"{{{GPX_NS}}}gpx"
    assert root.get("version") == "1.1" and root.get("creator") == "Zhudian"
    # schema order: metadata, wpt*, rte*, trk*
    order = [child.tag.split("}")[1] for child in root]
    assert order == ["metadata"] + ["wpt"] * 4 + ["rte"] * 2 + ["trk"] * 2
    wpts = root.findall("g:wpt", NS)
    assert [w.findtext("g:name", namespaces=NS) for w in wpts] == [
        "1. H1", "2. H2", "1. H3", "2. H4"]
    assert [c.tag.split("}")[1] for c in wpts[0]] == ["name", "cmt", "desc", "type"]
    assert wpts[0].findtext("g:desc", namespaces=NS) == "计划到达 08:30，离开 08:40；石板房村 3 号 <东>&"
    assert wpts[3].findtext("g:desc", namespaces=NS).endswith("李家")  # control character dropped
    for w, s in zip(wpts, [s for r in routes for s in r.stops]):
        assert float(w.get("lon")) == pytest.approx(s.lon, abs=1e-7)
        assert float(w.get("lat")) == pytest.approx(s.lat, abs=1e-7)
    for rte, route in zip(root.findall("g:rte", NS), routes):
        assert rte.findtext("g:name", namespaces=NS) == route.name
        names = [p.findtext("g:name", namespaces=NS) for p in rte.findall("g:rtept", NS)]
        assert [n.split(". ", 1)[1] for n in names] == [s.household_id for s in route.stops]
        assert [int(n.split(".")[0]) for n in names] == [s.seq for s in route.stops]
    for trk, route in zip(root.findall("g:trk", NS), routes):
        segs = trk.findall("g:trkseg", NS)
        assert len(segs) == 1
        pts = segs[0].findall("g:trkpt", NS)
        assert len(pts) > len(route.stops) + 2
        lat = np.array([float(p.get("lat")) for p in pts])
        lon = np.array([float(p.get("lon")) for p in pts])
        assert ((lat > 28.2) & (lat < 28.4)).all() and ((lon > 117.1) & (lon < 117.3)).all()
        assert (lon[0], lat[0]) == pytest.approx((route.depot_lon, route.depot_lat), abs=1e-7)
    bounds = root.find("g:metadata/g:bounds", NS)
    assert float(bounds.get("minlat")) <= min(s.lat for r in routes for s in r.stops)


def test_write_into_missing_folder_fails(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        write_gpx(two_routes(), None, tmp_path / "nope" / "r.gpx")


# ---------------------------------------------------------------------- real data


def test_haidian_paths_stay_on_roads():
    edges_file, hh_file = DATA / "haidian" / "walk_edges.geojson", DATA / "haidian" / "households.geojson"
    if not (edges_file.exists() and hh_file.exists()):
        pytest.skip("tests/data/haidian not available")
    roads = geopandas.read_file(edges_file)
    households = geopandas.read_file(hh_file)
    households = households[households["dist_to_walk_m"] < 40].iloc[:7]
    depot, visits = households.iloc[0], households.iloc[1:]
    stops = [RouteStop(h.household_id, h.geometry.x, h.geometry.y, f"09:{10 * i:02d}",
                       f"09:{10 * i + 5:02d}", i + 1, h["name"] if isinstance(h["name"], str) else None)
             for i, (_, h) in enumerate(visits.iterrows())]
    route = RouteSpec("H", "海淀 测试", "2026-12-01", depot.geometry.x, depot.geometry.y, stops,
                      "09:00", "11:00")
    line = route_lines([route], roads).geometry.iloc[0]
    crs = routes_crs([route])
    line_m = geopandas.GeoSeries([line], crs=4326).to_crs(crs).iloc[0]
    roads_m = shapely.union_all(roads.geometry.to_crs(crs).values)
    points_m = geopandas.GeoSeries(geopandas.points_from_xy(*route.points().T), crs=4326).to_crs(crs)
    # the snap connectors near each household are off the road; everything else is on it
    near = shapely.union_all([p.buffer(shapely.distance(p, roads_m) + 1.0) for p in points_m])
    assert line_m.difference(near).within(roads_m.buffer(5.0))
    assert line_m.length >= straight_length_m(route) * 0.999
    assert math.isfinite(line_m.length)
