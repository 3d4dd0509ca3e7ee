"""Session routing: which households each session visits, in which order, at what time.

Selection and routing are one optimisation. Every session is a vehicle with its own time window
(and optional maximum length); every household is a client with a service time, an optional time
window, and either ``required`` or an optional ``prize`` (its priority, in the objective's units).
The objective is total distance + vehicle fixed costs + prizes of the optional clients left out,
so when time is short the least valuable optional clients are dropped first.

One entry point, two engines::

    result = solve_routes(problem, engine="pyvrp", seconds=5, seed=0)   # default
    result = solve_routes(problem, engine="ortools", seconds=5)

Both take the same :class:`RoutingProblem` and return the same :class:`RoutingResult`; the result
is re-checked by the independent checker :func:`planner.check.check_routes` (``result.feasible``,
``result.violations``). Engine types never leave this package.

Conventions
    Locations are depots first (``0 .. n_depots-1``), then clients; clients are numbered
    ``0 .. n_clients-1`` everywhere in results (location = ``n_depots + client``). Matrices are
    integers (metres, seconds: rounded once, by the caller); a travel time ``>= UNREACHABLE`` or
    negative means "no path". Times are integers on any origin (e.g. seconds since midnight).
    A visit's ``arrive_s`` is the start of service (after any waiting), ``depart_s`` its end.

Unassigned clients carry a reason:

``time_window``
    the client's window cannot be met by any session even if it were visited alone;
``unreachable``
    no session can go depot -> client -> depot within its window / maximum length (or no path);
``capacity``
    its demand exceeds every vehicle's capacity (CVRP only);
``no_time``
    possible alone, but not served in the plan (not enough session time, or its prize was not
    worth the detour).

The first three are decided before solving (such clients are never sent to an engine).

Determinism: PyVRP is seeded; with a wall-clock limit alone the number of iterations (and so,
rarely, the plan) can vary with machine load. Pass ``iterations=N`` for a plan that depends only on
the problem and the seed (PyVRP iterations; for OR-Tools a solution limit, see
``_ortools_routing``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

logger = logging.getLogger(__name__)

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

UNREACHABLE = int(np.iinfo(np.int32).max)
"""Travel times or distances at or above this value (or negative) mean "no path"."""

MAX_TIME = 1 << 40
"""Upper bound for every time value (35,000 years in seconds): keeps engines' sums in int64."""

MAX_PRIZE = 10**12
"""Largest accepted prize; larger values would risk overflow inside the engines."""

ENGINES = ("pyvrp", "ortools")
REASONS = ("no_time", "unreachable", "time_window", "capacity")


@dataclass(frozen=True)
class Vehicle:
    """One session: where it starts and ends, when, how long at most, and what it can carry.

    ``tw_early_s`` is the earliest departure from ``start_depot``, ``tw_late_s`` the latest
    return to ``end_depot``. ``max_duration_s`` bounds end - start (waiting included).
    ``fixed_cost`` is added to the objective when the session is used.
    """

    start_depot: int
    end_depot: int
    tw_early_s: int
    tw_late_s: int
    max_duration_s: int | None = None
    capacity: int | None = None
    fixed_cost: int = 0
    name: str = ""

    def __post_init__(self) -> None:
        if not 0 <= self.tw_early_s <= self.tw_late_s <= MAX_TIME:
            raise ValueError(f"vehicle {self.name!r}: expected 0 <= tw_early_s <= tw_late_s <= "
                             f"{MAX_TIME}, got [{self.tw_early_s}, {self.tw_late_s}]")
        if self.max_duration_s is not None and self.max_duration_s < 0:
            raise ValueError(f"vehicle {self.name!r}: max_duration_s must be >= 0 or None")
        if self.capacity is not None and self.capacity < 0:
            raise ValueError(f"vehicle {self.name!r}: capacity must be >= 0 or None")
        if self.fixed_cost < 0:
            raise ValueError(f"vehicle {self.name!r}: fixed_cost must be >= 0")

    @property
    def max_length_s(self) -> int:
        """Longest possible route: the window length, or ``max_duration_s`` if shorter."""
        length = self.tw_late_s - self.tw_early_s
        return length if self.max_duration_s is None else min(length, self.max_duration_s)


