"""Per-village tasks in parallel (``api.parallel``): local process pool and a local Dask cluster,
failures kept apart, and zoning in parallel equal to zoning in one process."""

from __future__ import annotations

import datetime as dt
import json
import math
import operator
import os
import shutil
from pathlib import Path

import pytest

from api import store, zoning
from api.parallel import Task, executor_from_env, run_tasks
from api.store import plans
from test_cli import DEMO, import_demo, zhudian

TRIESEN, PLANKEN, BALZERS = "990101001009", "990101001005", "990101001001"


def _tasks() -> list[Task]:
    return [Task("a", math.factorial, (5,)), Task("b", operator.truediv, (1, 0)),
            Task("c", math.factorial, (6,)), Task("d", math.isqrt, (-1,))]


@pytest.mark.parametrize("how", [dict(workers=1), dict(workers=2), dict(workers=2, executor="dask")],
                         ids=["serial", "pool", "dask"])
def test_outcomes_in_task_order_with_failures_kept_apart(how: dict) -> None:
    seen: list[str] = []
    out = run_tasks(_tasks(), on_outcome=lambda o: seen.append(o.key), **how)
    assert [o.key for o in out] == ["a", "b", "c", "d"]
    assert [o.value for o in out] == [120, None, 720, None]
    assert out[1].error.startswith("ZeroDivisionError") and out[3].error.startswith("ValueError")
    assert [o.ok for o in out] == [True, False, True, False]
    assert sorted(seen) == ["a", "b", "c", "d"]


def test_an_existing_dask_cluster_by_its_scheduler_address(monkeypatch: pytest.MonkeyPatch) -> None:
    """``ZHUDIAN_EXECUTOR=dask`` + ``ZHUDIAN_DASK_SCHEDULER``: the tasks go to that cluster's workers
    (other processes), not to a cluster started for the job."""
    from distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        monkeypatch.setenv("ZHUDIAN_EXECUTOR", "dask")
        monkeypatch.setenv("ZHUDIAN_DASK_SCHEDULER", cluster.scheduler_address)
        executor, address = executor_from_env()
        out = run_tasks([Task(str(i), os.getpid) for i in range(6)], workers=1, executor=executor,
                        address=address)
        assert address == cluster.scheduler_address and all(o.ok for o in out)
        pids = {o.value for o in out}
        assert os.getpid() not in pids and 1 <= len(pids) <= 2


def test_tasks_are_taken_lazily() -> None:
    """A generator of tasks is not drained ahead: at most 2 x workers wait in flight."""
    pulled = []

    def gen():
        for i in range(12):
            pulled.append(i)
            yield Task(str(i), math.factorial, (i,))

    firsts = []
    run_tasks(gen(), workers=2, on_outcome=lambda o: firsts.append(len(pulled)) if not firsts else None)
    assert pulled == list(range(12))
    assert firsts[0] <= 5  # when the first result came, at most 4 (+1 being pulled) had been taken


def test_bad_executor_and_workers_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError, match="local 或 dask"):
        executor_from_env("spark")
    monkeypatch.setenv("ZHUDIAN_EXECUTOR", "dask")
    monkeypatch.setenv("ZHUDIAN_DASK_SCHEDULER", "tcp://10.0.0.5:8786")
    assert executor_from_env() == ("dask", "tcp://10.0.0.5:8786")
    assert executor_from_env("local") == ("local", "tcp://10.0.0.5:8786")
    with pytest.raises(ValueError, match="workers"):
        run_tasks([], workers=0)
    with pytest.raises(ValueError, match="dask"):
        run_tasks([], executor="ray")


