"""The problem ledger (问题台账): list (scoped), update status (audited), export (XLSX/CSV).

The same store functions as ``zhudian problems DB list|update|export``; no personal data (head
names, phones) is ever part of an answer, so nothing needs masking.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path
from typing import Annotated, Literal

from fastapi import APIRouter, Path as PathParam, Query, Request
from fastapi.responses import Response
from sqlalchemy import Connection, select

from api.service import data
from api.service.deps import ScopeDep, StateDep
from api.service.errors import ApiError, forbidden, not_found
from api.service.routes.places import Limit, Offset, VillageQ
from api.service.schemas import ERRORS, LedgerItemOut, LedgerUpdateIn
from api.service.security import Scope
from api.store.models import Household
from api.store.models import Problem as ProblemRow
from api.store.visits import ProblemRecord, list_problems, update_problem

router = APIRouter(tags=["problems"])

Status = Literal["open", "in_progress", "resolved", "cannot_resolve"]
StatusQ = Annotated[list[Status] | None, Query(description="只列这些状态 (可重复)")]
TownQ = Annotated[str | None, Query(min_length=1, max_length=64, description="镇名 (或行政村编号前缀)")]
OverdueQ = Annotated[bool, Query(description="只列逾期未办结的问题")]
AsOfQ = Annotated[dt.date | None, Query(description="计算逾期的日期 (默认今天)")]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
EXPORT = {200: {"content": {XLSX: {}, "text/csv": {}}, "description": "问题台账 (XLSX 或 UTF-8 CSV)"}}


def _visible(conn: Connection, scope: Scope) -> set[str] | None:
    """Household ids whose problems the caller may see; None: all."""
    if scope.zone_households is not None:
        ids = scope.zone_households
        return set(conn.scalars(select(Household.household_id).where(Household.id.in_(ids)))) if ids else set()
    if scope.villages is None:
        return None
    if not scope.villages:
        return set()
    return set(conn.scalars(select(Household.household_id).where(Household.village_fk.in_(scope.villages))))


def _records(state, scope: Scope, status, village, town, overdue, as_of) -> list[ProblemRecord]:
    records = list_problems(state.engine, status=status, village_id=village, town=town, overdue=overdue, as_of=as_of)
    with state.engine.connect() as conn:
        visible = _visible(conn, scope)
    return records if visible is None else [r for r in records if r.household_id in visible]


def _out(r: ProblemRecord) -> dict:
    return {"id": r.id, "household": r.household_id, "village": r.village_id, "village_name": r.village,
            "town": r.town, "group": r.group_id, "visit_date": r.visit_date, "category": r.category,
            "department": r.department, "text": r.text, "deadline": r.deadline, "status": r.status,
            "resolution_note": r.resolution_note, "resolved_date": r.resolved_date,
            "overdue": r.overdue_days > 0, "overdue_days": r.overdue_days}


@router.get("/problems", response_model=list[LedgerItemOut], responses=ERRORS,
            summary="问题台账 (令牌范围内; 可按村、镇、状态、逾期筛选, 分页)")
def get_problems(scope: ScopeDep, state: StateDep, village: VillageQ = None, town: TownQ = None,
                 status: StatusQ = None, overdue: OverdueQ = False, as_of: AsOfQ = None,
                 limit: Limit = 1000, offset: Offset = 0) -> list[dict]:
    records = _records(state, scope, status, village, town, overdue, as_of)
    return [_out(r) for r in records[offset:offset + limit]]


@router.get("/problems/export", response_class=Response, responses={**ERRORS, **EXPORT},
            summary="导出问题台账 (XLSX 或 CSV; 筛选同 GET /problems)")
def export_ledger(scope: ScopeDep, state: StateDep,
                  format: Annotated[Literal["xlsx", "csv"], Query(description="文件格式")] = "xlsx",
                  village: VillageQ = None, town: TownQ = None, status: StatusQ = None,
                  overdue: OverdueQ = False, as_of: AsOfQ = None) -> Response:
    from api.visits import export_problems

    records = _records(state, scope, status, village, town, overdue, as_of)
    with tempfile.TemporaryDirectory(prefix="zhudian-ledger-") as tmp:
        out = export_problems(records, Path(tmp) / f"problems.{format}")
        body = out.read_bytes()
    media = XLSX if format == "xlsx" else "text/csv; charset=utf-8"
    return Response(body, media_type=media,
                    headers={"Content-Disposition": f'attachment; filename="problems.{format}"'})


@router.patch("/problems/{problem_id}", response_model=LedgerItemOut, responses=ERRORS,
              summary="更新问题状态 (办结、无法解决须写原因), 写入审计日志")
def patch_problem(problem_id: Annotated[int, PathParam(ge=1, le=2**62)], body: LedgerUpdateIn,
                  request: Request, scope: ScopeDep, state: StateDep) -> dict:
    scope.require_write()
    with state.engine.connect() as conn:
        row = conn.execute(select(Household.id, Household.village_fk, Household.household_id)
                           .join(ProblemRow, ProblemRow.household_fk == Household.id)
                           .where(ProblemRow.id == problem_id)).first()
    if row is None:
        raise not_found(f"问题 {problem_id}", str(problem_id), "用 GET /api/v1/problems 查看编号")
    hpk, vpk, hid = row
    if not scope.sees_household(vpk, hpk):
        raise forbidden(f"问题 {problem_id} (住户 {hid}) 不在你的范围内",
                        "只能更新本人所属范围内的问题; 其他镇的问题请用相应的令牌")
    try:
        record = update_problem(state.engine, problem_id, status=body.status, note=body.note, on=body.date,
                                department=body.department, deadline=body.deadline)
    except ValueError as exc:
        raise ApiError(422, str(exc), "按 /api/v1/docs 改正请求", where="status") from exc
    data.audit_now(state.engine, scope.principal, "problem.update", request.method, request.url.path, 200,
                   {"problem": problem_id, "household": hid, **body.model_dump(mode="json", exclude_none=True)})
    return _out(record)
