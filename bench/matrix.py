"""Benchmark: walking distance/time matrices, geo.network vs a plain networkx baseline.

Usage (from the repository root)::

    .venv/bin/python bench/matrix.py            # table on stdout
    .venv/bin/python bench/matrix.py --json     # JSON on stdout, table on stderr

Both sides start from the same inputs (a :class:`~geo.network.WalkNetwork` built from the roads and
an (n, 2) array of household coordinates) and produce the same int32 distance and time matrices:

- ``zhudian``: :func:`geo.network.travel_matrices` (scipy ``dijkstra`` from chunks of sources);
- ``networkx``: the same snapping and the same spliced graph, loaded into an ``nx.Graph``, then
  ``nx.single_source_dijkstra_path_length`` from every household, rows filled one at a time, the
  same straight-line fallback and rounding.  With ``--nx-max-sources k`` it runs from k sampled
  households only and its time is extrapolated: set-up + per-source part x n / k.

Every measurement runs in a fresh subprocess, one at a time, alternating which side goes first.
Time is wall-clock for the matrix call only (data loading and the network build are reported
apart); peak memory is the growth of the process's peak resident set during that call (the peak is
reset just before it through ``/proc/self/clear_refs``).  Each side also returns a checksum of the
same sampled rows, so the table says whether the two agree.

Data: ``/work/shared/data/osm/liechtenstein`` (real OSM roads and buildings as households,
households sampled with a fixed seed) when present, else a synthetic un-noded grid town.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DEFAULT_DATA = Path("/work/shared/data/osm/liechtenstein")
CHECK_ROWS = 100


# ---------------------------------------------------------------------- inputs


def load_inputs(data: Path | None, n: int, seed: int):
    """Roads (metric GeoSeries) and n household points (metric), plus a description."""
    import geopandas
    import shapely

    rng = np.random.default_rng(seed)
    if data is not None and (data / "walk_edges.geojson").exists():
        edges = geopandas.read_file(data / "walk_edges.geojson")
        crs = edges.estimate_utm_crs()
        roads = edges.to_crs(crs).geometry
        homes = geopandas.read_file(data / "households.geojson").to_crs(crs)
        xy = shapely.get_coordinates(homes.geometry.values)
        if n > len(xy):
            raise SystemExit(f"{data} has only {len(xy)} households, cannot sample {n}")
        xy = xy[np.sort(rng.choice(len(xy), n, replace=False))]
        described = f"{data.name} (real OSM, {len(edges)} road edges, {len(homes)} households)"
        return roads, xy, described
    # synthetic: 40 x 40 streets, 100 m apart, drawn as long un-noded lines, plus lanes
    lines = []
    for i in range(40):
        lines.append(shapely.LineString([(-50, 100 * i), (4000, 100 * i)]))
        lines.append(shapely.LineString([(100 * i + 3, -50), (100 * i + 3, 4000)]))
    start = rng.uniform(0, 3900, (800, 2))
    ang = rng.uniform(0, 2 * np.pi, 800)
    end = start + 60 * np.c_[np.cos(ang), np.sin(ang)]
    lines += [shapely.LineString([tuple(a), tuple(b)]) for a, b in zip(start, end)]
    xy = rng.uniform(0, 3900, (n, 2))
    return geopandas.GeoSeries(lines), xy, "synthetic grid town (40 x 40 streets, 800 lanes)"


# ---------------------------------------------------------------------- the two sides


def run_zhudian(net, xy, sources):
    from geo.network import travel_matrices

    return travel_matrices(xy, net).distance_m, len(xy), 0.0


def run_networkx(net, xy, sources):
    """Plain networkx: one single-source Dijkstra per household, on the same spliced graph."""
    import networkx as nx

    t0 = time.perf_counter()
    params = net.params
    n = len(xy)
    s = net.snap(xy, max_snap_m=params.max_snap_m)
    graph, node_of = net._augment(s.edge[s.on_network], s.offset_m[s.on_network])
    node = np.full(n, -1, dtype=np.int64)
    node[s.on_network] = node_of
    coo = sparse_upper(graph.csr)
    g = nx.Graph()
    g.add_weighted_edges_from(zip(coo[0].tolist(), coo[1].tolist(), coo[2].tolist()))
    setup_s = time.perf_counter() - t0
    targets = node.tolist()
    snap = np.where(s.on_network, s.distance_m, np.inf)
    distance = np.full((n, n), -1, dtype=np.int32)  # resident, like the real result
    time_s = np.full((n, n), -1, dtype=np.int32)
    for i in sources:
        row = np.full(n, np.inf)
        if node[i] >= 0:
            reach = nx.single_source_dijkstra_path_length(g, int(node[i]))
            inf = float("inf")
            row = np.fromiter((reach.get(t, inf) for t in targets), dtype=np.float64, count=n)
            row += snap[i] + snap
        row[i] = 0.0
        bad = ~np.isfinite(row)
        row[bad] = np.hypot(*(xy[bad] - xy[i]).T) * params.detour_factor
        distance[i] = np.rint(row)
        time_s[i] = np.rint(row / params.speed_mps)
    return distance, len(sources), setup_s


def sparse_upper(csr):
    coo = csr.tocoo()
    keep = coo.row < coo.col
    return coo.row[keep], coo.col[keep], coo.data[keep]


def memory_kb() -> dict[str, int]:
    out = {}
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(("VmHWM", "VmRSS")):
                key, value = line.split(":")
                out[key] = int(value.split()[0])
    return out


def reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def worker(args) -> None:
    from geo.network import WalkNetwork

    t0 = time.perf_counter()
    roads, xy, _ = load_inputs(args.data, args.n, args.seed)
    load_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    net = WalkNetwork.from_lines(roads)
    build_s = time.perf_counter() - t0
    n = len(xy)
    rng = np.random.default_rng(args.seed + 1)
    check = rng.choice(n, min(CHECK_ROWS, n), replace=False)
    if args.impl == "networkx" and args.nx_max_sources and args.nx_max_sources < n:
        rest = np.setdiff1d(np.arange(n), check)
        extra = rng.choice(rest, max(0, args.nx_max_sources - len(check)), replace=False)
        sources = np.sort(np.r_[check, extra])
    else:
        sources = np.arange(n)
    func = {"zhudian": run_zhudian, "networkx": run_networkx}[args.impl]
    gc.collect()
    before = memory_kb()["VmRSS"]
    peak_ok = reset_peak()
    t0 = time.perf_counter()
    distance, rows_done, setup_s = func(net, xy, sources)
    seconds = time.perf_counter() - t0
    after = memory_kb()
    result = {
        "impl": args.impl, "n": n, "seconds": seconds, "rows_done": int(rows_done),
        # the per-source part scales linearly with the number of sources; the set-up does not
        "seconds_full": setup_s + (seconds - setup_s) * n / rows_done,
        "peak_mb": (after["VmHWM"] - before) / 1024 if peak_ok else None,  # MiB
        "peak_reset": peak_ok,
        "checksum": int(distance[np.sort(check)].astype(np.int64).sum()),
        "load_s": load_s, "build_s": build_s,
        "nodes": net.n_nodes, "edges": net.n_edges,
    }
    print(json.dumps(result))


# ---------------------------------------------------------------------- driver


def measure(impl: str, n: int, args) -> dict:
    cmd = [sys.executable, __file__, "--worker", impl, "--n", str(n), "--seed", str(args.seed),
           "--nx-max-sources", str(args.nx_max_sources or 0)]
    cmd += ["--data", str(args.data)] if args.data is not None else ["--synthetic"]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=ROOT,
                         env={**os.environ, "PYTHONHASHSEED": "0"})
    return json.loads(out.stdout.strip().splitlines()[-1])


def _median(runs: list[dict], key: str) -> float | None:
    values = [r[key] for r in runs if r[key] is not None]
    return statistics.median(values) if values else None


def _paired_ratios(z: list[dict], x: list[dict], key: str) -> list[float]:
    """networkx / zhudian per repetition (the two ran back to back)."""
    by_rep = {r["rep"]: r for r in z}
    return [r[key] / by_rep[r["rep"]][key] for r in x
            if r["rep"] in by_rep and r[key] and by_rep[r["rep"]][key]]


def summarise(runs: list[dict]) -> list[dict]:
    rows = []
    for n in sorted({r["n"] for r in runs}):
        z = [r for r in runs if r["n"] == n and r["impl"] == "zhudian"]
        x = [r for r in runs if r["n"] == n and r["impl"] == "networkx"]
        time_ratios = _paired_ratios(z, x, "seconds_full")
        memory_ratios = _paired_ratios(z, x, "peak_mb")
        rows.append({
            "n": n, "reps": len(z),
            "zhudian_s": _median(z, "seconds_full"), "networkx_s": _median(x, "seconds_full"),
            "time_ratio": statistics.median(time_ratios) if time_ratios else None,
            "time_ratio_range": [min(time_ratios), max(time_ratios)] if time_ratios else None,
            "zhudian_peak_mib": _median(z, "peak_mb"), "networkx_peak_mib": _median(x, "peak_mb"),
            "memory_ratio": statistics.median(memory_ratios) if memory_ratios else None,
            "networkx_sources": x[0]["rows_done"] if x else None,
            "networkx_extrapolated": bool(x) and x[0]["rows_done"] < n,
            "same_result": len({r["checksum"] for r in z + x}) == 1,
            "build_s": _median(z + x, "build_s"),
            "network_nodes": z[0]["nodes"] if z else None,
        })
    return rows


def table(summary: list[dict]) -> str:
    def f(v, spec):
        return "-" if v is None else format(v, spec)

    lines = ["| households | zhudian time (s) | networkx time (s) | time ratio (range) | "
             "zhudian peak (MiB) | networkx peak (MiB) | memory ratio | same result |",
             "|---:|---:|---:|---:|---:|---:|---:|:---:|"]
    for r in summary:
        nx_t = f(r["networkx_s"], ".1f")
        if r["networkx_extrapolated"]:
            nx_t += f" (extrapolated from {r['networkx_sources']} sources)"
        lo_hi = r["time_ratio_range"]
        spread = f" ({lo_hi[0]:.0f}-{lo_hi[1]:.0f})" if lo_hi else ""
        lines.append(f"| {r['n']:,} | {f(r['zhudian_s'], '.2f')} | {nx_t} | "
                     f"{f(r['time_ratio'], '.1f')}x{spread} | {f(r['zhudian_peak_mib'], '.0f')} | "
                     f"{f(r['networkx_peak_mib'], '.0f')} | {f(r['memory_ratio'], '.2f')}x | "
                     f"{'yes' if r['same_result'] else 'NO'} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--json", action="store_true", help="print JSON on stdout (table on stderr)")
    p.add_argument("--sizes", type=int, nargs="+", default=[1000, 5000])
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data", type=Path, default=DEFAULT_DATA if DEFAULT_DATA.exists() else None,
                   help="folder with walk_edges.geojson and households.geojson (WGS 84)")
    p.add_argument("--synthetic", action="store_true", help="use the synthetic town")
    p.add_argument("--nx-max-sources", type=int, default=0,
                   help="run networkx from at most this many households and extrapolate "
                        "linearly (0 = all)")
    p.add_argument("--worker", choices=["zhudian", "networkx"], help=argparse.SUPPRESS)
    p.add_argument("--n", type=int, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.synthetic:
        args.data = None
    if args.worker:
        args.impl = args.worker
        worker(args)
        return

    import geopandas
    import networkx
    import scipy
    import shapely

    _, _, described = load_inputs(args.data, min(args.sizes), args.seed)
    runs = []
    started = time.perf_counter()
    for n in args.sizes:
        for rep in range(args.reps):
            order = ["zhudian", "networkx"] if rep % 2 == 0 else ["networkx", "zhudian"]
            for impl in order:
                r = measure(impl, n, args)
                r["rep"] = rep
                runs.append(r)
                print(f"n={n} rep={rep} {impl}: {r['seconds']:.2f} s "
                      f"({r['rows_done']} rows), peak {r['peak_mb']:.1f} MiB", file=sys.stderr)
    summary = summarise(runs)
    text = table(summary)
    report = {
        "command": "bench/matrix.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "data": described, "seed": args.seed, "reps": args.reps,
        "total_bench_s": time.perf_counter() - started,
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                    "platform": platform.platform()},
        "versions": {"numpy": np.__version__, "scipy": scipy.__version__,
                     "shapely": shapely.__version__, "geopandas": geopandas.__version__,
                     "networkx": networkx.__version__},
        "summary": summary, "runs": runs,
    }
    if args.json:
        print(json.dumps(report, indent=2))
        print(text, file=sys.stderr)
    else:
        print(f"data: {described}; {args.reps} repetitions, medians; "
              f"network build {summary[0]['build_s']:.2f} s")
        print(text)


if __name__ == "__main__":
    main()
