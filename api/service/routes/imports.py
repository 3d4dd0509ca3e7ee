"""Uploads: the layers of an import (as ``zhudian import``) and rosters (as ``zhudian zone --roster``)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated

import pandas as pd
from fastapi import APIRouter, File, Form, Request, UploadFile

from api.service import data
from api.service.deps import ScopeDep, StateDep
from api.service.errors import ApiError, forbidden
from api.service.schemas import ERRORS, ErrorResponse, ImportReport, RosterOut
from api.service.security import Scope
from api.service.uploads import TABLE_SUFFIXES, VECTOR_SUFFIXES, save_upload
from api.store import _write_session
from api.store.models import RosterFile, Town, Village
from geo.errors import InputError, Problem

router = APIRouter(tags=["uploads"])

TOO_LARGE = {413: {"model": ErrorResponse, "description": "上传或解压后超过大小上限"}}
LAYERS = ("villages", "areas", "households", "roads")

UploadDep = Annotated[UploadFile | None, File(description="GeoJSON、GeoPackage、zip 压缩的 Shapefile (可为 GBK 编码)")]


def _columns(values: list[str]) -> dict[str, str]:
    out = {}
    for v in values:
        if "=" not in v:
            raise ApiError(422, f"column 需要 字段=列名 的形式, 如 lon=X坐标 (收到 {v!r})", "改正 column 参数",
                           where="column")
        k, h = v.split("=", 1)
        out[k.strip()] = h.strip()
    return out


@router.post("/imports", response_model=ImportReport, responses={**ERRORS, **TOO_LARGE},
             summary="导入行政村、片区、住户、道路 (与 zhudian import 相同的检查)")
def import_layers(
    request: Request, scope: ScopeDep, state: StateDep,
    villages: UploadDep = None, areas: UploadDep = None,
    households: Annotated[UploadFile | None, File(description="住户点文件, 或带经纬度列的 CSV/XLSX")] = None,
    roads: UploadDep = None,
    crs: Annotated[str | None, Form(max_length=64, description="文件没有坐标系时: wgs84, cgcs2000, gcj02, bd09 或 EPSG:xxxx")] = None,
    encoding: Annotated[str | None, Form(max_length=32, description="文件没有声明编码时, 如 GB18030")] = None,
    column: Annotated[list[str] | None, Form(description="字段=列名, 如 lon=X坐标 (可重复)")] = None,
    generate_ids: Annotated[bool, Form()] = False,
    attach_distance_m: Annotated[float, Form(ge=0, le=10000)] = 100.0,
    replace: Annotated[bool, Form(description="删除这些图层里文件没有的记录 (仅市级管理员)")] = False,
    dry_run: Annotated[bool, Form(description="只检查, 不写入")] = False,
) -> dict:
    """Validate and store the uploaded layers in one transaction; a bad file writes nothing and is
    answered 422 with every problem (file, feature/row, problem, fix)."""
    from api.importer import ImportRequest, run_import

    if not dry_run:
        scope.require_admin("导入数据")
    if replace and scope.principal.role != "city_admin":
        raise forbidden("只有市级管理员可以按文件替换 (replace) 整个图层", "去掉 replace, 或请市级管理员导入")
    uploads = {k: f for k, f in zip(LAYERS, (villages, areas, households, roads)) if f is not None}
    if not uploads:
        raise ApiError(422, "没有上传任何图层文件", "上传 villages、areas、households、roads 中至少一个文件")
    columns = _columns(column or [])
    limit = state.settings.max_unzipped_bytes
    with tempfile.TemporaryDirectory(prefix="zhudian-upload-") as tmp:
        paths = {}
        for key, f in uploads.items():
            suffixes = VECTOR_SUFFIXES + (TABLE_SUFFIXES if key == "households" else ())
            paths[key] = save_upload(f.file, f.filename, Path(tmp) / key, default=f"{key}.geojson",
                                     suffixes=suffixes, max_unzipped=limit)
        try:
            req = ImportRequest(**paths, crs=crs, encoding=encoding, columns=columns, generate_ids=generate_ids,
                                attach_distance_m=attach_distance_m, replace=replace, dry_run=dry_run)
        except ValueError as exc:
            raise ApiError(422, str(exc), "上传至少一个图层文件") from exc
        if scope.principal.role == "town_admin":
            _check_town(state, scope, req)
        try:
            report = run_import(state.store, req)
        except InputError:
            raise
        except ValueError as exc:  # the store refused the batch (nothing written)
            raise ApiError(422, str(exc), "按提示改正文件后重新上传") from exc
    if not dry_run:
        data.audit_now(state.engine, scope.principal, "import", request.method, request.url.path, 200,
                       {"files": {k: f.filename for k, f in uploads.items()}, "saved": report.get("saved"),
                        "replace": replace})
    return report


def _check_town(state, scope: Scope, req) -> None:
    """A town admin imports only its own town's villages, areas and households (read the files
    first, with the same readers), and only roads that carry their own ids (a file without ids
    replaces the whole road layer, which is the city admin's to do)."""
    from geo.read import ReadOptions, read_areas, read_households, read_roads, read_villages

    town = scope.principal.town
    opts = ReadOptions(crs=req.crs, encoding=req.encoding, columns=dict(req.columns), generate_ids=req.generate_ids)
    with state.engine.connect() as conn:
        stored = {r[0]: r[1] for r in conn.execute(
            Village.__table__.select().with_only_columns(Village.village_id, Town.name)
            .select_from(Village.__table__.outerjoin(Town.__table__, Village.town_fk == Town.id)))}
    mine = {v for v, t in stored.items() if t == town}
    problems: list[Problem] = []

    def bad(path, where: str, problem: str, fix: str) -> None:
        problems.append(Problem(Path(path).name, where, problem, fix))

    if req.villages is not None:
        frame = read_villages(req.villages, options=opts).frame
        for vid, t in zip(frame["village_id"], frame["town"]):
            if vid in stored and stored[vid] != town:
                bad(req.villages, str(vid), f"行政村属于 {stored[vid] or '未指定镇'}, 不是 {town}", "只导入本镇的行政村")
            elif vid not in stored and (pd.isna(t) or t != town):
                bad(req.villages, str(vid), f"新行政村的 town 列应为 {town} (收到 {t if not pd.isna(t) else '空'})",
                    f"town 列填 {town}")
            else:
                mine.add(vid)
    for key, reader in (("areas", read_areas), ("households", read_households)):
        path = getattr(req, key)
        if path is None:
            continue
        frame = reader(path, options=opts).frame
        for vid in sorted(set(frame["village_id"].astype(object).where(frame["village_id"].notna(), None))):
            if vid is None:
                bad(path, "village_id", "有记录没有 village_id; 镇级管理员导入时每条记录须注明所属行政村",
                    "补全 village_id 列, 或请市级管理员导入")
            elif vid not in mine:
                bad(path, str(vid), f"行政村 {vid} 不在 {town}", "只导入本镇行政村的数据")
    if req.roads is not None and read_roads(req.roads, options=opts).replace_all:
        bad(req.roads, "", "道路文件没有编号, 导入会替换全市的道路图层", "给每条道路一个编号 (road_id), 或请市级管理员导入")
    if problems:
        raise ApiError(403, problems)


@router.post("/rosters", response_model=RosterOut, status_code=201, responses={**ERRORS, **TOO_LARGE},
             summary="上传花名册 (CSV/XLSX), 供分片作业按“2+1”编组")
def upload_roster(
    request: Request, scope: ScopeDep, state: StateDep,
    file: Annotated[UploadFile, File(description="花名册 CSV (UTF-8 或 GBK) 或 XLSX")],
    encoding: Annotated[str | None, Form(max_length=32)] = None,
) -> dict:
    """Check the roster as ``zhudian zone --roster`` does (422 with every problem) and keep it;
    pass its ``id`` as ``roster_id`` to ``POST /api/v1/jobs/zoning``."""
    from api import store
    from geo.roster import read_roster, resolve_roster

    scope.require_admin("上传花名册")
    with tempfile.TemporaryDirectory(prefix="zhudian-upload-") as tmp:
        path = save_upload(file.file, file.filename, Path(tmp), default="roster.csv", suffixes=TABLE_SUFFIXES,
                           max_unzipped=state.settings.max_unzipped_bytes)
        villages = store.load_villages(state.engine)
        areas = store.load_areas(state.engine)
        layer = read_roster(path, encoding=encoding)
        layer = resolve_roster(layer, villages=pd.DataFrame(villages.drop(columns="geometry")),
                               areas=pd.DataFrame(areas.drop(columns="geometry")))
        named = sorted(set(layer.frame["village_id"].astype(str)))
        content = path.read_bytes()
        name = path.name
    town_of = dict(zip(villages["village_id"], villages["town"]))
    if scope.principal.role == "town_admin":
        outside = [v for v in named if town_of.get(v) != scope.principal.town]
        if outside:
            raise ApiError(403, [Problem(name, v, f"行政村 {v} 不在 {scope.principal.town}", "只上传本镇的花名册")
                                 for v in outside[:20]])
    with _write_session(state.engine) as session:
        row = RosterFile(filename=name, content=content, town_fk=scope.principal.town_fk, villages=named,
                         token_fk=scope.principal.token_id)
        session.add(row)
        session.flush()
        data.audit(session, scope.principal, "roster.upload", request.method, request.url.path, 201,
                   {"roster": row.id, "file": name, "people": len(layer.frame), "villages": named})
        rid = row.id
    return {"id": rid, "filename": name, "people": len(layer.frame), "villages": named, "warnings": layer.warnings}
