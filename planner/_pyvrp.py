"""PyVRP engine (the default): prize-collecting VRP with time windows.

Set-up
  - ``ProblemData`` is built directly from the matrices (no per-edge Python calls): locations =
    all depots, then the clients that passed the pre-check; one distance and one duration matrix.
  - Clients: ``required=True`` for required ones; optional ones ``required=False, prize=...``.
    Time windows and service durations as given (dropped entirely when time cannot bind).
  - Vehicles with identical attributes share one ``VehicleType`` (``num_available`` = count);
    ``fixed_cost`` = the vehicle's own + the ``vehicles_first`` cost; ``shift_duration`` =
    ``max_duration_s``.
  - ``pyvrp.solve`` with its default parameters, ``MaxRuntime(seconds)`` (and ``MaxIterations``
    when asked), the given seed. One exception: with a single vehicle (one session: a TSP with
    time windows) each perturbation moves 10-50 clients instead of 1-25; with the default PyVRP
    stays in a deep local optimum on 100-city tours (kroA100: 1.29% above optimal after 10 s
    with seeds 0 and 2; with 10-50, optimal with each of seeds 0-8).
  - If no feasible solution turns up within the first 30% of the budget (required clients do not
    all fit), give up on that model and spend the rest of the budget on one where every required
    client is optional with a prize larger than everything else in the objective, so as many as
    possible are served; the dropped ones come back as ``no_time``. The total stays within the
    budget.
"""

from __future__ import annotations

import logging
import time
import warnings

import numpy as np
from pyvrp import Activity, ActivityType, Client, Depot, Location, ProblemData, Route, Solution, VehicleType
from pyvrp import SolveParams
from pyvrp import solve as pyvrp_solve
from pyvrp.constants import MAX_VALUE
from pyvrp.exceptions import PenaltyBoundWarning
from pyvrp.search import PerturbationParams

from planner.routing import UNREACHABLE, EngineInput, EngineOutput

logger = logging.getLogger(__name__)


def _data(inp: EngineInput, relax_required: bool) -> tuple[ProblemData, list[list[int]]]:
    p = inp.problem
    nd = p.n_depots
    cl = inp.clients
    locs = np.concatenate([np.arange(nd), nd + cl])
    missing = min(MAX_VALUE, 1 << 40)

    def sub(mat: np.ndarray) -> np.ndarray:
        s = mat[np.ix_(locs, locs)].astype(np.int64)
        s[(s < 0) | (s >= UNREACHABLE)] = missing
        return s

    dist = sub(p.distance_m)
    dur = sub(p.duration_s) if inp.timed else np.zeros_like(dist)
    loads = p.demand is not None
    clients = []
    for k, c in enumerate(cl):
        required = bool(p.required[c])
        prize = int(p.prize[c]) if not required else 0
        if required and relax_required:
            required, prize = False, inp.required_penalty
        kw = {}
        if inp.timed:
            kw = dict(service_duration=int(p.service_s[c]), tw_early=int(p.tw_early_s[c]),
                      tw_late=int(p.tw_late_s[c]))
        clients.append(Client(location=nd + k, delivery=[int(p.demand[c])] if loads else [],
                              prize=prize, required=required, name=p.client_name(int(c)), **kw))
    depots = [Depot(location=d) for d in range(nd)]

    total_demand = int(p.demand[cl].sum()) if loads else 0
    groups: dict[tuple, list[int]] = {}
    for v, veh in enumerate(p.vehicles):
        cap = None
        if loads:
            cap = veh.capacity if veh.capacity is not None else total_demand
        key = (veh.start_depot, veh.end_depot, veh.tw_early_s, veh.tw_late_s,
               veh.max_duration_s, cap, veh.fixed_cost)
        groups.setdefault(key, []).append(v)
    types = []
    members = []
    for (start, end, early, late, max_dur, cap, fixed), vs in groups.items():
        kw = {}
        if inp.timed:
            kw = dict(tw_early=early, tw_late=late)
            if max_dur is not None:
                kw["shift_duration"] = max_dur
        types.append(VehicleType(num_available=len(vs), capacity=[cap] if loads else [],
                                 start_depot=start, end_depot=end,
                                 fixed_cost=fixed + inp.vehicle_cost, **kw))
        members.append(vs)
    data = ProblemData([Location(0.0, 0.0) for _ in locs], clients, depots, types, [dist], [dur])
    return data, members


GIVE_UP = 0.3
"""Share of the budget after which a model without any feasible solution is abandoned."""

_INFEASIBLE = np.iinfo(np.int64).max   # PyVRP's cost of an infeasible best solution


