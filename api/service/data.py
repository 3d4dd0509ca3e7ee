"""The service's store queries, in one place (handlers stay thin): places, plans, visits, coverage,
jobs and the audit log.  Every function takes the caller's :class:`~api.service.security.Scope`
and returns only what it may see, with personal data masked outside its own scope.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from typing import Any

import shapely
from sqlalchemy import Connection, Engine, case, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased

from api.service.errors import ApiError, forbidden, not_found
from api.service.security import Principal, Scope, mask_name, mask_phone, now
from api.store import _write_session
from api.store.models import (
    Area,
    AuditLog,
    Group,
    Household,
    Job,
    Problem as ProblemRow,
    Town,
    Village,
    Visit,
    Zone,
    ZoneHousehold,
    ZonePlan,
)
from geo.errors import Problem

NO_TOWN = "未指定镇"


# --------------------------------------------------------------------------------------------
# Helpers


def _geometry(wkb: bytes | None) -> dict[str, Any] | None:
    return None if wkb is None else shapely.geometry.mapping(shapely.from_wkb(wkb))


def _num(x: float | None) -> float | None:
    return None if x is None or (isinstance(x, float) and not math.isfinite(x)) else x


def feature_collection(features: list[dict], *, matched: int | None = None, next_url: str | None = None,
                       meta: dict | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "FeatureCollection", "features": features}
    if matched is not None:
        out.update(numberMatched=matched, numberReturned=len(features), next=next_url)
    if meta is not None:
        out["meta"] = meta
    return out


def village(conn: Connection, scope: Scope, village_id: str) -> Any:
    """The village row (``id``, ``village_id``, ``name``, ``town_fk``, ...) if the caller may see it.

    Raises
    ------
    ApiError
        404 for an unknown village, 403 for one outside the caller's scope.
    """
    v = conn.execute(select(Village.id, Village.village_id, Village.name, Village.town_fk)
                     .where(Village.village_id == village_id)).first()
    if v is None:
        raise not_found(f"行政村 {village_id}", village_id, "检查行政村编号 (GET /api/v1/villages 列出可访问的行政村)")
    scope.require_village(v.id, f"{v.name} ({v.village_id})")
    return v


def group_village(conn: Connection, scope: Scope, group_id: str) -> tuple[Any, Any]:
    """The group row and its village, if the caller may see the group (404 / 403 otherwise)."""
    g = conn.execute(select(Group.id, Group.name, Group.village_fk).where(Group.name == group_id)).first()
    if g is None:
        raise not_found(f"小组 {group_id}", group_id, "小组编号形如 990101001009-G1, 见分片作业的结果")
    v = conn.execute(select(Village.id, Village.village_id, Village.name, Village.town_fk)
                     .where(Village.id == g.village_fk)).first()
    if not scope.sees_group(g.name, v.id):
        raise forbidden(f"小组 {group_id} 不在你的范围内", "小组成员只能访问本组的住户和路线")
    return g, v


def _village_filter(stmt, scope: Scope, column):
    if scope.villages is not None:
        stmt = stmt.where(column.in_(sorted(scope.villages)) if scope.villages else False)
    return stmt


# --------------------------------------------------------------------------------------------
# Places


def towns(conn: Connection, scope: Scope) -> list[dict]:
    counts = (select(Village.town_fk, func.count(func.distinct(Village.id)).label("v"),
                     func.count(Household.id).label("h"))
              .outerjoin(Household, Household.village_fk == Village.id))
    counts = _village_filter(counts, scope, Village.id).group_by(Village.town_fk).subquery()
    rows = conn.execute(select(Town.id, Town.name, counts.c.v, counts.c.h)
                        .join(counts, counts.c.town_fk == Town.id).order_by(Town.id)).all()
    return [{"id": r[0], "name": r[1], "villages": int(r[2] or 0), "households": int(r[3] or 0)} for r in rows]


def villages_fc(conn: Connection, scope: Scope, town: str | None) -> dict:
    stmt = select(Village.village_id, Village.name, Village.depot_lon, Village.depot_lat, Village.geom,
                  Town.name.label("town")).outerjoin(Town, Village.town_fk == Town.id).order_by(Village.id)
    stmt = _village_filter(stmt, scope, Village.id)
    if town:
        stmt = stmt.where(Town.name == town)
    feats = [{"type": "Feature", "id": v.village_id, "geometry": _geometry(v.geom),
              "properties": {"village_id": v.village_id, "name": v.name, "town": v.town,
                             "depot_lon": _num(v.depot_lon), "depot_lat": _num(v.depot_lat)}}
             for v in conn.execute(stmt)]
    return feature_collection(feats)


def areas_fc(conn: Connection, scope: Scope, village_id: str | None, limit: int, offset: int, url: str) -> dict:
    stmt = select(Area.id, Area.area_id, Area.name, Area.kind, Area.geom, Village.village_id) \
        .join(Village, Area.village_fk == Village.id)
    if village_id:
        v = village(conn, scope, village_id)
        stmt = stmt.where(Area.village_fk == v.id)
    stmt = _village_filter(stmt, scope, Area.village_fk)
    matched = conn.scalar(select(func.count()).select_from(stmt.subquery()))
    rows = conn.execute(stmt.order_by(Area.id).limit(limit).offset(offset)).all()
    feats = [{"type": "Feature", "id": a.area_id, "geometry": _geometry(a.geom),
              "properties": {"area_id": a.area_id, "village_id": a.village_id, "name": a.name, "kind": a.kind}}
             for a in rows]
    return feature_collection(feats, matched=matched, next_url=_next(url, limit, offset, matched))


def _next(url: str, limit: int, offset: int, matched: int) -> str | None:
    if offset + limit >= matched:
        return None
    from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    query.update(limit=str(limit), offset=str(offset + limit))
    return urlunsplit(parts._replace(query=urlencode(query)))


def _household_feature(scope: Scope, r: Any, extra: dict | None = None) -> dict:
    full = scope.personal(r.village_pk, r.id)
    props = {"household_id": r.household_id, "village_id": r.village_id, "area_id": r.area_id,
             "address": r.address, "head": r.head if full else mask_name(r.head),
             "phone": r.phone if full else mask_phone(r.phone), "size": r.size,
             "tags": [t for t in (r.tags or "").split(",") if t], "placement": r.placement,
             "personal_data": "full" if full else "masked"}
    if extra:
        props.update(extra)
    geom = None if r.lon is None or r.lat is None else {"type": "Point", "coordinates": [r.lon, r.lat]}
    return {"type": "Feature", "id": r.household_id, "geometry": geom, "properties": props}


def _household_select():
    return (select(Household.id, Household.household_id, Household.village_fk.label("village_pk"),
                   Village.village_id, Area.area_id, Household.address, Household.head, Household.phone,
                   Household.size, Household.tags, Household.placement, Household.lon, Household.lat)
            .outerjoin(Village, Household.village_fk == Village.id)
            .outerjoin(Area, Household.area_fk == Area.id))


def _household_scope(stmt, scope: Scope):
    stmt = _village_filter(stmt, scope, Household.village_fk)
    if scope.zone_households is not None:
        ids = sorted(scope.zone_households)
        stmt = stmt.where(Household.id.in_(ids) if ids else False)
    return stmt


def households_fc(conn: Connection, scope: Scope, village_id: str | None, limit: int, offset: int,
                  url: str) -> dict:
    stmt = _household_scope(_household_select(), scope)
    if village_id:
        v = village(conn, scope, village_id)
        stmt = stmt.where(Household.village_fk == v.id)
    matched = conn.scalar(select(func.count()).select_from(stmt.subquery()))
    rows = conn.execute(stmt.order_by(Household.id).limit(limit).offset(offset)).all()
    return feature_collection([_household_feature(scope, r) for r in rows], matched=matched,
                              next_url=_next(url, limit, offset, matched))


def zones_fc(engine: Engine, conn: Connection, scope: Scope, village_id: str, version: int | None) -> dict:
    from api.store import plans

    v = village(conn, scope, village_id)
    zp = plans.load_zone_plan(engine, v.village_id, version)
    if zp is None:
        raise not_found(f"{v.name} ({v.village_id}) 的分片" + (f" 第 {version} 版" if version else ""), village_id,
                        "先提交分片作业: POST /api/v1/jobs/zoning")
    feats = []
    for z in zp.zones:
        if scope.principal.role == "group_member" and z.group_id != scope.principal.group_id:
            continue
        feats.append({"type": "Feature", "id": z.label,
                      "geometry": None if z.outline is None else shapely.geometry.mapping(z.outline),
                      "properties": {"zone": z.label, "group": z.group_id, "workload_min": round(z.workload_min, 1),
                                     "households": len(z.household_ids)}})
    meta = {"village": v.village_id, "version": zp.version, "status": zp.status, "params": zp.params,
            "seed": zp.seed, "solver_status": zp.solver_status, "scores": zp.scores}
    return feature_collection(feats, meta=_jsonable(meta))


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _hhmm(t: dt.time | None) -> str | None:
    return None if t is None else f"{t.hour:02d}:{t.minute:02d}"


def month_plan(engine: Engine, conn: Connection, scope: Scope, village_id: str, month: str) -> dict:
    from api.store import plans

    v = village(conn, scope, village_id)
    mp = plans.load_month_plan(engine, v.village_id, _month(month))
    if mp is None:
        raise not_found(f"{v.name} ({v.village_id}) {month} 的走访计划", month, "先提交计划作业: POST /api/v1/jobs/plan")
    groups = []
    for g in mp.groups():
        if scope.principal.role == "group_member" and g != scope.principal.group_id:
            continue
        ss = mp.sessions_of(g)
        info = mp.plans[g]
        groups.append({"group": g, "params": _jsonable(info["params"]), "seed": info["seed"],
                       "solver_status": info["solver_status"], "scores": _jsonable(info["scores"]),
                       "zone_plan_version": info["zone_plan_version"], "sessions": len(ss),
                       "stops": sum(len(s.stops) for s in ss)})
    return {"village": v.village_id, "month": month, "groups": groups}


def sessions(engine: Engine, conn: Connection, scope: Scope, village_id: str, month: str,
             group: str | None, day: dt.date | None = None) -> dict:
    from api.store import plans

    v = village(conn, scope, village_id)
    if scope.principal.role == "group_member":
        if group is not None and group != scope.principal.group_id:
            raise forbidden(f"小组 {group} 不在你的范围内", "小组成员只能访问本组的路线")
        group = scope.principal.group_id
    mp = plans.load_month_plan(engine, v.village_id, _month(month))
    if mp is None:
        raise not_found(f"{v.name} ({v.village_id}) {month} 的走访计划", month, "先提交计划作业: POST /api/v1/jobs/plan")
    if group is not None and group not in mp.plans:
        raise not_found(f"小组 {group} {month} 的走访计划", group, f"可选小组: {', '.join(mp.groups()) or '无'}")
    addresses = dict(conn.execute(select(Household.household_id, Household.address)
                                  .where(Household.village_fk == v.id)).all())
    out = []
    for s in mp.sessions:
        if (group is not None and s.group_id != group) or (day is not None and s.date != day):
            continue
        out.append({"group": s.group_id, "date": s.date, "kind": s.kind, "start": _hhmm(s.start),
                    "end": _hhmm(s.end), "budget_min": s.budget_min,
                    "start_point": None if s.start_point is None else {
                        "kind": s.start_point.kind, "lon": s.start_point.lon, "lat": s.start_point.lat,
                        "label": s.start_point.label},
                    "stops": [{"seq": t.seq + 1, "household": t.household_id, "arrive": _hhmm(t.arrive),
                               "depart": _hhmm(t.depart), "address": addresses.get(t.household_id)}
                              for t in s.stops]})
    return {"village": v.village_id, "month": month, "sessions": out}


def _month(month: str) -> dt.date:
    try:
        return dt.datetime.strptime(month, "%Y-%m").date()
    except ValueError:
        raise ApiError(422, f"month 应为 YYYY-MM, 如 2026-12 (收到 {month!r})", "改正 month 参数", where="month") from None


# --------------------------------------------------------------------------------------------
# Visits

OUTCOME_ALIASES = {"met": "met", "见到": "met", "已见面": "met", "见面": "met", "已走访": "met",
                   "not_home": "not_home", "不在家": "not_home", "未见到": "not_home",
                   "refused": "refused", "拒绝": "refused", "拒访": "refused",
                   "moved": "moved", "搬走": "moved", "已搬迁": "moved", "搬迁": "moved"}


def _visit_out(session: Session | Connection, visit_id: int) -> dict:
    row = session.execute(
        select(Visit, Household.household_id, Village.village_id, Group.name)
        .join(Household, Visit.household_fk == Household.id)
        .outerjoin(Village, Household.village_fk == Village.id)
        .outerjoin(Group, Visit.group_fk == Group.id).where(Visit.id == visit_id)).first()
    v, hid, vid, gname = row
    problem = session.scalar(select(ProblemRow.id).where(ProblemRow.visit_fk == v.id).order_by(ProblemRow.id).limit(1))
    return {"id": v.id, "client_id": v.client_id, "household": hid, "village": vid, "group": gname, "date": v.date,
            "outcome": v.outcome, "note": v.note, "problem_id": problem, "created_at": v.created_at}


def _target(conn: Connection | Session, scope: Scope, household: str, group: str | None,
            where: str = "") -> tuple[int, int | None]:
    """(household pk, group pk) of a visit the caller may record; ApiError otherwise."""
    row = conn.execute(select(Household.id, Household.village_fk).where(Household.household_id == household)).first()
    if row is None:
        raise ApiError(404 if not where else 422, Problem("", where or household, f"找不到住户 {household}",
                                                          "检查户编号 (GET /api/v1/households)"))
    hpk, vpk = row
    p = scope.principal
    if p.role == "group_member":
        if hpk not in (scope.zone_households or ()):
            raise forbidden(f"住户 {household} 不在小组 {p.group_id} 的片区内", "只能登记本组片区住户的走访")
        return hpk, conn.scalar(select(Group.id).where(Group.name == p.group_id))
    if not scope.sees_household(vpk, hpk):
        raise forbidden(f"住户 {household} 不在你的范围内 ({p.town or ''})", "只能登记本镇住户的走访")
    gpk = None
    if group:
        gpk = conn.scalar(select(Group.id).where(Group.name == group, Group.village_fk == vpk))
        if gpk is None:
            raise ApiError(422, Problem("", where or "group", f"住户 {household} 所在村没有小组 {group}",
                                        "检查小组编号, 或不填 group"))
    return hpk, gpk


def _same(existing: Visit, hpk: int, date: dt.date, outcome: str) -> bool:
    return existing.household_fk == hpk and existing.date == date and existing.outcome == outcome


def create_visit(engine: Engine, scope: Scope, data: Any, *, method: str, path: str) -> tuple[dict, bool]:
    """Record one visit; a retry with the same ``client_id`` returns the stored one.

    Returns
    -------
    (visit, created)

    Raises
    ------
    ApiError
        403/404/422 as for :func:`_target`; 409 when the ``client_id`` is taken by a different visit.
    """
    scope.require_write()
    day = data.date or dt.date.today()
    with engine.connect() as conn:
        hpk, gpk = _target(conn, scope, data.household, data.group)

    def existing() -> tuple[dict, bool] | None:
        with Session(engine) as s:
            old = s.scalars(select(Visit).where(Visit.client_id == data.client_id)).first()
            if old is None:
                return None
            if not _same(old, hpk, day, data.outcome):
                raise ApiError(409, Problem("", "client_id", f"client_id {data.client_id} 已用于另一条走访记录 "
                                            f"(编号 {old.id})", "每条新的走访生成新的 client_id; 重试时保持原内容"))
            return _visit_out(s, old.id), False

    found = existing()
    if found is not None:
        return found
    try:
        with _write_session(engine) as session:
            visit = Visit(household_fk=hpk, group_fk=gpk, date=day, outcome=data.outcome, note=data.note,
                          client_id=data.client_id)
            session.add(visit)
            session.flush()
            if data.problem is not None:
                session.add(ProblemRow(household_fk=hpk, visit_fk=visit.id, text=data.problem.text,
                                       category=data.problem.category, department=data.problem.department,
                                       deadline=data.problem.deadline))
            audit(session, scope.principal, "visit.create", method, path, 201,
                  {"visit": visit.id, "client_id": data.client_id, "household": data.household,
                   "outcome": data.outcome, "problem": data.problem is not None})
            session.flush()
            out = _visit_out(session, visit.id)
    except IntegrityError:
        found = existing()  # a concurrent retry stored it first: the unique client_id decided
        if found is None:
            raise
        return found
    return out, True


def bulk_visits(engine: Engine, scope: Scope, rows: Sequence[dict], file: str, *, method: str,
                path: str) -> dict:
    """Record the visits of a CSV (rows as dicts of text); all rows are checked before any is written.

    Rows whose ``client_id`` is stored already are counted ``existing`` and left alone.

    Raises
    ------
    ApiError
        422 listing every bad row (nothing written), 403 for rows outside the caller's scope.
    """
    scope.require_write()
    problems: list[Problem] = []
    prepared = []
    seen: dict[str, int] = {}
    with engine.connect() as conn:
        for n, row in enumerate(rows, start=2):
            where = f"第 {n} 行"
            cid = (row.get("client_id") or "").strip()
            hid = (row.get("household") or "").strip()
            outcome = OUTCOME_ALIASES.get((row.get("outcome") or "").strip().lower())
            if not cid:
                cid = f"csv:{file}:{n}:{hid}"
            if cid in seen:
                problems.append(Problem(file, where, f"client_id {cid} 与第 {seen[cid]} 行重复", "每行一个不同的 client_id"))
                continue
            seen[cid] = n
            if outcome is None:
                problems.append(Problem(file, where, f"走访结果 {row.get('outcome')!r} 无法识别",
                                        "填 met/not_home/refused/moved (或 见到/不在家/拒访/搬走)"))
            try:
                day = dt.date.fromisoformat((row.get("date") or "").strip()) if (row.get("date") or "").strip() \
                    else dt.date.today()
            except ValueError:
                problems.append(Problem(file, where, f"日期 {row.get('date')!r} 无法识别", "日期写成 YYYY-MM-DD"))
                day = None
            if not hid:
                problems.append(Problem(file, where, "没有户编号", "填写 household 列"))
                continue
            try:
                hpk, gpk = _target(conn, scope, hid, (row.get("group") or "").strip() or None, where=where)
            except ApiError as exc:
                if exc.status == 403:
                    raise
                problems.extend(Problem(file, where, p.problem, p.fix) for p in exc.problems)
                continue
            note = (row.get("note") or "").strip() or None
            if note and len(note) > 2000:
                problems.append(Problem(file, where, "备注超过 2000 字", "缩短备注"))
            prepared.append({"client_id": cid, "hpk": hpk, "gpk": gpk, "date": day, "outcome": outcome, "note": note,
                             "problem": (row.get("problem") or "").strip() or None, "household": hid})
    if problems:
        raise ApiError(422, problems)
    created = existing = 0
    with _write_session(engine) as session:
        stored = {}
        ids = [p["client_id"] for p in prepared]
        for i in range(0, len(ids), 500):
            stored.update({v.client_id: v for v in session.scalars(select(Visit).where(Visit.client_id.in_(ids[i:i + 500])))})
        for p in prepared:
            old = stored.get(p["client_id"])
            if old is not None:
                if not _same(old, p["hpk"], p["date"], p["outcome"]):
                    raise ApiError(409, Problem(file, p["client_id"], f"client_id {p['client_id']} 已用于另一条走访记录",
                                                "每条新的走访用新的 client_id"))
                existing += 1
                continue
            visit = Visit(household_fk=p["hpk"], group_fk=p["gpk"], date=p["date"], outcome=p["outcome"],
                          note=p["note"], client_id=p["client_id"])
            session.add(visit)
            session.flush()
            if p["problem"]:
                session.add(ProblemRow(household_fk=p["hpk"], visit_fk=visit.id, text=p["problem"]))
            created += 1
        audit(session, scope.principal, "visit.bulk", method, path, 200,
              {"file": file, "rows": len(prepared), "created": created, "existing": existing})
    return {"rows": len(prepared), "created": created, "existing": existing}


# --------------------------------------------------------------------------------------------
# Coverage


def _visited(year: int):
    """Whether the household (``Household.id`` of the enclosing query) was visited in ``year``: a visit
    other than "not at home" (as the planner counts).

    A correlated ``EXISTS``, answered from the index ``visits(household_fk, date, outcome)``: one
    index probe per household of the scope, so a town's figures cost what its households cost, not
    what the whole city's visits of the year cost."""
    return (select(Visit.id)
            .where(Visit.household_fk == Household.id, Visit.date >= dt.date(year, 1, 1),
                   Visit.date <= dt.date(year, 12, 31), Visit.outcome != "not_home").exists())


