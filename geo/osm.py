"""Start from an OpenStreetMap extract: derive areas, households and roads (``.osm.pbf``/``.osm``/``.osm.gz``).

For a town with no GIS data of its own.  :func:`read_osm` reads an extract with pyosmium (the
``osmium`` package; PBF, OSM XML and gzip/bzip2-compressed XML, told apart by the file's content,
not its name) and returns the layers in the column contracts of :mod:`geo.layers`, in WGS 84, so that
:func:`geo.assemble.assemble` places the households exactly as it does for the users' own files.
Lengths and areas are computed in the UTM zone of the data (:func:`geo.crs.utm_crs`).

Derivation (the rules of the shared development data, ``shared/data/README.md``, slightly simplified;
every number is a field of :class:`OsmOptions`):

households
    One point per **residential building**: a closed way or multipolygon relation tagged
    ``building`` = one of :data:`RESIDENTIAL_BUILDINGS` (``yes``, ``house``, ``residential``,
    ``apartments``, ...), with a footprint of 25-1,500 m² and no ``amenity``/``shop``/``office``/
    ``tourism``/``craft`` tag.  The point is the footprint's centroid.  ``household_id`` is
    ``osm-w<way id>`` or ``osm-r<relation id>``; ``address`` is ``addr:full`` or is composed from the
    ``addr:*`` tags (Chinese order without spaces for Chinese text: 省市区街道 路 门牌号; "street
    number, postcode city" otherwise); ``attrs`` keeps the building's tags (``name`` included) plus
    ``footprint_m2``.  One building is not always one household: a block of flats is one point.
natural villages (``kind`` = ``natural_village``, 自然村)
    OSM has no natural-village polygons, so they are grown: every named node tagged ``place`` =
    ``village``/``hamlet``/``isolated_dwelling``/``neighbourhood`` (:attr:`OsmOptions.places`)
    is a seed; every residential building within 1,500 m of a seed joins its nearest seed (except
    buildings inside a named compound or a place polygon, which belong to those); the
    footprints of each seed's buildings are grown by 25 m, merged, and shrunk by 15 m (so the
    outline runs about 10 m outside the houses and gaps under 50 m are closed).  ``area_id`` is
    ``osm-n<node id>``, the name is ``name`` (else ``name:zh``).  A place mapped as a polygon
    (closed way or relation with the same ``place`` values) is used as drawn, and its buildings are
    not used to grow other villages.  Seeds with no building within reach make no area (a warning
    lists them).
compounds (``kind`` = ``compound``, 小区)
    Every ``landuse=residential`` polygon, named or not; an unnamed one is called
    ``未命名居住区 w<id>``.  Compounds overlap natural villages, as in real inputs; the assembly
    step cuts the smaller area out of the larger one and says so.
roads
    Ways tagged ``highway`` = one of :data:`WALKABLE_HIGHWAYS` (footway, path, pedestrian, steps,
    residential, living_street, service, track, unclassified, tertiary, secondary, primary,
    cycleway and the ``*_link`` ramps of the last three); ``trunk`` only with ``foot=yes``/
    ``designated``/``permissive``; never ``motorway``; never with ``foot=no`` or with
    ``access=private``/``no`` (unless ``foot`` allows walking).  ``road_id`` is ``osm-w<way id>``;
    ways are not split (the walking network nodes them).  The road layer replaces the stored roads
    on import (:attr:`geo.read.Layer.replace_all`): an extract is the whole network of its area.
villages (administrative villages 村/社区), optional
    ``boundary=administrative`` polygons with ``admin_level`` 8-10 (10 is 村/社区 in China, 8 a
    town or, elsewhere, a municipality): the finest level present is used, and only when its
    polygons hold at least 95 % of the households; otherwise ``villages`` is None and the
    assembly step puts everything in one village (with a warning saying so).

``bbox`` (west, south, east, north in WGS 84 degrees) keeps households whose point is inside,
clips compounds, place polygons and roads to it, and keeps administrative boundaries that touch
it; villages are grown from the buildings inside only (their seed may lie outside).

Not derived: household heads, phones, sizes and tags (OSM has none); building nodes (a point
tagged ``building`` has no footprint to check); ``landuse=residential`` polygons named like
villages stay compounds.

Map data from OpenStreetMap is (c) OpenStreetMap contributors, under the ODbL: what is derived
from it must carry that credit.
"""

