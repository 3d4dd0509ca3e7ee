"""Unannounced spot checks (暗访): ``zhudian spotcheck DB --date ...`` and ``zhudian spotcheck DB record FILE``.

Drawing a sample (:func:`draw_sample`, pure): the households eligible are those with a visit
reported as made (``met`` or ``refused``) in the ``weeks`` before the check day; the latest such
visit is the one checked.  Zones are the strata.  Each zone gets a weight

    w = 1 + 2 x (1 - visit rate this year) + 2 x not-home rate over the window

(low coverage or many not-home reports make a zone more suspect).  Villages are drawn without
replacement with probability proportional to the eligible-weighted mean weight of their zones;
within a drawn village the ``households`` are split over its zones in proportion to
w x eligible households (largest remainders, at most all of a zone's eligible households) and drawn
uniformly within each zone.  All draws come from ``numpy.random.default_rng(seed)``: the same
store, day and seed give the same sample.  Without ``--seed`` the seed is 128 random bits from
``os.urandom`` (unpredictable), printed and stored with the check so it can be reproduced.

The inspector's route in each village starts and ends at the village committee and is solved by
:func:`planner.routing.solve_routes` on the walking network (one session, every household required).
The checklist PDF (:func:`maps.review.checklist_pdf`) and a CSV form are written to ``--out``; the
filled form is recorded with :func:`run_record`, giving the verification rate per group and the LQAS
decision per zone (:func:`api.coverage.lqas_rule`) shown in the reports.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import logging
import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from api import store
from api.coverage import Period, household_figures, load_review_data, unit_figures
from api.store.visits import Confirmation, SpotItem, record_confirmations, save_spot_check
from geo.atomic import write_atomic
from geo.errors import InputError, Problem

logger = logging.getLogger(__name__)

CONFIRM = {"是": True, "确认": True, "yes": True, "y": True, "1": True, "true": True, "已走访": True,
           "否": False, "否认": False, "no": False, "n": False, "0": False, "false": False, "未走访": False,
           "无人": None, "不在家": None, "absent": None, "none": None}


@dataclass
class SpotCheckRequest:
    """A spot check to draw (see the module docstring)."""

    date: str
    villages: int = 3
    households: int = 20
    seed: int | None = None
    weeks: int = 4
    town: str | None = None

    def __post_init__(self) -> None:
        try:
            self.day = dt.date.fromisoformat(self.date)
        except ValueError:
            raise ValueError(f"--date 应为 YYYY-MM-DD, 如 2026-12-20 (收到 {self.date!r})") from None
        if self.villages < 1 or self.households < 1 or self.weeks < 1:
            raise ValueError("--villages、--households 和 --weeks 必须大于 0")
        if self.seed is None:
            self.seed = int.from_bytes(os.urandom(16), "big")
        if self.seed < 0:
            raise ValueError("--seed 必须是非负整数")


def zone_weight(visit_rate: float, not_home_rate: float) -> float:
    """The sampling weight of a zone: ``1 + 2 (1 - visit rate) + 2 not-home rate`` (NaN counts as 0 / 1)."""
    vr = 0.0 if visit_rate is None or not math.isfinite(visit_rate) else visit_rate
    nh = 0.0 if not_home_rate is None or not math.isfinite(not_home_rate) else not_home_rate
    return 1.0 + 2.0 * (1.0 - vr) + 2.0 * nh


def _largest_remainder(total: int, weights: np.ndarray, caps: np.ndarray) -> np.ndarray:
    """Integers summing to min(total, caps.sum()), proportional to ``weights``, each at most its cap."""
    out = np.zeros(len(weights), dtype=int)
    left = int(min(total, caps.sum()))
    active = caps > 0
    while left > 0 and active.any():
        w = np.where(active, weights, 0.0)
        share = w / w.sum() * left
        add = np.minimum(np.floor(share).astype(int), caps - out)
        if add.sum() == 0:
            order = np.argsort(-(share - np.floor(share)), kind="stable")
            for i in order:
                if active[i] and out[i] < caps[i]:
                    out[i] += 1
                    left -= 1
                    break
        else:
            out += add
            left -= int(add.sum())
        active = out < caps
    return out


def draw_sample(eligible: pd.DataFrame, zones: pd.DataFrame, *, n_villages: int, n_households: int,
                rng: np.random.Generator) -> pd.DataFrame:
    """The stratified, weighted sample (pure; see the module docstring).

    Parameters
    ----------
    eligible : DataFrame
        One row per eligible household: ``household_id``, ``village_id``, ``zone`` (and anything
        else, carried along), in a deterministic order.
    zones : DataFrame
        ``village_id``, ``zone``, ``visit_rate``, ``not_home_rate``.
    n_villages, n_households : villages to draw, households per village.
    rng : numpy Generator

    Returns
    -------
    DataFrame
        The rows of ``eligible`` drawn, village by village (in draw order), with ``weight``.
    """
    if not len(eligible):
        return eligible.assign(weight=pd.Series(dtype=float))
    w = {(v, z): zone_weight(r, n) for v, z, r, n in zip(zones["village_id"], zones["zone"], zones["visit_rate"],
                                                        zones["not_home_rate"])}
    el = eligible.assign(weight=[w.get((v, z), 1.0) for v, z in zip(eligible["village_id"], eligible["zone"])])
    per_village = el.groupby("village_id", sort=True)["weight"].mean()
    vids = per_village.index.to_numpy()
    k = min(n_villages, len(vids))
    p = per_village.to_numpy() / per_village.sum()
    chosen = rng.choice(len(vids), size=k, replace=False, p=p)
    parts = []
    for i in chosen:
        sub = el[el["village_id"] == vids[i]]
        strata = sub.groupby("zone", sort=True)
        names = list(strata.groups)
        counts = np.array([len(strata.get_group(z)) for z in names])
        zw = np.array([strata.get_group(z)["weight"].iloc[0] for z in names])
        alloc = _largest_remainder(n_households, zw * counts, counts)
        for z, n in zip(names, alloc):
            if n:
                g = strata.get_group(z)
                pick = np.sort(rng.choice(len(g), size=int(n), replace=False))
                parts.append(g.iloc[pick])
    return pd.concat(parts, ignore_index=True) if parts else el.iloc[:0]


def eligible_households(engine, day: dt.date, weeks: int, *, town: str | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(eligible households, zone statistics) for a check on ``day`` (see the module docstring)."""
    start = day - dt.timedelta(days=7 * weeks)
    end = day - dt.timedelta(days=1)
    data = load_review_data(engine, Period(start, end, "window", f"{start}..{end}"), town=town, visit_rows=True)
    hf = household_figures(data)
    zones = unit_figures(data, hf, "zone")
    v = data.visits
    v = v[v["outcome"].isin(("met", "refused")) & (v["date"] >= pd.Timestamp(start)) & (v["date"] <= pd.Timestamp(end))]
    last = v.sort_values(["date", "visit_id"]).groupby("household_pk").tail(1).set_index("household_pk")
    hh = data.households.loc[data.households.index.isin(last.index)]
    el = pd.DataFrame({"household_id": hh["household_id"], "village_id": hh["village_id"], "village": hh["village"],
                       "zone": hh["zone"].fillna(""), "group_id": last.loc[hh.index, "visit_group"].fillna(hh["group_id"]),
                       "visit_id": last.loc[hh.index, "visit_id"].astype(int),
                       "visit_date": [d.date() for d in last.loc[hh.index, "date"]],
                       "outcome": last.loc[hh.index, "outcome"], "address": hh["address"], "lon": hh["lon"],
                       "lat": hh["lat"]})
    return el.sort_values(["village_id", "household_id"]).reset_index(drop=True), zones


