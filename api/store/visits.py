"""Store access for visit records, the problem ledger (问题台账) and spot checks (暗访).

Plain functions on an :class:`~sqlalchemy.Engine`, one transaction per call, so that the CLI
(``zhudian visits import``, ``zhudian problems``, ``zhudian spotcheck``) and the HTTP service can
call the same code:

- :func:`record_visits` writes visit records (and the problems raised on them) idempotently:
  a record whose ``client_id`` is stored already adds nothing.  Every row is checked before
  anything is written; one bad row means nothing is written.
- :func:`list_problems`, :func:`update_problem`: the ledger; :func:`feedback_due` lists the
  households owed a feedback visit (a problem closed, the household not met since), which the
  month plan turns into ``follow_up`` households (:func:`api.plan.month_instances`).
- :func:`load_categories`, :func:`save_categories`: the configurable category list.
- :func:`save_spot_check`, :func:`record_confirmations`, :func:`spot_check_items`.

A household that moved leaves the coverage denominator from the date of its ``moved`` visit: the
visit record itself (household, date, outcome ``moved``, group, note) is the audit trail.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, delete, or_, select
from sqlalchemy.orm import Session, aliased

from api.store import _write_session
from api.store.models import (
    PROBLEM_STATUSES,
    VISIT_OUTCOMES,
    Group,
    Household,
    ProblemCategory,
    SpotCheck,
    SpotCheckItem,
    Town,
    Village,
    Visit,
)
from api.store.models import Problem as ProblemRow
from geo.errors import InputError, Problem

logger = logging.getLogger(__name__)

OPEN_STATUSES = ("open", "in_progress")
CLOSED_STATUSES = ("resolved", "cannot_resolve")
REACHED = ("met", "refused")
"""Outcomes that count as a visit made (as the month plan counts ``visits_this_year``)."""

_CHUNK = 500


@dataclass(frozen=True)
class Category:
    """A problem category with the department usually responsible and the days to resolve it."""

    name: str
    department: str | None = None
    days: int = 30
    """Deadline = visit date + ``days`` unless the record gives one."""


DEFAULT_CATEGORIES: tuple[Category, ...] = (
    Category("基础设施", "镇规划建设办", 30),
    Category("环境卫生", "镇农业农村办", 30),
    Category("社会治安", "镇综治办", 15),
    Category("社会保障", "镇社会事务办", 30),
    Category("矛盾纠纷", "镇综治办", 15),
    Category("政策咨询", "镇党政办", 7),
    Category("其他", "镇党政办", 30),
)
"""Used while the store's ``problem_categories`` table is empty."""
CATEGORY_ALIASES = {"infrastructure": "基础设施", "sanitation": "环境卫生", "environment": "环境卫生",
                    "public_safety": "社会治安", "safety": "社会治安", "social_security": "社会保障",
                    "disputes": "矛盾纠纷", "dispute": "矛盾纠纷", "policy": "政策咨询", "other": "其他"}
"""English names accepted for the default categories."""


# --------------------------------------------------------------------------------------------
# Categories


def load_categories(engine: Engine) -> list[Category]:
    """The store's category list, or :data:`DEFAULT_CATEGORIES` while none is configured."""
    with engine.connect() as conn:
        rows = conn.execute(select(ProblemCategory.name, ProblemCategory.department, ProblemCategory.days)
                            .order_by(ProblemCategory.position, ProblemCategory.id)).all()
    return [Category(n, d, int(days)) for n, d, days in rows] or list(DEFAULT_CATEGORIES)


def save_categories(engine: Engine, categories: Sequence[Category]) -> int:
    """Replace the category list (problems keep the category text they were recorded with).

    Raises
    ------
    ValueError
        For an empty list, a repeated or empty name, or ``days`` < 1.
    """
    names = [c.name.strip() for c in categories]
    if not names or any(not n for n in names):
        raise ValueError("问题类别不能为空。处理办法: 每行写一个类别名称")
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise ValueError(f"问题类别重复: {', '.join(dup)}。处理办法: 每个类别只写一次")
    if any(c.days < 1 for c in categories):
        raise ValueError("办理天数必须大于 0")
    with _write_session(engine) as session:
        session.execute(delete(ProblemCategory))
        for k, c in enumerate(categories):
            session.add(ProblemCategory(name=c.name.strip(), department=c.department, days=c.days, position=k))
    return len(categories)


