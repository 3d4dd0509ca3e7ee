"""Column headers and values recognised in users' files, in English and Chinese.

Headers are matched after normalising (lower case, no spaces, underscores, hyphens or brackets),
so ``Household_ID``, ``household id`` and ``户编号`` all work.  Users can name their own header for
any field (``--column lon=X坐标``), which always wins over the aliases.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

# field -> aliases, in order of preference
HOUSEHOLD_FIELDS: dict[str, tuple[str, ...]] = {
    "household_id": ("household_id", "householdid", "hh_id", "hhid", "id", "户编号", "户号", "编号",
                     "住户编号", "户籍编号", "家庭编号"),
    "lon": ("lon", "lng", "long", "longitude", "x", "经度", "东经"),
    "lat": ("lat", "latitude", "y", "纬度", "北纬"),
    "head": ("head", "head_name", "householder", "户主", "户主姓名", "户主名", "姓名"),
    "address": ("address", "addr", "地址", "住址", "家庭住址", "门牌地址"),
    "phone": ("phone", "tel", "telephone", "mobile", "电话", "联系电话", "手机", "手机号", "手机号码"),
    "size": ("size", "persons", "members", "household_size", "人口", "人数", "家庭人口", "户人口"),
    "tags": ("tags", "tag", "标签", "户类型", "重点人群", "特殊人群"),
    "village_id": ("village_id", "villageid", "village", "village_code", "行政村编码", "村编码",
                   "村编号", "行政村", "村", "社区", "所属村", "所属行政村"),
    "area_id": ("area_id", "areaid", "area", "片区编号", "自然村编号", "小区编号", "自然村", "小区",
                "所属自然村", "所属小区"),
}

AREA_FIELDS: dict[str, tuple[str, ...]] = {
    "area_id": ("area_id", "areaid", "id", "编号", "编码", "代码", "片区编号", "自然村编号", "小区编号"),
    "name": ("name", "名称", "名字", "自然村名称", "小区名称", "片区名称"),
    "kind": ("kind", "type", "类型", "类别", "种类"),
    "village_id": ("village_id", "villageid", "village", "village_code", "行政村编码", "村编码",
                   "村编号", "行政村", "所属村", "所属行政村", "社区"),
}

VILLAGE_FIELDS: dict[str, tuple[str, ...]] = {
    "village_id": ("village_id", "villageid", "id", "code", "编码", "村编码", "代码", "编号",
                   "统计用区划代码", "区划代码", "行政区划代码"),
    "name": ("name", "名称", "村名", "村名称", "村社区名称", "社区名称", "行政村名称"),
    "town": ("town", "镇", "街道", "乡镇", "镇街", "所属镇", "所属乡镇", "所属街道"),
    "depot_lon": ("depot_lon", "office_lon", "村委经度", "村委会经度"),
    "depot_lat": ("depot_lat", "office_lat", "村委纬度", "村委会纬度"),
}

ROAD_FIELDS: dict[str, tuple[str, ...]] = {
    "road_id": ("road_id", "roadid", "edge_id", "id", "编号", "道路编号"),
    "name": ("name", "名称", "道路名称", "路名"),
    "highway": ("highway", "type", "kind", "类型", "道路类型", "等级"),
}

AREA_KIND_VALUES: dict[str, str] = {
    "natural_village": "natural_village", "naturalvillage": "natural_village", "village": "natural_village",
    "hamlet": "natural_village", "自然村": "natural_village", "村民小组": "natural_village",
    "村落": "natural_village", "屯": "natural_village", "组": "natural_village",
    "compound": "compound", "residential": "compound", "residential_area": "compound",
    "residentialarea": "compound", "小区": "compound", "居民小区": "compound", "住宅小区": "compound",
    "社区小区": "compound", "居民区": "compound", "楼盘": "compound",
}

TAG_VALUES: dict[str, str] = {
    "elderly_alone": "elderly_alone", "elderly": "elderly_alone", "独居老人": "elderly_alone",
    "空巢老人": "elderly_alone", "独居": "elderly_alone",
    "low_income": "low_income", "低保": "low_income", "低保户": "low_income", "困难户": "low_income",
    "特困": "low_income", "特困户": "low_income",
    "disabled": "disabled", "残疾": "disabled", "残疾人": "disabled", "残疾户": "disabled",
    "evening_only": "evening_only", "evening": "evening_only", "夜访": "evening_only",
    "仅晚上": "evening_only", "晚上在家": "evening_only", "白天不在家": "evening_only",
    "open_problem": "open_problem", "有诉求": "open_problem", "待办问题": "open_problem",
}

_NORMALISE = re.compile(r"[\s_\-()（）\[\]【】/]+")
_TAG_SPLIT = re.compile(r"[,，;；、|/\s]+")


def normalise_header(name: str) -> str:
    """Lower-case a header and drop spaces, underscores, hyphens and brackets."""
    return _NORMALISE.sub("", str(name).strip().lower().lstrip("\ufeff"))


def match_columns(
    headers: Iterable[str],
    fields: Mapping[str, tuple[str, ...]],
    *,
    overrides: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Map each known field to the user's header that holds it.

    Parameters
    ----------
    headers : iterable of str
        The file's column names.
    fields : mapping
        Field name -> aliases (one of the ``*_FIELDS`` tables above).
    overrides : mapping, optional
        Field name -> the user's exact header, from ``--column field=header``; always wins.

    Returns
    -------
    dict
        Field name -> header, for the fields found.  A header is used for one field only.

    Raises
    ------
    KeyError
        If an override names a header the file does not have (message lists the headers).
    """
    headers = [h for h in headers if h != "geometry"]
    found: dict[str, str] = {}
    used: set[str] = set()
    for fld, header in (overrides or {}).items():
        if header not in headers:
            raise KeyError(f"列 {header!r} 不在文件中; 文件的列有: {', '.join(map(str, headers))}")
        found[fld] = header
        used.add(header)
    by_norm: dict[str, str] = {}
    for h in headers:
        by_norm.setdefault(normalise_header(h), h)
    for fld, aliases in fields.items():
        if fld in found:
            continue
        for alias in aliases:
            h = by_norm.get(normalise_header(alias))
            if h is not None and h not in used:
                found[fld] = h
                used.add(h)
                break
    return found


def parse_kind(value: object) -> str | None:
    """Return ``natural_village`` or ``compound`` for a kind value, or None if unknown."""
    if value is None or (isinstance(value, float) and value != value):
        return None
    return AREA_KIND_VALUES.get(normalise_header(str(value)))


def parse_tags(value: object) -> list[str]:
    """Split a tags cell into canonical tag names (unknown tags are kept as written)."""
    if value is None or (isinstance(value, float) and value != value):
        return []
    tags: list[str] = []
    for part in _TAG_SPLIT.split(str(value).strip()):
        if not part:
            continue
        tag = TAG_VALUES.get(part.lower(), part)
        if tag not in tags:
            tags.append(tag)
    return tags