@dataclass(frozen=True)
class RoutingProblem:
    """Sessions (vehicles) and the clients they may visit.

    Attributes
    ----------
    duration_s : int array, shape (m, m)
        Travel seconds between locations (depots first, then clients); ``m = n_depots + n``.
    distance_m : int array, shape (m, m)
        Distances (metres; a benchmark puts its own integer convention here). The objective.
    n_depots : int
        Number of depot locations at the start of the matrices.
    service_s : int array, shape (n,)
        Service seconds per client.
    tw_early_s, tw_late_s : int arrays, shape (n,)
        Earliest and latest start of service per client; a window wider than every session means
        "no window" (use 0 and :data:`MAX_TIME`).
    required : bool array, shape (n,)
        Required clients must be served; if they cannot all be, the missing ones are reported
        (reason ``no_time``) and the result is not feasible.
    prize : int array, shape (n,)
        Value of serving an optional client, in the objective's units (metres). A prize above
        :func:`distance_bound` makes serving that client worth any detour; prizes of different
        priorities far apart (e.g. ``bound * (1, 10, 100)``) make lower priorities drop first.
        Ignored for required clients.
    vehicles : list of Vehicle
        One per session.
    demand : int array, shape (n,), optional
        Load per client (CVRP); vehicles' ``capacity`` then applies (``None`` = unlimited).
    client_ids : list of str, optional
        The users' ids, for messages only.
    """

    duration_s: IntArray
    distance_m: IntArray
    n_depots: int
    service_s: IntArray
    tw_early_s: IntArray
    tw_late_s: IntArray
    required: BoolArray
    prize: IntArray
    vehicles: Sequence[Vehicle]
    demand: IntArray | None = None
    client_ids: Sequence[str] | None = None

    def __post_init__(self) -> None:
        def arr(name: str, dtype) -> None:
            object.__setattr__(self, name, np.asarray(getattr(self, name), dtype=dtype))

        for name in ("duration_s", "distance_m", "service_s", "tw_early_s", "tw_late_s", "prize"):
            arr(name, np.int64)
        arr("required", np.bool_)
        if self.demand is not None:
            arr("demand", np.int64)
        object.__setattr__(self, "vehicles", list(self.vehicles))
        problems = _validate(self)
        if problems:
            raise ValueError("invalid routing problem:\n  - " + "\n  - ".join(problems))

    @property
    def n_clients(self) -> int:
        return len(self.service_s)

    @property
    def n_locations(self) -> int:
        return self.n_depots + self.n_clients

    def client_name(self, c: int) -> str:
        """The user's id of client ``c`` if known, else ``#c``."""
        return str(self.client_ids[c]) if self.client_ids is not None else f"#{c}"

    @classmethod
    def from_matrices(cls, duration_s, distance_m=None, *, vehicles: Sequence[Vehicle],
                      n_depots: int = 1, service_s=0, tw_early_s=0, tw_late_s=MAX_TIME,
                      required=True, prize=0, demand=None,
                      client_ids: Sequence[str] | None = None) -> RoutingProblem:
        """Build a problem, broadcasting scalars to every client (distance defaults to duration)."""
        duration_s = np.asarray(duration_s, dtype=np.int64)
        n = duration_s.shape[0] - n_depots

        def full(v, dtype):
            return np.broadcast_to(np.asarray(v, dtype=dtype), (n,)).copy()

        return cls(duration_s=duration_s,
                   distance_m=duration_s if distance_m is None else distance_m,
                   n_depots=n_depots, service_s=full(service_s, np.int64),
                   tw_early_s=full(tw_early_s, np.int64), tw_late_s=full(tw_late_s, np.int64),
                   required=full(required, np.bool_), prize=full(prize, np.int64),
                   vehicles=list(vehicles),
                   demand=None if demand is None else full(demand, np.int64),
                   client_ids=client_ids)


