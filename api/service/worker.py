"""What a job runs inside the service's process pool: zoning or month planning, with progress.

The pool's processes import this module (never FastAPI).  A job reads its parameters from its row
in ``jobs``, calls :func:`api.zoning.run_zoning` or :func:`api.plan.run_plan` (the functions of the
CLI) and writes its progress, result or problems back to the row.  Its progress callback also
stops the job between steps when the job was cancelled, when the service marked it failed at a
restart, or when the service process is gone.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import signal
import sys
import tempfile
import traceback
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select, update

from api import store
from api.store import _write_session
from api.store.models import Job, RosterFile
from geo.errors import InputError

logger = logging.getLogger(__name__)

INTERRUPTED = "服务重启时中断"


class JobStopped(Exception):
    """Raised by the progress callback: the job was cancelled or abandoned."""


def init_worker() -> None:
    """Pool initializer: die with the service (Linux ``PR_SET_PDEATHSIG``), log warnings to stderr."""
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL("libc.so.6", use_errno=True)
            libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG: SIGKILL when the parent dies
        except OSError:  # pragma: no cover - no libc
            pass
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class _Progress:
    """Counts steps, writes percent and message to the job row, and stops a cancelled job."""

    def __init__(self, engine: Engine, job_id: int, total: int, *, before: bool):
        self.engine, self.job_id, self.total, self.before = engine, job_id, max(1, total), before
        self.n = 0
        self.parent = os.getppid()

    def __call__(self, message: str) -> None:
        if os.getppid() != self.parent:  # the service is gone: stop, the next start marks the job failed
            raise JobStopped("服务进程已退出")
        self.n += 1
        done = self.n - 1 if self.before else self.n
        percent = round(min(99.0, 100.0 * done / self.total), 1)
        with _write_session(self.engine) as session:
            changed = session.execute(update(Job).where(Job.id == self.job_id, Job.status == "running")
                                      .values(percent=percent, message=message)).rowcount
            status = None if changed else session.scalar(select(Job.status).where(Job.id == self.job_id))
        if not changed:
            raise JobStopped(status or "gone")


def _finish(engine: Engine, job_id: int, status: str, **values: Any) -> None:
    with _write_session(engine) as session:
        current = session.scalar(select(Job.status).where(Job.id == job_id))
        if current == "cancelling":
            status = "cancelled"
            values = {"message": "已取消"}
        elif current != "running":
            return  # marked failed by a restart, or cancelled: leave it so
        session.execute(update(Job).where(Job.id == job_id).values(status=status, finished_at=_now(), **values))


def run_job(db: str, job_id: int) -> str:
    """Run the job ``job_id`` of the store ``db`` to its end; returns its final status.

    Never raises for a job's own failure: problems go to the job row (``status = failed``,
    ``error`` = the problems, as a 422 answer would list them).
    """
    engine = store.open_store(db, create=False)
    try:
        with _write_session(engine) as session:
            job = session.get(Job, job_id)
            if job is None or job.status != "queued":
                return job.status if job is not None else "gone"
            job.status, job.started_at, job.pid, job.message = "running", _now(), os.getpid(), "开始"
            kind, params = job.kind, dict(job.params)
        try:
            if kind == "zoning":
                result = _zoning(db, engine, job_id, params)
            else:
                result = _plan(db, engine, job_id, params)
        except JobStopped:
            _finish(engine, job_id, "cancelled", message="已停止")
        except InputError as exc:
            _finish(engine, job_id, "failed", message="输入数据有问题, 没有写入", error=[p.as_dict() for p in exc.problems])
        except (ValueError, FileNotFoundError) as exc:
            _finish(engine, job_id, "failed", message=str(exc)[:500],
                    error=[{"file": "", "where": "", "problem": str(exc), "fix": ""}])
        except Exception as exc:  # noqa: BLE001 - the job row must say what happened
            logger.error("job %s failed:\n%s", job_id, traceback.format_exc())
            _finish(engine, job_id, "failed", message=f"内部错误: {type(exc).__name__}: {exc}"[:500],
                    error=[{"file": "", "where": "", "problem": f"内部错误: {type(exc).__name__}: {exc}",
                            "fix": "请把作业编号告诉管理员 (服务日志有详细信息)"}])
        else:
            _finish(engine, job_id, "succeeded", percent=100.0, message="完成", result=result)
        with engine.connect() as conn:
            return str(conn.scalar(select(Job.status).where(Job.id == job_id)))
    finally:
        engine.dispose()


def _zoning(db: str, engine: Engine, job_id: int, params: dict) -> dict:
    from api.zoning import ZoneRequest, run_zoning

    villages = params.get("villages")
    total = len(villages) if villages else len(store.load_villages(engine))
    progress = _Progress(engine, job_id, total, before=False)  # told as each village finishes
    with tempfile.TemporaryDirectory(prefix="zhudian-job-") as tmp:
        roster = None
        if params.get("roster_id") is not None:
            with engine.connect() as conn:
                row = conn.execute(select(RosterFile.filename, RosterFile.content)
                                   .where(RosterFile.id == params["roster_id"])).first()
            if row is None:
                raise ValueError(f"花名册 {params['roster_id']} 不存在")
            roster = Path(tmp) / Path(row.filename).name
            roster.write_bytes(row.content)
        req = ZoneRequest(villages=villages, groups=params.get("groups"), roster=roster,
                          tolerance=params.get("tolerance", 0.05), locks=params.get("locks") or (),
                          seconds=params.get("seconds", 5.0), seed=params.get("seed", 0),
                          service_min=params.get("service_min", 10.0), fresh=params.get("fresh", False))
        return run_zoning(db, req, progress=progress, workers=params.get("workers") or 1)


def _plan(db: str, engine: Engine, job_id: int, params: dict) -> dict:
    from api.plan import PlanRequest, plan_steps, run_plan

    req = PlanRequest(month=params["month"], villages=params.get("villages"),
                      stationing_day=params.get("stationing_day", "tue"),
                      evenings_per_week=params.get("evenings_per_week", 3),
                      service_min=params.get("service_min", 10), seconds=params.get("seconds", 5.0),
                      seed=params.get("seed", 0), engine=params.get("engine", "pyvrp"),
                      iterations=params.get("iterations"), start=params.get("start", "depot"),
                      end=params.get("end", "start"), outposts=params.get("outposts", True),
                      workers=params.get("workers") or 1)
    progress = _Progress(engine, job_id, plan_steps(db, req), before=False)
    return run_plan(db, req, progress=progress)


def mark_interrupted(engine: Engine) -> int:
    """Mark every job still queued, running or cancelling as failed (at service start).

    Returns the number of jobs marked.
    """
    with _write_session(engine) as session:
        return session.execute(
            update(Job).where(Job.status.in_(("queued", "running", "cancelling")))
            .values(status="failed", message=INTERRUPTED, finished_at=_now(),
                    error=[{"file": "", "where": "", "problem": INTERRUPTED, "fix": "重新提交作业"}])).rowcount