class _Stop:
    """PyVRP stopping criterion: ``seconds`` of wall time or ``iterations`` iterations, whichever
    comes first; with ``give_up``, also stop when that share of the budget (of the iterations if
    given, else of the time) has passed without a feasible solution."""

    def __init__(self, seconds: float, iterations: int | None, give_up: float | None = None):
        self.seconds = seconds
        self.iterations = iterations
        self.give_up = give_up
        self.start: float | None = None
        self.iters = 0
        self.gave_up = False
        self.timed_out = False

    def elapsed(self) -> float:
        return 0.0 if self.start is None else time.perf_counter() - self.start

    def __call__(self, best_cost: int) -> bool:
        if self.start is None:
            self.start = time.perf_counter()
        self.iters += 1
        elapsed = self.elapsed()
        if self.iterations is not None and self.iters > self.iterations:
            return True
        if elapsed > self.seconds:
            self.timed_out = True
            return True
        if self.give_up is not None and best_cost >= _INFEASIBLE:
            share = (self.iters / self.iterations if self.iterations is not None
                     else elapsed / self.seconds)
            if share > self.give_up:
                self.gave_up = True
                return True
        return False


def _orders(inp: EngineInput, solution, members: list[list[int]]) -> list[list[int]]:
    orders: list[list[int]] = [[] for _ in inp.problem.vehicles]
    next_free = [0] * len(members)
    for route in solution.routes():
        t = route.vehicle_type()
        v = members[t][next_free[t]]
        next_free[t] += 1
        orders[v] = [int(inp.clients[a.idx]) for a in route if a.is_client()]
    return orders


def _params(inp: EngineInput) -> SolveParams:
    if len(inp.problem.vehicles) == 1:
        n = len(inp.clients)
        return SolveParams(perturbation=PerturbationParams(min(10, n), min(50, n)))
    return SolveParams()


def _initial(inp: EngineInput, data: ProblemData, members: list[list[int]]) -> Solution | None:
    """``inp.initial`` (client orders per vehicle) as a PyVRP solution, or None."""
    if not inp.initial:
        return None
    position = {int(c): k for k, c in enumerate(inp.clients)}
    type_of = {v: t for t, vs in enumerate(members) for v in vs}
    routes = []
    for v, order in enumerate(inp.initial):
        visits = [position[c] for c in order if c in position]
        if visits:
            routes.append(Route(data, [Activity(ActivityType.CLIENT, k) for k in visits], type_of[v]))
    if not routes:
        return None
    try:
        return Solution(data, routes)
    except RuntimeError as exc:  # not a valid solution (a client twice, too many vehicles)
        logger.info("pyvrp: initial solution not used (%s)", exc)
        return None


def _run(inp: EngineInput, data: ProblemData, stop: _Stop, initial: Solution | None = None):
    with warnings.catch_warnings():
        # "PyVRP struggles to find a feasible solution": handled below (required clients relaxed)
        warnings.simplefilter("ignore", PenaltyBoundWarning)
        return pyvrp_solve(data, stop, seed=inp.seed, collect_stats=False, display=False,
                           params=_params(inp), initial_solution=initial)


def solve(inp: EngineInput) -> EngineOutput:
    p = inp.problem
    has_required = bool(p.required[inp.clients].any())
    data, members = _data(inp, relax_required=False)
    stop = _Stop(inp.seconds, inp.iterations, give_up=GIVE_UP if has_required else None)
    res = _run(inp, data, stop, _initial(inp, data, members))
    status = (f"pyvrp: {len(inp.clients)} clients, {len(p.vehicles)} vehicles: "
              f"{res.num_iterations} iterations in {res.runtime:.1f} s")
    notes: list[str] = []
    best = res.best
    timed_out = stop.timed_out
    if not best.is_feasible() and has_required:
        notes.append("required clients do not all fit: solved again with them optional "
                     "(very high prize)")
        logger.info("pyvrp: %s", notes[-1])
        data, members = _data(inp, relax_required=True)
        rest_iters = None if inp.iterations is None else max(1, inp.iterations - stop.iters)
        stop2 = _Stop(max(inp.seconds - stop.elapsed(), 0.1 * inp.seconds), rest_iters)
        res = _run(inp, data, stop2)
        status += f"; relaxed: {res.num_iterations} iterations in {res.runtime:.1f} s"
        best = res.best
        timed_out = stop2.timed_out
    if not best.is_feasible():
        notes.append("best solution infeasible; infeasible routes repaired")
    timed_out = timed_out and inp.iterations is not None
    if timed_out:
        notes.append(f"stopped on the {inp.seconds:g} s time limit before {inp.iterations} iterations")
    return EngineOutput(orders=_orders(inp, best, members), found=True,
                        solver_status=status, notes=notes, stopped_on_time=timed_out)
