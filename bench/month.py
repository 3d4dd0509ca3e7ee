"""Benchmark: month plans of the demo town (each group's month, real walking times).

Usage (from the repository root)::

    .venv/bin/python bench/month.py [--month 2026-12] [--history] [--groups 5 | --groups all | --groups G1,G2]
        [--runs pyvrp:5,pyvrp:20,pyvrp-all:20,ortools:5,ortools:20] [--jobs 1] [--full-seconds 2] [--json]

``--history`` first simulates the field work of the year's earlier months (``api.simulate``,
seed 0), so the month has visit history; ``pyvrp-all`` offers the engine every candidate
(``plan_group_month(prune=False)``); ``--jobs 2`` solves two runs at a time (PyVRP plans stop on
an iteration count, so they do not change; wall times do).

Steps:

1. Build the demo store the way the tests do, in a temporary folder: ``zhudian import`` of
   ``data/demo/{villages,areas,households,roads}.gpkg``, then ``zhudian zone DB --roster
   data/demo/roster.csv``.
2. For each demo group, build its month instance exactly as ``api.plan.run_plan`` does
   (same functions, same order: households of the village, depot, UTM projection, roads in the
   bounding box + 0.01 degrees, ``geo.network.travel_matrices`` over [depot] + the village's
   households, visit states, leave, ``planner.calendar.month_sessions``,
   ``planner.month.select_due``); :func:`group_instances` mirrors that code without storing
   anything.
3. Solve each chosen group's instance with ``planner.month.plan_group_month`` for every run
   (engine:seconds), one solve at a time, in this process, seed 0. ``seconds`` is the whole
   group's budget (split between the day and the evening phase, as in the planner). Every result
   is re-checked by ``planner.check.check_routes`` on the combined problem.
4. Time full ``zhudian plan DB --month M --seconds S [--workers N] [--start auxiliary]`` runs of
   the whole demo in a subprocess, one per ``--full-workers`` value and ``--full-start`` value
   (wall time; peak RSS summed over the parent and its worker processes, sampled from /proc every
   0.1 s; the largest single process's peak from ``resource.getrusage(RUSAGE_CHILDREN).ru_maxrss``;
   households planned and unplanned by reason, per group).

Whole demo month on 2 cores, serial vs parallel, at the default 5 s per group::

    .venv/bin/python bench/month.py --runs none --full-seconds 5 --full-workers 1,2 --json

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
from bench.proctree import tree_rss_kb  # noqa: E402
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
    n_depots: int = 1
    end_depot: int = 0


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
                                    inst.sessions, inst.states, inst.duration_s, inst.distance_m, build,
                                    inst.n_depots, inst.end_depot))
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
    """One run; ``engine`` may end in ``-all`` (every candidate offered: ``prune=False``)."""
    t0 = time.perf_counter()
    name, prune = (engine[:-4], False) if engine.endswith("-all") else (engine, True)
    gm = plan_group_month(inst.due, inst.sessions, states=inst.states, month=month,
                          duration_s=inst.duration_s, distance_m=inst.distance_m,
                          seconds=seconds, seed=0, engine=name, n_depots=inst.n_depots,
                          end_depot=inst.end_depot, prune=prune)
    wall = time.perf_counter() - t0
    res, prob = gm.routing, gm.problem
    violations = check_routes(prob, res)
    served = set(res.served)
    served_prize = int(sum(int(prob.prize[c]) for c in served))
    return {"group": inst.group, "engine": engine, "seconds": seconds, "wall_s": round(wall, 2),
            "due": len(inst.due), "served": len(served), "unplanned": len(res.unassigned),
            "reasons": dict(Counter(r for _, r in res.unassigned)),
            "served_by_class": dict(Counter(gm.due[c].priority for c in served)),
            "walk_m": int(res.distance_m), "objective": served_prize - int(res.distance_m),
            "status": res.status, "solver_status": res.solver_status,
            "violations": violations[:5], "n_violations": len(violations),
            "sessions": len(inst.sessions), "sessions_used": res.n_vehicles}


def full_plan(db: Path, month: str, seconds: float, workers: int | None = None, start: str = "depot",
              outposts: bool = True) -> dict:
    """One ``zhudian plan DB --month M --seconds S [--workers N] [--start ...] --json`` of the whole
    demo on a copy of ``db``, in a subprocess: wall time, the largest single process's peak RSS
    (``RUSAGE_CHILDREN.ru_maxrss``) and the peak of the summed RSS of the process tree (parent +
    workers, sampled every 0.1 s from /proc), and what was planned."""
    import shutil

    code = ("import resource, subprocess, sys, time; t=time.perf_counter(); "
            "out=open(sys.argv[1], 'w'); r=subprocess.run(sys.argv[2:], stdout=out, stderr=subprocess.PIPE, text=True); "
            "w=time.perf_counter()-t; "
            "print(r.returncode, round(w, 2), resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); "
            "sys.stderr.write(r.stderr[-2000:])")
    copy = db.with_name(f"full-{workers}-{start}-{outposts}.db")
    shutil.copy(db, copy)
    report = db.with_name(f"full-{workers}-{start}-{outposts}.json")
    extra = (([] if workers is None else ["--workers", str(workers)]) + ([] if start == "depot" else ["--start", start])
             + ([] if outposts else ["--no-outposts"]))
    cmd = [ZHUDIAN, "plan", str(copy), "--month", month, "--seconds", str(seconds), *extra, "--json"]
    p = subprocess.Popen([sys.executable, "-c", code, str(report), *cmd], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    peak = 0
    while p.poll() is None:
        peak = max(peak, tree_rss_kb(p.pid))
        time.sleep(0.1)
    stdout, stderr = p.communicate()
    rc, wall, rss = stdout.split()
    doc = json.loads(report.read_text(encoding="utf-8")) if int(rc) == 0 else {"groups": [], "unplanned": []}
    planned = sum(g["planned"] for g in doc["groups"])
    return {"cmd": " ".join(["zhudian", "plan", "DB", "--month", month, "--seconds", f"{seconds:g}", *extra]),
            "workers": workers, "start": start, "rc": int(rc), "wall_s": float(wall),
            "peak_rss_mb": round(int(rss) / 1024, 1), "peak_tree_rss_mb": round(peak / 1024, 1),
            "groups": len(doc["groups"]), "planned": planned,
            "unplanned": dict(Counter(u["reason"] for u in doc["unplanned"])),
            "unplanned_by_group": {g["group"]: dict(Counter(u["reason"] for u in doc["unplanned"]
                                                            if u["group"] == g["group"])) for g in doc["groups"]},
            "starts": {g["group"]: g["start"]["kind"] for g in doc["groups"]},
            "outposts": {g["group"]: [o["label"] for o in g.get("outposts", [])] for g in doc["groups"]
                         if g.get("outposts")},
            "coverage": doc.get("projected_year_end_coverage", {}),
            "stderr": stderr[-500:]}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--month", default="2026-12")
    ap.add_argument("--groups", default="5", help="a number (spread by size), 'all', or ids")
    ap.add_argument("--runs", default="pyvrp:5,pyvrp:20,ortools:5,ortools:20",
                    help="engine:seconds,... per chosen group, or none; engine pyvrp, ortools, or "
                         "pyvrp-all / ortools-all (every candidate offered to the engine)")
    ap.add_argument("--jobs", type=int, default=1,
                    help="solve this many runs at a time (PyVRP plans do not depend on it, wall "
                         "times do: use 1 for timings)")
    ap.add_argument("--full-seconds", type=float, default=2.0, help="0: skip the full plan runs")
    ap.add_argument("--full-workers", default="", help="full plan runs with these --workers, e.g. 1,2 "
                    "(default: one run with zhudian plan's default, the usable cores)")
    ap.add_argument("--full-start", default="depot", help="--start of the full plan runs: depot, auxiliary "
                    "or both (depot,auxiliary)")
    ap.add_argument("--full-outposts", default="on", help="full plan runs with outposts (on), without "
                    "(off: --no-outposts) or both (on,off)")
    ap.add_argument("--history", action="store_true",
                    help="first simulate the field work of the year's months before --month "
                         "(api.simulate, seed 0): a month with visit history, not-home retries and "
                         "problems' feedback visits, instead of an empty year")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args(argv)
    runs = [] if a.runs == "none" else [(e, float(s)) for e, s in (r.split(":") for r in a.runs.split(","))]
    req = PlanRequest(month=a.month)
    t_start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        db = build_demo(Path(tmp))
        if a.history and req.mon > 1:
            from api.simulate import simulate

            engine = store.open_store(db, create=False)
            try:
                sim = simulate(engine, [f"{req.year}-{m:02d}" for m in range(1, req.mon)], seed=0,
                               is_workday=_workday_function(req))
            finally:
                engine.dispose()
            print(f"simulated {req.year}-01 .. {req.year}-{req.mon - 1:02d}: {sim}", file=sys.stderr)
        t0 = time.perf_counter()
        insts = group_instances(db, req)
        t_inst = time.perf_counter() - t0
        chosen = pick_groups(insts, a.groups)
        print(f"{len(insts)} groups ({sum(i.households for i in insts)} households) built in "
              f"{t_inst:.1f} s; solving {len(chosen)}: {', '.join(i.group for i in chosen)}", file=sys.stderr)
        todo = [(inst, eng, sec, req.mon) for inst in chosen for eng, sec in runs]
        if a.jobs > 1:
            from concurrent.futures import ProcessPoolExecutor
            from multiprocessing import get_context

            with ProcessPoolExecutor(a.jobs, mp_context=get_context("spawn")) as pool:
                results = list(pool.map(solve, *zip(*todo))) if todo else []
        else:
            results = [solve(*t) for t in todo]
        for r in results:
            print(f"  {r['group']} {r['engine']} {r['seconds']:g}s: served {r['served']}/{r['due']} walk "
                  f"{r['walk_m'] / 1000:.1f} km wall {r['wall_s']} s viol {r['n_violations']} "
                  f"{r['status']}", file=sys.stderr)
        for inst in chosen:
            rs = [r for r in results if r["group"] == inst.group]
            best = max((r["objective"] for r in rs), default=0)
            for r in rs:
                r["gap"] = (best - r["objective"]) / abs(best) if best else 0.0
        full = []
        if a.full_seconds > 0:
            for start in a.full_start.split(","):
                for w in ([int(x) for x in a.full_workers.split(",")] if a.full_workers else [None]):
                    for op in a.full_outposts.split(","):
                        full.append(full_plan(db, a.month, a.full_seconds, w, start, outposts=op == "on"))
                    f = full[-1]
                    print(f"  full plan `{f['cmd']}`: rc {f['rc']}, wall {f['wall_s']} s, peak RSS "
                          f"{f['peak_tree_rss_mb']} MB (all processes), planned {f['planned']}, "
                          f"unplanned {f['unplanned']}", file=sys.stderr)
    total = time.perf_counter() - t_start
    meta = {"month": a.month, "history": a.history, "jobs": a.jobs, "groups_total": len(insts), "households_total": sum(i.households for i in insts),
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
    if not runs:
        results = []
    heads = [f"{e} {s:g} s" for e, s in runs]
    if results:
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
    for f in full or []:
        print(f"\nfull plan: `{f['cmd']}` rc {f['rc']}, wall {f['wall_s']} s, peak RSS {f['peak_tree_rss_mb']} MB "
              f"summed over the processes (largest single process {f['peak_rss_mb']} MB); {f['groups']} groups, "
              f"planned {f['planned']}, unplanned {f['unplanned']}")


if __name__ == "__main__":
    raise SystemExit(main())
