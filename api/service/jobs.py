"""The job pool: zoning and planning jobs run in spawned processes, never in the web worker."""

from __future__ import annotations

import logging
import multiprocessing
import queue
import threading
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from sqlalchemy import Engine, update

from api.service.worker import init_worker, run_job
from api.store import _write_session
from api.store.models import Job

logger = logging.getLogger(__name__)


class JobRunner:
    """A ``ProcessPoolExecutor`` (spawn) running :func:`api.service.worker.run_job`.

    Parameters
    ----------
    db : str
        The store (path or URL) the workers open.
    engine : Engine
        The service's engine, to mark a job failed when its worker process dies.
    workers : int
        Processes in the pool.
    """

    def __init__(self, db: str, engine: Engine, workers: int):
        self.db, self.engine, self.workers = db, engine, workers
        self._lock = threading.Lock()
        self._futures: dict[int, Future] = {}
        self._queue: queue.Queue[int | None] = queue.Queue()
        self._pool: ProcessPoolExecutor | None = None
        # One long-lived thread makes the pool's processes and submits to it: a process dies with
        # the thread that made it (PR_SET_PDEATHSIG), and the web worker's threads come and go.
        self._thread = threading.Thread(target=self._loop, name="zhudian-jobs", daemon=True)
        self._thread.start()

    def _new_pool(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(max_workers=self.workers, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=init_worker)

    def _loop(self) -> None:
        while (job_id := self._queue.get()) is not None:
            with self._lock:
                if job_id not in self._futures:
                    continue  # cancelled before it reached the pool
                if self._pool is None:
                    self._pool = self._new_pool()
                try:
                    future = self._pool.submit(run_job, self.db, job_id)
                except BrokenProcessPool:
                    self._pool.shutdown(wait=False, cancel_futures=True)
                    self._pool = self._new_pool()
                    future = self._pool.submit(run_job, self.db, job_id)
                self._futures[job_id] = future
            future.add_done_callback(lambda f, j=job_id: self._done(j, f))
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)

    def submit(self, job_id: int) -> None:
        """Queue a job (its row must exist with status ``queued``)."""
        with self._lock:
            self._futures[job_id] = Future()  # placeholder until the pool has it
        self._queue.put(job_id)

    def _done(self, job_id: int, future: Future) -> None:
        with self._lock:
            self._futures.pop(job_id, None)
        if future.cancelled():
            return
        exc = future.exception()
        if exc is None:
            return
        logger.error("job %s: worker process failed: %r", job_id, exc)
        try:
            with _write_session(self.engine) as session:
                session.execute(update(Job).where(Job.id == job_id, Job.status.in_(("queued", "running", "cancelling")))
                                .values(status="failed", message=f"作业进程意外退出: {type(exc).__name__}",
                                        error=[{"file": "", "where": "", "problem": "作业进程意外退出",
                                                "fix": "重新提交作业; 反复出现请查看服务日志"}]))
        except Exception:  # noqa: BLE001 - best effort; the next start marks it failed anyway
            logger.exception("could not mark job %s failed", job_id)

    def cancel_queued(self, job_id: int) -> bool:
        """Cancel a job that has not started; False when it runs already (or is unknown here)."""
        with self._lock:
            future = self._futures.get(job_id)
            if future is not None and not future.running() and not future.done():
                placeholder = future.cancel()
                if placeholder:
                    self._futures.pop(job_id, None)
                return placeholder
        return False

    def shutdown(self) -> None:
        """Stop taking jobs; running ones are left to finish or to be marked at the next start."""
        self._queue.put(None)
        self._thread.join(timeout=5)
