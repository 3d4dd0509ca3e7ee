"""One validating entry point per input kind: villages, areas, households, roads.

Each reader opens the file, recognises its columns (English or Chinese headers), checks every
feature or row, converts coordinates to WGS 84 and returns the layer in the column contract of
:mod:`geo.layers`.  All problems of a file are collected and raised together as one
:class:`geo.errors.InputError`; repairs and guesses come back as warnings.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo import crs as gcrs
from geo._shapes import polygonal
from geo._files import TABLE_SUFFIXES, read_table, read_vector
from geo.columns import (
    AREA_FIELDS,
    HOUSEHOLD_FIELDS,
    ROAD_FIELDS,
    VILLAGE_FIELDS,
    match_columns,
    parse_kind,
    parse_tags,
)
from geo.errors import Collector
from geo.layers import AREA_COLUMNS, HOUSEHOLD_COLUMNS, ROAD_COLUMNS, VILLAGE_COLUMNS, WGS84

logger = logging.getLogger(__name__)

MAX_LISTED = 20
"""At most this many rows are named per kind of problem; the rest are counted."""


@dataclass
class ReadOptions:
    """Options shared by the readers.

    Attributes
    ----------
    crs : str or None
        For files that carry no CRS of their own: ``wgs84``, ``cgcs2000``, ``gcj02``, ``bd09`` or
        anything pyproj accepts (``EPSG:4549``).  A file's own CRS always wins.
    encoding : str or None
        For files that do not declare an encoding (CSV, shapefile without ``.cpg``).
    columns : mapping
        Field -> the user's header, overriding the recognised aliases (``{"lon": "X坐标"}``).
    generate_ids : bool
        Number rows when a households file has no id column (ids then depend on row order).
    """

    crs: str | None = None
    encoding: str | None = None
    columns: Mapping[str, str] = field(default_factory=dict)
    generate_ids: bool = False


@dataclass
class Layer:
    """A layer read from one file: the frame in WGS 84 plus what the reader had to say."""

    frame: gpd.GeoDataFrame
    file: str
    crs_in: str
    warnings: list[str] = field(default_factory=list)
    replace_all: bool = False
    """True when the file has no ids of its own (roads): the import replaces the whole layer."""


def _clean_str(value: object) -> str | None:
    """Text cell -> stripped str, or None for blanks and NaN."""
    if value is None:
        return None
    if isinstance(value, float):
        if math.isnan(value):
            return None
        if value.is_integer():
            value = int(value)
    text = str(value).strip()
    return text or None


def _clean_strs(values: list) -> list[str | None]:
    """:func:`_clean_str` of every value of a column (text cells take the short way)."""
    out: list[str | None] = []
    append = out.append
    for value in values:
        if type(value) is str:
            value = value.strip()
            append(value or None)
        else:
            append(_clean_str(value))
    return out


def _where(kind: str, i: int, ident: object = None) -> str:
    """Name a feature or row for messages: 1-based, rows counted as in a spreadsheet."""
    label = f"第 {i + 2} 行" if kind == "row" else f"要素 {i + 1}"
    return f"{label} (编号 {ident})" if ident not in (None, "") else label


def _list_some(col: Collector, rows: list[tuple[str, str]], problem: str, fix: str) -> None:
    """Add one problem per row for the first MAX_LISTED rows, then one summary problem."""
    for where, detail in rows[:MAX_LISTED]:
        col.add(where, f"{problem}{detail}", fix)
    if len(rows) > MAX_LISTED:
        col.add("", f"另有 {len(rows) - MAX_LISTED} 条同样的问题: {problem}", fix)


def _crs_label(gdf: gpd.GeoDataFrame, declared: object) -> str:
    if gdf.crs is not None:
        epsg = gdf.crs.to_epsg()
        return f"EPSG:{epsg}" if epsg else gdf.crs.name
    if isinstance(declared, str):
        return declared
    if declared is not None:
        epsg = declared.to_epsg()
        return f"EPSG:{epsg}" if epsg else declared.name
    return "EPSG:4326 (assumed)"


def _ids(raw: pd.DataFrame, header: str | None, col: Collector, kind: str, *,
         what: str, fix_missing: str) -> list[str | None]:
    """Read and check the id column: present, no blanks, no duplicates (all listed)."""
    if header is None:
        col.fail("", f"缺少{what}编号列", fix_missing)
    ids = _clean_strs(raw[header].tolist())
    blanks = [(_where(kind, i), "") for i, v in enumerate(ids) if v is None]
    _list_some(col, blanks, f"{what}编号为空", f"填写{what}编号 (列 {header})")
    dups: dict[str, list[int]] = {}
    if len(set(ids)) < len(ids) - max(len(blanks) - 1, 0):  # some id repeats: find which, where
        seen: dict[str, list[int]] = {}
        for i, v in enumerate(ids):
            if v is not None:
                seen.setdefault(v, []).append(i)
        dups = {k: v for k, v in seen.items() if len(v) > 1}
    if dups:
        listed = "; ".join(
            f"{k} ({'、'.join(_where(kind, i) for i in rows[:5])})" for k, rows in list(dups.items())[:MAX_LISTED]
        )
        more = f" 等共 {len(dups)} 个" if len(dups) > MAX_LISTED else ""
        col.add("", f"{what}编号重复: {listed}{more}", f"每个{what}编号只能出现一次; 修改或删除重复行 (列 {header})")
    return ids


_GEOMETRY_TYPE_IDS = {"Point": 0, "LineString": 1, "LinearRing": 2, "Polygon": 3, "MultiPoint": 4,
                      "MultiLineString": 5, "MultiPolygon": 6, "GeometryCollection": 7}
"""Geometry type name (``"Point"``, ``"MultiLineString"``, ...) -> shapely's type id."""


