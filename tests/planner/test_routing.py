"""Session routing: both engines on the same problems, every result re-checked by the
independent checker (planner.check), never by the solver's own report."""

from __future__ import annotations

import dataclasses
import itertools
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.instances import (read_instance, read_solomon, read_tsplib,  # noqa: E402
                             result_from_routes)
from planner.check import check_routes  # noqa: E402
from planner.routing import (MAX_TIME, UNREACHABLE, RoutingProblem, Vehicle,  # noqa: E402
                             precheck, solve_routes)

DATA = Path(__file__).resolve().parent / "data"
ENGINES = ["pyvrp", "ortools"]


def grid_problem(n: int, *, seed: int = 0, vehicles: list[Vehicle], service: int = 600,
                 spacing: float = 400.0, **kw) -> RoutingProblem:
    """Depot at the centre, ``n`` households at random points; walking at 4 km/h (0.9 s/m)."""
    rng = np.random.default_rng(seed)
    xy = np.vstack([[0.0, 0.0], rng.uniform(-spacing, spacing, (n, 2))])
    dist = np.rint(np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1))).astype(int)
    dur = np.rint(dist * 0.9).astype(int)
    return RoutingProblem.from_matrices(dur, dist, vehicles=vehicles, service_s=service, **kw)


def assert_checked(problem: RoutingProblem, result, *, complete: bool = True) -> None:
    bad = check_routes(problem, result, allow_unassigned_required=not complete)
    assert bad == [], bad


# --- a tiny instance with a known optimum ---------------------------------------------------


def brute_force(problem: RoutingProblem) -> int:
    """Optimum of a tiny CVRPTW by enumeration (each vehicle identical, start = end = depot 0)."""
    p = problem
    n = p.n_clients
    D, veh = p.duration_s, p.vehicles[0]

    def route_cost(order) -> int | None:
        if sum(p.demand[c] for c in order) > veh.capacity:
            return None
        t, loc, cost = veh.tw_early_s, 0, 0
        for c in order:
            t = max(t + D[loc, 1 + c], p.tw_early_s[c])
            if t > p.tw_late_s[c]:
                return None
            cost += p.distance_m[loc, 1 + c]
            t += p.service_s[c]
            loc = 1 + c
        if t + D[loc, 0] > veh.tw_late_s:
            return None
        return cost + p.distance_m[loc, 0]

    best = None
    for labels in itertools.product(range(len(p.vehicles)), repeat=n):
        total = 0
        for v in set(labels):
            members = [c for c in range(n) if labels[c] == v]
            costs = [route_cost(perm) for perm in itertools.permutations(members)]
            costs = [c for c in costs if c is not None]
            if not costs:
                break
            total += min(costs)
        else:
            best = total if best is None else min(best, total)
    return best


@pytest.mark.parametrize("engine", ENGINES)
def test_tiny_instance_optimum(engine):
    inst = read_solomon(DATA / "vrptw4.txt")
    assert brute_force(inst.problem) == 682
    res = solve_routes(inst.problem, engine=engine, seconds=1)
    assert_checked(inst.problem, res)
    assert res.status == "feasible" and res.feasible
    assert res.distance_m == 682
    # customer 4 must be served by time 150: first on its route, followed by 3
    assert sorted(inst.to_file_ids([r.clients for r in res.routes])) == [[1, 2], [4, 3]] or \
        sorted(inst.to_file_ids([r.clients for r in res.routes])) == [[2, 1], [4, 3]]


# --- time windows, session windows and lengths ---------------------------------------------


def village(n=30, seed=1, **kw) -> RoutingProblem:
    """Two stationing-day sessions (08:30-12:30) and one evening (19:00-21:30, at most 2 h);
    every 4th household evening-only, a few with afternoon windows nobody can meet."""
    day, eve = (8 * 3600 + 1800, 12 * 3600 + 1800), (19 * 3600, 21 * 3600 + 1800)
    vehicles = [Vehicle(0, 0, *day, name="Tue"), Vehicle(0, 0, *day, name="Thu"),
                Vehicle(0, 0, *eve, max_duration_s=7200, name="Mon evening")]
    early = np.zeros(n, int)
    late = np.full(n, MAX_TIME)
    early[::4], late[::4] = eve
    return grid_problem(n, seed=seed, vehicles=vehicles, tw_early_s=early, tw_late_s=late, **kw)


