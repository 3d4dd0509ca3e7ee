"""Benchmark: zoning (splitting a village among its "2+1" groups), our solver vs baselines.

Usage (from the repository root)::

    .venv/bin/python bench/zoning.py                   # --town --demo --tradeoff
    .venv/bin/python bench/zoning.py --town --seconds 5
    .venv/bin/python bench/zoning.py --demo --json     # JSON on stdout, tables on stderr

Every method runs on the same :class:`planner.zones.ZoningProblem` objects in the same run, one
village at a time (each village is zoned for its own team):

- ``zhudian``: :func:`planner.zoning.solve_zoning` at ``--tolerance`` (default ±3 %), ``--seconds``
  per village;
- ``ckmeans``: capacitated k-means on additive household workloads (:mod:`bench.baselines`);
- ``metis``: METIS k-way on the household graph, contig on, ufactor 3 % (the notes' d1);
- ``metis-free``: the same without the contig option;
- ``kmeans``: unbalanced k-means, for reference.

Instances
    ``--town``: the seeded synthetic town of :func:`bench.synth.make_town` (30 villages, 15,000
    households, 60 groups) plus one synthetic village of 3,000 households and 12 groups;
    ``--demo``: the demo villages of ``data/demo/*.gpkg`` (k = one group per ~800 households, at
    least 1), walking distances on the demo roads.

Metrics (all computed here, the same way for every method, from the assignment alone)
    workload of a zone = its visit minutes + the minimum spanning tree of its households' walking
    distances / walking speed; max/min, CV (std / mean), max deviation from the village mean;
    contiguous zones (the zone's households connected by household-graph edges inside the zone);
    units split and excess pieces = Σ_units max(0, zones touching the unit − ⌈W_u / (1.05 T)⌉)
    over natural villages and compounds (the scattered-households unit is not counted); mean
    walking distance from a household to its zone's medoid; time = median of ``--repeats`` runs
    (each method starts from the problem: baselines include their workload preprocessing).
    Villages with one group are trivially balanced; they count in the totals but not in "worst".

``--tradeoff``: our solver at ±2/5/10/15 % on the town (excess pieces and realised deviation per
band), and re-solve times on the town's village with most groups: after locking one natural
village to a neighbouring zone, and after a small data change (2 % of households dropped, 2 % new
ones added next to existing ones), both with ``previous=`` the earlier zones.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from scipy import sparse
from scipy.optimize import linear_sum_assignment
from scipy.sparse.csgraph import connected_components

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import baselines  # noqa: E402
from bench.synth import make_town, make_village  # noqa: E402
from geo.adjacency import dense_mst  # noqa: E402
from planner.zones import ZoningParams, ZoningProblem  # noqa: E402

DEMO = ROOT / "data" / "demo"
BANDS = (0.02, 0.05, 0.10, 0.15)
REFERENCE = "metis"


# ---------------------------------------------------------------------- metrics


def mst_length(d: np.ndarray) -> float:
    return float(dense_mst(d)[1].sum())


def evaluate(problem: ZoningProblem, assignment: np.ndarray) -> dict:
    """Metrics of one village's zones (see the module docstring)."""
    a = np.asarray(assignment, dtype=np.int64)
    k, n = problem.n_groups, problem.n
    walk = problem.walk_m
    speed = problem.walk_speed_m_per_min
    service = np.asarray(problem.service_min, dtype=np.float64)
    e = np.asarray(problem.edges, dtype=np.int64).reshape(-1, 2)
    adj = sparse.coo_array((np.ones(len(e)), (e[:, 0], e[:, 1])), shape=(n, n)).tocsr()
    loads = np.zeros(k)
    contiguous = 0
    medoid_sum = 0.0
    for z in range(k):
        idx = np.flatnonzero(a == z)
        if len(idx) == 0:
            continue
        sub = walk[np.ix_(idx, idx)]
        loads[z] = service[idx].sum() + mst_length(sub) / speed
        if connected_components(adj[idx][:, idx], directed=False)[0] == 1:
            contiguous += 1
        medoid_sum += float(sub.sum(axis=1, dtype=np.float64).min())
    mean = float(loads.mean())
    maxmin = float(loads.max() / loads.min()) if loads.min() > 0 else math.inf
    unit_of = np.asarray(problem.unit_of)
    split = excess = 0
    for u, kind in enumerate(problem.unit_kinds):
        if kind == "scattered":
            continue
        idx = np.flatnonzero(unit_of == u)
        if len(idx) == 0:
            continue
        pieces = len(np.unique(a[idx]))
        if pieces > 1:
            split += 1
            w_u = service[idx].sum() + mst_length(walk[np.ix_(idx, idx)]) / speed
            excess += max(0, pieces - math.ceil(w_u / (1.05 * mean)))
    return {
        "n": n, "k": k, "loads": loads.round(1).tolist(),
        "maxmin": maxmin,
        "cv": float(loads.std() / mean) if mean > 0 else 0.0,
        "maxdev": float(np.max(np.abs(loads / mean - 1))) if mean > 0 else 0.0,
        "contiguous": contiguous, "units_split": split, "excess": excess,
        "medoid_m": medoid_sum / n if n else 0.0, "medoid_sum": medoid_sum,
    }


