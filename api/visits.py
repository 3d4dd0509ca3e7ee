"""Visit records from the field and the problem ledger: ``zhudian visits import`` and ``zhudian problems``.

:func:`read_visit_file` reads the outcomes typed in from the printed route sheets (CSV or XLSX,
Chinese or English headers) into :class:`~api.store.visits.VisitIn` records, collecting every
bad row; :func:`run_visits_import` stores them with :func:`api.store.visits.record_visits` in
one transaction (nothing is written when any row is bad).  Each row gets a stable record id
(:func:`row_client_id`, a hash of household, date, group and outcome), so importing the same file
again, or a longer version of it, adds only the new rows.

Columns (header names, any order; Chinese or English):

==========  ===========================================  ========
field       headers                                      required
==========  ===========================================  ========
household   户编号, 户号, household, household_id         yes
date        日期, 走访日期, date                            yes
outcome     结果, 走访结果, outcome                          yes: 已见面/不在家/拒访/已搬走 or met/not_home/refused/moved
group       小组, 小组编号, group, group_id                 no
note        备注, note                                      no
problem     问题, 反映问题, problem                          no: one problem per row
category    问题类别, 类别, category                         no: default 其他
department  责任部门, department                            no: default from the category list
deadline    办结期限, 期限, deadline                          no: default visit date + the category's days
client_id   记录编号, client_id                              no: default :func:`row_client_id`
==========  ===========================================  ========
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import logging
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from api import store
from api.store.visits import (
    Category,
    ProblemIn,
    ProblemRecord,
    VisitIn,
    list_problems,
    load_categories,
    record_visits,
    save_categories,
)
from geo.atomic import write_atomic
from geo.errors import InputError, Problem

logger = logging.getLogger(__name__)

HEADERS: dict[str, tuple[str, ...]] = {
    "household": ("户编号", "户号", "住户编号", "household", "household_id"),
    "date": ("日期", "走访日期", "date"),
    "outcome": ("结果", "走访结果", "outcome"),
    "group": ("小组", "小组编号", "group", "group_id"),
    "note": ("备注", "note", "notes"),
    "problem": ("问题", "反映问题", "problem"),
    "category": ("问题类别", "类别", "category"),
    "department": ("责任部门", "department"),
    "deadline": ("办结期限", "期限", "deadline"),
    "client_id": ("记录编号", "client_id"),
}
REQUIRED = ("household", "date", "outcome")
OUTCOMES: dict[str, str] = {
    "met": "met", "已见面": "met", "见面": "met", "见到": "met", "已走访": "met", "已访": "met",
    "not_home": "not_home", "not home": "not_home", "不在家": "not_home", "未见到": "not_home", "未遇": "not_home",
    "refused": "refused", "拒访": "refused", "拒绝": "refused",
    "moved": "moved", "已搬走": "moved", "搬走": "moved", "已搬迁": "moved", "搬迁": "moved", "已搬离": "moved",
}
OUTCOME_ZH = {"met": "已见面", "not_home": "不在家", "refused": "拒访", "moved": "已搬走"}
STATUS_ZH = {"open": "待办", "in_progress": "办理中", "resolved": "已解决", "cannot_resolve": "无法解决"}


def row_client_id(household: str, date: dt.date, group: str | None, outcome: str) -> str:
    """The stable record id of a file row: the same row always gets the same id, in any file."""
    key = "|".join((household, date.isoformat(), group or "", outcome))
    return "row-" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:24]


def parse_date(value: Any) -> dt.date | None:
    """A date from a cell: ``2026-10-06``, ``2026/10/6``, ``2026年10月6日``, an Excel date; None if empty.

    Raises
    ------
    ValueError
        For text that is not a date.
    """
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    text = str(value).strip()
    if not text or text.lower() == "nan":
        return None
    m = re.fullmatch(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?(?:[ T]00:00(?::00)?)?", text)
    if m is None:
        raise ValueError(text)
    return dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))


def _read_table(path: Path) -> tuple[list[str], list[list[Any]]]:
    """Header and rows of a CSV (UTF-8 with or without BOM, else GB18030) or the first sheet of an XLSX."""
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        from openpyxl import load_workbook

        wb = load_workbook(path, read_only=True, data_only=True)
        try:
            rows = [list(r) for r in wb.worksheets[0].iter_rows(values_only=True)]
        finally:
            wb.close()
    elif suffix in (".csv", ".txt"):
        raw = path.read_bytes()
        for enc in ("utf-8-sig", "gb18030"):
            try:
                text = raw.decode(enc)
                break
            except UnicodeDecodeError:
                continue
        else:  # pragma: no cover - gb18030 decodes nearly anything
            raise InputError([Problem(path.name, "", "无法识别文件编码", "另存为 UTF-8 编码的 CSV")])
        rows = [list(r) for r in csv.reader(io.StringIO(text))]
    else:
        raise InputError([Problem(path.name, "", f"不支持的文件类型 {suffix or '(无扩展名)'}",
                                  "用 .csv 或 .xlsx 文件")])
    if not rows:
        raise InputError([Problem(path.name, "", "文件是空的", "第一行写表头 (户编号, 日期, 结果, ...)")])
    return [str(h or "").strip() for h in rows[0]], rows[1:]


def read_visit_file(path: str | Path) -> tuple[list[VisitIn], list[Problem]]:
    """The visit records of a file and the problems of its rows (row numbers as in a spreadsheet:
    the header is row 1).

    Raises
    ------
    InputError
        When the file cannot be read at all (type, encoding, missing required columns).
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"找不到文件 {path}。处理办法: 检查路径")
    header, rows = _read_table(path)
    lookup = {h.lower(): i for i, h in enumerate(header)}
    col: dict[str, int] = {}
    for key, names in HEADERS.items():
        for n in names:
            if n.lower() in lookup:
                col[key] = lookup[n.lower()]
                break
    missing = [k for k in REQUIRED if k not in col]
    if missing:
        want = "; ".join(f"{k}: {' 或 '.join(HEADERS[k][:2] + HEADERS[k][-1:])}" for k in missing)
        raise InputError([Problem(path.name, "第 1 行 (表头)", f"缺少必填列 ({want}); 表头是 {', '.join(header)}",
                                  "第一行写列名: 户编号, 日期, 小组, 结果, 备注, 问题")])
    out: list[VisitIn] = []
    problems: list[Problem] = []

    def cell(row: list[Any], key: str) -> Any:
        i = col.get(key)
        if i is None or i >= len(row):
            return None
        v = row[i]
        if isinstance(v, str):
            v = v.strip()
            return v or None
        return v

    for n, row in enumerate(rows, start=2):
        if not any(c not in (None, "") and str(c).strip() for c in row):
            continue
        where = f"第 {n} 行"
        hid = cell(row, "household")
        hid = None if hid is None else (str(int(hid)) if isinstance(hid, float) and hid.is_integer() else str(hid))
        raw_outcome = cell(row, "outcome")
        outcome = OUTCOMES.get(str(raw_outcome or "").strip().lower())
        ok = True
        if not hid:
            problems.append(Problem(path.name, where, "没有户编号", "填写户编号列 (与住户数据相同的编号)"))
            ok = False
        if outcome is None:
            problems.append(Problem(path.name, where, f"走访结果 {raw_outcome!r} 无法识别",
                                    "填 已见面/不在家/拒访/已搬走 (或 met/not_home/refused/moved)"))
            ok = False
        try:
            day = parse_date(cell(row, "date"))
            if day is None:
                problems.append(Problem(path.name, where, "没有走访日期", "填写日期, 如 2026-10-06"))
                ok = False
        except ValueError as exc:
            problems.append(Problem(path.name, where, f"日期 {exc} 无法识别", "日期写成 YYYY-MM-DD, 如 2026-10-06"))
            day, ok = None, False
        deadline = None
        try:
            deadline = parse_date(cell(row, "deadline"))
        except ValueError as exc:
            problems.append(Problem(path.name, where, f"办结期限 {exc} 无法识别", "写成 YYYY-MM-DD, 或留空"))
            ok = False
        text = cell(row, "problem")
        category = cell(row, "category")
        if category and not text:
            problems.append(Problem(path.name, where, f"有问题类别 {category} 但没有问题内容", "在问题列写明群众反映的问题"))
            ok = False
        if not ok:
            continue
        group = cell(row, "group")
        group = str(group) if group is not None else None
        cid = cell(row, "client_id")
        out.append(VisitIn(
            household_id=hid, date=day, outcome=outcome, group_id=group,
            note=None if cell(row, "note") is None else str(cell(row, "note")),
            problems=(ProblemIn(text=str(text), category=None if category is None else str(category),
                                department=None if cell(row, "department") is None else str(cell(row, "department")),
                                deadline=deadline),) if text else (),
            client_id=str(cid) if cid is not None else row_client_id(hid, day, group, outcome), where=where))
    return out, problems