def _validate(p: RoutingProblem) -> list[str]:
    """Every problem with the input, each one sentence (empty when valid)."""
    out: list[str] = []
    m = p.duration_s.shape[0] if p.duration_s.ndim == 2 else -1
    for name in ("duration_s", "distance_m"):
        a = getattr(p, name)
        if a.ndim != 2 or a.shape[0] != a.shape[1]:
            out.append(f"{name} must be a square matrix, got shape {a.shape}")
    if p.distance_m.shape != p.duration_s.shape:
        out.append(f"distance_m {p.distance_m.shape} and duration_s {p.duration_s.shape} "
                   "must have the same shape")
    if p.n_depots < 1:
        out.append("n_depots must be >= 1")
    n = p.n_clients
    if m >= 0 and m != p.n_depots + n:
        out.append(f"matrices are {m}x{m} but n_depots + clients = {p.n_depots} + {n}")
    for name in ("tw_early_s", "tw_late_s", "required", "prize"):
        if getattr(p, name).shape != (n,):
            out.append(f"{name} must have shape ({n},) like service_s, "
                       f"got {getattr(p, name).shape}")
    if p.demand is not None and p.demand.shape != (n,):
        out.append(f"demand must have shape ({n},), got {p.demand.shape}")
    if out:
        return out

    def bad(mask: np.ndarray) -> str:
        idx = np.flatnonzero(mask)
        names = ", ".join(p.client_name(int(c)) for c in idx[:5])
        return names + (f" and {len(idx) - 5} more" if len(idx) > 5 else "")

    if (p.service_s < 0).any():
        out.append(f"service_s must be >= 0 (clients {bad(p.service_s < 0)})")
    if (p.tw_early_s < 0).any() or (p.tw_late_s > MAX_TIME).any():
        out.append(f"client windows must lie in [0, {MAX_TIME}] "
                   f"(clients {bad((p.tw_early_s < 0) | (p.tw_late_s > MAX_TIME))})")
    if (p.tw_early_s > p.tw_late_s).any():
        out.append(f"tw_early_s > tw_late_s for clients {bad(p.tw_early_s > p.tw_late_s)}: "
                   "fix the household's time window")
    if ((p.prize < 0) | (p.prize > MAX_PRIZE)).any():
        out.append(f"prize must be in [0, {MAX_PRIZE}] "
                   f"(clients {bad((p.prize < 0) | (p.prize > MAX_PRIZE))})")
    if p.demand is not None and (p.demand < 0).any():
        out.append(f"demand must be >= 0 (clients {bad(p.demand < 0)})")
    if np.any(np.diagonal(p.duration_s) != 0) or np.any(np.diagonal(p.distance_m) != 0):
        out.append("matrices must have a zero diagonal")
    if not p.vehicles:
        out.append("at least one vehicle (session) is needed")
    for v, veh in enumerate(p.vehicles):
        if not isinstance(veh, Vehicle):
            out.append(f"vehicles[{v}] is not a Vehicle")
        elif not (0 <= veh.start_depot < p.n_depots and 0 <= veh.end_depot < p.n_depots):
            out.append(f"vehicle {v} ({veh.name!r}) refers to depots {veh.start_depot}/"
                       f"{veh.end_depot}; there are {p.n_depots}")
    if p.client_ids is not None and len(p.client_ids) != n:
        out.append(f"client_ids has {len(p.client_ids)} entries for {n} clients")
    return out


@dataclass(frozen=True)
class Visit:
    """One stop: ``arrive_s`` is the start of service (after any wait), ``depart_s`` its end."""

    client: int
    arrive_s: int
    depart_s: int


@dataclass
class Route:
    """The plan of one session (vehicle): its visits in order and its times.

    ``start_s`` is the departure from the start depot, ``end_s`` the return to the end depot,
    ``duration_s = end_s - start_s`` (waiting included), ``distance_m`` the matrix distance.
    """

    vehicle: int
    visits: list[Visit]
    distance_m: int
    duration_s: int
    start_s: int
    end_s: int
    start_depot: int
    end_depot: int

    @property
    def clients(self) -> list[int]:
        return [v.client for v in self.visits]


@dataclass
class RoutingResult:
    """Routes, the clients left out (with a reason), and how the solve went.

    ``status``:
      ``feasible``: every required client is served, every route checked;
      ``required_dropped``: some required clients could not be served (see ``unassigned``);
      ``no_solution``: the engine returned nothing in time (every client unassigned);
      ``invalid``: the checker found a violation (a bug: see ``violations``).
    ``feasible`` is the checker's verdict (:func:`planner.check.check_routes`): routes respect
    every constraint and every required client is served.
    """

    routes: list[Route]
    unassigned: list[tuple[int, str]]
    distance_m: int
    engine: str
    status: str
    seconds: float
    feasible: bool
    violations: list[str] = field(default_factory=list)
    solver_status: str = ""
    seed: int = 0
    params: dict = field(default_factory=dict)
    stopped_on_time: bool = False
    """The iteration limit was not reached before the wall-clock limit: another run (on another
    machine, or under another load) may give another plan."""

    @property
    def served(self) -> list[int]:
        return sorted(c for r in self.routes for c in r.clients)

    @property
    def n_vehicles(self) -> int:
        """Sessions used (routes with at least one visit)."""
        return sum(1 for r in self.routes if r.visits)

    def reasons(self) -> dict[int, str]:
        return dict(self.unassigned)


