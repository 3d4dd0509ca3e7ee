"""The demo job: import the bundled demo data into a fresh store and write its outputs."""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from api import store
from geo.atomic import write_atomic
from api.importer import ImportRequest, run_import

logger = logging.getLogger(__name__)

DEMO_DATA = Path(__file__).resolve().parent.parent / "data" / "demo"
DEMO_MONTH = "2026-12"
"""The demo plans a fixed month, so its outputs are the same on every machine and every day."""
"""The bundled demo dataset (OpenStreetMap-derived, ODbL; see data/README.md)."""


@dataclass
class DemoSummary:
    """What the demo produced: the store, the files written and a printable summary."""

    db: Path
    files: list[Path] = field(default_factory=list)
    report: dict = field(default_factory=dict)
    text: str = ""


def run_demo(out: Path, *, data: Path = DEMO_DATA,
             progress: Callable[[str], None] | None = None) -> DemoSummary:
    """Run the whole job on the demo data: import into ``out/zhudian.db`` and write the maps.

    The store is rebuilt from scratch each time (an existing ``zhudian.db`` in ``out`` is
    replaced only after the new one has been written completely).

    Parameters
    ----------
    out : Path
        Output folder, created if missing.
    data : Path
        Folder with ``villages.gpkg``, ``areas.gpkg``, ``households.gpkg``, ``roads.gpkg``.
    progress : callable, optional
        Told about each step.

    Returns
    -------
    DemoSummary
    """
    from api.maps import write_coverage_maps, write_route_maps
    from api.plan import PlanRequest, run_plan
    from api.sheets import SheetsRequest, run_sheets
    from api.zoning import ZoneRequest, run_zoning
    from maps.offline import save_html
    from maps.overview import overview_map

    step = progress or (lambda _m: None)
    out.mkdir(parents=True, exist_ok=True)
    db = out / "zhudian.db"
    tmp_db = out / ".zhudian.db.new"
    for suffix in ("", "-wal", "-shm"):
        Path(str(tmp_db) + suffix).unlink(missing_ok=True)
    request = ImportRequest(
        villages=data / "villages.gpkg", areas=data / "areas.gpkg",
        households=data / "households.gpkg", roads=data / "roads.gpkg",
    )
    report = run_import(tmp_db, request, progress=step)
    store.checkpoint(tmp_db)  # fold the WAL into the file before it is renamed
    tmp_db.replace(db)
    for suffix in ("-wal", "-shm"):
        Path(str(tmp_db) + suffix).unlink(missing_ok=True)

    step("绘制总览地图")
    engine = store.open_store(db, create=False)
    try:
        villages = store.load_villages(engine)
        areas = store.load_areas(engine)
        households = store.load_households(engine)
        roads = store.load_roads(engine)
    finally:
        engine.dispose()
    overview = out / "overview.html"
    save_html(overview_map(villages, areas, households, roads, title="示范镇总览"), overview)

    step("划分走访片区")
    zoning = run_zoning(db, ZoneRequest(roster=data / "roster.csv", seconds=5.0, seed=0),
                        progress=step, out=out / "zones.geojson", maps_dir=out / "zones", workers=None)
    zone_maps = sorted((out / "zones").glob("*.html"))

    step(f"生成 {DEMO_MONTH} 走访计划")
    month = run_plan(db, PlanRequest(month=DEMO_MONTH, seconds=2.0, seed=0), progress=step, out=out / "routes")
    write_atomic(out / f"plan-{DEMO_MONTH}.json", json.dumps(month, ensure_ascii=False, indent=1).encode("utf-8"))

    step("绘制路线图")
    month_day = dt.date.fromisoformat(f"{DEMO_MONTH}-01")
    engine = store.open_store(db, create=False)
    try:
        route_maps = write_route_maps(engine, month_day, out / "routes")
    finally:
        engine.dispose()
    group_village = {g["group"]: g["village"] for g in month["groups"]}

    step("打印路线单和分片地图 (PDF)")
    printed = run_sheets(db, SheetsRequest(month=DEMO_MONTH), out / "sheets", progress=step)
    sheets: dict[str, list[tuple[str, Path]]] = {}
    for f in sorted(printed["files"], key=lambda f: (f["kind"] != "zone_map", f["group"] or "")):
        short = (f["group"] or "").removeprefix(str(f["village"]) + "-")
        text = "A3 分片地图" if f["kind"] == "zone_map" else f"{short} 路线单 ({f['pages']} 页)"
        sheets.setdefault(f["village"], []).append((text, Path(f["path"])))
    review = _review(db, out, step)
    step("绘制走访覆盖图")
    engine = store.open_store(db, create=False)
    try:  # after the review step: the maps show the quarter's visits
        coverage, village_coverage = write_coverage_maps(engine, REVIEW_AS_OF, out / "coverage.html", out / "coverage")
    finally:
        engine.dispose()
    index = _write_index(out, villages, zone_maps, overview, route_maps=route_maps, group_village=group_village,
                         coverage=coverage, village_coverage=village_coverage, sheets=sheets,
                         reports=review["links"])

    s = report.get("store", {})
    zoned = [v for v in zoning["villages"] if v["status"] in ("optimal", "feasible")]
    worst = max((v["balance"] for v in zoned if v["balance"]), default=1.0)
    text = "\n".join([
        f"示范数据已导入 {db}",
        f"  行政村 {s.get('villages')} 个, 片区 {s.get('areas')} 个, 住户 {s.get('households')} 户, "
        f"道路 {s.get('roads_km')} 公里",
        f"  住户归属: 片区内 {report['households_in_area']}, 就近归入 {report['households_attached']}, "
        f"散居户 {report['households_scattered']}, 无法归属 {report['households_unplaced']}",
        f"分片: {len(zoned)}/{len(zoning['villages'])} 个村完成, 共 {sum(len(v['zones']) for v in zoned)} 个小组片区, "
        f"各村工作量最大/最小 ≤ {worst:.3f}, 拆分 {sum(len(v['splits']) for v in zoned)} 处",
        f"{DEMO_MONTH} 走访计划: {sum(g['planned'] for g in month['groups'])} 户排入 "
        f"{sum(1 for g in month['groups'] for x in g['sessions'] if x['stops'])} 个时段, "
        f"{len(month['unplanned'])} 户未排入 (原因见 plan-{DEMO_MONTH}.json); 路线: {out / 'routes'}",
        f"总览地图: {overview}",
        f"分片地图: {out / 'zones'} ({len(zone_maps)} 张)",
        f"路线图: {out / 'routes'} ({len(route_maps)} 张, 每组一张); 走访覆盖图: {coverage} "
        f"及 {out / 'coverage'} ({len(village_coverage)} 张)",
        f"打印单 (PDF): {out / 'sheets'} ({sum(1 for f in printed['files'] if f['kind'] == 'route_sheets')} 份路线单, "
        f"{sum(f['pages'] for f in printed['files'])} 页; 各村 A3 分片地图 "
        f"{sum(1 for f in printed['files'] if f['kind'] == 'zone_map')} 张)",
        f"第四季度模拟走访 (种子 0): {review['simulation']['visits']} 次走访, {review['simulation']['problems']} 个问题; "
        f"暗访抽查 {review['spotcheck']['households']} 户; 季度通报 (HTML/PDF/XLSX): {out / 'reports'}",
        f"全部输出: {index}",
    ])
    return DemoSummary(db=db, files=[db, overview, out / "zones.geojson", *zone_maps, *route_maps.values(),
                                     coverage, *village_coverage.values(),
                                     *(Path(f["path"]) for f in printed["files"]), *review["files"], index],
                       report={**report, "zoning": zoning, "plan": month, "review": review}, text=text)