from __future__ import annotations

import bz2
import gzip
import logging
import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry import box

from geo import crs as gcrs
from geo._shapes import polygonal
from geo._files import check_exists
from geo.errors import Collector
from geo.layers import AREA_COLUMNS, HOUSEHOLD_COLUMNS, ROAD_COLUMNS, VILLAGE_COLUMNS, WGS84
from geo.read import Layer

logger = logging.getLogger(__name__)

RESIDENTIAL_BUILDINGS = frozenset({
    "yes", "house", "residential", "apartments", "detached", "semidetached_house", "terrace",
    "farm", "bungalow", "cabin", "dormitory", "villa", "hut", "houseboat", "static_caravan",
})
"""``building`` values taken as dwellings (``yes`` included: most buildings in China carry it)."""

NON_RESIDENTIAL_KEYS = ("amenity", "shop", "office", "tourism", "craft")
"""A building with any of these tags is a school, shop, office... and not a household."""

WALKABLE_HIGHWAYS = frozenset({
    "footway", "path", "pedestrian", "steps", "residential", "living_street", "service", "track",
    "unclassified", "tertiary", "secondary", "primary", "cycleway",
    "tertiary_link", "secondary_link", "primary_link",
})
"""``highway`` values of the walking network (``trunk`` only where ``foot`` allows it)."""

_FOOT_OK = frozenset({"yes", "designated", "permissive"})
_NO_ACCESS = frozenset({"private", "no"})

OSM_SUFFIXES = (".osm.pbf", ".pbf", ".osm", ".osm.gz", ".osm.bz2")
"""What the file names of OSM extracts end with (the format is told from the content anyway)."""

_FIX_FORMAT = ("提供 OpenStreetMap 数据文件 (.osm.pbf、.osm 或 .osm.gz, 如 Geofabrik 下载的分区文件或 "
               "openstreetmap.org 的“导出”); 自己的 GeoJSON/Shapefile 请用 --areas/--households/--roads 导入")

_ADDR_CJK = ("addr:province", "addr:city", "addr:district", "addr:subdistrict", "addr:suburb",
             "addr:town", "addr:village", "addr:hamlet", "addr:neighbourhood")
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")


@dataclass(frozen=True)
class OsmOptions:
    """How layers are derived from OSM data (see the module docstring).

    Attributes
    ----------
    places : tuple of str
        ``place`` values that seed natural villages.
    seed_max_dist_m : float
        A building joins its nearest seed only within this distance (metres).
    grow_m, shrink_m : float
        Village outlines: building footprints grown by ``grow_m``, merged, shrunk by ``shrink_m``.
    min_footprint_m2, max_footprint_m2 : float
        Residential buildings outside this footprint range (square metres) are not households
        (sheds; factories and big public buildings tagged ``building=yes``).
    admin_levels : tuple of int
        ``admin_level`` values of ``boundary=administrative`` polygons that may serve as
        administrative villages; the finest present is used.
    admin_min_coverage : float
        That level is used only when its polygons hold at least this share of the households.
    """

    places: tuple[str, ...] = ("village", "hamlet", "isolated_dwelling", "neighbourhood")
    seed_max_dist_m: float = 1500.0
    grow_m: float = 25.0
    shrink_m: float = 15.0
    min_footprint_m2: float = 25.0
    max_footprint_m2: float = 1500.0
    admin_levels: tuple[int, ...] = (8, 9, 10)
    admin_min_coverage: float = 0.95

    def __post_init__(self) -> None:
        if not self.seed_max_dist_m > 0:
            raise ValueError("Expected seed_max_dist_m > 0 (metres).")
        if not (self.grow_m >= 0 and 0 <= self.shrink_m <= self.grow_m):
            raise ValueError("Expected grow_m >= 0 and 0 <= shrink_m <= grow_m (metres).")
        if not 0 <= self.min_footprint_m2 < self.max_footprint_m2:
            raise ValueError("Expected 0 <= min_footprint_m2 < max_footprint_m2 (square metres).")
        if not 0 <= self.admin_min_coverage <= 1:
            raise ValueError("Expected admin_min_coverage in [0, 1].")


