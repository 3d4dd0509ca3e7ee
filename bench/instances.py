"""Readers for public routing benchmarks, turned into :class:`planner.routing.RoutingProblem`.

Formats and integer conventions (as in ``/work/shared/data/bench/BKS.md``):

``solomon`` (``*.txt``, VRPTW, 100 customers)
    Distance-only DIMACS / LKH-3 convention: distance = travel time = floor(10 x euclidean);
    service times, windows and the depot's horizon x 10; capacity as given; the file's vehicle
    number as the fleet (every best-known distance-only solution uses fewer). Objective = total
    distance x 10, reported as that integer (compare with 8273 for C101).
``tsplib`` (``*.tsp``, EUC_2D)
    Distance = nint(euclidean) (TSPLIB95). One vehicle, city 1 as its depot, no time limits.
``cvrplib`` (``*.vrp``, EUC_2D, e.g. the X set)
    Distance = nint(euclidean), capacity from the file, one depot (``DEPOT_SECTION``), vehicles
    unlimited (as many as customers). Best-known value and routes from the ``.sol`` beside it.

Customer ids are the numbers in the file: Solomon ``CUST NO.`` (depot 0), TSPLIB and CVRPLIB the
``NODE_COORD_SECTION`` numbers. CVRPLIB ``.sol`` files number customers from 1 without the depot
(node id - 1 when the depot is node 1); :func:`read_sol` converts them to node ids.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from planner.routing import Route, RoutingProblem, RoutingResult, Vehicle, Visit  # noqa: E402

HORIZON = 10**9
"""Vehicle window of instances without time limits (TSP, CVRP): far beyond any route."""


@dataclass
class Instance:
    """A benchmark instance: the problem plus the file's numbering and best-known value."""

    name: str
    kind: str          # solomon | tsplib | cvrplib
    convention: str
    problem: RoutingProblem
    ids: list[int]     # file id of each client, in problem order
    depot_id: int
    bks: int | None = None
    bks_routes: list[list[int]] | None = None
    meta: dict = field(default_factory=dict)

    def to_file_ids(self, routes: list[list[int]]) -> list[list[int]]:
        """Client indices -> file ids; a TSP tour also lists the depot city first."""
        out = [[self.ids[c] for c in r] for r in routes if r]
        if self.kind == "tsplib":
            return [[self.depot_id] + r for r in out] or [[self.depot_id]]
        return out

    def from_file_ids(self, routes: list[list[int]]) -> list[list[int]]:
        """File ids -> client indices (the TSP depot city is dropped)."""
        pos = {i: k for k, i in enumerate(self.ids)}
        out = []
        for r in routes:
            out.append([pos[i] for i in r if not (self.kind == "tsplib" and i == self.depot_id)])
        return out


def _euclid(xy: np.ndarray) -> np.ndarray:
    diff = xy[:, None, :] - xy[None, :, :]
    return np.sqrt((diff ** 2).sum(-1))


def read_solomon(path: str | Path) -> Instance:
    path = Path(path)
    lines = [ln.split() for ln in path.read_text().splitlines()]
    name = lines[0][0] if lines and lines[0] else path.stem
    n_veh = cap = None
    rows = []
    for i, toks in enumerate(lines):
        if toks[:2] == ["NUMBER", "CAPACITY"]:
            n_veh, cap = int(lines[i + 1][0]), int(lines[i + 1][1])
        elif len(toks) == 7 and all(re.fullmatch(r"-?\d+(\.\d+)?", t) for t in toks):
            rows.append([float(t) for t in toks])
    if n_veh is None or not rows:
        raise ValueError(f"{path}: not a Solomon instance (no VEHICLE/CUSTOMER sections)")
    a = np.array(rows)
    if a[0, 0] != 0:
        raise ValueError(f"{path}: the first customer row must be the depot (number 0)")
    xy = a[:, 1:3]
    d = np.floor(10 * _euclid(xy) + 1e-9).astype(np.int64)
    np.fill_diagonal(d, 0)
    early = np.rint(a[:, 4] * 10).astype(np.int64)
    late = np.rint(a[:, 5] * 10).astype(np.int64)
    service = np.rint(a[:, 6] * 10).astype(np.int64)
    demand = np.rint(a[:, 3]).astype(np.int64)
    vehicles = [Vehicle(0, 0, int(early[0]), int(late[0]), capacity=cap, name=f"v{k + 1}")
                for k in range(n_veh)]
    ids = [int(x) for x in a[1:, 0]]
    problem = RoutingProblem(duration_s=d, distance_m=d, n_depots=1, service_s=service[1:],
                             tw_early_s=early[1:], tw_late_s=late[1:],
                             required=np.ones(len(ids), bool), prize=np.zeros(len(ids), np.int64),
                             vehicles=vehicles, demand=demand[1:],
                             client_ids=[str(i) for i in ids])
    return Instance(name=name, kind="solomon",
                    convention="solomon distance-only: floor(10 x euclidean), objective x10",
                    problem=problem, ids=ids, depot_id=0, meta={"vehicles_in_file": n_veh})