# ---------------------------------------------------------------------------------------------
# Pre-check, bounds, scheduling: shared by both engines


def precheck(problem: RoutingProblem) -> dict[int, str]:
    """Clients no session can serve even alone, with the reason (``time_window``,
    ``unreachable``, ``capacity``). Vectorised over vehicles x clients."""
    p = problem
    n, nd = p.n_clients, p.n_depots
    if n == 0:
        return {}
    travel_any = np.zeros(n, bool)
    cap_any = np.zeros(n, bool)
    ok_any = np.zeros(n, bool)
    for veh in p.vehicles:
        out = p.duration_s[veh.start_depot, nd:]
        back = p.duration_s[nd:, veh.end_depot]
        reach = (out >= 0) & (out < UNREACHABLE) & (back >= 0) & (back < UNREACHABLE)
        reach &= (p.distance_m[veh.start_depot, nd:] < UNREACHABLE)
        reach &= (p.distance_m[nd:, veh.end_depot] < UNREACHABLE)
        alone = np.where(reach, out + p.service_s + back, MAX_TIME)
        travel = reach & (alone <= veh.max_length_s)
        cap = np.ones(n, bool)
        if p.demand is not None and veh.capacity is not None:
            cap = p.demand <= veh.capacity
        # earliest service start when leaving as early as possible, then the return
        arrive = np.maximum(veh.tw_early_s + np.where(reach, out, 0), p.tw_early_s)
        timely = (arrive <= p.tw_late_s) & (arrive + p.service_s + np.where(reach, back, 0)
                                             <= veh.tw_late_s)
        travel_any |= travel
        cap_any |= travel & cap
        ok_any |= travel & cap & timely
    reasons = {}
    for c in np.flatnonzero(~ok_any):
        c = int(c)
        reasons[c] = ("unreachable" if not travel_any[c] else
                      "capacity" if not cap_any[c] else "time_window")
    return reasons


def distance_bound(problem: RoutingProblem, clients: Sequence[int] | None = None) -> int:
    """An upper bound on the total distance of any plan serving ``clients`` (default all):
    (clients + vehicles) x the longest finite distance. A prize above it outweighs any detour."""
    p = problem
    idx = np.arange(p.n_clients) if clients is None else np.asarray(clients, dtype=np.int64)
    locs = np.concatenate([np.arange(p.n_depots), p.n_depots + idx])
    sub = p.distance_m[np.ix_(locs, locs)]
    finite = sub[(sub >= 0) & (sub < UNREACHABLE)]
    longest = int(finite.max()) if finite.size else 0
    return (len(idx) + len(p.vehicles)) * max(longest, 1) + 1


@dataclass(frozen=True)
class EngineInput:
    """What an engine gets: the problem, the clients to consider, the objective's constants."""

    problem: RoutingProblem
    clients: IntArray
    """Clients sent to the engine (those that passed :func:`precheck`), ascending."""
    seconds: float
    seed: int
    iterations: int | None
    vehicle_cost: int
    """Added to every vehicle's fixed cost (``vehicles_first``: one session fewer beats any
    distance); 0 otherwise."""
    required_penalty: int
    """Cost of leaving out a required client: larger than everything else in the objective."""
    timed: bool
    """False when no time window or session length can ever bind (pure TSP/CVRP): engines may
    then skip time constraints entirely."""
    initial: list[list[int]] | None = None
    """A starting solution (client order per vehicle; only clients in ``clients``), or None.
    PyVRP starts its search from it; OR-Tools ignores it."""


@dataclass
class EngineOutput:
    """What an engine returns: client orders per vehicle (empty list = unused)."""

    orders: list[list[int]]
    found: bool
    solver_status: str
    notes: list[str] = field(default_factory=list)
    stopped_on_time: bool = False
    """An iteration limit was given but the wall-clock limit came first (the plan then depends
    on machine speed and load)."""


