"""Store access for people, "2+1" groups and zone plans (one transaction per call)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
import datetime as dt
from typing import Any

import shapely
from sqlalchemy import delete, func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from api.store import _write_session
from api.store.models import Group as GroupRow
from api.store.models import GroupMember, Household, Member, Village, Zone, ZoneHousehold, ZonePlan
from planner.groups import Group, Person


def _village_pk(session: Session, village_id: str) -> int:
    pk = session.scalar(select(Village.id).where(Village.village_id == village_id))
    if pk is None:
        raise ValueError(f"行政村 {village_id} 不在数据库中; 请先导入该村的片区和住户")
    return pk


def _household_pks(session: Session, household_ids: Sequence[str]) -> dict[str, int]:
    """User household id -> row id, for all the given ids.

    Raises
    ------
    ValueError
        Naming the ids that are not in the store.
    """
    wanted = list(dict.fromkeys(household_ids))
    found: dict[str, int] = {}
    for i in range(0, len(wanted), 500):
        found.update(dict(session.execute(select(Household.household_id, Household.id)
                                          .where(Household.household_id.in_(wanted[i:i + 500]))).all()))
    missing = [h for h in wanted if h not in found]
    if missing:
        raise ValueError(f"住户不在数据库中: {', '.join(missing[:10])}")
    return found


def save_people(engine: Engine, people: Sequence[Person], *, leave: dict[str, list] | None = None,
                village_ids: Sequence[str] = ()) -> int:
    """Replace the people of the given villages (and of the people's own villages).

    Parameters
    ----------
    people : sequence of Person
    leave : mapping member_id -> list of (start, end) ISO date pairs
    village_ids : villages whose people are replaced even if the roster names nobody there.

    Returns
    -------
    int
        Number of people stored.

    Raises
    ------
    ValueError
        For a village not in the store (nothing is written).
    """
    leave = leave or {}
    villages = sorted({p.village_id for p in people} | set(village_ids))
    with _write_session(engine) as session:
        pks = {v: _village_pk(session, v) for v in villages}
        old = select(Member.id).where(Member.village_fk.in_(pks.values()))
        session.execute(delete(GroupMember).where(GroupMember.member_fk.in_(old)))
        session.execute(delete(Member).where(Member.village_fk.in_(pks.values())))
        for p in people:
            session.add(Member(member_id=p.member_id, name=p.name, role=p.role, village_fk=pks[p.village_id],
                               phone=p.phone, title=p.title, home_area=p.home_area,
                               leave_dates=[[str(a), str(b)] for a, b in leave.get(p.member_id, [])]))
    return len(people)


def load_people(engine: Engine, village_id: str) -> list[Person]:
    """The people of one village, in stored order."""
    with Session(engine) as session:
        rows = session.execute(
            select(Member).join(Village, Member.village_fk == Village.id)
            .where(Village.village_id == village_id).order_by(Member.id)).scalars().all()
        return [Person(member_id=r.member_id or f"#{r.id}", name=r.name, role=r.role, village_id=village_id,
                       phone=r.phone, home_area=r.home_area, title=r.title) for r in rows]


def save_groups(engine: Engine, village_id: str, groups: Sequence[Group]) -> None:
    """Store the groups of a village (by group id); groups no longer formed are removed unless
    a zone plan still refers to them.

    Raises
    ------
    ValueError
        For a village not in the store.
    """
    with _write_session(engine) as session:
        vpk = _village_pk(session, village_id)
        existing = {g.name: g for g in session.execute(select(GroupRow).where(GroupRow.village_fk == vpk)).scalars()}
        members = {m.member_id: m.id for m in session.execute(
            select(Member).where(Member.village_fk == vpk)).scalars()}
        keep = set()
        for g in groups:
            row = existing.get(g.group_id)
            attrs = {"rule": g.rule}
            if row is None:
                row = GroupRow(village_fk=vpk, name=g.group_id, attrs=attrs)
                session.add(row)
                session.flush()
            else:
                row.attrs = attrs
            keep.add(row.id)
            session.execute(delete(GroupMember).where(GroupMember.group_fk == row.id))
            for mid in g.members:
                if mid in members:
                    session.add(GroupMember(group_fk=row.id, member_fk=members[mid], role="member"))
            if g.auxiliary and g.auxiliary in members:
                session.add(GroupMember(group_fk=row.id, member_fk=members[g.auxiliary], role="auxiliary"))
        used = set(session.scalars(select(Zone.group_fk).where(Zone.group_fk.is_not(None))))
        for name, row in existing.items():
            if row.id not in keep:
                session.execute(delete(GroupMember).where(GroupMember.group_fk == row.id))
                if row.id not in used:
                    session.delete(row)


def load_groups(engine: Engine, village_id: str) -> list[Group]:
    """The groups stored for a village with their members (ordered by group id)."""
    with Session(engine) as session:
        rows = session.execute(
            select(GroupRow).join(Village, GroupRow.village_fk == Village.id)
            .where(Village.village_id == village_id)).scalars().all()
        out = []
        for r in sorted(rows, key=lambda r: _natural(r.name)):
            mem = session.execute(select(GroupMember, Member).join(Member, GroupMember.member_fk == Member.id)
                                  .where(GroupMember.group_fk == r.id).order_by(Member.id)).all()
            team = tuple(m.member_id for gm, m in mem if gm.role == "member")
            aux = next((m.member_id for gm, m in mem if gm.role == "auxiliary"), None)
            if not team and aux is None and not (r.attrs or {}).get("rule"):
                continue
            out.append(Group(group_id=r.name, village_id=village_id, members=team, auxiliary=aux,
                             rule=(r.attrs or {}).get("rule", "")))
        return out


def _natural(name: str) -> tuple:
    import re

    return tuple(int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name))


@dataclass
class ZoneRecord:
    """One zone to store: the group it belongs to, its households, outline and workload."""

    label: str
    group_id: str | None
    workload_min: float
    household_ids: list[str]
    outline: shapely.Geometry | None = None


@dataclass
class StoredPlan:
    """A zone plan read back from the store."""

    village_id: str
    version: int
    params: dict[str, Any]
    seed: int | None
    status: str
    solver_status: str | None
    scores: dict[str, Any]
    zones: list[ZoneRecord] = field(default_factory=list)

    def group_of(self) -> dict[str, str | None]:
        """household id -> group id."""
        return {h: z.group_id for z in self.zones for h in z.household_ids}


def save_zone_plan(engine: Engine, village_id: str, zones: Sequence[ZoneRecord], *, params: dict,
                   seed: int, solver_status: str, scores: dict) -> int:
    """Store a new version of a village's zone plan; returns its version number.

    Raises
    ------
    ValueError
        For an unknown village, group or household (nothing is written).
    """
    with _write_session(engine) as session:
        vpk = _village_pk(session, village_id)
        version = (session.scalar(select(func.max(ZonePlan.version)).where(ZonePlan.village_fk == vpk)) or 0) + 1
        plan = ZonePlan(village_fk=vpk, version=version, params=params, seed=seed, status="draft",
                        solver_status=solver_status, scores=scores)
        session.add(plan)
        session.flush()
        groups = {g.name: g.id for g in session.execute(select(GroupRow).where(GroupRow.village_fk == vpk)).scalars()}
        hh = _household_pks(session, [h for z in zones for h in z.household_ids])
        for z in zones:
            if z.group_id is not None and z.group_id not in groups:
                raise ValueError(f"小组 {z.group_id} 不在数据库中")
            row = Zone(plan_fk=plan.id, group_fk=groups.get(z.group_id) if z.group_id else None,
                       label=z.label, workload_min=float(z.workload_min),
                       geom=shapely.to_wkb(z.outline) if z.outline is not None else None)
            session.add(row)
            session.flush()
            session.execute(ZoneHousehold.__table__.insert(),
                            [{"zone_fk": row.id, "household_fk": hh[h]} for h in z.household_ids])
        return version


def load_zone_plan(engine: Engine, village_id: str, version: int | None = None) -> StoredPlan | None:
    """The latest (or the given) zone plan of a village, or None if it has none."""
    with Session(engine) as session:
        q = select(ZonePlan).join(Village, ZonePlan.village_fk == Village.id).where(Village.village_id == village_id)
        q = q.where(ZonePlan.version == version) if version is not None else q.order_by(ZonePlan.version.desc())
        plan = session.execute(q.limit(1)).scalars().first()
        if plan is None:
            return None
        out = StoredPlan(village_id=village_id, version=plan.version, params=plan.params, seed=plan.seed,
                         status=plan.status, solver_status=plan.solver_status, scores=plan.scores)
        zrows = session.execute(select(Zone, GroupRow.name).outerjoin(GroupRow, Zone.group_fk == GroupRow.id)
                                .where(Zone.plan_fk == plan.id).order_by(Zone.id)).all()
        for z, gname in zrows:
            hids = session.scalars(select(Household.household_id).join(
                ZoneHousehold, ZoneHousehold.household_fk == Household.id).where(ZoneHousehold.zone_fk == z.id)
                .order_by(Household.id)).all()
            out.zones.append(ZoneRecord(label=z.label or "", group_id=gname, workload_min=z.workload_min or 0.0,
                                        household_ids=list(hids),
                                        outline=shapely.from_wkb(z.geom) if z.geom is not None else None))
        return out


def zoned_villages(engine: Engine) -> dict[str, int]:
    """Villages with a zone plan: ``{village_id: number of zones of its latest plan}``."""
    with Session(engine) as session:
        latest = (select(ZonePlan.village_fk, func.max(ZonePlan.version).label("version"))
                  .group_by(ZonePlan.village_fk).subquery())
        rows = session.execute(
            select(Village.village_id, func.count(Zone.id))
            .join(latest, latest.c.village_fk == Village.id)
            .join(ZonePlan, (ZonePlan.village_fk == Village.id) & (ZonePlan.version == latest.c.version))
            .outerjoin(Zone, Zone.plan_fk == ZonePlan.id)
            .group_by(Village.village_id)).all()
    return {str(v): int(n) for v, n in rows}


def save_month_plan(engine: Engine, village_id: str, month: dt.date, groups: Sequence[dict], *,
                    params: dict, seed: int, solver_status: str, scores: dict) -> int:
    """Store one village's month plan: per group its sessions and their ordered stops.

    ``groups`` items: ``{"group": group id, "sessions": [{"date": date, "kind": "stationing" |
    "evening", "start": time, "end": time, "budget_min": float, "start_point": SessionStart
    (optional), "stops": [{"household": id, "arrive": time, "depart": time}]}]}``.  Returns the
    plan's row id.

    Raises
    ------
    ValueError
        For an unknown village, group or household (nothing is written).
    """
    from api.store.models import MonthPlan, Stop, VisitSession

    with _write_session(engine) as session:
        vpk = _village_pk(session, village_id)
        plan = MonthPlan(month=month, village_fk=vpk, params=params, seed=seed, status="draft",
                         solver_status=solver_status, scores=scores)
        zp = session.scalar(select(ZonePlan.id).where(ZonePlan.village_fk == vpk).order_by(ZonePlan.version.desc()))
        plan.zone_plan_fk = zp
        session.add(plan)
        session.flush()
        gpk = {g.name: g.id for g in session.execute(select(GroupRow).where(GroupRow.village_fk == vpk)).scalars()}
        hh = _household_pks(session, sorted({s["household"] for g in groups for ss in g["sessions"]
                                             for s in ss["stops"]}))
        for g in groups:
            if g["group"] not in gpk:
                raise ValueError(f"小组 {g['group']} 不在数据库中")
            for ss in g["sessions"]:
                point = ss.get("start_point")
                row = VisitSession(month_plan_fk=plan.id, group_fk=gpk[g["group"]], date=ss["date"],
                                   kind=ss["kind"], start_time=ss["start"], end_time=ss["end"],
                                   budget_min=ss.get("budget_min"),
                                   start_kind=None if point is None else point.kind,
                                   start_label=None if point is None else point.label,
                                   start_lon=None if point is None else float(point.lon),
                                   start_lat=None if point is None else float(point.lat))
                session.add(row)
                session.flush()
                if ss["stops"]:
                    session.execute(Stop.__table__.insert(), [
                        {"session_fk": row.id, "seq": k, "household_fk": hh[s["household"]],
                         "arrive": s["arrive"], "depart": s["depart"]} for k, s in enumerate(ss["stops"])])
        return plan.id


def visit_states(engine: Engine, village_id: str, year: int) -> dict[str, dict]:
    """Per household of a village: visits this year, last visit date and its outcome."""

    from api.store.models import Visit

    with Session(engine) as session:
        rows = session.execute(
            select(Household.household_id, Visit.date, Visit.outcome)
            .join(Visit, Visit.household_fk == Household.id)
            .join(Village, Household.village_fk == Village.id)
            .where(Village.village_id == village_id)
            .order_by(Visit.date)).all()
    out: dict[str, dict] = {}
    for hid, day, outcome in rows:
        st = out.setdefault(hid, {"visits_this_year": 0, "last_visit": None, "last_outcome": None})
        if day.year == year and outcome != "not_home":
            st["visits_this_year"] += 1
        st["last_visit"] = day
        st["last_outcome"] = outcome
    return out


def load_leave(engine: Engine, village_id: str) -> dict[str, list[tuple[dt.date, dt.date]]]:
    """member id -> leave periods (start, end dates, inclusive) of a village's people."""
    with Session(engine) as session:
        rows = session.execute(select(Member.member_id, Member.leave_dates).join(Village, Member.village_fk == Village.id)
                               .where(Village.village_id == village_id)).all()
    return {m: [(dt.date.fromisoformat(a), dt.date.fromisoformat(b)) for a, b in (periods or [])]
            for m, periods in rows if m}


@dataclass
class StoredStop:
    """One planned stop read back from the store (times are local clock times)."""

    seq: int
    household_id: str
    arrive: dt.time | None
    depart: dt.time | None


@dataclass(frozen=True)
class SessionStart:
    """Where a session starts (and ends, unless the plan ends at the office).

    ``kind``: ``depot`` (the village committee office), ``auxiliary_home`` or ``outpost`` (a
    point near households too far to walk to from the usual start); ``lon``/``lat`` in WGS84
    degrees; ``label`` what the sheets print (e.g. the area's name), or None.
    """

    kind: str
    lon: float
    lat: float
    label: str | None = None


@dataclass
class StoredSession:
    """One session (stationing day or evening) of a group, with its stops in visit order.

    ``start_point`` is None for plans stored before start points were (the office)."""

    group_id: str
    date: dt.date
    kind: str
    start: dt.time | None
    end: dt.time | None
    budget_min: float | None
    stops: list[StoredStop] = field(default_factory=list)
    start_point: SessionStart | None = None


@dataclass
class StoredMonthPlan:
    """A village's month plan as stored by :func:`save_month_plan`: for each group, the sessions of
    the latest plan saved for it that month (``zhudian plan`` saves one plan per group)."""

    village_id: str
    month: dt.date
    plans: dict[str, dict[str, Any]] = field(default_factory=dict)
    """group id -> ``{"params", "seed", "solver_status", "scores", "zone_plan_version"}``."""
    sessions: list[StoredSession] = field(default_factory=list)

    def groups(self) -> list[str]:
        """Group ids with a plan this month, in natural order (组2 before 组10)."""
        return sorted(self.plans, key=_natural)

    def sessions_of(self, group_id: str) -> list[StoredSession]:
        """A group's sessions by date, then start time."""
        return [s for s in self.sessions if s.group_id == group_id]


def load_month_plan(engine: Engine, village_id: str, month: dt.date) -> StoredMonthPlan | None:
    """The plan of ``month`` (any day of it) for a village, or None if no group has one.

    Sessions come ordered by group, date and start time; stops by their sequence number.
    """
    from api.store.models import MonthPlan, Stop, VisitSession

    first = month.replace(day=1)
    with Session(engine) as session:
        rows = session.execute(
            select(MonthPlan, GroupRow.name, VisitSession)
            .join(Village, MonthPlan.village_fk == Village.id)
            .join(VisitSession, VisitSession.month_plan_fk == MonthPlan.id)
            .join(GroupRow, VisitSession.group_fk == GroupRow.id)
            .where(Village.village_id == village_id, MonthPlan.month == first)
            .order_by(MonthPlan.id.desc())).all()
        if not rows:
            return None
        latest: dict[str, int] = {}
        for plan, gname, _ in rows:
            latest.setdefault(gname, plan.id)
        out = StoredMonthPlan(village_id=village_id, month=first)
        by_id: dict[int, StoredSession] = {}
        for plan, gname, row in rows:
            if latest[gname] != plan.id:
                continue
            if gname not in out.plans:
                version = (session.scalar(select(ZonePlan.version).where(ZonePlan.id == plan.zone_plan_fk))
                           if plan.zone_plan_fk is not None else None)
                out.plans[gname] = {"params": plan.params, "seed": plan.seed, "solver_status": plan.solver_status,
                                    "scores": plan.scores, "zone_plan_version": version}
            point = (None if row.start_lon is None or row.start_lat is None else
                     SessionStart(kind=row.start_kind or "depot", lon=row.start_lon, lat=row.start_lat,
                                  label=row.start_label))
            by_id[row.id] = StoredSession(group_id=gname, date=row.date, kind=row.kind, start=row.start_time,
                                          end=row.end_time, budget_min=row.budget_min, start_point=point)
        ids = list(by_id)
        for i in range(0, len(ids), 500):
            stops = session.execute(
                select(Stop.session_fk, Stop.seq, Household.household_id, Stop.arrive, Stop.depart)
                .join(Household, Stop.household_fk == Household.id)
                .where(Stop.session_fk.in_(ids[i:i + 500])).order_by(Stop.session_fk, Stop.seq)).all()
            for sfk, seq, hid, arrive, depart in stops:
                by_id[sfk].stops.append(StoredStop(seq=seq, household_id=hid, arrive=arrive, depart=depart))
        out.sessions = sorted(by_id.values(), key=lambda s: (_natural(s.group_id), s.date, s.start or dt.time()))
        return out
