"""Label strings of the maps in Simplified Chinese (default) and English.

Every text a map shows goes through :func:`label`, so a renderer never hard-codes a language::

    label("natural_village")              # '自然村'
    label("natural_village", "en")        # 'Natural village'
    label("n_households", "zh", n=12)     # '12 户'
"""

from __future__ import annotations

LANGS = ("zh", "en")
"""Supported languages; ``zh`` (Simplified Chinese) is the default everywhere."""

HTML_LANG = {"zh": "zh-CN", "en": "en"}
"""The value of ``<html lang=...>`` per language (makes browsers pick Simplified Chinese glyphs)."""

_LABELS: dict[str, tuple[str, str]] = {
    # key: (zh, en)
    "map": ("地图", "Map"),
    "legend": ("图例", "Legend"),
    "overview_title": ("驻点总览", "Overview"),
    "village": ("行政村界", "Village boundary"),
    "natural_village": ("自然村", "Natural village"),
    "compound": ("小区", "Residential compound"),
    "road": ("道路", "Roads"),
    "households": ("住户", "Households"),
    "household_in_area": ("住户（区内）", "Households (in area)"),
    "household_attached": ("就近归入", "Attached to nearest area"),
    "household_scattered": ("散居户", "Scattered households"),
    "household_unplaced": ("未归属", "Unplaced"),
    "depot": ("村委会", "Village committee"),
    "depot_short": ("村委", "VC"),
    "n_households": ("{n} 户", "{n} households"),
    "n_households_short": ("{n}户", "{n} hh"),
    "road_km": ("{km:.1f} 公里", "{km:.1f} km"),
    "households_total": ("住户合计", "Households, total"),
    "no_tiles": ("无底图", "No base map"),
    # zone map (maps/zones.py)
    "zone_map_title": ("分片走访地图", "Zone map"),
    "zones": ("走访片区", "Zones"),
    "zone_labels": ("分组名称", "Group names"),
    "group": ("分组", "Group"),
    "members": ("成员", "Members"),
    "n_households_head": ("户数", "Households"),
    "workload": ("工作量", "Workload"),
    "workload_h": ("{h:.1f} 小时", "{h:.1f} h"),
    "workload_full": ("工作量 {h:.1f} 小时", "Workload {h:.1f} h"),
    "no_members": ("（未定成员）", "(no members yet)"),
    "total": ("合计", "Total"),
    "area_outline": ("自然村/小区界", "Natural village / compound"),
    "area_names": ("自然村/小区名称", "Area names"),
    "split_area": ("被拆分的片区", "Split areas"),
    "split_area_tip": ("此片区分属多个组", "This area is split between groups"),
    "households_by_zone": ("住户（按分组着色）", "Households (group colour)"),
    "household_unzoned": ("未分片住户", "Households without a zone"),
}


def check_lang(lang: str) -> str:
    """Return ``lang`` if it is supported, else raise ``ValueError`` naming the supported ones."""
    if lang not in LANGS:
        raise ValueError(f"Unsupported lang {lang!r}: use one of {', '.join(LANGS)}.")
    return lang


def label(key: str, lang: str = "zh", **fmt: object) -> str:
    """Return the text of ``key`` in ``lang``, formatted with ``fmt`` (``str.format`` fields)."""
    check_lang(lang)
    try:
        zh, en = _LABELS[key]
    except KeyError:
        raise KeyError(f"No map label {key!r}; known labels: {', '.join(sorted(_LABELS))}.") from None
    text = zh if lang == "zh" else en
    return text.format(**fmt) if fmt else text
