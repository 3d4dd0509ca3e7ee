"""Tests of api.store: round trips, upserts, replace, atomicity.

Each test runs on both backends (``target``, see conftest.py): a real SQLite file in tmp_path, and a
schema of a real PostgreSQL + PostGIS database (skipped without one, failed under CI).
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path

import geopandas
import numpy as np
import pandas as pd
import pyproj
import pytest
import shapely
from geopandas.testing import assert_geodataframe_equal
from shapely.geometry import LineString, MultiLineString, MultiPolygon, Point, Polygon
from sqlalchemy import create_engine, event, inspect, insert, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from api.store import (
    ImportBatch,
    LayerCounts,
    _write_session,
    load_areas,
    load_households,
    load_roads,
    load_villages,
    open_store,
    save_batch,
    summary,
)
from api.store.models import SCHEMA_VERSION, Household, ImportLog, Meta, Visit
from geo.layers import AREA_COLUMNS, HOUSEHOLD_COLUMNS, ROAD_COLUMNS, VILLAGE_COLUMNS

GEOD = pyproj.Geod(ellps="WGS84")


def box(x: float, y: float, d: float = 0.01) -> Polygon:
    return Polygon([(x, y), (x + d, y), (x + d, y + d), (x, y + d)])


def villages() -> geopandas.GeoDataFrame:
    return geopandas.GeoDataFrame(
        {
            "village_id": ["110108001001", "110108001002", "110108001003"],
            "name": ["城关村", "张家社区", "无边界村"],
            "town": ["城关镇", None, "城关镇"],
            "depot_lon": [116.305, np.nan, 116.405],
            "depot_lat": [39.905, np.nan, 39.905],
            "attrs": [{"类别": "村", "人口": 1200}, {}, {"备注": ["甲", "乙"], "x": None}],
            "geometry": [
                box(116.3, 39.9, 0.02),
                MultiPolygon([box(116.35, 39.9), box(116.37, 39.9)]),
                None,
            ],
        },
        crs="EPSG:4326",
    )


def areas() -> geopandas.GeoDataFrame:
    return geopandas.GeoDataFrame(
        {
            "area_id": ["A1", "A2", "110108001001-散居户", "A3"],
            "village_id": ["110108001001", "110108001001", "110108001001", "110108001002"],
            "name": ["王家庄", "幸福小区", "城关村散居户", "张家东区"],
            "kind": ["natural_village", "compound", "scattered", "compound"],
            "attrs": [{"楼栋": 12}, {}, {}, {"物业": "某公司"}],
            "geometry": [
                box(116.3, 39.9),
                box(116.31, 39.91),
                None,
                MultiPolygon([box(116.35, 39.9, 0.005), box(116.37, 39.9, 0.005)]),
            ],
        },
        crs="EPSG:4326",
    )


def households() -> geopandas.GeoDataFrame:
    return geopandas.GeoDataFrame(
        {
            "household_id": ["H1", "H2", "H3", "H4", "H5", "H6"],
            "area_id": ["A1", "A1", "A2", "110108001001-散居户", "A3", None],
            "village_id": ["110108001001"] * 4 + ["110108001002", "110108001003"],
            "address": ["王家庄1号", "王家庄2号", "幸福小区3栋101", "村北", "张家东区5号", None],
            "head": ["王堃", "张䶮", "𠮷田", "李四", "赵六", "钱七"],
            "phone": ["13800000001", None, "13800000003", None, None, "0755-1234"],
            "size": pd.array([3, pd.NA, 1, 5, 2, pd.NA], dtype="Int64"),
            "tags": ["elderly_alone,low_income", "", "evening_only", "", "disabled", "自定义"],
            "placement": ["in_area", "in_area", "attached", "scattered", "in_area", "scattered"],
            "attrs": [{"楼层": 2, "备注": "独居"}, {}, {}, {"nested": {"a": [1, 2]}}, {}, {}],
            "geometry": [
                Point(116.302, 39.902),
                Point(116.303, 39.903),
                Point(116.312, 39.912),
                Point(116.318, 39.918),
                Point(116.351, 39.901),
                Point(116.401, 39.901),
            ],
        },
        crs="EPSG:4326",
    )


def roads() -> geopandas.GeoDataFrame:
    return geopandas.GeoDataFrame(
        {
            "road_id": ["R1", "R2", "R3"],
            "name": ["人民路", None, "东环路"],
            "highway": ["residential", None, "footway"],
            "attrs": [{"u": 1, "v": 2}, {}, {}],
            "geometry": [
                LineString([(116.30, 39.90), (116.31, 39.90), (116.31, 39.91)]),
                LineString([(116.50, 40.00), (116.51, 40.00)]),
                MultiLineString(
                    [[(116.40, 39.90), (116.40, 39.91)], [(116.41, 39.90), (116.42, 39.90)]]
                ),
            ],
        },
        crs="EPSG:4326",
    )


def full_batch(**kwargs) -> ImportBatch:
    return ImportBatch(
        villages=villages(), areas=areas(), households=households(), roads=roads(), **kwargs
    )


@pytest.fixture
def store(target):
    engine = open_store(target.url)
    yield engine
    engine.dispose()


def contents(engine) -> dict[str, geopandas.GeoDataFrame]:
    return {
        "villages": load_villages(engine),
        "areas": load_areas(engine),
        "households": load_households(engine),
        "roads": load_roads(engine),
    }


def assert_same_contents(before: dict, after: dict) -> None:
    assert before.keys() == after.keys()
    for name in before:
        assert_geodataframe_equal(before[name], after[name])


def file_hash(engine, target) -> str | None:
    """Hash of the SQLite file after closing every connection (which checkpoints the WAL)."""
    engine.dispose()
    path = target.path
    if path is None:
        return None  # PostgreSQL: the rows (target.dump()) are what is compared
    assert not Path(f"{path}-wal").exists()
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --- opening ---------------------------------------------------------------------------------


STORE_TABLES = {
    "meta", "towns", "villages", "areas", "households", "roads", "members", "groups",
    "group_members", "zone_plans", "zones", "zone_households", "month_plans", "sessions",
    "stops", "visits", "problems", "import_log",
}


def test_open_store_creates_schema_version_and_revision(store, target):
    if target.sqlite:
        assert target.path.exists()
    with store.connect() as conn:
        assert conn.scalar(select(Meta.value).where(Meta.key == "schema_version")) == str(
            SCHEMA_VERSION
        )
        assert conn.scalar(text("SELECT version_num FROM alembic_version")) == f"{SCHEMA_VERSION:04d}"
        tables = set(inspect(conn).get_table_names())
    assert STORE_TABLES | {"alembic_version"} <= tables


def test_sqlite_pragmas(tmp_path):
    store = open_store(tmp_path / "店.db")
    with store.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
    store.dispose()


def test_foreign_keys_are_enforced(store):
    with pytest.raises(IntegrityError, match="(?i)FOREIGN KEY"), Session(store) as session:
        session.execute(
            insert(Household.__table__),
            [{"household_id": "X", "area_fk": 999, "placement": "in_area", "attrs": {}}],
        )
        session.commit()


def test_open_store_without_create_needs_the_file(tmp_path):
    missing = tmp_path / "nowhere" / "missing.db"
    with pytest.raises(FileNotFoundError, match="找不到存储文件"):
        open_store(missing, create=False)
    assert not missing.exists() and not missing.parent.exists()

    db = tmp_path / "店.db"
    open_store(db).dispose()
    engine = open_store(f"sqlite:///{db}", create=False)
    save_batch(engine, ImportBatch(villages=villages()))
    assert len(load_villages(engine)) == 3
    engine.dispose()


def test_open_store_without_create_needs_a_store(target):
    if target.sqlite:
        target.path.touch()  # an empty database
    with pytest.raises(ValueError, match="不是驻点存储"):
        open_store(target.url, create=False)
    open_store(target.url).dispose()
    engine = open_store(target.url, create=False)
    save_batch(engine, ImportBatch(villages=villages()))
    assert len(load_villages(engine)) == 3
    engine.dispose()


def test_open_store_refuses_a_foreign_database(tmp_path):
    other = tmp_path / "other.db"
    con = sqlite3.connect(other)
    con.execute("CREATE TABLE t (x)")
    con.close()
    with pytest.raises(ValueError, match="不是驻点存储"):
        open_store(other, create=False)
    not_sqlite = tmp_path / "notes.db"
    not_sqlite.write_text("这不是数据库" * 100, encoding="utf-8")
    with pytest.raises(ValueError, match="无法打开"):
        open_store(not_sqlite)


def test_open_store_refuses_tables_of_its_names_without_a_version(target):
    """A database holding e.g. a ``households`` table of something else is not taken over."""
    engine = create_engine(target.url if not target.sqlite else f"sqlite:///{target.path}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE households (x INTEGER)"))
    engine.dispose()
    with pytest.raises(ValueError, match="已有表 households，但不是驻点存储"):
        open_store(target.url)


def test_open_store_refuses_another_schema_version(store, target):
    with store.begin() as conn:
        conn.execute(text("UPDATE meta SET value = '999' WHERE key = 'schema_version'"))
    store.dispose()
    with pytest.raises(RuntimeError, match="999"):
        open_store(target.url)


def test_writers_go_one_at_a_time(store):
    """A second import waits for the first write to commit (SQLite BEGIN IMMEDIATE, PostgreSQL
    advisory lock): what it checked before writing stays true while it writes."""
    save_batch(store, ImportBatch(villages=villages()))
    done = threading.Event()
    errors: list[BaseException] = []

    def second() -> None:
        try:
            save_batch(store, ImportBatch(areas=areas()))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        done.set()

    with _write_session(store) as session:
        session.execute(text("UPDATE villages SET name = '改名村' WHERE village_id = '110108001001'"))
        thread = threading.Thread(target=second)
        thread.start()
        assert not done.wait(0.5), "the second writer did not wait for the first"
    thread.join(timeout=30)
    assert done.is_set() and not errors
    assert len(load_areas(store)) == 4
    assert load_villages(store)["name"].iloc[0] == "改名村"


# --- round trip ------------------------------------------------------------------------------


def test_round_trip_of_every_layer(store):
    counts = save_batch(store, full_batch())
    assert counts.villages == LayerCounts(added=3)
    assert counts.areas == LayerCounts(added=4)
    assert counts.households == LayerCounts(added=6)
    assert counts.roads == LayerCounts(added=3)
    assert counts.towns_added == 1

    loaded = contents(store)
    expected = {
        "villages": villages(), "areas": areas(), "households": households(), "roads": roads()
    }
    columns = {
        "villages": VILLAGE_COLUMNS, "areas": AREA_COLUMNS,
        "households": HOUSEHOLD_COLUMNS, "roads": ROAD_COLUMNS,
    }
    for name, frame in loaded.items():
        assert list(frame.columns) == columns[name]
        assert frame.crs == "EPSG:4326"
        assert_geodataframe_equal(frame, expected[name])
    hh = loaded["households"]
    assert hh["size"].dtype == "Int64"
    assert hh["head"].tolist()[:3] == ["王堃", "张䶮", "𠮷田"]
    assert hh.loc[0, "attrs"] == {"楼层": 2, "备注": "独居"}
    assert loaded["villages"]["geometry"].iloc[2] is None
    assert loaded["areas"]["geometry"].iloc[3].geom_type == "MultiPolygon"


def test_attrs_are_stored_as_plain_json(store):
    hh = households().iloc[:1].copy()
    hh["attrs"] = [{"n": np.int64(3), "x": np.float64(np.nan), "ok": np.bool_(True), "t": (1, 2)}]
    save_batch(store, ImportBatch(villages=villages(), areas=areas(), households=hh))
    assert load_households(store).loc[0, "attrs"] == {"n": 3, "x": None, "ok": True, "t": [1, 2]}
    with store.connect() as conn:
        raw = conn.scalar(
            text("SELECT CAST(attrs AS TEXT) FROM villages WHERE village_id = '110108001001'")
        )
    assert "类别" in raw  # Chinese kept readable in the database, not \\u-escaped


def test_load_filters_by_village_and_bbox(store):
    save_batch(store, full_batch())
    v1 = ["110108001001"]
    assert load_villages(store, village_ids=v1)["village_id"].tolist() == v1
    assert load_areas(store, village_ids=v1)["area_id"].tolist() == ["A1", "A2", "110108001001-散居户"]
    assert load_households(store, village_ids=["110108001002", "110108001003"])[
        "household_id"
    ].tolist() == ["H5", "H6"]
    assert load_households(store, village_ids="110108001003")["household_id"].tolist() == ["H6"]
    empty = load_households(store, village_ids=[])
    assert empty.empty and list(empty.columns) == HOUSEHOLD_COLUMNS
    assert empty["size"].dtype == "Int64" and empty.crs == "EPSG:4326"
    window = (116.305, 39.895, 116.405, 39.95)
    assert load_roads(store, bbox=window)["road_id"].tolist() == ["R1", "R3"]
    assert load_roads(store, bbox=(116.505, 39.99, 116.6, 40.1))["road_id"].tolist() == ["R2"]
    assert load_roads(store, bbox=(100, 20, 101, 21)).empty
    with pytest.raises(ValueError, match="bbox"):
        load_roads(store, bbox=(117, 40, 116, 41))


def test_summary_counts_and_geodesic_road_length(store):
    save_batch(store, full_batch())
    got = summary(store)
    metres = sum(GEOD.geometry_length(g) for g in roads().geometry)
    assert got["roads_km"] == pytest.approx(metres / 1000, abs=5e-4)  # rounded to metres
    assert 3.0 < got["roads_km"] < 5.0  # 5 segments of ~0.85-1.1 km
    assert {k: v for k, v in got.items() if k != "roads_km"} == {
        "towns": 1, "villages": 3, "areas": 4, "households": 6, "roads": 3,
        "households_in_area": 3, "households_attached": 1, "households_scattered": 2,
        "households_unplaced": 0,
    }


# --- re-import and replace --------------------------------------------------------------------


def test_reimport_updates_changed_adds_new_and_deletes_nothing(store):
    save_batch(store, full_batch())
    hh = households()
    hh.loc[1, "head"] = "张䶮（已更正）"
    hh.loc[1, "size"] = 4
    hh = hh.drop(index=5).reset_index(drop=True)  # H6 missing from this file: kept
    new = households().iloc[[0]].assign(household_id="H7", head="新户")
    hh = pd.concat([hh, new], ignore_index=True)

    counts = save_batch(store, ImportBatch(villages=villages(), households=hh))
    assert counts.households == LayerCounts(added=1, updated=1, deleted=0, unchanged=4)
    assert counts.villages == LayerCounts(unchanged=3)
    assert counts.areas is None and counts.roads is None

    loaded = load_households(store).set_index("household_id")
    assert list(loaded.index) == ["H1", "H2", "H3", "H4", "H5", "H6", "H7"]
    assert loaded.loc["H2", "head"] == "张䶮（已更正）" and loaded.loc["H2", "size"] == 4
    assert loaded.loc["H7", "head"] == "新户"
    assert loaded.loc["H6", "head"] == "钱七"


def test_moving_a_household_to_a_new_area_updates_its_reference(store):
    save_batch(store, full_batch())
    new_area = areas().iloc[[0]].assign(area_id="A9", name="新片区")
    hh = households().iloc[[0]].assign(area_id="A9", geometry=[Point(116.3001, 39.9001)])
    counts = save_batch(store, ImportBatch(areas=new_area, households=hh))
    assert counts.areas == LayerCounts(added=1) and counts.households == LayerCounts(updated=1)
    h1 = load_households(store).set_index("household_id").loc["H1"]
    assert h1["area_id"] == "A9" and h1.geometry.equals(Point(116.3001, 39.9001))


def test_replace_deletes_missing_rows_of_the_given_layers_only(store):
    save_batch(store, full_batch())
    hh = households()
    kept = hh[hh["household_id"].isin(["H1", "H3"])]
    counts = save_batch(store, ImportBatch(households=kept, roads=roads().iloc[[2]]), replace=True)
    assert counts.households == LayerCounts(deleted=4, unchanged=2)
    assert counts.roads == LayerCounts(deleted=2, unchanged=1)
    assert load_households(store)["household_id"].tolist() == ["H1", "H3"]
    assert load_roads(store)["road_id"].tolist() == ["R3"]
    assert len(load_areas(store)) == 4 and len(load_villages(store)) == 3


def test_replace_deletes_households_before_their_areas_and_villages(store):
    save_batch(store, full_batch())
    keep_v = villages().iloc[[0]]
    keep_a = areas().iloc[[0, 1, 2]]
    keep_h = households().iloc[[0, 1, 2, 3]]
    batch = ImportBatch(villages=keep_v, areas=keep_a, households=keep_h)
    counts = save_batch(store, batch, replace=True)
    assert (counts.villages.deleted, counts.areas.deleted, counts.households.deleted) == (2, 1, 2)
    assert load_villages(store)["village_id"].tolist() == ["110108001001"]
    assert load_areas(store)["area_id"].tolist() == ["A1", "A2", "110108001001-散居户"]
    assert load_households(store)["household_id"].tolist() == ["H1", "H2", "H3", "H4"]


def test_replace_refuses_to_orphan_households_not_in_the_batch(store, target):
    save_batch(store, full_batch())
    before, before_dump = contents(store), target.dump()
    with pytest.raises(ValueError) as info:
        save_batch(store, ImportBatch(areas=areas().iloc[[1, 2, 3]]), replace=True)
    message = str(info.value)
    assert "A1" in message and "households" in message and "H1" in message
    assert_same_contents(before, contents(store))
    assert target.dump() == before_dump


def test_replace_refuses_to_delete_households_with_visits(store, target):
    save_batch(store, full_batch())
    with Session(store) as session, session.begin():
        h2 = session.scalar(select(Household.id).where(Household.household_id == "H2"))
        session.add(Visit(household_fk=h2, date=pd.Timestamp("2025-03-04").date(), outcome="met"))
    before = target.dump()
    with pytest.raises(ValueError, match="visits"):
        save_batch(store, ImportBatch(households=households().iloc[[0]]), replace=True)
    assert target.dump() == before


def test_replace_refuses_references_to_rows_it_would_delete(store):
    save_batch(store, full_batch())
    only_a2 = areas().iloc[[1]]
    with pytest.raises(ValueError, match=r"H1 引用的 area_id 'A1' 不在本次导入里"):
        batch = ImportBatch(areas=only_a2, households=households().iloc[[0]])
        save_batch(store, batch, replace=True)


def test_replace_layers_replaces_only_the_layers_named(store):
    save_batch(store, full_batch())
    batch = ImportBatch(households=households().iloc[[0]], roads=roads().iloc[[0]])
    counts = save_batch(store, batch, replace_layers=("roads",))
    assert counts.roads == LayerCounts(deleted=2, unchanged=1)
    assert counts.households == LayerCounts(unchanged=1)
    assert load_roads(store)["road_id"].tolist() == ["R1"]
    assert len(load_households(store)) == 6
    with pytest.raises(ValueError, match="未知图层"):
        save_batch(store, batch, replace_layers=("road",))


def test_replacing_areas_allows_households_of_the_batch_to_move_away(store, target):
    save_batch(store, full_batch())
    a = areas().iloc[[1, 2, 3]]  # A1 goes
    moved = households().iloc[[0, 1]].assign(area_id="A2")  # H1, H2 leave A1
    counts = save_batch(store, ImportBatch(areas=a, households=moved), replace_layers=["areas"])
    assert counts.areas.deleted == 1 and counts.households == LayerCounts(updated=2)
    assert set(load_households(store)["area_id"].dropna()) == {"A2", "A3", "110108001001-散居户"}

    save_batch(store, ImportBatch(areas=areas()))  # A1 back, and H3 into it
    save_batch(store, ImportBatch(households=households().iloc[[2]].assign(area_id="A1")))
    before = target.dump()
    with pytest.raises(ValueError, match=r"A1 仍被 households 的 1 条记录引用（如 H3）"):
        save_batch(store, ImportBatch(areas=a, households=moved), replace_layers=["areas"])
    assert target.dump() == before


# --- what a new village's town is ------------------------------------------------------------


def test_batch_town_fills_new_villages_only(store):
    v = villages().drop(columns="town")
    save_batch(store, ImportBatch(villages=v.iloc[[0]]))
    assert load_villages(store)["town"].isna().all()
    counts = save_batch(store, ImportBatch(villages=v, town="河西镇"))
    assert counts.villages == LayerCounts(added=2, unchanged=1) and counts.towns_added == 1
    assert load_villages(store)["town"].tolist()[1:] == ["河西镇", "河西镇"]
    assert pd.isna(load_villages(store)["town"].iloc[0])

    save_batch(store, ImportBatch(villages=villages()))  # gives 城关镇 to 001 and 003
    counts = save_batch(store, ImportBatch(villages=v, town="别的镇"))  # no town: keep stored
    assert counts.villages == LayerCounts(unchanged=3) and counts.towns_added == 0
    assert load_villages(store)["town"].tolist() == ["城关镇", "河西镇", "城关镇"]


# --- refused batches leave the store as it was -----------------------------------------------


def test_unknown_references_are_named_and_nothing_is_written(store, target):
    save_batch(store, ImportBatch(villages=villages()))
    before = target.dump()
    hh = households()
    hh.loc[2, "area_id"] = "A404"
    with pytest.raises(ValueError) as info:
        save_batch(store, ImportBatch(areas=areas(), households=hh))
    assert "H3" in str(info.value) and "A404" in str(info.value)
    a = areas()
    a.loc[0, "village_id"] = "999"
    with pytest.raises(ValueError, match=r"A1 引用的 village_id '999'"):
        save_batch(store, ImportBatch(areas=a))
    assert target.dump() == before


def test_household_village_must_match_its_area(store):
    hh = households()
    hh.loc[0, "village_id"] = "110108001002"
    with pytest.raises(ValueError, match="H1 的 village_id '110108001002' 与其 area 'A1'"):
        save_batch(store, ImportBatch(villages=villages(), areas=areas(), households=hh))
    assert load_villages(store).empty


def set_column(layer: str, column: str, values: list) -> Callable[[ImportBatch], None]:
    def change(batch: ImportBatch) -> None:
        getattr(batch, layer)[column] = values

    return change


def set_layer(layer: str, how: Callable) -> Callable[[ImportBatch], None]:
    def change(batch: ImportBatch) -> None:
        setattr(batch, layer, how(getattr(batch, layer)))

    return change


@pytest.mark.parametrize(
    "change, match",
    [
        (set_column("households", "household_id", ["H1", "H1", "H3", "H4", "H5", "H6"]), "重复: H1"),
        (set_column("households", "household_id", ["H1", None, "H3", "H4", "H5", "H6"]), "第 2 行没有"),
        (set_column("roads", "road_id", [1.0, 2.0, 3.0]), "road_id 是浮点数"),
        (set_layer("roads", lambda r: r.to_crs(3857)), "EPSG:4326"),
        (set_layer("areas", lambda a: a.drop(columns="kind")), "缺少列 kind"),
        (set_column("households", "attrs", ["x", {}, {}, {}, {}, {}]), "attrs 列须为字典，第 1 行"),
        (set_column("households", "size", [1.5, 1, 1, 1, 1, 1]), "size 列须为整数"),
    ],
    ids=[
        "duplicate-id", "missing-id", "float-id", "projected", "missing-column", "bad-attrs",
        "fractional-size",
    ],
)
def test_malformed_layers_are_refused(store, target, change, match):
    save_batch(store, ImportBatch(villages=villages()))
    before = target.dump()
    batch = full_batch()
    change(batch)
    with pytest.raises(ValueError, match=match):
        save_batch(store, batch)
    assert target.dump() == before


@pytest.mark.parametrize(
    "column, value, match",
    [
        ("kind", "farm", "ck_areas_kind"),
        ("size", -1, "ck_households_size"),
        ("placement", "x", "ck_households_placement"),
    ],
)
def test_values_refused_by_the_database_roll_back_everything(store, target, column, value, match):
    """Villages and areas are written before the households row the database refuses."""
    save_batch(store, full_batch())
    before, before_dump = contents(store), target.dump()
    batch = full_batch()
    batch.villages = pd.concat([batch.villages, villages().iloc[[0]].assign(village_id="V-new")])
    frame = batch.areas if column == "kind" else batch.households
    frame.loc[len(frame) - 1, column] = value
    with pytest.raises(ValueError, match=match) as info:
        save_batch(store, batch)
    assert "存储保持原样" in str(info.value)
    assert_same_contents(before, contents(store))
    assert target.dump() == before_dump


def changing_batch() -> ImportBatch:
    """Adds, updates and (with replace) deletes in every layer."""
    new_village = villages().iloc[[0]].assign(village_id="V4", name="新村")
    v = pd.concat([villages(), new_village], ignore_index=True)
    new_area = areas().iloc[[0]].assign(area_id="A4", village_id="V4")
    a = pd.concat([areas(), new_area], ignore_index=True)
    hh = households()
    hh.loc[0, "head"] = "王堃（改）"
    hh = pd.concat(
        [
            hh.drop(index=1),
            households().iloc[[0]].assign(household_id="H7", area_id="A4", village_id="V4"),
        ],
        ignore_index=True,
    )
    r = roads()
    r.loc[0, "name"] = "人民路（改）"
    r = pd.concat([r.drop(index=1), roads().iloc[[0]].assign(road_id="R4")], ignore_index=True)
    return ImportBatch(villages=v, areas=a, households=hh, roads=r, files={"households": "户.csv"})


@pytest.mark.parametrize(
    "statement",
    [
        "INSERT INTO areas",
        "UPDATE households",
        "INSERT INTO roads",
        "DELETE FROM households",
        "DELETE FROM villages",
        "INSERT INTO import_log",
    ],
)
def test_a_failure_midway_leaves_the_store_as_it_was(store, target, statement):
    save_batch(store, full_batch())
    if statement == "DELETE FROM villages":
        save_batch(store, ImportBatch(villages=villages().iloc[[0]].assign(village_id="V-old")))
    before, before_dump, before_hash = contents(store), target.dump(), file_hash(store, target)

    fired: list[str] = []

    def fail(conn, cursor, sql, parameters, context, executemany):
        if sql.startswith(statement):
            fired.append(sql)
            raise RuntimeError("injected failure")

    event.listen(store, "before_cursor_execute", fail)
    try:
        with pytest.raises(RuntimeError, match="injected failure"):
            save_batch(store, changing_batch(), replace=True)
    finally:
        event.remove(store, "before_cursor_execute", fail)
    assert fired, f"no {statement} was issued: the test did not test anything"

    assert_same_contents(before, contents(store))
    assert target.dump() == before_dump
    assert file_hash(store, target) == before_hash

    # the same batch goes through once nothing interferes
    counts = save_batch(store, changing_batch(), replace=True)
    assert counts.households == LayerCounts(added=1, updated=1, deleted=1, unchanged=4)
    assert counts.roads == LayerCounts(added=1, updated=1, deleted=1, unchanged=1)
    assert target.dump() != before_dump


def test_import_log_records_files_counts_and_warnings(store):
    batch = changing_batch()
    batch.warnings = ["户.csv: 第 3 行 电话格式不对"]
    counts = save_batch(store, batch)
    with Session(store) as session:
        log = session.get(ImportLog, counts.import_id)
        assert log is not None
        assert log.files == {"households": "户.csv"}
        assert log.warnings == ["户.csv: 第 3 行 电话格式不对"]
        assert log.counts == counts.as_dict()
        assert log.counts["households"]["added"] == 6 and log.replaced == []
    counts = save_batch(store, ImportBatch(roads=roads()), replace_layers=["roads"])
    with Session(store) as session:
        assert session.get(ImportLog, counts.import_id).replaced == ["roads"]


# --- scale ----------------------------------------------------------------------------------


def synthetic_households(n: int, seed: int = 0) -> geopandas.GeoDataFrame:
    rng = np.random.default_rng(seed)
    xy = rng.uniform([116.30, 39.90], [116.31, 39.91], size=(n, 2))
    sizes = pd.array(rng.integers(1, 7, n), dtype="Int64")
    sizes[rng.random(n) < 0.1] = pd.NA
    return geopandas.GeoDataFrame(
        {
            "household_id": [f"H{i:06d}" for i in range(n)],
            "area_id": "A1",
            "village_id": "110108001001",
            "address": [f"王家庄{i}号" for i in range(n)],
            "head": np.where(rng.random(n) < 0.5, "王堃", "张䶮"),
            "phone": [None if i % 3 else f"138{i:08d}" for i in range(n)],
            "size": sizes,
            "tags": np.where(rng.random(n) < 0.2, "elderly_alone", ""),
            "placement": "in_area",
            "attrs": [{"序号": i} for i in range(n)],
            "geometry": shapely.points(xy),
        },
        crs="EPSG:4326",
    )


def test_bulk_save_of_20k_households(store):
    save_batch(store, ImportBatch(villages=villages(), areas=areas()))
    hh = synthetic_households(20_000)
    assert save_batch(store, ImportBatch(households=hh)).households == LayerCounts(added=20_000)
    hh.loc[hh.index[::1000], "head"] = "已改"
    again = save_batch(store, ImportBatch(households=hh))
    assert again.households == LayerCounts(updated=20, unchanged=19_980)
    loaded = load_households(store)
    assert_geodataframe_equal(loaded, hh)
    assert summary(store)["households"] == 20_000


def test_bulk_update_of_every_household_round_trips(store):
    """Thousands of changed records go through the bulk update (PostgreSQL: COPY into a
    temporary table, then one UPDATE); what is read back is what was saved."""
    save_batch(store, ImportBatch(villages=villages(), areas=areas()))
    hh = synthetic_households(3_000, seed=1)
    save_batch(store, ImportBatch(households=hh))
    hh["head"] = [f"户主{i}" for i in range(len(hh))]
    hh["size"] = pd.array([None if i % 7 == 0 else i % 9 for i in range(len(hh))], dtype="Int64")
    hh["area_id"] = ["A2" if i % 2 else "A1" for i in range(len(hh))]
    hh["attrs"] = [{"新": i} if i % 5 else {} for i in range(len(hh))]
    hh["geometry"] = hh.geometry.translate(0.001, 0.001)
    counts = save_batch(store, ImportBatch(households=hh))
    assert counts.households == LayerCounts(updated=3_000)
    assert_geodataframe_equal(load_households(store), hh)
    again = save_batch(store, ImportBatch(households=hh))
    assert again.households == LayerCounts(unchanged=3_000)


@pytest.mark.parametrize("update", [False, True], ids=["insert", "update"])
def test_a_value_refused_deep_in_a_bulk_write_rolls_back_everything(store, target, update):
    """One bad row among thousands (PostgreSQL: in the middle of a COPY): the import is refused
    with the database's reason and nothing of it is written."""
    save_batch(store, full_batch())
    hh = synthetic_households(5_000, seed=2)
    if update:
        save_batch(store, ImportBatch(households=hh))
        hh["head"] = "已改"
    before, before_dump = contents(store), target.dump()
    hh.loc[4_321, "placement"] = "nowhere"
    batch = ImportBatch(villages=villages().assign(name="改名"), households=hh)
    with pytest.raises(ValueError, match="ck_households_placement") as info:
        save_batch(store, batch)
    assert "存储保持原样" in str(info.value)
    assert_same_contents(before, contents(store))
    assert target.dump() == before_dump