def _latest_zones():
    """The zones of each village's latest zone plan (no plan of the village has a higher version).

    Written as ``NOT EXISTS`` rather than a join with ``max(version)`` per village: PostgreSQL
    estimates the latter at a handful of zones and then joins every zone's households before
    filtering by town."""
    newer = aliased(ZonePlan)
    later = select(newer.id).where(newer.village_fk == ZonePlan.village_fk, newer.version > ZonePlan.version)
    return (select(Zone.id.label("zone_pk"), Zone.label, Zone.group_fk, ZonePlan.village_fk)
            .join(ZonePlan, Zone.plan_fk == ZonePlan.id)
            .where(~later.exists())
            .subquery())


def _row(level: str, id_: str, name: str, n: int, visited: int, village: str | None = None) -> dict:
    return {"level": level, "id": id_, "name": name, "village": village, "households": n, "visited": visited,
            "never_visited": n - visited, "rate": round(visited / n, 4) if n else 0.0}


def coverage(conn: Connection, scope: Scope, level: str, year: int, village_id: str | None,
             town: str | None) -> dict:
    """Visit rate (households visited this year / households) per town, village or zone."""
    hit = func.count(case((_visited(year), 1)))
    filters = []
    if village_id:
        v = village(conn, scope, village_id)
        filters.append(Household.village_fk == v.id)
    if town:
        filters.append(Village.town_fk == select(Town.id).where(Town.name == town).scalar_subquery())
    if level == "town":
        stmt = (select(Town.name, func.count(Household.id), hit).select_from(Household)
                .join(Village, Household.village_fk == Village.id).outerjoin(Town, Village.town_fk == Town.id)
                .group_by(Town.id, Town.name).order_by(Town.id))
        stmt = _household_scope(stmt.where(*filters), scope)
        rows = [_row("town", r[0] or NO_TOWN, r[0] or NO_TOWN, int(r[1]), int(r[2])) for r in conn.execute(stmt)]
    elif level == "village":
        stmt = (select(Village.village_id, Village.name, func.count(Household.id), hit).select_from(Household)
                .join(Village, Household.village_fk == Village.id)
                .group_by(Village.id, Village.village_id, Village.name).order_by(Village.id))
        stmt = _household_scope(stmt.where(*filters), scope)
        rows = [_row("village", r[0], r[1], int(r[2]), int(r[3]), r[0]) for r in conn.execute(stmt)]
    else:
        zones = _latest_zones()
        stmt = (select(zones.c.label, Group.name, Village.village_id, func.count(Household.id), hit)
                .select_from(ZoneHousehold).join(zones, zones.c.zone_pk == ZoneHousehold.zone_fk)
                .join(Household, Household.id == ZoneHousehold.household_fk)
                .join(Village, Household.village_fk == Village.id)
                .outerjoin(Group, Group.id == zones.c.group_fk)
                .group_by(zones.c.zone_pk, zones.c.label, Group.name, Village.village_id).order_by(zones.c.zone_pk))
        stmt = _household_scope(stmt.where(*filters), scope)
        rows = [_row("zone", r[0] or "", r[1] or r[0] or "", int(r[3]), int(r[4]), r[2]) for r in conn.execute(stmt)]
    n = sum(r["households"] for r in rows)
    hits = sum(r["visited"] for r in rows)
    total = _row(level, "total", "合计", n, hits) if rows else None
    return {"year": year, "level": level, "rows": rows, "total": total}


