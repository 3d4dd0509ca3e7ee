"""Benchmark: a whole synthetic city, zoned and planned for a month, from 10k to 1M households.

Usage (from the repository root)::

    .venv/bin/python bench/scale.py run --households 10000,100000,1000000 [--workers 2]
        [--zone-seconds 1] [--plan-seconds 1] [--month 2026-03] [--json]
    .venv/bin/python bench/scale.py speedup --households 20000 [--runs serial,local2,dask2] [--json]

The city is shaped like the seed city of issue 8 (517 villages and about 1,000 groups for a
million households): about 1,900 households per village and ``--households-per-group 1000``.
Defaults: ``--zone-seconds 1`` per village and ``--plan-seconds 0.5`` per group (the "city
profile"; the product's defaults are 5 s each, see docs/BENCHMARKS.md for what that costs).

``run``, per size, in a fresh folder (``--keep DIR`` keeps it):

1. ``bench/city.py``'s ``write_city`` draws the city (villages, areas, households, roads
   GeoPackages and roster.csv); timed apart, not part of the planning time.
2. ``zhudian import DB --villages --areas --households --roads`` (the product's importer).
3. ``zhudian zone DB --roster roster.csv --seconds Z --workers W --json``.
4. ``zhudian plan DB --month M --seconds P --workers W --json``.

Each command is the installed console script in a subprocess, as a user runs it; its wall time and
the peak of the summed resident memory of it and its worker processes (sampled from /proc every
0.2 s) are reported.  "Planned" = zone + plan.  Cost per household = planned wall time /
households; the ratio to linear scaling divides it by the smallest size's.

``speedup`` builds one city, imports it once, then zones and plans copies of the store with each
run (``serial`` = ``--workers 1``, ``localN`` = N local processes, ``daskN`` = a local Dask
cluster of N worker processes), back to back, and reports wall times and ratios to ``serial``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.city import write_city  # noqa: E402
from bench.proctree import run_sampled  # noqa: E402

ZHUDIAN = str(Path(sys.executable).parent / "zhudian")


def _load() -> str:
    try:
        return " ".join(f"{x:.1f}" for x in os.getloadavg())
    except OSError:  # pragma: no cover
        return "?"


def _cli(args: list[str], folder: Path, name: str) -> tuple[dict, dict | None]:
    """Run ``zhudian ARGS``; returns (timing, parsed JSON stdout or None)."""
    out = folder / f"{name}.json"
    t = run_sampled([ZHUDIAN, *map(str, args)], stdout_path=out)
    t["load"] = _load()
    doc = None
    if out.exists() and out.stat().st_size:
        try:
            doc = json.loads(out.read_text(encoding="utf-8"))
        except json.JSONDecodeError:
            doc = None
    if t["rc"] not in (0, 1):
        raise RuntimeError(f"zhudian {' '.join(map(str, args[:2]))} exited {t['rc']}:\n{t['stderr']}")
    t.pop("stderr")
    return t, doc


def _quantiles(xs: list[float]) -> dict:
    if not xs:
        return {}
    xs = sorted(xs)
    return {"median": round(statistics.median(xs), 4), "p90": round(xs[int(0.9 * (len(xs) - 1))], 4),
            "max": round(xs[-1], 4)}


def zoning_summary(doc: dict) -> dict:
    vs = doc["villages"]
    ok = [v for v in vs if v["status"] in ("optimal", "feasible")]
    return {"villages": len(vs), "zoned": len(ok), "failed": len(doc.get("failed", [])),
            "groups": sum(len(v["zones"]) for v in ok),
            "balance": _quantiles([v["balance"] for v in ok if len(v["zones"]) > 1]),
            "within_5pct": sum(1 for v in ok if (v["max_deviation"] or 0) <= 0.05 + 1e-9),
            "contiguous": sum(1 for v in ok if v["contiguous"]),
            "solve_s": _quantiles([v["seconds"] for v in ok])}


def plan_summary(doc: dict) -> dict:
    walks = [s["walk_m"] for g in doc["groups"] for s in g["sessions"] if s["stops"]]
    stops = [len(s["stops"]) for g in doc["groups"] for s in g["sessions"] if s["stops"]]
    cov = list(doc["projected_year_end_coverage"].values())
    return {"groups": len(doc["groups"]), "due": sum(g["due"] for g in doc["groups"]),
            "planned": sum(g["planned"] for g in doc["groups"]),
            "unplanned": dict(Counter(u["reason"] for u in doc["unplanned"])),
            "failed": len(doc.get("failed", [])),
            "walk_m_per_session": _quantiles(walks), "stops_per_session": _quantiles(stops),
            "projected_coverage": _quantiles(cov)}


def build(folder: Path, households: int, seed: int, per_group: int) -> dict:
    """Draw the city and import it; returns the timings."""
    t0 = time.perf_counter()
    city = write_city(folder / "city", households, seed, households_per_group=per_group)
    gen_s = time.perf_counter() - t0
    db = folder / "city.db"
    c = folder / "city"
    imp, doc = _cli(["import", db, "--villages", c / "villages.gpkg", "--areas", c / "areas.gpkg",
                     "--households", c / "households.gpkg", "--roads", c / "roads.gpkg", "--json"], folder, "import")
    imp["households"] = doc["households"] if doc else None
    imp["unplaced"] = doc["households_unplaced"] if doc else None
    return {"city": city, "generate_s": round(gen_s, 1), "import": imp}


def zone_and_plan(db: Path, folder: Path, *, roster: Path, workers: list[str], zone_s: float, plan_s: float,
                  month: str, iterations: int | None = None) -> dict:
    zt, zdoc = _cli(["zone", db, "--roster", roster, "--seconds", zone_s, *workers, "--json"], folder, "zone")
    extra = [] if iterations is None else ["--iterations", iterations]
    pt, pdoc = _cli(["plan", db, "--month", month, "--seconds", plan_s, *extra, *workers, "--json"], folder, "plan")
    return {"zone": zt, "plan": pt, "zoning": zoning_summary(zdoc) if zdoc else None,
            "month": plan_summary(pdoc) if pdoc else None,
            "planned_wall_s": round(zt["wall_s"] + pt["wall_s"], 1),
            "peak_tree_rss_mb": max(zt["peak_tree_rss_mb"], pt["peak_tree_rss_mb"])}


def cmd_run(args: argparse.Namespace) -> dict:
    sizes = [int(x) for x in args.households.split(",")]
    results = []
    for n in sizes:
        if args.reuse is not None:  # a folder kept by an earlier run: its city and imported store
            folder = args.reuse
            b = json.loads((folder / "build.json").read_text(encoding="utf-8"))
            shutil.copy(folder / "city.db", folder / "run.db")
        else:
            folder = Path(tempfile.mkdtemp(prefix=f"zhudian-scale-{n}-", dir=args.keep))
        try:
            if args.reuse is None:
                b = build(folder, n, args.seed, args.households_per_group)
                (folder / "build.json").write_text(json.dumps(b, ensure_ascii=False), encoding="utf-8")
                shutil.copy(folder / "city.db", folder / "run.db")
                if args.build_only:
                    print(f"{n:>9,} households: built in {folder} (import {b['import']['wall_s']} s)", file=sys.stderr)
                    continue
            r = zone_and_plan(folder / "run.db", folder, roster=folder / "city" / "roster.csv",
                              workers=["--workers", str(args.workers)], zone_s=args.zone_seconds,
                              plan_s=args.plan_seconds, month=args.month, iterations=args.iterations)
            r.update(households=n, **b)
            r["ms_per_household"] = round(1000 * r["planned_wall_s"] / n, 3)
            results.append(r)
            print(f"{n:>9,} households: zone {r['zone']['wall_s']} s, plan {r['plan']['wall_s']} s, "
                  f"peak {r['peak_tree_rss_mb']} MB", file=sys.stderr)
        finally:
            if args.keep is None and args.reuse is None:
                shutil.rmtree(folder, ignore_errors=True)
    base = results[0]["ms_per_household"] if results else None
    for r in results:
        r["ratio_to_linear"] = round(r["ms_per_household"] / base, 3) if base else None
    return {"results": results, "params": vars(args) | {"keep": str(args.keep), "reuse": str(args.reuse)}}


def cmd_speedup(args: argparse.Namespace) -> dict:
    folder = Path(tempfile.mkdtemp(prefix="zhudian-speedup-", dir=args.keep))
    try:
        b = build(folder, args.households, args.seed, args.households_per_group)
        runs = {}
        for name in args.runs.split(","):
            if name == "serial":
                workers = ["--workers", "1"]
            elif name.startswith("local"):
                workers = ["--workers", name[5:]]
            elif name.startswith("dask"):
                workers = ["--workers", name[4:], "--executor", "dask"]
            else:
                raise SystemExit(f"unknown run {name!r}: serial, localN or daskN")
            sub = folder / name
            sub.mkdir()
            db = sub / "city.db"
            shutil.copy(folder / "city.db", db)
            runs[name] = zone_and_plan(db, sub, roster=folder / "city" / "roster.csv", workers=workers,
                                       zone_s=args.zone_seconds, plan_s=args.plan_seconds, month=args.month,
                                       iterations=args.iterations)
            print(f"{name}: zone {runs[name]['zone']['wall_s']} s, plan {runs[name]['plan']['wall_s']} s",
                  file=sys.stderr)
        base = runs.get("serial")
        if base:
            for r in runs.values():
                r["speedup_zone"] = round(base["zone"]["wall_s"] / r["zone"]["wall_s"], 2)
                r["speedup_plan"] = round(base["plan"]["wall_s"] / r["plan"]["wall_s"], 2)
                r["speedup"] = round(base["planned_wall_s"] / r["planned_wall_s"], 2)
        return {"households": args.households, **b, "runs": runs, "params": vars(args) | {"keep": str(args.keep)}}
    finally:
        if args.keep is None:
            shutil.rmtree(folder, ignore_errors=True)


def print_run(doc: dict, file=sys.stdout) -> None:
    print("| households | villages | groups | import (s) | zone (s) | plan (s) | zone + plan (s) | "
          "ms / household | ratio to linear | peak memory, all processes (MB) |", file=file)
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|", file=file)
    for r in doc["results"]:
        z = r["zoning"] or {}
        print(f"| {r['households']:,} | {z.get('villages', '?')} | {z.get('groups', '?')} | "
              f"{r['import']['wall_s']} | {r['zone']['wall_s']} | {r['plan']['wall_s']} | {r['planned_wall_s']} | "
              f"{r['ms_per_household']} | {r['ratio_to_linear']} | {r['peak_tree_rss_mb']} |", file=file)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    for name in ("run", "speedup"):
        p = sub.add_parser(name)
        p.add_argument("--households", default="10000" if name == "run" else 20000,
                       type=str if name == "run" else int)
        p.add_argument("--seed", type=int, default=0)
        p.add_argument("--zone-seconds", type=float, default=1.0)
        p.add_argument("--plan-seconds", type=float, default=0.5)
        p.add_argument("--iterations", type=int, default=None)
        p.add_argument("--month", default="2026-03")
        p.add_argument("--households-per-group", type=int, default=1000,
                       help="households per 2+1 group (default 1000: the seed city, 1M households and "
                            "about 1,000 groups; the demo has about 600)")
        p.add_argument("--keep", type=Path, default=None, help="keep the folders under this directory")
        p.add_argument("--json", action="store_true")
        if name == "run":
            p.add_argument("--workers", type=int, default=2)
            p.add_argument("--build-only", action="store_true",
                           help="only draw and import the cities (with --keep, for a later --reuse)")
            p.add_argument("--reuse", type=Path, default=None,
                           help="zone and plan the city of this folder (kept by --keep --build-only)")
        else:
            p.add_argument("--runs", default="serial,local2,dask2")
    args = ap.parse_args(argv)
    meta = {"python": platform.python_version(), "cpus": os.cpu_count(), "load_before": _load()}
    t0 = time.perf_counter()
    doc = cmd_run(args) if args.cmd == "run" else cmd_speedup(args)
    doc["meta"] = meta | {"total_s": round(time.perf_counter() - t0, 1), "load_after": _load()}
    if args.cmd == "run" and doc["results"]:
        print_run(doc, file=sys.stderr if args.json else sys.stdout)
    if args.json:
        print(json.dumps(doc, ensure_ascii=False, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
