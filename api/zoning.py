"""Zoning job: groups from the roster, one zoning problem per village, zones stored and drawn.

The CLI (``zhudian zone``) and, later, the HTTP API call :func:`run_zoning`; this module only
glues ``geo`` (projection, walking network, adjacency, outlines), ``planner`` (groups, zoning)
and the store together.
"""

from __future__ import annotations

import logging
import math
import os
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from api import store
from api.store import plans
from geo.adjacency import household_graph
from geo.crs import utm_crs
from geo.errors import InputError, Problem
from geo.network import WalkingParams, WalkNetwork, travel_matrices
from planner.groups import Group, assign_auxiliaries_to_zones, form_groups, people_from_records, placeholder_groups
from planner.zones import ZoningParams, ZoningProblem, ZoningResult
from planner.zoning import solve_zoning, tradeoff

logger = logging.getLogger(__name__)

Progress = Callable[[str], None]
TRADEOFF_BANDS = (0.02, 0.05, 0.10, 0.15)


@dataclass
class ZoneRequest:
    """What to zone and how.

    Attributes
    ----------
    villages : list of str, optional
        Village ids to zone (default: every village with households).
    groups : int, optional
        Groups per village when there is no roster (placeholder groups).
    roster : path, optional
        A roster file (CSV/XLSX); its people and groups replace the stored ones of its villages.
    tolerance : float
        Balance band, 0.05 = each zone within ±5% of the village mean workload.
    locks : list of str
        ``AREA=GROUP`` or ``HOUSEHOLD=GROUP``; GROUP is a group id or its number in the village.
    seconds, seed : solver time limit per village (s) and random seed.
    service_min : float
        Visit minutes per household.
    fresh : bool
        Ignore the previous zones (by default re-zoning moves as few households as possible).
    tradeoff : bool
        Also zone each village at ±2/5/10/15% and report the splits each band needs.
    walking : WalkingParams
    """

    villages: Sequence[str] | None = None
    groups: int | None = None
    roster: str | Path | None = None
    tolerance: float = 0.05
    locks: Sequence[str] = ()
    seconds: float = 5.0
    seed: int = 0
    service_min: float = 10.0
    fresh: bool = False
    tradeoff: bool = False
    walking: WalkingParams = field(default_factory=WalkingParams)

    def __post_init__(self) -> None:
        if self.groups is not None and self.groups < 1:
            raise ValueError("--groups 必须至少为 1")
        if not 0 <= self.tolerance < 1:
            raise ValueError("--tolerance 应在 0 到 1 之间, 如 0.05 表示 ±5%")
        if self.seconds <= 0:
            raise ValueError("--seconds 必须大于 0")
        if self.service_min <= 0:
            raise ValueError("--service-min 必须大于 0")


