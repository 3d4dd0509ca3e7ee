"""Roster reader: headers in two languages, encodings, Excel, one broken file per failure mode."""

from __future__ import annotations

import importlib.util
from datetime import date
from pathlib import Path

import pandas as pd
import pyogrio
import pytest

from geo.errors import InputError
from geo.roster import (
    ROSTER_COLUMNS,
    on_leave,
    parse_leave,
    parse_role,
    read_roster,
    resolve_roster,
    title_kind,
)
from planner.groups import form_groups, people_from_records

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "data" / "demo"

V1 = "012345678901"  # a 12-digit code with a leading zero: must stay a string
V2 = "990101001001"

CN_HEADER = "编号,姓名,角色,职务,驻点村,电话,居住片区,请假日期,备注"
CN_ROWS = [
    f"A01,王建国,驻点领导,镇党委书记,{V1},10000000001,,2026-03-02~2026-03-06; 2026-04-01,",
    f"A02,李秀英,团队成员,,{V1},10000000002,,,新调入",
    f"A03,张伟,村干部,村委会委员,{V1},,上村,,",
    f"A04,刘芳,辅助团队成员,,{V2},10000000004,V009,,",
]


def _csv(tmp_path: Path, lines: list[str], name: str = "roster.csv", encoding: str = "utf-8") -> Path:
    p = tmp_path / name
    p.write_bytes(("\n".join(lines) + "\n").encode(encoding))
    return p


def _problems(exc: pytest.ExceptionInfo[InputError]) -> list[str]:
    return [str(p) for p in exc.value.problems]


# ---------------------------------------------------------------- reading


def test_chinese_headers(tmp_path: Path) -> None:
    layer = read_roster(_csv(tmp_path, [CN_HEADER, *CN_ROWS]))
    f = layer.frame
    assert list(f.columns) == ROSTER_COLUMNS
    assert list(f["member_id"]) == ["A01", "A02", "A03", "A04"]
    assert list(f["role"]) == ["leader", "member", "auxiliary", "auxiliary"]
    assert list(f["village_id"]) == [V1, V1, V1, V2]  # leading zero kept
    assert list(f["phone"]) == ["10000000001", "10000000002", None, "10000000004"]
    assert list(f["home_area"]) == [None, None, "上村", "V009"]
    assert list(f["title"]) == ["镇党委书记", None, "村委会委员", None]
    assert f["leave"].iat[0] == [(date(2026, 3, 2), date(2026, 3, 6)), (date(2026, 4, 1), date(2026, 4, 1))]
    assert f["leave"].iat[1] == []
    assert f["attrs"].iat[1] == {"备注": "新调入"} and f["attrs"].iat[0] == {}
    assert layer.file == "roster.csv" and layer.warnings == [] and layer.rows == [2, 3, 4, 5]


def test_english_headers_and_values(tmp_path: Path) -> None:
    p = _csv(tmp_path, ["ID,Name,Role,Village_ID,Phone,Home Area,Leave,Title",
                        f"E1,Wang Wei,Leader,{V1},100,,,Town head",
                        f"E2,Li Na,member,{V1},,,2026-05-01,",
                        f"E3,Zhao Lei,AUXILIARY,{V1},,A7,,"])
    f = read_roster(p).frame
    assert list(f["member_id"]) == ["E1", "E2", "E3"]
    assert list(f["role"]) == ["leader", "member", "auxiliary"]
    assert list(f["home_area"]) == [None, None, "A7"]
    assert f["leave"].iat[1] == [(date(2026, 5, 1), date(2026, 5, 1))]


def test_gbk_csv(tmp_path: Path) -> None:
    p = _csv(tmp_path, [CN_HEADER, *CN_ROWS], name="gbk.csv", encoding="gbk")
    layer = read_roster(p)
    assert list(layer.frame["name"]) == ["王建国", "李秀英", "张伟", "刘芳"]
    assert any("GB18030" in w for w in layer.warnings)


def test_xlsx_numbers_and_dates(tmp_path: Path) -> None:
    p = tmp_path / "roster.xlsx"
    pd.DataFrame({
        "姓名": ["王建国", "李秀英", "张伟"],
        "身份": ["驻点领导", "队员", "辅助成员"],
        "村编码": [990101001001, 990101001001, 990101001001],  # numeric cells in Excel
        "手机": [10000000001, None, None],
        "请假": [pd.Timestamp("2026-12-24"), None, "2027-01-04至2027-01-08"],
    }).to_excel(p, index=False)
    layer = read_roster(p)
    f = layer.frame
    assert list(f["village_id"]) == [V2] * 3
    assert f["phone"].iat[0] == "10000000001"
    assert f["leave"].iat[0] == [(date(2026, 12, 24), date(2026, 12, 24))]
    assert f["leave"].iat[2] == [(date(2027, 1, 4), date(2027, 1, 8))]
    assert list(f["member_id"]) == ["M0001", "M0002", "M0003"]
    assert any("按行顺序生成编号 M0001" in w for w in layer.warnings)