REVIEW_MONTHS = ("2026-10", "2026-11", DEMO_MONTH)
REVIEW_QUARTER = "2026Q4"
REVIEW_AS_OF = dt.date(2026, 12, 31)
SPOTCHECK_DATE = "2026-12-29"


def _review(db: Path, out: Path, step: Callable[[str], None]) -> dict:
    """The coverage review of the demo: simulate the fourth quarter's field work (October and
    November from the zones, December along the stored plan), draw and record a spot check, and
    write the quarterly report as HTML, PDF and XLSX in ``out/reports``."""
    from api.report import ReportRequest, run_report
    from api.simulate import simulate, simulate_findings
    from api.spotcheck import SpotCheckRequest, run_spotcheck

    folder = out / "reports"
    folder.mkdir(parents=True, exist_ok=True)
    step("模拟第四季度的走访、问题办理和请假")
    engine = store.open_store(db, create=False)
    try:
        sim = simulate(engine, list(REVIEW_MONTHS), seed=0, until=REVIEW_AS_OF)
    finally:
        engine.dispose()
    step("暗访抽查")
    check = run_spotcheck(db, SpotCheckRequest(date=SPOTCHECK_DATE, villages=3, households=24, seed=2026),
                          out=folder, route_seconds=1.0)
    engine = store.open_store(db, create=False)
    try:
        weak = check["villages"][0]["groups"][:1]  # one group whose visits the households often deny
        simulate_findings(engine, check["check_id"], seed=0, weak_groups=weak)
    finally:
        engine.dispose()
    files, links = [Path(f) for f in check["files"]], []
    for ext, text in (("html", "季度通报 (网页)"), ("pdf", "季度通报 (PDF, A4)"), ("xlsx", "季度通报 (Excel)")):
        step(f"生成 {REVIEW_QUARTER} 季度通报 ({ext.upper()})")
        path = folder / f"report-{REVIEW_QUARTER}.{ext}"
        run_report(db, ReportRequest(out=path, quarter=REVIEW_QUARTER, map_link="../coverage.html"))
        files.append(path)
        links.append((text, path))
    links.append((f"暗访抽查清单 ({SPOTCHECK_DATE})", folder / f"spotcheck-{check['check_id']}.pdf"))
    return {"simulation": sim.as_dict(), "files": files, "links": links,
            "spotcheck": {"id": check["check_id"], "households": sum(len(v["households"]) for v in check["villages"])}}