@dataclass
class OsmLayers:
    """The layers derived from one OSM extract.

    ``areas``, ``households`` and ``roads`` are always present (roads may be empty);
    ``villages`` is None unless the extract has usable administrative boundaries.  ``warnings``
    holds every warning of every layer, once; ``counts`` what was found and kept, for reports.
    """

    areas: Layer
    households: Layer
    roads: Layer
    villages: Layer | None
    warnings: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)

    def layers(self) -> dict[str, Layer]:
        """The layers keyed as in :class:`api.importer.ImportRequest` (``villages`` only if any)."""
        out = {"areas": self.areas, "households": self.households, "roads": self.roads}
        if self.villages is not None:
            out["villages"] = self.villages
        return out


@dataclass
class _Feature:
    ref: str  # "n123", "w123", "r123"
    tags: dict[str, str]
    wkb: bytes | None = None
    lonlat: tuple[float, float] | None = None


@dataclass
class _Scan:
    buildings: list[_Feature] = field(default_factory=list)
    residential: list[_Feature] = field(default_factory=list)
    place_nodes: list[_Feature] = field(default_factory=list)
    place_areas: list[_Feature] = field(default_factory=list)
    boundaries: list[_Feature] = field(default_factory=list)
    roads: list[_Feature] = field(default_factory=list)
    counts: Counter = field(default_factory=Counter)


# --------------------------------------------------------------------------------------------
# Reading


def _sniff_format(path: Path, col: Collector) -> str:
    """The osmium format of the file from its first bytes: ``pbf``, ``osm``, ``osm.gz``, ``osm.bz2``."""
    with open(path, "rb") as fh:
        head = fh.read(64)
    if head[:2] == b"\x1f\x8b":
        fmt, opener = "osm.gz", gzip.open
    elif head[:3] == b"BZh":
        fmt, opener = "osm.bz2", bz2.open
    else:
        fmt, opener = "", None
    if opener is not None:
        try:
            with opener(path, "rb") as fh:
                head = fh.read(64)
        except (OSError, EOFError) as exc:
            col.fail("", f"压缩文件已损坏, 无法解压 ({exc})", "重新下载或重新压缩该文件")
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if text.startswith(b"<"):
        return fmt or "osm"
    if not fmt and b"OSMHeader" in head:
        return "pbf"
    kind = ""
    if text.startswith((b"{", b"[")):
        kind = " (看起来是 GeoJSON/JSON)"
    elif head.startswith(b"PK"):
        kind = " (看起来是 zip 压缩包)"
    elif head.startswith(b"SQLite format 3"):
        kind = " (看起来是 GeoPackage)"
    col.fail("", f"不是 OpenStreetMap 数据文件{kind}", _FIX_FORMAT)
    raise AssertionError("unreachable")


def _ref(obj) -> str:
    """``w123``/``r123`` for an area (the way or relation it was built from), ``n``/``w`` else."""
    if obj.is_area():
        return ("w" if obj.from_way() else "r") + str(obj.orig_id())
    return obj.type_str() + str(obj.id)


