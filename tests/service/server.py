"""Helpers of the service tests: a real ``zhudian serve`` on loopback, tokens, jobs, row counts."""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "data" / "demo"
TRIESEN = "990101001009"
SECRET = "test-secret-0123456789abcdef"
EXE = Path(sys.executable).parent / "zhudian"


def env(**extra: str) -> dict[str, str]:
    """The environment of a server or a ``zhudian token create``: a test secret, no .env surprises."""
    out = {k: v for k, v in os.environ.items() if not k.startswith("ZHUDIAN_")}
    out.update(ZHUDIAN_SECRET=SECRET, ZHUDIAN_ENV="test", PYTHONIOENCODING="utf-8", **extra)
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """``zhudian serve DB`` in a subprocess on a free loopback port."""

    def __init__(self, db: Path, log: Path, **settings: str):
        self.db, self.log, self.settings = db, log, settings
        self.port = free_port()
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0) -> "Server":
        self._log = self.log.open("ab")
        self.proc = subprocess.Popen([str(EXE), "serve", str(self.db), "--port", str(self.port), "--quiet"],
                                     env=env(**self.settings), stdout=self._log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"server exited {self.proc.returncode}:\n{self.log.read_text('utf-8', 'replace')}")
            try:
                if httpx.get(f"{self.url}/api/v1/health", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                time.sleep(0.1)
        raise AssertionError(f"server did not answer in {timeout} s:\n{self.log.read_text('utf-8', 'replace')}")

    def kill(self) -> None:
        """SIGKILL the server process (no shutdown of any kind)."""
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)
        self._log.close()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()
                return
        if self.proc is not None:
            self._log.close()


def zhudian(*args: object, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run([str(EXE), *map(str, args)], capture_output=True, text=True, env=env(), timeout=300)
    if check and proc.returncode != 0:
        raise AssertionError(f"zhudian {' '.join(map(str, args))} exited {proc.returncode}:\n{proc.stderr}")
    return proc


def token(db: Path, role: str, *, town: str | None = None, group: str | None = None, name: str = "测试") -> str:
    """A token made the way an administrator makes one: ``zhudian token create``."""
    args: list[object] = ["token", "create", db, "--role", role, "--name", name, "--json"]
    if town:
        args += ["--town", town]
    if group:
        args += ["--group", group]
    return json.loads(zhudian(*args).stdout)["token"]


def bearer(tok: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {tok}"}


def wait_job(client: httpx.Client, job: dict, timeout: float = 120.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        doc = client.get(job["url"]).json()
        if doc["status"] not in ("queued", "running", "cancelling"):
            return doc
        time.sleep(0.2)
    raise AssertionError(f"job {job['id']} still {doc['status']} after {timeout} s")


def row_counts(db: Path) -> dict[str, int]:
    """Rows per table, read through a separate read-only SQLite connection."""
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return {t: con.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in tables}
    finally:
        con.close()


def import_demo(db: Path) -> None:
    zhudian("import", db, "--villages", DEMO / "villages.gpkg", "--areas", DEMO / "areas.gpkg",
            "--households", DEMO / "households.gpkg", "--roads", DEMO / "roads.gpkg", "--quiet")