def _write_index(out: Path, villages, zone_maps: list[Path], overview: Path, *,
                 route_maps: dict[str, Path] | None = None, group_village: dict[str, str] | None = None,
                 coverage: Path | None = None, village_coverage: dict[str, Path] | None = None,
                 sheets: dict[str, list[tuple[str, Path]]] | None = None,
                 reports: list[tuple[str, Path]] | None = None) -> Path:
    """The index page: town-wide outputs, then one row per village linking its maps (and sheets).

    ``route_maps``: group id -> file; ``group_village``: group id -> village id; ``sheets``:
    village id -> ``[(link text, file)]`` (the printed PDFs; a "—" while there are none).
    """
    import html

    def link(path: Path, text: str) -> str:
        return f'<a href="{html.escape(path.relative_to(out).as_posix())}">{html.escape(text)}</a>'

    route_maps = route_maps or {}
    group_village = group_village or {}
    village_coverage = village_coverage or {}
    zones_by_village = {p.stem: p for p in zone_maps}
    rows = []
    for vid, name in zip(villages["village_id"], villages["name"]):
        zone = link(zones_by_village[vid], "分片地图") if vid in zones_by_village else "—"
        cov = link(village_coverage[vid], "走访覆盖图") if vid in village_coverage else "—"
        groups = sorted((g for g in route_maps if group_village.get(g) == vid))
        routes = "<br>".join(link(route_maps[g], f"{g.removeprefix(f'{vid}-')} 路线图") for g in groups) or "—"
        printed = "<br>".join(link(p, text) for text, p in (sheets or {}).get(vid, [])) or "—"
        rows.append(f"<tr><td>{html.escape(str(name))}<br><small>{html.escape(str(vid))}</small></td>"
                    f"<td>{zone}</td><td>{cov}</td><td>{routes}</td><td>{printed}</td></tr>")
    review = " · ".join(link(p, text) for text, p in (reports or []))
    town = [link(overview, "示范镇总览地图")]
    if coverage is not None:
        town.append(link(coverage, "全镇走访覆盖图"))
    page = f"""<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>驻点走访规划 · 示范输出</title>
<style>
body{{font-family:"Noto Sans CJK SC","Microsoft YaHei",sans-serif;margin:2em;max-width:60em;color:#222}}
table{{border-collapse:collapse;width:100%}} th,td{{border-bottom:1px solid #ddd;padding:6px 8px;text-align:left;vertical-align:top}}
th{{background:#f3f1ea}} small{{color:#777}}
</style></head>
<body><h1>驻点走访规划 · 示范输出</h1>
<h2>全镇</h2>
<p>{' · '.join(town)} · <a href="zones.geojson">片区边界 (GeoJSON)</a> ·
<a href="plan-{DEMO_MONTH}.json">{DEMO_MONTH} 走访计划 (JSON)</a> · <a href="routes/">步行路线 (GeoJSON, GPX)</a> · 数据库 zhudian.db</p>
{f"<h2>会议通报 ({REVIEW_QUARTER}, 模拟走访)</h2>{chr(10)}<p>{review}</p>" if review else ""}
<h2>各村 ({DEMO_MONTH})</h2>
<table>
<tr><th>行政村</th><th>分片地图</th><th>走访覆盖图</th><th>各组路线图</th><th>打印单 (PDF)</th></tr>
{chr(10).join(rows)}
</table>
<p style="color:#666">地图均可离线打开 (不需要网络)。地图数据 © OpenStreetMap contributors (ODbL); 人员、电话均为虚构。</p>
</body></html>
"""
    return write_atomic(out / "index.html", page.encode("utf-8"))
