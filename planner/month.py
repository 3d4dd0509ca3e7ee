"""The month plan of one group: which households are due, and the routes of every session.

Two steps, both pure:

1. :func:`select_due` turns the households' visit history into :class:`Due` entries, each with a
   priority class and a prize weight (no hard requirements: a month short of time is a result,
   never an error).
2. :func:`plan_group_month` routes them over the month's sessions (:mod:`planner.calendar`)
   with :func:`planner.routing.solve_routes`: one vehicle per session, every household an
   optional client whose prize is its weight times a distance unit, so the least urgent
   households are the first left out. Unplanned households come back with a reason and the
   zone's projected year-end coverage is reported.

Which households are due (:func:`select_due`)
---------------------------------------------
Households whose last outcome is ``moved`` are not planned (and not counted in coverage).
Each other household falls in the first class that applies, in this order of urgency:

``follow_up``
    asked for by another part of the system (``HouseholdState.follow_up``, the ledger's hook);
``priority``
    has a tag of ``MonthRules.frequency_months`` (e.g. ``elderly_alone``: 1, ``low_income``: 3)
    and is due: never visited, last attempt ``not_home``, or at least that many calendar months
    since the last visit (the shortest frequency of its tags counts);
``never_visited`` (within quota)
    not visited this year (``visits_this_year == 0``), among the first ``quota`` of them in the
    caller's order, ``quota = ceil(not visited this year / months left including this one)``
    (front-loading: December takes them all); households of the two classes above that were not
    visited this year use up quota first;
``retry``
    last attempt ``not_home``; preferably in an evening session (``retry_prefer_evening``);
``never_visited`` (beyond quota)
    the rest of the households not visited this year: planned if time allows;
``spread``
    visited this year, last visit at least ``spread_after_months`` months ago (off by default).

Prize weights by class are ``MonthRules.prize_weights`` (default 2x apart). The order of
households in the caller's list is the tie-break, so pass them in the order they should be
front-loaded (e.g. by address).

How the month is routed (:func:`plan_group_month`)
--------------------------------------------------
Times are seconds since the start of the month (day offset x 86400 + minutes x 60), so one
:class:`~planner.routing.RoutingProblem` covers the whole month; each session is a
:class:`~planner.routing.Vehicle` starting at location 0 (the village committee office, or the
auxiliary member's home: whatever the caller put in row 0 of the matrices) and ending at location
``end_depot`` (0: where it started; 1: a second point in row 1 when ``n_depots=2``, e.g. the
office when the session starts at the auxiliary member's home).

The routing core has one time window per household and no per-household list of allowed
sessions, so evening-only households cannot be limited to evenings inside one problem. The
month is therefore solved in **two phases**:

1. the stationing-day sessions, with every household except the evening-only ones (and the
   not-home retries when ``retry_prefer_evening`` and the month has evenings);
2. the evening sessions, with the evening-only households, the retries, and every household the
   day sessions could not take.

Approximation: a day household only reaches an evening session when the day sessions are full,
and a retry left out of the evenings is not tried by day. The two results are merged into one
:class:`~planner.routing.RoutingResult` over one combined problem (``GroupMonth.problem``: all
sessions as vehicles in time order, the due households as clients in ``due`` order), which the
independent checker re-checks. Each phase gets half of ``seconds`` (all of it when the other
phase is empty).

When a phase's sessions cannot hold all its candidates by far (December with no visit history),
only the nearest candidates of the lowest class are offered to the engine (every household of a
higher class always is; :func:`_nearest_candidates`); the others are left for a later month as
``no_time``, exactly as if the engine had left them out, and the search spends its time on the
households it can actually plan.

Determinism and parallel runs: the function is pure and its arguments pickle, so groups can be
solved in worker processes (``api.plan.run_plan`` does). With PyVRP the search stops after an
iteration count (:data:`ITERATIONS_PER_SECOND` x ``seconds``, or ``iterations``), so the plan
depends only on the arguments and ``seed``: a worker, a busy machine or a faster one gives the
same plan as an in-process call.  Only when the wall-clock guard cuts a search short (a machine
far slower than the calibration, or heavily overloaded) can the plan differ; the result says so
(``RoutingResult.stopped_on_time``).  OR-Tools routing stops on ``seconds`` (or on
``iterations`` solutions), so its plans can vary with load.

Projected year-end coverage of the zone = (households visited this year + households not yet
visited that this month's plan visits + months left after this one x this month's throughput of
new households) / households, at most 1. The throughput is the planned visits to households not
visited this year plus the ``spread`` visits (time that could serve new households).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from types import MappingProxyType

import numpy as np
import numpy.typing as npt

from planner.calendar import Session
from planner.check import check_routes
from planner.routing import (MAX_PRIZE, MAX_TIME, UNREACHABLE, Route, RoutingProblem,
                             RoutingResult, Vehicle, Visit, precheck, solve_routes)

logger = logging.getLogger(__name__)

OUTCOMES = ("met", "not_home", "refused", "moved")
PRIORITIES = ("follow_up", "priority", "never_visited", "retry", "spread")

_DEFAULT_FREQUENCY = MappingProxyType(
    {"elderly_alone": 1, "low_income": 3, "disabled": 3, "open_problem": 1})
_DEFAULT_WEIGHTS = MappingProxyType({
    "follow_up": 32, "priority": 16, "never_visited": 8, "retry": 4,
    "never_visited_beyond_quota": 2, "spread": 1})
"""Each class is worth twice the next: when time is short the least urgent go first, and the
prizes stay small enough next to walking costs for PyVRP's penalties to keep routes feasible
(with 10x steps, up to 1e5 x the longest walk, its best solutions kept time warp)."""


@dataclass(frozen=True)
class HouseholdState:
    """What the plan needs to know of one household.

    ``visits_this_year`` counts this year's visits that reached the household (outcome ``met``
    or ``refused``); ``last_visit``/``last_outcome`` are the latest attempt, whatever its
    outcome. ``follow_up`` is the hook for other parts of the system (problem ledger).
    ``service_min`` overrides the rules' service time (e.g. computed from household size).
    """

    visits_this_year: int = 0
    last_visit: date | None = None
    last_outcome: str | None = None
    tags: tuple[str, ...] = ()
    follow_up: bool = False
    service_min: int | None = None

    def __post_init__(self) -> None:
        if self.visits_this_year < 0:
            raise ValueError("visits_this_year must be >= 0")
        if self.last_outcome is not None and self.last_outcome not in OUTCOMES:
            raise ValueError(f"last_outcome must be one of {OUTCOMES} or None, "
                             f"got {self.last_outcome!r}")
        if self.service_min is not None and self.service_min < 0:
            raise ValueError("service_min must be >= 0 or None")


@dataclass(frozen=True)
class MonthRules:
    """How households are chosen and how long a visit takes.

    Attributes
    ----------
    frequency_months : tag -> months
        Priority tags and how often (in months) they are visited.
    service_min : int
        Default minutes per visit.
    service_by_tag : tag -> minutes
        Visit minutes by tag (the largest of a household's tags wins).
    evening_only_tag : str
        Households with this tag are only visited in evening sessions.
    retry_prefer_evening : bool
        Not-home retries go to the evening sessions (when the month has any).
    spread_after_months : int or None
        Households already visited this year become ``spread`` candidates this many months after
        their last visit (None: never).
    prize_weights : class -> weight
        Keys ``follow_up``, ``priority``, ``never_visited``, ``retry``,
        ``never_visited_beyond_quota``, ``spread``.
    """

    frequency_months: Mapping[str, int] = field(default_factory=lambda: dict(_DEFAULT_FREQUENCY))
    service_min: int = 10
    service_by_tag: Mapping[str, int] = field(default_factory=dict)
    evening_only_tag: str = "evening_only"
    retry_prefer_evening: bool = True
    spread_after_months: int | None = None
    prize_weights: Mapping[str, int] = field(default_factory=lambda: dict(_DEFAULT_WEIGHTS))

    def __post_init__(self) -> None:
        problems = []
        if any(m < 1 for m in self.frequency_months.values()):
            problems.append("frequency_months values must be >= 1")
        if self.service_min < 0 or any(m < 0 for m in self.service_by_tag.values()):
            problems.append("service minutes must be >= 0")
        if self.spread_after_months is not None and self.spread_after_months < 1:
            problems.append("spread_after_months must be >= 1 or None")
        missing = set(_DEFAULT_WEIGHTS) - set(self.prize_weights)
        if missing:
            problems.append(f"prize_weights lacks {sorted(missing)}")
        if any(w < 1 for w in self.prize_weights.values()):
            problems.append("prize_weights must be >= 1")
        if problems:
            raise ValueError("invalid month rules: " + "; ".join(problems))


@dataclass(frozen=True)
class Due:
    """One household to plan this month.

    ``household`` is its position in the states passed to :func:`select_due`; ``prize`` the
    weight of its class (scaled to the distance unit by :func:`plan_group_month`);
    ``required`` is always False from :func:`select_due` (a caller may set it).
    """

    household: int
    priority: str
    prize: int
    required: bool
    evening_only: bool
    prefer_evening: bool = False
    service_min: int = 10
    within_quota: bool = False


def months_between(earlier: date, year: int, month: int) -> int:
    """Calendar months from ``earlier``'s month to ``year``/``month`` (same month: 0)."""
    return (year * 12 + month) - (earlier.year * 12 + earlier.month)


def never_visited_quota(n_not_visited: int, month: int) -> int:
    """``ceil(n / months left including this one)``: December takes all."""
    if not 1 <= month <= 12:
        raise ValueError(f"month must be 1..12, got {month}")
    return math.ceil(n_not_visited / (12 - month + 1))


def _service(s: HouseholdState, rules: MonthRules) -> int:
    if s.service_min is not None:
        return s.service_min
    by_tag = [rules.service_by_tag[t] for t in s.tags if t in rules.service_by_tag]
    return max(by_tag) if by_tag else rules.service_min


def _priority_due(s: HouseholdState, rules: MonthRules, year: int, month: int) -> bool:
    freqs = [rules.frequency_months[t] for t in s.tags if t in rules.frequency_months]
    if not freqs:
        return False
    if s.last_visit is None or s.last_outcome == "not_home":
        return True
    return months_between(s.last_visit, year, month) >= min(freqs)


def select_due(states: Sequence[HouseholdState], *, year: int, month: int,
               rules: MonthRules = MonthRules()) -> list[Due]:
    """The households to plan this month, most urgent first (see the module docstring)."""
    quota_left = never_visited_quota(
        sum(1 for s in states if s.last_outcome != "moved" and s.visits_this_year == 0), month)
    classes: dict[int, str] = {}
    for i, s in enumerate(states):
        if s.last_outcome == "moved":
            continue
        if s.follow_up:
            classes[i] = "follow_up"
        elif _priority_due(s, rules, year, month):
            classes[i] = "priority"
        else:
            continue
        if s.visits_this_year == 0:
            quota_left -= 1
    within: set[int] = set()
    for i, s in enumerate(states):
        if i in classes or s.last_outcome == "moved":
            continue
        if s.visits_this_year == 0 and quota_left > 0:
            classes[i] = "never_visited"
            within.add(i)
            quota_left -= 1
        elif s.last_outcome == "not_home":
            classes[i] = "retry"
        elif s.visits_this_year == 0:
            classes[i] = "never_visited"
        elif (rules.spread_after_months is not None and s.last_visit is not None
              and months_between(s.last_visit, year, month) >= rules.spread_after_months):
            classes[i] = "spread"
    w = rules.prize_weights
    out = []
    for i, cls in classes.items():
        s = states[i]
        weight_key = ("never_visited_beyond_quota"
                      if cls == "never_visited" and i not in within else cls)
        out.append(Due(household=i, priority=cls, prize=int(w[weight_key]), required=False,
                       evening_only=rules.evening_only_tag in s.tags,
                       prefer_evening=cls == "retry" and rules.retry_prefer_evening,
                       service_min=_service(s, rules), within_quota=i in within))
    out.sort(key=lambda d: (-d.prize, d.household))
    return out


@dataclass
class GroupMonth:
    """The month plan of one group.

    ``problem`` is the combined routing problem (vehicles = ``sessions``, clients = ``due`` in
    order, locations ``0 .. n_depots-1`` = the start (and end) points, each session starting at 0
    and ending at ``end_depot``): ``planner.check.check_routes(problem, routing)`` re-checks it.
    ``unplanned`` lists ``(household, reason)`` for every due household not in a route
    (household = position in the states); reasons as in :mod:`planner.routing`.
    """

    sessions: list[Session]
    routing: RoutingResult
    due: list[Due]
    unplanned: list[tuple[int, str]]
    projected_year_end_coverage: float
    problem: RoutingProblem
    covered_before: int = 0
    newly_covered: int = 0
    households: int = 0

    def session_households(self) -> dict[int, list[int]]:
        """Session index -> households visited, in route order."""
        return {r.vehicle: [self.due[c].household for c in r.clients]
                for r in self.routing.routes}


def session_window_s(session: Session) -> tuple[int, int]:
    """The session's window in seconds since the start of its month."""
    base = (session.date.day - 1) * 86400
    return base + session.start_min * 60, base + session.end_min * 60


def _finite_max(m: npt.NDArray[np.int64]) -> int:
    ok = m[(m >= 0) & (m < UNREACHABLE)]
    return int(ok.max()) if ok.size else 0


ITERATIONS_PER_SECOND = 1500
"""PyVRP iterations per second of ``seconds`` when no iteration limit is given.

A month plan stops after a number of iterations, not at a time, so the same data and seed give
the same plan on any machine and under any load.  Measured on the demo town's month instances
(AMD EPYC core, 2026-11-28): 1,040-3,990 iterations a second per phase, median about 2,200,
slowest where every candidate fits and the routes are long (months with visit history).  At
1500, ``--seconds 5`` (7,500 iterations) takes 2.0-4.8 s on the groups of September and
December with history, and plans them exactly as 10,000 iterations do; groups with many more
candidates than places (December without history) run faster."""
_WALL_GUARD_FACTOR = 4
_WALL_GUARD_EXTRA_S = 10.0
"""The wall-clock limit of a search with a derived iteration limit: ``4 x seconds + 10 s``; it
only binds on a much slower or overloaded machine (the plan then says so)."""

_STAGED_MIN = 150
"""Groups with at least this many candidates (in one phase) plan their most urgent households
first (PyVRP), when those are at most :data:`_STAGED_SHARE` of them."""
_STAGED_SHARE = 0.6
_STAGED_FIRST = 0.3
"""Share of a phase's budget for the first, most-urgent-only search."""


_CANDIDATES_PER_PLACE = 1.5
"""A phase offers the engine at most this many candidates of the lowest class per place its
sessions have (see :func:`_nearest_candidates`); the others are left out as ``no_time``."""


def _nearest_candidates(cs: list[int], prize: npt.NDArray[np.int64], service_s: npt.NDArray[np.int64],
                        reach_s: npt.NDArray[np.int64], session_s: int) -> list[int]:
    """The candidates of a phase not to offer to the engine.

    When the sessions cannot possibly hold every candidate (December with no visit history: a
    whole year's households offered to one month), the engine spends its search deciding which
    of hundreds of equal households to leave out.  Places: the sessions' minutes over the mean
    visit minutes (an upper bound: walking counts as nothing).  Every household of a higher
    class stays; of the lowest class, the ones nearest the start (walking time ``reach_s``,
    then position) stay, up to :data:`_CANDIDATES_PER_PLACE` x places in all.  A household
    further out would cost a longer walk for the same visit, so it is left for a later month.

    Returns
    -------
    list of int
        Candidates left out (positions into ``prize``), in the order of ``cs``.
    """
    if not cs:
        return []
    places = session_s / max(float(np.mean(service_s[cs])), 1.0)
    cap = int(np.ceil(_CANDIDATES_PER_PLACE * places))
    if len(cs) <= cap:
        return []
    lowest = int(prize[cs].min())
    low = [c for c in cs if prize[c] == lowest]
    room = max(0, cap - (len(cs) - len(low)))
    keep_low = set(sorted(low, key=lambda c: (int(reach_s[c]), c))[:room])
    return [c for c in low if c not in keep_low]


def _quota_nearest_first(due: list[Due], duration_s: npt.NDArray[np.int64], n_depots: int,
                         starts: Sequence[int] = (0,)) -> list[Due]:
    """Give this month's never-visited quota to the never-visited households nearest the start.

    :func:`select_due` knows how many never-visited households the month should take (the
    front-loaded quota) but not where they are, so it marks the first ones in the list.  Here
    the same number is marked again, nearest the start of the sessions first (walking time,
    then position): the month's quota is then one compact part of the zone, which the teams can
    cover in a few sessions, instead of households scattered over all of it; the rest of the zone
    follows in the next months.  Prizes move with the mark; everything else is unchanged.
    """
    never = [k for k, d in enumerate(due) if d.priority == "never_visited"]
    within = [k for k in never if due[k].within_quota]
    beyond = [k for k in never if not due[k].within_quota]
    if not within or not beyond:
        return due
    p_in, p_out = due[within[0]].prize, due[beyond[0]].prize
    rows = list(starts)
    order = sorted(never, key=lambda k: (int(duration_s[rows, n_depots + due[k].household].min()),
                                         due[k].household))
    chosen = set(order[:len(within)])
    out = list(due)
    for k in never:
        inside = k in chosen
        out[k] = replace(due[k], within_quota=inside, prize=p_in if inside else p_out)
    out.sort(key=lambda d: (-d.prize, d.household))
    return out


OUTPOST_MIN_HOUSEHOLDS = 5
"""An outpost is chosen when at least this many due households are out of walking reach."""
MAX_OUTPOSTS = 3
"""Outposts per group at most (one per remote hamlet, the farthest-reaching first)."""


@dataclass(frozen=True)
class Outpost:
    """A second start point for households the usual start cannot reach in a session.

    ``household``: position in ``states`` of the household whose place becomes the outpost;
    ``far``: due households (positions in ``states``) out of reach of the usual start;
    ``covered``: those of them a session from the outpost can reach.
    """

    household: int
    far: tuple[int, ...]
    covered: tuple[int, ...]


def _unreachable(D: npt.NDArray[np.int64], L: npt.NDArray[np.int64], trips: Sequence[tuple[int, int]],
                 rows: npt.NDArray[np.int64], service_s: npt.NDArray[np.int64], session_s: int) -> npt.NDArray[np.bool_]:
    """For the households at matrix ``rows``: True where no session of ``session_s`` seconds
    going out from and back to any of ``trips`` ((start row, end row) pairs, any rows of the
    matrices) can visit it alone: :func:`planner.routing.precheck`'s ``unreachable``."""
    ends = list(dict.fromkeys(r for trip in trips for r in trip))
    at = {r: k for k, r in enumerate(ends)}
    locs = np.r_[ends, rows]
    problem = RoutingProblem.from_matrices(
        D[np.ix_(locs, locs)], L[np.ix_(locs, locs)], n_depots=len(ends),
        vehicles=[Vehicle(at[s], at[e], 0, session_s) for s, e in trips],
        service_s=service_s, required=False, prize=1)
    why = precheck(problem)
    return np.array([why.get(c) == "unreachable" for c in range(len(rows))], dtype=bool)


def choose_outpost(due: Sequence[Due], sessions: Sequence[Session], duration_s: npt.ArrayLike,
                   distance_m: npt.ArrayLike | None = None, *,
                   n_depots: int = 1, end_depot: int = 0, outposts: Sequence[int] = (),
                   min_households: int = OUTPOST_MIN_HOUSEHOLDS) -> Outpost | None:
    """Where sessions should start for due households too far to walk to from the usual start.

    A household is out of reach when no session, as long as the longest of ``sessions``, can
    visit it alone: out from the start (row 0) and back to the end (row ``end_depot``), nor
    from any outpost already chosen (``outposts``: their rows; a session from an outpost ends
    there): the engine's pre-check would call it ``unreachable``.  Among those, the outpost is
    the one with the least walking to the others (each walk counted at most a session's
    length), and it covers those a session from it can reach.  Teams get to an outpost by car
    or bus; that trip is not part of the session.

    Returns
    -------
    Outpost or None
        None when fewer than ``min_households`` due households are out of reach, or the outpost
        would cover fewer than that.
    """
    if not due or not sessions:
        return None
    D = np.asarray(duration_s, dtype=np.int64)
    L = D if distance_m is None else np.asarray(distance_m, dtype=np.int64)
    nd = int(n_depots)
    longest = max(s.minutes for s in sessions) * 60
    hh = np.array([d.household for d in due], dtype=np.int64)
    svc = np.array([d.service_min * 60 for d in due], dtype=np.int64)
    rows = nd + hh
    far = _unreachable(D, L, [(0, end_depot), *((int(o), int(o)) for o in outposts)], rows, svc, longest)
    if far.sum() < min_households:
        return None
    f_rows = rows[far]
    walk = D[np.ix_(f_rows, f_rows)]
    walk = np.where((walk < 0) | (walk >= UNREACHABLE), longest, np.minimum(walk, longest))
    o = int(np.argmin(walk.sum(axis=1)))
    reach = ~_unreachable(D, L, [(int(f_rows[o]), int(f_rows[o]))], f_rows, svc[far], longest)
    if reach.sum() < min_households:
        return None
    far_hh = hh[far]
    return Outpost(household=int(far_hh[o]), far=tuple(int(h) for h in far_hh),
                   covered=tuple(int(h) for h in far_hh[reach]))


def outpost_sessions(sessions: Sequence[Session], share: float, depot: int) -> list[Session]:
    """Move about ``share`` of the sessions (at least one) to start at row ``depot``.

    Only sessions still at the usual start move.  Stationing-day sessions first (daylight, and
    the longer ones), spread evenly over the month; evenings only when the share needs more than
    the stationing days have.  ``share`` counts all the sessions, but at least one session stays
    at the usual start.
    """
    order = sorted((k for k in range(len(sessions)) if not sessions[k].depot),
                   key=lambda k: (sessions[k].date, sessions[k].start_min))
    if len(order) < 2:
        return list(sessions)
    k = min(len(order) - 1, max(1, round(share * len(sessions))))
    days = [i for i in order if sessions[i].kind == "stationing"]
    evenings = [i for i in order if sessions[i].kind != "stationing"]

    def spread(pool: list[int], n: int) -> list[int]:
        return [pool[int((j + 0.5) * len(pool) / n)] for j in range(n)] if n else []

    chosen = set(spread(days, min(k, len(days))) + spread(evenings, max(0, k - len(days))))
    return [replace(s, depot=depot) if i in chosen else s for i, s in enumerate(sessions)]


def plan_group_month(due: Sequence[Due], sessions: Sequence[Session], *,
                     states: Sequence[HouseholdState], month: int,
                     duration_s: npt.ArrayLike, distance_m: npt.ArrayLike | None = None,
                     seconds: float = 2.0, seed: int = 0, iterations: int | None = None,
                     engine: str = "pyvrp", n_depots: int = 1, end_depot: int = 0,
                     prune: bool = True) -> GroupMonth:
    """Route the due households over the month's sessions.

    Parameters
    ----------
    due : from :func:`select_due` (``household`` = position in ``states``).
    sessions : from :func:`planner.calendar.month_sessions` (any order; sorted by time here).
    states : the zone's households, the same list ``due`` was selected from.
    month : the month planned (1-12; for the coverage projection).
    duration_s, distance_m : int matrices, shape (n_depots + len(states),) * 2
        Walking seconds / metres: rows ``0 .. n_depots-1`` the start (and end) points of the
        sessions (row 0: the village committee office or the auxiliary member's home), row
        ``n_depots + i`` household ``i`` of ``states``. ``distance_m`` defaults to ``duration_s``.
    seconds : float
        The group's search budget in seconds.  With PyVRP and no ``iterations`` it becomes an
        iteration limit (:data:`ITERATIONS_PER_SECOND` x seconds, so the plan depends on the data
        and the seed only) with a wall-clock guard of ``4 x seconds + 10`` s; with OR-Tools it
        is the wall-clock limit.
    seed, engine : passed to :func:`planner.routing.solve_routes`.
    iterations : int, optional
        An explicit iteration limit per phase (day, evening) instead of the one derived from
        ``seconds``, which is then the wall-clock limit.
    prune : bool
        Offer the engine only the candidates the sessions could plausibly hold (every household
        of a higher class, and the nearest ones of the lowest; see :func:`_nearest_candidates`);
        False offers every candidate (for comparison).
    n_depots : int
        Start/end rows at the top of the matrices: 1 (default: every session starts and ends at
        row 0), 2 with ``end_depot=1``, and one more per outpost.
    end_depot : int
        Where the sessions starting at row 0 end: 0 (where they started, default) or 1.
        A session with ``Session.depot`` > 0 (an outpost row) starts and ends there.

    Returns
    -------
    GroupMonth
        Never raises for a month short of time.

    Raises
    ------
    ValueError
        For malformed input (matrix shape, due positions, sessions of another month, depots).
    """
    nd = int(n_depots)
    if nd < 1 or not 0 <= end_depot < nd:
        raise ValueError(f"need n_depots >= 1 and 0 <= end_depot < n_depots, got {n_depots} "
                         f"and {end_depot}")
    D = np.asarray(duration_s, dtype=np.int64)
    L = D if distance_m is None else np.asarray(distance_m, dtype=np.int64)
    m = nd + len(states)
    if D.shape != (m, m) or L.shape != (m, m):
        raise ValueError(f"duration_s/distance_m must be {m}x{m} ({nd} start/end point(s) + "
                         f"{len(states)} households), got {D.shape} and {L.shape}")
    bad = [d.household for d in due if not 0 <= d.household < len(states)]
    if bad:
        raise ValueError(f"due households {bad[:5]} are not positions in states")
    if len({d.household for d in due}) != len(due):
        raise ValueError("a household appears twice in due")
    months = {(s.date.year, s.date.month) for s in sessions}
    if len(months) > 1 or any(mo != month for _, mo in months):
        raise ValueError(f"sessions must all be in month {month}, got {sorted(months)}")
    bad_depot = [s.label for s in sessions if not 0 <= s.depot < nd or (s.depot and s.depot == end_depot)]
    if bad_depot:
        raise ValueError(f"sessions {bad_depot[:3]} start at a row that is not an outpost among the "
                         f"{nd} start/end rows")
    due = _quota_nearest_first(list(due), D, nd, sorted({s.depot for s in sessions} or {0}))
    sessions = sorted(sessions, key=lambda s: (s.date, s.start_min, s.part))
    n = len(due)
    locs = np.array(list(range(nd)) + [nd + d.household for d in due], dtype=np.int64)
    Dm, Lm = D[np.ix_(locs, locs)], L[np.ix_(locs, locs)]

    def reach_from(starts: set[int]) -> npt.NDArray[np.int64]:
        """Walking seconds from the nearest of these start rows to each candidate."""
        return Dm[sorted(starts), nd:].min(axis=0)
    unit = 2 * max(_finite_max(Lm), 1) + 1
    prize = np.array([min(d.prize * unit, MAX_PRIZE) for d in due], dtype=np.int64)
    service = np.array([d.service_min * 60 for d in due], dtype=np.int64)
    required = np.array([d.required for d in due], dtype=bool)
    vehicles = []
    for s in sessions:
        early, late = session_window_s(s)
        if s.depot:  # an outpost: back there at the end
            vehicles.append(Vehicle(int(s.depot), int(s.depot), early, late, name=s.label))
        else:
            vehicles.append(Vehicle(0, int(end_depot), early, late, name=s.label))
    ids = [str(d.household) for d in due]

    evening_v = [v for v, s in enumerate(sessions) if s.kind == "evening"]
    day_v = [v for v, s in enumerate(sessions) if s.kind != "evening"]
    to_evening = {c for c, d in enumerate(due)
                  if d.evening_only or (d.prefer_evening and evening_v)}
    phase_day = [c for c in range(n) if c not in to_evening]

    routes: list[Route] = []
    reasons: dict[int, str] = {}
    notes: list[str] = []
    total_seconds = 0.0
    statuses: list[str] = []

    stopped_on_time = False

    def run(vs: list[int], cs: list[int], budget: float) -> list[int]:
        """Solve one phase; return the clients left out (their reasons recorded)."""
        nonlocal stopped_on_time, total_seconds
        if not cs:
            return []
        if not vs:
            for c in cs:  # keep the reason an earlier phase gave
                reasons.setdefault(c, "time_window" if due[c].evening_only else "no_time")
            return list(cs)
        def problem(sel: list[int]) -> RoutingProblem:
            sub = np.array(list(range(nd)) + [nd + c for c in sel], dtype=np.int64)
            return RoutingProblem.from_matrices(
                Dm[np.ix_(sub, sub)], Lm[np.ix_(sub, sub)], vehicles=[vehicles[v] for v in vs],
                n_depots=nd,
                service_s=service[sel], tw_early_s=0, tw_late_s=MAX_TIME, required=required[sel],
                prize=prize[sel], client_ids=[ids[c] for c in sel])

        out: list[int] = []
        if prune:
            # households no session can reach keep their own reason (the engine's pre-check)
            impossible = precheck(problem(cs))
            able = [c for k, c in enumerate(cs) if k not in impossible]
            session_s = sum(vehicles[v].tw_late_s - vehicles[v].tw_early_s for v in vs)
            reach = reach_from({vehicles[v].start_depot for v in vs})
            out = _nearest_candidates(able, prize, service, reach, session_s)
            if out:
                dropped = set(out)
                cs = [c for c in cs if c not in dropped]
                for c in out:
                    reasons[c] = "no_time"
        if iterations is not None:
            its, wall = iterations, budget
        elif engine == "pyvrp":
            its = max(1, round(ITERATIONS_PER_SECOND * budget))
            wall = _WALL_GUARD_FACTOR * budget + _WALL_GUARD_EXTRA_S
        else:
            its, wall = None, budget
        initial = None
        lowest = int(prize[cs].min())
        urgent = [c for c in cs if prize[c] > lowest]
        if engine == "pyvrp" and len(cs) >= _STAGED_MIN and 0 < len(urgent) <= _STAGED_SHARE * len(cs):
            # the most urgent first, on their own (a small problem, solved well quickly); then
            # everyone, starting from those routes
            first_its = None if its is None else max(1, round(_STAGED_FIRST * its))
            first = solve_routes(problem(urgent), engine=engine, seconds=_STAGED_FIRST * wall, seed=seed,
                                 iterations=first_its)
            total_seconds += first.seconds
            stopped_on_time |= first.stopped_on_time
            at = {c: k for k, c in enumerate(cs)}
            initial = [[] for _ in vs]
            for r in first.routes:
                initial[r.vehicle] = [at[urgent[v.client]] for v in r.visits]
            wall = max(0.1 * wall, wall - first.seconds)
            if its is not None:
                its = max(1, its - first_its)
        res = solve_routes(problem(cs), engine=engine, seconds=wall, seed=seed, iterations=its,
                           initial=initial)
        total_seconds += res.seconds
        stopped_on_time |= res.stopped_on_time
        statuses.append(res.status)
        if res.solver_status:
            notes.append(res.solver_status)
        for r in res.routes:
            routes.append(Route(
                vehicle=vs[r.vehicle],
                visits=[Visit(cs[v.client], v.arrive_s, v.depart_s) for v in r.visits],
                distance_m=r.distance_m, duration_s=r.duration_s, start_s=r.start_s,
                end_s=r.end_s, start_depot=r.start_depot, end_depot=r.end_depot))
        left = list(out)
        for c, why in res.unassigned:
            cc = cs[c]
            # "no_time" (possible alone somewhere) beats a later phase's structural reason
            reasons[cc] = "no_time" if reasons.get(cc) == "no_time" else why
            left.append(cc)
        return left

    both = bool(phase_day) and bool(to_evening or evening_v)
    budget = seconds / 2 if both else seconds
    left_day = run(day_v, phase_day, budget)
    evening_clients = sorted(to_evening | set(left_day))
    if evening_v or to_evening:
        run(evening_v, evening_clients, budget)
    served = {v.client for r in routes for v in r.visits}
    unassigned = sorted((c, reasons[c]) for c in range(n) if c not in served)

    combined = RoutingProblem.from_matrices(
        Dm, Lm, vehicles=vehicles or [Vehicle(0, int(end_depot), 0, 0, name="none")],
        n_depots=nd, service_s=service,
        tw_early_s=0, tw_late_s=MAX_TIME, required=required, prize=prize, client_ids=ids)
    routes.sort(key=lambda r: r.vehicle)
    result = RoutingResult(
        routes=routes, unassigned=unassigned, distance_m=sum(r.distance_m for r in routes),
        engine=engine, status="", seconds=total_seconds, feasible=False,
        solver_status="; ".join(notes), seed=int(seed),
        params=dict(engine=engine, seconds=seconds, seed=seed, iterations=iterations,
                    iterations_per_second=(ITERATIONS_PER_SECOND if iterations is None and engine == "pyvrp"
                                           else None),
                    phases="day, then evening"),
        stopped_on_time=stopped_on_time)
    result.violations = check_routes(combined, result)
    result.feasible = not result.violations
    if check_routes(combined, result, allow_unassigned_required=True):
        result.status = "invalid"
        logger.error("month plan: checker found violations: %s", result.violations[:3])
    elif "no_solution" in statuses:
        result.status = "no_solution"
    elif any(required[c] for c, _ in unassigned):
        result.status = "required_dropped"
    else:
        result.status = "feasible"

    active = [i for i, s in enumerate(states) if s.last_outcome != "moved"]
    covered_before = sum(1 for i in active if states[i].visits_this_year > 0)
    served_households = [due[c] for c in served]
    newly = sum(1 for d in served_households if states[d.household].visits_this_year == 0)
    throughput = newly + sum(1 for d in served_households if d.priority == "spread")
    months_after = 12 - month
    projected = (1.0 if not active else
                 min(1.0, (covered_before + newly + months_after * throughput) / len(active)))
    return GroupMonth(
        sessions=sessions, routing=result, due=due,
        unplanned=[(due[c].household, why) for c, why in unassigned],
        projected_year_end_coverage=projected, problem=combined,
        covered_before=covered_before, newly_covered=newly, households=len(active))