def run_spotcheck(db: str | Path, req: SpotCheckRequest, *, out: str | Path | None = None,
                  progress: Callable[[str], None] | None = None, fonts=None, route_seconds: float = 2.0) -> dict[str, Any]:
    """Draw a spot check, route it, store it and write its checklist (PDF) and form (CSV).

    Returns
    -------
    dict
        ``check_id``, ``seed``, ``date``, ``villages`` (per village: id, name, households in route
        order, walk metres), ``eligible``, ``files``.

    Raises
    ------
    ValueError
        Nothing to check (no visits reported in the window).
    """
    step = progress or (lambda _m: None)
    engine = store.open_store(db, create=False)
    try:
        step("筛选近期报告已走访的住户")
        eligible, zones = eligible_households(engine, req.day, req.weeks, town=req.town)
        if not len(eligible):
            raise ValueError(f"{req.day} 之前 {req.weeks} 周内没有报告已走访的住户, 无从抽查。处理办法: 换一个日期或加大 --weeks")
        rng = np.random.default_rng(req.seed)
        sample = draw_sample(eligible, zones, n_villages=req.villages, n_households=req.households, rng=rng)
        step("规划督查路线")
        routes = _routes(engine, sample, seconds=route_seconds, seed=req.seed % (2 ** 31))
        items = [SpotItem(household_id=h, visit_id=int(vid), group_id=g or None, zone_label=z or None)
                 for r in routes for h, vid, g, z in zip(r["stops"]["household_id"], r["stops"]["visit_id"],
                                                         r["stops"]["group_id"], r["stops"]["zone"])]
        params = {"villages": req.villages, "households": req.households, "weeks": req.weeks, "town": req.town,
                  "eligible": len(eligible)}
        check_id = save_spot_check(engine, req.day, req.seed, params, items)
        files = []
        if out is not None:
            step("打印抽查清单")
            files = _write_outputs(engine, Path(out), check_id, req, routes, fonts=fonts)
    finally:
        engine.dispose()
    return {"check_id": check_id, "seed": str(req.seed), "date": req.day.isoformat(), "eligible": len(eligible),
            "villages": [{"village_id": r["village_id"], "name": r["name"], "walk_m": r["walk_m"],
                          "households": r["stops"]["household_id"].tolist(),
                          "groups": r["stops"]["group_id"].tolist()} for r in routes],
            "files": [str(f) for f in files]}