def test_column_override(tmp_path: Path) -> None:
    p = _csv(tmp_path, ["人员,类别,驻地", f"王建国,领导,{V1}"])
    f = read_roster(p, columns={"name": "人员", "village_id": "驻地", "lon": "ignored"}).frame
    assert f["name"].iat[0] == "王建国" and f["village_id"].iat[0] == V1 and f["role"].iat[0] == "leader"


def test_blank_rows_are_skipped_but_rows_keep_their_numbers(tmp_path: Path) -> None:
    p = _csv(tmp_path, ["编号,姓名,角色,驻点村", f"A1,王建国,驻点领导,{V1}", ",,,", f"A2,,团队成员,{V1}"])
    with pytest.raises(InputError) as exc:
        read_roster(p)
    (msg,) = _problems(exc)
    assert "第 4 行 (编号 A2)" in msg and "姓名为空" in msg


def test_same_person_twice_in_a_village_warns(tmp_path: Path) -> None:
    p = _csv(tmp_path, ["编号,姓名,角色,驻点村,电话",
                        f"A1,王建国,驻点领导,{V1},1", f"A2,王建国,团队成员,{V1},",
                        f"A3,李娜,团队成员,{V1},2", f"A4,李娜,团队成员,{V1},3",  # namesakes: phones differ
                        f"A5,张伟,团队成员,{V1},", f"A6,张伟,团队成员,{V2},"])  # other village
    layer = read_roster(p)
    assert len(layer.warnings) == 1
    w = layer.warnings[0]
    assert "roster.csv" in w and "王建国" in w and "第 2 行" in w and "第 3 行" in w and "删除多余的行" in w


# ---------------------------------------------------------------- failure modes

