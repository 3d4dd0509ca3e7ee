"""Month plan job: for each group of each village, choose the households due this month and route
them over the month's sessions; store the plan and write routes (GeoJSON, GPX).

The CLI (``zhudian plan``) and the HTTP API call :func:`run_plan`; the planning itself is in
:mod:`planner.calendar`, :mod:`planner.month` and :mod:`planner.routing`.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from api import store
from api.store import plans
from api.store.plans import SessionStart
from api.store.visits import feedback_due
from geo.crs import utm_crs
from geo.errors import InputError, Problem
from geo.network import WalkingParams, WalkNetwork, travel_matrices
from planner.calendar import Session, SessionRules, month_sessions
from planner.month import (MAX_OUTPOSTS, GroupMonth, HouseholdState, MonthRules, choose_outpost,
                           outpost_sessions, plan_group_month, select_due)

logger = logging.getLogger(__name__)

WEEKDAYS = {"mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4, "sat": 5, "sun": 6,
            "周一": 0, "周二": 1, "周三": 2, "周四": 3, "周五": 4, "周六": 5, "周日": 6}
REASONS_ZH = {"no_time": "本月时间不够", "unreachable": "无法步行到达", "time_window": "时间窗无法满足",
              "capacity": "超出容量"}
STARTS = ("depot", "auxiliary")
ENDS = ("start", "depot")


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
    seconds, seed, engine : search per group (seconds), seed, ``pyvrp`` or ``ortools``.
        With PyVRP ``seconds`` is turned into an iteration limit
        (``planner.month.ITERATIONS_PER_SECOND`` a second), so the plan depends only on the
        data and the seed, with a wall-clock guard of ``4 x seconds + 10`` s (a group that hits
        it gets a note: its plan may differ on a re-run).  With OR-Tools it is a time limit.
    iterations : int, optional
        An explicit iteration limit per phase of each group's search (PyVRP; OR-Tools:
        solutions) instead of the derived one; ``seconds`` is then the time limit.
    holidays : path, optional
        A ``date,type`` CSV (休/班) for years the installed holiday data does not cover.
    start : str
        Where each session starts: ``depot`` (the village committee office, default) or
        ``auxiliary`` (the group's auxiliary member's home: the centre of the households of the
        roster's home area, snapped to the walking network; the office when it is unknown).
    end : str
        Where each session ends: ``start`` (back where it started, default) or ``depot``.
        The plan and its times use it; the GeoJSON/GPX exports still draw the way back to the
        start point (``geo.routes.RouteSpec`` has a single depot).
    outposts : bool
        When at least ``planner.month.OUTPOST_MIN_HOUSEHOLDS`` due households of a group are
        too far to walk to from the start within a session (a hamlet up the mountain), start a
        share of the group's sessions at an outpost among them (``planner.month.choose_outpost``;
        the team gets there by car or bus).  Default True.
    workers : int, optional
        Processes planning villages in parallel (each village's groups one after the other in
        one process); None: the usable cores; 1: serial, in this process.  The plan does not
        depend on it (with PyVRP, exactly the same).
    executor : str, optional
        ``local`` (processes on this machine) or ``dask`` (a Dask cluster, see
        :mod:`api.parallel`); default ``ZHUDIAN_EXECUTOR``, else ``local``.
    address : str, optional
        Scheduler of an existing Dask cluster (default ``ZHUDIAN_DASK_SCHEDULER``; none: a local
        cluster of ``workers`` processes).
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
    iterations: int | None = None
    start: str = "depot"
    end: str = "start"
    outposts: bool = True
    workers: int | None = None
    executor: str | None = None
    address: str | None = None

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
        if self.iterations is not None and self.iterations < 1:
            raise ValueError("--iterations 必须大于 0")
        if self.start not in STARTS:
            raise ValueError(f"--start 应为 depot (村委会) 或 auxiliary (辅助成员家) (收到 {self.start!r})")
        if self.end not in ENDS:
            raise ValueError(f"--end 应为 start (回到出发点) 或 depot (村委会) (收到 {self.end!r})")
        if self.workers is not None and self.workers < 1:
            raise ValueError("--workers 必须大于 0")
        from api.parallel import executor_from_env

        self.executor, self.address = executor_from_env(self.executor, self.address)


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


def plan_steps(db: str | Path, req: PlanRequest, *, out: str | Path | None = None) -> int:
    """How many progress steps :func:`run_plan` will make: one per group with a zone in the
    requested villages, plus one for writing the routes. Never raises (12 when unknown)."""
    try:
        engine = store.open_store(db, create=False)
    except Exception:  # noqa: BLE001 - run_plan reports the problem
        return 12
    try:
        zoned = plans.zoned_villages(engine)
        n = sum(k for v, k in zoned.items() if not req.villages or v in set(req.villages))
        return max(1, n + (out is not None))
    except Exception:  # noqa: BLE001
        return 12
    finally:
        engine.dispose()


def run_plan(db: str | Path, req: PlanRequest, *, progress: Callable[[str], None] | None = None,
             out: str | Path | None = None) -> dict:
    """Plan one month for every group of the requested villages; store it; write routes.

    Each village is one task (:func:`plan_task`): it reads the village from the store, builds its
    groups' instances, solves them one after the other, stores one month plan per group and
    writes the groups' GPX files.  Tasks run in this process (``req.workers`` 1), in
    ``req.workers`` processes, or on a Dask cluster (``req.executor``), largest villages first.
    A village whose task fails is reported in ``failed`` and the others are kept.  ``progress``
    is called once per group as its village finishes (and once before writing the routes).

    Returns
    -------
    dict
        ``{"month", "groups": [{"group", "zone", "village", "start", "end", "sessions": [...]}],
        "unplanned": [{"household", "group", "reason", "reason_text"}],
        "projected_year_end_coverage": {zone: share}, "notes": [...],
        "failed": [{"village", "error"}]}`` as in the issue, villages in the store's order;
        ``start``/``end`` are ``{"kind": "depot" | "auxiliary_home", "lon", "lat"}`` (plus
        ``area``, and ``note`` when the auxiliary's home was asked for but the office is used).
        The same for any ``workers`` and executor.

    Raises
    ------
    geo.errors.InputError
        For an unknown village or a village without zones (nothing is written).
    ValueError
        For holiday data missing the planned year (message says how to fix it), or malformed
        planner input.
    """
    from api.parallel import Task, run_tasks, usable_cores

    step = progress or (lambda _m: None)
    _workday_function(req)(dt.date(req.year, req.mon, 1))  # fail early, with the message, if the year is missing
    engine = store.open_store(db, create=False)
    try:
        villages = store.load_villages(engine)
        if req.villages:
            unknown = [v for v in req.villages if v not in set(villages["village_id"])]
            if unknown:
                raise InputError([Problem("--village", v, "数据库中没有这个行政村", "检查行政村编号") for v in unknown])
            villages = villages[villages["village_id"].isin(req.villages)]
        zoned = plans.zoned_villages(engine)
        todo = [vid for vid in villages["village_id"] if vid in zoned]
        problems = [Problem("--village", vid, "该村还没有分片", "先运行 zhudian zone 为该村分片")
                    for vid in villages["village_id"] if req.villages and vid not in zoned]
        if not todo and not problems:
            problems.append(Problem("", "", "数据库中还没有任何村的分片, 无法安排走访",
                                    "先运行 zhudian zone DB --roster 花名册.csv (或 --groups N) 为各村分片"))
        if problems:
            raise InputError(problems)
        sizes = store.household_counts(engine)
    finally:
        engine.dispose()
    routes_dir = None if out is None else str(out)
    if routes_dir is not None:
        Path(routes_dir).mkdir(parents=True, exist_ok=True)
    tasks = (Task(vid, plan_task, (str(db), vid, req, routes_dir))
             for vid in sorted(todo, key=lambda v: -sizes.get(v, 0)))  # largest first
    workers = max(1, min(req.workers or usable_cores(), len(todo)))

    def told(o) -> None:
        for gid in (o.value["group_ids"] if o.ok else [o.key]):
            step(f"已排好 {gid}")

    outcomes = {o.key: o for o in run_tasks(tasks, workers=workers, executor=req.executor,
                                            address=req.address, on_outcome=told)}
    store.checkpoint(db)  # the workers' writes in the .db file itself
    report: dict = {"month": req.month, "groups": [], "unplanned": [], "projected_year_end_coverage": {},
                    "notes": [], "failed": []}
    features: list = []
    for vid in todo:
        o = outcomes[vid]
        if not o.ok:
            report["failed"].append({"village": vid, "error": o.error})
            report["notes"].append(f"{vid}: 计算出错, 该村本月未排 (其他村的计划已保存): {o.error}")
            continue
        part = o.value
        for key in ("groups", "unplanned", "notes"):
            report[key].extend(part[key])
        report["projected_year_end_coverage"].update(part["projected_year_end_coverage"])
        features.extend(part["features"])
    if out is not None and features:
        from geo.atomic import write_atomic

        step("写出路线 (GeoJSON, GPX)")
        data = json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False, allow_nan=False)
        write_atomic(Path(out) / f"routes-{req.month}.geojson", data.encode("utf-8"))
    return report


def plan_task(db: str, village_id: str, req: PlanRequest, routes_dir: str | None) -> dict:
    """Plan one village's month (one task of :func:`run_plan`): build its groups' instances, solve
    them in turn, store one month plan per group and, with ``routes_dir``, write each group's GPX.

    Returns
    -------
    dict
        ``group_ids``, and the village's share of the report: ``groups``, ``unplanned``,
        ``projected_year_end_coverage``, ``notes`` and ``features`` (its routes' GeoJSON features).
    """
    from api.parallel import task_store

    rules = SessionRules(stationing_weekday=WEEKDAYS[req.stationing_day.lower()],
                         evenings_per_week=req.evenings_per_week)
    mrules = MonthRules(service_min=req.service_min)
    with task_store(db) as engine:
        village = store.load_villages(engine, village_ids=[village_id]).iloc[0]
        zp = plans.load_zone_plan(engine, village_id)
        hh, depot, instances = month_instances(engine, village, zp, req, rules, mrules, _workday_function(req))
        results = [plan_group_month(inst.due, inst.sessions, **_solve_kwargs(inst, req)) for inst in instances]
        part: dict = {"group_ids": [inst.group_id for inst in instances], "groups": [], "unplanned": [],
                      "projected_year_end_coverage": {}, "notes": [], "features": []}
        specs = _finish_village(engine, village, hh, depot, instances, results, req, part)
        if routes_dir is not None and specs:
            part["features"] = _write_routes(engine, specs, Path(routes_dir), req.month)
    return part


def _solve_kwargs(inst: GroupInstance, req: PlanRequest) -> dict:
    """Keyword arguments of :func:`planner.month.plan_group_month` for one group."""
    return dict(states=inst.states, month=req.mon, duration_s=inst.duration_s, distance_m=inst.distance_m,
                seconds=req.seconds, seed=req.seed, iterations=req.iterations, engine=req.engine,
                n_depots=inst.n_depots, end_depot=inst.end_depot)


@dataclass(frozen=True)
class StartPoint:
    """Where a group's sessions start (or end).

    ``kind`` is ``depot`` (the village committee office) or ``auxiliary_home`` (the centre of the
    households of the auxiliary member's home area, snapped to the nearest road); ``lon``/``lat``
    in WGS84 degrees; ``area`` the home area's id; ``note`` says (in Chinese) why the office is
    used when the auxiliary member's home was asked for.
    """

    kind: str
    lon: float
    lat: float
    area: str | None = None
    note: str | None = None
    label: str | None = None
    household: str | None = None
    """For an outpost: the household at whose place it is (the team comes by car)."""

    def as_json(self) -> dict:
        d = {"kind": self.kind, "lon": round(self.lon, 7), "lat": round(self.lat, 7)}
        for key in ("area", "label", "household", "note"):
            if getattr(self, key) is not None:
                d[key] = getattr(self, key)
        return d

    def stored(self) -> SessionStart:
        """As stored with each session (what the sheets and maps draw)."""
        return SessionStart(kind=self.kind, lon=self.lon, lat=self.lat, label=self.label or self.area)


@dataclass
class GroupInstance:
    """One group's month as the planner sees it: its households (positions in the village's
    household table), their states, the sessions, the due list and the walking matrices
    (seconds, metres) over [start] + households, or [start, end] + households when the sessions
    end elsewhere (``n_depots`` = 2, ``end_depot`` = 1)."""

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
    start: StartPoint | None = None
    end: StartPoint | None = None
    n_depots: int = 1
    end_depot: int = 0
    outposts: list[StartPoint] = field(default_factory=list)
    """Where the sessions with ``Session.depot`` > 0 start and end: outpost ``j`` is row
    ``n_depots - len(outposts) + j``."""
    far: int = 0
    """Due households out of walking reach of ``start`` within a session."""

    def start_of(self, session: Session) -> StartPoint | None:
        """Where ``session`` starts: an outpost, or the group's start."""
        if session.depot and self.outposts:
            return self.outposts[session.depot - (self.n_depots - len(self.outposts))]
        return self.start


def _auxiliary_homes(engine, vid: str, hh, groups: dict, people: dict,
                     zone_groups: list[str]) -> dict[str, tuple[str, float, float] | str]:
    """Per group: (home area id, lon, lat) of the centre of its auxiliary's home area
    (the mean of the area's households, else the area's representative point), or a Chinese
    note why there is none."""
    out: dict[str, tuple[str, float, float] | str] = {}
    areas = None
    for gid in zone_groups:
        g = groups.get(gid)
        aux = people.get(g.auxiliary) if g is not None and g.auxiliary else None
        if aux is None:
            out[gid] = "该组没有辅助成员, 从村委会出发"
            continue
        home = aux.home_area
        if not home:
            out[gid] = f"辅助成员 {aux.name} 的居住片区未填写, 从村委会出发"
            continue
        inside = hh[hh["area_id"].astype(str) == str(home)]
        if len(inside):
            out[gid] = (str(home), float(inside.geometry.x.mean()), float(inside.geometry.y.mean()))
            continue
        if areas is None:
            areas = store.load_areas(engine, village_ids=[vid])
        match = areas[(areas["area_id"].astype(str) == str(home)) | (areas["name"].astype(str) == str(home))]
        if len(match):
            p = match.geometry.iloc[0].representative_point()
            out[gid] = (str(match["area_id"].iloc[0]), float(p.x), float(p.y))
        else:
            out[gid] = f"辅助成员 {aux.name} 的居住片区 {home} 不在本村, 从村委会出发"
    return out


def month_instances(engine, village, zp, req: PlanRequest, rules: SessionRules, mrules: MonthRules,
                    is_workday) -> tuple:
    """Build every group's month instance of one village (``run_plan`` and ``bench/month.py``).

    With ``req.start == "auxiliary"`` each group's sessions start at its auxiliary member's home
    (see :class:`StartPoint`); the walking matrices are computed once per village over
    [depot] + the distinct homes + the village's households, on the roads near the village.

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
    groups = {g.group_id: g for g in plans.load_groups(engine, vid)}
    homes: dict[str, tuple[str, float, float] | str] = {}
    if req.start == "auxiliary":
        people = {p.member_id: p for p in plans.load_people(engine, vid)}
        homes = _auxiliary_homes(engine, vid, hh, groups, people, [z.group_id for z in zp.zones])
    home_pts = sorted({(h[1], h[2]) for h in homes.values() if isinstance(h, tuple)})
    # walking times over [depot] + homes + all the village's households, on the roads near the village
    lon = np.r_[depot[0], [p[0] for p in home_pts], hh.geometry.x.to_numpy()]
    lat = np.r_[depot[1], [p[1] for p in home_pts], hh.geometry.y.to_numpy()]
    crs = utm_crs(lon, lat)
    pts = gpd.GeoSeries(gpd.points_from_xy(lon, lat), crs="EPSG:4326").to_crs(crs)
    xy = np.column_stack([pts.x.to_numpy(), pts.y.to_numpy()])
    b = (lon.min() - 0.01, lat.min() - 0.01, lon.max() + 0.01, lat.max() + 0.01)
    roads = store.load_roads(engine, bbox=b)
    walking = WalkingParams()
    network = WalkNetwork.from_lines(roads.to_crs(crs).geometry.values, params=walking) if len(roads) else None
    k = len(home_pts)
    home_lonlat = list(home_pts)
    if k and network is not None and network.n_edges:
        snapped = network.snap(xy[1:1 + k], max_snap_m=math.inf)  # a home is on a road
        ok = snapped.edge >= 0
        xy[1:1 + k][ok] = snapped.xy[ok]
        back = gpd.GeoSeries(gpd.points_from_xy(xy[1:1 + k, 0], xy[1:1 + k, 1]), crs=crs).to_crs("EPSG:4326")
        home_lonlat = list(zip(back.x.tolist(), back.y.tolist()))
    tm = travel_matrices(xy, network, params=walking)
    row_of_home = {p: 1 + j for j, p in enumerate(home_pts)}
    visits = plans.visit_states(engine, vid, req.year)
    feedback = feedback_due(engine, vid)  # a problem closed: tell the household (follow_up)
    leave = plans.load_leave(engine, vid)
    office = StartPoint("depot", depot[0], depot[1])
    hids = hh["household_id"].tolist()
    tag_lists = [tuple(t for t in str(x or "").split(",") if t) for x in hh["tags"].tolist()]
    area_table = store.load_areas(engine, village_ids=[vid])
    area_names = {str(a): str(n) for a, n in zip(area_table["area_id"], area_table["name"]) if n}
    instances = []
    for z in zp.zones:
        idx = np.array([pos[h] for h in z.household_ids if h in pos], dtype=np.int64)
        if not len(idx):
            continue
        states = []
        for i in idx.tolist():
            st = visits.get(hids[i], {})
            states.append(HouseholdState(visits_this_year=st.get("visits_this_year", 0),
                                         last_visit=st.get("last_visit"), last_outcome=st.get("last_outcome"),
                                         tags=tag_lists[i], follow_up=hids[i] in feedback))
        g = groups.get(z.group_id)
        group_people = [*g.members, *([g.auxiliary] if g.auxiliary else [])] if g is not None else []
        sessions = month_sessions(req.year, req.mon, rules=rules, is_workday=is_workday,
                                  on_leave=lambda d, gp=group_people: sum(
                                      1 for m in gp if any(a <= d <= b for a, b in leave.get(m, ()))))
        due = select_due(states, year=req.year, month=req.mon, rules=mrules)
        home = homes.get(z.group_id)
        if isinstance(home, tuple):
            r = row_of_home[(home[1], home[2])]
            hl = home_lonlat[r - 1]
            start = StartPoint("auxiliary_home", hl[0], hl[1], area=home[0], label=area_names.get(str(home[0])))
        else:
            r = 0
            start = office if home is None else StartPoint("depot", depot[0], depot[1], note=home)
        if req.end == "depot" and r != 0:
            rows, end, n_depots, end_depot = [r, 0], office, 2, 1
        else:
            rows, end, n_depots, end_depot = [r], start, 1, 0
        sub = np.r_[rows, idx + 1 + k]
        dur, dist = tm.time_s[np.ix_(sub, sub)], tm.distance_m[np.ix_(sub, sub)]
        outposts: list[StartPoint] = []
        far = 0
        while req.outposts and len(outposts) < MAX_OUTPOSTS:
            rows_before = n_depots - len(outposts)
            choice = choose_outpost(due, sessions, dur, dist, n_depots=n_depots, end_depot=end_depot,
                                    outposts=range(rows_before, n_depots))
            if choice is None:
                break
            i = int(idx[choice.household])
            area = str(hh["area_id"].iloc[i])
            outposts.append(StartPoint("outpost", float(hh.geometry.x.iloc[i]), float(hh.geometry.y.iloc[i]),
                                       area=area, label=area_names.get(area) or area, household=hids[i]))
            far = far or len(choice.far)
            # the outpost is the household's own place: its row and column, once more, as a start
            sub = np.r_[np.arange(n_depots), n_depots + choice.household, np.arange(n_depots, len(dur))]
            dur, dist = dur[np.ix_(sub, sub)], dist[np.ix_(sub, sub)]
            sessions = outpost_sessions(sessions, len(choice.covered) / len(due), n_depots)
            n_depots += 1
        instances.append(GroupInstance(z.group_id, z.label, group_people, idx, states, sessions, due,
                                       dur, dist, start=start, end=end, n_depots=n_depots,
                                       end_depot=end_depot, outposts=outposts, far=far))
    return hh, depot, instances


def _finish_village(engine, village, hh, depot: tuple[float, float], instances: list[GroupInstance],
                    results: list[GroupMonth], req: PlanRequest, report: dict) -> list:
    """Add one village's solved groups to the report, store their plans (one month plan per
    group) and return their (group id, RouteSpec) pairs."""
    from geo.routes import RouteSpec, RouteStop

    vid = village["village_id"]
    hids = hh["household_id"].tolist()
    pos = {h: i for i, h in enumerate(hids)}
    lon, lat = hh.geometry.x.to_numpy(), hh.geometry.y.to_numpy()
    labels = hh["address"].tolist()
    people = {p.member_id: p for p in plans.load_people(engine, vid)}
    specs = []
    for inst, gm in zip(instances, results):
        idx = inst.idx
        group_people = inst.people
        start = inst.start or StartPoint("depot", *depot)
        end = inst.end or start
        if start.note:
            report["notes"].append(f"{inst.group_id}: {start.note}")
        if inst.outposts:
            base = inst.n_depots - len(inst.outposts)
            where = "、".join(f"{o.label} {sum(1 for s in gm.sessions if s.depot == base + j)} 个"
                             for j, o in enumerate(inst.outposts))
            report["notes"].append(
                f"{inst.group_id}: {inst.far} 户离{'村委会' if start.kind == 'depot' else '出发点'}太远 "
                f"(一个时段内走不到), 本月部分时段改从外点出发 (需乘车前往): {where}")
        if gm.routing.stopped_on_time:
            report["notes"].append(f"{inst.group_id}: 计算机太忙或太慢, 求解在时间上限前没有做完规定的迭代次数, "
                                   "再次运行可能得到不同的计划 (可加大 --seconds, 或减少 --workers)")
        zone_label = inst.zone_label
        g_sessions = []
        stored_sessions = []
        by_vehicle = {r.vehicle: r for r in gm.routing.routes}
        for k, s in enumerate(gm.sessions):
            r = by_vehicle.get(k)
            point = inst.start_of(s) or start
            stops = []
            if r is not None:
                for vis in r.visits:
                    hid = hids[int(idx[gm.due[vis.client].household])]
                    stops.append({"household": hid, "arrive": _hhmm(vis.arrive_s), "depart": _hhmm(vis.depart_s),
                                  "priority": gm.due[vis.client].priority})
            g_sessions.append({
                "date": s.date.isoformat(), "kind": s.kind, "part": s.part,
                "start": f"{s.start_min // 60:02d}:{s.start_min % 60:02d}",
                "end": f"{s.end_min // 60:02d}:{s.end_min % 60:02d}",
                "walk_m": int(r.distance_m) if r is not None else 0, "start_point": point.as_json(),
                "stops": stops,
            })
            stored_sessions.append({
                "date": s.date, "kind": s.kind, "start": dt.time(s.start_min // 60, s.start_min % 60),
                "end": dt.time(min(s.end_min, 1439) // 60, min(s.end_min, 1439) % 60), "budget_min": float(s.minutes),
                "start_point": point.stored(),
                "stops": [{"household": st["household"], "arrive": _time(v.arrive_s), "depart": _time(v.depart_s)}
                          for st, v in zip(stops, r.visits if r is not None else [])],
            })
            if stops:
                rows = [pos[st["household"]] for st in stops]
                specs.append((inst.group_id, RouteSpec(
                    route_id=f"{inst.group_id}-{s.date.isoformat()}-{s.kind}{('-' + s.part) if s.part else ''}",
                    name=f"{inst.group_id} {s.label}", date=s.date.isoformat(), depot_lon=point.lon,
                    depot_lat=point.lat,
                    stops=[RouteStop(household_id=st["household"], lon=float(lon[r]), lat=float(lat[r]),
                                     arrive=st["arrive"], depart=st["depart"], seq=n + 1, label=labels[r])
                           for n, (st, r) in enumerate(zip(stops, rows))],
                    start=g_sessions[-1]["start"], end=g_sessions[-1]["end"])))
        report["groups"].append({"group": inst.group_id, "zone": zone_label, "village": vid,
                                 "members": [people[m].name for m in group_people if m in people],
                                 "start": start.as_json(), "end": end.as_json(),
                                 "outposts": [o.as_json() for o in inst.outposts],
                                 "due": len(gm.due), "planned": sum(len(s["stops"]) for s in g_sessions),
                                 "sessions": g_sessions})
        for h, reason in gm.unplanned:
            report["unplanned"].append({"household": hids[int(idx[h])], "group": inst.group_id,
                                        "reason": reason, "reason_text": REASONS_ZH.get(reason, reason)})
        report["projected_year_end_coverage"][zone_label] = round(float(gm.projected_year_end_coverage), 4)
        plans.save_month_plan(engine, vid, dt.date(req.year, req.mon, 1),
                              [{"group": inst.group_id, "sessions": stored_sessions}],
                              params={"month": req.month, "stationing_day": req.stationing_day,
                                      "evenings_per_week": req.evenings_per_week, "service_min": req.service_min,
                                      "seconds": req.seconds, "iterations": req.iterations, "engine": req.engine,
                                      "group": inst.group_id, "start": start.as_json(), "end": end.as_json()},
                              seed=req.seed, solver_status=gm.routing.status,
                              scores={"due": len(gm.due), "unplanned": len(gm.unplanned),
                                      "coverage": gm.projected_year_end_coverage,
                                      "distance_m": int(gm.routing.distance_m)})
    return specs


def _write_routes(engine, grouped: list, out: Path, month: str) -> list[dict]:
    """One GPX file per group (for phones) of one village's routes; returns their GeoJSON
    features (``run_plan`` writes every village's in one file). ``grouped`` holds
    (group id, RouteSpec) pairs."""
    from geo.routes import geojson_dict, routes_crs, write_gpx

    specs = [spec for _, spec in grouped]
    lons = [s.depot_lon for s in specs] + [st.lon for s in specs for st in s.stops]
    lats = [s.depot_lat for s in specs] + [st.lat for s in specs for st in s.stops]
    roads = store.load_roads(engine, bbox=(min(lons) - 0.01, min(lats) - 0.01, max(lons) + 0.01, max(lats) + 0.01))
    crs = routes_crs(specs)
    network = WalkNetwork.from_lines(roads.to_crs(crs).geometry.values) if len(roads) else None
    by_group: dict[str, list] = {}
    for group, spec in grouped:
        by_group.setdefault(group, []).append(spec)
    for group, group_specs in by_group.items():
        write_gpx(group_specs, roads, out / f"{group}-{month}.gpx", network=network, crs=crs)
    return geojson_dict(specs, roads, network=network, crs=crs)["features"]