def _routes(engine, sample: pd.DataFrame, *, seconds: float, seed: int) -> list[dict]:
    """Per village of the sample (in draw order): the stops in walking order from the village committee."""
    import geopandas as gpd

    from geo.crs import utm_crs
    from geo.network import WalkingParams, WalkNetwork, travel_matrices
    from planner.routing import MAX_TIME, RoutingProblem, Vehicle, solve_routes

    villages = store.load_villages(engine).set_index("village_id")
    out = []
    for vid in dict.fromkeys(sample["village_id"]):
        sub = sample[sample["village_id"] == vid].reset_index(drop=True)
        v = villages.loc[vid]
        depot = (float(v["depot_lon"]), float(v["depot_lat"]))
        if any(map(math.isnan, depot)):
            depot = (float(sub["lon"].median()), float(sub["lat"].median()))
        lon = np.r_[depot[0], sub["lon"].to_numpy(dtype=float)]
        lat = np.r_[depot[1], sub["lat"].to_numpy(dtype=float)]
        crs = utm_crs(lon, lat)
        pts = gpd.GeoSeries(gpd.points_from_xy(lon, lat), crs="EPSG:4326").to_crs(crs)
        xy = np.column_stack([pts.x.to_numpy(), pts.y.to_numpy()])
        roads = store.load_roads(engine, bbox=(lon.min() - 0.01, lat.min() - 0.01, lon.max() + 0.01, lat.max() + 0.01))
        params = WalkingParams()
        net = WalkNetwork.from_lines(roads.to_crs(crs).geometry.values, params=params) if len(roads) else None
        tm = travel_matrices(xy, net, params=params)
        problem = RoutingProblem.from_matrices(np.asarray(tm.time_s, dtype=np.int64), np.asarray(tm.distance_m, dtype=np.int64),
                                               vehicles=[Vehicle(0, 0, 0, MAX_TIME, name=f"inspector-{vid}")],
                                               service_s=600, required=True,
                                               client_ids=sub["household_id"].tolist())
        order = list(range(len(sub)))
        walk = 0
        if len(sub) > 1:
            res = solve_routes(problem, seconds=seconds, seed=seed, iterations=300)
            if res.routes and res.routes[0].visits:
                order = res.routes[0].clients + [c for c in range(len(sub)) if c not in set(res.routes[0].clients)]
                walk = int(res.routes[0].distance_m)
        elif len(sub) == 1:
            walk = int(tm.distance_m[0, 1] + tm.distance_m[1, 0])
        out.append({"village_id": vid, "name": str(v["name"]), "stops": sub.iloc[order].reset_index(drop=True),
                    "walk_m": walk, "xy": xy, "order": order, "crs": crs, "roads": roads})
    return out


def _write_outputs(engine, folder: Path, check_id: int, req: SpotCheckRequest, routes: list[dict], *,
                   fonts=None) -> list[Path]:
    from maps.fonts import find_cjk_fonts, matplotlib_family
    from maps.review import CheckStop, CheckVillage, checklist_pdf
    from maps.sheet_map import route_map_svg

    folder.mkdir(parents=True, exist_ok=True)
    fonts = fonts or find_cjk_fonts()
    family = matplotlib_family(fonts)
    hh = store.load_households(engine, village_ids=[r["village_id"] for r in routes]).set_index("household_id")
    pages = []
    for r in routes:
        s = r["stops"]
        xy = r["xy"]
        stops_xy = xy[1:][r["order"]]
        try:
            svg = route_map_svg(width_mm=186, height_mm=100, stops_xy=stops_xy, depot_xy=(xy[0, 0], xy[0, 1]),
                                roads=r["roads"].to_crs(r["crs"]) if len(r["roads"]) else None, font_family=family)
        except ValueError:
            svg = None
        stops = [CheckStop(seq=k + 1, household_id=h, address=_opt(hh, h, "address"), head=_opt(hh, h, "head"),
                           phone=_opt(hh, h, "phone"), group_id=g, visit_date=d, outcome=o)
                 for k, (h, g, d, o) in enumerate(zip(s["household_id"], s["group_id"], s["visit_date"], s["outcome"]))]
        pages.append(CheckVillage(r["village_id"], r["name"], stops, walk_m=r["walk_m"], map_svg=svg))
    pdf = write_atomic(folder / f"spotcheck-{check_id}.pdf", checklist_pdf(check_id, req.day, req.seed, pages, fonts=fonts))
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["抽查编号", "序号", "行政村", "户编号", "小组", "报告走访日期", "确认", "备注"])
    for p in pages:
        for s in p.stops:
            w.writerow([check_id, s.seq, p.name, s.household_id, s.group_id or "",
                        s.visit_date.isoformat() if s.visit_date else "", "", ""])
    form = write_atomic(folder / f"spotcheck-{check_id}.csv", buf.getvalue().encode("utf-8-sig"))
    return [pdf, form]


