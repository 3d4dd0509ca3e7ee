"""Request and response models of the API (field names in English, messages in Chinese)."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Outcome = Literal["met", "not_home", "refused", "moved"]
JobStatus = Literal["queued", "running", "cancelling", "succeeded", "failed", "cancelled"]


class ProblemOut(BaseModel):
    """One problem: the file (or parameter), the feature/row, what is wrong, how to fix it."""

    file: str
    where: str
    problem: str
    fix: str


class ErrorResponse(BaseModel):
    """Every 4xx answer."""

    detail: list[ProblemOut]


ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorResponse, "description": "缺少或无效的访问令牌"},
    403: {"model": ErrorResponse, "description": "令牌的角色或范围不允许"},
    404: {"model": ErrorResponse, "description": "找不到"},
    422: {"model": ErrorResponse, "description": "输入有问题 (每个问题给出文件、位置、问题和处理办法)"},
}
"""The error answers every route documents."""


# -- GeoJSON


class Feature(BaseModel):
    type: Literal["Feature"] = "Feature"
    id: str | int | None = None
    geometry: dict[str, Any] | None
    properties: dict[str, Any]


class FeatureCollection(BaseModel):
    """A GeoJSON FeatureCollection (WGS 84); paginated lists add ``numberMatched`` and ``next``."""

    type: Literal["FeatureCollection"] = "FeatureCollection"
    features: list[Feature]
    numberMatched: int | None = None
    numberReturned: int | None = None
    next: str | None = None
    meta: dict[str, Any] | None = None


# -- places


class TownOut(BaseModel):
    id: int
    name: str
    villages: int
    households: int


class ImportReport(BaseModel):
    """The report of :func:`api.importer.run_import` (as ``zhudian import --json`` prints it)."""

    model_config = ConfigDict(extra="allow")
    villages: int
    areas: int
    households: int
    households_unplaced: int
    roads: int
    roads_km: float
    warnings: list[str]
    dry_run: bool


class RosterOut(BaseModel):
    id: int
    filename: str
    people: int
    villages: list[str]
    warnings: list[str]


# -- plans


class StopOut(BaseModel):
    seq: int
    household: str
    arrive: str | None
    depart: str | None
    address: str | None = None


class StartPointOut(BaseModel):
    kind: Literal["depot", "auxiliary_home", "outpost"] = Field(description="村委会 / 辅助成员家 / 外点 (需乘车前往)")
    lon: float
    lat: float
    label: str | None = None


class SessionOut(BaseModel):
    group: str
    date: dt.date
    kind: str
    start: str | None
    end: str | None
    budget_min: float | None
    start_point: StartPointOut | None = Field(default=None, description="出发点 (旧计划为空: 村委会)")
    stops: list[StopOut]


class GroupPlanOut(BaseModel):
    group: str
    params: dict[str, Any]
    seed: int | None
    solver_status: str | None
    scores: dict[str, Any]
    zone_plan_version: int | None
    sessions: int
    stops: int


class MonthPlanOut(BaseModel):
    village: str
    month: str
    groups: list[GroupPlanOut]


class SessionsOut(BaseModel):
    village: str
    month: str
    sessions: list[SessionOut]


# -- jobs


class ZoningJobIn(BaseModel):
    """Parameters of a zoning job (those of ``zhudian zone``)."""

    model_config = ConfigDict(extra="forbid")
    villages: list[str] | None = Field(default=None, max_length=1000, description="行政村编号; 默认: 令牌范围内全部")
    groups: int | None = Field(default=None, ge=1, le=100, description="没有花名册时每村的小组数")
    roster_id: int | None = Field(default=None, ge=1, description="POST /rosters 返回的花名册编号")
    tolerance: float = Field(default=0.05, ge=0, lt=1)
    locks: list[str] = Field(default_factory=list, max_length=1000, description="片区=小组, 如 V003=2")
    seconds: float = Field(default=5.0, gt=0, le=600)
    seed: int = Field(default=0, ge=0, le=2**31 - 1)
    service_min: float = Field(default=10.0, gt=0, le=240)
    fresh: bool = False
    workers: int = Field(default=1, ge=1, le=64, description="并行处理行政村的进程数")


class PlanJobIn(BaseModel):
    """Parameters of a month-planning job (those of ``zhudian plan``)."""

    model_config = ConfigDict(extra="forbid")
    month: str = Field(pattern=r"^\d{4}-(0[1-9]|1[0-2])$", examples=["2026-12"])
    villages: list[str] | None = Field(default=None, max_length=1000)
    stationing_day: str = Field(default="tue", max_length=8)
    evenings_per_week: int = Field(default=3, ge=0, le=5)
    service_min: int = Field(default=10, gt=0, le=240)
    seconds: float = Field(default=5.0, gt=0, le=600,
                           description="每组求解量 (秒); PyVRP 按每秒 1500 次迭代折算, 同样的数据和 seed 得到同样的计划")
    seed: int = Field(default=0, ge=0, le=2**31 - 1)
    engine: Literal["pyvrp", "ortools"] = "pyvrp"
    iterations: int | None = Field(default=None, ge=1, le=10**7,
                                   description="每组每阶段的迭代次数, 代替由 seconds 折算的次数 (seconds 此时为时间上限)")
    start: Literal["depot", "auxiliary"] = "depot"
    end: Literal["start", "depot"] = "start"
    outposts: bool = Field(default=True, description="有 5 户以上一个时段内走不到时, 部分时段从这些户当中的一处出发")
    workers: int = Field(default=1, ge=1, le=64, description="并行处理行政村的进程数")


class JobOut(BaseModel):
    id: int
    kind: Literal["zoning", "plan"]
    status: JobStatus
    percent: float
    message: str | None
    params: dict[str, Any]
    result: dict[str, Any] | None = None
    error: list[ProblemOut] | None = None
    created_at: dt.datetime | None
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    url: str


# -- visits


class ProblemIn(BaseModel):
    """A problem the household raised, for the ledger (问题台账)."""

    model_config = ConfigDict(extra="forbid")
    text: str = Field(min_length=1, max_length=2000)
    category: str | None = Field(default=None, max_length=100)
    department: str | None = Field(default=None, max_length=100)
    deadline: dt.date | None = None


class VisitIn(BaseModel):
    """One visit, as a phone sends it; ``client_id`` is generated on the phone (a UUID) and makes
    retries safe: the same ``client_id`` never makes a second visit."""

    model_config = ConfigDict(extra="forbid")
    client_id: str = Field(min_length=8, max_length=100, pattern=r"^[A-Za-z0-9_.:-]+$")
    household: str = Field(min_length=1, max_length=64)
    date: dt.date | None = Field(default=None, description="默认今天")
    outcome: Outcome
    note: str | None = Field(default=None, max_length=2000)
    group: str | None = Field(default=None, max_length=64, description="走访小组; 小组成员的令牌自动填写")
    problem: ProblemIn | None = None


class VisitOut(BaseModel):
    id: int
    client_id: str | None
    household: str
    village: str | None
    group: str | None
    date: dt.date
    outcome: Outcome
    note: str | None
    problem_id: int | None
    created_at: dt.datetime | None


class BulkVisitsOut(BaseModel):
    rows: int
    created: int
    existing: int


class CoverageRow(BaseModel):
    level: Literal["town", "village", "zone"]
    id: str
    name: str
    village: str | None = None
    households: int
    visited: int
    never_visited: int
    rate: float


class CoverageOut(BaseModel):
    year: int
    level: Literal["town", "village", "zone"]
    rows: list[CoverageRow]
    total: CoverageRow | None


class Health(BaseModel):
    status: Literal["ok"]
    version: str


# -- problem ledger

ProblemStatus = Literal["open", "in_progress", "resolved", "cannot_resolve"]


class LedgerItemOut(BaseModel):
    """One item of the problem ledger (问题台账); no personal data."""

    id: int
    household: str
    village: str | None
    village_name: str | None = None
    town: str | None = None
    group: str | None = None
    visit_date: dt.date | None = None
    category: str | None
    department: str | None
    text: str
    deadline: dt.date | None
    status: ProblemStatus
    resolution_note: str | None
    resolved_date: dt.date | None
    overdue: bool
    overdue_days: int = 0


class LedgerUpdateIn(BaseModel):
    """A status change (``cannot_resolve`` needs ``note``, the reason); ``date`` is the day it was
    resolved (default today)."""

    model_config = ConfigDict(extra="forbid")
    status: ProblemStatus
    note: str | None = Field(default=None, max_length=2000, description="办理情况; 无法解决时的原因 (必填)")
    date: dt.date | None = Field(default=None, description="办结日期 (默认今天)")
    department: str | None = Field(default=None, max_length=100)
    deadline: dt.date | None = None