def _scan(path: Path, fmt: str, col: Collector) -> _Scan:
    """One pass over the file with pyosmium: keep what the derivation needs, as WKB."""
    try:
        import osmium
        import osmium.geom
    except ImportError:  # pragma: no cover - osmium is a dependency
        col.fail("", "读取 OSM 文件需要 Python 包 osmium (pyosmium)", "安装: pip install osmium")
        raise
    wkb = osmium.geom.WKBFactory()
    out = _Scan()
    try:
        source = osmium.io.File(str(path), fmt)
        processor = osmium.FileProcessor(source).with_locations().with_areas()
        for obj in processor:
            tags = obj.tags
            if obj.is_node():
                if "place" in tags:
                    loc = obj.location
                    if loc.valid():
                        out.place_nodes.append(_Feature(_ref(obj), dict(tags), lonlat=(loc.lon, loc.lat)))
                continue
            if obj.is_way():
                if "highway" in tags:
                    try:
                        geom = wkb.create_linestring(obj)
                    except (osmium.InvalidLocationError, RuntimeError):
                        out.counts["roads_broken"] += 1
                        continue
                    out.roads.append(_Feature(_ref(obj), dict(tags), bytes.fromhex(geom)))
                continue
            if not obj.is_area():
                continue
            keep = []
            if "building" in tags:
                keep.append(out.buildings)
            if tags.get("landuse") == "residential":
                keep.append(out.residential)
            if "place" in tags:
                keep.append(out.place_areas)
            if tags.get("boundary") == "administrative" and "admin_level" in tags:
                keep.append(out.boundaries)
            if not keep:
                continue
            try:
                geom = wkb.create_multipolygon(obj)
            except (osmium.InvalidLocationError, RuntimeError):
                out.counts["areas_broken"] += 1
                continue
            feature = _Feature(_ref(obj), dict(tags), bytes.fromhex(geom))
            for target in keep:
                target.append(feature)
    except RuntimeError as exc:
        logger.debug("osmium failed on %s: %s", path, exc)
        if "out of order" in str(exc):
            col.fail("", f"文件里的对象没有按类型和编号排序 ({exc})",
                     "先排序再导入 (osmium-tool: osmium sort 原文件 -o 排序后.osm.pbf; JOSM 保存的文件常见此问题), "
                     "或从 Geofabrik / openstreetmap.org 重新下载")
        col.fail("", f"无法作为 OpenStreetMap 数据文件读取 ({str(exc)[:200]})", _FIX_FORMAT)
    return out


def _check_bbox(bbox: Sequence[float] | None, col: Collector) -> tuple[float, float, float, float] | None:
    if bbox is None:
        return None
    fix = "按 西,南,东,北 (经度,纬度,经度,纬度; WGS 84 度) 给出范围, 如 117.18,28.26,117.26,28.32"
    try:
        w, s, e, n = (float(v) for v in bbox)
    except (TypeError, ValueError):
        col.fail("", f"范围 (bbox) 应为 4 个数字, 收到 {bbox!r}", fix)
        raise AssertionError("unreachable")
    if not all(math.isfinite(v) for v in (w, s, e, n)):
        col.fail("", f"范围 (bbox) 含非数字的值: {bbox!r}", fix)
    if not (-180 <= w < e <= 180 and -90 <= s < n <= 90):
        col.fail("", f"范围 (bbox) 无效: 西 {w}, 南 {s}, 东 {e}, 北 {n} (须 西 < 东, 南 < 北, 且在经纬度范围内)",
                 fix)
    return w, s, e, n


# --------------------------------------------------------------------------------------------
# Helpers


def _name(tags: dict[str, str]) -> str | None:
    for key in ("name", "name:zh", "name:zh-Hans"):
        value = (tags.get(key) or "").strip()
        if value:
            return value
    return None


def _address(tags: dict[str, str]) -> str | None:
    """An address from ``addr:*`` tags: ``addr:full``, or composed in the local order."""
    full = (tags.get("addr:full") or "").strip()
    if full:
        return full
    street = (tags.get("addr:street") or tags.get("addr:place") or "").strip()
    number = (tags.get("addr:housenumber") or "").strip()
    upper = [tags[k].strip() for k in _ADDR_CJK if tags.get(k, "").strip()]
    if not (street or number):
        return None
    if _CJK.search(street + "".join(upper)):
        if number and not number.endswith("号") and re.fullmatch(r"[0-9A-Za-z-]+", number):
            number += "号"
        unit = (tags.get("addr:unit") or "").strip()
        return "".join(upper + [street, number, unit]) or None
    city = (tags.get("addr:city") or "").strip()
    postcode = (tags.get("addr:postcode") or "").strip()
    text = " ".join(p for p in (street, number) if p)
    place = " ".join(p for p in (postcode, city) if p)
    return f"{text}, {place}" if place else text


def _is_residential(tags: dict[str, str]) -> bool:
    return tags.get("building") in RESIDENTIAL_BUILDINGS and not any(k in tags for k in NON_RESIDENTIAL_KEYS)


