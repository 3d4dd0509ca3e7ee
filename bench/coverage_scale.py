"""Benchmark: coverage queries for one town and for the whole city, over 10 million visit records.

Usage (from the repository root)::

    .venv/bin/python bench/coverage_scale.py                          # SQLite, 1 M households, 10 M visits
    sh .ci/with-postgres.sh .venv/bin/python bench/coverage_scale.py --backends sqlite,postgresql
    .venv/bin/python bench/coverage_scale.py --households 100000 --visits 1000000 --repeats 10

The store: the synthetic city of ``bench/city.py`` (``write_city(..., households, seed)``; 1 M
households are 36 towns, 526 villages), imported with :func:`api.importer.run_import`; then per
village one zone plan with one "2+1" group and zone per ~600 households (consecutive households
of the file, i.e. whole areas); then ``--visits`` visit records in bulk (one transaction: SQLite
``executemany`` in chunks of 500,000 rows, PostgreSQL ``COPY``), drawn with ``--seed``: dates
uniform over 2024-2026 (sorted, so ids follow dates), households with gamma(1) weights (so about a
fifth are never visited in a year), outcomes 75% met, 19.5% not home, 5% refused, 0.5% moved, the
group of the household's zone; and one problem per 200 met visits (55% resolved, 5% cannot
resolve, the rest open or in progress).  A store already holding the requested households and
visits is reused (``--rebuild`` to start again); SQLite in ``--sqlite`` (default
``out/bench/coverage_scale.db``), PostgreSQL at ``--pg`` (default ``ZHUDIAN_TEST_PG_URL``, whose
``public`` schema it takes over: give it a database of its own).

Timed, on a warm store, ``--repeats`` times each in turn (median and p95 of the wall time of the
call, the connection taken from the engine's pool as the service does):

* ``GET /coverage``, the service's query (:func:`api.service.data.coverage`, a city admin's scope,
  year 2026): one town (``town=``, ``level=village`` and ``level=zone``) and the city
  (``level=town`` and ``level=village``); and ``GET /coverage/gaps`` (:func:`api.service.data.gaps_fc`)
  for the town's first village;
* the report's figures (``zhudian report --month 2026-12 [--town T]``: :func:`api.coverage.load_review_data`
  and :func:`api.coverage.compute`, without the rendering) for the town and the city, fewer
  repeats (``--report-repeats``).

The town is the one with the median number of households.  Output: tables on stdout (``--json``
prints JSON instead).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import platform
import statistics
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.city import cached_city  # noqa: E402

YEAR = 2026
FIRST_DAY = dt.date(2024, 1, 1)
DAYS = (dt.date(2026, 12, 31) - FIRST_DAY).days + 1
OUTCOMES = ("met", "not_home", "refused", "moved")
OUTCOME_P = (0.75, 0.195, 0.05, 0.005)
HOUSEHOLDS_PER_GROUP = 600
CHUNK = 500_000


# --------------------------------------------------------------------------------------------
# Building the store


def _insert(conn, table: str, columns: list[str], rows) -> None:
    """Rows in bulk inside the caller's transaction: PostgreSQL COPY, SQLite executemany."""
    cols = ", ".join(columns)
    if conn.dialect.name == "postgresql":
        cursor = conn.connection.driver_connection.cursor()
        with cursor, cursor.copy(f"COPY {table} ({cols}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
    else:
        conn.exec_driver_sql(f"INSERT INTO {table} ({cols}) VALUES ({', '.join('?' * len(columns))})", list(rows))


@contextmanager
def _indexes_dropped(conn, table: str):
    """Bulk loading: drop the table's plain indexes (``ix_*``) and create them again afterwards
    (the same definitions, read from the catalogue), inside the caller's transaction."""
    if conn.dialect.name == "postgresql":
        found = conn.exec_driver_sql("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %(t)s "
                                     "AND schemaname = current_schema() AND indexname LIKE 'ix\\_%%'",
                                     {"t": table}).all()
    else:
        found = conn.exec_driver_sql("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? "
                                     "AND name LIKE 'ix\\_%' ESCAPE '\\' AND sql IS NOT NULL", (table,)).all()
    for name, _ in found:
        conn.exec_driver_sql(f"DROP INDEX {name}")
    yield
    for _, sql in found:
        conn.exec_driver_sql(sql)


def _counts(engine) -> tuple[int, int]:
    from sqlalchemy import func, select

    from api.store.models import Household, Visit

    with engine.connect() as conn:
        return (conn.scalar(select(func.count()).select_from(Household)) or 0,
                conn.scalar(select(func.count()).select_from(Visit)) or 0)


def _wipe(url: str) -> None:
    """Start again: delete the SQLite file, or drop and recreate the PostgreSQL public schema."""
    if "://" not in url:
        for suffix in ("", "-wal", "-shm"):
            Path(url + suffix).unlink(missing_ok=True)
        return
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
        conn.execute(text("CREATE EXTENSION IF NOT EXISTS postgis"))
    engine.dispose()


def build(url: str, folder: Path, *, households: int, visits: int, seed: int, rebuild: bool) -> dict:
    """Import the city, zone it, add the visits and problems (see the module docstring)."""
    from sqlalchemy import select

    from api import store
    from api.importer import ImportRequest, run_import
    from api.store.models import Household

    if "://" not in url:
        Path(url).parent.mkdir(parents=True, exist_ok=True)
    if not rebuild and ("://" in url or Path(url).exists()):
        engine = store.open_store(url)
        have = _counts(engine)
        engine.dispose()
        if have == (households, visits):
            return {"reused": True, "households": households, "visits": visits}
    _wipe(url)
    out: dict = {"reused": False}
    t0 = time.perf_counter()
    run_import(url, ImportRequest(villages=folder / "villages.gpkg", areas=folder / "areas.gpkg",
                                  households=folder / "households.gpkg", roads=folder / "roads.gpkg"))
    out["import_s"] = time.perf_counter() - t0
    engine = store.open_store(url)
    rng = np.random.default_rng([seed, 8])
    t0 = time.perf_counter()
    with engine.begin() as conn:
        hh = conn.execute(select(Household.id, Household.village_fk).order_by(Household.id)).all()
        hpk = np.array([h for h, _ in hh], dtype=np.int64)
        vfk = np.array([v for _, v in hh], dtype=np.int64)
        # zones: per village, consecutive households in chunks of about HOUSEHOLDS_PER_GROUP
        group_of = np.zeros(len(hpk), dtype=np.int64)
        plans, groups, zones, members = [], [], [], []
        order = np.argsort(vfk, kind="stable")
        bounds = np.flatnonzero(np.r_[True, vfk[order][1:] != vfk[order][:-1], True])
        vid_of = dict(conn.exec_driver_sql("SELECT id, village_id FROM villages").all())
        gid = zid = 0
        for p, (lo, hi) in enumerate(zip(bounds[:-1], bounds[1:]), start=1):
            rows = order[lo:hi]
            village = int(vfk[rows[0]])
            plans.append((p, village, 1, "{}", seed, "published", "OPTIMAL", "{}"))
            n_groups = max(1, round(len(rows) / HOUSEHOLDS_PER_GROUP))
            for k, part in enumerate(np.array_split(rows, n_groups), start=1):
                gid += 1
                zid += 1
                groups.append((gid, village, f"{vid_of[village]}-G{k}", "{}"))
                zones.append((zid, p, gid, f"{vid_of[village]}-Z{k}", float(len(part) * 12)))
                group_of[part] = gid
                members.extend(zip([zid] * len(part), hpk[part].tolist()))
        _insert(conn, "zone_plans", ["id", "village_fk", "version", "params", "seed", "status", "solver_status",
                                     "scores"], plans)
        _insert(conn, "groups", ["id", "village_fk", "name", "attrs"], groups)
        _insert(conn, "zones", ["id", "plan_fk", "group_fk", "label", "workload_min"], zones)
        _insert(conn, "zone_households", ["zone_fk", "household_fk"], members)
        if conn.dialect.name == "postgresql":  # explicit ids: move the sequences past them
            for table in ("zone_plans", "groups", "zones"):
                conn.exec_driver_sql(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                     f"(SELECT max(id) FROM {table}))")
        out["zones_s"] = time.perf_counter() - t0
        out["groups"] = gid
        # visits
        t0 = time.perf_counter()
        weight = rng.gamma(1.0, size=len(hpk))
        who = rng.choice(len(hpk), size=visits, p=weight / weight.sum())
        day = np.sort(rng.integers(0, DAYS, size=visits))
        outcome = rng.choice(len(OUTCOMES), size=visits, p=OUTCOME_P)
        dates = [(FIRST_DAY + dt.timedelta(days=d)).isoformat() for d in range(DAYS)]
        names = list(OUTCOMES)
        h_col, g_col = hpk[who].tolist(), group_of[who].tolist()
        d_col, o_col = day.tolist(), outcome.tolist()
        with _indexes_dropped(conn, "visits"):
            for lo in range(0, visits, CHUNK):
                hi = min(visits, lo + CHUNK)
                _insert(conn, "visits", ["household_fk", "group_fk", "date", "outcome"],
                        [(h_col[k], g_col[k], dates[d_col[k]], names[o_col[k]]) for k in range(lo, hi)])
        out["visits_s"] = time.perf_counter() - t0
        # problems: one per 200 met visits
        t0 = time.perf_counter()
        met = conn.exec_driver_sql("SELECT id, household_fk, date FROM visits WHERE outcome = 'met' "
                                   "AND id - (id / 200) * 200 = 0").all()
        status = rng.choice(4, size=len(met), p=(0.3, 0.1, 0.55, 0.05))
        late = rng.integers(1, 45, size=len(met))
        states = ("open", "in_progress", "resolved", "cannot_resolve")
        rows = []
        for (vid, h, d), s, n in zip(met, status.tolist(), late.tolist()):
            day0 = d if isinstance(d, dt.date) else dt.date.fromisoformat(str(d)[:10])
            closed = s >= 2
            rows.append((h, vid, "其他", "镇党政办", "基准问题", (day0 + dt.timedelta(days=30)).isoformat(),
                         states[s], "无法解决" if s == 3 else None,
                         (day0 + dt.timedelta(days=n)).isoformat() if closed else None))
        _insert(conn, "problems", ["household_fk", "visit_fk", "category", "department", "text", "deadline",
                                   "status", "resolution_note", "resolved_date"], rows)
        out["problems"] = len(rows)
        out["problems_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    # fresh statistics for the query planner, as after any bulk load
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE")
    else:
        with engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE")
    out["analyze_s"] = time.perf_counter() - t0
    out["households"], out["visits"] = _counts(engine)
    engine.dispose()
    return out


# --------------------------------------------------------------------------------------------
# Timing


def _stats(times: list[float]) -> dict:
    """Median, p95 (nearest rank: the 19th of 20 runs; the largest of fewer than 20), min, max."""
    ordered = sorted(times)
    p95 = ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]
    return {"median_s": statistics.median(ordered), "p95_s": p95, "min_s": ordered[0], "max_s": ordered[-1],
            "n": len(ordered), "runs_s": [round(t, 4) for t in times]}


def median_town(engine) -> tuple[str, int, int]:
    """The town with the median number of households: (name, households, all households)."""
    with engine.connect() as conn:
        rows = conn.exec_driver_sql(
            "SELECT t.name, count(h.id) FROM towns t JOIN villages v ON v.town_fk = t.id "
            "JOIN households h ON h.village_fk = v.id GROUP BY t.id, t.name ORDER BY count(h.id), t.name").all()
    name, n = rows[len(rows) // 2]
    return name, int(n), int(sum(r[1] for r in rows))


def time_backend(url: str, *, repeats: int, report_repeats: int) -> dict:
    from sqlalchemy import text

    from api import store
    from api.coverage import compute, load_review_data, parse_period
    from api.service import data
    from api.service.security import Principal, Scope

    engine = store.open_store(url, create=False)
    town, town_hh, city_hh = median_town(engine)
    with engine.connect() as conn:  # the town's first village, for the list of never-visited households
        village = conn.execute(text("SELECT v.village_id FROM villages v JOIN towns t ON t.id = v.town_fk "
                                    "WHERE t.name = :t ORDER BY v.id"), {"t": town}).first()[0]
    scope = Scope(Principal(token_id=0, name="bench", role="city_admin"))
    queries = {
        "http_town_village": lambda conn: data.coverage(conn, scope, "village", YEAR, None, town),
        "http_town_zone": lambda conn: data.coverage(conn, scope, "zone", YEAR, None, town),
        "http_city_town": lambda conn: data.coverage(conn, scope, "town", YEAR, None, None),
        "http_city_village": lambda conn: data.coverage(conn, scope, "village", YEAR, None, None),
        "http_village_gaps": lambda conn: data.gaps_fc(conn, scope, YEAR, village, 1000, 0, "http://bench/gaps"),
    }
    times: dict[str, list[float]] = {k: [] for k in queries}
    results: dict[str, dict] = {}
    for name, q in queries.items():  # warm-up (page cache, pool), also the result to report
        with engine.connect() as conn:
            results[name] = q(conn)
    results["http_village_gaps"] = {"total": {"matched": results["http_village_gaps"]["numberMatched"]}}
    for _ in range(repeats):
        for name, q in queries.items():
            t0 = time.perf_counter()
            with engine.connect() as conn:
                q(conn)
            times[name].append(time.perf_counter() - t0)
    period = parse_period(month=f"{YEAR}-12")
    report = {"report_town": town, "report_city": None}
    for name, scope_town in report.items():
        times[name] = []
        for _ in range(report_repeats):
            t0 = time.perf_counter()
            fig = compute(load_review_data(engine, period, town=scope_town))
            times[name].append(time.perf_counter() - t0)
        results[name] = {"total": {k: fig.total[k] for k in ("households", "visited", "visit_rate")}}
    engine.dispose()
    return {"town": town, "town_households": town_hh, "city_households": city_hh,
            "times": {k: _stats(v) for k, v in times.items()},
            "totals": {k: v["total"] for k, v in results.items()}}


# --------------------------------------------------------------------------------------------


def _load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f}"


LABELS = {
    "http_town_village": "`GET /coverage?town=T&level=village`",
    "http_town_zone": "`GET /coverage?town=T&level=zone`",
    "http_city_town": "`GET /coverage?level=town` (city)",
    "http_city_village": "`GET /coverage?level=village` (city)",
    "http_village_gaps": "`GET /coverage/gaps?village=V` (never visited this year, first 1,000)",
    "report_town": "report figures, town (`zhudian report --month 2026-12 --town T`)",
    "report_city": "report figures, city (`zhudian report --month 2026-12`)",
}


def table(result: dict) -> str:
    backends = list(result["backends"])
    lines = ["| query | " + " | ".join(f"{b} median | {b} p95" for b in backends) + " |",
             "|---|" + "---|---|" * len(backends)]
    for key, label in LABELS.items():
        cells = []
        for b in backends:
            t = result["backends"][b]["times"].get(key)
            cells += [f"{t['median_s'] * 1000:.0f} ms", f"{t['p95_s'] * 1000:.0f} ms"] if t else ["-", "-"]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    for b in backends:
        t = result["backends"][b]["times"]
        for town_key, city_key in (("http_town_village", "http_city_village"), ("report_town", "report_city")):
            ratio = t[city_key]["median_s"] / t[town_key]["median_s"]
            lines.append(f"\n{b}: city / town ({city_key} / {town_key}, medians): {ratio:.1f}x")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--households", type=int, default=1_000_000)
    ap.add_argument("--visits", type=int, default=10_000_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--report-repeats", type=int, default=3)
    ap.add_argument("--backends", default="sqlite")
    ap.add_argument("--data", type=Path, help="the city's files (default out/bench/city-N-SEED, written when missing)")
    ap.add_argument("--sqlite", default=str(ROOT / "out" / "bench" / "coverage_scale.db"))
    ap.add_argument("--pg", default=os.environ.get("ZHUDIAN_TEST_PG_URL"))
    ap.add_argument("--rebuild", action="store_true")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)

    result: dict = {"households": args.households, "visits": args.visits, "seed": args.seed,
                    "python": platform.python_version(), "cpus": os.cpu_count(), "load_before": _load(),
                    "backends": {}}
    folder = cached_city(args.households, args.seed, args.data)
    for backend in args.backends.split(","):
        url = args.sqlite if backend == "sqlite" else args.pg
        if not url:
            ap.error("PostgreSQL needs --pg URL or ZHUDIAN_TEST_PG_URL (sh .ci/with-postgres.sh ...)")
        t0 = time.perf_counter()
        built = build(url, folder, households=args.households, visits=args.visits, seed=args.seed,
                      rebuild=args.rebuild)
        built["build_s"] = time.perf_counter() - t0
        print(f"{backend}: store {json.dumps(built)}", file=sys.stderr)
        timed = time_backend(url, repeats=args.repeats, report_repeats=args.report_repeats)
        result["backends"][backend] = {"build": built, **timed}
        print(f"{backend}: {json.dumps(timed['times'])}", file=sys.stderr)
    result["load_after"] = _load()
    if args.json:
        print(json.dumps(result, indent=1, ensure_ascii=False, default=str))
    else:
        print(f"{args.households} households, {args.visits} visits; {result['load_before']} -> {result['load_after']}")
        for b, r in result["backends"].items():
            print(f"{b}: town {r['town']} ({r['town_households']} households), city {r['city_households']}")
        print(table(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
