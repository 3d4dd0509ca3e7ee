"""A seeded simulator of field outcomes, for the demo and the benchmarks: months of visits, problems
raised on them, their resolution (with delays), and members' leave.

Not a model of any real town; the rates are plausible round numbers (:class:`FieldModel`):
nobody home on 25% of daytime calls and 10% of evening calls (villagers are in the fields by day),
2% refusals, 0.4% of households found moved away, a problem raised on 5% of the visits that met
the household, resolved after about three weeks on average (8% cannot be resolved).

Each group works its zone: on every session of the month (the calendar of
:func:`planner.calendar.month_sessions`, leave included) it calls on as many households as the
session's minutes allow.  For a month with a stored month plan (``zhudian plan``) the groups walk
that plan's stops instead.  The order of calls is: households owed a feedback visit (a problem of
theirs closed), then not-home retries (evenings first), then households not reached this year;
households held back for a later month's stored plan are called on only in that month, so a
December plan made on an empty history stays consistent with the simulated October and November.

Everything is drawn from one :class:`numpy.random.Generator` seeded with ``seed``: the same store,
months and seed give the same visits.  Records go through :func:`api.store.visits.record_visits`
(record ids ``sim-<seed>-...``, so simulating again adds nothing).
"""

from __future__ import annotations

import calendar
import datetime as dt
import logging
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sqlalchemy import select

from api import store
from api.store import _write_session, plans
from api.store.models import Member, Village
from api.store.models import Problem as ProblemRow
from api.store.visits import ProblemIn, VisitIn, load_categories, record_visits

logger = logging.getLogger(__name__)

PROBLEM_TEXTS: dict[str, tuple[str, ...]] = {
    "基础设施": ("村道路面破损, 雨天积水", "路灯不亮", "自来水水压低", "桥栏杆松动"),
    "环境卫生": ("垃圾收运不及时", "沟渠堵塞有异味", "公厕无人保洁"),
    "社会治安": ("夜间有陌生车辆停放", "电动车被盗", "需要加装监控"),
    "社会保障": ("咨询低保申请", "医保报销慢", "养老金未到账", "残疾补贴申请"),
    "矛盾纠纷": ("宅基地边界纠纷", "邻里排水纠纷", "土地流转租金纠纷"),
    "政策咨询": ("咨询农房改造政策", "咨询种粮补贴", "咨询子女入学政策"),
    "其他": ("建议增设快递点", "希望组织文化活动"),
}
CANNOT_RESOLVE_REASONS = ("涉及上级审批, 已向群众解释", "不符合政策规定, 已向群众解释", "需列入明年计划")


@dataclass(frozen=True)
class FieldModel:
    """Rates of the simulated field work (probabilities per visit unless noted)."""

    not_home_day: float = 0.25
    not_home_evening: float = 0.10
    refused: float = 0.02
    moved: float = 0.004
    problem: float = 0.05
    """Share of visits that met the household and raised a problem."""
    category_weights: tuple[float, ...] = (0.25, 0.2, 0.08, 0.2, 0.1, 0.12, 0.05)
    """Weights of the categories in list order (the defaults' order)."""
    resolve_mean_days: float = 21.0
    cannot_resolve: float = 0.08
    in_progress: float = 0.5
    """Share of the problems not yet resolved that are being worked on."""
    minutes_per_call: float = 16.0
    """Minutes per household including the walk to it."""
    session_use: float = 0.85
    """Share of a session's minutes actually spent calling on households."""
    leave_per_month: float = 0.12
    """Chance that a person takes a leave period in a month (1-3 working days)."""


@dataclass
class SimulationReport:
    """What was simulated."""

    months: list[str] = field(default_factory=list)
    visits: int = 0
    problems: int = 0
    resolved: int = 0
    cannot_resolve: int = 0
    leave_periods: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _weekday_workday(d: dt.date) -> bool:
    from api import holidays

    try:
        return holidays.is_workday(d)
    except ValueError:
        return d.weekday() < 5


