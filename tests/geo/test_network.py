"""Tests of geo.network: noding, snapping, fallbacks, and distances cross-checked against networkx.

The networkx cross-check builds its own graph from the network's nodes and edges and splices the
households in by itself (one MultiGraph edge per network edge, split at every snap point), so it
checks the vectorised splicing, the chunked Dijkstra and the fallbacks independently.
"""

from __future__ import annotations

import math
from pathlib import Path

import geopandas
import networkx as nx
import numpy as np
import pytest
import shapely
from shapely import LineString, MultiLineString, Point

from geo import network as network_module
from geo.network import TravelMatrices, WalkingParams, WalkNetwork, travel_matrices

DATA = Path(__file__).resolve().parents[1] / "data"
SPEED = 4.0 / 3.6


# ---------------------------------------------------------------------- helpers


def straight(a, b, factor: float = 1.3) -> float:
    return math.hypot(a[0] - b[0], a[1] - b[1]) * factor


def nx_model(net: WalkNetwork, xy: np.ndarray, params: WalkingParams) -> nx.MultiGraph:
    """The walking graph as networkx sees it: network edges split at every snap point.

    Household ``i`` is node ``("h", i)``, joined to its snap point by its snap distance.
    Independent of WalkNetwork's own splicing (no end tolerance, plain Python loops).
    """
    g = nx.MultiGraph()
    g.add_nodes_from(range(net.n_nodes))
    s = net.snap(xy, max_snap_m=params.max_snap_m)
    on_edge: dict[int, list[tuple[float, int]]] = {}
    for i in np.flatnonzero(s.on_network):
        on_edge.setdefault(int(s.edge[i]), []).append((float(s.offset_m[i]), int(i)))
    for e, (u, v, length) in enumerate(zip(net.edge_u, net.edge_v, net.edge_length_m)):
        stops = sorted(on_edge.get(e, []))
        prev, prev_t = int(u), 0.0
        for t, i in stops:
            g.add_edge(prev, ("p", i), weight=t - prev_t)
            g.add_edge(("p", i), ("h", i), weight=float(s.distance_m[i]))
            prev, prev_t = ("p", i), t
        g.add_edge(prev, int(v), weight=float(length) - prev_t)
    return g


def nx_matrix(net: WalkNetwork, xy: np.ndarray, sources, params=WalkingParams()) -> np.ndarray:
    """Float walking distances from ``sources`` to all points, networkx + straight fallback."""
    g = nx_model(net, xy, params)
    out = np.empty((len(sources), len(xy)))
    for r, i in enumerate(sources):
        reach = nx.single_source_dijkstra_path_length(g, ("h", i)) if g.has_node(("h", i)) else {}
        for j in range(len(xy)):
            out[r, j] = reach.get(("h", j), straight(xy[i], xy[j], params.detour_factor))
        out[r, i] = 0.0
    return out


def unnoded_grid(k: int, spacing: float, rng: np.random.Generator) -> list[LineString]:
    """k horizontal and k vertical wiggly streets crossing without shared vertices."""
    lines = []
    ext = (k - 1) * spacing
    for i in range(k):
        xs = np.linspace(-20, ext + 20, 4 * k)
        ys = i * spacing + rng.normal(0, 3, len(xs))
        lines.append(LineString(np.c_[xs, ys]))
        lines.append(LineString(np.c_[ys + 7, xs]))
    return lines


def realistic_lines(seed: int = 7) -> list[LineString]:
    """A village-like network of a few hundred edges, with the defects of real user files.

    Un-noded crossing streets, a duplicated and an overlapping street, diagonal lanes, dead-end
    lanes branching off streets without a shared vertex, lanes that stop 0.3 m short of a street
    (gaps to close), and a detached hamlet.
    """
    rng = np.random.default_rng(seed)
    lines = unnoded_grid(8, 120.0, rng)
    lines.append(lines[0])                                         # duplicate
    lines.append(shapely.affinity.translate(lines[2], 0, 0))        # another duplicate
    lines.append(LineString([(0, 0), (840, 840)]))                  # diagonal, un-noded
    lines.append(LineString([(0, 840), (400, 500), (840, 0)]))
    for _ in range(60):                    # dead-end lanes starting on a street (no shared vertex)
        street = lines[rng.integers(16)]
        p = street.interpolate(rng.uniform(0, street.length))
        ang = rng.uniform(0, 2 * np.pi)
        lines.append(LineString([(p.x, p.y), (p.x + 40 * np.cos(ang), p.y + 40 * np.sin(ang))]))
    for j in range(6):                                              # lanes stopping short
        p = lines[3].interpolate(120.0 * j + 60)                    # of vertical street 1
        lines.append(LineString([(p.x + 0.3, p.y), (p.x + 30, p.y)]))
    lines.append(LineString([(2000, 2000), (2300, 2000), (2300, 2200)]))  # detached hamlet
    lines.append(LineString([(2150, 1900), (2150, 2100)]))
    return lines


