"""Monthly (town) and quarterly (district / city) review reports: ``zhudian report``.

:func:`build_report` computes the figures (:mod:`api.coverage`) and lays them out as a
:class:`maps.review.ReportDoc`; :func:`run_report` writes it as HTML, PDF or XLSX (by the
extension of ``--out``), atomically.

Tables, in order: towns (ranked; a last row sums them: the district / city), villages (ranked,
比学赶超), zones and groups (projected year-end coverage, which zones will miss 100%, LQAS),
town party secretaries and town heads (separate rows, from the roster's titles), the overdue
problem list, spot-check verification per group.  Charts: visit rate by month per village,
visits and the not-home rate by month.  The coverage-gap map as a static picture.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from api import store
from api.coverage import SECRETARY, Figures, Period, compute, load_review_data, parse_period
from geo.atomic import write_atomic
from maps.review import Chart, Column, ReportDoc, Table, bar_chart, line_chart

logger = logging.getLogger(__name__)

FORMATS = (".html", ".pdf", ".xlsx")
LQAS_ZH = {"accept": "合格", "reject": "不合格", "insufficient": "样本不足"}
STATUS_ZH = {"open": "待办", "in_progress": "办理中", "resolved": "已解决", "cannot_resolve": "无法解决"}


@dataclass
class ReportRequest:
    """What to report: ``month`` (YYYY-MM) or ``quarter`` (YYYYQn), optionally one ``town``
    (name, or village-id prefix), written to ``out`` (.html, .pdf or .xlsx)."""

    out: str | Path
    month: str | None = None
    quarter: str | None = None
    town: str | None = None
    map_link: str | None = None
    """A link to the interactive coverage map, shown in the HTML."""

    def __post_init__(self) -> None:
        self.period: Period = parse_period(self.month, self.quarter)
        suffix = Path(self.out).suffix.lower()
        if suffix not in FORMATS:
            raise ValueError(f"--out 应为 .html, .pdf 或 .xlsx 文件 (收到 {Path(self.out).name})")


UNIT_COLUMNS = [
    Column("households", "户数", "int"), Column("visited", "已走访", "int"), Column("visit_rate", "走访率", "pct"),
    Column("never_visited", "未走访", "int"), Column("priority_overdue", "重点户逾期", "int"),
    Column("not_home_rate", "不在家率", "pct"), Column("problems", "收集问题", "int"),
    Column("resolved", "已办结", "int"), Column("overdue", "逾期未办", "int"),
    Column("resolution_rate", "办结率", "pct"), Column("leave", "请假人次", "int"),
    Column("projected", "预计年底覆盖", "pct"), Column("verification_rate", "暗访核实率", "pct"),
]


def _rows(frame: pd.DataFrame, flag: str | None = None) -> list[dict[str, Any]]:
    out = []
    for r in frame.to_dict("records"):
        r = {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in r.items()}
        if flag is not None:
            r["_flag"] = bool(r.get(flag))
        out.append(r)
    return out


def _group_short(group_id: str | None, village_id: str | None) -> str:
    g = group_id or ""
    return g.removeprefix(f"{village_id}-") if village_id else g


def build_report(fig: Figures, *, font_family: str = "Noto Sans CJK SC", map_svg: bytes | None = None,
                 map_link: str | None = None, scope: str | None = None) -> ReportDoc:
    """Lay the figures out as a report document (tables, charts, map)."""
    data = fig.data
    period = data.period
    total = fig.total
    towns = sorted(set(data.households["town"]))
    scope = scope or ("、".join(towns) if len(towns) <= 3 else f"{len(towns)} 个镇")
    title = f"驻点普遍直接联系群众 · {period.label}通报"
    subtitle = (f"{scope} · 统计期 {period.start.isoformat()} 至 {period.end.isoformat()} · 走访率为 {period.year} 年累计, "
                f"截至 {period.end.isoformat()}")

    def pct(v: Any) -> str:
        return "—" if v is None or (isinstance(v, float) and not math.isfinite(v)) else f"{100 * v:.1f}%"

    missing = int(fig.zones["will_miss"].sum()) if len(fig.zones) else 0
    summary = [
        ("住户 (不含已搬离)", str(total["households"])), ("今年已走访", str(total["visited"])),
        ("走访率", pct(total["visit_rate"])), ("今年未走访", str(total["never_visited"])),
        ("重点户逾期", str(total["priority_overdue"])), ("不在家率 (本期)", pct(total["not_home_rate"])),
        ("收集问题", str(total["problems"])), ("已办结", str(total["resolved"])),
        ("办结率", pct(total["resolution_rate"])), ("逾期未办结问题", str(total["overdue"])),
        ("请假人次 (本期)", str(total["leave"])), ("预计年底覆盖", pct(total["projected"])),
        ("预计年底达不到全覆盖的片区", str(missing)), ("暗访核实率", pct(total["verification_rate"])),
        ("本期走访次数", str(total["visits"])),
    ]
    town_rows = _rows(fig.towns) + [{**{k: (None if isinstance(v, float) and math.isnan(v) else v)
                                        for k, v in total.items()}, "rank": None, "town": "合计 (区/市)"}]
    tables = [
        Table("towns", "各镇排名 (比学赶超)", [Column("rank", "名次", "int"), Column("town", "镇", "text", 1.5),
                                             *UNIT_COLUMNS], town_rows,
              note="按走访率排名, 同率按办结率; 最后一行为各镇合计 (区/市)。", sheet="各镇"),
        Table("villages", "各村排名 (比学赶超)", [Column("rank", "名次", "int"), Column("village", "行政村", "text", 1.3),
                                                Column("village_id", "村编号", "text", 1.4), *UNIT_COLUMNS],
              _rows(fig.villages), note="按走访率排名, 同率按办结率。", sheet="各村"),
    ]
    zones = fig.zones.assign(group_short=[_group_short(g, v) for g, v in zip(fig.zones["group_id"], fig.zones["village_id"])],
                             lqas_text=fig.zones["lqas"].map(LQAS_ZH) if "lqas" in fig.zones else "")
    zone_cols = [Column("village", "行政村", "text", 1.2), Column("group_short", "小组", "text", 0.8),
                 Column("households", "户数", "int"), Column("visited", "已走访", "int"),
                 Column("visit_rate", "走访率", "pct"), Column("never_visited", "未走访", "int"),
                 Column("priority_overdue", "重点户逾期", "int"), Column("not_home_rate", "不在家率", "pct"),
                 Column("problems", "收集问题", "int"), Column("resolution_rate", "办结率", "pct"),
                 Column("leave", "请假人次", "int"), Column("projected", "预计年底覆盖", "pct"),
                 Column("will_miss", "年底达不到100%", "bool"), Column("checked", "暗访户数", "int"),
                 Column("verification_rate", "核实率", "pct"), Column("lqas_text", "LQAS判定", "text", 0.8)]
    tables.append(Table("zones", "各片区 / 小组", zone_cols, _rows(zones, flag="will_miss"),
                        note="预计年底覆盖 = (已走访 + 近 90 天每天新走访户数 × 年内剩余天数) / 户数; 标色行预计年底达不到全覆盖。"
                             "LQAS: 每片区暗访核实的户数为 n, 未确认走访的户数不超过 d 为合格 (d 取使“真实核实率仅 75% 的片区被判合格”"
                             "的概率不超过 10% 的最大值; 真实核实率 95% 的片区被误判不合格的概率随 n 增大而减小); "
                             "n 不足 9 户时不判定。", sheet="各片区"))
    leaders = fig.leaders.assign(kind_text=fig.leaders["kind"].map({SECRETARY: "镇党委书记", "head": "镇长"})
                                 if len(fig.leaders) else [])
    tables.append(Table("leaders", "镇党委书记、镇长驻点情况", [
        Column("kind_text", "类别", "text"), Column("name", "姓名", "text"), Column("title", "职务", "text"),
        Column("town", "镇", "text", 1.4), Column("village", "驻点村", "text"), Column("households", "户数", "int"),
        Column("visit_rate", "走访率", "pct"), Column("never_visited", "未走访", "int"),
        Column("problems", "收集问题", "int"), Column("resolution_rate", "办结率", "pct"),
        Column("overdue", "逾期未办", "int"), Column("leave", "本人请假人次", "int")], _rows(leaders),
        note="按花名册职务区分镇党委书记和镇长, 分别列出; 指标为其驻点村的数字。", sheet="书记镇长"))
    od = fig.overdue
    od = od.assign(status_text=od["status"].map(STATUS_ZH) if len(od) else [],
                   deadline_d=[d.date() if pd.notna(d) else None for d in od["deadline"]] if len(od) else [],
                   visit_d=[d.date() if pd.notna(d) else None for d in od["visit_date"]]
                   if len(od) and "visit_date" in od else [])
    tables.append(Table("overdue", "逾期未办结问题清单", [
        Column("id", "编号", "int", 0.6), Column("village", "行政村", "text", 0.9),
        Column("household_id", "户编号", "text", 0.8), Column("visit_d", "走访日期", "date", 0.8),
        Column("category", "类别", "text", 0.8), Column("text", "问题", "text", 1.8),
        Column("department", "责任部门", "text", 1.0), Column("deadline_d", "办结期限", "date", 0.8),
        Column("overdue_days", "逾期天数", "int", 0.8), Column("status_text", "状态", "text", 0.6)], _rows(od),
        note=f"截至 {period.end.isoformat()} 未办结且已过办结期限的问题, 逾期最久的在前。", sheet="逾期问题"))
    gv = fig.groups.assign(group_short=[_group_short(g, v) for g, v in zip(fig.groups["group_id"], fig.groups["village_id"])]
                           if len(fig.groups) else [])
    tables.append(Table("spotchecks", "暗访核实 (按小组)", [
        Column("village_id", "村编号", "text"), Column("group_short", "小组", "text"),
        Column("checked", "暗访户数", "int"), Column("confirmed", "确认走访", "int"),
        Column("not_confirmed", "未确认", "int"), Column("verification_rate", "核实率", "pct")], _rows(gv),
        note="只计有结论的抽查户 (无人在家的不计)。", sheet="暗访核实"))
    charts = trend_charts(fig, font_family=font_family)
    notes = ["走访率 = 今年已走访户数 / 住户数 (已搬离的住户从搬离走访之日起不计); 已走访 = 今年至少一次见到住户或被拒访。",
             "办结率 = 今年收集的问题中已办结 (已解决或无法解决并说明原因) 的比例; 逾期 = 过了办结期限仍未办结。",
             "请假人次 = 本期内与请假期间有重叠的请假次数 (花名册请假日期)。",
             f"生成时间 {dt.datetime.now():%Y-%m-%d %H:%M}。"]
    return ReportDoc(title=title, subtitle=subtitle, summary=summary, tables=tables, charts=charts, map_svg=map_svg,
                     map_link=map_link, notes=notes)


def trend_charts(fig: Figures, *, font_family: str = "Noto Sans CJK SC") -> list[Chart]:
    """Visit rate by month per village (and the whole scope), visits and not-home rate by month."""
    tr = fig.trend
    if not len(tr):
        return []
    months = sorted(tr["month"].unique())
    series: dict[str, list[float]] = {}
    for (vid, name), g in tr.groupby(["village_id", "village"], sort=True):
        by = dict(zip(g["month"], g["visit_rate"]))
        series[str(name)] = [by.get(m, math.nan) for m in months]
    tt = fig.town_trend
    agg = tt.groupby("month").agg(visits=("visits", "sum")).reindex(months, fill_value=0)
    # the scope's cumulative rate and not-home rate from the village rows (weights: households)
    hh = fig.households.join(fig.data.households[["village_id"]])
    den = hh[~hh["moved"]].groupby("village_id").size()
    overall = []
    for m in months:
        g = tr[tr["month"] == m]
        w = g["village_id"].map(den).fillna(0).to_numpy(dtype=float)
        overall.append(float((g["visit_rate"].fillna(0) * w).sum() / w.sum()) if w.sum() else math.nan)
    series = {"全部": overall, **series}
    nh = []
    for m in months:
        g = tr[tr["month"] == m]
        v = g["visits"].sum()
        nh.append(float((g["not_home_rate"].fillna(0) * g["visits"]).sum() / v) if v else math.nan)
    return [line_chart("各村累计走访率 (按月)", months, series, font_family=font_family),
            bar_chart("每月走访次数与不在家率", months, agg["visits"].tolist(), nh, bar_label="走访次数",
                      rate_label="不在家率", font_family=font_family)]


def coverage_picture(engine, fig: Figures, *, font_family: str) -> bytes | None:
    """The static coverage-gap map of the report's villages on ``as_of`` (None without households)."""
    from api.maps import coverage_layers
    from geo.crs import utm_crs
    from maps.review import coverage_map_svg

    villages = store.load_villages(engine)
    villages = villages[villages["village_id"].isin(set(fig.data.households["village_id"]))]
    if not len(villages):
        return None
    layers = coverage_layers(engine, villages, fig.data.as_of)
    hh = layers["households"]
    # the report's own statuses and rates (as of the period's end), so map and tables agree
    status = pd.Series(fig.households["status"].to_numpy(), index=fig.data.households["household_id"].to_numpy())
    hh = hh.assign(status=hh["household_id"].map(status).fillna(hh["status"]))
    units = layers["units"]
    crs = utm_crs(hh.geometry.x.to_numpy(), hh.geometry.y.to_numpy())
    hh = hh.to_crs(crs)
    if units is not None and len(units):
        from maps.coverage import rate_counts

        rates = rate_counts(hh["status"].where(hh["status"] != "priority_overdue", "other"), hh["unit"])["rate"]
        zone_rate = dict(zip(fig.zones["zone"], fig.zones["visit_rate"]))
        units = units.assign(rate=[zone_rate.get(u, rates.get(u, math.nan)) for u in units["unit"]]).to_crs(crs)
    return coverage_map_svg(hh, units, font_family=font_family)


