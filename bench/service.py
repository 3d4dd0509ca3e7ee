"""Benchmark: concurrent visit uploads against a real ``zhudian serve`` on loopback.

Usage (from the repository root)::

    .venv/bin/python bench/service.py                         # SQLite store in a temporary folder
    .venv/bin/python bench/service.py --database-url postgresql+psycopg://user@host/empty_db
    .venv/bin/python bench/service.py --visits 5000 --clients 4 --retries 0.1 --json

The demo data is imported into a fresh store (a SQLite file, or the empty database of
``--database-url``), a city-admin token is made, and the server is started as a user starts it
(``zhudian serve``, one uvicorn process).  ``--clients`` threads, each with its own keep-alive HTTP
connection, then post ``--visits`` visits (one ``POST /api/v1/visits`` each, with a fresh
``client_id``); a share ``--retries`` of them is posted a second time by another client, as a phone
whose answer was lost retries, at a random later moment.  Reported: requests, wall time,
throughput, latency percentiles (p50, p95, p99, max) per request, and the check that matters: the
store holds exactly one visit per ``client_id`` (none lost, none doubled), every first post got
201 and every retry 200 with the same visit.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import httpx
from sqlalchemy import func, select

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "data" / "demo"
SECRET = "bench-secret-0123456789abcdef"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _prepare(store_arg: str) -> tuple[str, list[str]]:
    """Import the demo into the store; return a city-admin token and the household ids."""
    from api import store
    from api.importer import ImportRequest, run_import
    from api.service.security import create_token

    run_import(store_arg, ImportRequest(villages=DEMO / "villages.gpkg", areas=DEMO / "areas.gpkg",
                                        households=DEMO / "households.gpkg", roads=DEMO / "roads.gpkg"))
    engine = store.open_store(store_arg, create=False)
    try:
        token = create_token(engine, SECRET, role="city_admin", name="bench")[0]
        households = store.load_households(engine)["household_id"].tolist()
    finally:
        engine.dispose()
    return token, households


def _count(store_arg: str, prefix: str) -> tuple[int, int]:
    from api import store
    from api.store.models import Visit

    engine = store.open_store(store_arg, create=False)
    try:
        with engine.connect() as conn:
            rows = conn.scalar(select(func.count()).select_from(Visit).where(Visit.client_id.like(f"{prefix}%")))
            distinct = conn.scalar(select(func.count(func.distinct(Visit.client_id)))
                                   .where(Visit.client_id.like(f"{prefix}%")))
    finally:
        engine.dispose()
    return int(rows), int(distinct)


def _pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def run(*, visits: int, clients: int, retries: float, database_url: str | None, seed: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="zhudian-bench-service-") as tmp:
        store_arg = database_url or str(Path(tmp) / "zhudian.db")
        token, households = _prepare(store_arg)
        port = _free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("ZHUDIAN_")}
        env.update(ZHUDIAN_SECRET=SECRET, ZHUDIAN_ENV="production", PYTHONIOENCODING="utf-8")
        if database_url:
            env["ZHUDIAN_DATABASE_URL"] = database_url
        log = open(Path(tmp) / "server.log", "wb")
        server = subprocess.Popen([str(Path(sys.executable).parent / "zhudian"), "serve", str(Path(tmp) / "zhudian.db"),
                                   "--port", str(port), "--quiet"], env=env, stdout=log, stderr=subprocess.STDOUT)
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(600):
                try:
                    if httpx.get(f"{base}/api/v1/health", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.1)
            else:
                raise SystemExit("server did not start:\n" + (Path(tmp) / "server.log").read_text())
            rng = random.Random(seed)
            prefix = f"bench-{uuid.uuid4().hex[:8]}-"
            day = time.strftime("%Y-%m-%d")
            bodies = [{"client_id": f"{prefix}{i:06d}", "household": households[i % len(households)],
                       "outcome": rng.choice(["met", "met", "met", "not_home", "refused"]), "date": day}
                      for i in range(visits)]
            queues: list[list[tuple[int, bool]]] = [[] for _ in range(clients)]
            for i in range(visits):
                queues[i % clients].append((i, False))
            for i in rng.sample(range(visits), int(round(retries * visits))):
                other = (i % clients + 1 + rng.randrange(max(1, clients - 1))) % clients  # another client
                q = queues[other]
                q.insert(rng.randrange(len(q) // 2, len(q) + 1), (i, True))
            latencies: list[float] = []
            answers: dict[int, list[tuple[int, int, bool]]] = {}
            errors: list[str] = []
            lock = threading.Lock()

            def client(queue: list[tuple[int, bool]]) -> None:
                mine = []
                with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=60) as c:
                    for i, retry in queue:
                        t0 = time.perf_counter()
                        r = c.post("/api/v1/visits", json=bodies[i])
                        mine.append((time.perf_counter() - t0, i, r.status_code, r.json().get("id"), retry))
                with lock:
                    for dt_, i, status, vid, retry in mine:
                        latencies.append(dt_)
                        answers.setdefault(i, []).append((status, vid, retry))
                        if status not in (200, 201):
                            errors.append(f"{bodies[i]['client_id']}: {status}")

            threads = [threading.Thread(target=client, args=(q,)) for q in queues]
            t0 = time.perf_counter()
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            wall = time.perf_counter() - t0
        finally:
            server.terminate()
            server.wait(timeout=30)
            log.close()
        rows, distinct = _count(store_arg, prefix)
        created = sum(1 for a in answers.values() for s, _, _ in a if s == 201)
        repeated = sum(1 for a in answers.values() for s, _, _ in a if s == 200)
        same_id = all(len({v for _, v, _ in a}) == 1 for a in answers.values())
        n = len(latencies)
        return {
            "backend": "postgresql" if database_url else "sqlite", "visits": visits, "clients": clients,
            "retried": sum(len(a) - 1 for a in answers.values()), "requests": n, "wall_s": round(wall, 2),
            "throughput_rps": round(n / wall, 1),
            "latency_ms": {k: round(1000 * v, 1) for k, v in (
                ("p50", statistics.median(latencies)), ("p95", _pct(latencies, 0.95)),
                ("p99", _pct(latencies, 0.99)), ("max", max(latencies)))},
            "stored": rows, "distinct_client_ids": distinct, "answers_201": created, "answers_200": repeated,
            "same_visit_on_retry": same_id, "errors": errors[:10],
            "ok": rows == distinct == visits == created and not errors and same_id,
            "python": platform.python_version(), "cpus": os.cpu_count(),
        }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--visits", type=int, default=5000)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--retries", type=float, default=0.1, help="share of visits posted twice (default 0.1)")
    ap.add_argument("--database-url", help="an empty PostgreSQL database (default: a SQLite file)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    r = run(visits=args.visits, clients=args.clients, retries=args.retries, database_url=args.database_url,
            seed=args.seed)
    if args.json:
        print(json.dumps(r, indent=2))
    else:
        lat = r["latency_ms"]
        print(f"{r['backend']}: {r['clients']} clients, {r['visits']} visits + {r['retried']} retries = "
              f"{r['requests']} requests in {r['wall_s']} s ({r['throughput_rps']} req/s); latency p50 {lat['p50']} ms, "
              f"p95 {lat['p95']} ms, p99 {lat['p99']} ms, max {lat['max']} ms; stored {r['stored']} "
              f"(distinct {r['distinct_client_ids']}), 201 x {r['answers_201']}, 200 x {r['answers_200']}: "
              f"{'OK' if r['ok'] else 'FAILED'}")
    if not r["ok"]:
        sys.exit(1)


if __name__ == "__main__":
    main()