def _check_geometry(gdf: gpd.GeoDataFrame, col: Collector, *, allowed: tuple[str, ...],
                    what: str, ids: list[str | None]) -> None:
    """Report null, empty and wrong-type geometries, naming each feature."""
    geoms = np.asarray(gdf.geometry.values, dtype=object)
    absent = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    missing = [(_where("feature", i, ids[i]), "") for i in np.flatnonzero(absent)]
    _list_some(col, missing, f"{what}没有几何图形 (空坐标)", "补上坐标或删除该要素")
    allowed_ids = [_GEOMETRY_TYPE_IDS[t] for t in allowed]
    other = ~absent & ~np.isin(shapely.get_type_id(geoms), allowed_ids)
    wrong = [(_where("feature", i, ids[i]), f": {geoms[i].geom_type}") for i in np.flatnonzero(other)]
    if wrong and len(wrong) == len(geoms):
        col.fail("", f"几何类型不对: 全部是 {geoms[0].geom_type}, {what}应为 {'/'.join(allowed)}",
                 f"确认选对了文件: {what}文件应包含 {'/'.join(allowed)}")
    _list_some(col, wrong, f"几何类型不对, {what}应为 {'/'.join(allowed)}", "删除该要素或改为正确的几何类型")


def _attrs(raw: pd.DataFrame, used: set[str]) -> list[dict]:
    """The user's other columns, per row, as JSON-friendly dicts (blanks dropped)."""
    rest = [c for c in raw.columns if c not in used and c != "geometry"]
    out: list[dict] = []
    records = raw[rest].to_dict("records") if rest else [{} for _ in range(len(raw))]
    for rec in records:
        clean = {}
        for k, v in rec.items():
            if v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA or v is pd.NaT:
                continue
            if isinstance(v, np.generic):
                v = v.item()
            if isinstance(v, (pd.Timestamp,)):
                v = v.isoformat()
            clean[str(k)] = v
        out.append(clean)
    return out


def _open(path: Path, col: Collector, opts: ReadOptions, *, table_ok: bool) -> tuple[pd.DataFrame, str]:
    """Read the raw file; return the frame and the row kind (``row`` or ``feature``)."""
    if path.suffix.lower() in TABLE_SUFFIXES:
        if not table_ok:
            col.fail("", "表格文件不能提供面或线", "请提供 GeoJSON、GeoPackage 或 Shapefile (可压缩为 zip)")
        return read_table(path, col, encoding=opts.encoding), "row"
    return read_vector(path, col, encoding=opts.encoding), "feature"


