"""Seeded synthetic Chinese rural villages and towns for the zoning benchmark.

A village (行政村) is drawn in metres around a main road that winds gently through it:

* **natural villages** (自然村): fishbone clusters of households strung along dead-end lanes off a
  village street that leaves the main road; along a lane households stand on both sides,
  10-18 m apart inside a cluster and 25-60 m between clusters (as in the routing notes'
  "village month instances");
* **compounds** (居民小区): dense grids of apartment buildings on internal lanes behind an access
  road; every household of a building stands at (almost) the same point, its entrance
  (20-60 households per building);
* a few **scattered farms** (散居户) at the end of driveways off the main road, in the fields
  between the natural villages; they form one ``scattered`` unit.

Walking distances are network distances on these road lines (:mod:`geo.network`), so two
households of neighbouring lanes walk round by the street.  Everything is deterministic given the
numpy ``Generator`` (``make_village``) or the seed (``make_town``).

``household_graph`` (a household adjacency graph for contiguity: Delaunay + Gabriel + walking MST)
lives here for now; it belongs in ``geo/``.  Problems use the product's own builder,
``geo.adjacency.household_graph``, by default (``graph="geo"``), so the benchmark measures the
graph the product zones on; ``graph="bench"`` selects this module's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np
import numpy.typing as npt
import shapely
from scipy.spatial import Delaunay, QhullError

from geo.adjacency import dense_mst
from geo.network import WalkingParams, WalkNetwork, travel_matrices
from planner.zones import ZoningProblem

__all__ = [
    "SynthVillage",
    "make_village",
    "make_town",
    "household_graph",
    "largest_remainder",
    "HOUSEHOLDS_PER_GROUP",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

HOUSEHOLDS_PER_GROUP = 250
"""Workload quota of one "2+1" group in the synthetic town, in households (10-minute visits)."""

SERVICE_MIN = 10.0
"""Visit minutes per household; a household with a tag (elderly, low income, ...) takes 5 more."""
TAG_EXTRA_MIN = 5.0


# ---------------------------------------------------------------------- the village


@dataclass(frozen=True)
class SynthVillage:
    """One synthetic administrative village (positions in metres, a local metric CRS).

    Attributes
    ----------
    name : str
        Village id, e.g. ``T00-V07``.
    household_ids : list of str
    xy : float array (n, 2)
        Household positions, metres.
    unit_of : int array (n,)
        Index into ``unit_ids`` of each household's unit (natural village, compound, scattered).
    unit_ids, unit_kinds : list of str
        ``unit_kinds`` from ``natural_village``, ``compound``, ``scattered``.
    unit_polygons : list of shapely Polygon or None
        Outline of each unit (buffered convex hull of its households); None for ``scattered``.
    tags : bool array (n,)
        The household has a tag (elderly living alone, low income, ...): a longer visit.
    roads : list of shapely LineString
        Main road, village streets, lanes, compound lanes and farm driveways (not noded).
    n_groups : int
        Number of "2+1" groups of the village (zones wanted).
    depot_xy : float array (2,)
        Village committee office, on the main road.
    """

    name: str
    household_ids: list[str]
    xy: FloatArray
    unit_of: IntArray
    unit_ids: list[str]
    unit_kinds: list[str]
    unit_polygons: list
    tags: npt.NDArray[np.bool_]
    roads: list
    n_groups: int
    depot_xy: FloatArray
    _cache: dict = field(default_factory=dict, repr=False, compare=False)

    @property
    def n(self) -> int:
        return len(self.household_ids)

    @property
    def service_min(self) -> FloatArray:
        """Visit minutes per household: 10, plus 5 for a tagged household."""
        return SERVICE_MIN + TAG_EXTRA_MIN * self.tags.astype(np.float64)

    def network(self, params: WalkingParams = WalkingParams()) -> WalkNetwork:
        """The walking network of the village's roads; built once."""
        key = ("network", params)
        if key not in self._cache:
            self._cache[key] = WalkNetwork.from_lines(self.roads, params=params)
        return self._cache[key]

    def walk_m(self, params: WalkingParams = WalkingParams()) -> npt.NDArray[np.int32]:
        """Walking distances (metres, int32, n x n) on the village's roads; computed once."""
        key = ("walk", params)
        if key not in self._cache:
            self._cache[key] = travel_matrices(self.xy, self.network(params), params=params).distance_m
        return self._cache[key]

    def edges(self, params: WalkingParams = WalkingParams(), *, graph: str = "geo") -> IntArray:
        """Household adjacency graph; computed once.

        ``graph="geo"``: the product's builder, ``geo.adjacency.household_graph`` with the
        village's roads (next-door neighbours along the roads included); ``graph="bench"``:
        :func:`household_graph` of this module (Delaunay + Gabriel + walking MST).
        """
        if graph not in ("geo", "bench"):
            raise ValueError(f"graph must be 'geo' or 'bench', got {graph!r}")
        key = ("edges", params, graph)
        if key not in self._cache:
            if graph == "geo":
                from geo.adjacency import household_graph as product_graph

                e = product_graph(self.xy, self.walk_m(params), network=self.network(params))
            else:
                e = household_graph(self.xy, self.walk_m(params))
            self._cache[key] = np.asarray(e, dtype=np.int64).reshape(-1, 2)
        return self._cache[key]

    def to_problem(self, *, n_groups: int | None = None,
                   walking: WalkingParams = WalkingParams(), graph: str = "geo") -> ZoningProblem:
        """The village as a :class:`planner.zones.ZoningProblem`.

        Service minutes: 10 per household, 15 for a tagged one; ``walk_m`` from the road network;
        ``edges`` from :meth:`edges` (``graph``).  ``n_groups`` overrides the village's own.
        """
        return ZoningProblem(
            household_ids=list(self.household_ids),
            unit_of=self.unit_of.copy(),
            unit_ids=list(self.unit_ids),
            unit_kinds=list(self.unit_kinds),
            service_min=self.service_min,
            walk_m=self.walk_m(walking),
            edges=self.edges(walking, graph=graph),
            xy=self.xy.copy(),
            n_groups=int(self.n_groups if n_groups is None else n_groups),
            walk_speed_m_per_min=walking.speed_kmh * 1000.0 / 60.0,
        )

    def perturb(self, rng: np.random.Generator, *, drop: float = 0.02,
                add: float = 0.02) -> tuple[SynthVillage, IntArray]:
        """A small data change: drop a share of households, add new ones next to existing ones.

        New households stand 8-20 m from a random existing household, in its unit.  No unit loses
        its last household.

        Returns
        -------
        (SynthVillage, origin)
            The changed village, and for each of its households the position it had in this
            village, or -1 for a new household (so ``previous = old_assignment[origin]`` with -1
            where ``origin < 0``).
        """
        n = self.n
        n_drop, n_add = int(round(drop * n)), int(round(add * n))
        keep = np.ones(n, dtype=bool)
        left = np.bincount(self.unit_of, minlength=len(self.unit_ids))
        for i in rng.permutation(n):
            if n_drop == 0:
                break
            if left[self.unit_of[i]] > 1:
                keep[i] = False
                left[self.unit_of[i]] -= 1
                n_drop -= 1
        kept = np.flatnonzero(keep)
        near = rng.choice(kept, n_add, replace=True) if n_add else np.empty(0, np.int64)
        ang = rng.uniform(0, 2 * np.pi, n_add)
        dist = rng.uniform(8, 20, n_add)
        new_xy = self.xy[near] + np.c_[np.cos(ang), np.sin(ang)] * dist[:, None]
        ids = [self.household_ids[i] for i in kept] + [
            f"{self.name}-N{j:04d}" for j in range(n_add)]
        origin = np.r_[kept, np.full(n_add, -1)].astype(np.int64)
        changed = replace(
            self,
            household_ids=ids,
            xy=np.vstack([self.xy[kept], new_xy]),
            unit_of=np.r_[self.unit_of[kept], self.unit_of[near]].astype(np.int64),
            tags=np.r_[self.tags[kept], rng.random(n_add) < 0.2],
            _cache={},
        )
        return changed, origin


