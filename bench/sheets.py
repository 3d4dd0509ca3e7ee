"""Benchmark: every printed sheet of a month for the demo (all villages, all groups).

Usage (from the repository root, after ``make demo``, which leaves a store with zones and the
December 2026 plan in ``out/demo/zhudian.db``)::

    .venv/bin/python bench/sheets.py                    # table on stdout
    .venv/bin/python bench/sheets.py --cards --json     # with contact cards; JSON on stdout

Each run copies the store to a new temporary folder (the demo store is never written) and runs
``zhudian sheets COPY --month 2026-12 --out TMP/pdf`` as a fresh process, as a user would: route
sheets per group (cover + one A4 page per session), the A3 zone map per village, and with
``--cards`` the contact cards.  Reported per run: wall time of the process (interpreter start and
imports included), the job's own time from its JSON report, files, pages and total bytes; the
median of the runs (default 3) is the headline.  The pages are checked on the way (``pdffonts``:
every font embedded), so a fast run that wrote broken PDFs does not count.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DB = ROOT / "out" / "demo" / "zhudian.db"
MONTH = "2026-12"


def _fonts_embedded(pdf: Path) -> bool:
    lines = subprocess.run(["pdffonts", str(pdf)], capture_output=True, text=True, check=True).stdout.splitlines()[2:]
    return bool(lines) and all(line.split()[-5] == "yes" for line in lines)


def run_once(db: Path, *, cards: bool) -> dict:
    """One timed ``zhudian sheets`` run on a copy of ``db``."""
    exe = Path(sys.executable).parent / "zhudian"
    with tempfile.TemporaryDirectory(prefix="zhudian-bench-sheets-") as tmp:
        copy = Path(tmp) / "zhudian.db"
        shutil.copy(db, copy)
        out = Path(tmp) / "pdf"
        cmd = [str(exe), "sheets", str(copy), "--month", MONTH, "--out", str(out), "--json"] + (["--cards"] if cards else [])
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "PYTHONIOENCODING": "utf-8"})
        wall = time.perf_counter() - t0
        if proc.returncode != 0:
            raise SystemExit(f"zhudian sheets failed ({proc.returncode}):\n{proc.stderr}")
        report = json.loads(proc.stdout)
        files = report["files"]
        broken = [f["path"] for f in files if not _fonts_embedded(Path(f["path"]))]
        if broken:
            raise SystemExit(f"fonts not embedded in: {', '.join(broken)}")
        kinds: dict[str, dict] = {}
        for f in files:
            k = kinds.setdefault(f["kind"], {"files": 0, "pages": 0, "bytes": 0})
            k["files"] += 1
            k["pages"] += f["pages"]
            k["bytes"] += f["bytes"]
        return {"wall_s": round(wall, 2), "job_s": report["seconds"], "files": len(files),
                "pages": sum(f["pages"] for f in files), "bytes": sum(f["bytes"] for f in files), "by_kind": kinds}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--db", type=Path, default=DB, help=f"store with zones and a {MONTH} plan (default {DB})")
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--cards", action="store_true", help="also write contact cards")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    if not args.db.exists():
        raise SystemExit(f"{args.db} not found: run `make demo` first (it plans {MONTH} for the demo).")
    runs = [run_once(args.db, cards=args.cards) for _ in range(args.runs)]
    med = {k: statistics.median(r[k] for r in runs) for k in ("wall_s", "job_s")}
    result = {"month": MONTH, "cards": args.cards, "runs": runs, "median": med,
              "machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                          "load_avg": [round(x, 1) for x in os.getloadavg()]}}
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    last = runs[-1]
    print(f"zhudian sheets {args.db.name} --month {MONTH}{' --cards' if args.cards else ''}: "
          f"{last['files']} PDFs, {last['pages']} pages, {last['bytes'] / 1e6:.1f} MB")
    for kind, k in last["by_kind"].items():
        print(f"  {kind:13s} {k['files']:3d} files {k['pages']:4d} pages {k['bytes'] / 1e6:6.1f} MB")
    walls = ", ".join(f"{r['wall_s']:.1f}" for r in runs)
    jobs = ", ".join(f"{r['job_s']:.1f}" for r in runs)
    print(f"wall (process) median {med['wall_s']:.1f} s  runs {walls}")
    print(f"job  (report)  median {med['job_s']:.1f} s  runs {jobs}")
    print(f"python {platform.python_version()}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