def moved_after_relabel(before: np.ndarray, after: np.ndarray, k: int) -> int:
    """Households whose zone changed, after the best renumbering of the new zones."""
    both = (before >= 0) & (after >= 0)
    overlap = np.zeros((k, k))
    np.add.at(overlap, (after[both], before[both]), 1)
    r, c = linear_sum_assignment(-overlap)
    return int(both.sum() - overlap[r, c].sum())


# ---------------------------------------------------------------------- methods


def _zhudian(tolerance: float, seconds: float) -> Callable:
    from planner.zoning import solve_zoning

    def run(problem: ZoningProblem, seed: int):
        res = solve_zoning(problem, ZoningParams(tolerance=tolerance, seconds=seconds, seed=seed))
        info = {"status": res.status, "solver_status": res.solver_status,
                "self_excess": res.excess_pieces, "self_maxdev": res.max_deviation,
                "reasons": res.reasons[:3]}
        return (res.assignment if res.ok else None), info
    return run


def _baseline(fn: Callable, **kw) -> Callable:
    def run(problem: ZoningProblem, seed: int):
        return fn(problem, seed=seed, **kw), {}
    return run


def methods(args) -> dict[str, Callable]:
    out = {"zhudian": _zhudian(args.tolerance, args.seconds),
           "ckmeans": _baseline(baselines.ckmeans_zones),
           "metis": _baseline(baselines.metis_zones, ufactor=int(round(args.tolerance * 1000))),
           "metis-free": _baseline(baselines.metis_zones, contiguous=False,
                                   ufactor=int(round(args.tolerance * 1000))),
           "kmeans": _baseline(baselines.kmeans_zones)}
    return {m: f for m, f in out.items() if m in args.methods}


def run_set(name: str, problems: list[tuple[str, ZoningProblem]], runners: dict, args,
            log) -> dict:
    """Every method on every problem; per-village metrics and the set's summary per method."""
    per: dict[str, list[dict]] = {m: [] for m in runners}
    for label, problem in problems:
        for m, run in runners.items():
            times, first, info, same = [], None, {}, True
            for r in range(args.repeats):
                t0 = time.perf_counter()
                try:
                    a, inf = run(problem, args.seed)
                except Exception as exc:  # a failing method is a result
                    a, inf = None, {"status": "error", "error": f"{type(exc).__name__}: {exc}"}
                times.append(time.perf_counter() - t0)
                if r == 0:
                    first, info = a, inf
                elif a is not None:
                    same = same and np.array_equal(a, first)
                if a is None:
                    break
            row = {"village": label, "n": problem.n, "k": problem.n_groups,
                   "seconds": statistics.median(times), "same_across_repeats": same, **info}
            if first is not None:
                row.update(evaluate(problem, first))
            per[m].append(row)
            log(f"  {name} {label:>14} n={problem.n:5d} k={problem.n_groups:2d} {m:>10}: "
                + (f"max/min {row['maxmin']:.3f} dev {row['maxdev']:.1%} contig "
                   f"{row['contiguous']}/{row['k']} excess {row['excess']} "
                   if first is not None else f"FAILED {info} ")
                + f"{row['seconds']:.2f} s")
    summary = {m: summarise(rows) for m, rows in per.items()}
    ref = summary.get(REFERENCE, {}).get("seconds")
    for s in summary.values():
        s["x_ref"] = s["seconds"] / ref if ref else None
    if "ckmeans" in per:  # compactness against capacitated k-means, on villages both solved
        base = {r["village"]: r for r in per["ckmeans"] if "maxmin" in r and r["k"] > 1}
        for m, rows in per.items():
            both = [(r, base[r["village"]]) for r in rows
                    if "maxmin" in r and r["village"] in base]
            den = sum(b["medoid_sum"] for _, b in both)
            summary[m]["medoid_vs_ckmeans"] = (sum(r["medoid_sum"] for r, _ in both) / den
                                               if den else None)
    return {"name": name, "villages": len(problems),
            "households": int(sum(p.n for _, p in problems)),
            "groups": int(sum(p.n_groups for _, p in problems)),
            "summary": summary, "per_village": per}


