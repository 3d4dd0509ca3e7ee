"""Printed sheets (maps.sheets): text extracted with poppler's pdftotext, fonts checked with pdffonts.

The data is made up here (a small village in metres), so every expectation is computed from it:
stop order, page counts (cover + one page per session that fits, continuation pages for long
sessions), masked and shown phones.
"""

from __future__ import annotations

import datetime as dt
import random
import re
import shutil
import subprocess
from pathlib import Path

import geopandas as gpd
import pytest
import shapely

from maps import sheets
from maps.fonts import CJK_FAMILIES, PROBE, find_cjk_fonts, subset_fonts
from maps.sheets import (Background, CardHousehold, SheetGroup, SheetMember, SheetSession, SheetStop, ZoneRow,
                         contact_cards_pdf, mask_phone, route_sheets_pdf, session_pages, zone_map_pdf)

pytestmark = pytest.mark.skipif(shutil.which("pdftotext") is None, reason="needs poppler-utils (pdftotext)")

HH_ID = re.compile(r"\bHH\d{4}\b")


def pdftotext(path: Path) -> list[str]:
    """The text of each page (layout mode)."""
    out = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True).stdout
    return out.split("\f")[:-1]


def pdffonts(path: Path) -> list[dict[str, str]]:
    out = subprocess.run(["pdffonts", str(path)], capture_output=True, text=True, check=True).stdout.splitlines()
    rows = []
    for line in out[2:]:
        # name, type (may hold spaces), encoding, emb, sub, uni, object id, generation
        parts = line.split()
        rows.append({"name": parts[0], "type": " ".join(parts[1:-6]), "emb": parts[-5], "uni": parts[-3]})
    return rows


def _stop(rng: random.Random, k: int) -> SheetStop:
    return SheetStop(household_id=f"HH{k:04d}", address=f"示范村{k}号", head=f"户主{k}",
                     phone=f"139{rng.randrange(10**8):08d}", tags=("elderly_alone",) if k % 3 == 0 else (),
                     arrive=f"{9 + k % 3:02d}:{(k * 7) % 60:02d}", x=rng.uniform(0, 900), y=rng.uniform(0, 600))


@pytest.fixture(scope="module")
def group() -> SheetGroup:
    rng = random.Random(7)
    ids = list(range(1, 60))
    rng.shuffle(ids)  # visit order is not id order: a sorted table would fail the order test
    sizes = [5, 0, 40, 9]
    sessions, i = [], 0
    for n, (day, kind, start, end) in zip(sizes, [(1, "stationing", "09:00", "12:00"), (2, "evening", "19:00", "21:30"),
                                                  (8, "stationing", "14:30", "17:30"), (9, "evening", "19:00", "21:30")]):
        stops = [_stop(rng, k) for k in ids[i:i + n]]
        i += n
        path = shapely.LineString([(450, 300), *[(s.x, s.y) for s in stops], (450, 300)]) if stops else None
        sessions.append(SheetSession(date=dt.date(2026, 12, day), kind=kind, start=start, end=end, stops=stops,
                                     walk_m=path.length if path else 0.0, walk_min=(path.length if path else 0) / 66.7,
                                     path=path))
    members = [SheetMember("卢建华", "13800000028", "leader", "镇长"), SheetMember("梁晓东", "13800000029", "member"),
               SheetMember("何桂芳", "13800000032", "auxiliary", "村委会委员")]
    return SheetGroup(village_id="990101001009", village_name="示范村", town="示范镇", group_id="990101001009-G1",
                      group_name="第1组", zone_label="Z1", zone_areas=["东庄", "西庄"], members=members,
                      colour="#4e79a7", sessions=sessions, depot_xy=(450.0, 300.0),
                      zone_outline=shapely.box(-50, -50, 950, 650))