def _walkable(tags: dict[str, str]) -> bool:
    hw = tags.get("highway")
    foot = tags.get("foot")
    if foot == "no" or hw == "motorway":
        return False
    if tags.get("access") in _NO_ACCESS and foot not in _FOOT_OK:
        return False
    if hw == "trunk" or hw == "trunk_link":
        return foot in _FOOT_OK
    return hw in WALKABLE_HIGHWAYS


def _attrs(feature: _Feature, drop: Sequence[str] = ()) -> dict:
    out: dict = {"osm_id": feature.ref}
    out.update({k: v for k, v in feature.tags.items() if k not in drop})
    return out


def _polys(features: list[_Feature]) -> np.ndarray:
    geoms = shapely.from_wkb([f.wkb for f in features]) if features else np.array([], dtype=object)
    bad = ~shapely.is_valid(geoms) if len(geoms) else np.zeros(0, bool)
    if bad.any():
        fixed = shapely.make_valid(geoms[bad])
        geoms[bad] = [polygonal(g) for g in fixed]
    return geoms


def _project(geoms: np.ndarray, src, dst) -> np.ndarray:
    """Transform an array of shapely geometries between CRSs (None stays None)."""
    if not len(geoms):
        return np.array([], dtype=object)
    return np.asarray(gpd.GeoSeries(geoms, crs=src).to_crs(dst).array, dtype=object)


def _clip(geoms: np.ndarray, rect) -> np.ndarray:
    if rect is None or not len(geoms):
        return geoms
    return shapely.intersection(geoms, rect)


def _list(items: list[str], limit: int = 10) -> str:
    return "、".join(items[:limit]) + (f" 等 {len(items)} 个" if len(items) > limit else "")


# --------------------------------------------------------------------------------------------
# The entry point


