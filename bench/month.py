"""Benchmark: month plans of the demo town (each group's month, real walking times).

Usage (from the repository root)::

    .venv/bin/python bench/month.py [--month 2026-12] [--groups 5 | --groups all | --groups G1,G2]
        [--runs pyvrp:5,pyvrp:20,ortools:5,ortools:20] [--full-seconds 2] [--json]

Steps:

1. Build the demo store the way the tests do, in a temporary folder: ``zhudian import`` of
   ``data/demo/{villages,areas,households,roads}.gpkg``, then ``zhudian zone DB --roster
   data/demo/roster.csv``.
2. For each demo group, build its month instance exactly as ``api.plan._plan_village`` does
   (same functions, same order: households of the village, depot, UTM projection, roads in the
   bounding box + 0.01 degrees, ``geo.network.travel_matrices`` over [depot] + the village's
   households, visit states, leave, ``planner.calendar.month_sessions``,
   ``planner.month.select_due``); :func:`group_instances` mirrors that code without storing
   anything.
3. Solve each chosen group's instance with ``planner.month.plan_group_month`` for every run
   (engine:seconds), one solve at a time, in this process, seed 0. ``seconds`` is the whole
   group's budget (split between the day and the evening phase, as in the planner). Every result
   is re-checked by ``planner.check.check_routes`` on the combined problem.
4. Time one full ``zhudian plan DB --month M --seconds S`` run of the whole demo in a subprocess
   (wall time, and the child's peak RSS from ``resource.getrusage(RUSAGE_CHILDREN).ru_maxrss``).

Objective compared: the engines' objective on the combined problem, written as a value to
maximise: prizes of the due households served minus walking distance (the engines minimise
distance + prizes left out, which differs by a constant); gap = (best value of any run on that
group - value) / best value.
Since prizes are 10x apart per class and each is larger than any detour, this is in effect
"households served, by priority, then walking distance". The table also gives households due,
served, unplanned (with reasons), walking km and the wall time of ``plan_group_month``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from api import store  # noqa: E402
from api.plan import WEEKDAYS, PlanRequest, _workday_function, month_instances  # noqa: E402
from api.store import plans  # noqa: E402
from planner.calendar import SessionRules  # noqa: E402
from planner.check import check_routes  # noqa: E402
from planner.month import MonthRules, plan_group_month  # noqa: E402

ZHUDIAN = str(Path(sys.executable).with_name("zhudian"))
DEMO = ROOT / "data" / "demo"


def build_demo(folder: Path) -> Path:
    db = folder / "demo.db"
    subprocess.run([ZHUDIAN, "import", str(db), "--villages", str(DEMO / "villages.gpkg"),
                    "--areas", str(DEMO / "areas.gpkg"), "--households", str(DEMO / "households.gpkg"),
                    "--roads", str(DEMO / "roads.gpkg"), "-q"], check=True)
    subprocess.run([ZHUDIAN, "zone", str(db), "--roster", str(DEMO / "roster.csv"), "-q"], check=True)
    return db


@dataclass
class Instance:
    group: str
    village: str
    households: int
    due: list
    sessions: list
    states: list
    duration_s: np.ndarray
    distance_m: np.ndarray
    build_s: float


def group_instances(db: Path, req: PlanRequest) -> list[Instance]:
    """Every group's month instance, built by the product's own ``api.plan.month_instances``."""
    is_workday = _workday_function(req)
    rules = SessionRules(stationing_weekday=WEEKDAYS[req.stationing_day.lower()],
                         evenings_per_week=req.evenings_per_week)
    mrules = MonthRules(service_min=req.service_min)
    engine = store.open_store(db, create=False)
    out = []
    try:
        villages = store.load_villages(engine)
        for _, village in villages.iterrows():
            zp = plans.load_zone_plan(engine, village["village_id"])
            if zp is None:
                continue
            t0 = time.perf_counter()
            _, _, instances = month_instances(engine, village, zp, req, rules, mrules, is_workday)
            build = time.perf_counter() - t0
            for inst in instances:
                out.append(Instance(inst.group_id, village["village_id"], len(inst.idx), inst.due,
                                    inst.sessions, inst.states, inst.duration_s, inst.distance_m, build))
    finally:
        engine.dispose()
    return out


def pick_groups(insts: list[Instance], spec: str) -> list[Instance]:
    if spec == "all":
        return insts
    if spec.isdigit():
        k = int(spec)
        order = sorted(insts, key=lambda i: (len(i.due), i.group))
        if k >= len(order):
            return order
        picks = sorted({round(j * (len(order) - 1) / (k - 1)) for j in range(k)}) if k > 1 else [len(order) - 1]
        return [order[j] for j in picks]
    want = spec.split(",")
    return [i for i in insts if i.group in want]


def solve(inst: Instance, engine: str, seconds: float, month: int) -> dict:
    t0 = time.perf_counter()
    gm = plan_group_month(inst.due, inst.sessions, states=inst.states, month=month,
                          duration_s=inst.duration_s, distance_m=inst.distance_m,
                          seconds=seconds, seed=0, engine=engine)
    wall = time.perf_counter() - t0
    res, prob = gm.routing, gm.problem
    violations = check_routes(prob, res)
    served = set(res.served)
    served_prize = int(sum(int(prob.prize[c]) for c in served))
    return {"group": inst.group, "engine": engine, "seconds": seconds, "wall_s": round(wall, 2),
            "due": len(inst.due), "served": len(served), "unplanned": len(res.unassigned),
            "reasons": dict(Counter(r for _, r in res.unassigned)),
            "served_by_class": dict(Counter(inst.due[c].priority for c in served)),
            "walk_m": int(res.distance_m), "objective": served_prize - int(res.distance_m),
            "status": res.status, "solver_status": res.solver_status,
            "violations": violations[:5], "n_violations": len(violations),
            "sessions": len(inst.sessions), "sessions_used": res.n_vehicles}


def full_plan(db: Path, month: str, seconds: float) -> dict:
    code = ("import resource, subprocess, sys, time; t=time.perf_counter(); "
            "r=subprocess.run(sys.argv[1:], capture_output=True, text=True); "
            "w=time.perf_counter()-t; "
            "print(r.returncode, round(w, 2), resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); "
            "sys.stderr.write(r.stderr[-2000:])")
    cmd = [ZHUDIAN, "plan", str(db), "--month", month, "--seconds", str(seconds), "--json"]
    p = subprocess.run([sys.executable, "-c", code, *cmd], capture_output=True, text=True, check=True)
    rc, wall, rss = p.stdout.split()
    return {"cmd": " ".join(["zhudian", "plan", "DB", "--month", month, "--seconds", str(seconds)]),
            "rc": int(rc), "wall_s": float(wall), "peak_rss_mb": round(int(rss) / 1024, 1),
            "stderr": p.stderr[-500:]}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--month", default="2026-12")
    ap.add_argument("--groups", default="5", help="a number (spread by size), 'all', or ids")
    ap.add_argument("--runs", default="pyvrp:5,pyvrp:20,ortools:5,ortools:20")
    ap.add_argument("--full-seconds", type=float, default=2.0, help="0: skip the full plan run")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args(argv)
    runs = [(e, float(s)) for e, s in (r.split(":") for r in a.runs.split(","))]
    req = PlanRequest(month=a.month)
    t_start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        db = build_demo(Path(tmp))
        t0 = time.perf_counter()
        insts = group_instances(db, req)
        t_inst = time.perf_counter() - t0
        chosen = pick_groups(insts, a.groups)
        print(f"{len(insts)} groups ({sum(i.households for i in insts)} households) built in "
              f"{t_inst:.1f} s; solving {len(chosen)}: {', '.join(i.group for i in chosen)}", file=sys.stderr)
        results = []
        for inst in chosen:
            for eng, sec in runs:
                r = solve(inst, eng, sec, req.mon)
                results.append(r)
                print(f"  {r['group']} {eng} {sec:g}s: served {r['served']}/{r['due']} walk "
                      f"{r['walk_m'] / 1000:.1f} km wall {r['wall_s']} s viol {r['n_violations']} "
                      f"{r['status']}", file=sys.stderr)
        for inst in chosen:
            rs = [r for r in results if r["group"] == inst.group]
            best = max(r["objective"] for r in rs)
            for r in rs:
                r["gap"] = (best - r["objective"]) / abs(best) if best else 0.0
        full = full_plan(db, a.month, a.full_seconds) if a.full_seconds > 0 else None
    total = time.perf_counter() - t_start
    meta = {"month": a.month, "groups_total": len(insts), "households_total": sum(i.households for i in insts),
            "groups_chosen": [i.group for i in chosen], "instance_build_s": round(t_inst, 1),
            "all_groups": [{"group": i.group, "village": i.village, "households": i.households,
                            "due": len(i.due), "sessions": len(i.sessions)} for i in insts],
            "python": platform.python_version(), "cpus": os.cpu_count(), "total_s": round(total, 1),
            "date": dt.date.today().isoformat()}
    print_table(results, runs, full, meta)
    if a.json:
        print(json.dumps({"meta": meta, "results": results, "full_plan": full}, ensure_ascii=False, indent=1))
    return 0


def print_table(results, runs, full, meta) -> None:
    heads = [f"{e} {s:g} s" for e, s in runs]
    print("\n| group | households | due | sessions | " + " | ".join(heads) + " |")
    print("|---|---|---|---|" + "---|" * len(heads))
    by_group: dict[str, list] = {}
    for r in results:
        by_group.setdefault(r["group"], []).append(r)
    info = {g["group"]: g for g in meta["all_groups"]}
    for g, rs in by_group.items():
        cells = []
        for r in rs:
            reasons = ",".join(f"{k} {v}" for k, v in r["reasons"].items())
            cells.append(f"{r['served']} served, {r['unplanned']} unpl. ({reasons}), "
                         f"{r['walk_m'] / 1000:.1f} km, gap {100 * r['gap']:.2f}%, {r['wall_s']:.1f} s, "
                         f"viol {r['n_violations']}")
        print(f"| {g} | {info[g]['households']} | {rs[0]['due']} | {rs[0]['sessions']} | " + " | ".join(cells) + " |")
    if full:
        print(f"\nfull plan: `{full['cmd']}` rc {full['rc']}, wall {full['wall_s']} s, "
              f"peak RSS {full['peak_rss_mb']} MB")


if __name__ == "__main__":
    raise SystemExit(main())