def summarise(rows: list[dict]) -> dict:
    ok = [r for r in rows if "maxmin" in r]
    multi = [r for r in ok if r["k"] > 1]
    n_total = sum(r["n"] for r in ok)
    out = {
        "solved": len(ok), "villages": len(rows),
        "maxmin_worst": max((r["maxmin"] for r in multi), default=1.0),
        "maxmin_mean": statistics.fmean(r["maxmin"] for r in multi) if multi else 1.0,
        "cv_mean": statistics.fmean(r["cv"] for r in multi) if multi else 0.0,
        "maxdev_worst": max((r["maxdev"] for r in multi), default=0.0),
        "maxdev_mean": statistics.fmean(r["maxdev"] for r in multi) if multi else 0.0,
        "within_3": sum(r["maxdev"] <= 0.03 + 1e-9 for r in multi),
        "within_5": sum(r["maxdev"] <= 0.05 + 1e-9 for r in multi),
        "multi": len(multi),
        "contiguous": sum(r["contiguous"] for r in ok), "zones": sum(r["k"] for r in ok),
        "units_split": sum(r["units_split"] for r in ok),
        "excess": sum(r["excess"] for r in ok),
        "medoid_m": sum(r["medoid_sum"] for r in ok) / n_total if n_total else 0.0,
        "seconds": sum(r["seconds"] for r in rows),
        "reproducible": sum(r["same_across_repeats"] for r in ok),
        "seconds_max_village": max((r["seconds"] for r in rows), default=0.0),
    }
    return out


# ---------------------------------------------------------------------- instances


def town_problems(seed: int, graph: str = "geo") -> tuple[list[tuple[str, ZoningProblem]], list,
                                                           float]:
    t0 = time.perf_counter()
    town = make_town(seed)
    problems = [(v.name, v.to_problem(graph=graph)) for v in town]
    return problems, town, time.perf_counter() - t0


def big_village(seed: int):
    v = make_village(np.random.default_rng([seed, 999]), n_households=3000, n_units=15,
                     n_compounds=3, n_groups=12, name=f"T{seed:02d}-BIG")
    return v