def _matched(raw: pd.DataFrame, fields: Mapping[str, tuple[str, ...]], opts: ReadOptions,
             col: Collector) -> dict[str, str]:
    overrides = {k: v for k, v in opts.columns.items() if k in fields}
    try:
        return match_columns(raw.columns, fields, overrides=overrides)
    except KeyError as exc:
        col.fail("", str(exc.args[0]), "检查 --column 参数里的列名")
        raise  # unreachable


def _repair_polygons(gdf: gpd.GeoDataFrame, col: Collector, ids: list[str]) -> gpd.GeoDataFrame:
    """Repair invalid polygons with ``shapely.make_valid``, warning per feature with the reason."""
    geoms = gdf.geometry.values
    invalid = ~shapely.is_valid(geoms)
    if invalid.any():
        reasons = shapely.is_valid_reason(geoms[invalid])
        fixed = shapely.make_valid(geoms[invalid])
        # keep only polygonal parts of what make_valid returns
        fixed = np.array([polygonal(g) for g in fixed], dtype=object)
        for i, reason, g in zip(np.flatnonzero(invalid), reasons, fixed):
            if g is None or g.is_empty:
                col.add(_where("feature", i, ids[i]), f"多边形无效且无法修复 ({reason})", "在 GIS 软件里重新绘制该多边形")
            else:
                col.warn(f"{_where('feature', i, ids[i])}: 多边形无效 ({reason}), 已自动修复")
        geoms = geoms.copy()
        geoms[invalid] = fixed
        gdf = gdf.set_geometry(gpd.GeoSeries(geoms, crs=gdf.crs, index=gdf.index))
    return gdf


def _to_wgs84(raw: gpd.GeoDataFrame, kind: str, ids: list, opts: ReadOptions,
              col: Collector) -> gpd.GeoDataFrame:
    """Convert to WGS 84, naming rows/features in messages as the rest of the reader does."""
    labelled = raw.set_axis([_where(kind, i, ids[i]) for i in range(len(raw))])
    out = gcrs.to_wgs84(labelled, declared=gcrs.parse_crs_option(opts.crs), collector=col)
    return out.set_axis(raw.index)


def _finish(frame: gpd.GeoDataFrame, columns: list[str], path: Path, crs_in: str,
            col: Collector) -> Layer:
    frame = frame[columns]
    return Layer(frame=frame, file=path.name, crs_in=crs_in, warnings=list(col.warnings))


