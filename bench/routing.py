"""Benchmark: session routing (planner.routing) on public VRPTW / TSP / CVRP instances.

Usage (from the repository root)::

    .venv/bin/python bench/routing.py solve FILE --seconds 10 [--engine pyvrp|ortools|vroom] --json
    .venv/bin/python bench/routing.py compare --seconds 10 [--engines pyvrp,ortools,vroom] \\
        [--data ../shared/data/bench] [--write]

``solve`` reads one Solomon (``.txt``), TSPLIB (``.tsp``, EUC_2D) or CVRPLIB (``.vrp``) file (see
:mod:`bench.instances` for the integer conventions), solves it and prints
``{"instance", "convention", "vehicles", "distance", "routes", ...}``: routes as lists of the
file's customer ids in visiting order, depot excluded (a TSP tour lists every city once, starting
with city 1). Extra keys: engine, budget, wall time, best-known value and gap, and the checker's
verdict. Every solution is re-checked by :func:`planner.check.check_routes` twice: as the planner
returned it, and rebuilt from the printed ids alone (earliest-start schedule, distance recomputed).

``compare`` runs every instance of the data folder with every engine, one solve at a time, each in
a fresh subprocess pinned to one core, the same budget for PyVRP and OR-Tools (VROOM takes no time
limit: ``exploration_level=5``, one thread; its own time is reported). It first waits (up to
``--wait-minutes``) until no other ``bench/`` process runs, so timings are not distorted. With
``--write`` the table goes to the "## Routing" section of docs/BENCHMARKS.md with the command.

VROOM (pyvroom) is a bench-only extra: ``.venv/bin/pip install -c constraints.txt pyvroom``.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.instances import (Instance, read_instance, result_from_routes,  # noqa: E402
                             route_distance)
from planner.check import check_routes  # noqa: E402
from planner.routing import solve_routes  # noqa: E402

DEFAULT_DATA = ROOT.parent / "shared" / "data" / "bench"
DOCS = ROOT / "docs" / "BENCHMARKS.md"
ENGINES = ("pyvrp", "ortools", "vroom")
FAMILY = {"solomon": "Solomon 100 (distance-only)", "tsplib": "TSPLIB EUC_2D",
          "cvrplib": "CVRPLIB X"}


# ---------------------------------------------------------------------------------------------
# One solve


def solve_vroom(inst: Instance, *, exploration_level: int = 5, threads: int = 1):
    """VROOM on the same matrices: durations as travel times, distances as its cost matrix.
    Returns the result (VROOM's own schedule) and VROOM's reported cost."""
    import vroom

    p = inst.problem
    nd = p.n_depots
    vin = vroom.Input()
    vin.set_durations_matrix("car", np.asarray(p.duration_s, dtype=np.uint32))
    vin.set_costs_matrix("car", np.asarray(p.distance_m, dtype=np.uint32))
    loads = p.demand is not None
    for v, veh in enumerate(p.vehicles):
        kw = {}
        if loads and veh.capacity is not None:
            kw["capacity"] = [int(veh.capacity)]
        vin.add_vehicle(vroom.Vehicle(v + 1, start=veh.start_depot, end=veh.end_depot,
                                      time_window=vroom.TimeWindow(veh.tw_early_s, veh.tw_late_s),
                                      **kw))
    for c in range(p.n_clients):
        kw = {}
        if loads:
            kw["delivery"] = vroom.Amount([int(p.demand[c])])
        tw = vroom.TimeWindow(int(p.tw_early_s[c]), int(min(p.tw_late_s[c], 2**32 - 1)))
        vin.add_job(vroom.Job(c + 1, location=nd + c, default_service=int(p.service_s[c]),
                              time_windows=[tw], **kw))
    sol = vin.solve(exploration_level=exploration_level, nb_threads=threads)
    df = sol.routes
    routes, times, starts, ends = [], [], [], []
    for _, g in df.groupby("vehicle_id", sort=True):
        jobs = g[g["type"] == "job"]
        if jobs.empty:
            continue
        routes.append([int(i) - 1 for i in jobs["id"]])
        service_start = (jobs["arrival"] + jobs["waiting_time"]).astype(int).tolist()
        times.append([(a, a + int(p.service_s[int(i) - 1]))
                      for a, i in zip(service_start, jobs["id"])])
        starts.append(int(g[g["type"] == "start"]["arrival"].iloc[0]))
        ends.append(int(g[g["type"] == "end"]["arrival"].iloc[0]))
    res = result_from_routes(inst, routes, engine="vroom", times=times, starts=starts, ends=ends)
    return res, int(sol.summary.cost)


def run_solve(path: Path, engine: str, seconds: float, seed: int) -> dict:
    inst = read_instance(path)
    p = inst.problem
    t0 = time.perf_counter()
    if engine == "vroom":
        res, _cost = solve_vroom(inst)
        wall = time.perf_counter() - t0
        violations = check_routes(p, res)
        res.seconds = wall
        solver_status = "vroom exploration_level=5, 1 thread"
    else:
        res = solve_routes(p, engine=engine, seconds=seconds, seed=seed)
        wall = time.perf_counter() - t0
        violations = list(res.violations)
        solver_status = res.solver_status
    orders = [r.clients for r in res.routes if r.visits]
    routes = inst.to_file_ids(orders)
    # independent re-check from the printed ids alone
    rebuilt = inst.from_file_ids(routes)
    again = check_routes(p, result_from_routes(inst, rebuilt))
    distance = route_distance(inst, rebuilt)
    if distance != res.distance_m:
        again.append(f"distance recomputed from the ids is {distance}, "
                     f"solver said {res.distance_m}")
    gap = None if not inst.bks else (distance - inst.bks) / inst.bks
    return {
        "instance": inst.name, "convention": inst.convention, "vehicles": len(orders),
        "distance": distance, "routes": routes, "engine": engine,
        "budget_s": None if engine == "vroom" else seconds, "time_s": round(wall, 3),
        "seed": seed, "bks": inst.bks, "gap": gap, "family": inst.kind,
        "n_clients": p.n_clients,
        "feasible": not violations and not again, "violations": violations + again,
        "solver_status": solver_status,
    }


# ---------------------------------------------------------------------------------------------
# Comparison


def instance_files(data: Path) -> list[Path]:
    files = []
    for sub, pattern in (("solomon", "*.txt"), ("tsplib", "*.tsp"), ("cvrp", "*.vrp")):
        files += sorted((data / sub).glob(pattern))
    return files


def _other_bench_processes() -> list[str]:
    mine = {os.getpid(), os.getppid()}
    out = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit() or int(d.name) in mine:
            continue
        try:
            cmd = (d / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if "bench/" in cmd and "bench/routing.py" not in cmd:
            out.append(f"{d.name}: {cmd.strip()[:120]}")
    return out


def wait_until_idle(minutes: float) -> None:
    deadline = time.monotonic() + minutes * 60
    while True:
        others = _other_bench_processes()
        if not others:
            return
        if time.monotonic() >= deadline:
            print(f"still busy after {minutes:g} min, running anyway: {others}", file=sys.stderr)
            return
        print(f"waiting for other benchmarks to finish: {others[:2]}", file=sys.stderr)
        time.sleep(60)


def _one_core() -> int:
    return max(os.sched_getaffinity(0))


def run_child(path: Path, engine: str, seconds: float, seed: int, core: int) -> dict:
    cmd = [sys.executable, str(Path(__file__).resolve()), "solve", str(path), "--engine", engine,
           "--seconds", str(seconds), "--seed", str(seed), "--json"]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT,
                          preexec_fn=lambda: os.sched_setaffinity(0, {core}))
    if proc.returncode != 0:
        return {"instance": path.stem, "engine": engine, "error": proc.stderr.strip()[-500:]}
    out = json.loads(proc.stdout)
    # and once more in this process, from the ids only
    inst = read_instance(path)
    rebuilt = inst.from_file_ids(out["routes"])
    bad = check_routes(inst.problem, result_from_routes(inst, rebuilt))
    if route_distance(inst, rebuilt) != out["distance"]:
        bad.append("distance does not match the routes")
    out["parent_check"] = bad
    out["feasible"] = out["feasible"] and not bad
    return out


def _versions() -> str:
    parts = []
    for pkg in ("pyvrp", "ortools", "pyvroom", "numpy"):
        try:
            parts.append(f"{pkg} {metadata.version(pkg)}")
        except metadata.PackageNotFoundError:
            parts.append(f"{pkg} (not installed)")
    return ", ".join(parts)


def _fmt_gap(g: float | None) -> str:
    return "n/a" if g is None else f"{100 * g:.2f}%"


def table(rows: list[dict], engines: list[str], seconds: float) -> str:
    by = {(r["instance"], r["engine"]): r for r in rows}
    names = list(dict.fromkeys(r["instance"] for r in rows))
    head = ["instance", "BKS"]
    for e in engines:
        head.append(f"{e} (its time)" if e == "vroom" else f"{e} {seconds:g} s")
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    fam_of = {}
    for name in names:
        any_row = next(r for r in rows if r["instance"] == name)
        fam_of[name] = any_row.get("family", "?")
        cells = [name, str(any_row.get("bks", ""))]
        for e in engines:
            r = by.get((name, e))
            if r is None or "error" in r:
                cells.append("error")
                continue
            txt = f"{r['distance']} ({_fmt_gap(r['gap'])}, {r['vehicles']} veh)"
            if e == "vroom":
                txt += f" {r['time_s']:.1f} s"
            if not r["feasible"]:
                txt += " **infeasible**"
            cells.append(txt)
        lines.append("| " + " | ".join(cells) + " |")
    # family summary
    lines.append("")
    head2 = ["family (instances)"] + [f"{e}: mean / max gap" for e in engines]
    lines += ["| " + " | ".join(head2) + " |", "|" + "---|" * len(head2)]
    for fam in dict.fromkeys(fam_of.values()):
        members = [n for n in names if fam_of[n] == fam]
        cells = [f"{FAMILY.get(fam, fam)} ({len(members)})"]
        for e in engines:
            gaps = [by[(n, e)]["gap"] for n in members
                    if (n, e) in by and "error" not in by[(n, e)] and by[(n, e)]["gap"] is not None]
            cells.append(f"{_fmt_gap(statistics.mean(gaps))} / {_fmt_gap(max(gaps))}"
                         if gaps else "n/a")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def write_docs(text: str, docs: Path = DOCS) -> None:
    """Put ``text`` (starting with "## Routing") in docs: replace that section if present,
    else append it."""
    body = docs.read_text() if docs.exists() else "# Benchmarks\n"
    start = body.find("\n## Routing\n")
    if start < 0:
        body = body.rstrip("\n") + "\n\n" + text.rstrip("\n") + "\n"
    else:
        end = body.find("\n## ", start + 1)
        rest = body[end:] if end >= 0 else "\n"
        body = body[:start] + "\n" + text.rstrip("\n") + "\n" + rest
    docs.write_text(body)


TARGETS = [  # (label, family, max cities or None, statistic, limit): the default-engine targets
    ("Solomon 100 mean gap", "solomon", None, "mean", 0.005),
    ("Solomon 100 max gap", "solomon", None, "max", 0.010),
    ("TSPLIB <= 100 cities", "tsplib", 100, "max", 0.001),
    ("TSPLIB <= 300 cities", "tsplib", 300, "max", 0.010),
    ("CVRPLIB X-n101", "cvrplib", None, "max", 0.010),
]


def targets(rows: list[dict], engine: str = "pyvrp") -> str:
    lines = []
    for label, fam, max_n, stat, limit in TARGETS:
        gaps = [r["gap"] for r in rows if r.get("engine") == engine and r.get("family") == fam
                and r.get("gap") is not None and r.get("feasible")
                and (max_n is None or r.get("n_clients", 0) + 1 <= max_n)]
        if not gaps:
            continue
        value = statistics.mean(gaps) if stat == "mean" else max(gaps)
        verdict = "met" if value <= limit else "**not met**"
        lines.append(f"- {label}: {_fmt_gap(value)} (target <= {100 * limit:g}%): {verdict}")
    return "\n".join(lines)


def docs_section(rows: list[dict], engines: list[str], seconds: float, command: str,
                 total_s: float, busy: list[str]) -> str:
    n_ok = sum(1 for r in rows if r.get("feasible"))
    quiet = ("no other `bench/` process was seen during the run" if not busy else
             f"other `bench/` processes were running during {len(busy)} of {len(rows)} solves "
             "(times and results may be distorted)")
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"""## Routing

What it measures: the quality of `planner.routing.solve_routes` (engines PyVRP, the default, and
OR-Tools routing) on public instances, at the same time budget, side by side in one run with VROOM
(pyvroom, a bench-only extra). Re-run with:

```
{command}
```

One instance: `.venv/bin/python bench/routing.py solve FILE --seconds N [--engine E] --json`.

**Instances and conventions** (`bench/instances.py`, best-known values from `BKS.md` and the
`.sol` file): Solomon 100 in the distance-only convention (distances and times floor(10 x
euclidean), objective = total distance x 10, fleet = the file's 25 vehicles); TSPLIB EUC_2D
(nint), one vehicle from city 1; CVRPLIB X (nint, capacity, as many vehicles as customers).

**Method.** One solve at a time, each in a fresh subprocess pinned to one core (PyVRP and OR-Tools
are single-threaded, VROOM runs with one thread); seed 0; the run waited until no other `bench/`
process was running, and {quiet}.
PyVRP and OR-Tools get {seconds:g} s of search each (plus model building);
VROOM has no time limit (`exploration_level=5`) and its own wall time is shown. Every solution is
checked by `planner.check.check_routes` (time windows, returns, capacity, each customer once),
twice: as returned, and rebuilt from the printed customer ids; {n_ok} of {len(rows)} passed.
Gap = (distance - best known) / best known.

Run of {_dt.date.today().isoformat()}, {cpu}, {os.cpu_count()} cores (shared), Python
{platform.python_version()}, {_versions()} (total bench time {total_s / 60:.1f} min):

{table(rows, engines, seconds)}

Targets of the issue for the default engine (PyVRP, {seconds:g} s):
{targets(rows)}

Reading it:
- **PyVRP** (defaults, `MaxRuntime`, seed 0) matches the best known on every instance except
  RC101, where it settles in a 16-route local optimum (16342, 0.89%); the best known uses
  15 routes. Runs with a smaller fleet (16-18 vehicles available instead of the file's 25) reach
  16198 with about half of the seeds: the landscape is bimodal, so this instance is the one to
  watch. For a single vehicle (a TSP, or one session) the planner perturbs 10-50 clients per
  iteration instead of PyVRP's default 1-25: with the default, kroA100 stayed at 21557 (1.29%)
  for seeds 0 and 2; with 10-50 it was optimal for each of seeds 0-8.
- **OR-Tools routing** uses the issue's set-up (distance matrix via `RegisterTransitMatrix`,
  `PATH_CHEAPEST_ARC` then guided local search, every customer a disjunction with a penalty
  larger than any saving). It solves the TSPs and C101 but trails on time windows and capacity
  (2-6% on RC101, R201 and X-n101), as measured before the work (`notes/routing.md`).
- **VROOM** has no time limit here; it is fast (0.5-4 s) and 0-2.6% above the best known.
"""


def run_compare(args) -> int:
    data = Path(args.data)
    files = instance_files(data)
    if not files:
        print(f"no instances under {data}", file=sys.stderr)
        return 2
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    for e in engines:
        if e not in ENGINES:
            print(f"unknown engine {e!r}", file=sys.stderr)
            return 2
    if args.wait_minutes > 0:
        wait_until_idle(args.wait_minutes)
    core = _one_core()
    rows = []
    busy: list[str] = []
    t0 = time.perf_counter()
    for path in files:
        for e in engines:
            r = run_child(path, e, args.seconds, args.seed, core)
            rows.append(r)
            others = _other_bench_processes()
            if others:
                busy.append(f"{path.name} {e}: {others[0]}")
                print(f"note: another benchmark is running: {others[0]}", file=sys.stderr)
            if "error" in r:
                print(f"{path.name:14s} {e:8s} ERROR {r['error'][-200:]}", file=sys.stderr)
            else:
                print(f"{r['instance']:12s} {e:8s} {r['distance']:>8d} gap {_fmt_gap(r['gap']):>7s}"
                      f" veh {r['vehicles']:>3d} {r['time_s']:6.1f} s "
                      f"{'ok' if r['feasible'] else 'INFEASIBLE ' + str(r['violations'][:2])}",
                      file=sys.stderr)
    total = time.perf_counter() - t0
    print(table(rows, engines, args.seconds), file=sys.stderr)
    if "pyvrp" in engines:
        print(targets(rows), file=sys.stderr)
    if args.json:
        print(json.dumps(rows))
    if args.write:
        command = (f".venv/bin/python bench/routing.py compare --seconds {args.seconds:g} "
                   f"--engines {','.join(engines)} --write")
        write_docs(docs_section(rows, engines, args.seconds, command, total, busy))
        print(f"written to {DOCS}", file=sys.stderr)
    return 0 if all(r.get("feasible") for r in rows) else 1


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("solve", help="solve one instance file")
    s.add_argument("file")
    s.add_argument("--seconds", type=float, default=10.0)
    s.add_argument("--engine", choices=ENGINES, default="pyvrp")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--json", action="store_true", help="print the JSON result")
    c = sub.add_parser("compare", help="all instances x engines, side by side")
    c.add_argument("--seconds", type=float, default=10.0)
    c.add_argument("--engines", default="pyvrp,ortools,vroom")
    c.add_argument("--data", default=str(DEFAULT_DATA))
    c.add_argument("--seed", type=int, default=0)
    c.add_argument("--wait-minutes", type=float, default=30.0,
                   help="wait up to this long for other bench/ processes to finish (0: don't)")
    c.add_argument("--json", action="store_true", help="also print all rows as JSON on stdout")
    c.add_argument("--write", action="store_true",
                   help="write the table to the '## Routing' section of docs/BENCHMARKS.md")
    args = ap.parse_args(argv)
    if args.cmd == "solve":
        out = run_solve(Path(args.file), args.engine, args.seconds, args.seed)
        if args.json:
            print(json.dumps(out))
        else:
            verdict = "feasible" if out["feasible"] else out["violations"]
            print(f"{out['instance']} [{out['engine']}] distance {out['distance']} "
                  f"vehicles {out['vehicles']} gap {_fmt_gap(out['gap'])} "
                  f"time {out['time_s']:.1f} s {verdict}")
        return 0 if out["feasible"] else 1
    return run_compare(args)


if __name__ == "__main__":
    sys.exit(main())
