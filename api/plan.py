"""Month plan job: for each group of each village, choose the households due this month and route
them over the month's sessions; store the plan and write routes (GeoJSON, GPX).

The CLI (``zhudian plan``) and the HTTP API call :func:`run_plan`; the planning itself is in
:mod:`planner.calendar`, :mod:`planner.month` and :mod:`planner.routing`.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from api import store
from api.store import plans
from geo.crs import utm_crs
from geo.errors import InputError, Problem
from geo.network import WalkingParams, WalkNetwork, travel_matrices
from planner.calendar import Session, SessionRules, month_sessions
from planner.month import HouseholdState, MonthRules, plan_group_month, select_due

logger = logging.getLogger(__name__)

WEEKDAYS = {"mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4, "sat": 5, "sun": 6,
            "周一": 0, "周二": 1, "周三": 2, "周四": 3, "周五": 4, "周六": 5, "周日": 6}
REASONS_ZH = {"no_time": "本月时间不够", "unreachable": "无法步行到达", "time_window": "时间窗无法满足",
              "capacity": "超出容量"}


@dataclass
class PlanRequest:
    """What to plan.

    Attributes
    ----------
    month : str
        ``YYYY-MM``.
    villages : village ids (default all with a zone plan).
    stationing_day : str
        ``tue`` (default), ``mon`` ... or 周二.
    evenings_per_week : int
    service_min : int
        Visit minutes per household (tags can add more, see ``MonthRules``).
    seconds, seed, engine : routing time per group (s), seed, ``pyvrp`` or ``ortools``.
    holidays : path, optional
        A ``date,type`` CSV (休/班) for years the installed holiday data does not cover.
    """

    month: str
    villages: Sequence[str] | None = None
    stationing_day: str = "tue"
    evenings_per_week: int = 3
    service_min: int = 10
    seconds: float = 5.0
    seed: int = 0
    engine: str = "pyvrp"
    holidays: str | Path | None = None

    def __post_init__(self) -> None:
        try:
            d = dt.datetime.strptime(self.month, "%Y-%m")
        except ValueError:
            raise ValueError(f"--month 应为 YYYY-MM, 如 2026-12 (收到 {self.month!r})") from None
        self.year, self.mon = d.year, d.month
        if self.stationing_day.lower() not in WEEKDAYS:
            raise ValueError(f"--stationing-day 应为 mon/tue/wed/thu/fri 或 周一..周五 (收到 {self.stationing_day!r})")
        if not 0 <= self.evenings_per_week <= 5:
            raise ValueError("--evenings-per-week 应在 0 到 5 之间")
        if self.engine not in ("pyvrp", "ortools"):
            raise ValueError("--engine 应为 pyvrp 或 ortools")
        if self.service_min <= 0 or self.seconds <= 0:
            raise ValueError("--service-min 和 --seconds 必须大于 0")


def _hhmm(seconds_since_month: int) -> str:
    s = int(seconds_since_month) % 86400
    return f"{s // 3600:02d}:{s % 3600 // 60:02d}"


def _time(seconds_since_month: int) -> dt.time:
    s = int(seconds_since_month) % 86400
    return dt.time(s // 3600, s % 3600 // 60)


def _workday_function(req: PlanRequest) -> Callable[[dt.date], bool]:
    from api import holidays

    if req.holidays is not None:
        return holidays.load_holiday_file(req.holidays)
    return holidays.is_workday


def run_plan(db: str | Path, req: PlanRequest, *, progress: Callable[[str], None] | None = None,
             out: str | Path | None = None) -> dict:
    """Plan one month for every group of the requested villages; store it; write routes.

    Returns
    -------
    dict
        ``{"month", "groups": [{"group", "zone", "village", "sessions": [...]}], "unplanned":
        [{"household", "group", "reason", "reason_text"}], "projected_year_end_coverage":
        {zone: share}}`` as in the issue.

    Raises
    ------
    geo.errors.InputError
        For an unknown village or a village without zones (nothing is written).
    ValueError
        For holiday data missing the planned year (message says how to fix it).
    """
    step = progress or (lambda _m: None)
    is_workday = _workday_function(req)
    is_workday(dt.date(req.year, req.mon, 1))  # fail early, with the message, if the year is missing
    rules = SessionRules(stationing_weekday=WEEKDAYS[req.stationing_day.lower()],
                         evenings_per_week=req.evenings_per_week)
    mrules = MonthRules(service_min=req.service_min)
    engine = store.open_store(db, create=False)
    try:
        villages = store.load_villages(engine)
        if req.villages:
            unknown = [v for v in req.villages if v not in set(villages["village_id"])]
            if unknown:
                raise InputError([Problem("--village", v, "数据库中没有这个行政村", "检查行政村编号") for v in unknown])
            villages = villages[villages["village_id"].isin(req.villages)]
        report: dict = {"month": req.month, "groups": [], "unplanned": [], "projected_year_end_coverage": {}}
        route_specs = []
        problems = []
        for _, v in villages.iterrows():
            zp = plans.load_zone_plan(engine, v["village_id"])
            if zp is None:
                if req.villages:
                    problems.append(Problem("--village", v["village_id"], "该村还没有分片",
                                            "先运行 zhudian zone 为该村分片"))
                continue
            step(f"走访计划: {v['name']}")
            specs = _plan_village(engine, v, zp, req, rules, mrules, is_workday, report)
            route_specs.extend(specs)
        if not report["groups"] and not problems:
            problems.append(Problem("", "", "数据库中还没有任何村的分片, 无法安排走访",
                                    "先运行 zhudian zone DB --roster 花名册.csv (或 --groups N) 为各村分片"))
        if problems:
            raise InputError(problems)
        if out is not None and route_specs:
            step("写出路线 (GeoJSON, GPX)")
            _write_routes(engine, route_specs, Path(out), req.month)
        return report
    finally:
        engine.dispose()


@dataclass
class GroupInstance:
    """One group's month as the planner sees it: its households (positions in the village's
    household table), their states, the sessions, the due list and the walking matrices over
    [depot] + those households."""

    group_id: str
    zone_label: str
    people: list[str]
    """Member ids of the group (team members and the auxiliary)."""
    idx: np.ndarray
    states: list[HouseholdState]
    sessions: list[Session]
    due: list
    duration_s: np.ndarray
    distance_m: np.ndarray


def month_instances(engine, village, zp, req: PlanRequest, rules: SessionRules, mrules: MonthRules,
                    is_workday) -> tuple:
    """Build every group's month instance of one village (``run_plan`` and ``bench/month.py``).

    Returns
    -------
    (households, depot, instances)
        The village's households (GeoDataFrame), the depot (lon, lat) and one
        :class:`GroupInstance` per zone that has households.
    """
    import geopandas as gpd

    vid = village["village_id"]
    hh = store.load_households(engine, village_ids=[vid]).reset_index(drop=True)
    pos = {h: i for i, h in enumerate(hh["household_id"])}
    depot = (float(village["depot_lon"]), float(village["depot_lat"]))
    if any(map(math.isnan, depot)):
        depot = (float(hh.geometry.x.median()), float(hh.geometry.y.median()))
    # walking times over [depot] + all the village's households, on the roads near the village
    lon = np.r_[depot[0], hh.geometry.x.to_numpy()]
    lat = np.r_[depot[1], hh.geometry.y.to_numpy()]
    crs = utm_crs(lon, lat)
    pts = gpd.GeoSeries(gpd.points_from_xy(lon, lat), crs="EPSG:4326").to_crs(crs)
    xy = np.column_stack([pts.x.to_numpy(), pts.y.to_numpy()])
    b = (lon.min() - 0.01, lat.min() - 0.01, lon.max() + 0.01, lat.max() + 0.01)
    roads = store.load_roads(engine, bbox=b)
    walking = WalkingParams()
    network = WalkNetwork.from_lines(roads.to_crs(crs).geometry.values, params=walking) if len(roads) else None
    tm = travel_matrices(xy, network, params=walking)
    visits = plans.visit_states(engine, vid, req.year)
    leave = plans.load_leave(engine, vid)
    instances = []
    for z in zp.zones:
        idx = np.array([pos[h] for h in z.household_ids if h in pos], dtype=np.int64)
        if not len(idx):
            continue
        states = []
        for i in idx:
            row = hh.iloc[int(i)]
            st = visits.get(row["household_id"], {})
            tags = tuple(t for t in str(row["tags"] or "").split(",") if t)
            states.append(HouseholdState(visits_this_year=st.get("visits_this_year", 0),
                                         last_visit=st.get("last_visit"), last_outcome=st.get("last_outcome"),
                                         tags=tags))
        group_people = _group_people(engine, vid, z.group_id)
        sessions = month_sessions(req.year, req.mon, rules=rules, is_workday=is_workday,
                                  on_leave=lambda d, gp=group_people: sum(
                                      1 for m in gp if any(a <= d <= b for a, b in leave.get(m, ()))))
        due = select_due(states, year=req.year, month=req.mon, rules=mrules)
        sub = np.r_[0, idx + 1]
        instances.append(GroupInstance(z.group_id, z.label, group_people, idx, states, sessions, due,
                                       tm.time_s[np.ix_(sub, sub)], tm.distance_m[np.ix_(sub, sub)]))
    return hh, depot, instances


def _plan_village(engine, village, zp, req: PlanRequest, rules: SessionRules, mrules: MonthRules,
                  is_workday, report: dict) -> list:
    from geo.routes import RouteSpec, RouteStop

    vid = village["village_id"]
    hh, depot, instances = month_instances(engine, village, zp, req, rules, mrules, is_workday)
    pos = {h: i for i, h in enumerate(hh["household_id"])}
    people = {p.member_id: p for p in plans.load_people(engine, vid)}
    specs = []
    for inst in instances:
        idx, due, sessions, states = inst.idx, inst.due, inst.sessions, inst.states
        group_people = inst.people
        gm = plan_group_month(due, sessions, states=states, month=req.mon,
                              duration_s=inst.duration_s, distance_m=inst.distance_m,
                              seconds=req.seconds, seed=req.seed, engine=req.engine)
        zone_label = inst.zone_label
        g_sessions = []
        stored_sessions = []
        by_vehicle = {r.vehicle: r for r in gm.routing.routes}
        for k, s in enumerate(gm.sessions):
            r = by_vehicle.get(k)
            stops = []
            if r is not None:
                for vis in r.visits:
                    hid = hh["household_id"].iloc[int(idx[gm.due[vis.client].household])]
                    stops.append({"household": hid, "arrive": _hhmm(vis.arrive_s), "depart": _hhmm(vis.depart_s)})
            g_sessions.append({
                "date": s.date.isoformat(), "kind": s.kind, "part": s.part,
                "start": f"{s.start_min // 60:02d}:{s.start_min % 60:02d}",
                "end": f"{s.end_min // 60:02d}:{s.end_min % 60:02d}",
                "walk_m": int(r.distance_m) if r is not None else 0, "stops": stops,
            })
            stored_sessions.append({
                "date": s.date, "kind": s.kind, "start": dt.time(s.start_min // 60, s.start_min % 60),
                "end": dt.time(min(s.end_min, 1439) // 60, min(s.end_min, 1439) % 60), "budget_min": float(s.minutes),
                "stops": [{"household": st["household"], "arrive": _time(v.arrive_s), "depart": _time(v.depart_s)}
                          for st, v in zip(stops, r.visits if r is not None else [])],
            })
            if stops:
                pts_ = [hh.iloc[pos[st["household"]]] for st in stops]
                specs.append((inst.group_id, RouteSpec(
                    route_id=f"{inst.group_id}-{s.date.isoformat()}-{s.kind}{('-' + s.part) if s.part else ''}",
                    name=f"{inst.group_id} {s.label}", date=s.date.isoformat(), depot_lon=depot[0], depot_lat=depot[1],
                    stops=[RouteStop(household_id=st["household"], lon=float(p.geometry.x), lat=float(p.geometry.y),
                                     arrive=st["arrive"], depart=st["depart"], seq=n + 1, label=p["address"])
                           for n, (st, p) in enumerate(zip(stops, pts_))],
                    start=g_sessions[-1]["start"], end=g_sessions[-1]["end"])))
        report["groups"].append({"group": inst.group_id, "zone": zone_label, "village": vid,
                                 "members": [people[m].name for m in group_people if m in people],
                                 "due": len(gm.due), "planned": sum(len(s["stops"]) for s in g_sessions),
                                 "sessions": g_sessions})
        for h, reason in gm.unplanned:
            report["unplanned"].append({"household": hh["household_id"].iloc[int(idx[h])], "group": inst.group_id,
                                        "reason": reason, "reason_text": REASONS_ZH.get(reason, reason)})
        report["projected_year_end_coverage"][zone_label] = round(float(gm.projected_year_end_coverage), 4)
        plans.save_month_plan(engine, vid, dt.date(req.year, req.mon, 1),
                              [{"group": inst.group_id, "sessions": stored_sessions}],
                              params={"month": req.month, "stationing_day": req.stationing_day,
                                      "evenings_per_week": req.evenings_per_week, "service_min": req.service_min,
                                      "seconds": req.seconds, "engine": req.engine, "group": inst.group_id},
                              seed=req.seed, solver_status=gm.routing.status,
                              scores={"due": len(gm.due), "unplanned": len(gm.unplanned),
                                      "coverage": gm.projected_year_end_coverage,
                                      "distance_m": int(gm.routing.distance_m)})
    return specs


def _group_people(engine, village_id: str, group_id: str) -> list[str]:
    for g in plans.load_groups(engine, village_id):
        if g.group_id == group_id:
            return [*g.members, *([g.auxiliary] if g.auxiliary else [])]
    return []


def _write_routes(engine, grouped: list, out: Path, month: str) -> None:
    """All routes of the month in one GeoJSON, and one GPX file per group (for phones);
    ``grouped`` holds (group id, RouteSpec) pairs."""
    from geo.routes import routes_crs, write_geojson, write_gpx

    specs = [spec for _, spec in grouped]
    out.mkdir(parents=True, exist_ok=True)
    lons = [s.depot_lon for s in specs] + [st.lon for s in specs for st in s.stops]
    lats = [s.depot_lat for s in specs] + [st.lat for s in specs for st in s.stops]
    roads = store.load_roads(engine, bbox=(min(lons) - 0.01, min(lats) - 0.01, max(lons) + 0.01, max(lats) + 0.01))
    crs = routes_crs(specs)
    network = WalkNetwork.from_lines(roads.to_crs(crs).geometry.values) if len(roads) else None
    write_geojson(specs, roads, out / f"routes-{month}.geojson", network=network, crs=crs)
    by_group: dict[str, list] = {}
    for group, spec in grouped:
        by_group.setdefault(group, []).append(spec)
    for group, group_specs in by_group.items():
        write_gpx(group_specs, roads, out / f"{group}-{month}.gpx", network=network, crs=crs)
