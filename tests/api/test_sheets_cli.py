"""``zhudian sheets`` end to end: demo village, zones, a month plan, then the PDFs read back with poppler.

Expectations come from the plan stored in the database (``load_month_plan``), not from numbers
written here: each session with stops has its page(s), its household ids in visit order.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from api import store
from api.store import plans
from maps.sheets import mask_phone, session_pages
from test_cli import DEMO, import_demo, zhudian

TRIESEN = "990101001009"
MONTH = "2026-12"

pytestmark = pytest.mark.skipif(shutil.which("pdftotext") is None, reason="needs poppler-utils (pdftotext)")


def _pages(path: Path) -> list[str]:
    out = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True).stdout
    return out.split("\f")[:-1]


@pytest.fixture(scope="module")
def planned(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("sheets")
    db = tmp / "demo.db"
    import_demo(db)
    zhudian("zone", db, "--village", TRIESEN, "--roster", DEMO / "roster.csv", "--seconds", "2", "--quiet")
    zhudian("plan", db, "--month", MONTH, "--village", TRIESEN, "--seconds", "1", "--quiet")
    return db


@pytest.fixture(scope="module")
def stored(planned: Path):
    engine = store.open_store(planned, create=False)
    try:
        mp = plans.load_month_plan(engine, TRIESEN, dt.date(2026, 12, 1))
        hh = store.load_households(engine, village_ids=[TRIESEN]).set_index("household_id")
    finally:
        engine.dispose()
    return mp, hh


@pytest.fixture(scope="module")
def sheets(planned: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("pdf")
    proc = zhudian("sheets", planned, "--month", MONTH, "--village", TRIESEN, "--out", out, "--cards", "--json")
    return out, json.loads(proc.stdout)


def test_writes_one_pdf_per_group_the_zone_map_and_cards(sheets, stored) -> None:
    out, report = sheets
    mp, _ = stored
    names = sorted(p.name for p in out.iterdir())
    expected = sorted([f"{g}-{MONTH}.pdf" for g in mp.groups()] + [f"{g}-cards.pdf" for g in mp.groups()]
                      + [f"{TRIESEN}-zones-A3.pdf"])
    assert names == expected  # and no temporary files left behind
    assert {Path(f["path"]).name for f in report["files"]} == set(expected)
    assert all(f["bytes"] == (out / Path(f["path"]).name).stat().st_size for f in report["files"])


def test_route_sheets_pages_and_stop_order_follow_the_stored_plan(sheets, stored) -> None:
    out, report = sheets
    mp, hh = stored
    outposts = 0
    for gid in mp.groups():
        sessions = mp.sessions_of(gid)
        pages = _pages(out / f"{gid}-{MONTH}.pdf")
        assert len(pages) == 1 + sum(session_pages(len(s.stops)) for s in sessions)
        assert next(f["pages"] for f in report["files"] if f["group"] == gid and f["kind"] == "route_sheets") == len(pages)
        assert "走访路线单" in pages[0] and "2026年12月" in pages[0]
        k = 1
        for s in sessions:
            n = session_pages(len(s.stops))
            if not n:
                continue
            text = "\n".join(pages[k:k + n])
            ids = re.findall(r"\bH\d{5}\b", text)
            assert ids == [st.household_id for st in s.stops], f"{gid} {s.date} {s.start}"
            assert f"{s.date.year}年{s.date.month}月{s.date.day}日" in pages[k]
            assert ("驻点日" if s.kind == "stationing" else "夜访") in pages[k]
            start = s.start_point  # the office, or an outpost (Hintertuass, above Triesen)
            assert start is not None
            if start.kind == "outpost":
                assert f"起点/终点：外点 {start.label}（乘车前往）" in pages[k]
                outposts += 1
            else:
                assert start.kind == "depot" and "村委会（起点/终点）" in pages[k]
            for st in s.stops:  # household phones masked by default
                phone = str(hh.loc[st.household_id, "phone"])
                assert phone not in text and mask_phone(phone) in text
            k += n
        assert k == len(pages)
    assert outposts  # the store keeps each session's start point, and the sheets print it


def test_fonts_are_embedded(sheets) -> None:
    out, _ = sheets
    for pdf in out.glob("*.pdf"):
        lines = subprocess.run(["pdffonts", str(pdf)], capture_output=True, text=True, check=True).stdout.splitlines()[2:]
        assert lines, pdf.name
        for line in lines:
            parts = line.split()
            assert parts[-5] == "yes" and parts[-3] == "yes", f"{pdf.name}: {line}"  # emb, uni
            assert "Type 3" not in line


def test_zone_map_names_every_group(sheets, stored) -> None:
    out, _ = sheets
    mp, _ = stored
    (page,) = _pages(out / f"{TRIESEN}-zones-A3.pdf")
    assert "特里森 分片走访地图" in page
    assert all(f"第{i}组" in page for i in range(1, len(mp.groups()) + 1))


def test_show_phones_group_and_english(planned, stored, tmp_path) -> None:
    mp, hh = stored
    gid = mp.groups()[0]
    proc = zhudian("sheets", planned, "--month", MONTH, "--group", gid, "--out", tmp_path, "--show-phones",
                   "--lang", "en")
    assert "路线单" in proc.stdout  # the summary
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"{gid}-{MONTH}.pdf", f"{TRIESEN}-zones-A3.pdf"]
    text = "\n".join(_pages(tmp_path / f"{gid}-{MONTH}.pdf"))
    stop = next(st for s in mp.sessions_of(gid) for st in s.stops)
    assert str(hh.loc[stop.household_id, "phone"]) in text
    assert "Visit routes, 2026-12" in text and "Household" in text


def test_month_without_plan_says_what_to_do(planned, tmp_path) -> None:
    proc = zhudian("sheets", planned, "--month", "2027-01", "--out", tmp_path / "x", check=False)
    assert proc.returncode == 2
    assert "2027-01 还没有走访计划" in proc.stderr and f"先运行 zhudian plan {planned} --month 2027-01" in proc.stderr
    assert not (tmp_path / "x").exists()
    proc = zhudian("sheets", planned, "--month", MONTH, "--village", "990199999999", "--out", tmp_path, check=False)
    assert proc.returncode == 2 and "990199999999" in proc.stderr and "没有这个行政村" in proc.stderr
    proc = zhudian("sheets", planned, "--month", "12/2026", "--out", tmp_path, check=False)
    assert proc.returncode == 2 and "YYYY-MM" in proc.stderr
