"""Independent feasibility checker for routing results.

It trusts nothing the engine or :mod:`planner.routing` computed: it re-reads the problem's
matrices and re-derives every time and distance from the visit order and the reported times.
It shares no code with the scheduler (only the data types).

Checked, per route:
  - the vehicle exists and is used by one route only; the route starts and ends at its depots;
  - departure no earlier than the vehicle's window opens, return no later than it closes,
    ``duration_s == end_s - start_s`` and within ``max_duration_s``;
  - each service starts no earlier than the previous departure + travel (waiting allowed),
    inside the client's window, and lasts its service time; the return is no earlier than the
    last departure + travel;
  - load within capacity; the route's distance equals the sum of its legs;
and overall: every client at most once, every client either served or unassigned (never both,
never neither), reasons from the known list, required clients served (unless allowed),
``distance_m`` equal to the sum of the routes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from planner.routing import RoutingProblem, RoutingResult

_REASONS = {"no_time", "unreachable", "time_window", "capacity"}
_NO_PATH = 2**31 - 1


def check_routes(problem: RoutingProblem, result: RoutingResult, *,
                 allow_unassigned_required: bool = False) -> list[str]:
    """All violations found, one sentence each (empty list: the result is feasible)."""
    p = problem
    nd, n = p.n_depots, p.n_clients
    D = p.duration_s
    L = p.distance_m
    out: list[str] = []
    seen: dict[int, int] = {}
    used_vehicles: set[int] = set()
    total = 0

    for r_i, route in enumerate(result.routes):
        where = f"route {r_i} (vehicle {route.vehicle})"
        if not 0 <= route.vehicle < len(p.vehicles):
            out.append(f"{where}: no such vehicle (there are {len(p.vehicles)})")
            continue
        if route.vehicle in used_vehicles:
            out.append(f"{where}: vehicle used by more than one route")
        used_vehicles.add(route.vehicle)
        veh = p.vehicles[route.vehicle]
        if route.start_depot != veh.start_depot:
            out.append(f"{where}: starts at depot {route.start_depot}, its vehicle starts at "
                       f"{veh.start_depot}")
        if route.end_depot != veh.end_depot:
            out.append(f"{where}: ends at depot {route.end_depot}, its vehicle ends at "
                       f"{veh.end_depot}")
        if not route.visits:
            out.append(f"{where}: has no visits")

        # timing, walked from the vehicle's depot with the vehicle's own depots
        if route.start_s < veh.tw_early_s:
            out.append(f"{where}: leaves at {route.start_s}, before its window opens "
                       f"({veh.tw_early_s})")
        prev_loc, prev_t = veh.start_depot, route.start_s
        dist = 0
        load = 0
        for visit in route.visits:
            c = visit.client
            if not 0 <= c < n:
                out.append(f"{where}: unknown client {c}")
                continue
            seen[c] = seen.get(c, 0) + 1
            loc = nd + c
            name = p.client_name(c)
            travel = int(D[prev_loc, loc])
            if not 0 <= travel < _NO_PATH:
                out.append(f"{where}: no path to client {name}")
            if visit.arrive_s < prev_t + travel:
                out.append(f"{where}: client {name} served at {visit.arrive_s}, but cannot "
                           f"arrive before {prev_t + travel}")
            if visit.arrive_s < p.tw_early_s[c]:
                out.append(f"{where}: client {name} served at {visit.arrive_s}, before its "
                           f"window opens ({int(p.tw_early_s[c])})")
            if visit.arrive_s > p.tw_late_s[c]:
                out.append(f"{where}: client {name} served at {visit.arrive_s}, after its "
                           f"window closes ({int(p.tw_late_s[c])})")
            if visit.depart_s != visit.arrive_s + int(p.service_s[c]):
                out.append(f"{where}: client {name} departs at {visit.depart_s}, expected "
                           f"{visit.arrive_s} + service {int(p.service_s[c])}")
            dist += int(L[prev_loc, loc])
            if p.demand is not None:
                load += int(p.demand[c])
            prev_loc, prev_t = loc, visit.depart_s
        travel = int(D[prev_loc, veh.end_depot])
        dist += int(L[prev_loc, veh.end_depot])
        if route.end_s < prev_t + travel:
            out.append(f"{where}: returns at {route.end_s}, but cannot before {prev_t + travel}")
        if route.end_s > veh.tw_late_s:
            out.append(f"{where}: returns at {route.end_s}, after its window closes "
                       f"({veh.tw_late_s})")
        if route.duration_s != route.end_s - route.start_s:
            out.append(f"{where}: duration {route.duration_s} != end - start "
                       f"({route.end_s - route.start_s})")
        if veh.max_duration_s is not None and route.end_s - route.start_s > veh.max_duration_s:
            out.append(f"{where}: lasts {route.end_s - route.start_s} s, more than the session "
                       f"allows ({veh.max_duration_s})")
        if p.demand is not None and veh.capacity is not None and load > veh.capacity:
            out.append(f"{where}: load {load} exceeds capacity {veh.capacity}")
        if route.distance_m != dist:
            out.append(f"{where}: distance {route.distance_m} but its legs add up to {dist}")
        total += route.distance_m

    for c, k in sorted(seen.items()):
        if k > 1:
            out.append(f"client {p.client_name(c)} visited {k} times")
    unassigned: dict[int, str] = {}
    for c, reason in result.unassigned:
        if not 0 <= c < n:
            out.append(f"unassigned entry for unknown client {c}")
            continue
        if c in unassigned:
            out.append(f"client {p.client_name(c)} listed as unassigned twice")
        unassigned[c] = reason
        if reason not in _REASONS:
            out.append(f"client {p.client_name(c)}: unknown reason {reason!r}")
        if c in seen:
            out.append(f"client {p.client_name(c)} is both served and unassigned")
    for c in range(n):
        if c not in seen and c not in unassigned:
            out.append(f"client {p.client_name(c)} is neither served nor listed as unassigned")
        if (not allow_unassigned_required and c in unassigned and bool(p.required[c])):
            out.append(f"required client {p.client_name(c)} not served ({unassigned[c]})")
    if result.distance_m != total:
        out.append(f"total distance {result.distance_m} but the routes add up to {total}")
    return out