def households_near(net_lines, n: int, rng: np.random.Generator, spread: float = 40.0):
    """Points scattered around random positions on the lines (some on the same street)."""
    pts = []
    lines = list(net_lines)
    for _ in range(n):
        line = lines[rng.integers(len(lines))]
        p = line.interpolate(rng.uniform(0, line.length))
        pts.append((p.x + rng.normal(0, spread / 3), p.y + rng.normal(0, spread / 3)))
    return np.array(pts)


def load_real(area: str):
    edges_path = DATA / area / "walk_edges.geojson"
    homes_path = DATA / area / "households.geojson"
    if not edges_path.exists() or not homes_path.exists():
        pytest.skip(f"fixture {edges_path} not present")
    edges = geopandas.read_file(edges_path)
    crs = edges.estimate_utm_crs()
    edges = edges.to_crs(crs)
    homes = geopandas.read_file(homes_path).to_crs(crs)
    return edges, shapely.get_coordinates(homes.geometry.values)


def assert_invariants(tm: TravelMatrices, n: int) -> None:
    assert tm.distance_m.dtype == np.int32 and tm.time_s.dtype == np.int32
    assert tm.distance_m.shape == tm.time_s.shape == (n, n)
    assert tm.on_network.dtype == np.bool_ and tm.on_network.shape == (n,)
    assert (tm.distance_m == tm.distance_m.T).all()
    assert (tm.time_s == tm.time_s.T).all()
    assert (np.diag(tm.distance_m) == 0).all() and (np.diag(tm.time_s) == 0).all()
    assert (tm.distance_m >= 0).all()
    # time is rounded from the float distance: within one second of the rounded distance's time
    assert np.abs(tm.time_s - tm.distance_m / SPEED).max() <= 1.0


# ---------------------------------------------------------------------- parameters


def test_params_defaults():
    p = WalkingParams()
    assert (p.speed_kmh, p.detour_factor, p.max_snap_m) == (4.0, 1.3, 500.0)
    assert p.node_tolerance_m == 0.5
    assert p.straight_cap is False
    assert p.speed_mps == pytest.approx(4 / 3.6)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"speed_kmh": 0}, "speed_kmh > 0"),
        ({"speed_kmh": -4}, "speed_kmh > 0"),
        ({"speed_kmh": float("nan")}, "speed_kmh"),
        ({"speed_kmh": float("inf")}, "speed_kmh"),
        ({"speed_kmh": "4"}, "speed_kmh"),
        ({"speed_kmh": True}, "speed_kmh"),
        ({"detour_factor": 0.9}, "detour_factor >= 1"),
        ({"max_snap_m": -1}, "max_snap_m >= 0"),
        ({"node_tolerance_m": -0.1}, "node_tolerance_m >= 0"),
        ({"straight_cap": "yes"}, "straight_cap"),
    ],
)
def test_invalid_params_raise(kwargs, message):
    with pytest.raises(ValueError, match=message):
        WalkingParams(**kwargs)


def test_invalid_params_reports_every_problem_at_once():
    with pytest.raises(ValueError) as info:
        WalkingParams(speed_kmh=0, detour_factor=0.5, max_snap_m=-3)
    assert all(name in str(info.value) for name in ("speed_kmh", "detour_factor", "max_snap_m"))


# ---------------------------------------------------------------------- building