def run_visits_import(db: str | Path, file: str | Path, *,
                      progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Import a file of visit records into the store (the job of ``zhudian visits import``).

    Returns
    -------
    dict
        ``file``, ``rows``, ``created``, ``existing`` (already stored: re-import), ``repeated``
        (rows repeating an earlier row of the file), ``problems``, ``moved``, ``outcomes``.

    Raises
    ------
    InputError
        Listing every bad row of the file (row number, what is wrong, the fix); nothing written.
    FileNotFoundError
        For a missing file or store.
    """
    step = progress or (lambda _m: None)
    step("读取走访记录")
    rows, problems = read_visit_file(file)
    engine = store.open_store(db, create=False)
    try:
        step("检查并写入")
        counts = record_visits(engine, rows, file=Path(file).name, known_problems=problems)
    finally:
        engine.dispose()
    return {"file": str(file), **counts.as_dict()}


# --------------------------------------------------------------------------------------------
# The problem ledger

LEDGER_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("id", "编号", "int"), ("town", "镇", "text"), ("village", "行政村", "text"), ("village_id", "村编号", "text"),
    ("household_id", "户编号", "text"), ("group_id", "小组", "text"), ("visit_date", "走访日期", "date"),
    ("category", "类别", "text"), ("text", "问题", "text"), ("department", "责任部门", "text"),
    ("deadline", "办结期限", "date"), ("status", "状态", "status"), ("overdue_days", "逾期天数", "int"),
    ("resolved_date", "办结日期", "date"), ("resolution_note", "办理情况/原因", "text"),
)


def ledger_rows(records: Sequence[ProblemRecord]) -> list[list[Any]]:
    """The ledger as rows of :data:`LEDGER_COLUMNS` (dates as dates, numbers as numbers)."""
    out = []
    for r in records:
        d = r.__dict__
        out.append([STATUS_ZH.get(d[k], d[k]) if kind == "status" else d[k] for k, _, kind in LEDGER_COLUMNS])
    return out


def export_problems(records: Sequence[ProblemRecord], out: str | Path) -> Path:
    """Write the ledger to ``.xlsx`` (one sheet, dates and numbers typed) or ``.csv`` (UTF-8 with BOM)."""
    out = Path(out)
    rows = ledger_rows(records)
    heads = [h for _, h, _ in LEDGER_COLUMNS]
    suffix = out.suffix.lower()
    if suffix == ".xlsx":
        from openpyxl import Workbook

        wb = Workbook()
        ws = wb.active
        ws.title = "问题台账"
        ws.append(heads)
        for r in rows:
            ws.append(r)
        for j, (_, _, kind) in enumerate(LEDGER_COLUMNS, start=1):
            if kind == "date":
                for c in ws.iter_cols(min_col=j, max_col=j, min_row=2):
                    for x in c:
                        x.number_format = "yyyy-mm-dd"
        ws.freeze_panes = "A2"
        buf = io.BytesIO()
        wb.save(buf)
        data = buf.getvalue()
    elif suffix == ".csv":
        s = io.StringIO()
        w = csv.writer(s)
        w.writerow(heads)
        for r in rows:
            w.writerow(["" if v is None else v.isoformat() if isinstance(v, dt.date) else v for v in r])
        data = s.getvalue().encode("utf-8-sig")
    else:
        raise ValueError(f"--out 应为 .xlsx 或 .csv 文件 (收到 {out.name})")
    out.parent.mkdir(parents=True, exist_ok=True)
    return write_atomic(out, data)


def read_categories(path: str | Path) -> list[Category]:
    """A category list from a CSV/XLSX with columns 类别 (category), 责任部门 (department), 办理天数 (days).

    Raises
    ------
    InputError
        Naming the bad rows.
    """
    path = Path(path)
    header, rows = _read_table(path)
    low = [h.lower() for h in header]

    def find(*names: str) -> int | None:
        return next((low.index(n) for n in names if n in low), None)

    ci, di, ki = find("类别", "category", "name"), find("责任部门", "department"), find("办理天数", "days")
    if ci is None:
        raise InputError([Problem(path.name, "第 1 行 (表头)", "缺少 类别 列", "表头写 类别, 责任部门, 办理天数")])
    out, problems = [], []
    for n, r in enumerate(rows, start=2):
        name = str(r[ci] or "").strip() if ci < len(r) else ""
        if not name:
            continue
        days = 30
        if ki is not None and ki < len(r) and str(r[ki] or "").strip():
            try:
                days = int(float(str(r[ki]).strip()))
                if days < 1:
                    raise ValueError
            except ValueError:
                problems.append(Problem(path.name, f"第 {n} 行", f"办理天数 {r[ki]!r} 不是正整数", "写天数, 如 30"))
                continue
        dep = str(r[di]).strip() if di is not None and di < len(r) and r[di] not in (None, "") else None
        out.append(Category(name, dep, days))
    if problems:
        raise InputError(problems)
    return out


def run_categories(db: str | Path, load: str | Path | None = None) -> list[Category]:
    """The store's category list, after replacing it with the file ``load`` if given."""
    engine = store.open_store(db, create=False)
    try:
        if load is not None:
            save_categories(engine, read_categories(load))
        return load_categories(engine)
    finally:
        engine.dispose()


def problem_list(db: str | Path, **filters: Any) -> list[ProblemRecord]:
    """:func:`api.store.visits.list_problems` on a store path."""
    engine = store.open_store(db, create=False)
    try:
        return list_problems(engine, **filters)
    finally:
        engine.dispose()
