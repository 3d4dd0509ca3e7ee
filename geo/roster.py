"""The roster (花名册): who is stationed in which village, in which role.

One row per person: name, role (驻点领导 leader / 团队成员 member / 辅助团队成员 auxiliary), the
village they are stationed in, and optionally an id, phone, title (职务), home area (居住片区, the
natural village or compound an auxiliary lives in) and leave dates (请假日期).  Headers may be
English or Chinese; :data:`ROSTER_FIELDS` lists the recognised ones.  As with the other readers,
every problem of the file is collected and raised once as :class:`geo.errors.InputError`, each
naming the file, the row and the fix.

Frame columns (:data:`ROSTER_COLUMNS`)
    ``member_id`` str (the file's own id, or ``M0001``... generated in row order),
    ``name`` str, ``role`` one of :data:`ROLES`, ``village_id`` str (as given: a 12-digit code
    stays a string with its leading zeros, or a village name until :func:`resolve_roster`),
    ``phone`` str or None, ``home_area`` str or None (an area id or name), ``leave`` list of
    ``(start, end)`` :class:`datetime.date` tuples (a single day has start == end), ``title`` str
    or None (职务, e.g. 镇党委书记 / 镇长; see :func:`title_kind`), ``attrs`` dict (other columns).

Leave cells: ISO-like dates ``2026-03-02`` (also ``2026/3/2``, ``2026.3.2``, ``2026年3月2日``),
ranges with ``~ ～ - — 至 到`` between start and end (the end may omit the year:
``2026-03-02~03-06``), entries separated by ``; ； , ， 、`` or line breaks.  Dates without a
year (``3月2日``) are rejected: the year cannot be guessed.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path

import pandas as pd

from geo._files import TABLE_SUFFIXES, read_table
from geo.columns import match_columns, normalise_header
from geo.errors import Collector
from geo.read import MAX_LISTED, _attrs, _clean_str, _list_some

logger = logging.getLogger(__name__)

ROLES = ("leader", "member", "auxiliary")
"""leader = 驻点领导 (town leader stationed in the village), member = 团队成员, auxiliary =
辅助团队成员 (usually a village cadre)."""

ROSTER_COLUMNS = ["member_id", "name", "role", "village_id", "phone", "home_area", "leave", "title", "attrs"]

ROSTER_FIELDS: dict[str, tuple[str, ...]] = {
    "member_id": ("member_id", "memberid", "id", "编号", "工号", "人员编号", "序号编号"),
    "name": ("name", "姓名", "名字", "人员姓名"),
    "role": ("role", "角色", "身份", "类别", "人员类别", "人员类型"),
    "village_id": ("village_id", "villageid", "village", "village_code", "村", "驻点村", "村编码",
                   "驻点村编码", "行政村", "行政村编码", "驻点村社区", "村社区", "所属村", "村编号"),
    "phone": ("phone", "tel", "telephone", "mobile", "电话", "手机", "联系电话", "手机号", "手机号码"),
    "home_area": ("home_area", "homearea", "home", "住址片区", "居住片区", "家庭所在自然村", "所在片区",
                  "居住自然村", "居住小区"),
    "leave": ("leave", "leave_dates", "leavedates", "请假", "请假日期", "假期", "请假时间"),
    "title": ("title", "position", "职务", "职位"),
}

REQUIRED = ("name", "role", "village_id")
_FIELD_LABEL = {"name": "姓名 (name)", "role": "角色 (role)", "village_id": "驻点村 (village/驻点村/村编码)"}

ROLE_VALUES: dict[str, str] = {
    "leader": "leader", "驻点领导": "leader", "领导": "leader", "镇领导": "leader", "挂点领导": "leader",
    "驻点镇领导": "leader", "镇街领导": "leader", "街道领导": "leader",
    "member": "member", "teammember": "member", "团队成员": "member", "成员": "member", "队员": "member",
    "驻点团队成员": "member",
    "auxiliary": "auxiliary", "aux": "auxiliary", "辅助团队成员": "auxiliary", "辅助成员": "auxiliary",
    "村干部": "auxiliary", "辅助": "auxiliary", "辅助人员": "auxiliary", "社区干部": "auxiliary",
    "村社区干部": "auxiliary",
}
_ACCEPTED_ROLES = "驻点领导 (leader)、团队成员 (member)、辅助团队成员 (auxiliary, 也可写 村干部)"

_DATE = r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?(?:\s*[T ]\s*\d{1,2}:\d{2}(?::\d{2})?)?"
_SHORT = r"(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?"
_RANGE_SEP = r"\s*(?:~|～|〜|至|到|—|–|－|-{1,2})\s*"
_ENTRY_RE = re.compile(rf"{_DATE}(?:{_RANGE_SEP}(?:{_DATE}|{_SHORT}))?")
_ENTRY_SPLIT = re.compile(r"[;；,，、\n\r]+")
_LEAVE_FIX = "按 2026-03-02~2026-03-06 的格式填写, 多段用 ; 分隔, 单日只写一个日期 (如 2026-04-01)"


@dataclass
class RosterLayer:
    """A roster read from one file.

    Attributes
    ----------
    frame : pandas.DataFrame
        One row per person, columns :data:`ROSTER_COLUMNS`.
    file : str
        The file's name.
    warnings : list of str
        Things the reader guessed or noticed (generated ids, likely duplicate persons...).
    rows : list of int
        The spreadsheet row number (header = row 1) of each frame row, for messages.
    """

    frame: pd.DataFrame
    file: str
    warnings: list[str] = field(default_factory=list)
    rows: list[int] = field(default_factory=list)

    def village_ids(self) -> list[str]:
        """The villages of the roster, in order of first appearance."""
        return list(dict.fromkeys(self.frame["village_id"].tolist()))


def parse_leave(text: object) -> list[tuple[date, date]]:
    """Parse a leave cell into ``(start, end)`` date tuples, in the order written.

    Parameters
    ----------
    text : object
        The cell: ``"2026-03-02~2026-03-06; 2026-04-01"``, ``"2026-03-02至03-06"``... Blank or
        None gives ``[]``.

    Returns
    -------
    list of (date, date)
        A single date is one day (start == end).

    Raises
    ------
    ValueError
        With a Chinese reason naming the unreadable entry (not a date, impossible date such as
        2026-02-30, end before start, no year).
    """
    cell = _clean_str(text)
    if cell is None:
        return []
    out: list[tuple[date, date]] = []
    for entry in _ENTRY_SPLIT.split(cell):
        entry = entry.strip()
        if not entry:
            continue
        m = _ENTRY_RE.fullmatch(entry)
        if m is None:
            if re.fullmatch(rf"{_SHORT}(?:{_RANGE_SEP}{_SHORT})?", entry):
                raise ValueError(f"“{entry}” 没有年份")
            raise ValueError(f"“{entry}” 不是日期或日期范围")
        y1, m1, d1, y2, m2, d2, sm, sd = m.groups()
        start = _make_date(y1, m1, d1, entry)
        if y2 is not None:
            end = _make_date(y2, m2, d2, entry)
        elif sm is not None:
            end = _make_date(y1, sm, sd, entry)
        else:
            end = start
        if end < start:
            raise ValueError(f"“{entry}” 结束日期早于开始日期")
        out.append((start, end))
    return out


def _make_date(y: str, m: str, d: str, entry: str) -> date:
    try:
        return date(int(y), int(m), int(d))
    except ValueError:
        raise ValueError(f"“{entry}” 里的日期 {y}-{m}-{d} 不存在") from None


def parse_role(value: object) -> str | None:
    """Return ``leader``, ``member`` or ``auxiliary`` for a role cell, or None if unknown."""
    text = _clean_str(value)
    if text is None:
        return None
    return ROLE_VALUES.get(normalise_header(text))


_SECRETARY = re.compile(r"^(?:.*(?:镇|乡|街道))?党(?:工)?委书记$")
_HEAD = re.compile(r"^(?:.*(?:镇|乡)长|(?:.*街道)?(?:办事处|街道办)主任)$")


def title_kind(title: object) -> str | None:
    """Classify a leader's title for the reports that count party secretaries and heads apart.

    Returns ``"party_secretary"`` for a town or subdistrict party secretary (镇党委书记,
    街道党工委书记, 党委书记), ``"town_head"`` for a town head or subdistrict director (镇长,
    乡长, 街道办事处主任), None for anything else, including deputies (副镇长, 党委副书记),
    纪委书记 and village posts (村党支部书记, 村委会主任).
    """
    text = _clean_str(title)
    if text is None:
        return None
    text = re.sub(r"[\s()（）]", "", text)
    if "副" in text:
        return None
    # one person may hold several posts: "镇党委副书记、镇长" is handled above, "镇党委书记、人大主席"
    for part in re.split(r"[、,，;；/]", text):
        if _SECRETARY.match(part):
            return "party_secretary"
        if _HEAD.match(part):
            return "town_head"
    return None


def _label(row: int, member_id: str | None, name: str | None, with_id: bool) -> str:
    """``第 5 行 (编号 M0004, 王建国)``: spreadsheet row number plus who it is."""
    bits = []
    if with_id and member_id:
        bits.append(f"编号 {member_id}")
    if name:
        bits.append(name)
    return f"第 {row} 行" + (f" ({', '.join(bits)})" if bits else "")


def read_roster(path: str | Path, *, encoding: str | None = None,
                columns: Mapping[str, str] | None = None) -> RosterLayer:
    """Read a roster (花名册) from CSV or Excel.

    Parameters
    ----------
    path : str or Path
        ``.csv`` (UTF-8, UTF-8 with BOM, or GBK/GB18030: sniffed), ``.tsv``, ``.txt`` or
        ``.xlsx``/``.xls`` (first sheet).
    encoding : str, optional
        For CSV files whose encoding sniffing gets wrong.
    columns : mapping, optional
        Field -> the user's header (``{"name": "人员"}``), overriding the aliases of
        :data:`ROSTER_FIELDS`; keys that are not roster fields are ignored (the CLI passes the
        same ``--column`` options to every reader).

    Returns
    -------
    RosterLayer
        ``frame`` with :data:`ROSTER_COLUMNS`, one row per non-blank row of the file.

    Raises
    ------
    geo.errors.InputError
        With every problem found: missing name/role/village column; blank name or village;
        blank or unknown role (the accepted values are listed); unreadable leave dates (the cell
        is named); blank or duplicate ids.
    """
    path = Path(path)
    col = Collector(path)
    if path.suffix.lower() not in TABLE_SUFFIXES:
        col.fail("", f"花名册应为表格文件, 不支持 {path.suffix or '无扩展名'} 文件",
                 "在 Excel/WPS 里另存为 .xlsx 或 CSV (UTF-8) 后再导入")
    raw = read_table(path, col, encoding=encoding)
    overrides = {k: v for k, v in (columns or {}).items() if k in ROSTER_FIELDS}
    try:
        cols = match_columns(raw.columns, ROSTER_FIELDS, overrides=overrides)
    except KeyError as exc:
        col.fail("", str(exc.args[0]), "检查 --column 参数里的列名")
        raise  # unreachable
    missing = [f for f in REQUIRED if f not in cols]
    if missing:
        col.fail("", f"缺少必需的列: {'、'.join(_FIELD_LABEL[m] for m in missing)}; "
                     f"文件的列有: {', '.join(map(str, raw.columns))}",
                 "添加这些列 (表头用中文或英文均可, 如 姓名、角色、驻点村), "
                 "或用 --column name=列名 / role=列名 / village_id=列名 指定")

    def text(fieldname: str) -> list[str | None]:
        if fieldname not in cols:
            return [None] * len(raw)
        return [_clean_str(v) for v in raw[cols[fieldname]].tolist()]

    keep = [i for i in range(len(raw)) if any(_clean_str(v) is not None for v in raw.iloc[i].tolist())]
    if not keep:
        col.fail("", "花名册没有数据行", "每人一行, 填写姓名、角色、驻点村")
    rows = [i + 2 for i in keep]

    def kept(fieldname: str) -> list[str | None]:
        values = text(fieldname)  # once per column: a large roster reads in linear time
        return [values[i] for i in keep]

    names = kept("name")
    villages = kept("village_id")
    raw_roles = kept("role")
    phones = kept("phone")
    homes = kept("home_area")
    titles = kept("title")
    raw_leave = kept("leave")
    has_ids = "member_id" in cols
    if has_ids:
        ids: list[str | None] = kept("member_id")
    else:
        ids = [f"M{k + 1:04d}" for k in range(len(keep))]
        col.warn(f"没有编号列 (编号/工号/member_id), 按行顺序生成编号 {ids[0]} ...; "
                 "再次导入时行的顺序必须不变, 建议加一列编号")

    def where(k: int) -> str:
        return _label(rows[k], ids[k], names[k], has_ids)

    if has_ids:
        blank = [(where(k), "") for k, v in enumerate(ids) if v is None]
        _list_some(col, blank, f"编号为空 (列 {cols['member_id']})", "给每人填写唯一编号, 或删除整列编号让系统生成")
        seen: dict[str, list[int]] = {}
        for k, v in enumerate(ids):
            if v is not None:
                seen.setdefault(v, []).append(k)
        dups = [(v, ks) for v, ks in seen.items() if len(ks) > 1]
        for v, ks in dups[:MAX_LISTED]:
            col.add("", f"编号 {v} 重复: {'、'.join(_label(rows[k], None, names[k], False) for k in ks[:5])}",
                    f"每人一个编号, 不能重复; 修改重复的编号 (列 {cols['member_id']})")
        if len(dups) > MAX_LISTED:
            col.add("", f"另有 {len(dups) - MAX_LISTED} 个编号重复", "每人一个编号, 不能重复")
    _list_some(col, [(where(k), "") for k, v in enumerate(names) if v is None],
               f"姓名为空 (列 {cols['name']})", "填写姓名, 或删除该行")
    _list_some(col, [(where(k), "") for k, v in enumerate(villages) if v is None],
               f"驻点村为空 (列 {cols['village_id']})", "填写此人驻点的行政村编码或名称")
    roles: list[str | None] = [parse_role(v) for v in raw_roles]
    _list_some(col, [(where(k), "") for k, v in enumerate(raw_roles) if v is None],
               f"角色为空 (列 {cols['role']})", f"角色填写 {_ACCEPTED_ROLES}")
    unknown = [(where(k), f": “{v}”") for k, v in enumerate(raw_roles) if v is not None and roles[k] is None]
    _list_some(col, unknown, f"角色无法识别 (列 {cols['role']})",
               f"角色只能填 {_ACCEPTED_ROLES}; 镇党委书记、镇长等职务请填在 职务 列, 角色填 驻点领导")
    leave: list[list[tuple[date, date]]] = []
    bad_leave = []
    for k, cell in enumerate(raw_leave):
        try:
            leave.append(parse_leave(cell))
        except ValueError as exc:
            leave.append([])
            bad_leave.append((where(k), f": 单元格 “{cell}” 中 {exc}"))
    if bad_leave:
        _list_some(col, bad_leave, f"请假日期无法识别 (列 {cols['leave']})", _LEAVE_FIX)
    col.raise_if_any()

    _warn_same_person(col, names, villages, phones, rows)
    frame = pd.DataFrame({
        "member_id": ids, "name": names, "role": roles, "village_id": villages, "phone": phones,
        "home_area": homes, "leave": leave, "title": titles,
        "attrs": _attrs(raw.iloc[keep].reset_index(drop=True), set(cols.values())),
    }, columns=ROSTER_COLUMNS, dtype=object)  # object: blanks stay None (pandas 3 would make str + NaN)
    return RosterLayer(frame=frame, file=path.name, warnings=list(col.warnings), rows=rows)


def _warn_same_person(col: Collector, names: list, villages: list, phones: list, rows: list[int]) -> None:
    """Warn about one name twice in one village (unless the phones say they are two people)."""
    by_key: dict[tuple[str, str], list[int]] = {}
    for k, (n, v) in enumerate(zip(names, villages)):
        by_key.setdefault((n, v), []).append(k)
    for (n, v), ks in by_key.items():
        if len(ks) < 2:
            continue
        known = {phones[k] for k in ks if phones[k]}
        if len(known) > 1 and len(known) == len([k for k in ks if phones[k]]):
            continue  # same name, different phones: two people
        listed = "、".join(f"第 {rows[k]} 行" for k in ks)
        col.warn(f"{n} 在驻点村 {v} 出现 {len(ks)} 次 ({listed}), 可能是同一人重复登记; "
                 "如是同一人请删除多余的行, 如是同名的两个人请填写各自的电话")


def resolve_roster(layer: RosterLayer, *, villages: pd.DataFrame,
                   areas: pd.DataFrame | None = None) -> RosterLayer:
    """Link a roster to imported villages and areas.

    ``village_id`` cells that are a village code are kept; cells that are a village's name
    (unique) are replaced by its code.  ``home_area`` cells are matched to an area id, else to
    the name of an area of the person's village (else of any village, if unique) and replaced by
    the area id; unmatched home areas are kept as written with a warning (the home area only
    helps to choose zones).

    Parameters
    ----------
    layer : RosterLayer
        From :func:`read_roster`.
    villages : DataFrame
        With ``village_id`` and ``name`` (the villages layer).
    areas : DataFrame, optional
        With ``area_id``, ``name`` and ``village_id`` (the areas layer).

    Returns
    -------
    RosterLayer
        A copy with the ids filled in and the new warnings appended.

    Raises
    ------
    geo.errors.InputError
        For persons whose village matches no code and no single village name.
    """
    col = Collector(layer.file)
    frame = layer.frame.copy()
    codes = [str(v) for v in villages["village_id"].tolist()]
    code_set = set(codes)
    by_name: dict[str, list[str]] = {}
    vnames = [_clean_str(n) for n in villages["name"].tolist()] if "name" in villages else [None] * len(codes)
    for code, name in zip(codes, vnames):
        if name is not None:
            by_name.setdefault(name, []).append(code)
    shown = "; ".join(f"{c} {n or ''}".strip() for c, n in list(zip(codes, vnames))[:10])
    more = f" 等共 {len(codes)} 个" if len(codes) > 10 else ""
    new_v = []
    bad = []
    for k, v in enumerate(frame["village_id"].tolist()):
        where = _label(layer.rows[k] if layer.rows else k + 2, frame["member_id"].iat[k], frame["name"].iat[k], True)
        if v in code_set:
            new_v.append(v)
        elif len(by_name.get(v, [])) == 1:
            new_v.append(by_name[v][0])
        elif len(by_name.get(v, [])) > 1:
            bad.append((where, f": “{v}” 对应多个行政村 ({'、'.join(by_name[v])})"))
            new_v.append(v)
        else:
            bad.append((where, f": “{v}”"))
            new_v.append(v)
    _list_some(col, bad, "驻点村不在已导入的行政村中",
               f"驻点村填写已导入的行政村编码或名称 (已有: {shown}{more}), 或先导入该村")
    col.raise_if_any()
    frame["village_id"] = pd.Series(new_v, index=frame.index, dtype=object)
    if areas is not None and len(areas):
        frame["home_area"] = pd.Series(_resolve_homes(frame, layer.rows, areas, col), index=frame.index,
                                       dtype=object)
    return replace(layer, frame=frame, warnings=[*layer.warnings, *col.warnings])


def _resolve_homes(frame: pd.DataFrame, rows: list[int], areas: pd.DataFrame, col: Collector) -> list:
    area_ids = [str(a) for a in areas["area_id"].tolist()]
    area_village = dict(zip(area_ids, [_clean_str(v) for v in areas["village_id"].tolist()]))
    names = [_clean_str(n) for n in areas["name"].tolist()]
    out = []
    for k, (home, village) in enumerate(zip(frame["home_area"].tolist(), frame["village_id"].tolist())):
        where = _label(rows[k] if rows else k + 2, frame["member_id"].iat[k], frame["name"].iat[k], True)
        if home is None:
            out.append(None)
            continue
        if home in area_village:
            if area_village[home] not in (None, village):
                col.warn(f"{where}: 居住片区 {home} 属于另一个村 ({area_village[home]})")
            out.append(home)
            continue
        local = [a for a, n in zip(area_ids, names) if n == home and area_village[a] == village]
        anywhere = [a for a, n in zip(area_ids, names) if n == home]
        if len(local) == 1:
            out.append(local[0])
        elif len(local) > 1:
            col.warn(f"{where}: 居住片区 “{home}” 在本村有 {len(local)} 个同名片区 ({'、'.join(local)}), "
                     "未能确定; 请改填片区编号")
            out.append(home)
        elif len(anywhere) == 1:
            col.warn(f"{where}: 居住片区 “{home}” 属于另一个村 ({area_village[anywhere[0]]})")
            out.append(anywhere[0])
        else:
            col.warn(f"{where}: 居住片区 “{home}” 不是已导入的自然村或小区, 分组时不考虑其居住地; "
                     "请填写片区编号或名称")
            out.append(home)
    return out


def members_by_village(layer: RosterLayer) -> dict[str, list[dict]]:
    """Rows of the roster as plain dicts (no leave, no attrs), grouped by village, in file order.

    Handy for :func:`planner.groups.people_from_records`, which takes plain records.
    """
    out: dict[str, list[dict]] = {}
    keys = ["member_id", "name", "role", "village_id", "phone", "home_area", "title"]
    for rec in layer.frame[keys].to_dict("records"):
        out.setdefault(rec["village_id"], []).append(rec)
    return out


def on_leave(layer: RosterLayer, day: date) -> list[str]:
    """Member ids of the people on leave on ``day``."""
    return [mid for mid, spans in zip(layer.frame["member_id"], layer.frame["leave"])
            if any(s <= day <= e for s, e in spans)]