def resolve_category(name: str | None, categories: Sequence[Category]) -> Category | None:
    """The category named ``name`` (or its English alias); None when unknown or empty."""
    if not name or not name.strip():
        return None
    key = name.strip()
    key = CATEGORY_ALIASES.get(key.lower(), key)
    return next((c for c in categories if c.name == key), None)


# --------------------------------------------------------------------------------------------
# Visits


@dataclass(frozen=True)
class ProblemIn:
    """A problem raised on a visit; category/department/deadline default from the category list."""

    text: str
    category: str | None = None
    department: str | None = None
    deadline: dt.date | None = None


@dataclass(frozen=True)
class VisitIn:
    """One visit record to store.

    ``client_id`` makes the record idempotent (a phone's id, or a hash of a file row's content,
    see :func:`api.visits.row_client_id`); ``where`` names the row in messages (``"第 5 行"``).
    """

    household_id: str
    date: dt.date
    outcome: str
    group_id: str | None = None
    note: str | None = None
    problems: tuple[ProblemIn, ...] = ()
    client_id: str | None = None
    where: str = ""


@dataclass
class RecordCounts:
    """What :func:`record_visits` did: rows seen, visits created, rows already stored (left
    alone), rows repeating an earlier row of the same batch, problems created, moved households."""

    rows: int = 0
    created: int = 0
    existing: int = 0
    repeated: int = 0
    problems: int = 0
    moved: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"rows": self.rows, "created": self.created, "existing": self.existing, "repeated": self.repeated,
                "problems": self.problems, "moved": self.moved, "outcomes": dict(self.outcomes)}


def _lookup(session: Session, column, values: Sequence[str], *cols) -> dict[str, tuple]:
    out: dict[str, tuple] = {}
    values = list(dict.fromkeys(values))
    for i in range(0, len(values), _CHUNK):
        for row in session.execute(select(column, *cols).where(column.in_(values[i:i + _CHUNK]))):
            out[row[0]] = tuple(row[1:])
    return out


def record_visits(engine: Engine, rows: Sequence[VisitIn], *, file: str = "",
                  known_problems: Sequence[Problem] = ()) -> RecordCounts:
    """Store visit records and their problems in one transaction, idempotently by ``client_id``.

    Every row is checked first (household and group known, outcome valid, category known, a
    stored ``client_id`` holding the same visit); all problems are reported at once and nothing
    is written.  A row whose ``client_id`` is stored already is counted ``existing`` and adds
    nothing (nor do its problems); a row repeating an earlier row's ``client_id`` is ``repeated``.

    Parameters
    ----------
    engine : Engine
    rows : sequence of VisitIn
    file : str
        The file name for messages.
    known_problems : sequence of Problem
        Problems found while reading the file (rows that did not parse): reported together with
        the store's checks, so a user sees every bad row at once.

    Returns
    -------
    RecordCounts

    Raises
    ------
    InputError
        Listing every bad row, each with its ``where`` and the fix.
    """
    categories = load_categories(engine)
    counts = RecordCounts(rows=len(rows) + len({p.where for p in known_problems}))
    problems: list[Problem] = list(known_problems)
    with _write_session(engine) as session:
        hh = _lookup(session, Household.household_id, [r.household_id for r in rows], Household.id,
                     Household.village_fk)
        groups = {(vfk, name): gid for gid, vfk, name in session.execute(
            select(Group.id, Group.village_fk, Group.name).where(
                Group.name.in_(sorted({r.group_id for r in rows if r.group_id}) or [""])))}
        cids = [r.client_id for r in rows if r.client_id]
        stored = _lookup(session, Visit.client_id, cids, Visit.household_fk, Visit.date, Visit.outcome)
        seen: dict[str, VisitIn] = {}
        todo: list[tuple[VisitIn, int, int | None, list[ProblemIn]]] = []
        for r in rows:
            where = r.where
            bad = False
            if r.outcome not in VISIT_OUTCOMES:
                problems.append(Problem(file, where, f"走访结果 {r.outcome!r} 无法识别",
                                        "填 已见面/不在家/拒访/已搬走 (或 met/not_home/refused/moved)"))
                bad = True
            found = hh.get(r.household_id)
            if found is None:
                problems.append(Problem(file, where, f"户编号 {r.household_id} 不在数据库中",
                                        "核对户编号 (zhudian export DB households --out 住户.csv 可列出全部), "
                                        "或先用 zhudian import 导入该住户"))
                continue
            hpk, vfk = found
            gpk = None
            if r.group_id:
                gpk = groups.get((vfk, r.group_id))
                if gpk is None:
                    problems.append(Problem(file, where, f"住户 {r.household_id} 所在村没有小组 {r.group_id}",
                                            "核对小组编号 (如 990101001009-G1), 或留空"))
                    bad = True
            resolved = []
            for p in r.problems:
                cat = resolve_category(p.category, categories) if p.category else None
                if p.category and cat is None:
                    problems.append(Problem(file, where, f"问题类别 {p.category!r} 不在类别表中",
                                            "用 " + "、".join(c.name for c in categories)
                                            + " 之一 (zhudian problems DB categories 可修改类别表)"))
                    bad = True
                    continue
                cat = cat or resolve_category("其他", categories) or categories[-1]
                resolved.append(ProblemIn(text=p.text, category=cat.name,
                                          department=p.department or cat.department,
                                          deadline=p.deadline or r.date + dt.timedelta(days=cat.days)))
            if r.client_id:
                old = stored.get(r.client_id)
                if old is not None and (old[0], old[1], old[2]) != (hpk, r.date, r.outcome):
                    problems.append(Problem(file, where, f"记录编号 {r.client_id} 已用于另一条走访记录",
                                            "每条新的走访用新的记录编号; 重新导入时保持原内容"))
                    continue
                if r.client_id in seen:
                    counts.repeated += 1
                    continue
                seen[r.client_id] = r
                if old is not None:
                    counts.existing += 1
                    continue
            if not bad:
                todo.append((r, hpk, gpk, resolved))
        if problems:
            order = {p.where: k for k, p in enumerate(problems)}
            raise InputError(sorted(problems, key=lambda p: (_row_number(p.where), order[p.where])))
        for r, hpk, gpk, resolved in todo:
            visit = Visit(household_fk=hpk, group_fk=gpk, date=r.date, outcome=r.outcome, note=r.note,
                          client_id=r.client_id)
            session.add(visit)
            session.flush()
            for p in resolved:
                session.add(ProblemRow(household_fk=hpk, visit_fk=visit.id, category=p.category,
                                       department=p.department, text=p.text, deadline=p.deadline,
                                       status="open"))
            counts.created += 1
            counts.problems += len(resolved)
            counts.moved += r.outcome == "moved"
            counts.outcomes[r.outcome] = counts.outcomes.get(r.outcome, 0) + 1
    return counts