def simulate(engine, months: Sequence[str], *, seed: int = 0, until: dt.date | None = None,
             model: FieldModel = FieldModel(), village_ids: Sequence[str] | None = None,
             is_workday: Callable[[dt.date], bool] | None = None,
             progress: Callable[[str], None] | None = None) -> SimulationReport:
    """Simulate the field work of ``months`` (``YYYY-MM``, in order) in every zoned village.

    Parameters
    ----------
    engine : Engine
    months : month texts, e.g. ``["2026-10", "2026-11", "2026-12"]``
    seed : int
    until : date, optional
        The day the simulation stops (visits after it are not made; problems are resolved up to
        it).  Default: the last day of the last month.
    model : FieldModel
    village_ids : villages to simulate (default: all with a zone plan)
    is_workday : date -> bool; default :func:`api.holidays.is_workday` (weekdays for uncovered years)

    Returns
    -------
    SimulationReport
    """
    from planner.calendar import SessionRules, month_sessions

    step = progress or (lambda _m: None)
    is_workday = is_workday or _weekday_workday
    rng = np.random.default_rng(seed)
    firsts = [dt.datetime.strptime(m, "%Y-%m").date() for m in months]
    until = until or dt.date(firsts[-1].year, firsts[-1].month, calendar.monthrange(firsts[-1].year, firsts[-1].month)[1])
    categories = load_categories(engine)
    weights = np.array(model.category_weights[:len(categories)] + (0.05,) * max(0, len(categories) - len(model.category_weights)))
    weights = weights / weights.sum()
    villages = store.load_villages(engine)
    ids = [v for v in villages["village_id"] if not village_ids or v in set(village_ids)]
    report = SimulationReport(months=list(months))
    problems_made: list[tuple[str, dt.date]] = []
    for vid in ids:
        zp = plans.load_zone_plan(engine, vid)
        if zp is None:
            continue
        step(f"模拟走访 {vid}")
        stored = {f: plans.load_month_plan(engine, vid, f) for f in firsts}
        later_planned: dict[dt.date, set[str]] = {}
        for f in firsts:
            mp = stored[f]
            later_planned[f] = set() if mp is None else {st.household_id for s in mp.sessions for st in s.stops}
        reached: set[str] = set()
        not_home: dict[str, dt.date] = {}
        owed: set[str] = set()
        moved: set[str] = set()
        people = plans.load_people(engine, vid)
        groups = {g.group_id: g for g in plans.load_groups(engine, vid)}
        for k, f in enumerate(firsts):
            leave = _add_leave(engine, vid, people, f, rng, model, is_workday)
            report.leave_periods += leave
            held = set().union(*(later_planned[x] for x in firsts[k + 1:])) if k + 1 < len(firsts) else set()
            rows: list[VisitIn] = []
            mp = stored[f]
            leave_of = plans.load_leave(engine, vid)
            for z in zp.zones:
                if mp is not None and z.group_id in mp.plans:
                    calls = [(s.date, s.kind, [st.household_id for st in s.stops]) for s in mp.sessions_of(z.group_id)]
                else:
                    g = groups.get(z.group_id)
                    gp = [*g.members, *([g.auxiliary] if g.auxiliary else [])] if g is not None else []
                    sessions = month_sessions(f.year, f.month, rules=SessionRules(), is_workday=is_workday,
                                              on_leave=lambda d, gp=gp: sum(
                                                  1 for m in gp if any(a <= d <= b for a, b in leave_of.get(m, ()))))
                    pool = [h for h in z.household_ids if h not in held and h not in moved]
                    fresh = deque(h for h in rng.permutation(pool).tolist() if h not in reached)
                    retry = deque(h for h in pool if h in not_home)
                    follow = deque(h for h in pool if h in owed)
                    calls = []
                    for s in sessions:
                        n = int(s.minutes * model.session_use / model.minutes_per_call)
                        take = []
                        while len(take) < n and follow:
                            take.append(follow.popleft())
                        queues = (retry, fresh) if s.kind == "evening" else (fresh, retry)
                        for q in queues:
                            while len(take) < n and q:
                                h = q.popleft()
                                if h not in take:
                                    take.append(h)
                        calls.append((s.date, s.kind, take))
                for day, kind, hids in calls:
                    if day > until:
                        continue
                    for h in hids:
                        if h in moved:
                            continue
                        outcome = _outcome(rng, model, kind)
                        probs: tuple[ProblemIn, ...] = ()
                        if outcome == "met" and rng.random() < model.problem:
                            cat = categories[int(rng.choice(len(categories), p=weights))]
                            texts = PROBLEM_TEXTS.get(cat.name, PROBLEM_TEXTS["其他"])
                            probs = (ProblemIn(text=texts[int(rng.integers(len(texts)))], category=cat.name),)
                            problems_made.append((h, day))
                        rows.append(VisitIn(household_id=h, date=day, outcome=outcome, group_id=z.group_id,
                                            problems=probs, client_id=f"sim-{seed}-{h}-{day.isoformat()}-{kind}"))
                        if outcome in ("met", "refused"):
                            reached.add(h)
                            not_home.pop(h, None)
                            if outcome == "met":
                                owed.discard(h)
                        elif outcome == "not_home":
                            not_home[h] = day
                        else:
                            moved.add(h)
            counts = record_visits(engine, rows, file="simulation")
            report.visits += counts.created
            report.problems += counts.problems
            for o, n in counts.outcomes.items():
                report.outcomes[o] = report.outcomes.get(o, 0) + n
            month_end = dt.date(f.year, f.month, calendar.monthrange(f.year, f.month)[1])
            res = _resolve(engine, vid, min(month_end, until), seed, model)
            report.resolved += res["resolved"]
            report.cannot_resolve += res["cannot_resolve"]
            owed |= res["households"]
    return report