BROKEN = {
    "missing_columns": (
        ["编号,姓名,电话", "A1,王建国,1"],
        ["缺少必需的列", "角色 (role)", "驻点村", "文件的列有: 编号, 姓名, 电话", "--column"],
    ),
    "unknown_role": (
        ["编号,姓名,角色,驻点村", f"A1,王建国,驻点领导,{V1}", f"A2,李娜,组长,{V1}"],
        ["第 3 行 (编号 A2, 李娜)", "角色无法识别", "“组长”", "驻点领导", "团队成员", "辅助团队成员"],
    ),
    "title_as_role": (
        ["编号,姓名,角色,驻点村", f"A1,王建国,镇长,{V1}"],
        ["第 2 行 (编号 A1, 王建国)", "“镇长”", "请填在 职务 列"],
    ),
    "blank_role": (
        ["编号,姓名,角色,驻点村", f"A1,王建国,,{V1}"],
        ["第 2 行 (编号 A1, 王建国)", "角色为空", "角色填写"],
    ),
    "blank_name": (
        ["编号,姓名,角色,驻点村", f"A1,,团队成员,{V1}"],
        ["第 2 行 (编号 A1)", "姓名为空", "填写姓名"],
    ),
    "blank_village": (
        ["编号,姓名,角色,驻点村", "A1,王建国,团队成员,"],
        ["第 2 行 (编号 A1, 王建国)", "驻点村为空", "行政村编码或名称"],
    ),
    "bad_dates": (
        ["编号,姓名,角色,驻点村,请假日期", f"A1,王建国,团队成员,{V1},2026-02-30",
         f"A2,李娜,团队成员,{V1},2026-03-06~2026-03-02", f"A3,张伟,团队成员,{V1},3月2日-3月6日",
         f"A4,刘芳,团队成员,{V1},下周一"],
        ["第 2 行 (编号 A1, 王建国)", "请假日期无法识别 (列 请假日期)", "“2026-02-30”", "不存在",
         "第 3 行 (编号 A2, 李娜)", "结束日期早于开始日期", "第 4 行 (编号 A3, 张伟)", "没有年份",
         "第 5 行 (编号 A4, 刘芳)", "“下周一”", "2026-03-02~2026-03-06"],
    ),
    "duplicate_ids": (
        ["编号,姓名,角色,驻点村", f"A1,王建国,驻点领导,{V1}", f"A1,李娜,团队成员,{V1}", f"A2,张伟,团队成员,{V1}"],
        ["编号 A1 重复", "第 2 行 (王建国)", "第 3 行 (李娜)", "不能重复"],
    ),
    "blank_id": (
        ["编号,姓名,角色,驻点村", f",王建国,驻点领导,{V1}"],
        ["第 2 行 (王建国)", "编号为空", "唯一编号"],
    ),
    "no_rows": (
        ["编号,姓名,角色,驻点村", ",,,"],
        ["没有数据行"],
    ),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_broken_file_is_reported_with_file_row_and_fix(tmp_path: Path, case: str) -> None:
    lines, expected = BROKEN[case]
    p = _csv(tmp_path, lines, name=f"{case}.csv")
    with pytest.raises(InputError) as exc:
        read_roster(p)
    text = "\n".join(_problems(exc))
    for part in expected:
        assert part in text, f"{part!r} missing from:\n{text}"
    for prob in exc.value.problems:
        assert prob.file == f"{case}.csv" and prob.fix


def test_all_problems_reported_at_once(tmp_path: Path) -> None:
    p = _csv(tmp_path, ["编号,姓名,角色,驻点村,请假日期",
                        f"A1,,驻点领导,{V1},", "A2,李娜,组长,,", f"A2,张伟,团队成员,{V1},明天"])
    with pytest.raises(InputError) as exc:
        read_roster(p)
    text = "\n".join(_problems(exc))
    assert len(exc.value.problems) == 5
    for part in ("编号 A2 重复", "姓名为空", "驻点村为空", "角色无法识别", "请假日期无法识别"):
        assert part in text


def test_not_a_table(tmp_path: Path) -> None:
    p = tmp_path / "roster.geojson"
    p.write_text("{}", encoding="utf-8")
    with pytest.raises(InputError) as exc:
        read_roster(p)
    assert "roster.geojson" in str(exc.value) and ".xlsx" in str(exc.value)


def test_override_naming_a_missing_header(tmp_path: Path) -> None:
    p = _csv(tmp_path, ["姓名,角色,驻点村", f"王建国,驻点领导,{V1}"])
    with pytest.raises(InputError) as exc:
        read_roster(p, columns={"name": "人员"})
    assert "人员" in str(exc.value) and "--column" in str(exc.value)


# ---------------------------------------------------------------- cells


@pytest.mark.parametrize("cell, expected", [
    (None, []),
    ("", []),
    ("2026-03-02", [("2026-03-02", "2026-03-02")]),
    ("2026-03-02~2026-03-06; 2026-04-01", [("2026-03-02", "2026-03-06"), ("2026-04-01", "2026-04-01")]),
    ("2026-03-02-2026-03-06", [("2026-03-02", "2026-03-06")]),
    ("2026-03-02至03-06", [("2026-03-02", "2026-03-06")]),
    ("2026/3/2 到 2026/3/4，2026.4.1、2026年5月1日", [("2026-03-02", "2026-03-04"), ("2026-04-01", "2026-04-01"),
                                                   ("2026-05-01", "2026-05-01")]),
    ("2026-12-28～2027-01-01", [("2026-12-28", "2027-01-01")]),
    ("2026-03-02 00:00:00", [("2026-03-02", "2026-03-02")]),
])
def test_parse_leave(cell: object, expected: list[tuple[str, str]]) -> None:
    assert parse_leave(cell) == [(date.fromisoformat(a), date.fromisoformat(b)) for a, b in expected]


@pytest.mark.parametrize("cell, reason", [
    ("2026-13-01", "不存在"), ("3月2日", "没有年份"), ("2026-03-05~2026-03-01", "早于"), ("请假一周", "不是日期"),
    ("2026-03-02~", "不是日期"),
])
def test_parse_leave_rejects(cell: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        parse_leave(cell)


@pytest.mark.parametrize("value, role", [
    ("驻点领导", "leader"), ("挂点领导", "leader"), ("Leader", "leader"), ("团队成员", "member"), ("队员", "member"),
    ("村干部", "auxiliary"), ("辅助 团队成员", "auxiliary"), ("组长", None), (None, None),
])
def test_parse_role(value: object, role: str | None) -> None:
    assert parse_role(value) == role


@pytest.mark.parametrize("title, kind", [
    ("镇党委书记", "party_secretary"), ("XX街道党工委书记", "party_secretary"), ("党委书记", "party_secretary"),
    ("镇党委书记、人大主席", "party_secretary"), ("镇长", "town_head"), ("某某镇镇长", "town_head"),
    ("街道办事处主任", "town_head"), ("镇党委副书记、镇长", None), ("副镇长", None), ("镇纪委书记", None),
    ("村党支部书记", None), ("村党委书记", None), ("村委会主任", None), ("镇党委委员", None), (None, None),
])
def test_title_kind(title: str | None, kind: str | None) -> None:
    assert title_kind(title) == kind


def test_on_leave(tmp_path: Path) -> None:
    layer = read_roster(_csv(tmp_path, [CN_HEADER, *CN_ROWS]))
    assert on_leave(layer, date(2026, 3, 4)) == ["A01"]
    assert on_leave(layer, date(2026, 3, 7)) == []
    assert on_leave(layer, date(2026, 4, 1)) == ["A01"]


# ---------------------------------------------------------------- linking to villages and areas

VILLAGES = pd.DataFrame({"village_id": [V1, V2], "name": ["上河村", "下河村"]})
AREAS = pd.DataFrame({"area_id": ["A1", "A2", "B1"], "name": ["上村", "新村", "新村"],
                      "village_id": [V1, V1, V2]})


def test_resolve_names_to_ids(tmp_path: Path) -> None:
    p = _csv(tmp_path, ["编号,姓名,角色,驻点村,居住片区",
                        "A1,王建国,驻点领导,上河村,", f"A2,张伟,村干部,{V1},上村", "A3,刘芳,村干部,下河村,新村",
                        f"A4,赵磊,村干部,{V1},B1", f"A5,孙丽,村干部,{V1},不存在的村"])
    layer = resolve_roster(read_roster(p), villages=VILLAGES, areas=AREAS)
    f = layer.frame
    assert list(f["village_id"]) == [V1, V1, V2, V1, V1]
    assert list(f["home_area"]) == [None, "A1", "B1", "B1", "不存在的村"]
    text = "\n".join(layer.warnings)
    assert "第 5 行 (编号 A4, 赵磊)" in text and "属于另一个村" in text
    assert "第 6 行 (编号 A5, 孙丽)" in text and "不存在的村" in text


def test_resolve_unknown_village_is_an_error(tmp_path: Path) -> None:
    p = _csv(tmp_path, ["编号,姓名,角色,驻点村", "A1,王建国,驻点领导,中河村", f"A2,张伟,团队成员,{V1}"])
    with pytest.raises(InputError) as exc:
        resolve_roster(read_roster(p), villages=VILLAGES)
    (msg,) = _problems(exc)
    assert "roster.csv 第 2 行 (编号 A1, 王建国)" in msg and "“中河村”" in msg and f"{V1} 上河村" in msg


# ---------------------------------------------------------------- the demo roster


def _load_builder():
    spec = importlib.util.spec_from_file_location("build_roster", DEMO / "build_roster.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_demo_roster_reads_cleanly_and_groups_every_village() -> None:
    path = DEMO / "roster.csv"
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")  # BOM: Excel opens it as UTF-8
    layer = read_roster(path)
    assert layer.warnings == []
    villages = pyogrio.read_dataframe(DEMO / "villages.gpkg", read_geometry=False)
    areas = pyogrio.read_dataframe(DEMO / "areas.gpkg", read_geometry=False)
    layer = resolve_roster(layer, villages=villages, areas=areas)
    assert layer.warnings == []
    f = layer.frame
    assert sorted(f["village_id"].unique()) == sorted(villages["village_id"])
    assert all(p.startswith("1000000") and len(p) == 11 for p in f["phone"])
    area_village = dict(zip(areas["area_id"], areas["village_id"]))
    aux = f[f["role"] == "auxiliary"]
    assert all(area_village[h] == v for h, v in zip(aux["home_area"], aux["village_id"]))
    leave_days = [d for spans in f["leave"] for span in spans for d in span]
    assert leave_days and all(date(2026, 12, 1) <= d <= date(2027, 1, 31) for d in leave_days)

    people = people_from_records(f.to_dict("records"))
    plans = {v: form_groups(people, village_id=v) for v in villages["village_id"]}
    assert all(p.n_groups >= 1 for p in plans.values())
    rules = {v: [g.rule for g in p.groups] for v, p in plans.items()}
    en = dict(zip(villages["village_id"], villages["name_en"]))
    by_en = {en[v]: r for v, r in rules.items()}
    assert by_en["Balzers"] == ["2+1", "2+0"]
    assert by_en["Eschen"] == ["3+1"]
    assert by_en["Planken"] == ["2+1"]
    assert plans[next(v for v in en if en[v] == "Vaduz")].leftover  # a stand-in auxiliary

    leaders = f[f["role"] == "leader"]
    assert len(leaders) == 11
    kinds = {en[v]: title_kind(t) for v, t in zip(leaders["village_id"], leaders["title"])}
    assert kinds["Triesenberg"] == "party_secretary" and kinds["Triesen"] == "town_head"
    assert sum(k is not None for k in kinds.values()) == 2


def test_demo_roster_is_what_the_script_builds() -> None:
    text = _load_builder().build(DEMO)
    assert (DEMO / "roster.csv").read_bytes() == b"\xef\xbb\xbf" + text.encode("utf-8")