def _row_number(where: str) -> int:
    digits = "".join(ch for ch in where if ch.isdigit())
    return int(digits) if digits else 0


# --------------------------------------------------------------------------------------------
# The problem ledger


@dataclass
class ProblemRecord:
    """One ledger item as listed and exported; ``overdue_days`` > 0 when still open past its deadline."""

    id: int
    household_id: str
    village_id: str | None
    village: str | None
    town: str | None
    group_id: str | None
    visit_date: dt.date | None
    category: str | None
    department: str | None
    text: str
    deadline: dt.date | None
    status: str
    resolution_note: str | None
    resolved_date: dt.date | None
    overdue_days: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {k: (v.isoformat() if isinstance(v, dt.date) else v) for k, v in self.__dict__.items()}


def is_overdue(status: str, deadline: dt.date | None, as_of: dt.date) -> bool:
    """Still open (``open`` / ``in_progress``) after its deadline day."""
    return status in OPEN_STATUSES and deadline is not None and deadline < as_of


def list_problems(engine: Engine, *, status: Sequence[str] | None = None, village_id: str | None = None,
                  town: str | None = None, overdue: bool = False, as_of: dt.date | None = None,
                  since: dt.date | None = None) -> list[ProblemRecord]:
    """Ledger items, oldest first.

    Parameters
    ----------
    status : statuses to keep (default all)
    village_id, town : scope (town by name)
    overdue : only items open past their deadline on ``as_of``
    as_of : the day overdue days are counted on (default today)
    since : only problems of visits on or after this day
    """
    as_of = as_of or dt.date.today()
    bad = [s for s in status or () if s not in PROBLEM_STATUSES]
    if bad:
        raise ValueError(f"状态 {', '.join(bad)} 无法识别。处理办法: 用 {', '.join(PROBLEM_STATUSES)}")
    q = (select(ProblemRow, Household.household_id, Village.village_id, Village.name, Town.name, Group.name,
                Visit.date)
         .join(Household, ProblemRow.household_fk == Household.id)
         .outerjoin(Village, Household.village_fk == Village.id)
         .outerjoin(Town, Village.town_fk == Town.id)
         .outerjoin(Visit, ProblemRow.visit_fk == Visit.id)
         .outerjoin(Group, Visit.group_fk == Group.id)
         .order_by(ProblemRow.id))
    if status:
        q = q.where(ProblemRow.status.in_(list(status)))
    if village_id:
        q = q.where(Village.village_id == village_id)
    if town:
        q = q.where(or_(Town.name == town, Village.village_id.like(f"{town}%")))
    if overdue:
        q = q.where(ProblemRow.status.in_(OPEN_STATUSES), ProblemRow.deadline < as_of)
    if since:
        q = q.where(Visit.date >= since)
    with Session(engine) as session:
        rows = session.execute(q).all()
    out = []
    for p, hid, vid, vname, tname, gname, vdate in rows:
        late = (as_of - p.deadline).days if is_overdue(p.status, p.deadline, as_of) else 0
        out.append(ProblemRecord(id=p.id, household_id=hid, village_id=vid, village=vname, town=tname, group_id=gname,
                                 visit_date=vdate, category=p.category, department=p.department, text=p.text,
                                 deadline=p.deadline, status=p.status, resolution_note=p.resolution_note,
                                 resolved_date=p.resolved_date, overdue_days=late))
    return out