@dataclass
class VillageZoning:
    """The outcome for one village: the result, its problem and the stored version."""

    village_id: str
    name: str
    groups: list[Group]
    problem: ZoningProblem | None
    result: ZoningResult
    households: gpd.GeoDataFrame
    version: int | None = None
    outlines: gpd.GeoDataFrame | None = None
    tradeoff: list[dict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------------------------


def _groups_for(engine, req: ZoneRequest, village_id: str, roster_people: dict | None,
                notes: list[str]) -> list[Group]:
    if roster_people is not None and village_id in roster_people:
        plan = form_groups(roster_people[village_id], village_id=village_id)
        notes.extend(plan.notes)
        plans.save_groups(engine, village_id, plan.groups)
        return plan.groups
    if req.groups is not None:
        groups = placeholder_groups(village_id, req.groups).groups
        plans.save_groups(engine, village_id, groups)
        return groups
    return plans.load_groups(engine, village_id)


def build_problem(households: gpd.GeoDataFrame, areas: gpd.GeoDataFrame, roads: gpd.GeoDataFrame | None,
                  n_groups: int, *, service_min: float = 10.0,
                  walking: WalkingParams = WalkingParams()) -> ZoningProblem:
    """Turn one village's stored layers into a zoning problem (metres, minutes).

    Walking distances follow the roads when there are any near the village, else straight line
    × detour factor.
    """
    lon = households.geometry.x.to_numpy()
    lat = households.geometry.y.to_numpy()
    crs = utm_crs(lon, lat)
    pts = households.to_crs(crs)
    xy = np.column_stack([pts.geometry.x.to_numpy(), pts.geometry.y.to_numpy()])
    network = None
    if roads is not None and len(roads):
        network = WalkNetwork.from_lines(roads.to_crs(crs).geometry.values, params=walking)
    walk = travel_matrices(xy, network, params=walking).distance_m
    edges = household_graph(xy, walk, network=network)
    unit_ids = list(dict.fromkeys(households["area_id"].tolist()))
    kind_of = dict(zip(areas["area_id"], areas["kind"]))
    unit_index = {u: i for i, u in enumerate(unit_ids)}
    return ZoningProblem(
        household_ids=households["household_id"].tolist(),
        unit_of=np.array([unit_index[a] for a in households["area_id"]], dtype=np.int64),
        unit_ids=unit_ids, unit_kinds=[kind_of.get(u, "natural_village") for u in unit_ids],
        service_min=np.full(len(households), float(service_min)), walk_m=walk, edges=edges, xy=xy,
        n_groups=n_groups, walk_speed_m_per_min=walking.speed_kmh * 1000 / 60,
    )


def _parse_locks(locks: Sequence[str], *, groups: list[Group], village_areas: set[str],
                 village_households: dict[str, int], unit_index: dict[str, int]) -> tuple[dict, dict, list[Problem]]:
    unit_locks: dict[int, int] = {}
    hh_locks: dict[int, int] = {}
    problems: list[Problem] = []
    gpos = {g.group_id: i for i, g in enumerate(groups)}
    for text in locks:
        if "=" not in text:
            problems.append(Problem("--lock", text, "格式应为 片区编号=小组", "如 --lock V003=2 或 --lock V003=990101001001-G2"))
            continue
        target, grp = (t.strip() for t in text.split("=", 1))
        if target not in village_areas and target not in village_households:
            continue  # another village's area or household
        if grp in gpos:
            g = gpos[grp]
        elif grp.isdigit() and 1 <= int(grp) <= len(groups):
            g = int(grp) - 1
        else:
            problems.append(Problem("--lock", text, f"没有小组 {grp}",
                                    f"写小组编号 ({', '.join(gpos)}) 或序号 1-{len(groups)}"))
            continue
        if target in village_areas:
            if target in unit_index:
                unit_locks[unit_index[target]] = g
        else:
            hh_locks[village_households[target]] = g
    return unit_locks, hh_locks, problems


def zone_village(engine, village: pd.Series, groups: list[Group], req: ZoneRequest,
                 notes: list[str]) -> VillageZoning:
    """Zone one village and store the plan (when it succeeds)."""
    vid = village["village_id"]
    hh = store.load_households(engine, village_ids=[vid]).reset_index(drop=True)
    areas = store.load_areas(engine, village_ids=[vid])
    empty = ZoningResult(status="invalid", assignment=np.full(len(hh), -1), zones=[], splits=[],
                         balance=math.nan, cv=math.nan, max_deviation=math.nan, contiguous=False,
                         excess_pieces=0, moved=0, reasons=[], solver_status="", seconds=0.0, params={})
    if not groups:
        empty.reasons.append("该村没有小组: 请用 --roster 导入花名册, 或用 --groups N 指定小组数")
        return VillageZoning(vid, village["name"], groups, None, empty, hh, notes=notes)
    if not len(hh):
        empty.reasons.append("该村没有住户")
        return VillageZoning(vid, village["name"], groups, None, empty, hh, notes=notes)
    b = hh.total_bounds
    pad = 0.01  # ~1 km of roads around the village
    roads = store.load_roads(engine, bbox=(b[0] - pad, b[1] - pad, b[2] + pad, b[3] + pad))
    problem = build_problem(hh, areas, roads, len(groups), service_min=req.service_min, walking=req.walking)
    unit_index = {u: i for i, u in enumerate(problem.unit_ids)}
    unit_locks, hh_locks, problems = _parse_locks(
        req.locks, groups=groups, village_areas=set(areas["area_id"]),
        village_households={h: i for i, h in enumerate(problem.household_ids)}, unit_index=unit_index)
    if problems:
        raise InputError(problems)
    previous = None
    if not req.fresh:
        stored = plans.load_zone_plan(engine, vid)
        if stored is not None:
            gpos = {g.group_id: i for i, g in enumerate(groups)}
            group_of = stored.group_of()
            previous = np.array([gpos.get(group_of.get(h), -1) for h in problem.household_ids], dtype=np.int64)
            if not (previous >= 0).any():
                previous = None
    params = ZoningParams(tolerance=req.tolerance, seconds=req.seconds, seed=req.seed,
                          unit_locks=unit_locks, household_locks=hh_locks, previous=previous)
    result = solve_zoning(problem, params)
    vz = VillageZoning(vid, village["name"], groups, problem, result, hh, notes=notes)
    if result.ok and previous is None and not unit_locks and not hh_locks:
        _match_auxiliaries(vz, engine)
    if req.tradeoff:
        for r in tradeoff(problem, TRADEOFF_BANDS, params=replace(params, previous=None)):
            vz.tradeoff.append({"tolerance": r.params["tolerance"], "status": r.status,
                                "excess_pieces": r.excess_pieces, "splits": len(r.splits),
                                "balance": _num(r.balance), "max_deviation": _num(r.max_deviation)})
    if result.ok:
        from geo.outlines import zone_outlines

        labels = result.assignment
        outl = zone_outlines(hh, labels, areas=areas[areas.geometry.notna()])
        vz.outlines = outl
        by_zone = dict(zip(outl["zone"], outl.geometry))
        records = [plans.ZoneRecord(label=_zone_label(vid, z.index), group_id=groups[z.index].group_id,
                                    workload_min=z.workload_min,
                                    household_ids=[problem.household_ids[i] for i in z.households],
                                    outline=by_zone.get(z.index)) for z in result.zones]
        scores = {"balance": _num(result.balance), "cv": _num(result.cv),
                  "max_deviation": _num(result.max_deviation), "contiguous": result.contiguous,
                  "excess_pieces": result.excess_pieces, "splits": len(result.splits), "moved": result.moved,
                  "seconds": round(result.seconds, 3)}
        vz.version = plans.save_zone_plan(engine, vid, records, params=result.params, seed=req.seed,
                                          solver_status=result.solver_status, scores=scores)
    return vz


def _match_auxiliaries(vz: VillageZoning, engine) -> None:
    """Give each group the zone where its auxiliary member lives, where possible."""
    people = {p.member_id: p for p in plans.load_people(engine, vz.village_id)}
    homes = {m: p.home_area for m, p in people.items() if p.home_area}
    if not homes:
        return
    zone_units = [{vz.problem.unit_ids[u] for u in z.units} for z in vz.result.zones]
    perm = assign_auxiliaries_to_zones(vz.groups, zone_units, homes)  # group i -> zone perm[i]
    relabel = np.empty(len(perm), dtype=np.int64)
    for g, z in enumerate(perm):
        relabel[z] = g
    r = vz.result
    r.assignment = relabel[r.assignment]
    r.zones = sorted((replace(z, index=int(relabel[z.index])) for z in r.zones), key=lambda z: z.index)
    r.splits = [replace(s, zones=tuple(sorted(int(relabel[z]) for z in s.zones))) for s in r.splits]


def _zone_label(village_id: str, index: int) -> str:
    return f"{village_id}-Z{index + 1}"


def _num(x: float) -> float | None:
    return None if x is None or (isinstance(x, float) and not math.isfinite(x)) else round(float(x), 4)


def village_json(vz: VillageZoning) -> dict:
    """The ``--json`` record of one village (issue's format, plus scores and reasons)."""
    r, p = vz.result, vz.problem
    area_names = {}
    zones = []
    if p is not None and r.ok:
        for z in r.zones:
            zones.append({
                "zone": _zone_label(vz.village_id, z.index), "group": vz.groups[z.index].group_id,
                "workload_min": round(z.workload_min, 1), "visit_min": round(z.service_min, 1),
                "walk_min": round(z.walk_min, 1), "contiguous": z.contiguous,
                "households": [p.household_ids[i] for i in z.households],
                "areas": [p.unit_ids[u] for u in z.units],
            })
    splits = []
    if p is not None:
        names = dict(zip(vz.households["area_id"], vz.households["area_id"]))
        area_names.update(names)
        for s in r.splits:
            splits.append({"area": p.unit_ids[s.unit], "zones": [_zone_label(vz.village_id, z) for z in s.zones],
                           "groups": [vz.groups[z].group_id for z in s.zones], "forced": s.forced,
                           "reason": s.reason})
    return {
        "village": vz.village_id, "name": vz.name, "status": r.status, "balance": _num(r.balance),
        "cv": _num(r.cv), "max_deviation": _num(r.max_deviation), "contiguous": bool(r.contiguous),
        "excess_pieces": r.excess_pieces, "moved": r.moved, "splits": splits, "zones": zones,
        "reasons": r.reasons, "notes": vz.notes, "version": vz.version, "solver_status": r.solver_status,
        "seconds": round(r.seconds, 3), "params": r.params, "tradeoff": vz.tradeoff,
    }


def zone_steps(db: str | Path, req: ZoneRequest) -> int:
    """How many progress steps :func:`run_zoning` makes: one per village. Never raises (12 when
    the store cannot be read)."""
    try:
        engine = store.open_store(db, create=False)
    except Exception:  # noqa: BLE001 - run_zoning reports the problem
        return 12
    try:
        ids = store.load_villages(engine)["village_id"]
        return max(1, sum(1 for v in ids if not req.villages or v in set(req.villages)))
    except Exception:  # noqa: BLE001
        return 12
    finally:
        engine.dispose()


def run_zoning(db: str | Path, req: ZoneRequest, *, progress: Progress | None = None,
               out: str | Path | None = None, maps_dir: str | Path | None = None,
               lang: str = "zh", workers: int | None = 1, executor: str | None = None,
               address: str | None = None) -> dict:
    """Zone the requested villages of a store; store each plan; optionally write outlines and maps.

    Each village is one task (:func:`zone_task`) that reads its data from the store, zones it,
    stores its plan and draws its map: in this process (``workers=1``, the default), in
    ``workers`` processes (None: the usable cores), or on a Dask cluster (``executor="dask"``,
    see :mod:`api.parallel`).  The largest villages go first.  A village whose task fails is
    reported (``status`` ``"error"`` with the reason) and the others are kept.  ``progress`` is
    called once per finished village.

    Returns
    -------
    dict
        ``{"villages": [village_json, ...], "failed": [{"village", "error"}]}`` in the order of
        the store's villages.

    Raises
    ------
    geo.errors.InputError
        For a bad roster or lock, or an unknown village (nothing is written).
    FileNotFoundError
        When the store does not exist.
    ValueError
        For an unknown executor.
    """
    from api.parallel import Task, executor_from_env, run_tasks, usable_cores

    step = progress or (lambda _m: None)
    executor, address = executor_from_env(executor, address)
    engine = store.open_store(db, create=False)
    try:
        villages = all_villages = store.load_villages(engine)
        if req.villages:
            unknown = [v for v in req.villages if v not in set(villages["village_id"])]
            if unknown:
                raise InputError([Problem("--village", v, "数据库中没有这个行政村", "检查行政村编号") for v in unknown])
            villages = villages[villages["village_id"].isin(req.villages)]
        roster_people = None
        if req.roster is not None:
            roster_people = _load_roster(engine, req.roster, all_villages)
        notes: dict[str, list[str]] = {}
        for vid in villages["village_id"]:
            notes[vid] = []
            groups = _groups_for(engine, req, vid, roster_people, notes[vid])
            if req.locks:
                _check_locks(engine, vid, groups, req.locks)
        sizes = store.household_counts(engine)
    finally:
        engine.dispose()
    names = dict(zip(villages["village_id"], villages["name"]))
    order = sorted(names, key=lambda v: -sizes.get(v, 0))  # largest first: the pool ends together
    task_req = replace(req, roster=None, groups=None)  # the groups are stored now
    tasks = (Task(vid, zone_task, (str(db), vid, task_req, None if maps_dir is None else str(maps_dir), lang))
             for vid in order)
    n_workers = max(1, min(workers or usable_cores(), len(order)))
    outcomes = run_tasks(tasks, workers=n_workers, executor=executor, address=address,
                         on_outcome=lambda o: step(f"已分片: {names[o.key]}"))
    store.checkpoint(db)  # the workers' writes in the .db file itself
    by_key = {o.key: o for o in outcomes}
    report: dict = {"villages": [], "failed": []}
    frames = []
    for vid in villages["village_id"]:
        o = by_key[vid]
        if o.ok:
            record, frame = o.value
            record["notes"] = notes[vid] + record["notes"]
            if frame is not None:
                frames.append(frame)
        else:
            record = _failed_json(vid, names[vid], o.error, notes[vid])
            report["failed"].append({"village": vid, "error": o.error})
        report["villages"].append(record)
    if out is not None:
        _write_outlines(frames, Path(out))
    return report


def zone_task(db: str, village_id: str, req: ZoneRequest, maps_dir: str | None, lang: str) -> tuple:
    """Zone one village, store its plan and draw its map (one task of :func:`run_zoning`).

    Returns
    -------
    (dict, GeoDataFrame or None)
        The village's ``--json`` record and its zone outlines (for ``--out``).
    """
    from api.parallel import task_store

    with task_store(db) as engine:
        v = store.load_villages(engine, village_ids=[village_id]).iloc[0]
        vz = zone_village(engine, v, plans.load_groups(engine, village_id), req, [])
        if maps_dir is not None:
            write_zone_maps(engine, [vz], Path(maps_dir), lang=lang)
        return village_json(vz), _outline_frame(vz)


def _failed_json(vid: str, name: str, error: str, notes: list[str]) -> dict:
    return {"village": vid, "name": name, "status": "error", "balance": None, "cv": None,
            "max_deviation": None, "contiguous": False, "excess_pieces": 0, "moved": 0, "splits": [],
            "zones": [], "reasons": [f"计算出错, 该村未分片 (其他村的结果已保存): {error}"], "notes": notes,
            "version": None, "solver_status": "", "seconds": 0.0, "params": {}, "tradeoff": []}


def _check_locks(engine, vid: str, groups: list[Group], locks: Sequence[str]) -> None:
    """Raise InputError for a lock naming an unknown group (before any village is zoned)."""
    areas = store.load_areas(engine, village_ids=[vid])
    hh = store.load_households(engine, village_ids=[vid])
    unit_index = {u: i for i, u in enumerate(dict.fromkeys(hh["area_id"].tolist()))}
    _, _, problems = _parse_locks(locks, groups=groups, village_areas=set(areas["area_id"]),
                                  village_households={h: i for i, h in enumerate(hh["household_id"])},
                                  unit_index=unit_index)
    if problems:
        raise InputError(problems)


def _load_roster(engine, path: str | Path, villages: gpd.GeoDataFrame) -> dict:
    from geo.roster import read_roster, resolve_roster

    layer = read_roster(path)
    areas = store.load_areas(engine)
    layer = resolve_roster(layer, villages=pd.DataFrame(villages.drop(columns="geometry")),
                           areas=pd.DataFrame(areas.drop(columns="geometry")))
    people = people_from_records(layer.frame.to_dict("records"))
    leave = {str(r["member_id"]): list(r["leave"] or []) for r in layer.frame.to_dict("records")}
    plans.save_people(engine, people, leave=leave)
    by_village: dict[str, list] = {}
    for p in people:
        by_village.setdefault(p.village_id, []).append(p)
    return by_village


def _outline_frame(vz: VillageZoning) -> gpd.GeoDataFrame | None:
    """The village's zone outlines with the ``--out`` columns (None when it has no zones)."""
    if vz.outlines is None:
        return None
    f = vz.outlines.copy()
    f["village"] = vz.village_id
    f["group"] = [vz.groups[int(z)].group_id for z in f["zone"]]
    loads = {z.index: z.workload_min for z in vz.result.zones}
    f["workload_min"] = [round(loads[int(z)], 1) for z in f["zone"]]
    f["zone"] = [_zone_label(vz.village_id, int(z)) for z in f["zone"]]
    return f[["village", "zone", "group", "households", "workload_min", "geometry"]]


def _write_outlines(frames: list[gpd.GeoDataFrame], out: Path) -> None:
    if not frames:
        return
    gdf = gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), crs="EPSG:4326")
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.stem}-", suffix=out.suffix, dir=out.parent)
    os.close(fd)
    Path(tmp).unlink()
    try:
        gdf.to_file(tmp, driver="GeoJSON")
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_zone_maps(engine, results: list[VillageZoning], folder: Path, *, lang: str = "zh") -> list[Path]:
    """One offline zone map (HTML) per zoned village; returns the files written."""
    from maps.offline import save_html
    from maps.zones import zone_map

    folder.mkdir(parents=True, exist_ok=True)
    villages = store.load_villages(engine, village_ids=[vz.village_id for vz in results])
    written = []
    for vz in results:
        if vz.outlines is None:
            continue
        people = {p.member_id: p.name for p in plans.load_people(engine, vz.village_id)}
        zones = vz.outlines.copy()
        zones["group_id"] = [vz.groups[int(z)].group_id for z in zones["zone"]]
        zones["group_label"] = [f"第{int(z) + 1}组" if lang == "zh" else f"Group {int(z) + 1}" for z in zones["zone"]]
        zones["members"] = ["、".join(people.get(m, m) for m in (*vz.groups[int(z)].members,
                                                                 *( [vz.groups[int(z)].auxiliary] if vz.groups[int(z)].auxiliary else [])))
                            for z in zones["zone"]]
        loads = {z.index: z.workload_min for z in vz.result.zones}
        zones["workload_min"] = [loads[int(z)] for z in zones["zone"]]
        hh = vz.households.copy()
        hh["zone"] = vz.result.assignment
        areas = store.load_areas(engine, village_ids=[vz.village_id])
        split_ids = [vz.problem.unit_ids[s.unit] for s in vz.result.splits]
        b = hh.total_bounds
        roads = store.load_roads(engine, bbox=(b[0] - 0.003, b[1] - 0.003, b[2] + 0.003, b[3] + 0.003))
        m = zone_map(zones=zones, households=hh, areas=areas[areas.geometry.notna()],
                     villages=villages[villages["village_id"] == vz.village_id], roads=roads,
                     split_area_ids=split_ids, lang=lang)
        path = folder / f"{vz.village_id}.html"
        save_html(m, path)
        written.append(path)
    return written