def _time_binds(p: RoutingProblem, clients: IntArray) -> bool:
    if len(clients) == 0:
        return False
    locs = np.concatenate([np.arange(p.n_depots), p.n_depots + clients])
    sub = p.duration_s[np.ix_(locs, locs)]
    longest = int(sub.max())
    bound = int(p.service_s[clients].sum()) + (len(clients) + 1) * longest
    early = min(v.tw_early_s for v in p.vehicles)
    late = max(v.tw_late_s for v in p.vehicles)
    for v in p.vehicles:
        if v.max_length_s < bound:
            return True
    # every client window must cover every possible service start
    return bool((p.tw_early_s[clients] > early).any()
                or (p.tw_late_s[clients] < min(late, early + bound)).any())


def schedule(problem: RoutingProblem, vehicle: int,
             clients: Sequence[int]) -> tuple[list[Visit], int, int] | None:
    """Times for visiting ``clients`` in this order with ``vehicle``, or None if impossible.

    Among all feasible schedules: the shortest route (leave as late as useful), then the earliest
    services. Waiting is allowed when arriving before a window opens.
    """
    p, veh, nd = problem, problem.vehicles[vehicle], problem.n_depots
    if not clients:
        return [], veh.tw_early_s, veh.tw_early_s
    if p.demand is not None and veh.capacity is not None:
        if int(p.demand[list(clients)].sum()) > veh.capacity:
            return None
    D = p.duration_s
    locs = [veh.start_depot] + [nd + c for c in clients] + [veh.end_depot]
    k = len(clients)
    for a, b in zip(locs[:-1], locs[1:]):
        if not 0 <= D[a, b] < UNREACHABLE:
            return None
    # backward: latest service start at each client that keeps the rest feasible
    nxt = veh.tw_late_s
    for i in range(k - 1, -1, -1):
        c = clients[i]
        nxt = min(int(p.tw_late_s[c]), nxt - int(D[locs[i + 1], locs[i + 2]]) - int(p.service_s[c]))
    start = min(nxt - int(D[locs[0], locs[1]]), veh.tw_late_s)
    if start < veh.tw_early_s:
        start = veh.tw_early_s  # the forward pass below then tells whether it still fits
    # forward from the latest useful departure: shortest duration
    t = start
    arrive = []
    for i, c in enumerate(clients):
        a = max(t + int(D[locs[i], locs[i + 1]]), int(p.tw_early_s[c]))
        if a > p.tw_late_s[c]:
            return None
        arrive.append(a)
        t = a + int(p.service_s[c])
    end = t + int(D[locs[k], locs[k + 1]])
    if end > veh.tw_late_s:
        return None
    if veh.max_duration_s is not None and end - start > veh.max_duration_s:
        return None
    # shift everything earlier while no service starts before its window: same duration
    shift = min(start - veh.tw_early_s,
                min(a - int(p.tw_early_s[c]) for a, c in zip(arrive, clients)))
    visits = [Visit(int(c), a - shift, a - shift + int(p.service_s[c]))
              for a, c in zip(arrive, clients)]
    return visits, start - shift, end - shift


def _route_distance(p: RoutingProblem, vehicle: int, clients: Sequence[int]) -> int:
    veh = p.vehicles[vehicle]
    locs = [veh.start_depot] + [p.n_depots + c for c in clients] + [veh.end_depot]
    return int(sum(int(p.distance_m[a, b]) for a, b in zip(locs[:-1], locs[1:])))


def _repair(p: RoutingProblem, vehicle: int, clients: list[int]) -> list[int]:
    """Keep clients in order while the route stays feasible (a safety net, should not trigger)."""
    keep: list[int] = []
    for c in clients:
        if schedule(p, vehicle, keep + [c]) is not None:
            keep.append(c)
    return keep


# ---------------------------------------------------------------------------------------------
# The entry point


