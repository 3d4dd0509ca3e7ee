"""Visits (one at a time, idempotent by ``client_id``; bulk CSV) and coverage."""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path
from typing import Annotated, Literal

from fastapi import APIRouter, File, Query, Request, UploadFile
from fastapi.responses import JSONResponse

from api.service import data
from api.service.deps import ScopeDep, StateDep
from api.service.routes.imports import TOO_LARGE
from api.service.routes.places import GEOJSON, Limit, Offset, geojson
from api.service.schemas import ERRORS, BulkVisitsOut, CoverageOut, ErrorResponse, FeatureCollection, VisitIn, VisitOut
from api.service.uploads import TABLE_SUFFIXES, save_upload

router = APIRouter(tags=["visits"])

CONFLICT = {409: {"model": ErrorResponse, "description": "client_id 已用于另一条内容不同的走访"}}
FOUND = {200: {"model": VisitOut, "description": "重试: 这个 client_id 的走访已记录, 返回原记录"},
         201: {"model": VisitOut, "description": "新记录"}}


@router.post("/visits", status_code=201, response_model=VisitOut, responses={**ERRORS, **CONFLICT, **FOUND},
             summary="登记一次走访 (按 client_id 幂等: 重试返回原记录, 200)")
def post_visit(body: VisitIn, request: Request, scope: ScopeDep, state: StateDep) -> JSONResponse:
    visit, created = data.create_visit(state.engine, scope, body, method=request.method, path=request.url.path)
    doc = VisitOut.model_validate(visit).model_dump(mode="json")
    return JSONResponse(doc, status_code=201 if created else 200)


@router.post("/visits/bulk", response_model=BulkVisitsOut, responses={**ERRORS, **CONFLICT, **TOO_LARGE},
             summary="批量登记走访 (CSV/XLSX: client_id, household, date, outcome, note, group, problem)")
def post_visits_bulk(request: Request, scope: ScopeDep, state: StateDep,
                     file: Annotated[UploadFile, File(description="每行一次走访; 整个文件检查无误才写入")]) -> dict:
    from geo._files import read_table
    from geo.errors import Collector

    scope.require_write()
    aliases = {"户编号": "household", "household_id": "household", "日期": "date", "结果": "outcome",
               "走访结果": "outcome", "备注": "note", "小组": "group", "问题": "problem"}
    with tempfile.TemporaryDirectory(prefix="zhudian-upload-") as tmp:
        path = save_upload(file.file, file.filename, Path(tmp), default="visits.csv", suffixes=TABLE_SUFFIXES,
                           max_unzipped=state.settings.max_unzipped_bytes)
        frame = read_table(path, Collector(path))
    frame = frame.rename(columns={c: aliases.get(c, c) for c in frame.columns})
    rows = [{k: (None if v != v else v) for k, v in r.items()} for r in frame.to_dict("records")]
    return data.bulk_visits(state.engine, scope, rows, path.name, method=request.method, path=request.url.path)


Year = Annotated[int | None, Query(ge=2000, le=2100, description="年份 (默认今年)")]


@router.get("/coverage", response_model=CoverageOut, responses=ERRORS,
            summary="走访率: 本年已走访住户 / 住户, 按镇、行政村或片区 (登记后立即更新)")
def get_coverage(scope: ScopeDep, state: StateDep,
                 level: Annotated[Literal["town", "village", "zone"], Query()] = "village", year: Year = None,
                 village: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
                 town: Annotated[str | None, Query(min_length=1, max_length=64)] = None) -> dict:
    with state.engine.connect() as conn:
        return data.coverage(conn, scope, level, year or dt.date.today().year, village, town)


@router.get("/coverage/gaps", response_model=FeatureCollection, responses={**ERRORS, 200: GEOJSON},
            summary="本年从未走访的住户 (GeoJSON, 分页)")
def get_gaps(request: Request, scope: ScopeDep, state: StateDep, year: Year = None,
             village: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
             limit: Limit = 1000, offset: Offset = 0) -> JSONResponse:
    with state.engine.connect() as conn:
        return geojson(data.gaps_fc(conn, scope, year or dt.date.today().year, village, limit, offset,
                                    str(request.url)))