def demo_problems(households_per_group: int = 800,
                  graph: str = "geo") -> tuple[list[tuple[str, ZoningProblem]], str]:
    """Demo villages as zoning problems (k = one group per ~800 households, at least 1).

    Reads ``data/demo/*.gpkg`` and places households in areas with :func:`geo.assemble.assemble`
    (what the import does), then builds each village's problem with the product's own
    ``api.zoning.build_problem`` (roads within ~1 km of the village, as ``zone_village`` loads
    them; 10 visit minutes per household).  Without ``api/zoning.py`` (or with
    ``graph="bench"``) the problem is built here: UTM, walking matrix on the demo roads,
    :func:`bench.synth.household_graph`, 10 minutes + 5 for a tagged household.
    """
    import geopandas as gpd
    import shapely

    from geo import assemble, read

    villages = read.read_villages(DEMO / "villages.gpkg")
    areas = read.read_areas(DEMO / "areas.gpkg")
    homes = read.read_households(DEMO / "households.gpkg")
    roads = read.read_roads(DEMO / "roads.gpkg").frame
    asm = assemble.assemble(villages=villages, areas=areas, households=homes)
    hh, ar = asm.households, asm.areas
    build = None
    if graph == "geo":
        try:
            from api.zoning import build_problem as build
        except ImportError:
            build = None
    out = []
    if build is not None:
        for vid, frame in hh.groupby("village_id", sort=True):
            frame = frame.sort_values("household_id").reset_index(drop=True)
            k = max(1, int(round(len(frame) / households_per_group)))
            b = frame.total_bounds
            pad = 0.01
            near = roads.cx[b[0] - pad:b[2] + pad, b[1] - pad:b[3] + pad]
            out.append((str(vid), build(frame, ar[ar["village_id"] == vid], near, k)))
        return out, "api.zoning.build_problem"

    from bench.synth import SERVICE_MIN, TAG_EXTRA_MIN, household_graph
    from geo.crs import utm_crs
    from geo.network import WalkingParams, WalkNetwork, travel_matrices

    c = hh.geometry.union_all().centroid
    crs = utm_crs(np.array([c.x]), np.array([c.y]))
    hh = hh.to_crs(crs)
    net = WalkNetwork.from_lines(gpd.GeoSeries(roads.geometry).to_crs(crs))
    walking = WalkingParams()
    for vid, frame in hh.groupby("village_id", sort=True):
        frame = frame.sort_values("household_id")
        va = ar[ar["village_id"] == vid].sort_values("area_id")
        unit_ids = list(va["area_id"])
        pos = {a: i for i, a in enumerate(unit_ids)}
        xy = shapely.get_coordinates(frame.geometry.values)
        walk = travel_matrices(xy, net, params=walking).distance_m
        tags = frame["tags"].fillna("").astype(str).str.len().to_numpy() > 0
        k = max(1, int(round(len(frame) / households_per_group)))
        out.append((str(vid), ZoningProblem(
            household_ids=list(frame["household_id"]),
            unit_of=np.array([pos[a] for a in frame["area_id"]], dtype=np.int64),
            unit_ids=unit_ids, unit_kinds=list(va["kind"]),
            service_min=SERVICE_MIN + TAG_EXTRA_MIN * tags.astype(np.float64),
            walk_m=walk, edges=household_graph(xy, walk), xy=xy, n_groups=k,
            walk_speed_m_per_min=walking.speed_kmh * 1000 / 60)))
    return out, "bench (geo.assemble + geo.network + bench.synth.household_graph)"


# ---------------------------------------------------------------------- trade-off and re-solve


def tradeoff(problems: list[tuple[str, ZoningProblem]], args, log) -> list[dict]:
    from planner.zoning import solve_zoning

    rows = []
    multi = [(lab, p) for lab, p in problems if p.n_groups > 1]
    for tol in BANDS:
        per = []
        for label, p in multi:
            t0 = time.perf_counter()
            try:
                res = solve_zoning(p, ZoningParams(tolerance=tol, seconds=args.seconds,
                                                   seed=args.seed))
                ok = res.ok
            except Exception as exc:
                ok, res = False, None
                log(f"  tradeoff ±{tol:.0%} {label}: {type(exc).__name__}: {exc}")
            sec = time.perf_counter() - t0
            r = {"village": label, "seconds": sec, "ok": ok}
            if ok:
                r.update(evaluate(p, res.assignment))
                r.update(self_excess=res.excess_pieces, solver_status=res.solver_status,
                         status=res.status)
            per.append(r)
        ok = [r for r in per if r["ok"]]
        row = {
            "band": tol, "villages": len(per), "solved": len(ok),
            "excess": sum(r["excess"] for r in ok),
            "self_excess": sum(r["self_excess"] for r in ok),
            "villages_with_excess": sum(r["excess"] > 0 for r in ok),
            "units_split": sum(r["units_split"] for r in ok),
            "maxdev_worst": max((r["maxdev"] for r in ok), default=float("nan")),
            "maxdev_mean": statistics.fmean(r["maxdev"] for r in ok) if ok else float("nan"),
            "within_band": sum(r["maxdev"] <= tol + 1e-9 for r in ok),
            "contiguous": sum(r["contiguous"] for r in ok), "zones": sum(r["k"] for r in ok),
            "optimal": sum(r.get("status") == "optimal" for r in ok),
            "medoid_m": (sum(r["medoid_sum"] for r in ok) / sum(r["n"] for r in ok)) if ok else 0,
            "seconds": sum(r["seconds"] for r in per),
            "per_village": per,
        }
        rows.append(row)
        log(f"  tradeoff ±{tol:.0%}: excess {row['excess']} (solver says {row['self_excess']}), "
            f"worst dev {row['maxdev_worst']:.1%}, contig {row['contiguous']}/{row['zones']}, "
            f"{row['seconds']:.1f} s")
    return rows


