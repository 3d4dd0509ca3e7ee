"""Walking network from road lines, and walking distance / time matrices between points.

Everything here is in a metric CRS (the caller projects to UTM first): coordinates, lengths and
distances are metres, times are seconds.

Building the network (:meth:`WalkNetwork.from_lines`)
    User road files are often not noded (roads cross without a shared vertex), carry duplicate or
    overlapping segments, and have tiny gaps where a lane stops just short of a road.  The lines are
    split into parts; every dangling line end within ``node_tolerance_m`` of another line gets a
    short connector to the nearest point of that line; then everything is noded and dissolved in one
    snap-rounded union on a 1 mm grid (``shapely.unary_union(..., grid_size=0.001)``), so crossing
    roads share a node and overlaps count once.  Chains through degree-2 points are merged, so an
    edge runs from junction (or dead end) to junction and keeps every vertex of the road: its length
    is the true length of the line.

Snapping (:meth:`WalkNetwork.snap`)
    A point is snapped to the nearest edge (``STRtree.query_nearest``) and projected onto it.  A
    point joins the network by its straight snap distance to the snap point, which splits its edge:
    several points on one edge are ordered along it, so two households on the same lane walk along
    the lane, not round by its ends.

Matrices (:func:`travel_matrices`)
    ``distance = snap distance + shortest path between snap points + snap distance``, computed with
    ``scipy.sparse.csgraph.dijkstra`` from the snap points in chunks of sources, so memory stays
    bounded (the two int32 output matrices plus about 10 MB).  A pair falls back to straight-line
    distance x ``detour_factor`` when there is no network, when either point is farther than
    ``max_snap_m`` from every road, or when the two points are in different network components
    (and, only if ``straight_cap`` is set, whenever the straight line x detour factor is shorter).
    Distances are kept in float until the very end and rounded to ``int32`` once: this is the
    ``geo -> planner`` boundary (metres, seconds).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import shapely
from scipy import sparse
from scipy.sparse.csgraph import connected_components, dijkstra
from scipy.spatial import cKDTree
from shapely.ops import substring

logger = logging.getLogger(__name__)

__all__ = ["WalkingParams", "WalkNetwork", "Snapped", "TravelMatrices", "travel_matrices"]

GRID_M = 1e-3
"""Precision grid of the noding union, metres.  Vertices move by at most ~0.7 mm."""

_END_EPS_M = 1e-6
"""A snap point this close to an end of its edge is taken to be that end node."""

_CHUNK_BYTES = 8 * 2**20
"""Working memory for one chunk of rows (Dijkstra output over all nodes + the float rows), bytes.