@pytest.mark.parametrize("engine", ENGINES)
def test_time_windows_respected(engine):
    p = village()
    res = solve_routes(p, engine=engine, seconds=1.5)
    assert_checked(p, res)
    # and directly, for the record: evening-only households are served in the evening session
    for r in res.routes:
        for v in r.visits:
            assert p.tw_early_s[v.client] <= v.arrive_s <= p.tw_late_s[v.client]
            if v.client % 4 == 0:
                assert p.vehicles[r.vehicle].name == "Mon evening"
        assert r.end_s - r.start_s <= (p.vehicles[r.vehicle].max_duration_s or MAX_TIME)
    assert res.status == "feasible"


@pytest.mark.parametrize("engine", ENGINES)
def test_multi_depot_and_max_duration(engine):
    # depot 0 at the centre, depot 1 800 m east; one session walks from 0 to 1, one stays at 1
    rng = np.random.default_rng(4)
    xy = np.vstack([[0.0, 0.0], [800.0, 0.0], rng.uniform(-400, 1200, (16, 2))])
    dist = np.rint(np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1))).astype(int)
    vehicles = [Vehicle(0, 1, 30600, 45000, max_duration_s=2 * 3600, name="one-way"),
                Vehicle(1, 1, 30600, 45000, max_duration_s=2 * 3600, name="east")]
    p = RoutingProblem.from_matrices(np.rint(dist * 0.9).astype(int), dist, n_depots=2,
                                     vehicles=vehicles, service_s=600, required=False,
                                     prize=10**6)
    res = solve_routes(p, engine=engine, seconds=1)
    assert_checked(p, res)
    assert {(r.start_depot, r.end_depot) for r in res.routes} <= {(0, 1), (1, 1)}
    assert all(r.duration_s <= 2 * 3600 for r in res.routes)
    assert len(res.served) >= 10    # 2 x 2 hours of 10-minute visits: not all 16 fit


# --- infeasible is a result ---------------------------------------------------------------


@pytest.mark.parametrize("engine", ENGINES)
def test_required_clients_that_cannot_fit_are_reported(engine):
    # one 60-minute session, 8 required households of 10 minutes each: at most 5 fit
    p = grid_problem(8, seed=2, spacing=100, vehicles=[Vehicle(0, 0, 0, 3600, name="short")])
    res = solve_routes(p, engine=engine, seconds=1)
    assert res.status == "required_dropped"
    assert not res.feasible
    assert any("required client" in v for v in res.violations)
    assert_checked(p, res, complete=False)     # the routes themselves are valid
    assert len(res.served) >= 4
    assert {reason for _, reason in res.unassigned} == {"no_time"}
    assert len(res.served) + len(res.unassigned) == 8


@pytest.mark.parametrize("engine", ENGINES)
def test_low_prize_optional_clients_dropped_first(engine):
    # 12 optional households, all close; the 2-hour session fits about 9 of them
    n = 12
    prize = np.where(np.arange(n) % 3 == 0, 10**6, 10**4)   # 4 urgent, 8 ordinary
    p = grid_problem(n, seed=3, spacing=150, vehicles=[Vehicle(0, 0, 0, 2 * 3600)],
                     required=False, prize=prize)
    res = solve_routes(p, engine=engine, seconds=1)
    assert_checked(p, res)
    served = set(res.served)
    assert 4 < len(served) < n
    assert {c for c in range(n) if c % 3 == 0} <= served     # every urgent one is served
    assert {reason for _, reason in res.unassigned} == {"no_time"}