def read_osm(path: str | Path, *, bbox: Sequence[float] | None = None,
             options: OsmOptions | None = None) -> OsmLayers:
    """Derive areas, households, roads (and, where OSM has them, villages) from an OSM extract.

    Parameters
    ----------
    path : str or Path
        An ``.osm.pbf``, ``.osm`` or ``.osm.gz`` (also ``.osm.bz2``) file.
    bbox : sequence of 4 float, optional
        (west, south, east, north) in WGS 84 degrees: use only this part of the extract.
    options : OsmOptions, optional
        Derivation parameters.

    Returns
    -------
    OsmLayers
        Layers in the contracts of :mod:`geo.layers`: WGS 84, ``attrs`` dicts, households with
        ``placement``/``area_id``/``village_id`` None and areas with ``village_id`` None, for
        :func:`geo.assemble.assemble` to fill.

    Raises
    ------
    geo.errors.InputError
        When the file is missing or is not OSM data, the bbox is invalid or holds no data, or the
        extract has no residential building.
    """
    opts = options or OsmOptions()
    path = Path(path)
    col = Collector(path)
    rect_t = _check_bbox(bbox, col)
    check_exists(path, col)
    fmt = _sniff_format(path, col)
    scan = _scan(path, fmt, col)
    rect = box(*rect_t) if rect_t is not None else None
    counts: dict[str, int] = {}
    warn_h: list[str] = []
    warn_a: list[str] = []
    warn_r: list[str] = []
    warn_v: list[str] = []

    # ---- households ------------------------------------------------------------------------
    counts["buildings"] = len(scan.buildings)
    res = [f for f in scan.buildings if _is_residential(f.tags)]
    counts["buildings_residential"] = len(res)
    if not res:
        found = Counter(f.tags.get("building") for f in scan.buildings)
        detail = (f"文件里有 {len(scan.buildings)} 个建筑, 但都不是住宅 (类型不是住宅, 或带 "
                  f"{'/'.join(NON_RESIDENTIAL_KEYS)} 标签; building="
                  f"{', '.join(f'{k} {v}' for k, v in found.most_common(5))})") if scan.buildings \
            else "文件里没有任何建筑轮廓 (building=*)"
        col.fail("", f"没有找到住宅建筑, 无法生成住户: {detail}",
                 "换一个包含建筑轮廓的 OSM 范围; 或在 OpenStreetMap 上补绘房屋后重新下载; "
                 "也可以用 --households 导入自己的住户表")
    b_wgs = _polys(res)
    ok = np.array([g is not None and not g.is_empty for g in b_wgs], dtype=bool)
    res = [f for f, k in zip(res, ok) if k]
    b_wgs = b_wgs[ok]
    c_wgs0 = shapely.centroid(b_wgs)
    xy = shapely.get_coordinates(c_wgs0)
    extent = (float(xy[:, 0].min()), float(xy[:, 1].min()), float(xy[:, 0].max()), float(xy[:, 1].max()))
    if rect is not None:
        inside = shapely.contains_xy(rect, xy[:, 0], xy[:, 1])
        if not inside.any():
            col.fail("", f"范围 (bbox) {', '.join(f'{v:g}' for v in rect_t)} 内没有住宅建筑; "
                         f"文件里的住宅建筑在 {extent[0]:.4f},{extent[1]:.4f} - {extent[2]:.4f},{extent[3]:.4f}",
                     "调整 --bbox (西,南,东,北, WGS 84 经纬度) 使其落在数据范围内, 或去掉 --bbox")
        res = [f for f, k in zip(res, inside) if k]
        b_wgs = b_wgs[inside]
        xy = xy[inside]
    metric = gcrs.utm_crs(xy[:, 0], xy[:, 1])
    b_m = _project(b_wgs, WGS84, metric)
    area_m2 = shapely.area(b_m)
    small = area_m2 < opts.min_footprint_m2
    large = area_m2 > opts.max_footprint_m2
    keep = ~(small | large)
    counts["buildings_too_small"] = int(small.sum())
    counts["buildings_too_large"] = int(large.sum())
    if small.any() or large.any():
        warn_h.append(f"{int(small.sum())} 个住宅类建筑小于 {opts.min_footprint_m2:g} 平方米 (棚屋、附属房), "
                      f"{int(large.sum())} 个大于 {opts.max_footprint_m2:g} 平方米 (多为厂房、公共建筑), 未作为住户")
    if not keep.any():
        col.fail("", f"没有面积在 {opts.min_footprint_m2:g}-{opts.max_footprint_m2:g} 平方米之间的住宅建筑, 无法生成住户",
                 "换一个包含房屋轮廓的 OSM 范围, 或用 --households 导入自己的住户表")
    res = [f for f, k in zip(res, keep) if k]
    b_m = b_m[keep]
    area_m2 = area_m2[keep]
    c_m = shapely.centroid(b_m)
    c_wgs = _project(c_m, metric, WGS84)
    n_h = len(res)
    hh = gpd.GeoDataFrame(
        {
            "household_id": [f"osm-{f.ref}" for f in res],
            "area_id": [None] * n_h, "village_id": [None] * n_h,
            "address": [_address(f.tags) for f in res],
            "head": [None] * n_h, "phone": [None] * n_h,
            "size": pd.array([pd.NA] * n_h, dtype="Int64"), "tags": [""] * n_h,
            "placement": [None] * n_h,
            "attrs": [{**_attrs(f), "footprint_m2": round(float(a), 1)} for f, a in zip(res, area_m2)],
        },
        geometry=list(c_wgs), crs=WGS84,
    )[HOUSEHOLD_COLUMNS]
    counts["households"] = n_h
    warn_h.append(f"由 OSM 住宅建筑生成住户 {n_h} 户 (每栋建筑一户, 楼房也只算一户); 户主、电话、人口需另行补充")

    # ---- compounds ---------------------------------------------------------------------------
    r_geoms = _clip(_polys(scan.residential), rect)
    compound_rows: list[dict] = []
    named_m: list = []
    for f, g in zip(scan.residential, r_geoms):
        g = polygonal(g)
        if g is None:
            continue
        name = _name(f.tags)
        if name is not None:
            named_m.append(g)
        compound_rows.append({"area_id": f"osm-{f.ref}", "village_id": None,
                              "name": name or f"未命名居住区 {f.ref}", "kind": "compound",
                              "attrs": _attrs(f, ("name",)), "geometry": g})
    counts["compounds"] = len(compound_rows)
    counts["compounds_named"] = len(named_m)
    if counts["compounds"] > len(named_m):
        warn_a.append(f"{counts['compounds'] - len(named_m)} 个居住区 (landuse=residential) 没有名称, "
                      f"已命名为“未命名居住区 w…”, 可在导入后改名")

    # ---- natural villages --------------------------------------------------------------------
    wanted = set(opts.places)
    rows: list[dict] = []
    p_areas = [f for f in scan.place_areas if f.tags.get("place") in wanted and _name(f.tags)]
    p_geoms = _polys(p_areas)
    p_geoms = _clip(p_geoms, rect)
    # houses in a named compound or a place polygon belong to it: they grow no village
    taken = np.zeros(n_h, dtype=bool)
    if named_m:
        inside, _ = shapely.STRtree(_project(np.array(named_m, dtype=object), WGS84, metric)).query(
            c_m, predicate="within")
        taken[inside] = True
    for f, g in zip(p_areas, p_geoms):
        g = polygonal(g)
        if g is None:
            continue
        gm = _project(np.array([g], dtype=object), WGS84, metric)[0]
        taken |= shapely.covers(gm, c_m)
        rows.append({"area_id": f"osm-{f.ref}", "village_id": None, "name": _name(f.tags),
                     "kind": "natural_village",
                     "attrs": {**_attrs(f, ("name",)), "source": "place polygon"}, "geometry": g})
    seeds = [f for f in scan.place_nodes if f.tags.get("place") in wanted]
    unnamed = [f for f in seeds if not _name(f.tags)]
    seeds = [f for f in seeds if _name(f.tags)]
    if p_areas and seeds:
        # a place mapped both as a polygon and as a node inside it: the polygon wins
        names_in = {(_name(f.tags)) for f in p_areas}
        seeds = [f for f in seeds if _name(f.tags) not in names_in]
    seeds.sort(key=lambda f: int(f.ref[1:]))
    counts["place_seeds"] = len(seeds)
    if unnamed:
        warn_a.append(f"{len(unnamed)} 个没有名称的地名点 (place=*) 未用于生成自然村")
    empty_seeds: list[str] = []
    if seeds:
        s_m = _project(shapely.points([f.lonlat for f in seeds]), WGS84, metric)
        free = np.flatnonzero(~taken)
        tree = shapely.STRtree(s_m)
        b_idx, s_idx = tree.query_nearest(c_m[free], max_distance=opts.seed_max_dist_m, all_matches=False)
        owner = np.full(n_h, -1)
        owner[free[b_idx]] = s_idx
        for j, f in enumerate(seeds):
            mine = np.flatnonzero(owner == j)
            if not len(mine):
                empty_seeds.append(_name(f.tags))
                continue
            grown = shapely.union_all(shapely.buffer(b_m[mine], opts.grow_m, quad_segs=4))
            outline = shapely.simplify(shapely.buffer(grown, -opts.shrink_m, quad_segs=4), 0.5)
            outline = polygonal(shapely.make_valid(outline))
            if outline is None:
                empty_seeds.append(_name(f.tags))
                continue
            g = _project(np.array([outline], dtype=object), metric, WGS84)[0]
            rows.append({"area_id": f"osm-{f.ref}", "village_id": None, "name": _name(f.tags),
                         "kind": "natural_village",
                         "attrs": {**_attrs(f, ("name",)), "source": "grown from buildings",
                                   "buildings": int(len(mine))},
                         "geometry": g})
    counts["natural_villages"] = len(rows)
    if empty_seeds:
        warn_a.append(f"{len(empty_seeds)} 个地名点 {opts.seed_max_dist_m:g} 米内没有住宅建筑, 未生成自然村: "
                      f"{_list(empty_seeds)}")
    if not rows:
        warn_a.append(f"没有找到可生成自然村的地名点 (place={'/'.join(opts.places)} 且有名称); "
                      "住户将按小区归属或归入散居户")

    rows.extend(compound_rows)
    areas = gpd.GeoDataFrame(rows, columns=AREA_COLUMNS, geometry="geometry", crs=WGS84) if rows else \
        gpd.GeoDataFrame({c: [] for c in AREA_COLUMNS if c != "geometry"}, geometry=[], crs=WGS84)
    areas = areas[AREA_COLUMNS]

    # ---- roads -------------------------------------------------------------------------------
    walk = [f for f in scan.roads if _walkable(f.tags)]
    counts["roads_not_walkable"] = len(scan.roads) - len(walk)
    lines = shapely.from_wkb([f.wkb for f in walk]) if walk else np.array([], dtype=object)
    lines = _clip(lines, rect)
    road_rows: dict[str, list] = {k: [] for k in ROAD_COLUMNS}
    for f, g in zip(walk, lines):
        parts = [p for p in shapely.get_parts(g) if p.geom_type == "LineString" and p.length > 0]
        for j, p in enumerate(parts):
            road_rows["road_id"].append(f"osm-{f.ref}" if len(parts) == 1 else f"osm-{f.ref}-{j + 1}")
            road_rows["name"].append(_name(f.tags))
            road_rows["highway"].append(f.tags.get("highway"))
            road_rows["attrs"].append(_attrs(f, ("name", "highway")))
            road_rows["geometry"].append(p)
    roads = gpd.GeoDataFrame(road_rows, geometry="geometry", crs=WGS84)[ROAD_COLUMNS]
    counts["roads"] = len(roads)
    if scan.counts["areas_broken"]:
        warn_a.append(f"{scan.counts['areas_broken']} 个多边形 (建筑、居住区或边界) 缺少节点坐标, 未使用")
    if scan.counts["roads_broken"]:
        warn_r.append(f"{scan.counts['roads_broken']} 条道路缺少节点坐标 (分区文件边缘被截断), 未导入")
    if not len(roads):
        warn_r.append("没有可步行的道路 (highway=*); 步行距离将按直线距离乘以绕行系数估算")

    # ---- villages (administrative boundaries) ------------------------------------------------
    villages = None
    by_level: dict[int, list[_Feature]] = {}
    for f in scan.boundaries:
        try:
            level = int(f.tags["admin_level"])
        except ValueError:
            continue
        if level in opts.admin_levels:
            by_level.setdefault(level, []).append(f)
    for level in sorted(by_level, reverse=True):
        feats = by_level[level]
        geoms = _polys(feats)
        ok = np.array([g is not None and (rect is None or g.intersects(rect)) for g in geoms], dtype=bool)
        feats = [f for f, k in zip(feats, ok) if k]
        geoms = geoms[ok]
        if not feats:
            continue
        union = shapely.union_all(geoms)
        hxy = shapely.get_coordinates(hh.geometry.values)
        held = int(shapely.contains_xy(union, hxy[:, 0], hxy[:, 1]).sum())
        label = f"行政边界 admin_level={level} ({_list([_name(f.tags) or f.ref for f in feats], 5)})"
        if held < opts.admin_min_coverage * n_h:
            warn_v.append(f"{label} 只覆盖 {held}/{n_h} 户, 未作为行政村使用")
            continue
        villages = gpd.GeoDataFrame(
            {
                "village_id": [f"osm-{f.ref}" for f in feats],
                "name": [_name(f.tags) or f"osm-{f.ref}" for f in feats],
                "town": [None] * len(feats),
                "depot_lon": [math.nan] * len(feats), "depot_lat": [math.nan] * len(feats),
                "attrs": [_attrs(f, ("name",)) for f in feats],
            },
            geometry=list(geoms), crs=WGS84,
        )[VILLAGE_COLUMNS]
        warn_v.append(f"{label} 作为行政村, 覆盖 {held}/{n_h} 户")
        break
    counts["villages"] = len(villages) if villages is not None else 0

    if villages is None:
        warn_a.extend(warn_v)  # said with the areas, which the assembly puts in one village
    crs_in = "EPSG:4326 (OpenStreetMap)"
    name = path.name

    def layer(frame: gpd.GeoDataFrame, warnings: list[str]) -> Layer:
        return Layer(frame=frame.reset_index(drop=True), file=name, crs_in=crs_in,
                     warnings=[f"{name}: {w}" for w in warnings])

    out = OsmLayers(
        areas=layer(areas, warn_a), households=layer(hh, warn_h), roads=layer(roads, warn_r),
        villages=layer(villages, warn_v) if villages is not None else None,
        counts=counts,
    )
    out.roads.replace_all = True
    out.warnings = [w for lay in (out.villages, out.areas, out.households, out.roads) if lay is not None
                    for w in lay.warnings]
    logger.info("read_osm %s: %s", name, counts)
    return out