# ---------------------------------------------------------------------- adjacency graph


def household_graph(xy: npt.ArrayLike, walk_m: npt.ArrayLike, *, detour: float = 2.5,
                    slack_m: float = 50.0, gabriel: bool = True) -> IntArray:
    """Household adjacency graph for zone contiguity.

    Edges of the Delaunay triangulation of the household points whose walking distance is at
    most ``detour`` x straight distance + ``slack_m`` (neighbours across a field or a river with
    no path between them are not adjacent), plus the minimum spanning tree of the walking matrix,
    so the graph is connected.

    With ``gabriel`` (default) only Delaunay edges of the Gabriel graph are kept (no household
    inside the circle on the edge as diameter): this drops the long, thin triangles along the
    convex hull that would otherwise join households kilometres apart along a bent main road or
    across a concave village (with ``gabriel=False`` a zone made of two far ends of a village could
    count as contiguous).  The Gabriel graph holds the Euclidean MST, so nothing local is lost.

    Parameters
    ----------
    xy : (n, 2) metres
    walk_m : (n, n) walking distances, metres

    Returns
    -------
    int64 array (m, 2)
        Unique pairs ``i < j``, sorted.
    """
    xy = np.asarray(xy, dtype=np.float64)
    walk = np.asarray(walk_m)
    n = len(xy)
    parts = [np.empty((0, 2), dtype=np.int64)]
    if n >= 3:
        try:
            tri = Delaunay(xy, qhull_options="QJ")
        except (QhullError, ValueError):
            tri = None
        if tri is not None:
            s = tri.simplices
            e = np.concatenate([s[:, [0, 1]], s[:, [1, 2]], s[:, [0, 2]]]).astype(np.int64)
            if gabriel:  # drop an edge when the opposite corner of a triangle has an obtuse angle
                c = np.concatenate([s[:, 2], s[:, 0], s[:, 1]]).astype(np.int64)
                obtuse = np.einsum("ij,ij->i", xy[e[:, 0]] - xy[c], xy[e[:, 1]] - xy[c]) < 0
                e = np.sort(e, axis=1)
                bad = np.unique(e[obtuse], axis=0)
                e = np.unique(e, axis=0)
                if len(bad):
                    key = e[:, 0] * n + e[:, 1]
                    e = e[~np.isin(key, bad[:, 0] * n + bad[:, 1])]
            else:
                e = np.unique(np.sort(e, axis=1), axis=0)
            e = e[e[:, 0] != e[:, 1]]
            straight = np.hypot(*(xy[e[:, 0]] - xy[e[:, 1]]).T)
            ok = walk[e[:, 0], e[:, 1]] <= detour * straight + slack_m
            parts.append(e[ok])
    tree, _ = dense_mst(walk)
    parts.append(np.sort(tree, axis=1))
    edges = np.unique(np.concatenate(parts), axis=0)
    return edges.astype(np.int64).reshape(-1, 2)