def update_problem(engine: Engine, problem_id: int, *, status: str | None = None, note: str | None = None,
                   on: dt.date | None = None, department: str | None = None,
                   deadline: dt.date | None = None) -> ProblemRecord:
    """Change a ledger item's status (and note, department, deadline); returns it as stored.

    ``resolved`` and ``cannot_resolve`` set ``resolved_date`` (``on``, default today) and need a
    note for ``cannot_resolve`` (the reason); going back to ``open``/``in_progress`` clears it.
    Closing a problem makes its household due for a feedback visit (:func:`feedback_due`).

    Raises
    ------
    ValueError
        Unknown id or status, or ``cannot_resolve`` without a reason.
    """
    if status is not None and status not in PROBLEM_STATUSES:
        raise ValueError(f"状态 {status!r} 无法识别。处理办法: 用 {', '.join(PROBLEM_STATUSES)}")
    if status == "cannot_resolve" and not (note or "").strip():
        raise ValueError("标为无法解决 (cannot_resolve) 时须说明原因。处理办法: 加 --note 原因")
    with _write_session(engine) as session:
        p = session.get(ProblemRow, problem_id)
        if p is None:
            raise ValueError(f"问题台账中没有编号 {problem_id}。处理办法: 用 zhudian problems DB list 查看编号")
        if status is not None:
            p.status = status
            if status in CLOSED_STATUSES:
                p.resolved_date = on or dt.date.today()
            else:
                p.resolved_date = None
        if note is not None:
            p.resolution_note = note.strip() or None
        if department is not None:
            p.department = department.strip() or None
        if deadline is not None:
            p.deadline = deadline
    found = [r for r in list_problems(engine, as_of=on) if r.id == problem_id]
    return found[0]


def feedback_due(engine: Engine, village_id: str | None = None) -> set[str]:
    """Households owed a feedback visit: a problem of theirs closed (resolved or cannot resolve)
    and nobody has met them on or after the day it was closed.

    The month plan marks them ``follow_up`` (:class:`planner.month.HouseholdState`).
    """
    later = aliased(Visit)
    met_since = (select(later.id).where(later.household_fk == ProblemRow.household_fk, later.outcome == "met",
                                        later.date >= ProblemRow.resolved_date).exists())
    q = (select(Household.household_id).join(ProblemRow, ProblemRow.household_fk == Household.id)
         .where(ProblemRow.status.in_(CLOSED_STATUSES), ProblemRow.resolved_date.is_not(None), ~met_since))
    if village_id is not None:
        q = q.join(Village, Household.village_fk == Village.id).where(Village.village_id == village_id)
    with engine.connect() as conn:
        return set(conn.scalars(q.distinct()))


# --------------------------------------------------------------------------------------------
# Spot checks


@dataclass(frozen=True)
class SpotItem:
    """A household drawn for a spot check, with the visit it checks."""

    household_id: str
    visit_id: int | None
    group_id: str | None
    zone_label: str | None


