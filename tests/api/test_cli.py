"""The ``zhudian`` command end to end: real processes, real files, a real SQLite store."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
import shapely

from api import store

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "data" / "demo"
HAIDIAN = ROOT / "tests" / "data" / "haidian"


def zhudian(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    """Run the installed console script (as a user would), capturing its output."""
    exe = Path(sys.executable).parent / "zhudian"
    proc = subprocess.run([str(exe), *map(str, args)], capture_output=True, text=True,
                          env={**os.environ, "PYTHONIOENCODING": "utf-8"}, timeout=300)
    if check and proc.returncode != 0:
        raise AssertionError(f"zhudian {' '.join(map(str, args))} exited {proc.returncode}:\n{proc.stderr}")
    return proc


def import_demo(db: str | Path) -> None:
    """``zhudian import`` of the four demo layers into ``db`` (a SQLite file or a URL)."""
    zhudian("import", db, "--villages", DEMO / "villages.gpkg", "--areas", DEMO / "areas.gpkg",
            "--households", DEMO / "households.gpkg", "--roads", DEMO / "roads.gpkg", "--quiet")


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    db = tmp_path_factory.mktemp("demo") / "demo.db"
    out = zhudian("import", db, "--villages", DEMO / "villages.gpkg", "--areas", DEMO / "areas.gpkg",
                  "--households", DEMO / "households.gpkg", "--roads", DEMO / "roads.gpkg", "--json")
    return db, json.loads(out.stdout)


def test_demo_import_places_or_reports_every_household(demo_db: tuple[Path, dict]) -> None:
    db, report = demo_db
    source = gpd.read_file(DEMO / "households.gpkg")
    assert report["households"] + report["households_unplaced"] == len(source)
    assert report["households"] == (report["households_in_area"] + report["households_attached"]
                                    + report["households_scattered"])
    assert len(report["unplaced"]) == report["households_unplaced"]
    for key in ("villages", "areas", "households", "households_in_area", "households_attached",
                "households_unplaced", "roads_km", "crs_in", "warnings"):
        assert key in report
    assert report["villages"] == 11 and report["roads_km"] == pytest.approx(1039, abs=2)
    engine = store.open_store(db, create=False)
    try:
        hh = store.load_households(engine)
        areas = store.load_areas(engine)
        villages = store.load_villages(engine)
        roads = store.load_roads(engine)
    finally:
        engine.dispose()
    assert set(hh["household_id"]) | {u["household"] for u in report["unplaced"]} == set(source["户编号"])
    for layer in (hh, areas, villages, roads):
        geoms = layer.geometry[layer.geometry.notna()]
        assert shapely.is_valid(geoms.values).all()
    # areas are disjoint after overlap resolution
    polys = areas[areas.geometry.notna()].to_crs(32632)
    tree = shapely.STRtree(polys.geometry.values)
    left, right = tree.query(polys.geometry.values, predicate="intersects")
    overlap = [shapely.area(shapely.intersection(polys.geometry.values[i], polys.geometry.values[j]))
               for i, j in zip(left, right) if i < j]
    assert max(overlap, default=0.0) < 1.0  # square metres
    # every household's area is in the store, in the household's village
    a_v = dict(zip(areas["area_id"], areas["village_id"]))
    assert all(a_v[a] == v for a, v in zip(hh["area_id"], hh["village_id"]))


def test_reimport_updates_adds_and_keeps(tmp_path: Path) -> None:
    db = tmp_path / "h.db"
    zhudian("import", db, "--areas", HAIDIAN / "villages.geojson", "--column", "area_id=village_id", "--quiet")
    csv = tmp_path / "住户.csv"
    pd.DataFrame({"户编号": ["H1", "H2"], "户主姓名": ["张三", "李四"], "经度": [116.3487, 116.3508],
                  "纬度": [40.0021, 40.0027]}).to_csv(csv, index=False)
    first = json.loads(zhudian("import", db, "--households", csv, "--json").stdout)
    assert first["saved"]["households"]["added"] == 2
    pd.DataFrame({"户编号": ["H1", "H3"], "户主姓名": ["张三丰", "王五"], "经度": [116.3487, 116.3485],
                  "纬度": [40.0021, 40.0007]}).to_csv(csv, index=False)
    second = json.loads(zhudian("import", db, "--households", csv, "--json").stdout)
    assert second["saved"]["households"] == {**second["saved"]["households"], "added": 1, "updated": 1, "deleted": 0}
    engine = store.open_store(db, create=False)
    try:
        hh = store.load_households(engine).set_index("household_id")
    finally:
        engine.dispose()
    assert hh.loc["H1", "head"] == "张三丰" and "H2" in hh.index and "H3" in hh.index
    third = json.loads(zhudian("import", db, "--households", csv, "--replace", "--json").stdout)
    assert third["saved"]["households"]["deleted"] == 1


def test_bad_input_exits_2_names_file_and_writes_nothing(tmp_path: Path) -> None:
    db = tmp_path / "x.db"
    zhudian("import", db, "--areas", HAIDIAN / "villages.geojson", "--column", "area_id=village_id", "--quiet")
    before = _digest(db)
    bad = tmp_path / "坏住户.csv"
    bad.write_text("户编号,经度,纬度\nH1,116.3487,40.0021\nH1,116.3508,abc\n", encoding="utf-8")
    proc = zhudian("import", db, "--households", bad, check=False)
    assert proc.returncode == 2
    assert "坏住户.csv" in proc.stderr and "第 3 行" in proc.stderr and "H1" in proc.stderr
    assert "没有写入任何数据" in proc.stderr
    assert _digest(db) == before
    # the same with --json: the problems as data
    proc = zhudian("import", db, "--households", bad, "--json", check=False)
    doc = json.loads(proc.stdout)
    assert proc.returncode == 2 and doc["ok"] is False and doc["problems"][0]["file"] == "坏住户.csv"
    # a failed first import leaves no store file behind
    fresh = tmp_path / "new.db"
    assert zhudian("import", fresh, "--households", bad, check=False).returncode == 2
    assert not fresh.exists()


def test_dry_run_writes_nothing(tmp_path: Path) -> None:
    db = tmp_path / "dry.db"
    proc = zhudian("import", db, "--areas", HAIDIAN / "villages.geojson", "--column", "area_id=village_id",
                   "--households", HAIDIAN / "households.geojson", "--dry-run", "--json")
    report = json.loads(proc.stdout)
    assert report["dry_run"] is True and report["households"] + report["households_unplaced"] == 152
    assert not db.exists()


def test_no_layer_is_a_usage_error(tmp_path: Path) -> None:
    proc = zhudian("import", tmp_path / "x.db", check=False)
    assert proc.returncode == 2 and "--areas" in proc.stderr


@pytest.mark.parametrize("suffix", [".geojson", ".gpkg", ".csv"])
def test_export_round_trip(demo_db: tuple[Path, dict], tmp_path: Path, suffix: str) -> None:
    db, _ = demo_db
    out = tmp_path / f"住户{suffix}"
    zhudian("export", db, "households", "--out", out, "--quiet")
    if suffix == ".csv":
        back = pd.read_csv(out, dtype=str, encoding="utf-8-sig")
        assert {"household_id", "lon", "lat", "head"} <= set(back.columns)
    else:
        back = gpd.read_file(out)
        assert back.crs.to_epsg() == 4326
    src = gpd.read_file(DEMO / "households.gpkg").set_index("户编号")
    back = back.set_index("household_id")
    assert len(back) == len(src)
    some = src.index[:50]
    assert list(back.loc[some, "head"]) == list(src.loc[some, "户主姓名"])  # Chinese text intact
    # re-importing an exported file is a no-op
    if suffix == ".csv":
        again = json.loads(zhudian("import", db, "--households", out, "--dry-run", "--json").stdout)
        assert again["households"] == len(src) - again["households_unplaced"]


def test_export_areas_and_unknown_format(demo_db: tuple[Path, dict], tmp_path: Path) -> None:
    db, _ = demo_db
    out = tmp_path / "areas.geojson"
    zhudian("export", db, "areas", "--out", out, "--quiet")
    back = gpd.read_file(out)
    assert {"area_id", "village_id", "name", "kind"} <= set(back.columns)
    assert "散居户" in "".join(back["name"])
    proc = zhudian("export", db, "areas", "--out", tmp_path / "areas.kml", check=False)
    assert proc.returncode == 2 and ".geojson" in proc.stderr


def test_import_from_openstreetmap_extract(tmp_path: Path) -> None:
    db = tmp_path / "osm.db"
    osm = ROOT / "tests" / "data" / "osm" / "jiangxi-guixi-2024-11.osm.gz"
    report = json.loads(zhudian("import", db, "--osm", osm, "--json").stdout)
    assert report["households"] == 152 and report["households_unplaced"] == 0
    assert report["roads_km"] > 50 and report["villages"] == 1
    again = json.loads(zhudian("import", db, "--osm", osm, "--json").stdout)
    assert again["saved"]["households"]["unchanged"] == 152  # re-import changes nothing
    proc = zhudian("import", db, "--osm", osm, "--bbox", "0,0,1,1", check=False)
    assert proc.returncode == 2 and "jiangxi-guixi-2024-11.osm.gz" in proc.stderr
