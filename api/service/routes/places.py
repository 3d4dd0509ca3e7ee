"""Reads of the places: towns, villages, areas, households (GeoJSON, paginated)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from api.service import data
from api.service.deps import ScopeDep, StateDep
from api.service.schemas import ERRORS, FeatureCollection, TownOut

router = APIRouter(tags=["places"])

Limit = Annotated[int, Query(ge=1, le=5000, description="每页条数")]
Offset = Annotated[int, Query(ge=0, le=10**9, description="跳过的条数")]
VillageQ = Annotated[str | None, Query(min_length=1, max_length=64, description="行政村编号")]
GEOJSON = {"content": {"application/geo+json": {}}}


def geojson(doc: dict) -> JSONResponse:
    return JSONResponse(doc, media_type="application/geo+json")


@router.get("/towns", response_model=list[TownOut], responses=ERRORS, summary="镇/街道 (令牌范围内)")
def list_towns(scope: ScopeDep, state: StateDep) -> list[dict]:
    with state.engine.connect() as conn:
        return data.towns(conn, scope)


@router.get("/villages", response_model=FeatureCollection, responses={**ERRORS, 200: GEOJSON},
            summary="行政村/社区 (GeoJSON, WGS 84)")
def list_villages(scope: ScopeDep, state: StateDep,
                  town: Annotated[str | None, Query(max_length=64, description="只列这个镇")] = None) -> JSONResponse:
    with state.engine.connect() as conn:
        return geojson(data.villages_fc(conn, scope, town))


@router.get("/areas", response_model=FeatureCollection, responses={**ERRORS, 200: GEOJSON},
            summary="自然村/小区 (GeoJSON, 分页)")
def list_areas(request: Request, scope: ScopeDep, state: StateDep, village: VillageQ = None,
               limit: Limit = 500, offset: Offset = 0) -> JSONResponse:
    with state.engine.connect() as conn:
        return geojson(data.areas_fc(conn, scope, village, limit, offset, str(request.url)))


@router.get("/households", response_model=FeatureCollection, responses={**ERRORS, 200: GEOJSON},
            summary="住户 (GeoJSON, 分页; 范围外的姓名和电话隐去)")
def list_households(request: Request, scope: ScopeDep, state: StateDep, village: VillageQ = None,
                    limit: Limit = 500, offset: Offset = 0) -> JSONResponse:
    """Households the caller may see (a group member: its own zone's), ``limit`` per page; the
    answer's ``next`` is the URL of the next page.  ``personal_data`` says whether head and phone
    are shown in full or masked."""
    with state.engine.connect() as conn:
        return geojson(data.households_fc(conn, scope, village, limit, offset, str(request.url)))
