"""Benchmark: the coverage review, i.e. report generation for the demo and coverage queries over a
million visit records.

Usage (from the repository root)::

    .venv/bin/python bench/review.py                     # both parts, tables on stdout
    .venv/bin/python bench/review.py --skip-demo         # only the million-visit store
    .venv/bin/python bench/review.py --visits 200000     # a smaller synthetic store

Part 1 (needs ``make demo``, which leaves the simulated fourth quarter in ``out/demo/zhudian.db``):
``zhudian report COPY --quarter 2026Q4 --out FILE`` for .html, .pdf and .xlsx as fresh processes
(interpreter start and imports included) on a copy of the store; the job's own time from its JSON.

Part 2: a synthetic store in a temporary folder: one town of ``--villages`` villages x
``--households`` households (zoned in 3 zones each, one group per zone), ``--visits`` visit records
spread over 2025-2026 (outcomes 78% met, 18% not home, 3% refused, 1% moved), one problem per 20
visits.  Timed (median of ``--repeat`` runs, warm page cache): the report's data load
(:func:`api.coverage.load_review_data`) and figures (:func:`api.coverage.compute`) for the town
as of 2026-12-31; the per-household SQL aggregate (visits this year, last visit); the month
plan's per-village read (:func:`api.store.plans.visit_states`); the overdue problem list.  Then
the same with one extra index, ``visits(household_fk, date, outcome)``, to show what it buys.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DB = ROOT / "out" / "demo" / "zhudian.db"


def report_runs(db: Path, repeat: int) -> list[dict]:
    exe = Path(sys.executable).parent / "zhudian"
    rows = []
    for ext in ("html", "pdf", "xlsx"):
        walls, jobs, size = [], [], 0
        for _ in range(repeat):
            with tempfile.TemporaryDirectory(prefix="zhudian-bench-review-") as tmp:
                copy = Path(tmp) / "zhudian.db"
                shutil.copy(db, copy)
                out = Path(tmp) / f"report.{ext}"
                t0 = time.perf_counter()
                proc = subprocess.run([str(exe), "report", str(copy), "--quarter", "2026Q4", "--out", str(out), "--json"],
                                      capture_output=True, text=True, check=True)
                walls.append(time.perf_counter() - t0)
                jobs.append(json.loads(proc.stdout)["seconds"])
                size = out.stat().st_size
        rows.append({"format": ext, "wall_s": statistics.median(walls), "job_s": statistics.median(jobs),
                     "bytes": size, "runs": [round(w, 2) for w in walls]})
    return rows


def build_store(path: Path, *, villages: int, households: int, visits: int, seed: int = 0) -> dict:
    """The synthetic town (see the module docstring); returns counts and the build time."""
    from sqlalchemy import insert

    from api import store
    from api.store.models import Group, Household, Problem, Town, Village, Visit, Zone, ZoneHousehold, ZonePlan

    t0 = time.perf_counter()
    rng = np.random.default_rng(seed)
    engine = store.open_store(path)
    n_hh = villages * households
    with engine.begin() as conn:
        town = conn.execute(insert(Town).values(name="基准镇", attrs={})).inserted_primary_key[0]
        conn.execute(insert(Village), [{"id": v + 1, "village_id": f"9901020{v + 1:05d}", "name": f"村{v + 1}",
                                        "town_fk": town, "attrs": {}} for v in range(villages)])
        tags = np.where(rng.random(n_hh) < 0.08, "elderly_alone", "")
        conn.execute(insert(Household), [
            {"id": i + 1, "household_id": f"B{i + 1:07d}", "village_fk": i // households + 1, "tags": str(tags[i]),
             "placement": "in_area", "attrs": {}, "lon": 110 + (i // households) * 0.02 + rng.random() * 0.01,
             "lat": 30 + rng.random() * 0.01} for i in range(n_hh)])
        zone_rows, zh = [], []
        for v in range(villages):
            plan = conn.execute(insert(ZonePlan).values(village_fk=v + 1, version=1, params={}, scores={},
                                                        status="published")).inserted_primary_key[0]
            for z in range(3):
                g = conn.execute(insert(Group).values(village_fk=v + 1, name=f"9901020{v + 1:05d}-G{z + 1}",
                                                      attrs={})).inserted_primary_key[0]
                zid = conn.execute(insert(Zone).values(plan_fk=plan, group_fk=g, label=f"9901020{v + 1:05d}-Z{z + 1}",
                                                       workload_min=0.0)).inserted_primary_key[0]
                zone_rows.append(zid)
                lo, hi = v * households + z * households // 3, v * households + (z + 1) * households // 3
                zh.extend({"zone_fk": zid, "household_fk": h + 1} for h in range(lo, hi))
        conn.execute(insert(ZoneHousehold), zh)
        hh = rng.integers(1, n_hh + 1, visits)
        days = (dt.date(2025, 1, 1) + dt.timedelta(days=int(d)) for d in rng.integers(0, 730, visits))
        outcome = rng.choice(["met", "not_home", "refused", "moved"], size=visits, p=[0.78, 0.18, 0.03, 0.01])
        group = ((hh - 1) // households) * 3 + ((hh - 1) % households) // (households // 3 + 1) + 1
        chunk = 100_000
        day_list = list(days)
        for i in range(0, visits, chunk):
            conn.execute(insert(Visit), [{"household_fk": int(hh[k]), "group_fk": int(group[k]), "date": day_list[k],
                                          "outcome": str(outcome[k]), "client_id": f"b{k}"}
                                         for k in range(i, min(visits, i + chunk))])
        pk = rng.choice(visits, size=visits // 20, replace=False) + 1
        status = rng.choice(["open", "in_progress", "resolved", "cannot_resolve"], size=len(pk), p=[0.1, 0.1, 0.75, 0.05])
        conn.execute(insert(Problem), [
            {"household_fk": int(hh[p - 1]), "visit_fk": int(p), "category": "其他", "department": "镇党政办",
             "text": "基准问题", "deadline": day_list[p - 1] + dt.timedelta(days=30), "status": str(s),
             "resolved_date": day_list[p - 1] + dt.timedelta(days=20) if s in ("resolved", "cannot_resolve") else None}
            for p, s in zip(pk.tolist(), status)])
    engine.dispose()
    return {"households": n_hh, "visits": visits, "problems": len(pk), "build_s": time.perf_counter() - t0,
            "bytes": path.stat().st_size}


def time_queries(path: Path, *, villages: int, repeat: int) -> dict:
    from sqlalchemy import text

    from api import store
    from api.coverage import compute, load_review_data, parse_period
    from api.store.plans import visit_states
    from api.store.visits import list_problems

    engine = store.open_store(path, create=False)
    period = parse_period(quarter="2026Q4")
    out: dict[str, list[float]] = {k: [] for k in ("load", "compute", "household_sql", "visit_states", "overdue_list")}
    try:
        for _ in range(repeat):
            t0 = time.perf_counter()
            data = load_review_data(engine, period)
            t1 = time.perf_counter()
            fig = compute(data)
            t2 = time.perf_counter()
            with engine.connect() as conn:
                rows = conn.execute(text(
                    "SELECT household_fk, count(*) FILTER (WHERE outcome IN ('met','refused') AND date >= '2026-01-01'),"
                    " max(date) FROM visits WHERE date <= '2026-12-31' GROUP BY household_fk")).all()
            t3 = time.perf_counter()
            visit_states(engine, "990102000001", 2026)
            t4 = time.perf_counter()
            late = list_problems(engine, overdue=True, as_of=dt.date(2026, 12, 31))
            t5 = time.perf_counter()
            for k, v in zip(out, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4)):
                out[k].append(v)
    finally:
        engine.dispose()
    return {**{k: statistics.median(v) for k, v in out.items()}, "households_read": len(rows),
            "overdue": len(late), "visit_rate": fig.total["visit_rate"]}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--db", type=Path, default=DB)
    ap.add_argument("--skip-demo", action="store_true")
    ap.add_argument("--villages", type=int, default=40)
    ap.add_argument("--households", type=int, default=1250)
    ap.add_argument("--visits", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    result: dict = {"python": platform.python_version(), "machine": platform.machine()}
    if not args.skip_demo:
        if not args.db.exists():
            print(f"{args.db} not found: run make demo first (or --skip-demo)", file=sys.stderr)
            return 2
        result["reports"] = report_runs(args.db, args.repeat)
    with tempfile.TemporaryDirectory(prefix="zhudian-bench-review-") as tmp:
        path = Path(tmp) / "town.db"
        result["store"] = build_store(path, villages=args.villages, households=args.households, visits=args.visits)
        result["queries"] = time_queries(path, villages=args.villages, repeat=args.repeat)
        from sqlalchemy import text

        from api import store

        engine = store.open_store(path, create=False)
        with engine.begin() as conn:
            conn.execute(text("CREATE INDEX ix_bench_visits_hh_date ON visits (household_fk, date, outcome)"))
        engine.dispose()
        result["queries_extra_index"] = time_queries(path, villages=args.villages, repeat=args.repeat)
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=1))
        return 0
    print(f"Python {result['python']}, {result['machine']}")
    for r in result.get("reports", []):
        print(f"report {r['format']:>4}: wall {r['wall_s']:.2f} s (job {r['job_s']:.2f} s), {r['bytes'] / 1e6:.2f} MB, "
              f"runs {r['runs']}")
    s = result["store"]
    print(f"store: {s['households']} households, {s['visits']} visits, {s['problems']} problems, "
          f"{s['bytes'] / 1e6:.0f} MB, built in {s['build_s']:.1f} s")
    for name in ("queries", "queries_extra_index"):
        q = result[name]
        print(f"{name}: load {q['load']:.2f} s, compute {q['compute']:.2f} s, per-household SQL "
              f"{q['household_sql']:.2f} s, visit_states(1 village) {q['visit_states'] * 1000:.0f} ms, "
              f"overdue list {q['overdue_list']:.2f} s "
              f"(rate {q['visit_rate']:.3f}, {q['overdue']} overdue)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