@pytest.fixture(scope="module")
def background() -> Background:
    areas = gpd.GeoDataFrame({"name": ["东庄", "西庄"]}, geometry=[shapely.box(0, 0, 450, 600),
                                                                  shapely.box(450, 0, 900, 600)])
    roads = gpd.GeoDataFrame({"highway": ["tertiary", "residential"]},
                             geometry=[shapely.LineString([(0, 300), (900, 300)]),
                                       shapely.LineString([(450, 0), (450, 600)])])
    return Background(areas=areas, roads=roads)


@pytest.fixture(scope="module")
def rendered(tmp_path_factory, group, background) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("sheets")
    out = {}
    subset = subset_fonts(find_cjk_fonts(), "".join(sheets.label_characters(lang) for lang in ("zh", "en"))
                          + "示范村镇东西庄户主号卢建华梁晓东何桂芳委员", tmp)
    for name, kw in {"zh": {}, "phones": {"show_phones": True, "fonts": subset}, "en": {"lang": "en", "fonts": subset}}.items():
        path = tmp / f"{name}.pdf"
        path.write_bytes(route_sheets_pdf(group, dt.date(2026, 12, 1), background, **kw))
        out[name] = path
    return out


def test_font_is_a_simplified_chinese_face_with_every_probe_glyph() -> None:
    from matplotlib.ft2font import FT2Font

    fonts = find_cjk_fonts()
    assert fonts.family in CJK_FAMILIES
    face = FT2Font(str(fonts.regular.path), face_index=fonts.regular.index)
    assert all(face.get_char_index(ord(c)) for c in PROBE)
    if face.num_faces > 1 and "Noto" in fonts.family:
        # the collection's first face is Japanese: 令 must not be drawn with its glyph
        jp = FT2Font(str(fonts.regular.path), face_index=0)
        assert jp.family_name.endswith("JP")
        assert face.get_char_index(ord("令")) != jp.get_char_index(ord("令"))


@pytest.mark.parametrize("phone, masked", [
    ("13812341234", "138****1234"), ("+86 138 1234 1234", "+86 138 **** 1234"), ("0851-8123456", "085*-***3456"),
    ("12345", "***45"), (None, ""), ("", ""), ("无", "无"),
])
def test_mask_phone(phone, masked) -> None:
    assert mask_phone(phone) == masked


def test_pages_cover_plus_each_session_that_fits_and_continuations(rendered, group) -> None:
    pages = pdftotext(rendered["zh"])
    expected = 1 + sum(session_pages(len(s.stops)) for s in group.sessions)
    assert len(pages) == expected
    assert [session_pages(len(s.stops)) for s in group.sessions] == [1, 0, 2, 1]  # 40 stops need a second page
    assert "第 1/{}".format(expected) in pages[0] and f"第 {expected}/{expected} 页" in pages[-1]


def test_household_ids_in_route_order_on_each_session_page(rendered, group) -> None:
    pages = pdftotext(rendered["zh"])[1:]
    seen = [HH_ID.findall(p) for p in pages]
    expected, k = [], 0
    for s in group.sessions:
        ids = [st.household_id for st in s.stops]
        n = session_pages(len(ids))
        got = [h for page in seen[k:k + n] for h in page]
        assert got == ids, f"session {s.date} {s.start}: rows not in visit order"
        if n > 1:
            assert "（续）" in pages[k + 1]
        expected += ids
        k += n
    assert k == len(pages)


def test_title_is_real_text_and_font_embedded(rendered, group) -> None:
    pages = pdftotext(rendered["zh"])
    assert "示范村 第1组 走访路线单" in pages[0] and "2026年12月 走访路线单" in pages[0]
    assert "2026年12月1日 星期二" in pages[1] and "驻点日 上午 09:00–12:00" in pages[1]
    for word in ("已见面", "不在家", "拒访", "备注", "独居老人", "© OpenStreetMap contributors (ODbL)"):
        assert word in pages[1]
    fonts = pdffonts(rendered["zh"])
    assert fonts and all(f["emb"] == "yes" and f["uni"] == "yes" for f in fonts)
    assert not any("Type 3" in f["type"] for f in fonts)
    assert any(find_cjk_fonts().family.replace(" ", "") in f["name"] for f in fonts)


