"""Kill the server (SIGKILL) in the middle of a planning job and start it again: the job reads
failed, never "running"; the store opens and is consistent; a new job succeeds."""

from __future__ import annotations

import sqlite3
import time

import httpx
import pytest

from api import store
from server import DEMO, TRIESEN, Server, bearer, import_demo, token, wait_job, zhudian

pytestmark = pytest.mark.slow


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split()[2] != "Z"
    except FileNotFoundError:
        return False


def test_killed_server_leaves_no_job_running(tmp_path) -> None:
    db = tmp_path / "zhudian.db"
    import_demo(db)
    zhudian("zone", db, "--village", TRIESEN, "--roster", DEMO / "roster.csv", "--seconds", "2", "--quiet")
    tok = token(db, "city_admin")
    server = Server(db, tmp_path / "server.log").start()
    try:
        with httpx.Client(base_url=server.url, headers=bearer(tok), timeout=60) as client:
            # long enough to be killed in the middle: one group solved per minute
            job = client.post("/api/v1/jobs/plan", json={"month": "2026-12", "villages": [TRIESEN],
                                                         "seconds": 60}).json()
            deadline = time.monotonic() + 60
            while (doc := client.get(job["url"]).json())["status"] != "running":
                assert time.monotonic() < deadline and doc["status"] == "queued", doc
                time.sleep(0.1)
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        worker = con.execute("SELECT pid FROM jobs WHERE id = ?", (job["id"],)).fetchone()[0]
        con.close()
        server.kill()
        deadline = time.monotonic() + 10
        while _alive(worker):  # the job's process dies with the server (no orphan still writing)
            assert time.monotonic() < deadline, "job process outlived the server"
            time.sleep(0.1)
    finally:
        server.stop()

    server = Server(db, tmp_path / "server.log").start()
    try:
        with httpx.Client(base_url=server.url, headers=bearer(tok), timeout=60) as client:
            doc = client.get(job["url"].replace(job["url"].split("/api/")[0], server.url)).json()
            assert doc["status"] == "failed" and doc["message"] == "服务重启时中断", doc
            assert doc["error"][0]["fix"]
            again = client.post("/api/v1/jobs/plan", json={"month": "2026-12", "villages": [TRIESEN], "seconds": 1})
            done = wait_job(client, again.json() | {"url": f"{server.url}/api/v1/jobs/{again.json()['id']}"})
            assert done["status"] == "succeeded", done
            assert client.get(f"/api/v1/villages/{TRIESEN}/plans", params={"month": "2026-12"}).status_code == 200
    finally:
        server.stop()
    con = sqlite3.connect(db)
    try:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert con.execute("PRAGMA foreign_key_check").fetchall() == []
        # only the second job's plans are stored: one per group
        assert con.execute("SELECT count(*) FROM month_plans").fetchone()[0] == 2
        assert con.execute("SELECT count(*) FROM jobs WHERE status IN ('queued', 'running')").fetchone()[0] == 0
    finally:
        con.close()
    store.open_store(db, create=False).dispose()