def _outcome(rng: np.random.Generator, model: FieldModel, kind: str) -> str:
    u = rng.random()
    nh = model.not_home_evening if kind == "evening" else model.not_home_day
    if u < model.moved:
        return "moved"
    if u < model.moved + model.refused:
        return "refused"
    if u < model.moved + model.refused + nh:
        return "not_home"
    return "met"


def _add_leave(engine, vid: str, people, first: dt.date, rng: np.random.Generator, model: FieldModel,
               is_workday: Callable[[dt.date], bool]) -> int:
    """Draw leave periods of the month for the village's people (1-3 working days), store them."""
    n_days = calendar.monthrange(first.year, first.month)[1]
    added = 0
    with _write_session(engine) as session:
        rows = session.execute(select(Member).join(Village, Member.village_fk == Village.id)
                               .where(Village.village_id == vid).order_by(Member.id)).scalars().all()
        for m in rows:
            if rng.random() >= model.leave_per_month:
                continue
            start = first + dt.timedelta(days=int(rng.integers(n_days)))
            length = int(rng.integers(1, 4))
            days, d = 0, start
            while days < length and d.month == first.month:
                days += is_workday(d)
                d += dt.timedelta(days=1)
            end = d - dt.timedelta(days=1)
            m.leave_dates = [*(m.leave_dates or []), [start.isoformat(), end.isoformat()]]
            added += 1
    return added


def _resolve(engine, vid: str, until: dt.date, seed: int, model: FieldModel) -> dict:
    """Resolve the village's open problems whose drawn delay has passed by ``until``."""
    from api.store.models import Household, Visit

    out = {"resolved": 0, "cannot_resolve": 0, "households": set()}
    with _write_session(engine) as session:
        rows = session.execute(
            select(ProblemRow, Visit.date, Household.household_id)
            .join(Household, ProblemRow.household_fk == Household.id)
            .join(Village, Household.village_fk == Village.id)
            .join(Visit, ProblemRow.visit_fk == Visit.id)
            .where(Village.village_id == vid, ProblemRow.status.in_(("open", "in_progress")))
            .order_by(ProblemRow.id)).all()
        for p, day, hid in rows:
            # drawn from a generator keyed by (seed, problem id): the same delay in every month
            local = np.random.default_rng([seed, p.id])
            delay = int(local.exponential(model.resolve_mean_days)) + 1
            done = day + dt.timedelta(days=delay)
            if done <= until:
                if local.random() < model.cannot_resolve:
                    p.status = "cannot_resolve"
                    p.resolution_note = CANNOT_RESOLVE_REASONS[int(local.integers(len(CANNOT_RESOLVE_REASONS)))]
                    out["cannot_resolve"] += 1
                else:
                    p.status = "resolved"
                    p.resolution_note = "已办结, 待回访告知"
                    out["resolved"] += 1
                p.resolved_date = done
                out["households"].add(hid)
            elif p.status == "open" and local.random() < model.in_progress:
                p.status = "in_progress"
    return out



def simulate_findings(engine, check_id: int, *, seed: int = 0, confirm: float = 0.93, absent: float = 0.05,
                      weak_groups: Sequence[str] = (), weak_confirm: float = 0.6) -> dict[str, int]:
    """Simulate an inspector's findings for the households of spot check ``check_id``: each confirms
    the visit with probability ``confirm`` (``weak_confirm`` for the households of ``weak_groups``),
    nobody is found with probability ``absent``.  Recorded with :func:`api.store.visits.record_confirmations`."""
    from api.store.visits import Confirmation, record_confirmations, spot_check_items

    rng = np.random.default_rng([seed, check_id])
    rows = []
    for it in spot_check_items(engine):
        if it["check_id"] != check_id:
            continue
        p = weak_confirm if it["group_id"] in set(weak_groups) else confirm
        u = rng.random()
        found = None if u < absent else bool(rng.random() < p)
        rows.append(Confirmation(household_id=it["household_id"], confirmed=found, check_id=check_id,
                                 note=None if found is not False else "户主称近期无人上门"))
    return record_confirmations(engine, rows, file="simulation")
