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
    "start_short": ("起点", "Start"),
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
    # printed sheets (maps/sheets.py, maps/sheet_map.py)
    "sheet_title": ("{village} {group} 走访路线单", "{village} {group}: visit route sheet"),
    "sheet_month_title": ("{y}年{m}月 走访路线单", "Visit routes, {y}-{m:02d}"),
    "sheet_continued": ("（续）", "(continued)"),
    "sheet_date": ("{y}年{m}月{d}日 星期{wd}", "{wd} {y}-{m:02d}-{d:02d}"),
    "sheet_weekdays": ("一,二,三,四,五,六,日", "Mon,Tue,Wed,Thu,Fri,Sat,Sun"),
    "sheet_stationing": ("驻点日", "Stationing day"),
    "sheet_evening": ("夜访", "Evening visits"),
    "sheet_am": ("上午", "morning"),
    "sheet_pm": ("下午", "afternoon"),
    "sheet_group_n": ("第{n}组", "Group {n}"),
    "sheet_town_village": ("{town} {village}（{village_id}）", "{town}, {village} ({village_id})"),
    "sheet_group_id": ("小组编号 {group_id}", "group id {group_id}"),
    "sheet_zone": ("包干片区 {zone}：{areas}", "Zone {zone}: {areas}"),
    "sheet_members": ("成员", "Members"),
    "sheet_leader": ("驻点领导", "leader"),
    "sheet_member": ("团队成员", "member"),
    "sheet_auxiliary": ("辅助成员", "auxiliary"),
    "sheet_no": ("序号", "No."),
    "sheet_household": ("户编号", "Household"),
    "sheet_address": ("地址", "Address"),
    "sheet_head": ("户主", "Head"),
    "sheet_phone": ("电话", "Phone"),
    "sheet_tags": ("标签", "Tags"),
    "sheet_arrive": ("到达", "Arrive"),
    "sheet_met": ("已见面", "Met"),
    "sheet_not_home": ("不在家", "Not home"),
    "sheet_refused": ("拒访", "Refused"),
    "sheet_notes": ("备注", "Notes"),
    "tag_elderly_alone": ("独居老人", "elderly alone"),
    "tag_low_income": ("低保户", "low income"),
    "tag_disabled": ("残疾人", "disabled"),
    "tag_evening_only": ("晚间在家", "evenings only"),
    "sheet_legend_depot": ("村委会（起点/终点）", "Village committee (start / end)"),
    "sheet_legend_start": ("起点/终点：{name}", "Start / end: {name}"),
    "start_auxiliary_home": ("辅助成员家（{name}）", "auxiliary member's home ({name})"),
    "start_outpost": ("外点 {name}（乘车前往）", "outpost {name} (go by car)"),
    "sheet_legend_path": ("步行路线（沿道路）", "Walking path (along roads)"),
    "sheet_legend_stop": ("走访顺序", "Visit order"),
    "sheet_legend_zone": ("本组片区", "The group's zone"),
    "sheet_legend_area": ("自然村/小区界", "Natural village / compound"),
    "depot_start_end": ("村委会", "Village committee"),
    "scale_m": ("{m} 米", "{m} m"),
    "scale_km": ("{km:g} 公里", "{km:g} km"),
    "north": ("北", "N"),
    "sheet_footer_stops": ("共 {n} 户", "{n} households"),
    "sheet_footer_walk": ("步行约 {km:.1f} 公里、{min:.0f} 分钟", "walking about {km:.1f} km, {min:.0f} min"),
    "sheet_page": ("第 {i}/{n} 页", "page {i}/{n}"),
    "sheet_phones_masked": ("住户电话已隐去中间位", "household phones masked"),
    "sheet_how_to": ("走访后在对应方框内打 √，情况记入备注；不在家的住户会排入下次。",
                     "After each visit tick one box and write notes; households not at home are planned again."),
    "sheet_sessions": ("本月走访安排", "Sessions this month"),
    "sheet_summary": ("共 {sessions} 个时段（{used} 个有走访）、{stops} 户，步行约 {km:.1f} 公里",
                      "{sessions} sessions ({used} with visits), {stops} households, walking about {km:.1f} km"),
    "sheet_kind": ("类别", "Kind"),
    "sheet_window": ("时段", "Time"),
    "sheet_stops": ("户数", "Stops"),
    "sheet_km": ("步行公里", "Walk km"),
    "sheet_page_head": ("页码", "Page"),
    "sheet_none": ("无安排", "none"),
    "sheet_role": ("职务", "Role"),
    "zone_sheet_title": ("{village} 分片走访地图", "{village}: zone map"),
    "zone_sheet_subtitle": ("{town} · 第 {version} 版分片 · {groups} 个小组 · {n} 户",
                            "{town} · zone plan version {version} · {groups} groups · {n} households"),
    "zone_sheet_hours": ("工作量（小时）", "Workload (h)"),
    "card_title": ("驻点联系卡", "Contact card"),
    "card_to": ("{head} 户 · {address}", "{head} household · {address}"),
    "card_team": ("{village} 驻点团队 {group}", "{village} stationed team, {group}"),
    "card_text": ("有困难、有诉求，请随时联系我们：", "For any problem or request, call us:"),
    # route map (maps/routes.py)
    "route_map_title": ("走访路线图", "Visit routes"),
    "stationing": ("驻点日", "Stationing day"),
    "evening": ("夜访", "Evening"),
    "session": ("时段", "Session"),
    "date": ("日期", "Date"),
    "time_window": ("时间", "Time"),
    "n_stops_head": ("户数", "Stops"),
    "km_head": ("公里", "km"),
    "all_sessions": ("全月 {n} 个时段", "All {n} sessions"),
    "start_end": ("起终点", "Start / end"),
    "walking_path": ("步行路线", "Walking path"),
    "stop_numbers": ("走访顺序", "Visit order"),
    "head_of_household": ("户主", "Head"),
    "planned_arrival": ("计划到达 {t}", "Planned arrival {t}"),
    "other_households": ("片区内其他住户", "Other households of the zone"),
    "zone_outline": ("本组片区", "The group's zone"),
    "pick_session": ("左侧切换时段", "Switch sessions on the left"),
    "weekday_short": ("一二三四五六日", "Mon,Tue,Wed,Thu,Fri,Sat,Sun"),
    # coverage-gap map (maps/coverage.py)
    "coverage_map_title": ("走访覆盖图", "Coverage gaps"),
    "status_visited": ("今年已走访", "Visited this year"),
    "status_never_visited": ("今年未走访", "Not visited this year"),
    "status_priority_overdue": ("重点户逾期", "Priority household overdue"),
    "status_not_home": ("上次未遇", "Not home last time"),
    "status_moved": ("已搬离", "Moved away"),
    "visit_rate": ("走访率", "Visit rate"),
    "visit_rate_of": ("走访率 {rate:.0%} ({visited}/{n} 户)", "Visit rate {rate:.0%} ({visited}/{n} households)"),
    "rate_classes": ("片区走访率", "Zone visit rate"),
    "as_of": ("截至 {month}", "As of {month}"),
    "last_visit": ("上次走访 {d}", "Last visit {d}"),
    "household_status": ("住户状态", "Household status"),
    "by_village": ("各村", "Villages"),
}


def check_lang(lang: str) -> str:
    """Return ``lang`` if it is supported, else raise ``ValueError`` naming the supported ones."""
    if lang not in LANGS:
        raise ValueError(f"Unsupported lang {lang!r}: use one of {', '.join(LANGS)}.")
    return lang


def start_text(kind: str, name: str | None, lang: str = "zh") -> str | None:
    """What the sheets and maps call a session's start point of ``kind`` (``depot``,
    ``auxiliary_home``, ``outpost``) named ``name``; None for the village committee (``depot``),
    which has its own symbol and label."""
    if kind == "depot":
        return None
    return label("start_outpost" if kind == "outpost" else "start_auxiliary_home", lang, name=name or "")


def label(key: str, lang: str = "zh", **fmt: object) -> str:
    """Return the text of ``key`` in ``lang``, formatted with ``fmt`` (``str.format`` fields)."""
    check_lang(lang)
    try:
        zh, en = _LABELS[key]
    except KeyError:
        raise KeyError(f"No map label {key!r}; known labels: {', '.join(sorted(_LABELS))}.") from None
    text = zh if lang == "zh" else en
    return text.format(**fmt) if fmt else text
