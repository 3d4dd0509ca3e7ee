"""Month plan: which households are due, and their routes over the month's sessions.

Every routed plan is re-checked by the independent checker (planner.check) on the combined
problem the plan reports."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from planner.calendar import Session, SessionRules, month_sessions
from planner.check import check_routes
from planner.month import (Due, HouseholdState, MonthRules, never_visited_quota,
                           plan_group_month, select_due)

FAST = dict(seconds=1.0, iterations=300)


def weekdays_only(d: date) -> bool:
    return d.weekday() < 5


def zone(n: int, *, seed: int = 0, spacing: float = 300.0):
    """Depot at the centre, ``n`` households around it; walking 4 km/h (0.9 s per metre)."""
    rng = np.random.default_rng(seed)
    xy = np.vstack([[0.0, 0.0], rng.uniform(-spacing, spacing, (n, 2))])
    dist = np.rint(np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1))).astype(int)
    return np.rint(dist * 0.9).astype(int), dist


def by_household(due: list[Due]) -> dict[int, Due]:
    return {d.household: d for d in due}


# --- selection ----------------------------------------------------------------------------


def test_quota_front_loads_and_december_takes_all():
    assert never_visited_quota(100, 1) == 9      # ceil(100 / 12)
    assert never_visited_quota(100, 7) == 17     # ceil(100 / 6)
    assert never_visited_quota(100, 12) == 100
    assert never_visited_quota(0, 5) == 0
    states = [HouseholdState() for _ in range(30)]
    jan = select_due(states, year=2027, month=1)
    assert len(jan) == 30  # every never-visited household is a candidate
    within = [d.household for d in jan if d.within_quota]
    assert within == [0, 1, 2]                   # ceil(30 / 12), in the caller's order
    assert {d.prize for d in jan if d.within_quota} == {8}
    assert {d.prize for d in jan if not d.within_quota} == {2}
    dec = select_due(states, year=2027, month=12)
    assert all(d.within_quota and d.priority == "never_visited" for d in dec)
    assert not any(d.required for d in dec)


def test_priority_order_and_frequencies():
    m = date(2027, 5, 10)
    states = [
        HouseholdState(1, date(2027, 4, 3), "met", ("elderly_alone",)),      # 0 monthly: due
        HouseholdState(1, date(2027, 3, 3), "met", ("low_income",)),         # 1 quarterly: not yet
        HouseholdState(1, date(2027, 2, 3), "met", ("low_income",)),         # 2 quarterly: due
        HouseholdState(1, m, "met", (), follow_up=True),                     # 3 follow-up
        HouseholdState(1, date(2027, 4, 3), "not_home", ()),                 # 4 retry
        HouseholdState(0, None, None, ()),                                   # 5 never visited
        HouseholdState(0, None, None, ("evening_only",)),                    # 6 never visited
        HouseholdState(1, date(2027, 1, 3), "met", ()),                      # 7 visited: none
        HouseholdState(0, date(2027, 2, 3), "moved", ()),                    # 8 moved: never
        HouseholdState(1, date(2027, 4, 30), "not_home", ("elderly_alone",)),  # 9 priority
    ]
    due = select_due(states, year=2027, month=5)
    got = by_household(due)
    assert set(got) == {0, 2, 3, 4, 5, 6, 9}
    assert got[3].priority == "follow_up"
    assert {got[i].priority for i in (0, 2, 9)} == {"priority"}
    assert got[4].priority == "retry" and got[4].prefer_evening
    # quota = ceil(2 / 8) = 1: household 5 within, 6 beyond (caller's order)
    assert got[5].within_quota and not got[6].within_quota
    assert got[6].evening_only
    prizes = [d.prize for d in due]
    assert prizes == sorted(prizes, reverse=True)
    order = [got[i].prize for i in (3, 0, 5, 4, 6)]
    assert order == sorted(order, reverse=True) and len(set(order)) == 5
    spread = select_due(states, year=2027, month=5, rules=MonthRules(spread_after_months=3))
    assert by_household(spread)[7].priority == "spread"
    assert by_household(spread)[7].prize == 1


def test_service_minutes_by_tag_and_override():
    rules = MonthRules(service_by_tag={"elderly_alone": 20, "disabled": 15})
    states = [HouseholdState(tags=("elderly_alone", "disabled")), HouseholdState(),
              HouseholdState(service_min=25)]
    got = by_household(select_due(states, year=2027, month=12, rules=rules))
    assert [got[i].service_min for i in range(3)] == [20, 10, 25]
    with pytest.raises(ValueError, match="last_outcome"):
        HouseholdState(last_outcome="gone")


# --- routing ------------------------------------------------------------------------------


def test_evening_only_households_only_in_evening_sessions():
    n = 24
    dur, dist = zone(n, seed=1)
    states = [HouseholdState(tags=("evening_only",) if i % 4 == 0 else ()) for i in range(n)]
    due = select_due(states, year=2027, month=3)
    sessions = month_sessions(2027, 3, rules=SessionRules(), is_workday=weekdays_only)
    plan = plan_group_month(due, sessions, states=states, month=3, duration_s=dur,
                            distance_m=dist, **FAST)
    assert check_routes(plan.problem, plan.routing) == []
    assert plan.routing.feasible and plan.routing.status == "feasible"
    where = {h: plan.sessions[v].kind for v, hs in plan.session_households().items()
             for h in hs}
    assert len(where) == n and plan.unplanned == []     # plenty of time: everyone visited
    assert all(where[h] == "evening" for h in range(n) if h % 4 == 0)
    assert plan.projected_year_end_coverage == 1.0
    # times lie inside the sessions' clock times of their day
    for r in plan.routing.routes:
        s = plan.sessions[r.vehicle]
        for v in r.visits:
            day, sec = divmod(v.arrive_s, 86400)
            assert day + 1 == s.date.day and s.start_min * 60 <= sec <= s.end_min * 60


def test_evening_only_without_evenings_is_reported():
    n = 6
    dur, dist = zone(n)
    states = [HouseholdState(tags=("evening_only",) if i < 2 else ()) for i in range(n)]
    due = select_due(states, year=2027, month=12)
    day_only = [Session(date(2027, 12, 7), "stationing", 9 * 60, 12 * 60, "am")]
    plan = plan_group_month(due, day_only, states=states, month=12, duration_s=dur,
                            distance_m=dist, **FAST)
    assert sorted(plan.unplanned) == [(0, "time_window"), (1, "time_window")]
    assert check_routes(plan.problem, plan.routing) == []


def test_time_short_drops_lowest_prize_first_with_reason():
    n = 30
    dur, dist = zone(n, seed=2, spacing=150.0)
    states = ([HouseholdState(1, date(2027, 3, 1), "met", ("elderly_alone",))] * 5
              + [HouseholdState(1, date(2027, 4, 2), "not_home")] * 5
              + [HouseholdState()] * 20)
    due = select_due(states, year=2027, month=5)   # quota ceil(20/8) = 3 never-visited within
    # one 2-hour session: about 9 ten-minute visits with short walks
    sessions = [Session(date(2027, 5, 4), "stationing", 9 * 60, 11 * 60, "am")]
    plan = plan_group_month(due, sessions, states=states, month=5, duration_s=dur,
                            distance_m=dist, **FAST)
    assert check_routes(plan.problem, plan.routing) == []
    served = {h for hs in plan.session_households().values() for h in hs}
    unplanned = dict(plan.unplanned)
    assert served.isdisjoint(unplanned) and served | set(unplanned) == set(range(n))
    assert set(unplanned.values()) == {"no_time"}
    prize = {d.household: d.prize for d in plan.due}  # the quota marks are the plan's (nearest first)
    assert min(prize[h] for h in served) >= max(prize[h] for h in unplanned)
    assert set(range(5)) <= served                 # the monthly elderly households
    assert 5 < len(served) < n
    # coverage: nothing visited yet of 20; new this month x 8 months left (incl. after)
    new = sum(1 for h in served if h >= 10)
    assert plan.newly_covered == new
    assert plan.projected_year_end_coverage == pytest.approx(
        min(1.0, (10 + new + 7 * new) / 30))


def test_retries_prefer_evenings_and_determinism():
    n = 20
    dur, dist = zone(n, seed=3)
    states = ([HouseholdState(1, date(2027, 5, 11), "not_home")] * 4
              + [HouseholdState()] * (n - 4))
    due = select_due(states, year=2027, month=6)
    sessions = month_sessions(2027, 6, rules=SessionRules(evenings_per_week=1),
                              is_workday=weekdays_only)
    a = plan_group_month(due, sessions, states=states, month=6, duration_s=dur,
                         distance_m=dist, seed=7, **FAST)
    b = plan_group_month(due, sessions, states=states, month=6, duration_s=dur,
                         distance_m=dist, seed=7, **FAST)
    assert a.session_households() == b.session_households()
    assert [(r.vehicle, r.visits) for r in a.routing.routes] == \
        [(r.vehicle, r.visits) for r in b.routing.routes]
    where = {h: a.sessions[v].kind for v, hs in a.session_households().items() for h in hs}
    assert all(where[h] == "evening" for h in range(4))
    assert check_routes(a.problem, a.routing) == []


def test_no_sessions_and_bad_matrix():
    states = [HouseholdState() for _ in range(3)]
    dur, dist = zone(3)
    due = select_due(states, year=2027, month=3)
    plan = plan_group_month(due, [], states=states, month=3, duration_s=dur, **FAST)
    assert sorted(plan.unplanned) == [(0, "no_time"), (1, "no_time"), (2, "no_time")]
    assert plan.projected_year_end_coverage == 0.0
    with pytest.raises(ValueError, match="4x4"):
        plan_group_month(due, [], states=states, month=3, duration_s=dur[:3, :3])


def test_unreachable_household_is_reported():
    dur, dist = zone(4)
    dur[0, 3] = dur[3, 0] = 6 * 3600  # six hours' walk: longer than any session
    dist[0, 3] = dist[3, 0] = 20_000
    states = [HouseholdState() for _ in range(4)]
    due = select_due(states, year=2027, month=12)
    sessions = month_sessions(2027, 12, rules=SessionRules(), is_workday=weekdays_only)
    plan = plan_group_month(due, sessions, states=states, month=12, duration_s=dur,
                            distance_m=dist, **FAST)
    assert dict(plan.unplanned) == {2: "unreachable"}
    assert check_routes(plan.problem, plan.routing) == []
    day_only = [s for s in sessions if s.kind == "stationing"]
    states[0] = HouseholdState(tags=("evening_only",))
    due = select_due(states, year=2027, month=12)
    plan = plan_group_month(due, day_only, states=states, month=12, duration_s=dur,
                            distance_m=dist, **FAST)
    assert dict(plan.unplanned) == {0: "time_window", 2: "unreachable"}


def test_projection_below_full_when_capacity_is_short():
    n = 60
    dur, dist = zone(n, seed=4, spacing=150.0)
    states = [HouseholdState() for _ in range(n)]
    due = select_due(states, year=2027, month=11)
    sessions = [Session(date(2027, 11, 2), "stationing", 9 * 60, 11 * 60, "am")]
    plan = plan_group_month(due, sessions, states=states, month=11, duration_s=dur,
                            distance_m=dist, **FAST)
    new = plan.newly_covered
    assert 5 <= new < 30
    assert plan.projected_year_end_coverage == pytest.approx((new + 1 * new) / n)
    assert plan.projected_year_end_coverage < 1.0


def test_sessions_of_another_month_are_refused():
    states = [HouseholdState()]
    dur, _ = zone(1)
    due = select_due(states, year=2027, month=3)
    with pytest.raises(ValueError, match="month 3"):
        plan_group_month(due, [Session(date(2027, 4, 6), "evening", 19 * 60, 21 * 60)],
                         states=states, month=3, duration_s=dur)


# --- start point: the auxiliary member's home, ending at it or at the office ------------------


def two_places(n: int, *, seed: int = 5, far_m: float = 9000.0):
    """Row 0: the auxiliary member's home among ``n`` households (spread 300 m around it);
    row 1: the village office ``far_m`` metres away (walking 0.9 s per metre)."""
    rng = np.random.default_rng(seed)
    xy = np.vstack([[0.0, 0.0], [far_m, 0.0], rng.uniform(-300, 300, (n, 2))])
    dist = np.rint(np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1))).astype(int)
    return np.rint(dist * 0.9).astype(int), dist


def walk_check(plan, dur, n_depots: int, end: int) -> None:
    """Re-time every route on the real matrix (rows: the start/end points, then the households),
    independently of the solver's report: it leaves the start point (row 0), walks to each
    household in turn, and is back at row ``end`` when it says, inside its session."""
    for r in plan.routing.routes:
        s = plan.sessions[r.vehicle]
        base = (s.date.day - 1) * 86400
        assert base + s.start_min * 60 <= r.start_s and r.end_s <= base + s.end_min * 60
        rows = [n_depots + plan.due[v.client].household for v in r.visits]
        assert r.visits[0].arrive_s - r.start_s == dur[0, rows[0]]      # no windows: no waiting
        for a, b, va, vb in zip(rows, rows[1:], r.visits, r.visits[1:]):
            assert vb.arrive_s >= va.depart_s + dur[a, b]
        assert r.end_s - r.visits[-1].depart_s == dur[rows[-1], end]


def test_sessions_start_at_the_auxiliary_home_and_end_there_or_at_the_office():
    n = 12
    dur, dist = two_places(n)
    states = [HouseholdState() for _ in range(n)]
    due = select_due(states, year=2027, month=3)
    sessions = [Session(date(2027, 3, 2), "stationing", 9 * 60, 12 * 60, "am"),
                Session(date(2027, 3, 2), "stationing", 14 * 60 + 30, 17 * 60 + 30, "pm")]
    # from the office, 2.25 hours away: every household is out of reach of a 3-hour session
    office = np.ix_([1, *range(2, n + 2)], [1, *range(2, n + 2)])
    far = plan_group_month(due, sessions, states=states, month=3, duration_s=dur[office],
                           distance_m=dist[office], **FAST)
    assert {why for _, why in far.unplanned} == {"unreachable"} and not far.routing.routes
    # from the auxiliary member's home (row 0), back there: everyone fits
    home = np.ix_([0, *range(2, n + 2)], [0, *range(2, n + 2)])
    near = plan_group_month(due, sessions, states=states, month=3, duration_s=dur[home],
                            distance_m=dist[home], **FAST)
    assert near.unplanned == [] and check_routes(near.problem, near.routing) == []
    walk_check(near, dur[home], 1, 0)
    # from the home, ending at the office (row 1): the walk back takes 2.25 of the 3 hours
    there = plan_group_month(due, sessions, states=states, month=3, duration_s=dur, distance_m=dist,
                             n_depots=2, end_depot=1, **FAST)
    assert check_routes(there.problem, there.routing) == []
    assert all(r.start_depot == 0 and r.end_depot == 1 for r in there.routing.routes)
    assert 0 < len(there.routing.served) < n
    walk_check(there, dur, 2, 1)
    with pytest.raises(ValueError, match="end_depot"):
        plan_group_month(due, sessions, states=states, month=3, duration_s=dur, n_depots=2, end_depot=2)
    with pytest.raises(ValueError, match="14x14"):
        plan_group_month(due, sessions, states=states, month=3, duration_s=dur[home], n_depots=2,
                         end_depot=1)


def _solve(kw: dict):
    return plan_group_month(**kw)


def test_a_worker_process_gives_the_same_plan_as_in_process():
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context

    n = 40
    dur, dist = zone(n, seed=6)
    states = [HouseholdState() for _ in range(n)]
    kw = dict(due=select_due(states, year=2027, month=4),
              sessions=month_sessions(2027, 4, rules=SessionRules(), is_workday=weekdays_only),
              states=states, month=4, duration_s=dur, distance_m=dist, seed=3, seconds=600.0,
              iterations=200)
    here = _solve(kw)
    with ProcessPoolExecutor(1, mp_context=get_context("spawn")) as pool:
        there = pool.submit(_solve, kw).result()
    assert [(r.vehicle, r.visits, r.distance_m) for r in here.routing.routes] == \
        [(r.vehicle, r.visits, r.distance_m) for r in there.routing.routes]
    assert here.unplanned == there.unplanned and here.routing.served


def test_never_visited_quota_goes_to_the_households_nearest_the_start():
    n = 24
    dur, dist = zone(n, seed=4, spacing=120.0)
    states = [HouseholdState()] * n
    due = select_due(states, year=2027, month=3)   # quota ceil(24/10) = 3 of 24 never visited
    assert sum(d.within_quota for d in due) == 3
    sessions = [Session(date(2027, 3, 2), "stationing", 9 * 60, 12 * 60, "am")]
    plan = plan_group_month(due, sessions, states=states, month=3, duration_s=dur,
                            distance_m=dist, **FAST)
    marked = sorted(d.household for d in plan.due if d.within_quota)
    nearest = sorted(sorted(range(n), key=lambda h: (int(dur[0, 1 + h]), h))[:3])
    assert marked == nearest
    top = max(d.prize for d in plan.due)
    assert {d.household for d in plan.due if d.prize == top} == set(marked)
    served = {h for hs in plan.session_households().values() for h in hs}
    assert set(marked) <= served


def test_a_large_group_plans_its_most_urgent_households_first():
    """With 150+ candidates and a few urgent ones, the urgent households are routed on their own
    first and the full search starts from those routes: they are all served."""
    n = 180
    dur, dist = zone(n, seed=8, spacing=400.0)
    states = ([HouseholdState(1, date(2027, 3, 1), "met", ("elderly_alone",))] * 12
              + [HouseholdState(1, date(2027, 3, 5), "met")] * 8 + [HouseholdState()] * (n - 20))
    due = select_due(states, year=2027, month=5)
    sessions = [Session(date(2027, 5, d), "stationing", 9 * 60, 12 * 60, "am") for d in (4, 11)]
    plan = plan_group_month(due, sessions, states=states, month=5, duration_s=dur,
                            distance_m=dist, seconds=3.0, seed=0)
    assert check_routes(plan.problem, plan.routing) == []
    served = {h for hs in plan.session_households().values() for h in hs}
    assert set(range(12)) <= served, dict(plan.unplanned)  # the monthly elderly households
    assert len(served) < n and dict(plan.unplanned)


def test_the_default_search_is_an_iteration_count_so_the_plan_is_reproducible(monkeypatch):
    """Without ``iterations`` PyVRP runs ITERATIONS_PER_SECOND x seconds iterations: the same plan
    however long each run takes (here: one run while two other processes keep the cores busy); when the
    wall-clock guard cuts a search short the result says so."""
    import multiprocessing

    import planner.month as month

    n = 220
    dur, dist = zone(n, seed=9, spacing=1200.0)
    states = [HouseholdState()] * n
    due = select_due(states, year=2027, month=12)
    sessions = month_sessions(2027, 12, rules=SessionRules(evenings_per_week=1), is_workday=weekdays_only)
    kw = dict(states=states, month=12, duration_s=dur, distance_m=dist, seconds=0.4, seed=2)
    quiet = plan_group_month(due, sessions, **kw)
    # a time limit here gives another plan under load (checked: 321 vs 97 iterations)
    hogs = [multiprocessing.get_context("spawn").Process(target=_spin, args=(20.0,), daemon=True)
            for _ in range(2)]
    for hog in hogs:
        hog.start()
    try:
        busy = plan_group_month(due, sessions, **kw)
    finally:
        for hog in hogs:
            hog.terminate()
    assert quiet.routing.params["iterations_per_second"] == month.ITERATIONS_PER_SECOND
    assert not quiet.routing.stopped_on_time and not busy.routing.stopped_on_time
    assert [(r.vehicle, r.visits) for r in quiet.routing.routes] == \
        [(r.vehicle, r.visits) for r in busy.routing.routes]
    assert check_routes(quiet.problem, quiet.routing) == []

    monkeypatch.setattr(month, "ITERATIONS_PER_SECOND", 10**9)
    monkeypatch.setattr(month, "_WALL_GUARD_EXTRA_S", 0.0)
    cut = plan_group_month(due, sessions, **{**kw, "seconds": 0.1})
    assert cut.routing.stopped_on_time and "time limit" in cut.routing.solver_status
    assert check_routes(cut.problem, cut.routing) == []


def _spin(seconds: float) -> None:
    import time

    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


def test_a_month_far_too_short_offers_only_the_nearest_candidates():
    """One 3-hour session, 10-minute visits: 18 places, so at most 27 candidates are offered:
    every priority household (even the farthest) and the nearest never-visited ones; the rest are
    'no_time' without reaching the engine, and an unreachable household keeps its reason."""
    n = 120
    dur, dist = zone(n, seed=11, spacing=600.0)
    far = int(np.argmax(dur[0, 1:]))                      # the farthest household: unreachable
    dur[0, 1 + far] = dur[1 + far, 0] = 6 * 3600
    states = [HouseholdState() for _ in range(n)]
    reach = dur[0, 1:]
    by_reach = [h for h in np.argsort(reach, kind="stable") if h != far]
    elderly = [int(h) for h in by_reach[-4:]]             # priority households among the farthest
    for h in elderly:
        states[h] = HouseholdState(1, date(2027, 10, 20), "met", ("elderly_alone",))
    due = select_due(states, year=2027, month=12)
    sessions = [Session(date(2027, 12, 7), "stationing", 9 * 60, 12 * 60, "am")]
    plan = plan_group_month(due, sessions, states=states, month=12, duration_s=dur,
                            distance_m=dist, **FAST)
    assert check_routes(plan.problem, plan.routing) == []
    served = {h for hs in plan.session_households().values() for h in hs}
    reasons = dict(plan.unplanned)
    assert reasons[far] == "unreachable"
    offered_low = [int(h) for h in by_reach if int(h) not in elderly][:27 - len(elderly)]
    assert served - set(elderly) <= set(offered_low)       # no far household of the lowest class
    assert all(reasons[h] == "no_time" for h in range(n) if h not in served and h != far)
    full = plan_group_month(due, sessions, states=states, month=12, duration_s=dur,
                            distance_m=dist, prune=False, **FAST)
    assert check_routes(full.problem, full.routing) == []
    assert dict(full.unplanned)[far] == "unreachable"


def test_a_remote_hamlet_gets_an_outpost_and_sessions_from_it():
    """12 households two hours' walk from the office (a hamlet up the mountain): unreachable in a
    session from there; an outpost among them takes a share of the sessions, and they are planned
    from it, each of those sessions starting and ending there."""
    from planner.month import choose_outpost, outpost_sessions

    near, far = 30, 12
    dur, dist = zone(near, seed=5, spacing=300.0)
    n = near + far
    rng = np.random.default_rng(5)
    hamlet = rng.uniform(0, 150, (far, 2))
    D = np.zeros((1 + n, 1 + n), dtype=np.int64)
    D[:1 + near, :1 + near] = dur
    inner = np.rint(np.hypot(*(hamlet[:, None, :] - hamlet[None, :, :]).transpose(2, 0, 1)) * 0.9).astype(np.int64)
    D[1 + near:, 1 + near:] = inner
    D[:1 + near, 1 + near:] = D[1 + near:, :1 + near] = 7200  # two hours between the two places
    states = [HouseholdState() for _ in range(n)]
    due = select_due(states, year=2027, month=12)
    sessions = month_sessions(2027, 12, rules=SessionRules(evenings_per_week=1), is_workday=weekdays_only)
    kw = dict(states=states, month=12, **FAST)
    without = plan_group_month(due, sessions, duration_s=D, distance_m=D, **kw)
    assert {h for h, why in without.unplanned if why == "unreachable"} == set(range(near, n))

    choice = choose_outpost(due, sessions, D)
    assert choice is not None and set(choice.covered) == set(range(near, n)) == set(choice.far)
    moved = outpost_sessions(sessions, len(choice.covered) / len(due), depot=1)
    assert 1 <= sum(1 for s in moved if s.depot == 1) < len(sessions)
    assert all(s.kind == "stationing" for s in moved if s.depot)            # daylight sessions first
    at = np.r_[0, 1 + choice.household, np.arange(1, 1 + n)]                 # the outpost: a household's place
    D2 = D[np.ix_(at, at)]
    plan = plan_group_month(due, moved, duration_s=D2, distance_m=D2, n_depots=2, **kw)
    assert check_routes(plan.problem, plan.routing) == []
    where = {h: plan.sessions[v] for v, hs in plan.session_households().items() for h in hs}
    assert set(range(near, n)) <= set(where)                                  # the hamlet is planned
    assert all(where[h].depot == 1 for h in range(near, n))
    assert all(r.start_depot == r.end_depot == 1 for r in plan.routing.routes if plan.sessions[r.vehicle].depot)
    assert choose_outpost(due, sessions, D, min_households=far + 1) is None
