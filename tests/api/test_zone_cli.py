"""``zhudian zone`` end to end on real data: a store, a roster, real solver runs, files written."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import geopandas as gpd
import pytest
import shapely

from api import store
from api.store import plans
from test_cli import DEMO, HAIDIAN, import_demo, zhudian

TRIESEN = "990101001009"  # demo village with 2 groups and a natural village too big for one


@pytest.fixture(scope="module")
def demo_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("zone") / "demo.db"
    import_demo(db)
    return db


@pytest.fixture()
def haidian_store(tmp_path: Path) -> Path:
    db = tmp_path / "haidian.db"
    zhudian("import", db, "--areas", HAIDIAN / "villages.geojson", "--column", "area_id=village_id",
            "--households", HAIDIAN / "households.geojson", "--roads", HAIDIAN / "walk_edges.geojson", "--quiet")
    return db


def test_zone_with_roster_json_outlines_and_maps(demo_store: Path, tmp_path: Path) -> None:
    db = tmp_path / "z.db"
    shutil.copy(demo_store, db)
    out = tmp_path / "zones.geojson"
    proc = zhudian("zone", db, "--village", TRIESEN, "--roster", DEMO / "roster.csv", "--out", out,
                   "--maps", tmp_path / "maps", "--json")
    doc = json.loads(proc.stdout)
    (v,) = doc["villages"]
    assert v["village"] == TRIESEN and v["status"] in ("optimal", "feasible")
    assert v["contiguous"] is True and v["balance"] <= 1.06
    assert [z["group"] for z in v["zones"]] == [f"{TRIESEN}-G1", f"{TRIESEN}-G2"]
    engine = store.open_store(db, create=False)
    try:
        hh = store.load_households(engine, village_ids=[TRIESEN])
        stored = plans.load_zone_plan(engine, TRIESEN)
        people = plans.load_people(engine, TRIESEN)
    finally:
        engine.dispose()
    listed = [h for z in v["zones"] for h in z["households"]]
    assert sorted(listed) == sorted(hh["household_id"])  # every household in exactly one zone
    for s in v["splits"]:
        assert s["reason"] and len(s["groups"]) >= 2 and isinstance(s["forced"], bool)
    # stored as version 1 with the same households per group
    assert stored is not None and stored.version == v["version"] == 1
    assert {z.group_id: sorted(z.household_ids) for z in stored.zones} == \
        {z["group"]: sorted(z["households"]) for z in v["zones"]}
    assert {p.role for p in people} == {"leader", "member", "auxiliary"}
    # outlines: one valid polygon per zone, not overlapping
    g = gpd.read_file(out)
    assert len(g) == 2 and g.geometry.is_valid.all() and set(g["group"]) == {z["group"] for z in v["zones"]}
    inter = shapely.area(shapely.intersection(g.geometry.iloc[0], g.geometry.iloc[1]))
    assert inter < 1e-10
    html = (tmp_path / "maps" / f"{TRIESEN}.html").read_text(encoding="utf-8")
    assert "第1组" in html and "https://" not in html.split("<body", 1)[0].split("leaflet", 1)[0]


def test_rezoning_without_changes_moves_nobody_and_lock_moves_an_area(demo_store: Path, tmp_path: Path) -> None:
    db = tmp_path / "z.db"
    shutil.copy(demo_store, db)
    first = json.loads(zhudian("zone", db, "--village", TRIESEN, "--groups", "2", "--json").stdout)["villages"][0]
    again = json.loads(zhudian("zone", db, "--village", TRIESEN, "--groups", "2", "--json").stdout)["villages"][0]
    assert again["version"] == 2 and again["moved"] == 0
    assert [sorted(z["households"]) for z in again["zones"]] == [sorted(z["households"]) for z in first["zones"]]
    # lock an area of group 1 to group 2: it moves whole, the rest stays mostly put
    g1_areas = set(first["zones"][0]["areas"]) - set(first["zones"][1]["areas"])
    area = sorted(a for a in g1_areas if "散居户" not in a)[0]
    locked = json.loads(zhudian("zone", db, "--village", TRIESEN, "--groups", "2", "--lock", f"{area}=2",
                                "--json").stdout)["villages"][0]
    assert locked["status"] in ("optimal", "feasible")
    assert area in locked["zones"][1]["areas"] and area not in locked["zones"][0]["areas"]
    assert locked["contiguous"]


def test_tradeoff_reported(haidian_store: Path) -> None:
    doc = json.loads(zhudian("zone", haidian_store, "--groups", "3", "--tradeoff", "--json").stdout)
    (v,) = doc["villages"]
    bands = [t["tolerance"] for t in v["tradeoff"]]
    assert bands == [0.02, 0.05, 0.1, 0.15]
    excess = [t["excess_pieces"] for t in v["tradeoff"] if t["status"] in ("optimal", "feasible")]
    assert excess == sorted(excess, reverse=True)  # a looser band never needs more splits


def test_impossible_requests_are_explained(haidian_store: Path) -> None:
    proc = zhudian("zone", haidian_store, check=False)  # no roster, no --groups, nothing stored
    assert proc.returncode == 1 and "--groups" in proc.stdout
    proc = zhudian("zone", haidian_store, "--groups", "500", "--json", check=False)
    v = json.loads(proc.stdout)["villages"][0]
    assert proc.returncode == 1 and v["status"] == "invalid" and "多于住户数" in v["reasons"][0]
    proc = zhudian("zone", haidian_store, "--groups", "2", "--lock", "V001=9", check=False)
    assert proc.returncode == 2 and "没有小组 9" in proc.stderr
    proc = zhudian("zone", haidian_store, "--village", "nowhere", "--groups", "2", check=False)
    assert proc.returncode == 2 and "nowhere" in proc.stderr


def test_bad_roster_names_row(demo_store: Path, tmp_path: Path) -> None:
    bad = tmp_path / "花名册.csv"
    bad.write_text("姓名,角色,驻点村\n张三,队长,990101001009\n", encoding="utf-8")
    proc = zhudian("zone", demo_store, "--roster", bad, check=False)
    assert proc.returncode == 2 and "花名册.csv" in proc.stderr and "第 2 行" in proc.stderr
