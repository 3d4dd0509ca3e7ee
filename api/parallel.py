"""Run independent per-village tasks: in this process, in a local process pool, or on a Dask cluster.

Zoning and month planning are independent from one village to the next, so both jobs hand
:func:`run_tasks` one task per village.  A task reads its village from the store and writes its
result to the store itself (each village in its own transaction), and returns a small summary;
so memory stays bounded whatever the number of villages (nothing city-wide is built, at most a
few tasks wait in flight), and a village that fails is reported while the others are kept.

Executors (``executor=``, the ``--executor`` option, or ``ZHUDIAN_EXECUTOR``):

``local`` (default)
    ``workers`` spawned processes on this machine; ``workers=1`` runs in this process.
``dask``
    The tasks of a Dask ``distributed`` cluster: the scheduler at ``address`` (or
    ``ZHUDIAN_DASK_SCHEDULER``, e.g. ``tcp://10.0.0.5:8786``), or, when none is given, a local
    cluster of ``workers`` worker processes started for the job.  Every worker needs this
    package installed (``pip install zhudian[cluster]``) and must reach the store: a PostgreSQL
    URL, or a SQLite file on a path all workers share.
"""

from __future__ import annotations

import logging
import multiprocessing
import multiprocessing.util
import os
import time
import traceback
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

logger = logging.getLogger(__name__)

EXECUTORS = ("local", "dask")


@dataclass(frozen=True)
class Task:
    """One unit of work: ``fn(*args)`` for the village ``key`` (``fn`` importable by name)."""

    key: str
    fn: Callable[..., Any]
    args: tuple = ()


@dataclass(frozen=True)
class Outcome:
    """What became of one task.

    Attributes
    ----------
    key : str
        The task's key (a village id).
    value : object
        What the task returned (None when it failed).
    error : str, optional
        ``"ExceptionType: message"`` when the task raised; the traceback is logged.
    seconds : float
        Wall time from submission to the result, seconds.
    """

    key: str
    value: Any = None
    error: str | None = None
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.error is None


