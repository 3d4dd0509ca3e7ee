"""Reads of plans: zones, month plans, sessions, routes (JSON, GeoJSON, GPX), maps (HTML), sheets (PDF)."""

from __future__ import annotations

import datetime as dt
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Annotated, Literal

from fastapi import APIRouter, Path as PathParam, Query
from fastapi.responses import HTMLResponse, JSONResponse, Response

from api.service import data
from api.service.deps import ScopeDep, StateDep
from api.service.errors import ApiError, forbidden
from api.service.routes.places import GEOJSON, geojson
from api.service.schemas import ERRORS, FeatureCollection, MonthPlanOut, SessionsOut
from api.service.security import Scope
from geo.errors import InputError

router = APIRouter(tags=["plans"])

Month = Annotated[str, Query(pattern=r"^\d{4}-(0[1-9]|1[0-2])$", description="YYYY-MM", examples=["2026-12"])]
VillageP = Annotated[str, PathParam(min_length=1, max_length=64, description="行政村编号")]
GroupP = Annotated[str, PathParam(min_length=1, max_length=64, description="小组编号, 如 990101001009-G1")]
Day = Annotated[dt.date | None, Query(description="只要这一天的时段")]


@router.get("/villages/{village_id}/zones", response_model=FeatureCollection, responses={**ERRORS, 200: GEOJSON},
            summary="分片 (最新版或指定版本; GeoJSON 轮廓, meta 为参数、种子和评分)")
def get_zones(village_id: VillageP, scope: ScopeDep, state: StateDep,
              version: Annotated[int | None, Query(ge=1, le=10**6)] = None) -> JSONResponse:
    with state.engine.connect() as conn:
        return geojson(data.zones_fc(state.engine, conn, scope, village_id, version))


@router.get("/villages/{village_id}/plans", response_model=MonthPlanOut, responses=ERRORS,
            summary="某月的走访计划: 每组的参数、求解状态和评分")
def get_month_plan(village_id: VillageP, month: Month, scope: ScopeDep, state: StateDep) -> dict:
    with state.engine.connect() as conn:
        return data.month_plan(state.engine, conn, scope, village_id, month)


@router.get("/villages/{village_id}/sessions", response_model=SessionsOut, responses=ERRORS,
            summary="某月的走访时段 (驻点日、夜访) 和每个时段的住户顺序")
def get_sessions(village_id: VillageP, month: Month, scope: ScopeDep, state: StateDep,
                 group: Annotated[str | None, Query(min_length=1, max_length=64)] = None, date: Day = None) -> dict:
    with state.engine.connect() as conn:
        return data.sessions(state.engine, conn, scope, village_id, month, group, date)


def _input_error(exc: InputError) -> ApiError:
    return ApiError(404, exc.problems)


@router.get("/groups/{group_id}/routes", responses={
    **ERRORS, 200: {"description": "format=json: 时段列表; geojson: 路线、出发点和住户点; gpx: GPX 1.1",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/SessionsOut"}},
                                "application/geo+json": {}, "application/gpx+xml": {}}}},
    summary="小组某月的步行路线 (JSON, GeoJSON, GPX)", response_model=None)
def get_routes(group_id: GroupP, month: Month, scope: ScopeDep, state: StateDep,
               format: Annotated[Literal["json", "geojson", "gpx"], Query()] = "json", date: Day = None) -> Response:
    from api.maps import village_route_sessions
    from api import store
    from geo.network import WalkNetwork
    from geo.routes import geojson_dict, gpx_tree, routes_crs

    with state.engine.connect() as conn:
        _, v = data.group_village(conn, scope, group_id)
        if format == "json":
            return JSONResponse(_json(SessionsOut, data.sessions(state.engine, conn, scope, v.village_id, month,
                                                                 group_id, date)))
    villages = store.load_villages(state.engine, village_ids=[v.village_id])
    try:
        found = village_route_sessions(state.engine, villages.iloc[0], dt.datetime.strptime(month, "%Y-%m").date(),
                                       groups=[group_id], day=date)
    except InputError as exc:
        raise _input_error(exc) from exc
    specs = [s.route for s in found["sessions"][group_id] if s.route.stops]
    if not specs:
        raise ApiError(404, f"小组 {group_id} {month} 没有安排住户", "检查月份或日期", where=group_id)
    crs = routes_crs(specs)
    roads = found["roads"]
    network = WalkNetwork.from_lines(roads.to_crs(crs).geometry.values) if len(roads) else None
    if format == "geojson":
        return geojson(geojson_dict(specs, roads, network=network, crs=crs))
    tree = gpx_tree(specs, roads, network=network, crs=crs)
    body = ET.tostring(tree.getroot(), encoding="utf-8", xml_declaration=True)
    return Response(body, media_type="application/gpx+xml",
                    headers={"Content-Disposition": f'attachment; filename="{group_id}-{month}.gpx"'})