def solve_routes(problem: RoutingProblem, *, engine: str = "pyvrp", seconds: float = 5.0,
                 seed: int = 0, vehicles_first: bool = False,
                 iterations: int | None = None,
                 initial: Sequence[Sequence[int]] | None = None) -> RoutingResult:
    """Plan the sessions' routes.

    Parameters
    ----------
    problem : RoutingProblem
    engine : ``"pyvrp"`` (default) or ``"ortools"``
    seconds : wall-clock limit of the search (model building and checking come on top).
    seed : random seed (PyVRP; OR-Tools routing has none and is deterministic up to its time
        limit).
    vehicles_first : minimise the number of sessions used first, then distance.
    iterations : stop after this many PyVRP iterations / OR-Tools solutions (or ``seconds``,
        whichever comes first) so the plan does not depend on machine speed.
    initial : client order per vehicle to start the search from (PyVRP; e.g. the routes of the
        most urgent clients, planned first); clients the pre-check rules out are dropped from it.

    Returns
    -------
    RoutingResult
        Never raises for an infeasible plan: clients that cannot be served are listed in
        ``unassigned`` with a reason. Raises ``ValueError`` for an unknown engine or bad options.
    """
    from planner.check import check_routes

    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r}; expected one of {', '.join(ENGINES)}")
    if not seconds > 0:
        raise ValueError("seconds must be > 0")
    if iterations is not None and iterations < 1:
        raise ValueError("iterations must be >= 1 or None")
    t0 = time.perf_counter()
    p = problem
    params = dict(engine=engine, seconds=seconds, seed=seed, vehicles_first=vehicles_first,
                  iterations=iterations)

    impossible = precheck(p)
    clients = np.array([c for c in range(p.n_clients) if c not in impossible], dtype=np.int64)
    if impossible:
        logger.info("routing: %d client(s) impossible even alone (%s)", len(impossible),
                    ", ".join(sorted(set(impossible.values()))))

    if len(clients):
        bound = distance_bound(p, clients)
        vehicle_cost = bound if vehicles_first else 0
        optional = clients[~p.required[clients]]
        required_penalty = (bound + (vehicle_cost + max(v.fixed_cost for v in p.vehicles))
                            * len(p.vehicles) + int(p.prize[optional].sum()) + 1)
        start = None
        if initial is not None:
            if len(initial) != len(p.vehicles):
                raise ValueError(f"initial has {len(initial)} routes for {len(p.vehicles)} vehicles")
            ok = set(clients.tolist())
            start = [[int(c) for c in order if int(c) in ok] for order in initial]
        inp = EngineInput(problem=p, clients=clients, seconds=float(seconds), seed=int(seed),
                          iterations=iterations, vehicle_cost=vehicle_cost,
                          required_penalty=required_penalty, timed=_time_binds(p, clients),
                          initial=start)
        if engine == "pyvrp":
            from planner import _pyvrp as eng
        else:
            from planner import _ortools_routing as eng
        out = eng.solve(inp)
    else:
        out = EngineOutput(orders=[[] for _ in p.vehicles], found=True,
                           solver_status="nothing to route")

    routes: list[Route] = []
    notes = list(out.notes)
    served: set[int] = set()
    for v, order in enumerate(out.orders):
        order = [int(c) for c in order if int(c) not in served]
        if not order:
            continue
        sched = schedule(p, v, order)
        if sched is None:
            kept = _repair(p, v, order)
            # the engine stopped before its best solution was feasible (e.g. time warp left in
            # PyVRP after a short run): drop clients until the route fits; they become "no_time"
            notes.append(f"route of vehicle {v} was infeasible; kept {len(kept)} of {len(order)}")
            logger.info("routing (%s): %s", engine, notes[-1])
            order = kept
            sched = schedule(p, v, order)
            if not order or sched is None:
                continue
        visits, start, end = sched
        served.update(order)
        routes.append(Route(vehicle=v, visits=visits, distance_m=_route_distance(p, v, order),
                            duration_s=end - start, start_s=start, end_s=end,
                            start_depot=p.vehicles[v].start_depot,
                            end_depot=p.vehicles[v].end_depot))
    unassigned = [(c, impossible.get(c, "no_time")) for c in range(p.n_clients) if c not in served]
    result = RoutingResult(
        routes=routes, unassigned=unassigned, distance_m=sum(r.distance_m for r in routes),
        engine=engine, status="", seconds=time.perf_counter() - t0, feasible=False,
        solver_status="; ".join([out.solver_status] + notes), seed=int(seed), params=params,
        stopped_on_time=out.stopped_on_time)
    result.violations = check_routes(p, result)
    result.feasible = not result.violations
    structural = check_routes(p, result, allow_unassigned_required=True)
    if structural:
        result.status = "invalid"
        logger.error("routing (%s): checker found %d violation(s): %s", engine, len(structural),
                     structural[:3])
    elif not out.found and len(clients):
        result.status = "no_solution"
    elif any(p.required[c] for c, _ in unassigned):
        result.status = "required_dropped"
    else:
        result.status = "feasible"
    return result