def run_report(db: str | Path, req: ReportRequest, *, progress: Callable[[str], None] | None = None,
               fonts=None) -> dict[str, Any]:
    """Write one report (the job of ``zhudian report``).

    Returns
    -------
    dict
        ``out``, ``format``, ``bytes``, ``seconds``, ``period``, and the key figures (``total``).

    Raises
    ------
    ValueError, FileNotFoundError
        Bad period or output, missing store, or nothing in the scope.
    """
    from maps.fonts import find_cjk_fonts, matplotlib_family

    t0 = time.perf_counter()
    step = progress or (lambda _m: None)
    out = Path(req.out)
    suffix = out.suffix.lower()
    engine = store.open_store(db, create=False)
    try:
        step("读取走访记录")
        data = load_review_data(engine, req.period, town=req.town)
        step("计算覆盖指标")
        fig = compute(data)
        fonts = fonts or find_cjk_fonts()
        family = matplotlib_family(fonts)
        map_svg = None
        if suffix != ".xlsx":
            step("绘制走访覆盖图")
            map_svg = coverage_picture(engine, fig, font_family=family)
    finally:
        engine.dispose()
    step("排版")
    doc = build_report(fig, font_family=family, map_svg=map_svg, map_link=req.map_link,
                       scope=req.town if req.town else None)
    if suffix == ".html":
        from maps.review import report_html

        payload = report_html(doc).encode("utf-8")
    elif suffix == ".pdf":
        from maps.fonts import subset_fonts
        from maps.review import report_pdf
        import tempfile

        text = doc.title + doc.subtitle + "".join(k + v for k, v in doc.summary) + "".join(doc.notes) + "".join(
            t.title + t.note + "".join(c.title for c in t.columns) + "".join(str(v) for r in t.rows for v in r.values())
            for t in doc.tables) + "第页暗访无合计是否—%"
        with tempfile.TemporaryDirectory() as tmp:
            payload = report_pdf(doc, fonts=subset_fonts(fonts, text, tmp))
    else:
        from maps.review import report_xlsx

        payload = report_xlsx(doc)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(out, payload)
    total = {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in fig.total.items()}
    return {"out": str(out), "format": suffix[1:], "bytes": len(payload), "seconds": round(time.perf_counter() - t0, 2),
            "period": req.period.label, "total": total, "villages": len(fig.villages), "zones": len(fig.zones),
            "overdue": len(fig.overdue)}
