"""Jobs: zoning and month planning, run in the process pool; status, percent, result, cancel."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path as PathParam, Query, Request
from fastapi.responses import JSONResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.service import data
from api.service.deps import ScopeDep, StateDep
from api.service.errors import ApiError, not_found
from api.service.schemas import ERRORS, JobOut, PlanJobIn, ZoningJobIn
from api.service.security import Scope, now
from api.store import _write_session
from api.store.models import Job, RosterFile, Village

router = APIRouter(prefix="/jobs", tags=["jobs"])

JobId = Annotated[int, PathParam(ge=1, le=2**62)]
ACCEPTED = {202: {"model": JobOut, "description": "作业已排队; 用 GET url 查看进度"}}


def _villages(state, scope: Scope, wanted: list[str] | None) -> list[str] | None:
    """The villages of a job: those asked for (each in scope and stored), else all of the
    caller's scope (None: all, for a city admin)."""
    with state.engine.connect() as conn:
        if wanted:
            for vid in wanted:
                data.village(conn, scope, vid)
            return list(dict.fromkeys(wanted))
        if scope.villages is None:
            return None
        ids = sorted(conn.scalars(select(Village.village_id).where(Village.id.in_(sorted(scope.villages)))))
    if not ids:
        raise ApiError(422, "你的范围内还没有行政村", "先导入数据 (POST /api/v1/imports)")
    return ids


def _submit(request: Request, state, scope: Scope, kind: str, params: dict) -> JSONResponse:
    with _write_session(state.engine) as session:
        job = Job(kind=kind, status="queued", percent=0.0, message="排队中", params=params,
                  token_fk=scope.principal.token_id, town_fk=scope.principal.town_fk)
        session.add(job)
        session.flush()
        data.audit(session, scope.principal, f"job.{kind}", request.method, request.url.path, 202,
                   {"job": job.id, "params": params})
        job_id = job.id
    state.runner.submit(job_id)
    with Session(state.engine) as session:
        body = JobOut.model_validate(data.job_out(session.get(Job, job_id), _base(request))).model_dump(mode="json")
    return JSONResponse(body, status_code=202, headers={"Location": body["url"]})


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


@router.post("/zoning", status_code=202, response_model=JobOut, responses={**ERRORS, **ACCEPTED},
             summary="分片作业 (与 zhudian zone 相同); 返回 202 和作业编号")
def submit_zoning(body: ZoningJobIn, request: Request, scope: ScopeDep, state: StateDep) -> JSONResponse:
    scope.require_admin("提交分片作业")
    params = body.model_dump()
    params["villages"] = _villages(state, scope, body.villages)
    if body.roster_id is not None:
        with state.engine.connect() as conn:
            roster = conn.execute(select(RosterFile.id, RosterFile.town_fk).where(RosterFile.id == body.roster_id)).first()
        if roster is None or (scope.principal.role == "town_admin" and roster.town_fk != scope.principal.town_fk):
            raise ApiError(422, f"找不到花名册 {body.roster_id}", "先上传花名册: POST /api/v1/rosters", where="roster_id")
    elif body.groups is None:
        pass  # the stored groups of each village (an earlier roster or zoning)
    return _submit(request, state, scope, "zoning", params)


@router.post("/plan", status_code=202, response_model=JobOut, responses={**ERRORS, **ACCEPTED},
             summary="月度走访计划作业 (与 zhudian plan 相同); 返回 202 和作业编号")
def submit_plan(body: PlanJobIn, request: Request, scope: ScopeDep, state: StateDep) -> JSONResponse:
    from api.plan import PlanRequest

    scope.require_admin("提交计划作业")
    params = body.model_dump()
    params["villages"] = _villages(state, scope, body.villages)
    try:
        PlanRequest(month=body.month, stationing_day=body.stationing_day)  # same checks as the CLI, at once
    except ValueError as exc:
        raise ApiError(422, str(exc), "改正参数") from exc
    return _submit(request, state, scope, "plan", params)


def _job(state, scope: Scope, job_id: int) -> Job:
    with Session(state.engine) as session:
        job = session.get(Job, job_id)
    if job is None or not data.job_visible(scope, job):
        raise not_found(f"作业 {job_id}", str(job_id), "检查作业编号 (GET /api/v1/jobs 列出你的作业)")
    return job


@router.get("/{job_id}", response_model=JobOut, responses=ERRORS, summary="作业状态、进度 (percent) 和结果")
def get_job(job_id: JobId, request: Request, scope: ScopeDep, state: StateDep) -> dict:
    return data.job_out(_job(state, scope, job_id), _base(request))


@router.get("", response_model=list[JobOut], responses=ERRORS, summary="最近的作业 (不含结果)")
def list_jobs(request: Request, scope: ScopeDep, state: StateDep,
              limit: Annotated[int, Query(ge=1, le=500)] = 50) -> list[dict]:
    with Session(state.engine) as session:
        jobs = session.scalars(select(Job).order_by(Job.id.desc()).limit(limit * 5)).all()
    out = []
    for job in jobs:
        if data.job_visible(scope, job):
            d = data.job_out(job, _base(request))
            d["result"] = None
            out.append(d)
    return out[:limit]


@router.delete("/{job_id}", response_model=JobOut, responses=ERRORS,
               summary="取消作业: 排队中的立即取消, 运行中的在当前步骤结束后停止")
def cancel_job(job_id: JobId, request: Request, scope: ScopeDep, state: StateDep) -> dict:
    scope.require_admin("取消作业")
    job = _job(state, scope, job_id)
    with _write_session(state.engine) as session:
        row = session.get(Job, job.id)
        if row.status == "queued":
            row.status, row.message, row.finished_at = "cancelled", "已取消", now()
            state.runner.cancel_queued(job.id)
        elif row.status == "running":
            row.status, row.message = "cancelling", "正在取消 (当前步骤结束后停止)"
        else:
            return data.job_out(row, _base(request))
        data.audit(session, scope.principal, "job.cancel", request.method, request.url.path, 200, {"job": job.id})
        session.flush()
        return data.job_out(row, _base(request))