Beyond the two int32 output matrices, :func:`travel_matrices` needs about this much."""

_INT32_MAX = np.iinfo(np.int32).max

_LINK_FACTOR, _LINK_SLACK_M = 1.5, 60.0
"""Doorsteps of two hamlets joined along a road: the pairs up to 1.5 x the closest + 60 m."""

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class WalkingParams:
    """How people walk, and how road lines are cleaned.

    Parameters
    ----------
    speed_kmh : float
        Walking speed, km/h (default 4.0).
    detour_factor : float
        Straight-line distance is multiplied by this where there is no network path (default 1.3).
        At least 1.
    max_snap_m : float
        A point farther than this from every road is off the network and uses the straight-line
        fallback for all its pairs (default 500 m).
    node_tolerance_m : float
        Dangling line ends this close to another line are connected to it when the network is built
        (default 0.5 m).  0 connects only lines that really touch or cross.
    straight_cap : bool
        If True, no pair is farther than straight-line x ``detour_factor``: neighbours that both
        stand far from a mapped road walk across (yards, unmapped paths) instead of out to the road
        and back.  Default False: the network distance as such.
    """

    speed_kmh: float = 4.0
    detour_factor: float = 1.3
    max_snap_m: float = 500.0
    node_tolerance_m: float = 0.5
    straight_cap: bool = False

    def __post_init__(self) -> None:
        problems: list[str] = []
        rules = {
            "speed_kmh": (lambda v: v > 0, "> 0 (km/h, e.g. 4.0)"),
            "detour_factor": (lambda v: v >= 1, ">= 1 (e.g. 1.3)"),
            "max_snap_m": (lambda v: v >= 0, ">= 0 (metres, e.g. 500)"),
            "node_tolerance_m": (lambda v: v >= 0, ">= 0 (metres, e.g. 0.5)"),
        }
        for name, (ok, expected) in rules.items():
            value = getattr(self, name)
            is_number = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(
                value, (bool, np.bool_)
            )
            if not is_number or not math.isfinite(value) or not ok(value):
                problems.append(f"Expected {name} {expected}, got {value!r}.")
        if not isinstance(self.straight_cap, (bool, np.bool_)):
            problems.append(f"Expected straight_cap True or False, got {self.straight_cap!r}.")
        if problems:
            raise ValueError(" ".join(problems))

    @property
    def speed_mps(self) -> float:
        """Walking speed in metres per second."""
        return float(self.speed_kmh) / 3.6


@dataclass(frozen=True)
class Snapped:
    """Points snapped to their nearest network edge (all arrays have one row per point).

    Attributes
    ----------
    edge : ndarray of int64
        Index of the nearest edge (into :attr:`WalkNetwork.edge_geometry`), -1 if the network has
        no edges.
    offset_m : ndarray of float64
        Distance along that edge's geometry from its ``edge_u`` end to the snap point (NaN if none).
    distance_m : ndarray of float64
        Straight distance from the point to the snap point (inf if the network has no edges).
    xy : ndarray of float64, shape (n, 2)
        The snap point (NaN if none).
    on_network : ndarray of bool
        ``distance_m <= max_snap_m``: the point joins the network; otherwise it uses the
        straight-line fallback.
    """

    edge: IntArray
    offset_m: FloatArray
    distance_m: FloatArray
    xy: FloatArray
    on_network: npt.NDArray[np.bool_]

    def __len__(self) -> int:
        return len(self.edge)


@dataclass(frozen=True)
class TravelMatrices:
    """Walking distances and times between points, ready for the planner.

    Attributes
    ----------
    distance_m : ndarray of int32, shape (n, m)
        Walking distance in whole metres (rounded once, from float).
    time_s : ndarray of int32, shape (n, m)
        Walking time in whole seconds at the walking speed (rounded once, from float distance).
    on_network : ndarray of bool, shape (n,)
        Per row point: snapped to a road within ``max_snap_m``.
    to_on_network : ndarray of bool, shape (m,), or None
        Per column point, when the columns are another point set (``to_xy``); None for a square
        matrix, whose columns are the rows.
    fallback_pairs : int
        Number of (row, column) pairs, diagonal excluded, that used straight-line x detour factor
        (no network, a point off the network, no path between the two, or ``straight_cap``).
    """

    distance_m: npt.NDArray[np.int32]
    time_s: npt.NDArray[np.int32]
    on_network: npt.NDArray[np.bool_]
    to_on_network: npt.NDArray[np.bool_] | None = None
    fallback_pairs: int = 0


@dataclass(frozen=True)
class _Graph:
    """The network with snap points spliced into their edges, as a symmetric CSR matrix.

    ``edge``, ``t0``, ``t1`` are aligned with ``csr.data``: entry ``j`` walks edge ``edge[j]`` from
    offset ``t0[j]`` to offset ``t1[j]`` (``t0 > t1`` means against the edge's direction).
    """

    csr: sparse.csr_array
    edge: IntArray
    t0: FloatArray
    t1: FloatArray


class WalkNetwork:
    """A walking network: nodes at junctions and dead ends, edges along the roads.

    Build it with :meth:`from_lines`.  The arrays are read-only views of the cleaned network:
    ``nodes_xy`` (n_nodes, 2); ``edge_u``, ``edge_v`` (node indices of each edge's start and end),
    ``edge_length_m`` and ``edge_geometry`` (shapely LineStrings from ``edge_u`` to ``edge_v``,
    every vertex kept).  Several edges may join the same two nodes (two roads between the same
    junctions); an edge may start and end at the same node (a loop).

    Parameters
    ----------
    nodes_xy, edge_u, edge_v, edge_geometry
        The cleaned network (see above); use :meth:`from_lines` rather than calling this directly.
    params : WalkingParams
        The parameters the network was built with; :meth:`snap` and :func:`travel_matrices` use its
        ``max_snap_m`` unless told otherwise.
    """

    def __init__(
        self,
        nodes_xy: FloatArray,
        edge_u: IntArray,
        edge_v: IntArray,
        edge_geometry: npt.NDArray[np.object_],
        *,
        params: WalkingParams = WalkingParams(),
    ):
        nodes_xy = np.asarray(nodes_xy, dtype=np.float64).reshape(-1, 2)
        edge_u = np.asarray(edge_u, dtype=np.int64)
        edge_v = np.asarray(edge_v, dtype=np.int64)
        edge_geometry = np.asarray(edge_geometry, dtype=object)
        if not (len(edge_u) == len(edge_v) == len(edge_geometry)):
            raise ValueError("edge_u, edge_v and edge_geometry must have the same length")
        if len(edge_u) and (min(edge_u.min(), edge_v.min()) < 0
                            or max(edge_u.max(), edge_v.max()) >= len(nodes_xy)):
            raise ValueError("edge_u / edge_v must be node indices into nodes_xy")
        self.params = params
        self._nodes_xy = nodes_xy
        self._edge_u = edge_u
        self._edge_v = edge_v
        self._edge_geometry = edge_geometry
        self._edge_length = shapely.length(edge_geometry).astype(np.float64)
        for a in (self._nodes_xy, self._edge_u, self._edge_v, self._edge_geometry,
                  self._edge_length):
            a.flags.writeable = False
        self._tree = shapely.STRtree(edge_geometry)

    # ------------------------------------------------------------------ construction

    @classmethod
    def from_lines(cls, lines: Any, *, params: WalkingParams = WalkingParams()) -> WalkNetwork:
        """Build a walking network from road lines in metres.

        Parameters
        ----------
        lines : GeoSeries, GeoDataFrame, array or list of shapely geometries
            LineStrings / MultiLineStrings in a metric CRS.  Missing and empty geometries are
            skipped.  Lines need not be noded: crossings become junctions, duplicates and overlaps
            count once, and dangling ends within ``params.node_tolerance_m`` of another line are
            connected to it.
        params : WalkingParams
            Kept on the network; ``node_tolerance_m`` is used here.

        Returns
        -------
        WalkNetwork
            Possibly with no edges (then every point falls back to straight-line distance).

        Raises
        ------
        ValueError
            If the lines are in a geographic CRS, are not lines, or have non-finite coordinates.
        """
        parts = _line_parts(lines)
        connectors = _gap_connectors(parts, params.node_tolerance_m)
        if len(parts) == 0:
            logger.warning("walking network: no usable road lines; all distances will be "
                           "straight-line x %.2f", params.detour_factor)
            empty = np.empty(0, dtype=np.int64)
            return cls(np.empty((0, 2)), empty, empty, np.empty(0, dtype=object), params=params)
        merged = shapely.unary_union(np.concatenate([parts, connectors]), grid_size=GRID_M)
        merged = shapely.line_merge(merged)
        pieces = shapely.get_parts(merged)
        pieces = pieces[(shapely.get_type_id(pieces) == 1) & (shapely.length(pieces) > 0)]
        ends = np.concatenate([shapely.get_coordinates(shapely.get_point(pieces, 0)),
                               shapely.get_coordinates(shapely.get_point(pieces, -1))])
        nodes_xy, inverse = np.unique(ends, axis=0, return_inverse=True)
        inverse = inverse.reshape(-1)
        network = cls(nodes_xy, inverse[:len(pieces)], inverse[len(pieces):], pieces,
                      params=params)
        if logger.isEnabledFor(logging.INFO):
            logger.info("walking network: %d road parts, %d gap connectors -> %d nodes, %d edges, "
                        "%.1f km, %d components", len(parts), len(connectors), network.n_nodes,
                        network.n_edges, network.total_length_m / 1000, network.n_components)
        return network

    # ------------------------------------------------------------------ properties

    @property
    def nodes_xy(self) -> FloatArray:
        return self._nodes_xy

    @property
    def edge_u(self) -> IntArray:
        return self._edge_u

    @property
    def edge_v(self) -> IntArray:
        return self._edge_v

    @property
    def edge_length_m(self) -> FloatArray:
        return self._edge_length

    @property
    def edge_geometry(self) -> npt.NDArray[np.object_]:
        return self._edge_geometry

    @property
    def n_nodes(self) -> int:
        return len(self._nodes_xy)

    @property
    def n_edges(self) -> int:
        return len(self._edge_u)

    @property
    def total_length_m(self) -> float:
        return float(self._edge_length.sum())

    @property
    def n_components(self) -> int:
        """Number of connected pieces of the network (points in different ones fall back)."""
        if self.n_nodes == 0:
            return 0
        graph, _ = self._augment(np.empty(0, dtype=np.int64), np.empty(0))
        return int(connected_components(graph.csr, directed=False)[0])

    def __repr__(self) -> str:
        return (f"WalkNetwork(n_nodes={self.n_nodes}, n_edges={self.n_edges}, "
                f"total_length_m={self.total_length_m:.1f})")

    # ------------------------------------------------------------------ snapping

    def snap(self, xy: npt.ArrayLike, *, max_snap_m: float | None = None) -> Snapped:
        """Snap points to their nearest edge.

        Parameters
        ----------
        xy : array of shape (n, 2)
            Points, x and y in metres.
        max_snap_m : float, optional
            Points farther than this from every road are marked off the network; defaults to
            ``params.max_snap_m``.

        Returns
        -------
        Snapped
        """
        pts = _as_xy(xy, "xy")
        limit = self.params.max_snap_m if max_snap_m is None else float(max_snap_m)
        n = len(pts)
        edge = np.full(n, -1, dtype=np.int64)
        offset = np.full(n, np.nan)
        dist = np.full(n, np.inf)
        snapped = np.full((n, 2), np.nan)
        if n and self.n_edges:
            geoms = shapely.points(pts)
            (src, idx), d = self._tree.query_nearest(geoms, return_distance=True,
                                                     all_matches=False)
            edge[src] = idx
            dist[src] = d
            lines = self._edge_geometry[edge]
            offset = shapely.line_locate_point(lines, geoms)
            offset = np.clip(offset, 0.0, self._edge_length[edge])
            snapped = shapely.get_coordinates(shapely.line_interpolate_point(lines, offset))
        return Snapped(edge=edge, offset_m=offset, distance_m=dist, xy=snapped,
                       on_network=dist <= limit)

    def _augment(self, edge: IntArray, offset: FloatArray) -> tuple[_Graph, IntArray]:
        """Splice snap points into their edges; return the graph and each point's node."""
        nb, L, u, v = self.n_nodes, self._edge_length, self._edge_u, self._edge_v
        node = np.empty(len(edge), dtype=np.int64)
        at_u = offset <= _END_EPS_M
        at_v = ~at_u & (offset >= L[edge] - _END_EPS_M)
        node[at_u] = u[edge[at_u]]
        node[at_v] = v[edge[at_v]]
        inner = np.flatnonzero(~(at_u | at_v))
        order = inner[np.lexsort((offset[inner], edge[inner]))]
        E, T = edge[order], offset[order]
        new = np.r_[True, (E[1:] != E[:-1]) | (T[1:] != T[:-1])] if len(E) else np.empty(0, bool)
        node[order] = nb + np.cumsum(new) - 1
        E, T = E[new], T[new]  # one new node per distinct (edge, offset), sorted along the edge
        ids = nb + np.arange(len(E))
        first = np.r_[True, E[1:] != E[:-1]] if len(E) else np.empty(0, bool)
        last = np.r_[E[1:] != E[:-1], True] if len(E) else np.empty(0, bool)
        split = np.zeros(self.n_edges, dtype=bool)
        split[E] = True
        keep = np.flatnonzero(~split)
        mid = np.flatnonzero(~last)
        a = np.concatenate([u[keep], u[E[first]], ids[mid], ids[last]])
        b = np.concatenate([v[keep], ids[first], ids[mid + 1], v[E[last]]])
        e = np.concatenate([keep, E[first], E[mid], E[last]])
        t0 = np.concatenate([np.zeros(len(keep)), np.zeros(first.sum()), T[mid], T[last]])
        t1 = np.concatenate([L[keep], T[first], T[mid + 1], L[E[last]]])
        # both directions; drop loops; keep the shortest of parallel edges
        rows, cols = np.concatenate([a, b]), np.concatenate([b, a])
        e, t0, t1 = np.concatenate([e, e]), np.concatenate([t0, t1]), np.concatenate([t1, t0])
        w = np.abs(t1 - t0)
        ok = rows != cols
        rows, cols, e, t0, t1, w = rows[ok], cols[ok], e[ok], t0[ok], t1[ok], w[ok]
        o = np.lexsort((w, cols, rows))
        rows, cols, e, t0, t1, w = rows[o], cols[o], e[o], t0[o], t1[o], w[o]
        d = np.r_[True, (rows[1:] != rows[:-1]) | (cols[1:] != cols[:-1])] if len(rows) else ok[:0]
        rows, cols, e, t0, t1, w = rows[d], cols[d], e[d], t0[d], t1[d], w[d]
        n = nb + len(ids)
        indptr = np.zeros(n + 1, dtype=np.int32)
        np.cumsum(np.bincount(rows, minlength=n), out=indptr[1:])
        csr = sparse.csr_array((w, cols.astype(np.int32), indptr), shape=(n, n))
        return _Graph(csr, e, t0, t1), node

    def doorstep_pairs(self, xy: npt.ArrayLike, *, max_snap_m: float | None = None,
                       near_m: float = math.inf, reach: float = math.inf) -> IntArray:
        """Pairs of points that are next-door neighbours along the roads.

        Each point is snapped to the network (its "doorstep").  Two points are next-door
        neighbours when some road path joins their doorsteps without passing another point's
        doorstep on a dead-end lane: consecutive houses along a lane, houses whose lanes open onto
        the same street, houses along one through road (a through road stays shared: walking
        along it past a house is not entering that house's lane).  Points sharing a doorstep (flats of one building) are
        neighbours too.  Points off the network (farther than ``max_snap_m``) have none.

        Parameters
        ----------
        xy : array of shape (n, 2)
            Points, metres.
        max_snap_m : float, optional
            Default: the network's ``params.max_snap_m``.
        near_m, reach : float
            Across one stretch of road, two doorsteps are paired when they are at most ``near_m``
            metres apart in a straight line, or at most ``reach`` times the distance from either
            of them to its nearest other doorstep on that stretch.  A long empty road then joins
            each hamlet's end houses to the next hamlets' along it, not to every hamlet on it.
            Default: no limit (every doorstep on the stretch).

        Returns
        -------
        int array (m, 2)
            Unique pairs (i, j), i < j, of point indices.
        """
        pts = _as_xy(xy, "xy")
        if len(pts) < 2 or self.n_edges == 0:
            return np.empty((0, 2), dtype=np.int64)
        s = self.snap(pts, max_snap_m=max_snap_m)
        on = np.flatnonzero(s.on_network)
        if len(on) < 2:
            return np.empty((0, 2), dtype=np.int64)
        graph, node_of = self._augment(s.edge[on], s.offset_m[on])
        n_all = graph.csr.shape[0]
        coo = graph.csr.tocoo()
        r, c = coo.row.astype(np.int64), coo.col.astype(np.int64)
        # a doorstep on a dead-end lane closes the lane (the houses beyond are reached past it);
        # a doorstep on a through road does not: that road stays shared
        deg = np.bincount(np.r_[self._edge_u, self._edge_v], minlength=self.n_nodes)
        dead_edge = (deg[self._edge_u] == 1) | (deg[self._edge_v] == 1)
        node_edge = np.full(n_all, -1, dtype=np.int64)
        node_edge[r] = graph.edge
        is_door = np.zeros(n_all, dtype=bool)
        is_door[node_of] = True
        blocks = is_door.copy()
        spliced = np.flatnonzero(is_door[self.n_nodes:]) + self.n_nodes
        blocks[spliced] = dead_edge[node_edge[spliced]]
        at_node = node_of[node_of < self.n_nodes]
        blocks[at_node] = deg[at_node] <= 1
        # road pieces: components of the network once every blocking doorstep is taken out
        free = ~blocks[r] & ~blocks[c]
        road = sparse.coo_array((np.ones(int(free.sum())), (r[free], c[free])), shape=(n_all, n_all))
        _, piece = connected_components(road, directed=False)
        # blocking doorstep -> touching road pieces; other doorsteps belong to their piece
        pairs_nodes = [np.column_stack([r, c])[blocks[r] & blocks[c]]]
        touch = blocks[r] & ~blocks[c]
        through = np.flatnonzero(is_door & ~blocks)
        door_piece = np.unique(np.vstack([np.column_stack([r[touch], piece[c[touch]]]),
                                          np.column_stack([through, piece[through]])]), axis=0)
        order = np.argsort(door_piece[:, 1], kind="stable")
        door_piece = door_piece[order]
        cuts = np.flatnonzero(np.diff(door_piece[:, 1])) + 1
        node_xy = np.zeros((n_all, 2))
        node_xy[node_of] = s.xy[on]
        for members in np.split(door_piece[:, 0], cuts):
            if len(members) > 1:
                pairs_nodes.extend(_stretch_pairs(members, node_xy[members], near_m, reach))
        node_pairs = np.unique(np.sort(np.vstack(pairs_nodes), axis=1), axis=0)
        # back to points: every point of one doorstep node is a neighbour of every point of the other
        point_nodes = np.full(len(pts), -1, dtype=np.int64)
        point_nodes[on] = node_of
        order = np.argsort(point_nodes[on], kind="stable")
        sorted_nodes = point_nodes[on][order]
        sorted_points = on[order]
        starts = np.searchsorted(sorted_nodes, np.arange(n_all + 1))
        out = []
        for a_node, b_node in node_pairs:
            pa = sorted_points[starts[a_node]:starts[a_node + 1]]
            pb = sorted_points[starts[b_node]:starts[b_node + 1]]
            out.append(np.column_stack([np.repeat(pa, len(pb)), np.tile(pb, len(pa))]))
        for k in np.flatnonzero(np.diff(starts) > 1):  # points sharing one doorstep
            members = sorted_points[starts[k]:starts[k + 1]]
            a, b = np.triu_indices(len(members), k=1)
            out.append(np.column_stack([members[a], members[b]]))
        if not out:
            return np.empty((0, 2), dtype=np.int64)
        e = np.sort(np.vstack(out).astype(np.int64), axis=1)
        return np.unique(e[e[:, 0] != e[:, 1]], axis=0)

    # ------------------------------------------------------------------ paths

    def path(self, a_xy: npt.ArrayLike, b_xy: npt.ArrayLike, *,
             params: WalkingParams | None = None) -> shapely.LineString:
        """The walking path from point ``a`` to point ``b`` (see :meth:`paths`)."""
        return self.paths(np.reshape(np.asarray(a_xy, dtype=float), (1, 2)),
                          np.reshape(np.asarray(b_xy, dtype=float), (1, 2)), params=params)[0]

    def paths(self, a_xy: npt.ArrayLike, b_xy: npt.ArrayLike, *,
              params: WalkingParams | None = None) -> list[shapely.LineString]:
        """Walking path geometries for pairs of points, in metres (for route maps).

        Each path goes from ``a`` straight to its snap point, along the roads, then straight from
        ``b``'s snap point to ``b``; its length is the network distance of :func:`travel_matrices`
        (before rounding).  Where the matrices fall back (a point off the network, no path), the
        path is the straight line from ``a`` to ``b`` (its length is *not* multiplied by the detour
        factor); so it is with ``straight_cap`` where the straight line wins.  All pairs are solved
        together: pass a whole route at once.

        Parameters
        ----------
        a_xy, b_xy : arrays of shape (k, 2)
            Start and end points.
        params : WalkingParams, optional
            ``max_snap_m``, ``detour_factor`` and ``straight_cap``; default: the network's params.

        Returns
        -------
        list of shapely.LineString
        """
        a, b = _as_xy(a_xy, "a_xy"), _as_xy(b_xy, "b_xy")
        if len(a) != len(b):
            raise ValueError(f"a_xy and b_xy must have the same number of points, "
                             f"got {len(a)} and {len(b)}")
        params = self.params if params is None else params
        k = len(a)
        out = [shapely.LineString([a[i], b[i]]) for i in range(k)]
        if k == 0 or self.n_edges == 0:
            return out
        s = self.snap(np.vstack([a, b]), max_snap_m=params.max_snap_m)
        on = s.on_network
        graph, node_of = self._augment(s.edge[on], s.offset_m[on])
        node = np.full(2 * k, -1, dtype=np.int64)
        node[on] = node_of
        na, nb = node[:k], node[k:]
        todo = np.flatnonzero((na >= 0) & (nb >= 0))
        sources = np.unique(na[todo])
        per_chunk = max(1, _CHUNK_BYTES // (12 * graph.csr.shape[0]))
        for c0 in range(0, len(sources), per_chunk):
            chunk = sources[c0:c0 + per_chunk]
            dist, pred = dijkstra(graph.csr, directed=True, indices=chunk,
                                  return_predecessors=True)
            row_of = {int(n_): r for r, n_ in enumerate(chunk)}
            for i in todo[np.isin(na[todo], chunk)]:
                r = row_of[int(na[i])]
                walked = dist[r, nb[i]] + s.distance_m[i] + s.distance_m[k + i]
                if not np.isfinite(walked) or (params.straight_cap and walked > math.hypot(
                        *(a[i] - b[i])) * params.detour_factor):
                    continue
                coords = [a[i][None, :], s.xy[i][None, :]]
                coords += self._walk(graph, pred[r], int(na[i]), int(nb[i]))
                coords += [s.xy[k + i][None, :], b[i][None, :]]
                out[i] = _linestring(np.concatenate(coords))
        return out

    def _walk(self, graph: _Graph, pred: npt.NDArray[np.int32], src: int,
              dst: int) -> list[FloatArray]:
        """Coordinates of the network part of a path, from predecessors, piece by piece."""
        nodes = [dst]
        while nodes[-1] != src:
            nodes.append(int(pred[nodes[-1]]))
        nodes.reverse()
        indptr, indices = graph.csr.indptr, graph.csr.indices
        pieces = []
        for p, q in zip(nodes[:-1], nodes[1:]):
            j = indptr[p] + int(np.flatnonzero(indices[indptr[p]:indptr[p + 1]] == q)[0])
            e, t0, t1 = int(graph.edge[j]), float(graph.t0[j]), float(graph.t1[j])
            geom, length = self._edge_geometry[e], self._edge_length[e]
            if t0 == 0.0 and t1 == length:
                pieces.append(shapely.get_coordinates(geom))
            elif t0 == length and t1 == 0.0:
                pieces.append(shapely.get_coordinates(geom)[::-1])
            else:
                pieces.append(shapely.get_coordinates(substring(geom, t0, t1)))
        return pieces


def _stretch_pairs(members: IntArray, pts: FloatArray, near_m: float, reach: float) -> list[IntArray]:
    """Doorstep pairs across one stretch of road (see :meth:`WalkNetwork.doorstep_pairs`).

    Doorsteps at most ``near_m`` apart are paired; they form clusters (a hamlet's end of the
    road).  Two clusters are joined by their closest pair of doorsteps when that pair is at most
    ``reach`` times the distance from either cluster to its nearest other cluster.
    """
    near = cKDTree(pts).query_pairs(near_m, output_type="ndarray") if math.isfinite(near_m) else \
        np.column_stack(np.triu_indices(len(pts), k=1))
    out = [members[near]] if len(near) else []
    if not math.isfinite(reach) or not len(pts):
        return out
    g = sparse.coo_array((np.ones(len(near)), (near[:, 0], near[:, 1])), shape=(len(pts), len(pts))) \
        if len(near) else sparse.coo_array((len(pts), len(pts)))
    n_cl, cl = connected_components(g, directed=False)
    if n_cl < 2:
        return out
    # distance of the closest doorstep pair between every two clusters
    gap = np.full((n_cl, n_cl), np.inf)
    idx = [np.flatnonzero(cl == c) for c in range(n_cl)]
    for c in range(n_cl):
        tree_c = cKDTree(pts[idx[c]])
        for c2 in range(c + 1, n_cl):
            gap[c, c2] = gap[c2, c] = float(tree_c.query(pts[idx[c2]], k=1)[0].min())
    nearest = gap.min(axis=1)
    for c, c2 in zip(*np.triu_indices(n_cl, k=1)):
        if gap[c, c2] > reach * min(nearest[c], nearest[c2]):
            continue
        # not only the closest pair: every pair about as close (the doorsteps on both sides of a
        # street's mouth), so two groups can each reach the next hamlet by their own houses
        a = idx[c]
        b = idx[c2]
        d = np.hypot(*(pts[a][:, None, :] - pts[b][None, :, :]).transpose(2, 0, 1))
        ia, ib = np.nonzero(d <= _LINK_FACTOR * gap[c, c2] + _LINK_SLACK_M)
        out.append(members[np.column_stack([a[ia], b[ib]])])
    return out


# ---------------------------------------------------------------------- matrices


def travel_matrices(
    xy: npt.ArrayLike,
    network: WalkNetwork | None,
    *,
    to_xy: npt.ArrayLike | None = None,
    params: WalkingParams | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> TravelMatrices:
    """Walking distance and time matrices between points (households, depots), in whole units.

    Parameters
    ----------
    xy : array of shape (n, 2)
        Points, x and y in metres (same CRS as the network).
    network : WalkNetwork or None
        The roads; None means no roads: every pair is straight-line x ``detour_factor``.
    to_xy : array of shape (m, 2), optional
        Column points (e.g. a depot against households).  Default: the matrix is square over
        ``xy``, symmetric, with a zero diagonal.
    params : WalkingParams, optional
        Speed, ``detour_factor``, ``max_snap_m`` and ``straight_cap``; default: the network's params
        (or the defaults when there is no network).
    progress : callable(done, total), optional
        Called after each chunk of rows with the number of rows done and the total.

    Returns
    -------
    TravelMatrices
        ``distance_m`` and ``time_s`` as int32 (n, m), rounded once from float metres.

    Raises
    ------
    ValueError
        If points are not an (n, 2) array of finite numbers, or a distance does not fit in int32
        (coordinates not in metres?).
    """
    if params is None:
        params = network.params if network is not None else WalkingParams()
    src = _as_xy(xy, "xy")
    square = to_xy is None
    dst = src if square else _as_xy(to_xy, "to_xy")
    n, m = len(src), len(dst)
    speed = params.speed_mps
    distance = np.empty((n, m), dtype=np.int32)
    seconds = np.empty((n, m), dtype=np.int32)

    src_node = np.full(n, -1, dtype=np.int64)
    dst_node = np.full(m, -1, dtype=np.int64)
    src_snap, dst_snap = np.zeros(n), np.zeros(m)
    src_on, dst_on = np.zeros(n, dtype=bool), np.zeros(m, dtype=bool)
    graph = None
    if network is not None and network.n_edges and n and m:
        s = network.snap(src if square else np.vstack([src, dst]), max_snap_m=params.max_snap_m)
        on = s.on_network
        graph, node_of = network._augment(s.edge[on], s.offset_m[on])
        node = np.full(len(s), -1, dtype=np.int64)
        node[on] = node_of
        src_node, src_snap, src_on = node[:n], s.distance_m[:n], on[:n]
        dst_node, dst_snap, dst_on = ((src_node, src_snap, src_on) if square else
                                      (node[n:], s.distance_m[n:], on[n:]))

    cols_on = np.flatnonzero(dst_on)
    all_cols = len(cols_on) == m
    n_nodes = graph.csr.shape[0] if graph is not None else 0
    per_chunk = max(1, min(n, _CHUNK_BYTES // (8 * (n_nodes + 2 * m + 1)))) if n else 1
    fallback = 0
    for r0 in range(0, n, per_chunk):
        r1 = min(n, r0 + per_chunk)
        rows_on = np.flatnonzero(src_on[r0:r1])
        net = None
        if graph is not None and len(rows_on) and len(cols_on):
            sources, inv = np.unique(src_node[r0:r1][rows_on], return_inverse=True)
            d = dijkstra(graph.csr, directed=True, indices=sources)
            d = d[:, dst_node] if all_cols else d[:, dst_node[cols_on]]
            if len(sources) != len(rows_on) or (inv.reshape(-1) != np.arange(len(inv))).any():
                d = d[inv.reshape(-1)]
            d += src_snap[r0:r1][rows_on, None]
            d += dst_snap[cols_on][None, :]
            if len(rows_on) == r1 - r0 and all_cols:
                net = d
            else:
                net = np.full((r1 - r0, m), np.inf)
                net[np.ix_(rows_on, cols_on)] = d
            del d
        if net is None:
            net = np.full((r1 - r0, m), np.inf)
        if square:
            k = np.arange(r1 - r0)
            net[k, r0 + k] = 0.0
        if params.straight_cap:
            straight = np.hypot(src[r0:r1, None, 0] - dst[None, :, 0],
                                src[r0:r1, None, 1] - dst[None, :, 1])
            straight *= params.detour_factor
            fallback += int(np.count_nonzero(straight < net))
            np.minimum(net, straight, out=net)
            del straight
        else:
            bad_r, bad_c = np.nonzero(~np.isfinite(net))
            if len(bad_r):
                delta = src[r0 + bad_r] - dst[bad_c]
                net[bad_r, bad_c] = np.hypot(delta[:, 0], delta[:, 1]) * params.detour_factor
                fallback += len(bad_r)
        _store(distance[r0:r1], net, "distance_m")
        net /= speed  # time from the float distance: each matrix is rounded once
        _store(seconds[r0:r1], net, "time_s")
        del net
        if progress is not None:
            progress(r1, n)
    if square:
        _symmetrise_min(distance)
        _symmetrise_min(seconds)
    n_off = int(n - src_on.sum()) if square else int(n - src_on.sum() + m - dst_on.sum())
    if n_off or fallback:
        logger.info("walking matrices %dx%d: %d point(s) off the network (> %.0f m from a road), "
                    "%d pair(s) straight-line x %.2f", n, m, n_off, params.max_snap_m, fallback,
                    params.detour_factor)
    return TravelMatrices(distance_m=distance, time_s=seconds, on_network=src_on,
                          to_on_network=None if square else dst_on, fallback_pairs=fallback)


# ---------------------------------------------------------------------- helpers


def _store(out: npt.NDArray[np.int32], values: FloatArray, name: str) -> None:
    """Round float rows into int32 ``out`` (no float temporary), refusing values that do not fit."""
    if values.size and values.max() >= _INT32_MAX:
        raise ValueError(f"{name} exceeds the int32 range ({values.max():.3g}); are the "
                         f"coordinates in metres? Project to a metric CRS (UTM) first.")
    np.rint(values, out=out, casting="unsafe")


def _symmetrise_min(a: npt.NDArray[np.int32], block: int = 1024) -> None:
    """Make a square matrix symmetric in place (elementwise min with its transpose), blockwise.

    The network distance i->j equals j->i exactly only in exact arithmetic: float sums along the
    path in opposite orders may round to different whole metres.
    """
    n = a.shape[0]
    for i0 in range(0, n, block):
        for j0 in range(i0, n, block):
            upper, lower = a[i0:i0 + block, j0:j0 + block], a[j0:j0 + block, i0:i0 + block]
            low = np.minimum(upper, lower.T)
            upper[...] = low
            lower[...] = low.T


def _as_xy(xy: npt.ArrayLike, name: str) -> FloatArray:
    """Points as a float64 (n, 2) array of finite numbers, or a ValueError saying what is wrong."""
    try:
        arr = np.asarray(xy, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be an (n, 2) array of x, y metres; for shapely points or a "
                         f"GeoSeries use shapely.get_coordinates(points)") from exc
    if arr.ndim == 1 and arr.size == 0:
        arr = arr.reshape(0, 2)
    if arr.ndim != 2 or arr.shape[1] != 2:
        raise ValueError(f"{name} must have shape (n, 2) (x, y in metres), got {arr.shape}")
    bad = np.flatnonzero(~np.isfinite(arr).all(axis=1))
    if len(bad):
        raise ValueError(f"{name} has {len(bad)} point(s) with missing or infinite coordinates, "
                         f"rows {bad[:10].tolist()}{' ...' if len(bad) > 10 else ''}")
    return arr


def _line_parts(lines: Any) -> npt.NDArray[np.object_]:
    """Single-part 2D LineStrings of non-zero length from user lines, or a ValueError."""
    crs = getattr(lines, "crs", None)
    if crs is not None and getattr(crs, "is_geographic", False):
        raise ValueError(f"Road lines are in a geographic CRS ({crs.name}); lengths would be in "
                         f"degrees. Project them to a metric CRS first, e.g. "
                         f"lines.to_crs(lines.estimate_utm_crs()).")
    geoms = getattr(lines, "geometry", lines)
    if isinstance(geoms, shapely.Geometry):
        geoms = [geoms]
    arr = np.asarray(list(geoms) if not isinstance(geoms, np.ndarray) else geoms, dtype=object)
    arr = arr.reshape(-1)
    if len(arr) and not all(g is None or isinstance(g, shapely.Geometry) for g in arr):
        raise ValueError("lines must hold shapely geometries (LineString / MultiLineString)")
    missing = shapely.is_missing(arr) | shapely.is_empty(arr)
    kinds = shapely.get_type_id(arr)
    wrong = np.flatnonzero(~missing & ~np.isin(kinds, [1, 2, 5]))
    if len(wrong):
        names = sorted({arr[i].geom_type for i in wrong[:50]})
        raise ValueError(f"Road lines must be LineString or MultiLineString; {len(wrong)} are not "
                         f"({', '.join(names)}), rows {wrong[:10].tolist()}"
                         f"{' ...' if len(wrong) > 10 else ''}")
    if missing.any():
        logger.info("walking network: skipped %d missing or empty road geometries",
                    int(missing.sum()))
    arr = shapely.force_2d(arr[~missing])
    coords, which = shapely.get_coordinates(arr, return_index=True)
    bad = np.unique(which[~np.isfinite(coords).all(axis=1)])
    if len(bad):
        rows = np.flatnonzero(~missing)[bad]
        raise ValueError(f"{len(bad)} road line(s) have missing or infinite coordinates, rows "
                         f"{rows[:10].tolist()}{' ...' if len(bad) > 10 else ''}")
    parts = shapely.get_parts(arr)
    rings = np.flatnonzero(shapely.get_type_id(parts) == 2)
    parts[rings] = [shapely.LineString(parts[i].coords) for i in rings]
    return parts[shapely.length(parts) > 0]


def _gap_connectors(parts: npt.NDArray[np.object_], tol: float) -> npt.NDArray[np.object_]:
    """Short lines joining each dangling part end to the nearest other part within ``tol``.

    An end is dangling when it touches no other part.  The union that follows nodes the
    connector's far end into the line it reaches (snap rounding), so the gap is closed.
    """
    if tol <= 0 or len(parts) < 2:
        return np.empty(0, dtype=object)
    ends = np.concatenate([shapely.get_point(parts, 0), shapely.get_point(parts, -1)])
    owner = np.tile(np.arange(len(parts)), 2)
    pi, pj = shapely.STRtree(parts).query(ends, predicate="dwithin", distance=tol)
    other = owner[pi] != pj
    pi, pj = pi[other], pj[other]
    d = shapely.distance(ends[pi], parts[pj])
    touching = np.zeros(len(ends), dtype=bool)
    touching[pi[d == 0]] = True  # nodes exactly; any gap, however small, gets a connector
    gap = ~touching[pi]
    pi, pj, d = pi[gap], pj[gap], d[gap]
    if not len(pi):
        return np.empty(0, dtype=object)
    o = np.lexsort((d, pi))
    nearest = o[np.r_[True, pi[o][1:] != pi[o][:-1]]]
    return shapely.shortest_line(ends[pi[nearest]], parts[pj[nearest]])


def _linestring(coords: FloatArray) -> shapely.LineString:
    """A LineString without repeated consecutive points (at least two points)."""
    keep = np.r_[True, (np.diff(coords, axis=0) != 0).any(axis=1)]
    coords = coords[keep]
    if len(coords) < 2:
        coords = np.vstack([coords, coords])
    return shapely.LineString(coords)
