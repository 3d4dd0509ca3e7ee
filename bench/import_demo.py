"""Benchmark: importing the demo town, ``api.importer.run_import`` vs a plain geopandas script.

Usage (from the repository root)::

    .venv/bin/python bench/import_demo.py            # tables on stdout
    .venv/bin/python bench/import_demo.py --json     # JSON on stdout, tables on stderr

Both sides take the same four files, ``data/demo/{villages,areas,households,roads}.gpkg``, and
write them into a fresh file in a new temporary folder:

- ``zhudian``: ``run_import(tmp/zhudian.db, ImportRequest(villages=..., areas=..., households=...,
  roads=...))``: read and validate every file, assemble (overlaps, household placement, depots),
  save in one transaction into a new SQLite store;
- ``geopandas``: ``geopandas.read_file(f, engine="pyogrio")`` for each file, then
  ``to_file(tmp/plain.gpkg, layer=..., driver="GPKG", engine="pyogrio")``: what a plain script
  would do, raw I/O without checks.

The ratio zhudian / geopandas therefore says what validation, placement and the transactional
store cost on top of raw I/O.

Method: every measurement runs in a fresh subprocess (modules imported before the clock starts;
the import time is reported apart), one at a time, alternating which side goes first; by default 5
repetitions per side.  Time is wall-clock of the call.  Memory: the process's peak resident set
(``resource.getrusage(RUSAGE_SELF).ru_maxrss``, so interpreter and libraries included) and the
peak growth during the call (``VmHWM`` after the call minus ``VmRSS`` before it, the peak being
reset just before through ``/proc/self/clear_refs``).  One extra run per side with ``tracemalloc``
on (not used for the times: tracing slows Python code) gives the peak of Python-allocated memory.
Ratios are per repetition (the two sides ran back to back), reported as median and range; the
ratio of the two best times is given too (noise on a shared machine only ever adds time).

The zhudian import is broken down by step by wrapping the functions ``run_import`` calls: the four
readers (read + validate), ``store.open_store`` (open or create the store), ``assemble``,
``store.save_batch`` (the transaction); "other" is the rest (loading known records, the road
length, the final summary query).
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from matrix import memory_kb, reset_peak  # noqa: E402  (bench scripts share the /proc readers)

DEMO = ROOT / "data" / "demo"
LAYERS = ("villages", "areas", "households", "roads")
STEPS = ("read_validate", "open_store", "assemble", "save", "other")


# ---------------------------------------------------------------------- memory


def _timed(module, name: str, bucket: str, acc: dict[str, float]) -> None:
    """Replace module.name by a wrapper adding its wall time to acc[bucket]."""
    original = getattr(module, name)

    @functools.wraps(original)
    def wrapper(*args, **kwargs):
        t0 = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            acc[bucket] += time.perf_counter() - t0

    setattr(module, name, wrapper)


def prepare_zhudian(data: Path, out: Path):
    import api.importer as importer
    from api import store

    steps = {k: 0.0 for k in STEPS}
    for reader in ("read_villages", "read_areas", "read_households", "read_roads"):
        _timed(importer, reader, "read_validate", steps)
    _timed(importer, "assemble", "assemble", steps)
    _timed(store, "open_store", "open_store", steps)
    _timed(store, "save_batch", "save", steps)
    request = importer.ImportRequest(**{k: data / f"{k}.gpkg" for k in LAYERS})
    db = out / "zhudian.db"

    def call() -> dict:
        report = importer.run_import(db, request)
        return {"households": report["households"], "areas": report["areas"],
                "villages": report["villages"], "roads": report["roads"],
                "unplaced": report["households_unplaced"]}

    def output_bytes() -> int:
        return sum(p.stat().st_size for p in out.glob("zhudian.db*"))

    return call, steps, output_bytes


def prepare_geopandas(data: Path, out: Path):
    import geopandas

    steps = {"read": 0.0, "write": 0.0}
    target = out / "plain.gpkg"

    def call() -> dict:
        counts = {}
        for name in LAYERS:
            t0 = time.perf_counter()
            gdf = geopandas.read_file(data / f"{name}.gpkg", engine="pyogrio")
            t1 = time.perf_counter()
            gdf.to_file(target, layer=name, driver="GPKG", engine="pyogrio")
            steps["read"] += t1 - t0
            steps["write"] += time.perf_counter() - t1
            counts[name] = len(gdf)
        return counts

    def output_bytes() -> int:
        return target.stat().st_size

    return call, steps, output_bytes


def worker(impl: str, data: Path, trace: bool) -> None:
    import gc

    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix=f"bench-import-{impl}-") as tmp:
        prepare = {"zhudian": prepare_zhudian, "geopandas": prepare_geopandas}[impl]
        call, steps, output_bytes = prepare(data, Path(tmp))
        import_s = time.perf_counter() - t0
        gc.collect()
        before = memory_kb()["VmRSS"]
        peak_ok = reset_peak()
        if trace:
            import tracemalloc

            tracemalloc.start()
        t0 = time.perf_counter()
        counts = call()
        seconds = time.perf_counter() - t0
        traced = None
        if trace:
            traced = tracemalloc.get_traced_memory()[1] / 2**20
            tracemalloc.stop()
        after = memory_kb()
        if impl == "zhudian":
            steps["other"] = seconds - sum(v for k, v in steps.items() if k != "other")
        result = {
            "impl": impl, "traced": trace, "seconds": seconds, "import_s": import_s,
            "steps": steps, "counts": counts, "output_bytes": output_bytes(),
            "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "rss_before_mib": before / 1024,
            "peak_growth_mib": (after["VmHWM"] - before) / 1024 if peak_ok else None,
            "tracemalloc_peak_mib": traced,
        }
    print(json.dumps(result))


# ---------------------------------------------------------------------- driver


def measure(impl: str, data: Path, trace: bool = False) -> dict:
    cmd = [sys.executable, __file__, "--worker", impl, "--data", str(data)]
    if trace:
        cmd.append("--trace")
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=ROOT,
                         env={**os.environ, "PYTHONHASHSEED": "0"})
    return json.loads(out.stdout.strip().splitlines()[-1])


def _median(values: list[float | None]) -> float | None:
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def _ratios(z: list[dict], g: list[dict], key: str) -> list[float]:
    """zhudian / geopandas per repetition (the two ran back to back)."""
    by_rep = {r["rep"]: r for r in g}
    return [r[key] / by_rep[r["rep"]][key] for r in z
            if r["rep"] in by_rep and r[key] and by_rep[r["rep"]][key]]


def summarise(runs: list[dict], traced: list[dict]) -> dict:
    sides = {}
    for impl in ("zhudian", "geopandas"):
        rs = [r for r in runs if r["impl"] == impl]
        tr = [r for r in traced if r["impl"] == impl]
        sides[impl] = {
            "seconds": _median([r["seconds"] for r in rs]),
            "seconds_range": [min(r["seconds"] for r in rs), max(r["seconds"] for r in rs)],
            "import_s": _median([r["import_s"] for r in rs]),
            "peak_rss_mib": _median([r["peak_rss_mib"] for r in rs]),
            "rss_before_mib": _median([r["rss_before_mib"] for r in rs]),
            "peak_growth_mib": _median([r["peak_growth_mib"] for r in rs]),
            "tracemalloc_peak_mib": _median([r["tracemalloc_peak_mib"] for r in tr]),
            "output_bytes": _median([r["output_bytes"] for r in rs]),
            "steps": {k: _median([r["steps"][k] for r in rs]) for k in rs[0]["steps"]},
            "counts": rs[0]["counts"],
        }
    z = [r for r in runs if r["impl"] == "zhudian"]
    g = [r for r in runs if r["impl"] == "geopandas"]
    ratios = {}
    for key in ("seconds", "peak_rss_mib", "peak_growth_mib"):
        values = _ratios(z, g, key)
        ratios[key] = {"median": _median(values),
                       "range": [min(values), max(values)] if values else None}
    # the least disturbed run of each side: on a shared machine the noise only ever adds time
    ratios["seconds_best"] = {"median": sides["zhudian"]["seconds_range"][0]
                              / sides["geopandas"]["seconds_range"][0], "range": None}
    tz, tg = sides["zhudian"]["tracemalloc_peak_mib"], sides["geopandas"]["tracemalloc_peak_mib"]
    ratios["tracemalloc_peak_mib"] = {"median": tz / tg if tz and tg else None, "range": None}
    return {"sides": sides, "ratios": ratios}


def tables(s: dict, reps: int) -> str:
    def f(v, spec):
        return "-" if v is None else format(v, spec)

    z, g, r = s["sides"]["zhudian"], s["sides"]["geopandas"], s["ratios"]

    def ratio(key: str) -> str:
        x = r[key]
        spread = f" ({x['range'][0]:.2f}-{x['range'][1]:.2f})" if x["range"] else ""
        return f"{f(x['median'], '.2f')}x{spread}"

    lines = [
        f"| | zhudian `run_import` | geopandas read_file + to_file | "
        f"ratio zhudian / geopandas (range over {reps} pairs) |",
        "|---|---:|---:|---:|",
        f"| wall time, median (s) | {z['seconds']:.2f} | {g['seconds']:.2f} | {ratio('seconds')} |",
        f"| wall time, min-max (s) | {z['seconds_range'][0]:.2f}-{z['seconds_range'][1]:.2f} | "
        f"{g['seconds_range'][0]:.2f}-{g['seconds_range'][1]:.2f} | {ratio('seconds_best')} (best / best) |",
        f"| peak RSS of the process (MiB) | {z['peak_rss_mib']:.0f} | {g['peak_rss_mib']:.0f} | "
        f"{ratio('peak_rss_mib')} |",
        f"| RSS before the call (MiB) | {z['rss_before_mib']:.0f} | {g['rss_before_mib']:.0f} | |",
        f"| peak growth during the call (MiB) | {f(z['peak_growth_mib'], '.0f')} | "
        f"{f(g['peak_growth_mib'], '.0f')} | {ratio('peak_growth_mib')} |",
        f"| tracemalloc peak, 1 extra run (MiB) | {f(z['tracemalloc_peak_mib'], '.0f')} | "
        f"{f(g['tracemalloc_peak_mib'], '.0f')} | {ratio('tracemalloc_peak_mib')} |",
        f"| output file (MiB) | {z['output_bytes'] / 2**20:.1f} (SQLite store) | "
        f"{g['output_bytes'] / 2**20:.1f} (GeoPackage) | |",
        f"| module import, not timed (s) | {z['import_s']:.2f} | {g['import_s']:.2f} | |",
        "",
        "| zhudian step | median (s) | share |",
        "|---|---:|---:|",
    ]
    names = {"read_validate": "read + validate (4 readers)", "open_store": "open/create store",
             "assemble": "assemble (overlaps, placement, depots)", "save": "save (one transaction)",
             "other": "other (load known, road km, summary)"}
    for k in STEPS:
        v = z["steps"][k]
        lines.append(f"| {names[k]} | {v:.3f} | {v / z['seconds']:.0%} |")
    lines += ["", "| geopandas step | median (s) | share |", "|---|---:|---:|"]
    for k, v in g["steps"].items():
        lines.append(f"| {k} | {v:.3f} | {v / g['seconds']:.0%} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--json", action="store_true", help="print JSON on stdout (tables on stderr)")
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--data", type=Path, default=DEMO,
                   help="folder with villages.gpkg, areas.gpkg, households.gpkg, roads.gpkg")
    p.add_argument("--no-tracemalloc", action="store_true", help="skip the extra tracemalloc runs")
    p.add_argument("--worker", choices=["zhudian", "geopandas"], help=argparse.SUPPRESS)
    p.add_argument("--trace", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        worker(args.worker, args.data, args.trace)
        return
    if args.reps < 1:
        p.error("--reps must be at least 1")

    import geopandas
    import pyogrio
    import shapely
    import sqlalchemy

    started = time.perf_counter()
    runs: list[dict] = []
    for rep in range(args.reps):
        order = ["zhudian", "geopandas"] if rep % 2 == 0 else ["geopandas", "zhudian"]
        for impl in order:
            r = measure(impl, args.data)
            r["rep"] = rep
            runs.append(r)
            print(f"rep={rep} {impl}: {r['seconds']:.2f} s, peak RSS {r['peak_rss_mib']:.0f} MiB",
                  file=sys.stderr)
    traced = [] if args.no_tracemalloc else [measure(impl, args.data, trace=True)
                                              for impl in ("zhudian", "geopandas")]
    summary = summarise(runs, traced)
    text = tables(summary, args.reps)
    load = os.getloadavg()
    report = {
        "command": "bench/import_demo.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "data": str(args.data), "reps": args.reps,
        "total_bench_s": time.perf_counter() - started,
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                    "platform": platform.platform(), "loadavg_at_end": load},
        "versions": {"geopandas": geopandas.__version__, "pyogrio": pyogrio.__version__,
                     "gdal": pyogrio.__gdal_version_string__, "shapely": shapely.__version__,
                     "sqlalchemy": sqlalchemy.__version__},
        "summary": summary, "runs": runs, "traced_runs": traced,
    }
    if args.json:
        print(json.dumps(report, indent=2, ensure_ascii=False))
        print(text, file=sys.stderr)
    else:
        counts = summary["sides"]["zhudian"]["counts"]
        print(f"data: {args.data} ({counts}); {args.reps} repetitions per side, medians; "
              f"load average at end {load[0]:.1f}")
        print(text)


if __name__ == "__main__":
    main()