def test_cross_of_two_unnoded_lines_connects():
    lines = [LineString([(0, 0), (100, 0)]), LineString([(50, -50), (50, 50)])]
    net = WalkNetwork.from_lines(lines)
    assert (net.n_nodes, net.n_edges, net.n_components) == (5, 4, 1)
    assert net.total_length_m == pytest.approx(200.0)
    xy = np.array([[10.0, 2.0], [52.0, 40.0]])
    tm = travel_matrices(xy, net)
    # 2 m to the street, 40 m to the crossing, 40 m up, 2 m to the door
    assert tm.distance_m[0, 1] == 84
    assert tm.time_s[0, 1] == round(84 / SPEED)
    assert tm.on_network.all() and tm.fallback_pairs == 0


def test_duplicates_and_overlaps_count_once():
    lines = [LineString([(0, 0), (100, 0)]), LineString([(0, 0), (100, 0)]),
             LineString([(100, 0), (0, 0)]), LineString([(50, 0), (150, 0)])]
    net = WalkNetwork.from_lines(lines)
    assert net.total_length_m == pytest.approx(150.0)
    assert net.n_components == 1
    tm = travel_matrices(np.array([[0.0, 1.0], [150.0, 1.0]]), net)
    assert tm.distance_m[0, 1] == 152


@pytest.mark.parametrize(("tolerance", "connected"), [(0.5, True), (0.1, False)])
def test_tiny_gaps_close_within_tolerance(tolerance, connected):
    lines = [LineString([(0, 0), (100, 0)]),
             LineString([(50, 0.3), (50, 80)]),           # T-junction stopping 0.3 m short
             LineString([(100.25, 0), (200, 0)])]         # continuation after a 0.25 m gap
    net = WalkNetwork.from_lines(lines, params=WalkingParams(node_tolerance_m=tolerance))
    assert (net.n_components == 1) is connected
    xy = np.array([[0.0, -1.0], [51.0, 80.0], [200.0, 1.0]])
    tm = travel_matrices(xy, net)
    if connected:
        assert tm.distance_m[0, 1] == round(1 + 50 + 80 + 1)
        assert tm.distance_m[0, 2] == round(1 + 200 + 1)
        assert tm.fallback_pairs == 0
    else:
        assert tm.distance_m[0, 1] == round(straight(xy[0], xy[1]))
        assert tm.distance_m[0, 2] == round(straight(xy[0], xy[2]))


@pytest.mark.parametrize("gap", [0.0, 1e-9, 1e-4, 6e-4, 0.0009, 0.0015, 0.49])
def test_ends_a_hair_short_of_a_street_connect(gap):
    x = 123456.789  # not on the 1 mm grid
    lines = [LineString([(x, 4000000.0), (x, 4000100.0)]),
             LineString([(x + 50, 4000050.0), (x + gap, 4000050.0)])]
    net = WalkNetwork.from_lines(lines)
    assert net.n_components == 1
    xy = np.array([[x + 50, 4000051.0], [x - 1, 4000100.0]])
    assert travel_matrices(xy, net).distance_m[0, 1] == round(1 + 50 + gap + 50 + 1)


def test_unnoded_grid_has_a_node_at_every_crossing():
    k = 5
    net = WalkNetwork.from_lines(unnoded_grid(k, 100.0, np.random.default_rng(1)))
    assert net.n_nodes == k * k + 4 * k
    assert net.n_edges == 2 * k * (k - 1) + 4 * k
    assert net.n_components == 1
    # edges run node to node: no node lies inside an edge
    nodes = shapely.points(net.nodes_xy)
    inner = shapely.STRtree(nodes).query(net.edge_geometry, predicate="contains")
    assert inner.size == 0


def test_input_kinds_geodataframe_multilines_missing():
    gdf = geopandas.GeoDataFrame(
        {"road_id": ["a", "b", "c", "d"]},
        geometry=[MultiLineString([[(0, 0), (100, 0)], [(100, 0), (100, 100)]]), None,
                  LineString(), LineString([(0, 0, 5), (0, 50, 5)])],
        crs="EPSG:32650",
    )
    net = WalkNetwork.from_lines(gdf)
    assert net.total_length_m == pytest.approx(250.0)
    assert net.n_components == 1
    net2 = WalkNetwork.from_lines(gdf.geometry.values.to_numpy())
    assert net2.total_length_m == pytest.approx(250.0)