def usable_cores() -> int:
    """Cores this process may run on (``os.sched_getaffinity``; ``os.cpu_count`` elsewhere)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def executor_from_env(executor: str | None = None, address: str | None = None) -> tuple[str, str | None]:
    """The executor and scheduler address to use: the arguments, else ``ZHUDIAN_EXECUTOR`` and
    ``ZHUDIAN_DASK_SCHEDULER``, else ``local``.

    Raises
    ------
    ValueError
        For an unknown executor (the message lists the known ones).
    """
    name = (executor or os.environ.get("ZHUDIAN_EXECUTOR") or "local").strip().lower()
    if name not in EXECUTORS:
        raise ValueError(f"并行方式应为 {' 或 '.join(EXECUTORS)} (收到 {name!r}); "
                         "设置 --executor 或环境变量 ZHUDIAN_EXECUTOR")
    return name, address or os.environ.get("ZHUDIAN_DASK_SCHEDULER") or None


def _error_text(exc: BaseException) -> str:
    text = str(exc).strip() or exc.__class__.__name__
    return f"{exc.__class__.__name__}: {text}" if not text.startswith(exc.__class__.__name__) else text


def _outcome(key: str, t0: float, get: Callable[[], Any]) -> Outcome:
    """The outcome of a task whose result ``get()`` returns or raises (started at ``t0``,
    ``time.perf_counter`` seconds)."""
    try:
        value = get()
    except Exception as exc:  # noqa: BLE001 - one village's failure is its outcome
        logger.debug("%s", traceback.format_exc())
        return Outcome(key, error=_error_text(exc), seconds=time.perf_counter() - t0)
    return Outcome(key, value, seconds=time.perf_counter() - t0)


def run_tasks(tasks: Iterable[Task], *, workers: int = 1, executor: str = "local", address: str | None = None,
              on_outcome: Callable[[Outcome], None] | None = None) -> list[Outcome]:
    """Run every task and return their outcomes in the order of ``tasks``.

    Tasks are taken from ``tasks`` lazily, at most ``2 * workers`` at a time in flight, so a
    generator that loads each village's data when asked keeps memory bounded.  A task that
    raises becomes an :class:`Outcome` with ``error`` (logged with its traceback); the others go
    on.  ``on_outcome`` is called in this process as each task ends (completion order).

    Parameters
    ----------
    tasks : iterable of Task
    workers : int
        Processes (``local``) or local-cluster workers (``dask`` without an address); 1 runs the
        ``local`` tasks in this process, one after the other.
    executor : {"local", "dask"}
    address : str, optional
        Scheduler of an existing Dask cluster.

    Raises
    ------
    ValueError
        For an unknown executor or ``workers < 1``.
    ImportError
        For ``dask`` when the ``distributed`` package is not installed (the message says how to
        install it).
    KeyboardInterrupt
        Passed on after the pending tasks are cancelled.
    """
    if workers < 1:
        raise ValueError("workers 必须大于 0")
    if executor not in EXECUTORS:
        raise ValueError(f"并行方式应为 {' 或 '.join(EXECUTORS)} (收到 {executor!r})")
    order: dict[str, int] = {}
    done: list[Outcome] = []

    def record(outcome: Outcome) -> None:
        done.append(outcome)
        if outcome.error is not None:
            logger.warning("任务 %s 失败: %s", outcome.key, outcome.error)
        if on_outcome is not None:
            on_outcome(outcome)

    def numbered() -> Iterator[Task]:
        for t in tasks:
            if t.key in order:
                raise ValueError(f"任务编号重复: {t.key}")
            order[t.key] = len(order)
            yield t

    if executor == "dask":
        _run_dask(numbered(), workers, address, record)
    elif workers == 1:
        for t in numbered():
            record(_outcome(t.key, time.perf_counter(), lambda t=t: t.fn(*t.args)))
    else:
        _run_pool(numbered(), workers, record)
    return sorted(done, key=lambda o: order[o.key])


def _run_pool(tasks: Iterator[Task], workers: int, record: Callable[[Outcome], None]) -> None:
    ctx = multiprocessing.get_context("spawn")  # no fork of a process holding threads and a database
    running: dict[Future, tuple[str, float]] = {}
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=ctx)
    broken: str | None = None  # why the pool died, once it has
    try:
        pending = iter(tasks)
        exhausted = False
        while True:
            while not exhausted and len(running) < 2 * workers:
                t = next(pending, None)
                if t is None:
                    exhausted = True
                    break
                if broken is not None:  # the pool died: the remaining tasks fail with the same reason
                    record(Outcome(t.key, error=broken, seconds=0.0))
                    continue
                running[pool.submit(t.fn, *t.args)] = (t.key, time.perf_counter())
            if not running:
                break
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for f in finished:
                key, t0 = running.pop(f)
                if isinstance(f.exception(), BrokenProcessPool):
                    broken = ("BrokenProcessPool: 一个计算进程意外退出 (内存不足或被终止); "
                              f"减少 --workers 后重试 ({f.exception()})")
                    record(Outcome(key, error=broken, seconds=time.perf_counter() - t0))
                else:
                    record(_outcome(key, t0, f.result))
    except BaseException:
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown(wait=True)


def _run_dask(tasks: Iterator[Task], workers: int, address: str | None,
              record: Callable[[Outcome], None]) -> None:
    try:
        from distributed import Client, LocalCluster, as_completed
    except ImportError as exc:  # pragma: no cover - the dev install has it
        raise ImportError("并行方式 dask 需要 distributed 包: pip install 'zhudian[cluster]' "
                          "(或 pip install distributed)") from exc
    logging.getLogger("distributed").setLevel(logging.WARNING)  # no scheduler chatter on the user's terminal
    cluster = None
    if address is None:
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                               dashboard_address=None, silence_logs=logging.ERROR)
        client = Client(cluster)
    else:
        client = Client(address)
    try:
        n_workers = max(1, len(client.scheduler_info().get("workers", {})) or workers)
        started: dict[str, tuple[str, float]] = {}
        queue = as_completed()
        in_flight = 0

        def submit_more() -> None:
            nonlocal in_flight
            while in_flight < 2 * n_workers:
                t = next(tasks, None)
                if t is None:
                    return
                fut = client.submit(t.fn, *t.args, key=f"zhudian-{t.key}-{time.time_ns()}", pure=False)
                started[fut.key] = (t.key, time.perf_counter())
                queue.add(fut)
                in_flight += 1

        submit_more()
        for fut in queue:
            key, t0 = started.pop(fut.key)
            in_flight -= 1
            record(_outcome(key, t0, fut.result))
            fut.release()
            submit_more()
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


_ENGINES: dict[str, Any] = {}


@contextmanager
def task_store(db: str) -> Iterator[Any]:
    """The store a task works on (an SQLAlchemy engine).

    In a worker process (of the local pool or of a local Dask cluster) the engine is opened
    once and kept for the process's next tasks; in the main process it is opened for the task
    and disposed after it.

    Raises
    ------
    FileNotFoundError
        When the store does not exist.
    """
    from api import store

    if multiprocessing.parent_process() is None:
        engine = store.open_store(db, create=False)
        try:
            yield engine
        finally:
            engine.dispose()
        return
    engine = _ENGINES.get(db)
    if engine is None:
        if not _ENGINES:  # close the connections when the worker process exits normally
            multiprocessing.util.Finalize(None, _dispose_engines, exitpriority=10)
        engine = _ENGINES[db] = store.open_store(db, create=False)
    yield engine


def _dispose_engines() -> None:
    for engine in _ENGINES.values():
        engine.dispose()
    _ENGINES.clear()