def read_areas(path: str | Path, *, options: ReadOptions | None = None) -> Layer:
    """Read natural villages and residential compounds (polygons).

    Recognised columns: id (``area_id``/``编号``...), name (``name``/``名称``...), kind
    (``kind``/``type``/``类型``/``类别`` with values natural_village/compound or
    自然村/小区/居民小区), village (``village_id``/``行政村``...).  A missing kind column makes
    every area a natural village (with a warning).  Invalid polygons are repaired with a warning
    naming the feature and the reason from ``shapely.is_valid_reason``.

    Parameters
    ----------
    path : str or Path
        GeoJSON, GeoPackage, Shapefile or zipped Shapefile.
    options : ReadOptions, optional
        CRS, encoding and column overrides.

    Returns
    -------
    Layer
        ``frame`` has :data:`geo.layers.AREA_COLUMNS`; ``village_id`` may be None here (the
        assembly step fills it from village polygons or the file name).

    Raises
    ------
    geo.errors.InputError
        With every problem found in the file.
    """
    opts = options or ReadOptions()
    path = Path(path)
    col = Collector(path)
    raw, kind = _open(path, col, opts, table_ok=False)
    cols = _matched(raw, AREA_FIELDS, opts, col)
    ids = _ids(raw, cols.get("area_id"), col, kind, what="片区",
               fix_missing="添加编号列 (如 area_id / 编号), 每个自然村或小区一个唯一编号")
    _check_geometry(raw, col, allowed=("Polygon", "MultiPolygon"), what="片区", ids=ids)
    kinds: list[str | None]
    if "kind" in cols:
        kinds = []
        bad = []
        for i, v in enumerate(raw[cols["kind"]].tolist()):
            k = parse_kind(v)
            if k is None:
                bad.append((_where(kind, i, ids[i]), f": {v!r}"))
            kinds.append(k)
        _list_some(col, bad, f"类型无法识别 (列 {cols['kind']})",
                   "类型填 自然村 或 小区 (也可用 natural_village / compound)")
    else:
        kinds = ["natural_village"] * len(raw)
        col.warn("没有类型列 (kind/类型), 全部按自然村处理")
    col.raise_if_any()
    gdf = _to_wgs84(raw, kind, ids, opts, col)
    gdf = _repair_polygons(gdf, col, ids)
    col.raise_if_any()
    names = [_clean_str(v) for v in raw[cols["name"]].tolist()] if "name" in cols else [None] * len(raw)
    names = [n if n else ids[i] for i, n in enumerate(names)]
    villages = ([_clean_str(v) for v in raw[cols["village_id"]].tolist()]
                if "village_id" in cols else [None] * len(raw))
    frame = gpd.GeoDataFrame(
        {
            "area_id": ids, "village_id": villages, "name": names, "kind": kinds,
            "attrs": _attrs(raw, set(cols.values())),
        },
        geometry=gdf.geometry.values, crs=WGS84,
    )
    return _finish(frame, AREA_COLUMNS, path, _crs_label(raw, opts.crs), col)


def read_villages(path: str | Path, *, options: ReadOptions | None = None) -> Layer:
    """Read administrative villages / communities (村/社区) as polygons.

    Recognised columns: id (``village_id``/``编码``/``统计用区划代码``...), name, town,
    and optionally the village committee office (``depot_lon``/``村委经度``, ``depot_lat``).

    Raises
    ------
    geo.errors.InputError
        With every problem found in the file.
    """
    opts = options or ReadOptions()
    path = Path(path)
    col = Collector(path)
    raw, kind = _open(path, col, opts, table_ok=False)
    cols = _matched(raw, VILLAGE_FIELDS, opts, col)
    ids = _ids(raw, cols.get("village_id"), col, kind, what="行政村",
               fix_missing="添加行政村编号列 (如 village_id / 编码 / 统计用区划代码)")
    _check_geometry(raw, col, allowed=("Polygon", "MultiPolygon"), what="行政村", ids=ids)
    depots: dict[str, list[float]] = {"depot_lon": [], "depot_lat": []}
    for key in depots:
        if key in cols:
            vals = pd.to_numeric(raw[cols[key]], errors="coerce")
            bad = [(_where(kind, i, ids[i]), f": {raw[cols[key]].iloc[i]!r}")
                   for i in np.flatnonzero(vals.isna() & raw[cols[key]].notna())]
            _list_some(col, bad, f"村委会坐标不是数字 (列 {cols[key]})", "填写十进制经纬度, 如 116.3")
            depots[key] = vals.astype(float).tolist()
        else:
            depots[key] = [math.nan] * len(raw)
    col.raise_if_any()
    gdf = _to_wgs84(raw, kind, ids, opts, col)
    gdf = _repair_polygons(gdf, col, ids)
    col.raise_if_any()
    names = [_clean_str(v) for v in raw[cols["name"]].tolist()] if "name" in cols else ids
    names = [n if n else ids[i] for i, n in enumerate(names)]
    towns = [_clean_str(v) for v in raw[cols["town"]].tolist()] if "town" in cols else [None] * len(raw)
    frame = gpd.GeoDataFrame(
        {
            "village_id": ids, "name": names, "town": towns,
            "depot_lon": depots["depot_lon"], "depot_lat": depots["depot_lat"],
            "attrs": _attrs(raw, set(cols.values())),
        },
        geometry=gdf.geometry.values, crs=WGS84,
    )
    return _finish(frame, VILLAGE_COLUMNS, path, _crs_label(raw, opts.crs), col)