def _opt(frame: pd.DataFrame, key: str, col: str) -> str | None:
    if col not in frame.columns or key not in frame.index:
        return None
    v = frame.at[key, col]
    return None if v is None or (isinstance(v, float) and math.isnan(v)) else str(v)


def read_findings(path: str | Path) -> list[Confirmation]:
    """The filled form: 户编号 (household), 确认 (是/否/无人; yes/no/absent), optional 抽查编号
    (check id), 备注 (note), 核实日期 (date).  Rows with an empty 确认 are not checked yet and skipped.

    Raises
    ------
    InputError
        Naming every bad row.
    """
    from api.visits import _read_table, parse_date

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"找不到文件 {path}。处理办法: 检查路径")
    header, rows = _read_table(path)
    low = [h.lower() for h in header]

    def find(*names: str) -> int | None:
        return next((low.index(n) for n in names if n in low), None)

    hi, ci = find("户编号", "household", "household_id"), find("确认", "confirmed")
    ki, ni, di = find("抽查编号", "check_id"), find("备注", "note"), find("核实日期", "date")
    if hi is None or ci is None:
        raise InputError([Problem(path.name, "第 1 行 (表头)", "缺少 户编号 或 确认 列",
                                  "用 zhudian spotcheck 写出的 CSV 表格填写")])
    out, problems = [], []
    for n, r in enumerate(rows, start=2):
        def get(i):
            return None if i is None or i >= len(r) or r[i] in (None, "") else str(r[i]).strip()

        hid, raw = get(hi), get(ci)
        if not hid or raw is None:
            continue
        if raw.lower() not in CONFIRM:
            problems.append(Problem(path.name, f"第 {n} 行", f"确认 {raw!r} 无法识别", "填 是 / 否 / 无人"))
            continue
        try:
            check = int(float(get(ki))) if get(ki) else None
            day = parse_date(get(di))
        except ValueError as exc:
            problems.append(Problem(path.name, f"第 {n} 行", f"抽查编号或日期 {exc} 无法识别", "抽查编号写整数, 日期写 YYYY-MM-DD"))
            continue
        out.append(Confirmation(household_id=hid, confirmed=CONFIRM[raw.lower()], note=get(ni), check_id=check,
                                checked_date=day, where=f"第 {n} 行"))
    if problems:
        raise InputError(problems)
    return out


def run_record(db: str | Path, file: str | Path) -> dict[str, Any]:
    """Record a filled spot-check form; returns the counts and, per zone and group of the checks
    involved, the verification rate and the LQAS decision."""
    from api.coverage import lqas_decision

    findings = read_findings(file)
    engine = store.open_store(db, create=False)
    try:
        counts = record_confirmations(engine, findings, file=Path(file).name)
        from api.store.visits import spot_check_items

        items = pd.DataFrame(spot_check_items(engine))
    finally:
        engine.dispose()
    done = items[items["confirmed"].notna()] if len(items) else items
    zones = []
    if len(done):
        for (vid, z), g in done.groupby(["village_id", done["zone_label"].fillna("")], sort=True):
            n, c = len(g), int(sum(bool(x) for x in g["confirmed"]))
            zones.append({"village_id": vid, "zone": z, "checked": n, "confirmed": c,
                          "verification_rate": c / n, "lqas": lqas_decision(n, n - c)})
    groups = []
    if len(done):
        for gid, g in done.groupby(done["group_id"].fillna(""), sort=True):
            n, c = len(g), int(sum(bool(x) for x in g["confirmed"]))
            groups.append({"group": gid, "checked": n, "confirmed": c, "verification_rate": c / n})
    return {**counts, "zones": zones, "groups": groups}