def test_bad_lines_raise_clear_errors():
    wgs = geopandas.GeoSeries([LineString([(116.3, 39.9), (116.31, 39.9)])], crs="EPSG:4326")
    with pytest.raises(ValueError, match="geographic CRS.*estimate_utm_crs"):
        WalkNetwork.from_lines(wgs)
    not_lines = r"LineString or MultiLineString; 1 are not \(Point\), rows \[1\]"
    with pytest.raises(ValueError, match=not_lines):
        WalkNetwork.from_lines([LineString([(0, 0), (1, 1)]), Point(0, 0)])
    with pytest.raises(ValueError, match="infinite coordinates, rows \\[0\\]"):
        WalkNetwork.from_lines([LineString([(0, 0), (np.inf, 1)])])


def test_empty_network_falls_back_everywhere():
    net = WalkNetwork.from_lines([])
    assert (net.n_nodes, net.n_edges, net.total_length_m) == (0, 0, 0.0)
    xy = np.array([[0.0, 0.0], [30.0, 40.0]])
    tm = travel_matrices(xy, net)
    assert tm.distance_m[0, 1] == 65 and not tm.on_network.any()
    assert net.path(xy[0], xy[1]).equals(LineString(xy))


# ---------------------------------------------------------------------- snapping and paths


def test_two_households_on_one_edge_walk_along_it():
    # one edge; going via its ends (0 or 1000) would cost at least 800 m more
    net = WalkNetwork.from_lines([LineString([(0, 0), (1000, 0)])])
    assert net.n_edges == 1
    xy = np.array([[600.0, -10.0], [400.0, 10.0], [500.0, 5.0]])  # not in order along the edge
    tm = travel_matrices(xy, net)
    assert tm.distance_m[0, 1] == 10 + 200 + 10
    assert tm.distance_m[1, 2] == 10 + 100 + 5
    assert tm.distance_m[0, 2] == 10 + 100 + 5
    path = net.path(xy[1], xy[0])
    assert path.length == pytest.approx(220.0)
    assert path.equals(LineString([(400, 10), (400, 0), (600, 0), (600, -10)]))


def test_households_on_a_ring_road_walk_the_short_way_round():
    ring = LineString([(0, 0), (1000, 0), (1000, 1000), (0, 1000), (0, 0)])
    net = WalkNetwork.from_lines([ring])
    assert net.n_edges == 1 and net.edge_u[0] == net.edge_v[0]  # a loop edge
    xy = np.array([[100.0, -5.0], [900.0, -5.0], [-5.0, 900.0], [0.0, 0.0]])
    tm = travel_matrices(xy, net)
    assert tm.distance_m[0, 1] == 5 + 800 + 5
    assert tm.distance_m[0, 2] == 5 + 100 + 900 + 5  # through the ring's own start node
    assert tm.distance_m[2, 3] == 5 + 900
    assert net.path(xy[0], xy[2]).length == pytest.approx(1010.0)


def test_snap_reports_nearest_edge_offset_and_distance():
    net = WalkNetwork.from_lines([LineString([(0, 0), (100, 0)]), LineString([(0, 50), (100, 50)])])
    s = net.snap(np.array([[30.0, 10.0], [70.0, 45.0], [50.0, 700.0]]))
    assert len(s) == 3
    assert s.offset_m[:2] == pytest.approx([30.0, 70.0])
    assert s.distance_m == pytest.approx([10.0, 5.0, 650.0])
    assert s.xy[:2] == pytest.approx(np.array([[30.0, 0.0], [70.0, 50.0]]))
    assert s.on_network.tolist() == [True, True, False]
    assert net.snap(np.array([[50.0, 700.0]]), max_snap_m=1000).on_network.all()


def test_far_household_uses_straight_line_times_detour():
    net = WalkNetwork.from_lines([LineString([(0, 0), (1000, 0)])])
    xy = np.array([[100.0, 5.0], [900.0, 5.0], [500.0, 600.0]])
    tm = travel_matrices(xy, net)
    assert tm.on_network.tolist() == [True, True, False]
    assert tm.distance_m[0, 1] == 810
    for i in (0, 1):
        assert tm.distance_m[i, 2] == round(straight(xy[i], xy[2]))
        assert tm.time_s[i, 2] == round(straight(xy[i], xy[2]) / SPEED)
    assert tm.fallback_pairs == 4
    assert net.path(xy[0], xy[2]).equals(LineString([xy[0], xy[2]]))
    wide = travel_matrices(xy, net, params=WalkingParams(max_snap_m=700, detour_factor=1.5))
    assert wide.on_network.all()
    assert wide.distance_m[0, 2] == 5 + 400 + 600


