"""The ``zhudian`` command line.  It parses arguments and prints; the work is done by the same
functions the HTTP API calls (:mod:`api.importer`, :mod:`api.export`, :mod:`api.demo`).

Exit codes: 0 success, 2 bad input or usage (the message names the file, row and fix),
1 unexpected failure.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from geo.errors import InputError

logger = logging.getLogger(__name__)

EXIT_OK, EXIT_FAIL, EXIT_INPUT = 0, 1, 2


class _Steps:
    """A progress bar over named steps on stderr (silent with --quiet or --json)."""

    def __init__(self, total: int, quiet: bool):
        self.bar = None
        if not quiet:
            from tqdm import tqdm

            self.bar = tqdm(total=total, unit="步", file=sys.stderr, leave=False,
                            bar_format="{desc:<30.30} |{bar:20}| {n_fmt}/{total_fmt} {elapsed}")

    def __call__(self, message: str) -> None:
        if self.bar is not None:
            if self.bar.n < self.bar.total:
                self.bar.update(1)
            self.bar.set_description_str(message)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _parse_columns(values: Sequence[str] | None) -> dict[str, str]:
    out = {}
    for v in values or ():
        if "=" not in v:
            raise ValueError(f"--column 需要 字段=列名 的形式, 如 --column lon=X坐标 (收到 {v!r})")
        k, h = v.split("=", 1)
        out[k.strip()] = h.strip()
    return out


def _print_problem(exc: Exception, as_json: bool) -> None:
    if isinstance(exc, InputError):
        problems = [p.as_dict() for p in exc.problems]
        text = "输入数据有问题, 没有写入任何数据:\n" + str(exc)
    else:
        problems = [{"file": "", "where": "", "problem": str(exc), "fix": ""}]
        text = f"错误: {exc}"
    if as_json:
        print(json.dumps({"ok": False, "problems": problems}, ensure_ascii=False, indent=2))
    print(text, file=sys.stderr)


def cmd_import(args: argparse.Namespace) -> int:
    from api.importer import ImportRequest, run_import

    try:
        req = ImportRequest(
            areas=args.areas, villages=args.villages, households=args.households, roads=args.roads,
            crs=args.crs, encoding=args.encoding, columns=_parse_columns(args.column),
            generate_ids=args.generate_ids, attach_distance_m=args.attach_distance,
            replace=args.replace, dry_run=args.dry_run, osm=args.osm,
            bbox=tuple(args.bbox.split(",")) if args.bbox else None,
        )
    except ValueError as exc:
        _print_problem(exc, args.json)
        return EXIT_INPUT
    n_layers = sum(x is not None for x in (args.areas, args.villages, args.households, args.roads, args.osm))
    report = _run_job(args, n_layers + 2, lambda steps: run_import(args.db, req, progress=steps),
                      _print_import_summary)
    return EXIT_INPUT if report is None else EXIT_OK


def _run_job(args: argparse.Namespace, n_steps: int, job, summary) -> dict | None:
    """Run a job with a progress bar; print its report (JSON or summary) or its problems.

    Returns None when the input was bad (the problems have been printed)."""
    steps = _Steps(n_steps, args.quiet or args.json)
    try:
        report = job(steps)
    except (InputError, ValueError, FileNotFoundError) as exc:
        steps.close()
        _print_problem(exc, args.json)
        return None
    steps.close()
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=2))
    elif not args.quiet:
        summary(report)
    return report


def _print_import_summary(r: dict) -> None:
    head = "检查完成 (未写入, --dry-run)" if r.get("dry_run") else "导入完成"
    print(f"{head}: 行政村 {r['villages']}, 片区 {r['areas']}, 住户 {r['households']} "
          f"(片区内 {r['households_in_area']}, 就近归入 {r['households_attached']}, "
          f"散居户 {r['households_scattered']}, 无法归属 {r['households_unplaced']}), "
          f"道路 {r['roads']} 条 {r['roads_km']} 公里")
    for w in r["warnings"]:
        print(f"  提示: {w}")
    if "store" in r:
        s = r["store"]
        print(f"数据库现有: 行政村 {s.get('villages')}, 片区 {s.get('areas')}, 住户 {s.get('households')}, "
              f"道路 {s.get('roads_km')} 公里")


def cmd_export(args: argparse.Namespace) -> int:
    from api.export import export_layer

    try:
        n = export_layer(args.db, args.layer, args.out)
    except (ValueError, FileNotFoundError) as exc:
        _print_problem(exc, False)
        return EXIT_INPUT
    if not args.quiet:
        print(f"已导出 {n} 条记录到 {args.out}")
    return EXIT_OK


def cmd_zone(args: argparse.Namespace) -> int:
    from api.parallel import executor_from_env
    from api.zoning import ZoneRequest, run_zoning, zone_steps

    try:
        executor, address = executor_from_env(args.executor, args.scheduler)
        req = ZoneRequest(villages=args.village, groups=args.groups, roster=args.roster,
                          tolerance=args.tolerance, locks=args.lock or (), seconds=args.seconds,
                          seed=args.seed, service_min=args.service_min, fresh=args.fresh,
                          tradeoff=args.tradeoff)
    except ValueError as exc:
        _print_problem(exc, args.json)
        return EXIT_INPUT
    n_steps = zone_steps(args.db, req) if not (args.quiet or args.json) else 1
    report = _run_job(args, n_steps,
                      lambda steps: run_zoning(args.db, req, progress=steps, out=args.out,
                                               maps_dir=args.maps, lang=args.lang, workers=args.workers,
                                               executor=executor, address=address),
                      _print_zoning_summary)
    if report is None:
        return EXIT_INPUT
    ok = all(v["status"] in ("optimal", "feasible") for v in report["villages"])
    return EXIT_OK if ok else EXIT_FAIL


def _print_zoning_summary(report: dict) -> None:
    for v in report["villages"]:
        head = f"{v['name']} ({v['village']})"
        if v["status"] not in ("optimal", "feasible"):
            print(f"{head}: 未能分片 — {'; '.join(v['reasons'])}")
            continue
        splits = "; ".join(f"{s['area']} 拆给 {len(s['zones'])} 组 ({'规模所迫' if s['forced'] else '为均衡'})"
                           for s in v["splits"]) or "无"
        print(f"{head}: {len(v['zones'])} 组, 工作量最大/最小 {v['balance']:.3f} "
              f"(最大偏差 {v['max_deviation']:.1%}), {'各片连通' if v['contiguous'] else '有片不连通'}, "
              f"拆分: {splits}; 第 {v['version']} 版" + (f", 调整 {v['moved']} 户" if v["moved"] else ""))
        for z in v["zones"]:
            print(f"    {z['group']}: {len(z['households'])} 户, {z['workload_min'] / 60:.1f} 小时, "
                  f"片区 {', '.join(z['areas'])}")
        for note in v["notes"] + v["reasons"]:
            print(f"    提示: {note}")
        if v["tradeoff"]:
            print("    平衡要求 vs 拆分: " + "; ".join(
                f"±{t['tolerance']:.0%}: 多拆 {t['excess_pieces']} 处, 最大偏差 "
                f"{(t['max_deviation'] or 0):.1%}" for t in v["tradeoff"]))


def cmd_plan(args: argparse.Namespace) -> int:
    from api.plan import PlanRequest, run_plan

    try:
        req = PlanRequest(month=args.month, villages=args.village, stationing_day=args.stationing_day,
                          evenings_per_week=args.evenings_per_week, service_min=args.service_min,
                          seconds=args.seconds, seed=args.seed, engine=args.engine, holidays=args.holidays,
                          iterations=args.iterations, start=args.start, end=args.end, outposts=args.outposts,
                          workers=args.workers,
                          executor=args.executor, address=args.scheduler)
    except ValueError as exc:
        _print_problem(exc, args.json)
        return EXIT_INPUT
    from api.plan import plan_steps

    n_steps = plan_steps(args.db, req, out=args.out) if not (args.quiet or args.json) else 1
    report = _run_job(args, n_steps, lambda steps: run_plan(args.db, req, progress=steps, out=args.out),
                      _print_plan_summary)
    if report is not None and not (args.quiet or args.json):
        for note in report.get("notes", []):
            print(f"  提示: {note}")
    if report is None:
        return EXIT_INPUT
    return EXIT_FAIL if report.get("failed") else EXIT_OK


def _print_plan_summary(r: dict) -> None:
    print(f"{r['month']} 走访计划:")
    for g in r["groups"]:
        used = [s for s in g["sessions"] if s["stops"]]
        walk = sum(s["walk_m"] for s in g["sessions"]) / 1000
        print(f"  {g['group']} ({'、'.join(g['members']) or '成员待定'}): 应访 {g['due']} 户, 已排 {g['planned']} 户, "
              f"{len(used)}/{len(g['sessions'])} 个时段, 步行约 {walk:.1f} 公里, "
              f"预计年底覆盖 {r['projected_year_end_coverage'].get(g['zone'], 0):.0%}")
    if r["unplanned"]:
        from collections import Counter

        counts = Counter(u["reason_text"] for u in r["unplanned"])
        print("  未排入本月: " + ", ".join(f"{k} {v} 户" for k, v in counts.items()))
    for f in r.get("failed", []):
        print(f"  {f['village']}: 计算出错, 本月未排 (其他村的计划已保存) — {f['error']}")


def cmd_map(args: argparse.Namespace) -> int:
    from api.maps import MapRequest, run_map

    try:
        req = MapRequest(kind=args.kind, out=args.out, village=args.village, group=args.group, month=args.month,
                         date=args.date, tiles=args.tiles, lang=args.lang, tianditu_key=args.tianditu_key)
        report = run_map(args.db, req)
    except (InputError, ValueError, FileNotFoundError) as exc:
        _print_problem(exc, False)
        return EXIT_INPUT
    if not args.quiet:
        print(f"已写出地图 {report['out']} ({report['bytes'] / 1e6:.1f} MB), 可离线打开")
    return EXIT_OK


def cmd_sheets(args: argparse.Namespace) -> int:
    from api.sheets import SheetsRequest, run_sheets

    try:
        req = SheetsRequest(month=args.month, villages=args.village, group=args.group, lang=args.lang,
                            show_phones=args.show_phones, cards=args.cards)
    except ValueError as exc:
        _print_problem(exc, args.json)
        return EXIT_INPUT
    n_steps = 2 if args.group else (3 * len(args.village) if args.village else 30)
    report = _run_job(args, n_steps, lambda steps: run_sheets(args.db, req, args.out, progress=steps),
                      _print_sheets_summary)
    return EXIT_INPUT if report is None else EXIT_OK


def _print_sheets_summary(r: dict) -> None:
    kinds = {"route_sheets": "路线单", "zone_map": "分片地图 (A3)", "cards": "联系卡"}
    pages = sum(f["pages"] for f in r["files"])
    size = sum(f["bytes"] for f in r["files"]) / 1e6
    print(f"{r['month']} 打印文件: {len(r['files'])} 个 PDF, 共 {pages} 页, {size:.1f} MB, 用时 {r['seconds']:.1f} 秒, "
          f"在 {r['out']}")
    for f in r["files"]:
        print(f"  {kinds.get(f['kind'], f['kind'])}: {Path(f['path']).name} ({f['pages']} 页)")


def _service_settings(args: argparse.Namespace):
    """The service settings (environment / .env) with the DB argument; None after printing why not."""
    from pydantic import ValidationError

    from api.service.settings import Settings

    try:
        return Settings(db=args.db)
    except ValidationError as exc:
        for e in exc.errors():
            print(f"错误: {e['msg'].removeprefix('Value error, ')}", file=sys.stderr)
        return None


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from api.service import create_app

    settings = _service_settings(args)
    if settings is None:
        return EXIT_INPUT
    if not args.quiet:
        print(f"驻点服务: http://{args.host}:{args.port}/api/v1/docs (数据库 {settings.store})", file=sys.stderr)
    uvicorn.run(create_app(settings), host=args.host, port=args.port, log_level="info" if args.verbose else "warning",
                timeout_graceful_shutdown=5)
    return EXIT_OK


def cmd_token_create(args: argparse.Namespace) -> int:
    from api import store
    from api.service.security import create_token

    settings = _service_settings(args)
    if settings is None:
        return EXIT_INPUT
    try:
        engine = store.open_store(settings.store, create=False)
    except (FileNotFoundError, ValueError) as exc:
        _print_problem(exc, False)
        return EXIT_INPUT
    try:
        token, info = create_token(engine, settings.secret.get_secret_value(), role=args.role,
                                   name=args.name, town=args.town, group=args.group)
    except ValueError as exc:
        _print_problem(exc, False)
        return EXIT_INPUT
    finally:
        engine.dispose()
    if args.json:
        print(json.dumps({"token": token, **info}, ensure_ascii=False))
    else:
        scope = info["group"] or info["town"] or "全市"
        print(token)
        if not args.quiet:
            print(f"令牌 {info['id']}: {info['name']}, {info['role']}, 范围 {scope}。令牌只显示这一次, 请妥善保存。",
                  file=sys.stderr)
    return EXIT_OK


def cmd_visits_import(args: argparse.Namespace) -> int:
    from api.visits import run_visits_import

    report = _run_job(args, 2, lambda steps: run_visits_import(args.db, args.file, progress=steps),
                      _print_visits_summary)
    return EXIT_INPUT if report is None else EXIT_OK


def _print_visits_summary(r: dict) -> None:
    from api.visits import OUTCOME_ZH

    outcomes = ", ".join(f"{OUTCOME_ZH.get(k, k)} {v}" for k, v in sorted(r["outcomes"].items())) or "无"
    print(f"已导入 {r['file']}: {r['rows']} 行, 新增走访 {r['created']} 条 ({outcomes}), "
          f"已存在 (重复导入) {r['existing']} 条, 文件内重复 {r['repeated']} 行, 新增问题 {r['problems']} 个, "
          f"已搬走 {r['moved']} 户 (自走访之日起不计入走访率)")


def _problem_filters(args: argparse.Namespace) -> dict:
    import datetime as dt

    as_of = dt.date.fromisoformat(args.as_of) if getattr(args, "as_of", None) else None
    return {"status": args.status or None, "village_id": args.village, "town": args.town,
            "overdue": bool(getattr(args, "overdue", False)), "as_of": as_of}


def cmd_problems(args: argparse.Namespace) -> int:
    import datetime as dt

    from api import visits

    try:
        if args.problems_command == "list":
            records = visits.problem_list(args.db, **_problem_filters(args))
            if args.json:
                print(json.dumps([r.as_dict() for r in records], ensure_ascii=False, indent=1))
            elif not args.quiet:
                for r in records:
                    late = f" 逾期 {r.overdue_days} 天" if r.overdue_days else ""
                    print(f"#{r.id} [{visits.STATUS_ZH.get(r.status, r.status)}{late}] {r.village or ''} {r.household_id} "
                          f"{r.category or ''} · {r.text} · {r.department or '未定部门'} · 期限 {r.deadline or '—'}"
                          + (f" · {r.resolution_note}" if r.resolution_note else ""))
                print(f"共 {len(records)} 个问题")
        elif args.problems_command == "update":
            from api import store
            from api.store.visits import update_problem

            engine = store.open_store(args.db, create=False)
            try:
                r = update_problem(engine, args.id, status=args.status, note=args.note,
                                   on=dt.date.fromisoformat(args.date) if args.date else None,
                                   department=args.department,
                                   deadline=dt.date.fromisoformat(args.deadline) if args.deadline else None)
            finally:
                engine.dispose()
            if args.json:
                print(json.dumps(r.as_dict(), ensure_ascii=False))
            elif not args.quiet:
                extra = " (下月计划将安排回访, 告知群众办理结果)" if r.status in ("resolved", "cannot_resolve") else ""
                print(f"问题 #{r.id}: {visits.STATUS_ZH.get(r.status, r.status)}{extra}")
        elif args.problems_command == "export":
            records = visits.problem_list(args.db, **_problem_filters(args))
            path = visits.export_problems(records, args.out)
            if not args.quiet:
                print(f"已导出 {len(records)} 个问题到 {path}")
        else:  # categories
            cats = visits.run_categories(args.db, args.load)
            for c in cats:
                print(f"{c.name}\t{c.department or ''}\t{c.days} 天")
    except (InputError, ValueError, FileNotFoundError) as exc:
        _print_problem(exc, getattr(args, "json", False))
        return EXIT_INPUT
    return EXIT_OK


def cmd_report(args: argparse.Namespace) -> int:
    from api.report import ReportRequest, run_report

    try:
        req = ReportRequest(out=args.out, month=args.month, quarter=args.quarter, town=args.town)
    except ValueError as exc:
        _print_problem(exc, args.json)
        return EXIT_INPUT
    report = _run_job(args, 5, lambda steps: run_report(args.db, req, progress=steps), _print_report_summary)
    return EXIT_INPUT if report is None else EXIT_OK


def _print_report_summary(r: dict) -> None:
    t = r["total"]

    def pct(v):
        return "—" if v is None else f"{v:.1%}"

    print(f"{r['period']}通报 ({r['format'].upper()}, {r['bytes'] / 1e6:.2f} MB, {r['seconds']} 秒): {r['out']}")
    print(f"  住户 {t['households']}, 今年已走访 {t['visited']} ({pct(t['visit_rate'])}), 问题 {t['problems']} "
          f"(办结率 {pct(t['resolution_rate'])}, 逾期 {t['overdue']}), 预计年底覆盖 {pct(t['projected'])}")


def cmd_spotcheck(args: argparse.Namespace) -> int:
    from api import spotcheck

    if args.action == "record":
        if not args.file:
            _print_problem(ValueError("用法: zhudian spotcheck DB record 填好的表格.csv"), args.json)
            return EXIT_INPUT
        report = _run_job(args, 1, lambda steps: spotcheck.run_record(args.db, args.file), _print_record_summary)
        return EXIT_INPUT if report is None else EXIT_OK
    if args.action is not None or not args.date:
        _print_problem(ValueError("用法: zhudian spotcheck DB --date YYYY-MM-DD [--seed S] 或 zhudian spotcheck DB record FILE"),
                       args.json)
        return EXIT_INPUT
    try:
        req = spotcheck.SpotCheckRequest(date=args.date, villages=args.villages, households=args.households,
                                         seed=args.seed, weeks=args.weeks, town=args.town)
    except ValueError as exc:
        _print_problem(exc, args.json)
        return EXIT_INPUT
    if not args.json and not args.quiet and args.seed is None:
        print(f"随机种子 (复现此次抽样用 --seed): {req.seed}", file=sys.stderr)
    report = _run_job(args, 3, lambda steps: spotcheck.run_spotcheck(args.db, req, out=args.out, progress=steps),
                      _print_spotcheck_summary)
    return EXIT_INPUT if report is None else EXIT_OK


def _print_spotcheck_summary(r: dict) -> None:
    n = sum(len(v["households"]) for v in r["villages"])
    print(f"暗访抽查 #{r['check_id']} ({r['date']}, 种子 {r['seed']}): 从 {r['eligible']} 户中抽取 {n} 户")
    for v in r["villages"]:
        print(f"  {v['name']} ({v['village_id']}): {len(v['households'])} 户, 步行约 {v['walk_m'] / 1000:.1f} 公里: "
              + " → ".join(v["households"]))
    for f in r["files"]:
        print(f"  {f}")


def _print_record_summary(r: dict) -> None:
    from api.report import LQAS_ZH

    print(f"已记录 {r['rows']} 户: 确认走访 {r['confirmed']}, 未确认 {r['not_confirmed']}, 无人 {r['not_found']}")
    for g in r["groups"]:
        print(f"  {g['group']}: 核实 {g['confirmed']}/{g['checked']} ({g['verification_rate']:.0%})")
    for z in r["zones"]:
        print(f"  片区 {z['zone']}: {z['confirmed']}/{z['checked']} → {LQAS_ZH.get(z['lqas'], z['lqas'])}")


def cmd_demo(args: argparse.Namespace) -> int:
    from api.demo import run_demo

    steps = _Steps(69, args.quiet)
    try:
        summary = run_demo(Path(args.out), progress=steps)
    finally:
        steps.close()
    if not args.quiet:
        print(summary.text)
    return EXIT_OK


def _parallel_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--workers", type=int, metavar="N",
                        help="并行处理行政村的进程数 (默认: 可用的 CPU 核数; 1: 不并行)")
    parser.add_argument("--executor", choices=["local", "dask"],
                        help="并行方式: local 本机多进程 (默认), dask 分布式集群 (也可设环境变量 ZHUDIAN_EXECUTOR)")
    parser.add_argument("--scheduler", metavar="tcp://主机:8786",
                        help="dask 集群调度器地址 (默认 ZHUDIAN_DASK_SCHEDULER; 不设则在本机启动 --workers 个进程)")


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--quiet", "-q", action="store_true", help="不显示进度和摘要 (供脚本使用)")
    common.add_argument("--verbose", "-v", action="store_true", help="显示调试日志")
    p = argparse.ArgumentParser(prog="zhudian", description="驻点普遍直接联系群众: 分片、走访计划与路线")
    sub = p.add_subparsers(dest="command", required=True)

    imp = sub.add_parser("import", parents=[common], help="导入片区、行政村、住户、道路数据到数据库")
    imp.add_argument("db", help="数据库文件 (SQLite), 不存在时新建")
    imp.add_argument("--areas", help="自然村/小区多边形 (GeoJSON, GeoPackage, Shapefile 或其 zip)")
    imp.add_argument("--villages", help="行政村/社区边界多边形")
    imp.add_argument("--households", help="住户点, 或带经纬度列的 CSV/XLSX")
    imp.add_argument("--roads", help="步行道路线")
    imp.add_argument("--osm", metavar="文件",
                     help="OpenStreetMap 数据 (.osm.pbf/.osm/.osm.gz): 由建筑、地名、居住区和道路生成住户、片区和道路")
    imp.add_argument("--bbox", metavar="西,南,东,北", help="只用 OSM 数据的这一范围 (WGS 84 经纬度)")
    imp.add_argument("--crs", help="文件本身没有坐标系时使用: wgs84, cgcs2000, gcj02, bd09 或 EPSG:xxxx")
    imp.add_argument("--encoding", help="文件没有声明编码时使用, 如 GB18030 或 UTF-8")
    imp.add_argument("--column", action="append", metavar="字段=列名",
                     help="指定列名, 如 --column lon=X坐标 (可重复)")
    imp.add_argument("--generate-ids", action="store_true", help="住户文件没有户编号时按行号编号")
    imp.add_argument("--attach-distance", type=float, default=100.0, metavar="米",
                     help="片区外的住户归入此距离内最近的片区 (默认 100 米)")
    imp.add_argument("--replace", action="store_true", help="删除数据库中这些图层里文件没有的记录")
    imp.add_argument("--dry-run", action="store_true", help="只检查, 不写入")
    imp.add_argument("--json", action="store_true", help="输出 JSON 报告")
    imp.set_defaults(func=cmd_import)

    exp = sub.add_parser("export", parents=[common], help="导出图层为 GeoJSON、GeoPackage 或 CSV (WGS 84)")
    exp.add_argument("db")
    exp.add_argument("layer", choices=["areas", "households", "villages", "roads"])
    exp.add_argument("--out", required=True, help="输出文件: .geojson, .gpkg 或 .csv")
    exp.set_defaults(func=cmd_export)

    zone = sub.add_parser("zone", parents=[common], help="为每个行政村的“2+1”小组划分走访片区")
    zone.add_argument("db")
    zone.add_argument("--village", action="append", metavar="ID", help="只处理这个行政村 (可重复)")
    who = zone.add_mutually_exclusive_group()
    who.add_argument("--groups", type=int, metavar="N", help="每个村的小组数 (没有花名册时)")
    who.add_argument("--roster", metavar="文件", help="花名册 CSV/XLSX: 按“2+1”自动编组")
    zone.add_argument("--tolerance", type=float, default=0.05, help="工作量允许偏离平均值的比例 (默认 0.05 即 ±5%%)")
    zone.add_argument("--lock", action="append", metavar="片区=小组",
                      help="把片区 (或住户) 固定给某组, 如 --lock V003=2 (可重复)")
    zone.add_argument("--seconds", type=float, default=5.0, help="每个村的求解时间上限 (秒, 默认 5)")
    zone.add_argument("--seed", type=int, default=0, help="随机种子 (相同种子得到相同结果)")
    zone.add_argument("--service-min", type=float, default=10.0, help="每户走访分钟数 (默认 10)")
    zone.add_argument("--fresh", action="store_true", help="不参考上一版分片, 重新划分")
    zone.add_argument("--tradeoff", action="store_true", help="同时给出 ±2/5/10/15%% 下需要的拆分数")
    zone.add_argument("--out", metavar="zones.geojson", help="写出片区边界 (GeoJSON)")
    zone.add_argument("--maps", metavar="目录", help="每个村写一张分片地图 (HTML)")
    zone.add_argument("--lang", choices=["zh", "en"], default="zh")
    _parallel_options(zone)
    zone.add_argument("--json", action="store_true", help="输出 JSON")
    zone.set_defaults(func=cmd_zone)

    plan = sub.add_parser("plan", parents=[common], help="生成每月走访计划和步行路线")
    plan.add_argument("db")
    plan.add_argument("--month", required=True, metavar="YYYY-MM")
    plan.add_argument("--village", action="append", metavar="ID", help="只处理这个行政村 (可重复)")
    plan.add_argument("--stationing-day", default="tue", help="驻点日, 如 tue 或 周二 (默认周二)")
    plan.add_argument("--evenings-per-week", type=int, default=3, help="每周夜访晚数 (默认 3)")
    plan.add_argument("--service-min", type=int, default=10, help="每户走访分钟数 (默认 10)")
    plan.add_argument("--seconds", type=float, default=5.0,
                      help="每个小组的求解量, 以秒计 (默认 5; 按每秒 1500 次迭代折算, 同样的数据和 --seed "
                           "在任何机器上得到同样的计划; 机器很忙时最多用 4 倍时间加 10 秒)")
    plan.add_argument("--seed", type=int, default=0)
    plan.add_argument("--engine", choices=["pyvrp", "ortools"], default="pyvrp", help="路线求解引擎 (默认 pyvrp)")
    plan.add_argument("--holidays", metavar="CSV", help="节假日文件 (date,type; 休/班), 用于节假日数据未覆盖的年份")
    plan.add_argument("--start", choices=["depot", "auxiliary"], default="depot",
                      help="每个时段的出发点: depot 村委会 (默认), auxiliary 辅助成员家 (花名册的居住片区)")
    plan.add_argument("--end", choices=["start", "depot"], default="start",
                      help="每个时段的结束点: start 回到出发点 (默认), depot 村委会")
    plan.add_argument("--no-outposts", dest="outposts", action="store_false",
                      help="不设外点: 默认当小组有 5 户以上在一个时段内从出发点走不到时 (如山上的自然村), "
                           "部分时段改从这些户当中的一处出发 (需乘车前往)")
    _parallel_options(plan)
    plan.add_argument("--iterations", type=int, metavar="N",
                      help="每个小组每个阶段的迭代次数, 代替由 --seconds 折算的次数 (此时 --seconds 为时间上限)")
    plan.add_argument("--out", metavar="目录", help="写出路线 GeoJSON 和每组的 GPX")
    plan.add_argument("--json", action="store_true", help="输出 JSON")
    plan.set_defaults(func=cmd_plan)

    mp = sub.add_parser("map", parents=[common], help="绘制可离线打开的地图 (HTML): 分片、路线、走访覆盖")
    mp.add_argument("db")
    mp.add_argument("kind", choices=["zones", "routes", "coverage"],
                    help="zones 分片地图, routes 小组走访路线图, coverage 走访覆盖 (缺口) 图")
    mp.add_argument("--out", required=True, metavar="FILE.html", help="输出的 HTML 文件")
    mp.add_argument("--village", metavar="ID", help="只画这个行政村 (默认全镇; 路线图默认为小组所在村)")
    mp.add_argument("--group", metavar="ID", help="小组编号, 如 990101001001-G1 (路线图必填)")
    mp.add_argument("--month", metavar="YYYY-MM", help="走访计划的月份 (路线图必填); 覆盖图的统计月份 (默认本月)")
    mp.add_argument("--date", metavar="YYYY-MM-DD", help="路线图只画这一天的时段")
    mp.add_argument("--tiles", choices=["none", "osm", "tianditu", "gaode"], default="none",
                    help="底图 (默认 none: 无底图, 完全离线; gaode 时矢量图层自动转为 GCJ-02)")
    mp.add_argument("--tianditu-key", metavar="TK", help="天地图密钥 (也可用环境变量 ZHUDIAN_TIANDITU_KEY)")
    mp.add_argument("--lang", choices=["zh", "en"], default="zh")
    mp.set_defaults(func=cmd_map)

    sh = sub.add_parser("sheets", parents=[common], help="打印文件 (PDF): 每组的月度路线单、各村 A3 分片地图、联系卡")
    sh.add_argument("db")
    sh.add_argument("--month", required=True, metavar="YYYY-MM", help="走访计划的月份 (先运行 zhudian plan)")
    sh.add_argument("--out", required=True, metavar="目录", help="输出目录 (不存在时新建)")
    sh.add_argument("--village", action="append", metavar="ID", help="只处理这个行政村 (可重复)")
    sh.add_argument("--group", metavar="ID", help="只处理这个小组, 如 990101001009-G1")
    sh.add_argument("--lang", choices=["zh", "en"], default="zh")
    sh.add_argument("--show-phones", action="store_true", help="住户电话完整打印 (默认隐去中间四位)")
    sh.add_argument("--cards", action="store_true", help="同时为本月走访的住户打印驻点联系卡")
    sh.add_argument("--json", action="store_true", help="输出 JSON 报告")
    sh.set_defaults(func=cmd_sheets)

    srv = sub.add_parser("serve", parents=[common], help="启动 HTTP 服务 (API 在 /api/v1, 文档在 /api/v1/docs)")
    srv.add_argument("db", help="数据库文件 (SQLite), 不存在时新建; 设置 ZHUDIAN_DATABASE_URL 时用它")
    srv.add_argument("--host", default="127.0.0.1", help="监听地址 (默认 127.0.0.1, 只限本机)")
    srv.add_argument("--port", type=int, default=8000, help="端口 (默认 8000)")
    srv.set_defaults(func=cmd_serve)

    tok = sub.add_parser("token", help="管理 HTTP 服务的访问令牌")
    tok_sub = tok.add_subparsers(dest="token_command", required=True)
    tc = tok_sub.add_parser("create", parents=[common], help="生成访问令牌 (只显示一次; 数据库只存其哈希)")
    tc.add_argument("db", help="数据库文件 (与 zhudian serve 相同, 且 ZHUDIAN_SECRET 相同)")
    tc.add_argument("--role", required=True, choices=["city_admin", "town_admin", "group_member", "inspector"],
                    help="city_admin 市级管理员, town_admin 镇级管理员 (需 --town), "
                         "group_member 小组成员 (需 --group), inspector 督查 (只读)")
    tc.add_argument("--town", metavar="镇名", help="镇级管理员的镇 (镇名或编号)")
    tc.add_argument("--group", metavar="ID", help="小组成员的小组编号, 如 990101001009-G1")
    tc.add_argument("--name", default="未命名", help="持有人 (写入审计日志)")
    tc.add_argument("--json", action="store_true", help="输出 JSON")
    tc.set_defaults(func=cmd_token_create)

    vis = sub.add_parser("visits", help="走访记录: 导入路线单上登记的走访结果")
    vis_sub = vis.add_subparsers(dest="visits_command", required=True)
    vi = vis_sub.add_parser("import", parents=[common], help="导入走访结果 (CSV/XLSX; 重复导入不会重复记录)")
    vi.add_argument("db")
    vi.add_argument("file", help="CSV 或 XLSX: 户编号, 日期, 小组, 结果 (已见面/不在家/拒访/已搬走), 备注, 问题 [, 问题类别, 责任部门, 办结期限]")
    vi.add_argument("--json", action="store_true", help="输出 JSON 报告")
    vi.set_defaults(func=cmd_visits_import)

    prob = sub.add_parser("problems", help="问题台账: 列出、更新状态、导出、类别表")
    prob.add_argument("db")
    prob_sub = prob.add_subparsers(dest="problems_command", required=True)
    for name, helptext in (("list", "列出问题"), ("export", "导出问题台账 (.xlsx 或 .csv)")):
        pl = prob_sub.add_parser(name, parents=[common], help=helptext)
        pl.add_argument("--overdue", action="store_true", help="只列逾期未办结的问题")
        pl.add_argument("--village", metavar="ID", help="只列这个行政村")
        pl.add_argument("--town", metavar="镇名", help="只列这个镇 (镇名或编号前缀)")
        pl.add_argument("--status", action="append", choices=["open", "in_progress", "resolved", "cannot_resolve"],
                        help="只列这些状态 (可重复)")
        pl.add_argument("--as-of", metavar="YYYY-MM-DD", help="按这一天计算逾期 (默认今天)")
        pl.add_argument("--json", action="store_true", help="输出 JSON")
        if name == "export":
            pl.add_argument("--out", required=True, metavar="FILE.xlsx|.csv")
    pu = prob_sub.add_parser("update", parents=[common], help="更新问题状态 (办结后下月计划自动安排回访)")
    pu.add_argument("id", type=int, help="问题编号 (见 list)")
    pu.add_argument("--status", choices=["open", "in_progress", "resolved", "cannot_resolve"],
                    help="open 待办, in_progress 办理中, resolved 已解决, cannot_resolve 无法解决 (须 --note 说明原因)")
    pu.add_argument("--note", help="办理情况或无法解决的原因")
    pu.add_argument("--date", metavar="YYYY-MM-DD", help="办结日期 (默认今天)")
    pu.add_argument("--department", help="责任部门")
    pu.add_argument("--deadline", metavar="YYYY-MM-DD", help="办结期限")
    pu.add_argument("--json", action="store_true", help="输出 JSON")
    pc = prob_sub.add_parser("categories", parents=[common], help="查看或替换问题类别表")
    pc.add_argument("--load", metavar="FILE", help="用此表格替换类别表 (列: 类别, 责任部门, 办理天数)")
    prob.set_defaults(func=cmd_problems)

    rep = sub.add_parser("report", parents=[common], help="月度/季度通报: 走访率、问题办结、排名、趋势、覆盖图 (HTML/PDF/XLSX)")
    rep.add_argument("db")
    rp = rep.add_mutually_exclusive_group(required=True)
    rp.add_argument("--month", metavar="YYYY-MM", help="月度通报")
    rp.add_argument("--quarter", metavar="YYYYQn", help="季度通报, 如 2026Q4")
    rep.add_argument("--town", metavar="镇名", help="只统计这个镇 (镇名或编号前缀; 默认全部)")
    rep.add_argument("--out", required=True, metavar="FILE.html|.pdf|.xlsx")
    rep.add_argument("--json", action="store_true", help="输出 JSON 摘要")
    rep.set_defaults(func=cmd_report)

    sc = sub.add_parser("spotcheck", parents=[common], help="暗访抽查: 抽样、督查路线和清单; record 记录核实结果")
    sc.add_argument("db")
    sc.add_argument("action", nargs="?", choices=["record"], help="record: 记录填好的核实表")
    sc.add_argument("file", nargs="?", help="填好的核实表 (CSV/XLSX, record 时)")
    sc.add_argument("--date", metavar="YYYY-MM-DD", help="暗访日期 (抽查此前几周报告已走访的住户)")
    sc.add_argument("--villages", type=int, default=3, metavar="N", help="抽查行政村数 (默认 3)")
    sc.add_argument("--households", type=int, default=20, metavar="M", help="每村抽查户数 (默认 20)")
    sc.add_argument("--weeks", type=int, default=4, help="抽查此前几周的走访 (默认 4)")
    sc.add_argument("--seed", type=int, help="随机种子 (默认随机产生并打印; 同一种子复现同一抽样)")
    sc.add_argument("--town", metavar="镇名", help="只抽这个镇")
    sc.add_argument("--out", metavar="目录", help="写出抽查清单 PDF 和核实表 CSV")
    sc.add_argument("--json", action="store_true", help="输出 JSON")
    sc.set_defaults(func=cmd_spotcheck)

    demo = sub.add_parser("demo", parents=[common], help="用自带示范数据跑一遍完整流程")
    demo.add_argument("--out", default="out/demo", help="输出目录 (默认 out/demo)")
    demo.set_defaults(func=cmd_demo)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``zhudian`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print("已中断", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