def gaps_fc(conn: Connection, scope: Scope, year: int, village_id: str | None, limit: int, offset: int,
            url: str) -> dict:
    """Households never visited this year (GeoJSON), with their last visit of any year."""
    stmt = _household_scope(_household_select().where(~_visited(year)), scope)
    if village_id:
        v = village(conn, scope, village_id)
        stmt = stmt.where(Household.village_fk == v.id)
    matched = conn.scalar(select(func.count()).select_from(stmt.subquery()))
    # the last visit of the listed households only (an index probe each), not of every household
    last = select(func.max(Visit.date)).where(Visit.household_fk == Household.id).scalar_subquery()
    rows = conn.execute(stmt.add_columns(last.label("last")).order_by(Household.id).limit(limit)
                        .offset(offset)).all()
    feats = [_household_feature(scope, r, {"last_visit": r.last.isoformat() if r.last else None}) for r in rows]
    return feature_collection(feats, matched=matched, next_url=_next(url, limit, offset, matched),
                              meta={"year": year})


# --------------------------------------------------------------------------------------------
# Audit log and jobs


def audit(session: Session, p: Principal, action: str, method: str, path: str, status: int,
          detail: dict | None = None) -> None:
    """Add the audit record of a write to ``session`` (committed with the write itself)."""
    session.add(AuditLog(at=now(), token_fk=p.token_id, actor=p.actor, action=action, method=method,
                         path=path, status=status, detail=_jsonable(detail or {})))


def audit_now(engine: Engine, p: Principal, action: str, method: str, path: str, status: int,
              detail: dict | None = None) -> None:
    """Record a write that committed on its own (an import) in a transaction of its own."""
    with _write_session(engine) as session:
        audit(session, p, action, method, path, status, detail)


def job_out(job: Job, base: str) -> dict:
    return {"id": job.id, "kind": job.kind, "status": job.status, "percent": job.percent, "message": job.message,
            "params": job.params or {}, "result": job.result, "error": job.error, "created_at": job.created_at,
            "started_at": job.started_at, "finished_at": job.finished_at, "url": f"{base}/api/v1/jobs/{job.id}"}


def job_visible(scope: Scope, job: Job) -> bool:
    p = scope.principal
    if p.role in ("city_admin", "inspector"):
        return True
    if p.role == "town_admin":
        return job.town_fk == p.town_fk or job.token_fk == p.token_id
    return job.token_fk == p.token_id