def save_spot_check(engine: Engine, day: dt.date, seed: int, params: dict[str, Any],
                    items: Sequence[SpotItem]) -> int:
    """Store a drawn sample (in route order); returns the spot check's id."""
    with _write_session(engine) as session:
        check = SpotCheck(date=day, seed=str(seed), params=params)
        session.add(check)
        session.flush()
        hh = _lookup(session, Household.household_id, [i.household_id for i in items], Household.id, Household.village_fk)
        gnames = sorted({i.group_id for i in items if i.group_id})
        groups = {(vfk, n): gid for gid, vfk, n in session.execute(
            select(Group.id, Group.village_fk, Group.name).where(Group.name.in_(gnames or [""])))}
        for k, it in enumerate(items):
            hpk, vfk = hh[it.household_id]
            session.add(SpotCheckItem(check_fk=check.id, seq=k, household_fk=hpk, visit_fk=it.visit_id,
                                      group_fk=groups.get((vfk, it.group_id)), zone_label=it.zone_label))
        return check.id


@dataclass(frozen=True)
class Confirmation:
    """What the inspector found at one household: ``confirmed`` True/False, None = nobody found."""

    household_id: str
    confirmed: bool | None
    note: str | None = None
    check_id: int | None = None
    checked_date: dt.date | None = None
    where: str = ""


def record_confirmations(engine: Engine, rows: Sequence[Confirmation], *, file: str = "") -> dict[str, int]:
    """Record spot-check findings; a household is matched in the given check, else in the latest
    check that drew it.  Recording the same file again changes nothing.

    Raises
    ------
    InputError
        For households not drawn in any (or the given) spot check; nothing is written.
    """
    problems: list[Problem] = []
    counts = {"rows": len(rows), "confirmed": 0, "not_confirmed": 0, "not_found": 0}
    with _write_session(engine) as session:
        hh = _lookup(session, Household.household_id, [r.household_id for r in rows], Household.id)
        todo = []
        for r in rows:
            found = hh.get(r.household_id)
            q = select(SpotCheckItem).join(SpotCheck, SpotCheckItem.check_fk == SpotCheck.id)
            item = None
            if found is not None:
                q = q.where(SpotCheckItem.household_fk == found[0])
                if r.check_id is not None:
                    q = q.where(SpotCheckItem.check_fk == r.check_id)
                item = session.scalars(q.order_by(SpotCheck.date.desc(), SpotCheck.id.desc()).limit(1)).first()
            if item is None:
                which = f"暗访 {r.check_id}" if r.check_id is not None else "任何暗访"
                problems.append(Problem(file, r.where, f"住户 {r.household_id} 不在{which}的抽样中",
                                        "核对户编号和暗访编号 (见抽样清单)"))
                continue
            todo.append((item, r))
        if problems:
            raise InputError(problems)
        for item, r in todo:
            check_day = session.scalar(select(SpotCheck.date).where(SpotCheck.id == item.check_fk))
            item.confirmed = r.confirmed
            item.note = r.note
            item.checked_date = r.checked_date or check_day
            key = "not_found" if r.confirmed is None else "confirmed" if r.confirmed else "not_confirmed"
            counts[key] += 1
    return counts


def spot_check_items(engine: Engine, *, since: dt.date | None = None, until: dt.date | None = None) -> list[dict]:
    """Every spot-check item (checked or not) with its check's id and date, household, village,
    group and zone: the rows behind the verification rates of :mod:`api.coverage`."""
    with engine.connect() as conn:
        q = (select(SpotCheck.id, SpotCheck.date, SpotCheck.seed, SpotCheckItem.seq, Household.household_id,
                    Village.village_id, Group.name, SpotCheckItem.zone_label, SpotCheckItem.confirmed,
                    SpotCheckItem.checked_date, SpotCheckItem.note, SpotCheckItem.visit_fk)
             .join(SpotCheck, SpotCheckItem.check_fk == SpotCheck.id)
             .join(Household, SpotCheckItem.household_fk == Household.id)
             .outerjoin(Village, Household.village_fk == Village.id)
             .outerjoin(Group, SpotCheckItem.group_fk == Group.id)
             .order_by(SpotCheck.id, SpotCheckItem.seq))
        if since is not None:
            q = q.where(SpotCheck.date >= since)
        if until is not None:
            q = q.where(SpotCheck.date <= until)
        keys = ("check_id", "date", "seed", "seq", "household_id", "village_id", "group_id", "zone_label",
                "confirmed", "checked_date", "note", "visit_id")
        return [dict(zip(keys, row)) for row in conn.execute(q)]