def test_disconnected_components_fall_back():
    lines = [LineString([(0, 0), (100, 0)]), LineString([(0, 300), (100, 300)])]
    net = WalkNetwork.from_lines(lines)
    assert net.n_components == 2
    xy = np.array([[0.0, 1.0], [100.0, 1.0], [50.0, 299.0]])
    tm = travel_matrices(xy, net)
    assert tm.distance_m[0, 1] == 102
    assert tm.distance_m[0, 2] == round(straight(xy[0], xy[2]))
    assert tm.distance_m[1, 2] == round(straight(xy[1], xy[2]))
    assert tm.on_network.all() and tm.fallback_pairs == 4
    assert net.path(xy[0], xy[2]).equals(LineString([xy[0], xy[2]]))


def test_no_network_is_straight_line_times_detour():
    xy = np.array([[0.0, 0.0], [300.0, 400.0], [600.0, 0.0]])
    tm = travel_matrices(xy, None, params=WalkingParams(speed_kmh=3.6, detour_factor=1.2))
    assert tm.distance_m.tolist() == [[0, 600, 720], [600, 0, 600], [720, 600, 0]]
    assert tm.time_s.tolist() == tm.distance_m.tolist()  # 1 m/s
    assert not tm.on_network.any() and tm.fallback_pairs == 6
    assert_invariants(travel_matrices(xy, None), 3)


def test_straight_cap_lets_neighbours_walk_across():
    net = WalkNetwork.from_lines([LineString([(0, 0), (1000, 0)])])
    xy = np.array([[500.0, 200.0], [520.0, 200.0], [100.0, 5.0], [900.0, 5.0]])
    plain = travel_matrices(xy, net)
    assert plain.distance_m[0, 1] == 420
    capped = travel_matrices(xy, net, params=WalkingParams(straight_cap=True))
    assert capped.distance_m[0, 1] == 26  # 20 m x 1.3 instead of out to the road and back
    assert capped.distance_m[2, 3] == plain.distance_m[2, 3] == 810  # the road is shorter
    assert (capped.distance_m <= plain.distance_m).all()
    assert capped.fallback_pairs == (capped.distance_m < plain.distance_m).sum() > 0
    cap = WalkingParams(straight_cap=True)
    assert net.path(xy[0], xy[1], params=cap).length == 20
    assert net.path(xy[2], xy[3], params=cap).length == pytest.approx(810)


def test_bad_points_raise():
    net = WalkNetwork.from_lines([LineString([(0, 0), (10, 0)])])
    with pytest.raises(ValueError, match=r"shape \(n, 2\)"):
        travel_matrices(np.zeros((3, 3)), net)
    with pytest.raises(ValueError, match=r"missing or infinite coordinates, rows \[1\]"):
        travel_matrices(np.array([[0.0, 0.0], [np.nan, 1.0]]), net)
    with pytest.raises(ValueError, match="same number of points"):
        net.paths(np.zeros((2, 2)), np.zeros((1, 2)))


def test_empty_points():
    net = WalkNetwork.from_lines([LineString([(0, 0), (10, 0)])])
    tm = travel_matrices(np.empty((0, 2)), net)
    assert tm.distance_m.shape == (0, 0) and tm.distance_m.dtype == np.int32


# ---------------------------------------------------------------------- against networkx


@pytest.fixture(scope="module")
def realistic():
    lines = realistic_lines()
    rng = np.random.default_rng(11)
    xy = households_near(lines, 300, rng)
    xy = np.vstack([xy, [[5000.0, 5000.0], [2150.0, 2050.0]]])  # one far away, one in the hamlet
    return WalkNetwork.from_lines(lines), xy


