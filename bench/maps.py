"""Benchmark: size and time to first render of the town-wide maps of the demo, in headless Chromium.

Usage (from the repository root, after ``make demo``)::

    .venv/bin/python bench/maps.py [--db out/demo/zhudian.db] [--month 2026-12] [--runs 3] [--json]

Steps:

1. Copy the demo store to a temporary folder (nothing is written next to the original).
2. Write the town coverage-gap map (``zhudian map DB coverage --month M``: every household of the
   demo, 8,375) and, as a peer, the town zone map (``zhudian map DB zones``: same households, plus
   zones, areas and roads) with :func:`api.maps.run_map`, timing the write.
3. Open each map ``--runs`` times in headless Debian Chromium, offline, with the helper of the
   map tests (``tests/maps/browser.py``: fresh profile, network unreachable), alternating the two
   maps.  **Time to first render** = ``performance.now()`` (ms since navigation start) after the
   ``load`` event and two animation frames, i.e. once the canvas has drawn every vector layer; the
   page's ``first-contentful-paint`` is reported too.  Medians over the runs.  Console errors must
   be zero.

Targets (issue 5): town coverage map <= 5 MB and <= 3 s to first render.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "maps"))

from api.maps import MapRequest, run_map  # noqa: E402
from browser import chromium_binary, screenshot  # noqa: E402

TIMING_JS = ("JSON.stringify({now: performance.now(), fcp: (performance.getEntriesByName('first-contentful-paint')[0]"
             " || {}).startTime || null})")


def measure(path: Path, png: Path) -> dict:
    """One offline page load: ms to first render, ms to first contentful paint, console errors."""
    result = screenshot(path, png, settle_s=0.0, evaluate=TIMING_JS)
    value = json.loads(result.value)
    return {"render_ms": value["now"], "fcp_ms": value["fcp"], "errors": result.errors,
            "external": result.external_requests}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--db", default=str(ROOT / "out" / "demo" / "zhudian.db"))
    ap.add_argument("--month", default="2026-12")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    source = Path(args.db)
    if not source.exists():
        print(f"No demo store at {source}: run `make demo` first.", file=sys.stderr)
        return 2
    chromium = chromium_binary()
    version = subprocess.run([chromium, "--version"], capture_output=True, text=True).stdout.strip()
    maps = {"coverage (town)": {"kind": "coverage", "month": args.month}, "zones (town, peer)": {"kind": "zones"}}
    rows = {}
    with tempfile.TemporaryDirectory(prefix="zhudian-bench-maps-") as tmp:
        db = Path(tmp) / "zhudian.db"
        shutil.copy(source, db)
        for name, kw in maps.items():
            out = Path(tmp) / f"{kw['kind']}.html"
            start = time.perf_counter()
            report = run_map(db, MapRequest(out=out, **kw))
            rows[name] = {"path": out, "bytes": report["bytes"], "write_s": time.perf_counter() - start,
                          "households": report.get("households"), "runs": []}
        for run in range(args.runs):
            for name, row in rows.items():
                row["runs"].append(measure(row["path"], Path(tmp) / f"{run}.png"))
    result = {"chromium": version, "python": platform.python_version(), "machine": platform.machine(),
              "month": args.month, "runs": args.runs, "maps": {}}
    for name, row in rows.items():
        runs = row["runs"]
        result["maps"][name] = {
            "bytes": row["bytes"], "mb": round(row["bytes"] / 1e6, 2), "write_s": round(row["write_s"], 2),
            "render_ms_median": round(statistics.median(r["render_ms"] for r in runs)),
            "render_ms_all": [round(r["render_ms"]) for r in runs],
            "fcp_ms_median": round(statistics.median(r["fcp_ms"] or 0 for r in runs)),
            "console_errors": sum(len(r["errors"]) for r in runs),
            "external_requests": sum(len(r["external"]) for r in runs),
        }
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=2))
        return 0
    print(f"{version}, Python {result['python']}, {result['machine']}; median of {args.runs} offline loads")
    print(f"{'map':<20} {'HTML MB':>8} {'write s':>8} {'first render ms':>16} {'FCP ms':>7} {'errors':>7}  runs (ms)")
    for name, m in result["maps"].items():
        print(f"{name:<20} {m['mb']:>8.2f} {m['write_s']:>8.2f} {m['render_ms_median']:>16} {m['fcp_ms_median']:>7} "
              f"{m['console_errors']:>7}  {m['render_ms_all']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