def _tsplib_sections(path: Path) -> tuple[dict[str, str], dict[str, list[list[str]]]]:
    spec: dict[str, str] = {}
    sections: dict[str, list[list[str]]] = {}
    current = None
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line == "EOF":
            continue
        m = re.match(r"^([A-Z_]+)\s*:\s*(.*)$", line)
        if m and not line.endswith("SECTION"):
            spec[m.group(1)] = m.group(2).strip().strip('"')
            current = None
        elif re.match(r"^[A-Z_]+SECTION\b", line):
            current = line.split()[0]
            sections[current] = []
        elif current is not None:
            sections[current].append(line.split())
    return spec, sections


def _nint_matrix(coords: list[list[str]], path: Path,
                 spec: dict[str, str]) -> tuple[list[int], np.ndarray]:
    if spec.get("EDGE_WEIGHT_TYPE", "").upper() != "EUC_2D":
        raise ValueError(f"{path}: only EDGE_WEIGHT_TYPE EUC_2D is supported, "
                         f"got {spec.get('EDGE_WEIGHT_TYPE')!r}")
    ids = [int(c[0]) for c in coords]
    xy = np.array([[float(c[1]), float(c[2])] for c in coords])
    d = np.floor(_euclid(xy) + 0.5).astype(np.int64)
    np.fill_diagonal(d, 0)
    return ids, d


def read_tsplib(path: str | Path) -> Instance:
    path = Path(path)
    spec, sec = _tsplib_sections(path)
    if spec.get("TYPE", "").upper() != "TSP":
        raise ValueError(f"{path}: TYPE must be TSP, got {spec.get('TYPE')!r}")
    ids, d = _nint_matrix(sec.get("NODE_COORD_SECTION", []), path, spec)
    n = len(ids) - 1
    problem = RoutingProblem(duration_s=d, distance_m=d, n_depots=1,
                             service_s=np.zeros(n, np.int64), tw_early_s=np.zeros(n, np.int64),
                             tw_late_s=np.full(n, HORIZON, np.int64),
                             required=np.ones(n, bool), prize=np.zeros(n, np.int64),
                             vehicles=[Vehicle(0, 0, 0, HORIZON, name="tour")],
                             client_ids=[str(i) for i in ids[1:]])
    return Instance(name=spec.get("NAME", path.stem), kind="tsplib",
                    convention="tsplib EUC_2D: nint(euclidean)", problem=problem, ids=ids[1:],
                    depot_id=ids[0])


def read_cvrplib(path: str | Path) -> Instance:
    path = Path(path)
    spec, sec = _tsplib_sections(path)
    if spec.get("TYPE", "").upper() != "CVRP":
        raise ValueError(f"{path}: TYPE must be CVRP, got {spec.get('TYPE')!r}")
    ids, d = _nint_matrix(sec.get("NODE_COORD_SECTION", []), path, spec)
    demand_of = {int(r[0]): int(r[1]) for r in sec.get("DEMAND_SECTION", [])}
    depots = [int(r[0]) for r in sec.get("DEPOT_SECTION", []) if int(r[0]) != -1]
    if len(depots) != 1:
        raise ValueError(f"{path}: exactly one depot expected, got {depots}")
    dep = depots[0]
    order = [ids.index(dep)] + [k for k, i in enumerate(ids) if i != dep]
    d = d[np.ix_(order, order)]
    cids = [ids[k] for k in order[1:]]
    n = len(cids)
    cap = int(spec["CAPACITY"])
    vehicles = [Vehicle(0, 0, 0, HORIZON, capacity=cap, name=f"v{k + 1}") for k in range(n)]
    problem = RoutingProblem(duration_s=d, distance_m=d, n_depots=1,
                             service_s=np.zeros(n, np.int64), tw_early_s=np.zeros(n, np.int64),
                             tw_late_s=np.full(n, HORIZON, np.int64), required=np.ones(n, bool),
                             prize=np.zeros(n, np.int64), vehicles=vehicles,
                             demand=np.array([demand_of[i] for i in cids], np.int64),
                             client_ids=[str(i) for i in cids])
    inst = Instance(name=spec.get("NAME", path.stem), kind="cvrplib",
                    convention="cvrplib EUC_2D: nint(euclidean), capacity", problem=problem,
                    ids=cids, depot_id=dep)
    sol = path.with_suffix(".sol")
    if sol.exists():
        inst.bks_routes, inst.bks = read_sol(sol, inst)
    return inst