@pytest.fixture(scope="module")
def three_villages(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("parallel") / "demo.db"
    import_demo(db)
    return db


def _zones(db: Path) -> dict:
    engine = store.open_store(db, create=False)
    try:
        return {v: [(z.group_id, z.household_ids) for z in plans.load_zone_plan(engine, v).zones]
                for v in (TRIESEN, PLANKEN, BALZERS)}
    finally:
        engine.dispose()


@pytest.mark.slow
def test_parallel_zoning_is_the_serial_zoning(three_villages: Path, tmp_path: Path) -> None:
    """Zoning is deterministic, so one process, two processes and a local Dask cluster of two
    worker processes store the same zones and print the same report (times aside); and the
    database file alone, copied as a user backs it up, holds them."""
    docs, zones = {}, {}
    for name, extra in (("serial", ["--workers", "1"]), ("pool", ["--workers", "2"]),
                        ("dask", ["--workers", "2", "--executor", "dask"])):
        db = tmp_path / f"{name}.db"
        shutil.copy(three_villages, db)
        proc = zhudian("zone", db, "--village", TRIESEN, "--village", PLANKEN, "--village", BALZERS,
                       "--roster", DEMO / "roster.csv", "--seconds", "2", "--json", *extra)
        doc = json.loads(proc.stdout)
        for v in doc["villages"]:
            v.pop("seconds")
        alone = tmp_path / f"{name}-copy.db"  # the .db file alone (no -wal) holds every worker's writes
        shutil.copy(db, alone)
        docs[name], zones[name] = doc, _zones(alone)
    assert [v["village"] for v in docs["serial"]["villages"]] == [BALZERS, PLANKEN, TRIESEN]  # store order
    assert all(v["status"] in ("optimal", "feasible") for v in docs["serial"]["villages"])
    assert docs["serial"] == docs["pool"] == docs["dask"]
    assert zones["serial"] == zones["pool"] == zones["dask"]


def test_a_failing_village_is_reported_and_the_others_kept(three_villages: Path, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    db = tmp_path / "fail.db"
    shutil.copy(three_villages, db)
    real = zoning.zone_village

    def flaky(engine, village, groups, req, notes):
        if village["village_id"] == PLANKEN:
            raise MemoryError("模拟: 内存不足")
        return real(engine, village, groups, req, notes)

    monkeypatch.setattr(zoning, "zone_village", flaky)
    report = zoning.run_zoning(db, zoning.ZoneRequest(villages=[TRIESEN, PLANKEN], groups=2, seconds=1),
                               workers=1)
    by = {v["village"]: v for v in report["villages"]}
    assert report["failed"] == [{"village": PLANKEN, "error": "MemoryError: 模拟: 内存不足"}]
    assert by[PLANKEN]["status"] == "error" and "其他村的结果已保存" in by[PLANKEN]["reasons"][0]
    assert by[TRIESEN]["status"] in ("optimal", "feasible")
    engine = store.open_store(db, create=False)
    try:
        assert plans.load_zone_plan(engine, TRIESEN) is not None
        assert plans.load_zone_plan(engine, PLANKEN) is None
        assert plans.zoned_villages(engine) == {TRIESEN: 2}
    finally:
        engine.dispose()


def test_a_failing_village_month_is_reported_and_the_others_kept(three_villages: Path, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from api import plan

    db = tmp_path / "plan.db"
    shutil.copy(three_villages, db)
    zoning.run_zoning(db, zoning.ZoneRequest(villages=[TRIESEN, PLANKEN], groups=1, seconds=1))
    real = plan.month_instances

    def flaky(engine, village, *args):
        if village["village_id"] == TRIESEN:
            raise RuntimeError("模拟: 路网文件损坏")
        return real(engine, village, *args)

    monkeypatch.setattr(plan, "month_instances", flaky)
    report = plan.run_plan(db, plan.PlanRequest(month="2026-12", villages=[TRIESEN, PLANKEN], seconds=0.5,
                                                workers=1))
    assert report["failed"] == [{"village": TRIESEN, "error": "RuntimeError: 模拟: 路网文件损坏"}]
    assert [g["village"] for g in report["groups"]] == [PLANKEN]
    assert report["groups"][0]["planned"] > 0
    assert any(TRIESEN in n and "其他村的计划已保存" in n for n in report["notes"])
    engine = store.open_store(db, create=False)
    try:
        assert plans.load_month_plan(engine, PLANKEN, dt.date(2026, 12, 1)) is not None
        assert plans.load_month_plan(engine, TRIESEN, dt.date(2026, 12, 1)) is None
    finally:
        engine.dispose()
    proc = zhudian("plan", db, "--month", "2026-12", "--village", TRIESEN, "--seconds", "0.3", check=False)
    assert proc.returncode == 0  # without the fault (another process) the village plans


@pytest.mark.postgresql
@pytest.mark.slow
def test_parallel_tasks_on_postgresql_store_what_sqlite_stores(pg_schema_url: str, three_villages: Path,
                                                               tmp_path: Path) -> None:
    """Each worker opens the PostgreSQL store by its URL: zones from two worker processes and a
    month from a local Dask cluster are stored there, equal to the SQLite store's."""
    url = pg_schema_url
    import_demo(url)
    db = tmp_path / "sqlite.db"
    shutil.copy(three_villages, db)
    docs = {}
    for name, target in (("pg", url), ("sqlite", db)):
        zone = json.loads(zhudian("zone", target, "--village", TRIESEN, "--village", PLANKEN, "--roster",
                                  DEMO / "roster.csv", "--seconds", "1", "--workers", "2", "--json").stdout)
        month = json.loads(zhudian("plan", target, "--month", "2026-12", "--village", TRIESEN, "--village",
                                   PLANKEN, "--seconds", "60", "--iterations", "100", "--workers", "2",
                                   "--executor", "dask", "--json").stdout)
        for v in zone["villages"]:
            v.pop("seconds")
        docs[name] = (zone, month)
    assert docs["pg"] == docs["sqlite"]
    assert docs["pg"][0]["failed"] == [] and docs["pg"][1]["failed"] == []
    engine = store.open_store(url, create=False)
    try:
        assert plans.zoned_villages(engine) == {TRIESEN: 2, PLANKEN: 1}
        assert plans.load_month_plan(engine, TRIESEN, dt.date(2026, 12, 1)) is not None
    finally:
        engine.dispose()
