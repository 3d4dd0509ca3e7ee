"""Benchmark: importing a synthetic city of 100,000 and 1,000,000 households into SQLite and PostgreSQL.

Usage (from the repository root)::

    .venv/bin/python bench/import_scale.py                                  # SQLite, 100k and 1M
    sh .ci/with-postgres.sh .venv/bin/python bench/import_scale.py --backends sqlite,postgresql
    .venv/bin/python bench/import_scale.py --households 100000 --repeats 3 --json

Input: the city of ``bench/city.py`` (``write_city(folder, households, seed=...)``: villages,
areas, households and roads GeoPackages; written to ``out/bench/city-N-SEED`` when missing).  The
generator draws about 60 road lines per 1,000 households (its villages' own lanes); with
``--road-lines-per-household R`` (default 0.4, i.e. 400,000 lines for a million households) the
roads are cut at vertices into more, shorter lines (``roads-R.gpkg`` beside the others; ids
``<road_id>-<k>``), so the road layer has the size of a city's OSM network.

Each import runs in a fresh process, one at a time, into a new store: a new SQLite file, or a new
schema of the PostgreSQL database at ``--pg`` (default ``ZHUDIAN_TEST_PG_URL``; the store's only
schema on its ``search_path``, dropped afterwards).  Measured: the wall time of
:func:`api.importer.run_import` (read and validate the four files, place the households, save in
one transaction), split into its steps by the progress messages; the peak resident memory of the
process during the first import (``ru_maxrss``: interpreter and libraries included); the rows
written per second (villages + areas + households + roads over the wall time).  ``--reimport``
also times a second import of the same files into the same store (every record unchanged: the
upsert's read and compare).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.city import cached_city  # noqa: E402

STEPS = {"读取": "read", "归属": "assemble", "写入": "save"}


# --------------------------------------------------------------------------------------------
# Input


def cut_roads(folder: Path, per_household: float, households: int) -> Path:
    """``roads.gpkg`` cut at vertices into about ``per_household * households`` lines."""
    import geopandas as gpd
    import numpy as np
    import shapely

    target = folder / f"roads-{per_household:g}.gpkg"
    if target.exists():
        return target
    roads = gpd.read_file(folder / "roads.gpkg", engine="pyogrio")
    lines = roads.geometry.values
    wanted = max(1, round(per_household * households))
    pieces = max(1, math.ceil(wanted / len(roads)))
    coords, owner = shapely.get_coordinates(lines, return_index=True)
    starts = np.r_[0, np.flatnonzero(owner[1:] != owner[:-1]) + 1]
    ends = np.r_[starts[1:], len(owner)]
    parts, part_of, rows, suffix = [], [], [], []
    for i, (a, b) in enumerate(zip(starts.tolist(), ends.tolist())):
        cuts = np.unique(np.linspace(a, b - 1, min(pieces, b - a - 1) + 1).round().astype(int))
        for k, (c0, c1) in enumerate(zip(cuts[:-1].tolist(), cuts[1:].tolist())):
            parts.append(coords[c0:c1 + 1])
            part_of.append(np.full(c1 + 1 - c0, len(rows)))
            rows.append(i)
            suffix.append(k + 1)
    geoms = shapely.linestrings(np.concatenate(parts), indices=np.concatenate(part_of))
    out = roads.iloc[rows].reset_index(drop=True)
    out["road_id"] = [f"{r}-{k}" for r, k in zip(out["road_id"], suffix)]
    out = gpd.GeoDataFrame(out.drop(columns="geometry"), geometry=geoms, crs=roads.crs)
    out.to_file(target, layer="roads", driver="GPKG", engine="pyogrio")
    print(f"roads: {len(roads)} lines cut into {len(out)} ({target.name})", file=sys.stderr)
    return target


# --------------------------------------------------------------------------------------------
# One import, in a fresh process


def worker(backend: str, folder: Path, roads: Path, target: str, reimport: bool) -> None:
    from api.importer import ImportRequest, run_import

    request = ImportRequest(villages=folder / "villages.gpkg", areas=folder / "areas.gpkg",
                            households=folder / "households.gpkg", roads=roads)
    runs = []
    for _ in range(2 if reimport else 1):
        marks: list[tuple[str, float]] = []
        t0 = time.perf_counter()
        report = run_import(target, request, progress=lambda msg: marks.append((msg, time.perf_counter())))
        wall = time.perf_counter() - t0
        steps = {v: 0.0 for v in STEPS.values()}
        for (msg, at), (_, until) in zip(marks, marks[1:] + [("", t0 + wall)]):
            steps[next((v for k, v in STEPS.items() if msg.startswith(k)), "save")] += until - at
        rows = sum(report[k] for k in ("villages", "areas", "households", "roads"))
        runs.append({"wall_s": wall, "steps": steps, "rows": rows, "rows_per_s": rows / wall,
                     "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                     "saved": report["saved"], "counts": {k: report[k] for k in ("villages", "areas", "households",
                                                                                  "roads")}})
    out = {"backend": backend, "runs": runs,
           "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
    if backend == "sqlite":
        out["store_mb"] = sum(p.stat().st_size for p in Path(target).parent.glob(Path(target).name + "*")) / 2 ** 20
    print(json.dumps(out))


def run_one(backend: str, folder: Path, roads: Path, pg: str | None, reimport: bool) -> dict:
    import tempfile

    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    with tempfile.TemporaryDirectory(prefix="zhudian-bench-import-") as tmp:
        schema = None
        if backend == "sqlite":
            target = str(Path(tmp) / "zhudian.db")
        else:
            schema = f"bench_{uuid.uuid4().hex[:10]}"
            admin = create_engine(pg)
            with admin.begin() as conn:
                conn.execute(text(f"CREATE SCHEMA {schema}"))
            target = make_url(pg).update_query_dict({"options": f"-c search_path={schema}"}) \
                .render_as_string(hide_password=False)
        try:
            proc = subprocess.run([sys.executable, __file__, "--worker", backend, str(folder), str(roads), target,
                                   "1" if reimport else "0"], capture_output=True, text=True)
            if proc.returncode != 0:
                raise RuntimeError(proc.stderr[-3000:])
            return json.loads(proc.stdout.strip().splitlines()[-1])
        finally:
            if schema is not None:
                with admin.begin() as conn:
                    conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
                admin.dispose()


# --------------------------------------------------------------------------------------------


def _load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


def table(results: list[dict]) -> str:
    again = any(len(m["runs"]) > 1 for r in results for m in r["measurements"])
    lines = ["| households | road lines | backend | wall (median) | read | assemble | save | peak RSS | rows/s |"
             + (" re-import (unchanged) |" if again else ""),
             "|---|---|---|---|---|---|---|---|---|" + ("---|" if again else "")]
    for r in results:
        first = [run["runs"][0] for run in r["measurements"]]
        med = lambda key: statistics.median(f[key] for f in first)  # noqa: E731
        step = lambda key: statistics.median(f["steps"][key] for f in first)  # noqa: E731
        rss = max(m["runs"][0].get("peak_rss_mb", m["peak_rss_mb"]) for m in r["measurements"])
        line = (f"| {r['households']:,} | {r['road_lines']:,} | {r['backend']} | {med('wall_s'):.1f} s | "
                f"{step('read'):.1f} s | {step('assemble'):.1f} s | {step('save'):.1f} s | {rss:,.0f} MB | "
                f"{med('rows_per_s'):,.0f} |")
        again = [m["runs"][1]["wall_s"] for m in r["measurements"] if len(m["runs"]) > 1]
        if again:
            line += f" {statistics.median(again):.1f} s |"
        lines.append(line)
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    if argv is None and len(sys.argv) > 1 and sys.argv[1] == "--worker":
        backend, folder, roads, target, reimport = sys.argv[2:7]
        worker(backend, Path(folder), Path(roads), target, reimport == "1")
        return 0
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--households", default="100000,1000000", help="comma-separated city sizes")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--road-lines-per-household", type=float, default=0.4,
                    help="cut the roads into about this many lines per household (0: as generated)")
    ap.add_argument("--backends", default="sqlite")
    ap.add_argument("--pg", default=os.environ.get("ZHUDIAN_TEST_PG_URL"))
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--reimport", action="store_true", help="also time a second, unchanged import")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)

    results = []
    meta = {"python": platform.python_version(), "cpus": os.cpu_count(), "load_before": _load()}
    for n in (int(x) for x in args.households.split(",")):
        folder = cached_city(n, args.seed)
        roads = cut_roads(folder, args.road_lines_per_household, n) if args.road_lines_per_household > 0 \
            else folder / "roads.gpkg"
        for backend in args.backends.split(","):
            if backend == "postgresql" and not args.pg:
                ap.error("PostgreSQL needs --pg URL or ZHUDIAN_TEST_PG_URL (sh .ci/with-postgres.sh ...)")
            measurements = []
            for _ in range(args.repeats):
                m = run_one(backend, folder, roads, args.pg, args.reimport)
                measurements.append(m)
                print(f"{n} {backend}: {json.dumps(m)}", file=sys.stderr)
            results.append({"households": n, "road_lines": measurements[0]["runs"][0]["counts"]["roads"],
                            "backend": backend, "measurements": measurements})
    meta["load_after"] = _load()
    if args.json:
        print(json.dumps({**meta, "results": results}, indent=1))
    else:
        print(f"Python {meta['python']}, {meta['cpus']} cores; load average {meta['load_before']} -> "
              f"{meta['load_after']}")
        print(table(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