def test_cover_lists_every_session_with_its_page(rendered, group) -> None:
    cover = pdftotext(rendered["zh"])[0]
    for s in group.sessions:
        assert sheets.date_text(s.date, "zh") in cover
    assert "无安排" in cover  # the session without stops
    for m in group.members:
        assert m.name in cover and m.phone in cover  # members' work phones are shown


def test_household_phones_masked_unless_asked(rendered, group) -> None:
    text_masked = "\n".join(pdftotext(rendered["zh"]))
    text_shown = "\n".join(pdftotext(rendered["phones"]))
    for s in group.sessions:
        for st in s.stops:
            assert st.phone not in text_masked and mask_phone(st.phone) in text_masked
            assert st.phone in text_shown
    assert "13800000028" in text_masked  # a member's phone is not masked


def test_english_sheets(rendered) -> None:
    pages = pdftotext(rendered["en"])
    assert "Visit routes, 2026-12" in pages[0]
    for word in ("Household", "Address", "Arrive", "Met", "Refused", "Notes", "Stationing day morning 09:00–12:00"):
        assert word in pages[1]
    assert "elderly alone" in pages[1] and "走访路线单" not in "\n".join(pages)


def test_text_outside_a_font_subset_still_prints(tmp_path, group, background) -> None:
    fonts = subset_fonts(find_cjk_fonts(), sheets.label_characters("zh"), tmp_path)
    odd = SheetGroup(**{**group.__dict__, "village_name": "堃犇村", "sessions": group.sessions[:1]})
    path = tmp_path / "odd.pdf"
    path.write_bytes(route_sheets_pdf(odd, dt.date(2026, 12, 1), background, fonts=fonts))
    assert "堃犇村 第1组 走访路线单" in pdftotext(path)[0]


def test_zone_map_is_one_a3_landscape_page_with_the_legend(tmp_path, group, background) -> None:
    rows = [ZoneRow("Z1", "第1组", group.members, 30, 754.0, "#4e79a7", shapely.box(0, 0, 450, 600)),
            ZoneRow("Z2", "第2组", [], 25, 700.0, "#f28e2b", shapely.box(450, 0, 900, 600))]
    rng = random.Random(1)
    hh = gpd.GeoDataFrame({"zone_label": ["Z1"] * 30 + ["Z2"] * 25},
                          geometry=[shapely.Point(rng.uniform(0, 450), rng.uniform(0, 600)) for _ in range(30)]
                          + [shapely.Point(rng.uniform(450, 900), rng.uniform(0, 600)) for _ in range(25)])
    path = tmp_path / "zones.pdf"
    path.write_bytes(zone_map_pdf(village_name="示范村", town="示范镇", version=3, zones=rows, households=hh,
                                  depot_xy=(450.0, 300.0), background=background))
    info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True).stdout
    size = re.search(r"Page size:\s+([\d.]+) x ([\d.]+) pts", info)
    assert size and float(size.group(1)) == pytest.approx(1190.55, abs=1) and float(size.group(2)) == pytest.approx(841.89, abs=1)
    (page,) = pdftotext(path)
    assert "示范村 分片走访地图" in page and "第 3 版分片" in page
    assert "第1组" in page and "第2组" in page and "12.6" in page and "（未定成员）" in page
    assert "卢建华" in page and "55 户" in page


def test_contact_cards_ten_per_page_with_member_phones(tmp_path, group) -> None:
    households = [CardHousehold(f"HH{k:04d}", f"户主{k}", f"示范村{k}号") for k in range(1, 13)]
    path = tmp_path / "cards.pdf"
    path.write_bytes(contact_cards_pdf(group, households))
    pages = pdftotext(path)
    assert len(pages) == 2
    assert HH_ID.findall(pages[0]) == [h.household_id for h in households[:10]]
    assert pages[0].count("驻点联系卡") == 10 and pages[1].count("驻点联系卡") == 2
    assert pages[1].count("13800000029") == 2
    with pytest.raises(ValueError, match="No households"):
        contact_cards_pdf(group, [])