@pytest.mark.parametrize("engine", ENGINES)
def test_precheck_reasons(engine):
    n = 6
    p0 = grid_problem(n, seed=5, spacing=200, vehicles=[Vehicle(0, 0, 30600, 45000)])
    dur = p0.duration_s.copy()
    dur[0, 1 + 1] = UNREACHABLE            # client 1: no path from the depot
    dur[0, 1 + 2] = dur[1 + 2, 0] = 8000   # client 2: too far for the 4-hour session
    early, late = p0.tw_early_s.copy(), p0.tw_late_s.copy()
    early[3], late[3] = 50000, 60000       # client 3: only in the afternoon
    demand = np.array([1, 1, 1, 1, 5, 1])  # client 4: more than the capacity
    vehicles = [dataclasses.replace(p0.vehicles[0], capacity=3)]
    p = dataclasses.replace(p0, duration_s=dur, tw_early_s=early, tw_late_s=late,
                            demand=demand, vehicles=vehicles)
    expected = {1: "unreachable", 2: "unreachable", 3: "time_window", 4: "capacity"}
    assert precheck(p) == expected
    res = solve_routes(p, engine=engine, seconds=0.5)
    assert res.reasons() == expected
    assert res.status == "required_dropped"
    assert_checked(p, res, complete=False)
    assert sorted(res.served) == [0, 5]


@pytest.mark.parametrize("engine", ENGINES)
def test_nothing_to_route(engine):
    p = grid_problem(3, vehicles=[Vehicle(0, 0, 0, 10)], required=False, prize=5)
    res = solve_routes(p, engine=engine, seconds=0.5)
    assert res.routes == [] and res.distance_m == 0
    assert res.reasons() == {0: "unreachable", 1: "unreachable", 2: "unreachable"}
    assert res.status == "feasible" and res.feasible


def test_ortools_without_solution_reports_every_client(monkeypatch):
    from ortools.constraint_solver import pywrapcp

    monkeypatch.setattr(pywrapcp.RoutingModel, "SolveWithParameters", lambda self, params: None)
    p = village(n=10)
    res = solve_routes(p, engine="ortools", seconds=0.5)
    assert res.status == "no_solution"
    assert res.routes == []
    assert sorted(res.unassigned) == [(c, "no_time") for c in range(10)]
    assert "no solution" in res.solver_status
    assert_checked(p, res, complete=False)


@pytest.mark.parametrize("engine", ENGINES)
def test_vehicles_first(engine):
    # 6 households in two far-apart clusters; capacity 6 allows one vehicle for all of them
    xy = np.array([[0, 0], [1000, 0], [1010, 0], [1020, 0], [-1000, 0], [-1010, 0], [-1020, 0]])
    d = np.rint(np.hypot(*(xy[:, None] - xy[None]).transpose(2, 0, 1))).astype(int)
    # going from one cluster straight to the other is costly: detour through the depot is cheaper
    d[1:4, 4:] += 5000
    d[4:, 1:4] += 5000
    vehicles = [Vehicle(0, 0, 0, MAX_TIME, capacity=6) for _ in range(3)]
    p = RoutingProblem.from_matrices(d, vehicles=vehicles, demand=1)
    plain = solve_routes(p, engine=engine, seconds=0.5)
    first = solve_routes(p, engine=engine, seconds=0.5, vehicles_first=True)
    assert_checked(p, plain)
    assert_checked(p, first)
    assert plain.n_vehicles == 2
    assert first.n_vehicles == 1
    assert first.distance_m > plain.distance_m


def test_pyvrp_same_seed_same_result():
    p = village(n=40, seed=7)
    a = solve_routes(p, seconds=5, seed=3, iterations=300)
    b = solve_routes(p, seconds=5, seed=3, iterations=300)
    assert [r.visits for r in a.routes] == [r.visits for r in b.routes]
    assert a.distance_m == b.distance_m
    assert a.params["seed"] == 3


def test_bad_input_is_reported_at_once():
    with pytest.raises(ValueError) as err:
        RoutingProblem.from_matrices(np.zeros((3, 3), int), vehicles=[Vehicle(0, 2, 0, 10)],
                                     tw_early_s=[5, 0], tw_late_s=[1, 10], prize=-1)
    msg = str(err.value)
    assert "tw_early_s > tw_late_s for clients #0" in msg
    assert "prize must be" in msg
    assert "refers to depots 0/2" in msg
    with pytest.raises(ValueError, match="unknown engine"):
        solve_routes(read_solomon(DATA / "vrptw4.txt").problem, engine="lkh")
    with pytest.raises(ValueError, match="tw_early_s <= tw_late_s"):
        Vehicle(0, 0, 10, 5)