def _json(model, doc: dict) -> dict:
    return model.model_validate(doc).model_dump(mode="json")


def _personal_group(scope: Scope, group_id: str, village_pk: int) -> None:
    """Route maps and sheets print household heads: only within the caller's own scope."""
    role = scope.principal.role
    if role == "inspector" or (role == "group_member" and group_id != scope.principal.group_id) \
            or not scope.sees_village(village_pk):
        raise forbidden(f"小组 {group_id} 的路线图和路线单含住户个人信息, 不在你的范围内",
                        "使用本组或本镇的令牌; 督查人员可用 format=json/geojson 的路线")


HTML = {200: {"content": {"text/html": {}}, "description": "可离线打开的 HTML 地图"}}


@router.get("/maps/{kind}", response_class=HTMLResponse, responses={**ERRORS, **HTML},
            summary="地图 (HTML): 分片 zones, 小组路线 routes, 走访覆盖 coverage")
def get_map(kind: Annotated[Literal["zones", "routes", "coverage"], PathParam()], scope: ScopeDep, state: StateDep,
            village: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
            group: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
            month: Annotated[str | None, Query(pattern=r"^\d{4}-(0[1-9]|1[0-2])$")] = None, date: Day = None,
            lang: Annotated[Literal["zh", "en"], Query()] = "zh") -> HTMLResponse:
    from api.maps import MapRequest, run_map

    with state.engine.connect() as conn:
        if kind == "routes":
            if not group or not month:
                raise ApiError(422, "路线图需要 group 和 month 参数", "如 ?group=990101001009-G1&month=2026-12",
                               where="group")
            _, v = data.group_village(conn, scope, group)
            _personal_group(scope, group, v.id)
            village = None
        elif village is not None:
            data.village(conn, scope, village)
        elif scope.villages is not None:
            raise ApiError(422, "请指定 village 参数 (你的令牌只能看部分行政村)", "加上 ?village=行政村编号",
                           where="village")
    with tempfile.TemporaryDirectory(prefix="zhudian-map-") as tmp:
        out = Path(tmp) / "map.html"
        try:
            req = MapRequest(kind=kind, out=out, village=village, group=group, month=month,
                             date=date.isoformat() if date else None, lang=lang)
            run_map(state.store, req)
        except InputError as exc:
            raise _input_error(exc) from exc
        except ValueError as exc:
            raise ApiError(422, str(exc), "改正参数") from exc
        return HTMLResponse(out.read_text(encoding="utf-8"))


PDF = {200: {"content": {"application/pdf": {}}, "description": "PDF (内嵌中文字体)"}}


@router.get("/groups/{group_id}/sheets", response_class=Response, responses={**ERRORS, **PDF},
            summary="小组某月的打印路线单 (A4 PDF), 或联系卡 (kind=cards)")
def get_sheet(group_id: GroupP, month: Month, scope: ScopeDep, state: StateDep,
              kind: Annotated[Literal["route_sheets", "cards"], Query()] = "route_sheets",
              lang: Annotated[Literal["zh", "en"], Query()] = "zh") -> Response:
    from api.sheets import SheetsRequest, run_sheets

    with state.engine.connect() as conn:
        _, v = data.group_village(conn, scope, group_id)
        _personal_group(scope, group_id, v.id)
    with tempfile.TemporaryDirectory(prefix="zhudian-sheets-") as tmp:
        try:
            report = run_sheets(state.store, SheetsRequest(month=month, villages=[v.village_id], group=group_id,
                                                           lang=lang, cards=kind == "cards"), tmp)
        except InputError as exc:
            raise _input_error(exc) from exc
        files = [f for f in report["files"] if f["kind"] == kind]
        if not files:
            raise ApiError(404, f"小组 {group_id} {month} 没有{'联系卡' if kind == 'cards' else '路线单'}",
                           "检查月份; 本月没有安排住户时没有路线单", where=group_id)
        body = Path(files[0]["path"]).read_bytes()
    return Response(body, media_type="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="{group_id}-{month}-{kind}.pdf"'})