# ---------------------------------------------------------------------- drawing


def _split(rng: np.random.Generator, total: int, parts: int, *, minimum: int = 1,
           alpha: float = 2.0) -> IntArray:
    """``total`` split into ``parts`` random integers >= ``minimum`` (Dirichlet shares)."""
    if parts <= 0:
        return np.empty(0, dtype=np.int64)
    minimum = min(minimum, total // parts)
    free = total - minimum * parts
    share = rng.dirichlet(np.full(parts, alpha))
    return minimum + largest_remainder(share * free, free)


def largest_remainder(quota: npt.ArrayLike, total: int, *, minimum: int = 0) -> IntArray:
    """Integers summing to ``total``, proportional to ``quota`` (largest-remainder rounding),
    each at least ``minimum`` (taken from the most over-served ones when needed)."""
    q = np.asarray(quota, dtype=np.float64)
    if len(q) == 0:
        return np.empty(0, dtype=np.int64)
    if minimum * len(q) > total:
        raise ValueError(f"cannot give {len(q)} parts at least {minimum} out of {total}")
    q = q / q.sum() * total if q.sum() > 0 else np.full(len(q), total / len(q))
    out = np.floor(q).astype(np.int64)
    order = np.argsort(-(q - out), kind="stable")
    out[order[:total - int(out.sum())]] += 1
    while (out < minimum).any():
        out[int(np.argmin(out))] += 1
        over = np.flatnonzero(out > minimum)
        out[over[int(np.argmax((out - q)[over]))]] -= 1
    return out


def _lane_positions(rng: np.random.Generator, m: int) -> tuple[FloatArray, FloatArray]:
    """Along-lane position and side offset of ``m`` households strung along one lane."""
    along, side = [], []
    pos = rng.uniform(8, 15)
    in_cluster = int(rng.integers(3, 10))
    while len(along) < m:
        both = rng.random() < 0.5 and m - len(along) >= 2
        for s in ((-1, 1) if both else (rng.choice((-1, 1)),)):
            along.append(pos + rng.normal(0, 1.0))
            side.append(s * rng.uniform(6, 10))
        in_cluster -= 1
        if in_cluster == 0:
            pos += rng.uniform(25, 60)
            in_cluster = int(rng.integers(3, 10))
        else:
            pos += rng.uniform(10, 18)
    return np.asarray(along), np.asarray(side)


@dataclass
class _Block:
    """A unit drawn in its own frame: x along the main road from 0 to ``width``, y away from it."""

    kind: str
    xy: FloatArray
    roads: list
    width: float


def _natural_village(rng: np.random.Generator, m: int) -> _Block:
    """Fishbone: a street leaving the main road, lanes in pairs to both sides, houses on lanes."""
    n_lanes = max(1, int(round(m / rng.uniform(10, 20))))
    per_lane = _split(rng, m, n_lanes, minimum=1, alpha=3.0)
    lanes = []  # (side, along, offset, length)
    for c in per_lane:
        along, off = _lane_positions(rng, int(c))
        lanes.append((along, off, float(along.max() + rng.uniform(5, 15))))
    left = [ln for j, ln in enumerate(lanes) if j % 2 == 0]
    right = [ln for j, ln in enumerate(lanes) if j % 2 == 1]
    margin = 15.0
    x0 = margin + max(ln[2] for ln in left)
    width = x0 + (max(ln[2] for ln in right) if right else 0.0) + margin
    pts, roads = [], []
    y_attach = rng.uniform(25, 40) + np.cumsum(np.r_[0, rng.uniform(40, 70, len(left))])
    for j, (along, off, length) in enumerate(lanes):
        sign = -1.0 if j % 2 == 0 else 1.0
        y = float(y_attach[j // 2])
        roads.append(shapely.LineString([(x0, y), (x0 + sign * length, y)]))
        pts.append(np.c_[x0 + sign * along, y + off])
    street_end = float(y_attach[(len(lanes) - 1) // 2]) + rng.uniform(10, 25)
    roads.append(shapely.LineString([(x0, 0.0), (x0, street_end)]))
    return _Block("natural_village", np.vstack(pts), roads, width)


def _compound(rng: np.random.Generator, m: int) -> _Block:
    """Grid of apartment buildings on row lanes, behind an access road; households at entrances."""
    n_buildings = max(1, int(math.ceil(m / rng.uniform(20, 60))))
    per_building = _split(rng, m, n_buildings, minimum=1, alpha=8.0)
    cols = max(1, int(math.ceil(math.sqrt(n_buildings * 1.5))))
    rows = int(math.ceil(n_buildings / cols))
    sx, sy = rng.uniform(30, 45), rng.uniform(25, 40)
    margin, setback = 20.0, rng.uniform(20, 50)
    width = 2 * margin + (cols - 1) * sx
    x_mid = width / 2
    roads = [shapely.LineString([(x_mid, 0.0), (x_mid, setback + (rows - 1) * sy)])]
    for r in range(rows):
        y = setback + r * sy
        roads.append(shapely.LineString([(margin - 10, y), (width - margin + 10, y)]))
    pts = []
    for b, c in enumerate(per_building):
        r, k = divmod(b, cols)
        door = np.array([margin + k * sx, setback + r * sy + 8.0])
        pts.append(door + rng.normal(0, 0.8, (int(c), 2)))
    return _Block("compound", np.vstack(pts), roads, width)


def make_village(
    rng: np.random.Generator,
    *,
    n_households: int,
    n_units: int,
    n_compounds: int,
    n_farms: int | None = None,
    compound_share: float | None = None,
    n_groups: int | None = None,
    tag_share: float = 0.2,
    name: str = "V",
    origin: tuple[float, float] = (0.0, 0.0),
) -> SynthVillage:
    """Draw one village.

    Parameters
    ----------
    rng : numpy Generator
        All randomness comes from it: same state, same village.
    n_households : int
        Households in total (farms included).
    n_units : int
        Natural villages + compounds (the scattered-farms unit comes on top when ``n_farms > 0``).
    n_compounds : int
        How many of the units are compounds.
    n_farms : int, optional
        Scattered farms (one household each); default 2-6, at most 5% of the households.
    compound_share : float, optional
        Share of the non-farm households living in compounds; default 20-45% (all of them when
        every unit is a compound).
    n_groups : int, optional
        Zones wanted; default one group per :data:`HOUSEHOLDS_PER_GROUP` households, at least 1.
    tag_share : float
        Share of households with a tag (15-minute visits instead of 10).
    name : str
        Village id; households are ``<name>-H00000``..., units ``<name>-U00``...
    origin : (x, y)
        Where the village's main road starts, metres.

    Returns
    -------
    SynthVillage
    """
    if n_units < 1 or not 0 <= n_compounds <= n_units:
        raise ValueError("need n_units >= 1 and 0 <= n_compounds <= n_units")
    if n_farms is None:
        n_farms = min(int(rng.integers(2, 7)), n_households // 20)
    n_natural = n_units - n_compounds
    rest = n_households - n_farms
    if rest < n_units:
        raise ValueError(f"{n_households} households cannot fill {n_units} units and "
                         f"{n_farms} farms")
    if n_compounds == 0:
        in_compounds = 0
    elif n_natural == 0:
        in_compounds = rest
    else:
        share = rng.uniform(0.2, 0.45) if compound_share is None else compound_share
        in_compounds = int(np.clip(round(share * rest), n_compounds, rest - n_natural))
    sizes_c = _split(rng, in_compounds, n_compounds, minimum=min(20, in_compounds // n_compounds)
                     if n_compounds else 1, alpha=3.0)
    sizes_n = _split(rng, rest - in_compounds, n_natural,
                     minimum=min(15, (rest - in_compounds) // max(n_natural, 1)), alpha=2.0)
    kinds = ["natural_village"] * n_natural + ["compound"] * n_compounds
    sizes = np.r_[sizes_n, sizes_c].astype(np.int64)
    order = rng.permutation(n_units)  # order of the units along the main road

    # lay the units out along the main road (x), alternating sides at random; fields between
    blocks: list[tuple[int, _Block, float, float]] = []  # unit, block, x start, side
    cursor = {1.0: rng.uniform(50, 150), -1.0: rng.uniform(50, 150)}
    for u in order:
        blk = (_natural_village if kinds[u] == "natural_village" else _compound)(rng, int(sizes[u]))
        side = 1.0 if cursor[1.0] <= cursor[-1.0] else -1.0
        x = cursor[side]
        blocks.append((int(u), blk, x, side))
        cursor[side] = x + blk.width + rng.uniform(80, 300)
    road_len = max(cursor.values()) + 50.0

    xy_parts, unit_parts, roads = [], [], []
    for u, blk, x, side in blocks:
        xy_parts.append(np.c_[x + blk.xy[:, 0], side * blk.xy[:, 1]])
        unit_parts.append(np.full(len(blk.xy), u, dtype=np.int64))
        for ln in blk.roads:
            c = shapely.get_coordinates(ln)
            roads.append(shapely.LineString(np.c_[x + c[:, 0], side * c[:, 1]]))
    # scattered farms: driveways off the main road into the fields
    scattered = n_farms > 0
    if scattered:
        fx, fside = np.empty(n_farms), rng.choice((-1.0, 1.0), n_farms)
        for k in range(n_farms):  # in the fields between the units on that side
            taken = sorted((x, x + blk.width) for _, blk, x, s_ in blocks if s_ == fside[k])
            gaps, prev = [], 0.0
            for a, b in taken + [(road_len, road_len)]:
                if a - prev > 50:
                    gaps.append((prev + 25, a - 25))
                prev = max(prev, b)
            a, b = gaps[int(rng.integers(len(gaps)))]
            fx[k] = rng.uniform(a, b)
        depth = rng.uniform(120, 320, n_farms)
        for k in range(n_farms):
            roads.append(shapely.LineString([(fx[k], 0.0), (fx[k], fside[k] * depth[k])]))
        xy_parts.append(np.c_[fx + rng.uniform(8, 15, n_farms), fside * depth])
        unit_parts.append(np.full(n_farms, n_units, dtype=np.int64))
    roads.insert(0, shapely.LineString([(0.0, 0.0), (road_len, 0.0)]))
    depot = np.array([road_len / 2, 0.0])

    # a gentle bend of the main road (a shear that keeps streets straight and junctions exact),
    # then a random orientation and the village's place in the town
    amp, wave = rng.uniform(0, 150), rng.uniform(2000, 4000)
    phase, theta = rng.uniform(0, 2 * np.pi), rng.uniform(0, 2 * np.pi)
    rot = np.array([[math.cos(theta), -math.sin(theta)], [math.sin(theta), math.cos(theta)]])

    def place(p: FloatArray) -> FloatArray:
        q = np.c_[p[:, 0], p[:, 1] + amp * np.sin(2 * np.pi * p[:, 0] / wave + phase)]
        return q @ rot.T + np.asarray(origin, dtype=np.float64)

    xy = place(np.vstack(xy_parts))
    unit_of = np.concatenate(unit_parts)
    roads = [shapely.LineString(place(shapely.get_coordinates(ln)))
             for ln in shapely.segmentize(np.asarray(roads, dtype=object), 20.0)]
    depot = place(depot[None, :])[0]

    # households in unit order (stable), ids, tags, outlines
    o = np.argsort(unit_of, kind="stable")
    xy, unit_of = xy[o], unit_of[o]
    unit_ids = [f"{name}-U{u:02d}" for u in range(n_units)] + ([f"{name}-S"] if scattered else [])
    unit_kinds = kinds + (["scattered"] if scattered else [])
    polygons = []
    for u, kind in enumerate(unit_kinds):
        if kind == "scattered":
            polygons.append(None)
        else:
            hull = shapely.convex_hull(shapely.multipoints(xy[unit_of == u]))
            polygons.append(shapely.buffer(hull, 12.0))
    n = len(xy)
    if n_groups is None:
        n_groups = max(1, int(round(n / HOUSEHOLDS_PER_GROUP)))
    return SynthVillage(
        name=name,
        household_ids=[f"{name}-H{i:05d}" for i in range(n)],
        xy=xy,
        unit_of=unit_of,
        unit_ids=unit_ids,
        unit_kinds=unit_kinds,
        unit_polygons=polygons,
        tags=rng.random(n) < tag_share,
        roads=roads,
        n_groups=int(n_groups),
        depot_xy=depot,
    )


def make_town(seed: int = 0, n_villages: int = 30, households: int = 15_000,
              groups: int = 60) -> list[SynthVillage]:
    """A town: ``n_villages`` villages with ``households`` in all and ``groups`` groups in all.

    Village sizes are spread (log-normal, clipped to 0.3-3x the mean); each village gets about one
    natural village or compound per 75 households (2-15), a compound in one village out of two
    (two in the largest ones); groups go to villages by workload quota (service minutes),
    largest remainder, at least one per village.  Villages lie 10 km apart on a grid.
    Village ``i`` is drawn from ``default_rng([seed, i])``: same seed, same town.
    """
    rng = np.random.default_rng(seed)
    mean = households / n_villages
    raw = np.clip(rng.lognormal(0.0, 0.5, n_villages), 0.3, 3.0)
    sizes = largest_remainder(raw, households, minimum=max(30, int(0.25 * mean)))
    side = int(math.ceil(math.sqrt(n_villages)))
    villages = []
    for i, n in enumerate(sizes):
        vr = np.random.default_rng([seed, i])
        n_units = int(np.clip(round(n / 75 * vr.uniform(0.8, 1.25)), 2, 15))
        n_comp = int(vr.random() < 0.5) + int(n > 1.5 * mean and vr.random() < 0.5)
        n_comp = min(n_comp, n_units - 1)
        villages.append(make_village(
            vr, n_households=int(n), n_units=n_units, n_compounds=n_comp,
            name=f"T{seed:02d}-V{i:02d}", n_groups=1,
            origin=(10_000.0 * (i % side), 10_000.0 * (i // side))))
    quota = np.array([v.service_min.sum() for v in villages])
    k = largest_remainder(quota, groups, minimum=1)
    return [replace(v, n_groups=int(kv), _cache={}) for v, kv in zip(villages, k)]