# --- the checker catches what it should -------------------------------------------------------


@pytest.fixture()
def tiny_solution():
    inst = read_solomon(DATA / "vrptw4.txt")
    res = result_from_routes(inst, inst.from_file_ids([[4, 3], [1, 2]]))
    assert check_routes(inst.problem, res) == []
    return inst.problem, res


def _visit(route, k, **changes):
    route.visits[k] = dataclasses.replace(route.visits[k], **changes)


def test_checker_late_arrival(tiny_solution):
    p, res = tiny_solution
    r = res.routes[0]                       # 4 (window closes at 150) then 3
    _visit(r, 0, arrive_s=160, depart_s=260)
    _visit(r, 1, arrive_s=401, depart_s=501)
    r.end_s, r.duration_s = 601, 601
    assert any("after its window closes (150)" in v for v in check_routes(p, res))


def test_checker_too_early_after_travel(tiny_solution):
    p, res = tiny_solution
    _visit(res.routes[1], 1, arrive_s=205, depart_s=305)     # 1 ends at 200, 2 is 100 away
    assert any("cannot arrive before 300" in v for v in check_routes(p, res))


def test_checker_duplicate_visit(tiny_solution):
    p, res = tiny_solution
    res.routes[1].visits.append(dataclasses.replace(res.routes[0].visits[1],
                                                    arrive_s=2000, depart_s=2100))
    bad = check_routes(p, res)
    assert any("visited 2 times" in v for v in bad)


def test_checker_wrong_depot(tiny_solution):
    p, res = tiny_solution
    res.routes[0].end_depot = 1
    assert any("ends at depot 1, its vehicle ends at 0" in v for v in check_routes(p, res))


def test_checker_over_capacity(tiny_solution):
    p, res = tiny_solution
    moved = res.routes[1].visits.pop()      # customer 2 joins route 0: load 12 > 10
    res.routes[0].visits.append(dataclasses.replace(moved, arrive_s=600, depart_s=700))
    bad = check_routes(p, res)
    assert any("load 12 exceeds capacity 10" in v for v in bad)


def test_checker_unaccounted_client_and_distance(tiny_solution):
    p, res = tiny_solution
    res.routes.pop()
    bad = check_routes(p, res)
    assert any("neither served nor listed" in v for v in bad)
    assert any("total distance 682 but the routes add up to 341" in v for v in bad)


def test_checker_session_too_long(tiny_solution):
    p, res = tiny_solution
    vehicles = list(p.vehicles)
    vehicles[0] = dataclasses.replace(vehicles[0], max_duration_s=300)
    bad = check_routes(dataclasses.replace(p, vehicles=vehicles), res)
    assert any("more than the session allows (300)" in v for v in bad)


# --- public instances ---------------------------------------------------------------------------


def test_berlin52_within_one_percent():
    inst = read_tsplib(DATA / "berlin52.tsp")
    res = solve_routes(inst.problem, seconds=2)
    assert_checked(inst.problem, res)
    tour = inst.to_file_ids([r.clients for r in res.routes])
    assert len(tour) == 1 and sorted(tour[0]) == list(range(1, 53)) and tour[0][0] == 1
    assert res.distance_m <= 7542 * 1.01


@pytest.mark.parametrize("engine", ENGINES)
def test_c101(engine):
    inst = read_instance(DATA / "C101.txt", bks={"C101": 8273})
    res = solve_routes(inst.problem, engine=engine, seconds=2)
    assert_checked(inst.problem, res)
    assert res.distance_m <= 8273 * 1.01


@pytest.mark.parametrize("engine", ["pyvrp", "ortools", "vroom"])
def test_bench_solve_json(engine):
    if engine == "vroom":
        pytest.importorskip("vroom")
    from bench.routing import run_solve

    out = run_solve(DATA / "vrptw4.txt", engine, 0.5, 0)
    assert out["instance"] == "VRPTW4" and out["convention"].startswith("solomon")
    assert out["feasible"], out["violations"]
    assert out["distance"] == 682 and out["vehicles"] == 2 and out["gap"] is None
    assert sorted(c for r in out["routes"] for c in r) == [1, 2, 3, 4]
    assert [4, 3] in out["routes"]