def test_realistic_network_shape(realistic):
    net, _ = realistic
    assert 300 <= net.n_edges <= 1000
    assert net.n_components == 2  # the town and the detached hamlet
    # gap lanes were joined: no dead end lies within the tolerance of another edge
    degree = np.bincount(np.r_[net.edge_u, net.edge_v], minlength=net.n_nodes)
    dead = shapely.points(net.nodes_xy[degree == 1])
    near = shapely.STRtree(net.edge_geometry).query(dead, predicate="dwithin", distance=0.5)
    assert len(near[0]) == len(dead)  # only their own edge


@pytest.mark.parametrize("source", ["realistic", "haidian", "guixi"])
def test_distances_match_networkx(source, realistic):
    if source == "realistic":
        net, xy = realistic
    else:
        edges, xy = load_real(source)
        net = WalkNetwork.from_lines(edges)
    rng = np.random.default_rng(2024)
    sources = np.sort(rng.choice(len(xy), size=min(25, len(xy)), replace=False))
    tm = travel_matrices(xy, net)
    assert_invariants(tm, len(xy))
    expected = nx_matrix(net, xy, sources)
    got = tm.distance_m[sources]
    diff = np.abs(got - expected)
    assert diff.max() <= 0.5 + 1e-6, f"worst pair off by {diff.max():.3f} m"
    assert np.array_equal(got, np.rint(expected)) or (got != np.rint(expected)).sum() <= 2
    expected_time = np.abs(tm.time_s[sources] - expected / SPEED)
    assert expected_time.max() <= 0.5 + 1e-6


def test_haidian_has_fallback_pairs_and_on_network_households():
    edges, xy = load_real("haidian")
    net = WalkNetwork.from_lines(edges)
    assert net.n_components > 1  # its walk network is not connected
    tm = travel_matrices(xy, net)
    assert tm.on_network.mean() > 0.9
    assert tm.fallback_pairs > 0


def test_paths_have_the_matrix_length(realistic):
    net, xy = realistic
    rng = np.random.default_rng(5)
    a, b = rng.choice(len(xy), 40), rng.choice(len(xy), 40)
    tm = travel_matrices(xy, net)
    paths = net.paths(xy[a], xy[b])
    for i, j, path in zip(a, b, paths):
        assert path.coords[0] == tuple(xy[i]) and path.coords[-1] == tuple(xy[j])
        network_length = path.length
        if tm.on_network[i] and tm.on_network[j] and len(path.coords) > 2:
            assert abs(network_length - tm.distance_m[i, j]) <= 0.5 + 1e-6
        else:  # fallback: straight line, the matrix has it x 1.3
            assert abs(1.3 * network_length - tm.distance_m[i, j]) <= 0.5 + 1e-6


def test_rectangular_matrix_is_a_block_of_the_square_one(realistic):
    net, xy = realistic
    depot, homes = xy[:3], xy[3:60]
    rect = travel_matrices(depot, net, to_xy=homes)
    assert rect.distance_m.shape == (3, 57) and rect.to_on_network.shape == (57,)
    full = travel_matrices(np.vstack([depot, homes]), net)
    assert np.array_equal(rect.distance_m, full.distance_m[:3, 3:])
    assert np.array_equal(rect.time_s, full.time_s[:3, 3:])
    back = travel_matrices(homes, net, to_xy=depot)
    assert np.array_equal(back.distance_m, rect.distance_m.T)


def test_chunking_gives_the_same_matrix_and_reports_progress(realistic, monkeypatch):
    net, xy = realistic
    whole = travel_matrices(xy, net)
    whole_paths = net.paths(xy[:30], xy[30:60])
    calls = []
    monkeypatch.setattr(network_module, "_CHUNK_BYTES", 8 * 4000)  # a few rows per chunk
    chunked = travel_matrices(xy, net, progress=lambda done, total: calls.append((done, total)))
    assert len(calls) > 10 and calls[-1] == (len(xy), len(xy))
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)
    assert np.array_equal(whole.distance_m, chunked.distance_m)
    assert np.array_equal(whole.time_s, chunked.time_s)
    assert whole.fallback_pairs == chunked.fallback_pairs
    chunked_paths = net.paths(xy[:30], xy[30:60])
    assert all(p.equals(q) for p, q in zip(whole_paths, chunked_paths))