def read_households(path: str | Path, *, options: ReadOptions | None = None) -> Layer:
    """Read households: points, or a CSV/XLSX table with longitude/latitude columns.

    Recognised columns (English or Chinese, configurable): id, lon, lat, head (户主姓名),
    address, phone, size (人口), tags (标签: elderly_alone/独居老人, low_income/低保户,
    disabled/残疾人, evening_only/夜访...), village, area.  The users' ids are kept as given.

    Returns
    -------
    Layer
        ``frame`` has :data:`geo.layers.HOUSEHOLD_COLUMNS`; ``placement`` is None until the
        assembly step places each household in an area.

    Raises
    ------
    geo.errors.InputError
        With every problem found in the file: missing id or coordinate columns, blank or
        duplicate ids (all listed), non-numeric or out-of-range coordinates, wrong geometry type.
    """
    opts = options or ReadOptions()
    path = Path(path)
    col = Collector(path)
    raw, kind = _open(path, col, opts, table_ok=True)
    cols = _matched(raw, HOUSEHOLD_FIELDS, opts, col)
    if "household_id" not in cols and opts.generate_ids:
        ids: list[str | None] = [f"{path.stem}-{i + 1:06d}" for i in range(len(raw))]
        col.warn(f"没有户编号列, 按行号生成编号 ({ids[0]} ...); 重新导入时行的顺序必须不变")
    else:
        ids = _ids(raw, cols.get("household_id"), col, kind, what="住户",
                   fix_missing="添加户编号列 (如 household_id / 户编号 / 户号); "
                               "或者使用 --generate-ids 按行号编号")
    if kind == "row":
        missing = [f for f in ("lon", "lat") if f not in cols]
        if missing:
            names = {"lon": "经度 (lon/lng/longitude/经度)", "lat": "纬度 (lat/latitude/纬度)"}
            col.fail("", f"缺少坐标列: {', '.join(names[m] for m in missing)}; 文件的列有: {', '.join(raw.columns)}",
                     "添加经度、纬度两列, 或用 --column lon=列名 --column lat=列名 指定")
        lon = pd.to_numeric(raw[cols["lon"]].str.strip(), errors="coerce")
        lat = pd.to_numeric(raw[cols["lat"]].str.strip(), errors="coerce")
        bad = [(_where(kind, i, ids[i]), f": {raw[cols['lon']].iloc[i]!r}, {raw[cols['lat']].iloc[i]!r}")
               for i in np.flatnonzero(lon.isna() | lat.isna())]
        _list_some(col, bad, "经纬度为空或不是数字", "填写十进制度数, 如 经度 116.3123, 纬度 39.9876")
        col.raise_if_any()
        raw = gpd.GeoDataFrame(raw, geometry=gpd.points_from_xy(lon, lat), crs=None)
    else:
        geoms = raw.geometry.values
        # a MultiPoint of one point is a point
        single = ((shapely.get_type_id(geoms) == shapely.GeometryType.MULTIPOINT)
                  & (shapely.get_num_geometries(geoms) == 1))
        if single.any():
            geoms = geoms.copy()
            geoms[single] = [g.geoms[0] for g in geoms[single]]
            raw = raw.set_geometry(gpd.GeoSeries(geoms, crs=raw.crs, index=raw.index))
        _check_geometry(raw, col, allowed=("Point",), what="住户", ids=ids)
    sizes = pd.array([pd.NA] * len(raw), dtype="Int64")
    if "size" in cols:
        as_num = pd.to_numeric(raw[cols["size"]].astype(str).str.replace("人", "").str.strip(), errors="coerce")
        given = raw[cols["size"]].notna() & (raw[cols["size"]].astype(str).str.strip() != "")
        bad = [(_where(kind, i, ids[i]), f": {raw[cols['size']].iloc[i]!r}")
               for i in np.flatnonzero(given & (as_num.isna() | (as_num < 0) | (as_num % 1 != 0)))]
        _list_some(col, bad, f"人口不是非负整数 (列 {cols['size']})", "填写整数人数, 或留空")
        ok = given & as_num.notna() & (as_num >= 0) & (as_num % 1 == 0)
        sizes = pd.array([int(v) if o else pd.NA for v, o in zip(as_num.fillna(0), ok)], dtype="Int64")
    col.raise_if_any()
    gdf = _to_wgs84(raw, kind, ids, opts, col)
    col.raise_if_any()

    def text(fieldname: str) -> list[str | None]:
        return _clean_strs(raw[cols[fieldname]].tolist()) if fieldname in cols else [None] * len(raw)

    tags = [""] * len(raw)
    if "tags" in cols:
        parsed: dict = {}  # a file holds few distinct tag cells (keyed by type too: 1 == 1.0 == True)
        for i, v in enumerate(raw[cols["tags"]].tolist()):
            try:
                t = parsed[type(v), v]
            except KeyError:
                t = parsed[type(v), v] = ",".join(parse_tags(v))
            except TypeError:  # an unhashable cell
                t = ",".join(parse_tags(v))
            tags[i] = t
    frame = gpd.GeoDataFrame(
        {
            "household_id": ids, "area_id": text("area_id"), "village_id": text("village_id"),
            "address": text("address"), "head": text("head"), "phone": text("phone"),
            "size": sizes, "tags": tags, "placement": [None] * len(raw),
            "attrs": _attrs(raw, set(cols.values())),
        },
        geometry=gdf.geometry.values, crs=WGS84,
    )
    return _finish(frame, HOUSEHOLD_COLUMNS, path, _crs_label(raw, opts.crs), col)