def resolve(town, args, log) -> dict:
    """Re-solve times after a lock and after a data change, on the town village with most groups
    whose first solve is within the band and contiguous (else the first that was solved)."""
    from planner.zoning import solve_zoning

    params = ZoningParams(tolerance=args.tolerance, seconds=args.seconds, seed=args.seed)
    tried = []
    chosen = None
    for v in sorted(town, key=lambda v: (-v.n_groups, -v.n))[:6]:
        p = v.to_problem(graph=args.graph)
        t0 = time.perf_counter()
        base = solve_zoning(p, params)
        sec = time.perf_counter() - t0
        m = evaluate(p, base.assignment) if base.ok else None
        good = (m is not None and m["maxdev"] <= args.tolerance + 1e-9
                and m["contiguous"] == p.n_groups)
        tried.append({"village": v.name, "k": p.n_groups, "status": base.status,
                      "maxdev": m["maxdev"] if m else None, "seconds": sec})
        if good or (chosen is None and base.ok):
            chosen = (v, p, base, sec)
        if good:
            break
    out = {"tried": tried}
    if chosen is None:
        out["error"] = "no village of the town could be zoned to start from"
        return out
    v, p, base, sec = chosen
    out.update(village=v.name, n=p.n, k=p.n_groups, first_seconds=sec,
               first_status=base.status, first_maxdev=evaluate(p, base.assignment)["maxdev"])
    log(f"  re-solve: starting from {v.name} (k={p.n_groups}); tried {tried}")
    a0 = base.assignment

    # lock: a whole natural village moved to a zone it touches (the smallest such village)
    e = np.asarray(p.edges)
    unit_of = np.asarray(p.unit_of)
    cand = []
    for u, kind in enumerate(p.unit_kinds):
        if kind == "scattered":
            continue
        idx = np.flatnonzero(unit_of == u)
        zs = np.unique(a0[idx])
        if len(zs) != 1:
            continue
        inside = np.isin(e, idx)
        touching = a0[e[inside[:, 0] ^ inside[:, 1]]]
        others = sorted(set(touching.reshape(-1).tolist()) - {int(zs[0])})
        if others:
            cand.append((float(p.service_min[idx].sum()), u, others[0]))
    lock = {}
    if cand:
        _, u, z = min(cand)
        lock = {int(u): int(z)}
    else:  # no whole unit on a border: lock unit 0 to another zone
        lock = {0: int((np.bincount(a0[unit_of == 0]).argmax() + 1) % p.n_groups)}
    (u, z), = lock.items()
    lp = ZoningParams(tolerance=args.tolerance, seconds=args.seconds, seed=args.seed,
                      unit_locks=lock, previous=a0)
    times, res = [], None
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        r = solve_zoning(p, lp)
        times.append(time.perf_counter() - t0)
        res = res or r
    row = {"unit": p.unit_ids[u], "unit_households": int((unit_of == u).sum()), "to_zone": z,
           "seconds": statistics.median(times), "status": res.status,
           "solver_status": res.solver_status}
    if res.ok:
        m = evaluate(p, res.assignment)
        row.update(moved=int((res.assignment != a0).sum()),
                   lock_held=bool((res.assignment[unit_of == u] == z).all()),
                   maxdev=m["maxdev"], contiguous=m["contiguous"], excess=m["excess"])
    out["lock"] = row
    log(f"  re-solve after lock {row}")

    # data change: 2 % dropped, 2 % added
    v2, origin = v.perturb(np.random.default_rng([args.seed, 7]))
    t0 = time.perf_counter()
    p2 = v2.to_problem(graph=args.graph)
    geo_s = time.perf_counter() - t0
    prev = np.where(origin >= 0, a0[np.maximum(origin, 0)], -1)
    dp = ZoningParams(tolerance=args.tolerance, seconds=args.seconds, seed=args.seed,
                      previous=prev)
    times, res = [], None
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        r = solve_zoning(p2, dp)
        times.append(time.perf_counter() - t0)
        res = res or r
    row = {"dropped": int(p.n - (origin >= 0).sum()), "added": int((origin < 0).sum()),
           "matrix_and_graph_seconds": geo_s, "seconds": statistics.median(times),
           "status": res.status, "solver_status": res.solver_status}
    if res.ok:
        m = evaluate(p2, res.assignment)
        row.update(moved=int(((prev >= 0) & (res.assignment != prev)).sum()),
                   self_moved=res.moved, maxdev=m["maxdev"], contiguous=m["contiguous"],
                   excess=m["excess"])
    t0 = time.perf_counter()
    fresh = solve_zoning(p2, ZoningParams(tolerance=args.tolerance, seconds=args.seconds,
                                          seed=args.seed))
    row["fresh_seconds"] = time.perf_counter() - t0
    if fresh.ok:
        row["fresh_moved_relabelled"] = moved_after_relabel(prev, fresh.assignment, p.n_groups)
    out["data_change"] = row
    log(f"  re-solve after data change {row}")
    return out