def read_sol(path: str | Path, instance: Instance | None = None) -> tuple[list[list[int]], int]:
    """A CVRPLIB ``.sol`` file: routes (as node ids of ``instance`` if given) and the cost."""
    routes: list[list[int]] = []
    cost = None
    for line in Path(path).read_text().splitlines():
        m = re.match(r"^\s*Route\s*#\d+\s*:(.*)$", line)
        if m:
            routes.append([int(t) for t in m.group(1).split()])
        m = re.match(r"^\s*Cost\s+(-?[\d.]+)", line)
        if m:
            cost = int(round(float(m.group(1))))
    if cost is None:
        raise ValueError(f"{path}: no 'Cost' line")
    if instance is not None:
        # .sol customers are 1..n in node order without the depot
        nodes = sorted(instance.ids + [instance.depot_id])
        customers = [i for i in nodes if i != instance.depot_id]
        routes = [[customers[c - 1] for c in r] for r in routes]
    return routes, cost


def read_bks(path: str | Path) -> dict[str, int]:
    """Best-known values from BKS.md: the first integer in the second column of each table row
    (for Solomon the distance-only x10 value)."""
    out: dict[str, int] = {}
    for line in Path(path).read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 2 and line.lstrip().startswith("|"):
            m = re.match(r"^(\d+)\b", cells[1])
            if m and not set(cells[0]) <= set("-: "):
                out[cells[0]] = int(m.group(1))
    return out


def read_instance(path: str | Path, bks: dict[str, int] | None = None) -> Instance:
    """Any supported file, by extension (``.txt`` Solomon, ``.tsp``, ``.vrp``); the best-known
    value from ``bks`` (see :func:`read_bks`) or, by default, the BKS.md two folders up."""
    path = Path(path)
    ext = path.suffix.lower()
    if ext == ".tsp":
        inst = read_tsplib(path)
    elif ext == ".vrp":
        inst = read_cvrplib(path)
    elif ext == ".txt":
        inst = read_solomon(path)
    else:
        raise ValueError(f"{path}: unknown benchmark format (expected .txt, .tsp or .vrp)")
    if bks is None:
        for cand in (path.parent / "BKS.md", path.parent.parent / "BKS.md"):
            if cand.exists():
                bks = read_bks(cand)
                break
    if inst.bks is None and bks and inst.name in bks:
        inst.bks = bks[inst.name]
    return inst


def route_distance(instance: Instance, routes: list[list[int]]) -> int:
    """Total distance of client-index routes, recomputed from the instance's matrix."""
    p = instance.problem
    total = 0
    for r in routes:
        if not r:
            continue
        locs = [0] + [p.n_depots + c for c in r] + [0]
        total += int(sum(p.distance_m[a, b] for a, b in zip(locs[:-1], locs[1:])))
    return total


def result_from_routes(instance: Instance, routes: list[list[int]], *, engine: str = "external",
                       times: list[list[tuple[int, int]]] | None = None,
                       starts: list[int] | None = None,
                       ends: list[int] | None = None) -> RoutingResult:
    """A :class:`RoutingResult` for client-index routes, for :func:`planner.check.check_routes`.

    With ``times`` (service start and end per visit) and ``starts``/``ends`` the caller's own
    schedule is used (e.g. VROOM's); otherwise every route leaves at its vehicle's window opening
    and serves each client as early as possible (waiting when early). Benchmark vehicles have no
    maximum duration, so this earliest schedule is feasible whenever the order is. Routes go to
    vehicles 0, 1, ... in order.
    """
    p = instance.problem
    out_routes = []
    served = set()
    for v, r in enumerate([r for r in routes if r]):
        veh = p.vehicles[v] if v < len(p.vehicles) else p.vehicles[-1]
        locs = [veh.start_depot] + [p.n_depots + c for c in r] + [veh.end_depot]
        visits = []
        if times is not None:
            visits = [Visit(c, int(a), int(b)) for c, (a, b) in zip(r, times[v])]
            start, end = int(starts[v]), int(ends[v])
        else:
            t = start = veh.tw_early_s
            for k, c in enumerate(r):
                a = max(t + int(p.duration_s[locs[k], locs[k + 1]]), int(p.tw_early_s[c]))
                visits.append(Visit(c, a, a + int(p.service_s[c])))
                t = a + int(p.service_s[c])
            end = t + int(p.duration_s[locs[-2], locs[-1]])
        served.update(r)
        dist = int(sum(p.distance_m[a, b] for a, b in zip(locs[:-1], locs[1:])))
        out_routes.append(Route(vehicle=v, visits=visits, distance_m=dist, duration_s=end - start,
                                start_s=start, end_s=end, start_depot=veh.start_depot,
                                end_depot=veh.end_depot))
    unassigned = [(c, "no_time") for c in range(p.n_clients) if c not in served]
    return RoutingResult(routes=out_routes, unassigned=unassigned,
                         distance_m=sum(r.distance_m for r in out_routes), engine=engine,
                         status="", seconds=0.0, feasible=False)


__all__ = ["Instance", "read_solomon", "read_tsplib", "read_cvrplib", "read_sol", "read_bks",
           "read_instance", "route_distance", "result_from_routes", "HORIZON"]