def read_roads(path: str | Path, *, options: ReadOptions | None = None) -> Layer:
    """Read walkable roads and paths (lines).

    Without an id column, roads are numbered in file order (``R000001``...) and the import
    replaces the whole road layer (roads have no identity users keep).  MultiLineStrings are
    split into their parts (ids get a ``-1``, ``-2`` suffix).

    Raises
    ------
    geo.errors.InputError
        With every problem found in the file.
    """
    opts = options or ReadOptions()
    path = Path(path)
    col = Collector(path)
    raw, kind = _open(path, col, opts, table_ok=False)
    cols = _matched(raw, ROAD_FIELDS, opts, col)
    if "road_id" in cols:
        ids = _ids(raw, cols["road_id"], col, kind, what="道路", fix_missing="")
    else:
        ids = [f"R{i + 1:06d}" for i in range(len(raw))]
        col.warn("没有道路编号列, 按顺序编号; 再次导入道路时将整体替换")
    _check_geometry(raw, col, allowed=("LineString", "MultiLineString"), what="道路", ids=ids)
    col.raise_if_any()
    gdf = _to_wgs84(raw, kind, ids, opts, col)
    col.raise_if_any()
    names = _clean_strs(raw[cols["name"]].tolist()) if "name" in cols else [None] * len(raw)
    hw = _clean_strs(raw[cols["highway"]].tolist()) if "highway" in cols else [None] * len(raw)
    attrs = _attrs(raw, set(cols.values()))
    rows: dict[str, list] = {k: [] for k in ROAD_COLUMNS}
    for i, g in enumerate(gdf.geometry.values):
        parts = list(g.geoms) if g.geom_type == "MultiLineString" else [g]
        parts = [p for p in parts if p.length > 0]
        for j, p in enumerate(parts):
            rows["road_id"].append(ids[i] if len(parts) == 1 else f"{ids[i]}-{j + 1}")
            rows["name"].append(names[i])
            rows["highway"].append(hw[i])
            rows["attrs"].append(attrs[i])
            rows["geometry"].append(p)
    frame = gpd.GeoDataFrame(rows, geometry="geometry", crs=WGS84)
    layer = _finish(frame, ROAD_COLUMNS, path, _crs_label(raw, opts.crs), col)
    layer.replace_all = "road_id" not in cols
    return layer