# ---------------------------------------------------------------------- output


METHOD_NOTES = {
    "zhudian": "planner.zoning.solve_zoning",
    "ckmeans": "capacitated k-means (min-cost flow + Lloyd), additive minutes",
    "metis": "METIS k-way, contig, intra-unit edges x20",
    "metis-free": "METIS k-way, no contig option",
    "kmeans": "k-means, unbalanced",
}


def format_set(res: dict) -> str:
    head = (f"{res['name']}: {res['villages']} villages, {res['households']:,} households, "
            f"{res['groups']} groups")
    cols = ["method", "solved", "max/min worst (mean)", "CV% mean", "maxdev% worst (mean)",
            "in ±3% / ±5%", "contig zones", "units split", "excess pieces", "medoid m",
            "medoid ×ckmeans",
            "time s (max village)", f"×{REFERENCE}", "same zones in every repeat"]
    lines = [head, "", "| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for m, s in res["summary"].items():
        lines.append("| " + " | ".join([
            m, f"{s['solved']}/{s['villages']}",
            f"{s['maxmin_worst']:.3f} ({s['maxmin_mean']:.3f})", f"{100 * s['cv_mean']:.1f}",
            f"{100 * s['maxdev_worst']:.1f} ({100 * s['maxdev_mean']:.1f})",
            f"{s['within_3']}/{s['multi']} / {s['within_5']}/{s['multi']}",
            f"{s['contiguous']}/{s['zones']}", str(s["units_split"]), str(s["excess"]),
            f"{s['medoid_m']:.0f}",
            f"{s['medoid_vs_ckmeans']:.2f}" if s.get("medoid_vs_ckmeans") else "-",
            f"{s['seconds']:.2f} ({s['seconds_max_village']:.2f})",
            _ratio(s["x_ref"]),
            f"{s['reproducible']}/{s['solved']}"]) + " |")
    return "\n".join(lines)


def _ratio(x: float | None) -> str:
    if not x:
        return "-"
    return f"{x:.0f}×" if x >= 10 else f"{x:.1f}×"


def format_tradeoff(rows: list[dict]) -> str:
    cols = ["band", "solved", "excess pieces (solver's count)", "villages with excess",
            "units split", "realised maxdev worst (mean)", "within band", "contig zones",
            "optimal", "medoid m", "time s"]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for r in rows:
        lines.append("| " + " | ".join([
            f"±{r['band']:.0%}", f"{r['solved']}/{r['villages']}",
            f"{r['excess']} ({r['self_excess']})", str(r["villages_with_excess"]),
            str(r["units_split"]),
            f"{100 * r['maxdev_worst']:.1f}% ({100 * r['maxdev_mean']:.1f}%)",
            f"{r['within_band']}/{r['solved']}", f"{r['contiguous']}/{r['zones']}",
            f"{r['optimal']}/{r['solved']}", f"{r['medoid_m']:.0f}", f"{r['seconds']:.1f}"])
            + " |")
    return "\n".join(lines)


def solver_version() -> dict:
    """Git commit and a hash of planner/zoning.py as it is on disk (it may be uncommitted)."""
    import hashlib
    import subprocess

    path = ROOT / "planner" / "zoning.py"
    try:
        head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--",
                                "planner/zoning.py"], capture_output=True, text=True,
                               timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        head, dirty = "", ""
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:12] if path.exists() else None
    return {"git_head": head, "zoning_py_modified": bool(dirty), "zoning_py_sha256": digest}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--town", action="store_true",
                    help="synthetic town + a 3,000-household village")
    ap.add_argument("--demo", action="store_true", help="demo villages (data/demo)")
    ap.add_argument("--tradeoff", action="store_true",
                    help="bands ±2/5/10/15%% on the town, re-solve after a lock / a data change")
    ap.add_argument("--seconds", type=float, default=5.0, help="solver time limit per village")
    ap.add_argument("--tolerance", type=float, default=0.03, help="balance band (0.03 = ±3%%)")
    ap.add_argument("--repeats", type=int, default=3, help="timing runs per method (median)")
    ap.add_argument("--seed", type=int, default=0, help="town seed and method seed")
    ap.add_argument("--methods", default=",".join(METHOD_NOTES),
                    help="comma-separated subset of " + ", ".join(METHOD_NOTES))
    ap.add_argument("--graph", choices=("geo", "bench"), default="geo",
                    help="household graph: geo.adjacency (the product's, default) or "
                         "bench.synth.household_graph")
    ap.add_argument("--demo-per-group", type=int, default=800,
                    help="demo villages: one group per this many households")
    ap.add_argument("--json", action="store_true", help="JSON on stdout, tables on stderr")
    args = ap.parse_args(argv)
    args.methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    if not (args.town or args.demo or args.tradeoff):
        args.town = args.demo = args.tradeoff = True
    logging.basicConfig(level=logging.WARNING)
    table_out = sys.stderr if args.json else sys.stdout

    def log(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    report: dict = {"solver": solver_version(),
                    "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                                "platform": platform.platform()},
                    "args": {k: v for k, v in vars(args).items()}, "sets": []}
    runners = methods(args)
    town = None
    if args.town or args.tradeoff:
        problems, town, gen_s = town_problems(args.seed, args.graph)
        report["town_build_seconds"] = gen_s
        log(f"town: generated + walking matrices + graphs in {gen_s:.1f} s")
    if args.town:
        res = run_set("town", problems, runners, args, log)
        report["sets"].append(res)
        print(format_set(res) + "\n", file=table_out, flush=True)
        big = big_village(args.seed)
        t0 = time.perf_counter()
        bp = big.to_problem(graph=args.graph)
        log(f"3k village: matrices + graph in {time.perf_counter() - t0:.1f} s")
        res = run_set("village-3k", [(big.name, bp)], runners, args, log)
        report["sets"].append(res)
        print(format_set(res) + "\n", file=table_out, flush=True)
    if args.demo:
        t0 = time.perf_counter()
        dps, how = demo_problems(args.demo_per_group, args.graph)
        report["demo_builder"] = how
        log(f"demo: problems built by {how} in {time.perf_counter() - t0:.1f} s")
        res = run_set("demo", dps, runners, args, log)
        report["sets"].append(res)
        print(format_set(res) + "\n", file=table_out, flush=True)
    if args.tradeoff:
        rows = tradeoff(problems, args, log)
        report["tradeoff"] = rows
        print("trade-off (zhudian on the town, villages with >1 group):\n"
              + format_tradeoff(rows) + "\n", file=table_out, flush=True)
        rs = resolve(town, args, log)
        report["resolve"] = rs
        print("re-solve: " + json.dumps(rs, default=float) + "\n", file=table_out, flush=True)
    report["solver_after"] = solver_version()
    if report["solver_after"]["zoning_py_sha256"] != report["solver"]["zoning_py_sha256"]:
        log("WARNING: planner/zoning.py changed during the run; results mix two versions")
    if args.json:
        json.dump(report, sys.stdout, default=float, indent=1)
        print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
