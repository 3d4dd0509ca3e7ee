"""OR-Tools routing engine (``engine="ortools"``).

Set-up (the measured one of ``notes/routing.md``)
  - Nodes = the depots some vehicle uses, then the clients that passed the pre-check; one vehicle
    per session with its own start and end node (``RoutingIndexManager(n, V, starts, ends)``).
  - Arc cost = the distance matrix, registered with ``RegisterTransitMatrix`` (not a Python
    callback); vehicle fixed cost = its own + the ``vehicles_first`` cost.
  - Time dimension (only when time can bind): transit = travel + service at the origin, slack up
    to the horizon (waiting allowed), client windows on the cumul vars, each vehicle's window on
    its start and end, ``max_duration_s`` as the span upper bound.
  - Capacity dimension when there are demands.
  - ``AddDisjunction([client], penalty)`` for every client: optional ones their prize, required ones
    a penalty larger than everything else in the objective (without it OR-Tools may find no
    solution at all in the time limit).
  - ``PATH_CHEAPEST_ARC`` then ``GUIDED_LOCAL_SEARCH`` until the time limit (``iterations`` =
    solution limit).
  - No solution: every client unassigned (``found=False``).

Determinism: single-threaded and without randomness, but guided local search stops at a
wall-clock limit, so two runs may stop at different points on a loaded machine. With
``iterations`` (a solution limit, reached before the time limit) the result is reproducible.
"""

from __future__ import annotations

import logging

import numpy as np
from ortools.constraint_solver import pywrapcp, routing_enums_pb2

from planner.routing import UNREACHABLE, EngineInput, EngineOutput

logger = logging.getLogger(__name__)


def _status_name(code: int) -> str:
    try:
        return routing_enums_pb2.RoutingSearchStatus.Value.Name(code)
    except (AttributeError, ValueError):  # pragma: no cover - other protobuf layouts
        return str(code)


def solve(inp: EngineInput) -> EngineOutput:
    p = inp.problem
    nd = p.n_depots
    vehicles = p.vehicles
    used_depots = sorted({v.start_depot for v in vehicles} | {v.end_depot for v in vehicles})
    depot_node = {d: i for i, d in enumerate(used_depots)}
    locs = np.concatenate([np.asarray(used_depots, dtype=np.int64), nd + inp.clients])
    n_dep = len(used_depots)
    n_nodes = len(locs)
    big = int(UNREACHABLE)

    def sub(mat: np.ndarray) -> np.ndarray:
        s = mat[np.ix_(locs, locs)].astype(np.int64)
        s[(s < 0) | (s >= UNREACHABLE)] = big
        return s

    manager = pywrapcp.RoutingIndexManager(
        n_nodes, len(vehicles), [depot_node[v.start_depot] for v in vehicles],
        [depot_node[v.end_depot] for v in vehicles])
    routing = pywrapcp.RoutingModel(manager)

    dist = sub(p.distance_m)
    dist_cb = routing.RegisterTransitMatrix(dist.tolist())
    routing.SetArcCostEvaluatorOfAllVehicles(dist_cb)
    for v, veh in enumerate(vehicles):
        cost = veh.fixed_cost + inp.vehicle_cost
        if cost:
            routing.SetFixedCostOfVehicle(int(cost), v)

    if inp.timed:
        service = np.zeros(n_nodes, dtype=np.int64)
        service[n_dep:] = p.service_s[inp.clients]
        transit = sub(p.duration_s) + service[:, None]
        time_cb = routing.RegisterTransitMatrix(transit.tolist())
        horizon = max(v.tw_late_s for v in vehicles)
        routing.AddDimension(time_cb, horizon, horizon, False, "Time")
        time_dim = routing.GetDimensionOrDie("Time")
        for k, c in enumerate(inp.clients):
            early = int(p.tw_early_s[c])
            late = int(min(p.tw_late_s[c], horizon))
            time_dim.CumulVar(manager.NodeToIndex(n_dep + k)).SetRange(early, late)
        for v, veh in enumerate(vehicles):
            time_dim.CumulVar(routing.Start(v)).SetRange(veh.tw_early_s, veh.tw_late_s)
            time_dim.CumulVar(routing.End(v)).SetRange(veh.tw_early_s, veh.tw_late_s)
            if veh.max_duration_s is not None:
                time_dim.SetSpanUpperBoundForVehicle(int(veh.max_duration_s), v)

    if p.demand is not None:
        demand = [0] * n_dep + [int(x) for x in p.demand[inp.clients]]
        total = sum(demand)
        caps = [int(v.capacity) if v.capacity is not None else total for v in vehicles]
        load_cb = routing.RegisterUnaryTransitVector(demand)
        routing.AddDimensionWithVehicleCapacity(load_cb, 0, caps, True, "Load")

    for k, c in enumerate(inp.clients):
        penalty = inp.required_penalty if p.required[c] else int(p.prize[c])
        routing.AddDisjunction([manager.NodeToIndex(n_dep + k)], int(penalty))

    params = pywrapcp.DefaultRoutingSearchParameters()
    params.first_solution_strategy = routing_enums_pb2.FirstSolutionStrategy.PATH_CHEAPEST_ARC
    params.local_search_metaheuristic = (
        routing_enums_pb2.LocalSearchMetaheuristic.GUIDED_LOCAL_SEARCH)
    params.time_limit.FromMilliseconds(max(1, int(round(inp.seconds * 1000))))
    if inp.iterations is not None:
        params.solution_limit = int(inp.iterations)

    solution = routing.SolveWithParameters(params)
    status = f"ortools: {_status_name(routing.status())}"
    orders: list[list[int]] = [[] for _ in vehicles]
    if solution is None:
        logger.warning("ortools routing found no solution in %.1f s (%s)", inp.seconds, status)
        return EngineOutput(orders=orders, found=False,
                            solver_status=status + " (no solution found)")
    for v in range(len(vehicles)):
        idx = solution.Value(routing.NextVar(routing.Start(v)))
        while not routing.IsEnd(idx):
            node = manager.IndexToNode(idx)
            orders[v].append(int(inp.clients[node - n_dep]))
            idx = solution.Value(routing.NextVar(idx))
    return EngineOutput(orders=orders, found=True,
                        solver_status=f"{status}, objective {solution.ObjectiveValue()}")
