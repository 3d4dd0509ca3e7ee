"""Tests of the synthetic city generator (bench/city.py): determinism, exact totals, streaming,
layout, and an end-to-end import + zoning of a small city through the product's own functions."""

from __future__ import annotations

import csv
import json
import re
import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from geopandas.testing import assert_geodataframe_equal

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.city import (  # noqa: E402
    LAYERS,
    METRIC_CRS,
    ROSTER_HEADER,
    count_groups,
    iter_villages,
    main,
    make_city,
    make_city_village,
    plan_city,
    write_city,
)

SMALL = dict(households_per_village=800)


@pytest.fixture(scope="module")
def city():
    return make_city(5000, seed=5, villages_per_town=3, **SMALL)


def assert_same_city(a, b) -> None:
    for k in LAYERS:
        assert_geodataframe_equal(getattr(a, k), getattr(b, k))
    pd.testing.assert_frame_equal(a.roster, b.roster)


def test_same_seed_same_city_other_seed_other_city(city) -> None:
    assert_same_city(city, make_city(5000, seed=5, villages_per_town=3, **SMALL))
    other = make_city(5000, seed=6, villages_per_town=3, **SMALL)
    assert len(other.households) == 5000
    for k in LAYERS:
        mine, theirs = (shapely.to_wkb(np.asarray(getattr(c, k).geometry)) for c in (city, other))
        assert not set(mine) & set(theirs)  # not one shape in common
    assert not other.households["tags"].equals(city.households["tags"])


@pytest.mark.parametrize(("households", "kw"),
                         [(300, {}), (1, {}), (2_345, SMALL), (9_999, {"households_per_village": 400})])
def test_household_total_is_exact(households: int, kw: dict) -> None:
    plan = plan_city(households, seed=3, **kw)
    assert plan.sizes.sum() == households
    c = make_city(households, seed=3, **kw)
    assert len(c.households) == households
    assert c.households["household_id"].is_unique and c.areas["area_id"].is_unique
    assert c.villages["village_id"].is_unique and c.roads["road_id"].is_unique
    assert len(c.villages) == plan.n_villages
    assert set(c.households["village_id"]) == set(c.villages["village_id"])


def test_one_village_of_300() -> None:
    c = make_city(300)
    assert len(c.villages) == 1 and c.plan.n_towns == 1 and c.n_groups == 1
    assert c.villages["village_id"].tolist() == ["C00-T00-V000"]
    assert c.roster["角色"].tolist() == ["驻点领导", "团队成员", "辅助团队成员"]
    assert c.roster["职务"].iat[0] == "镇党委书记"


def test_iter_villages_streams_the_whole_city(city) -> None:
    parts = list(iter_villages(5000, seed=5, villages_per_town=3, **SMALL))
    assert [p.village_id for p in parts] == city.villages["village_id"].tolist()
    for k in LAYERS:
        streamed = gpd.GeoDataFrame(pd.concat([getattr(p, k) for p in parts], ignore_index=True), crs=4326)
        assert_geodataframe_equal(streamed, getattr(city, k))
    pd.testing.assert_frame_equal(pd.concat([p.roster for p in parts], ignore_index=True), city.roster)
    # one village on its own: the same village, only placed elsewhere
    alone = make_city_village(city.plan, 2)
    pd.testing.assert_frame_equal(alone.households.drop(columns="geometry"),
                                  parts[2].households.drop(columns="geometry"))
    pd.testing.assert_frame_equal(alone.roster, parts[2].roster)
    a = alone.households.to_crs(METRIC_CRS).geometry
    b = parts[2].households.to_crs(METRIC_CRS).geometry
    shift = np.c_[b.x - a.x, b.y - a.y]
    np.testing.assert_allclose(shift, shift[[0]].repeat(len(shift), 0), atol=0.05)  # a translation


def test_layers_and_layout(city) -> None:
    p = city.plan
    for k in LAYERS:
        assert getattr(city, k).crs.to_epsg() == 4326
    lon, lat = city.households.geometry.x, city.households.geometry.y
    assert lon.between(116, 118).all() and lat.between(29, 31).all()
    assert all(re.fullmatch(r"C05-T\d\d-V\d{3}", v) for v in city.villages["village_id"])
    assert set(city.areas["kind"]) <= {"自然村", "小区"} and (city.areas["kind"] == "自然村").any()
    assert city.villages["name"].str.endswith("村").all() and city.villages["name"].is_unique
    assert city.villages["town"].str.endswith("镇").all()
    assert city.villages.groupby("town").size().tolist() == np.bincount(p.town_of).tolist()
    # households: inside their area (when they have one) and inside their village
    hh = city.households
    with_area = hh[hh["area_id"].notna()].merge(city.areas[["area_id", "geometry"]], on="area_id",
                                                suffixes=("", "_area"))
    assert shapely.covers(with_area["geometry_area"].values, with_area["geometry"].values).all()
    assert 0 < hh["area_id"].isna().sum() < 0.05 * len(hh)  # a few scattered farms
    vil = hh.merge(city.villages[["village_id", "geometry"]], on="village_id", suffixes=("", "_v"))
    assert shapely.within(vil["geometry"].values, vil["geometry_v"].values).all()
    # tags and sizes
    tags = hh["tags"].str.split(",")
    tagged = tags.map(lambda t: bool({"elderly_alone", "low_income", "disabled"} & set(t)))
    assert 0.15 < tagged.mean() < 0.25 and 0.1 < tags.map(lambda t: "evening_only" in t).mean() < 0.25
    assert (hh.loc[tags.map(lambda t: "elderly_alone" in t), "size"] == 1).all() and hh["size"].between(1, 6).all()
    # villages a few hundred metres to a few km apart inside a town, towns farther apart
    v = city.villages.to_crs(METRIC_CRS)
    g = np.asarray(v.geometry, dtype=object)
    d = shapely.distance(g[:, None], g[None, :])
    same = p.town_of[:, None] == p.town_of[None, :]
    off = ~np.eye(len(v), dtype=bool)
    assert d[same & off].min() >= 499 and d[~same].min() >= 2999
    nearest_same = np.where(same & off, d, np.inf).min(axis=1)
    crowded = np.bincount(p.town_of)[p.town_of] > 1
    assert crowded.any() and (nearest_same[crowded] < 3000).all()


def test_roster_forms_the_planned_groups(city, tmp_path: Path) -> None:
    r = city.roster
    assert r.columns.tolist() == ROSTER_HEADER and r["编号"].is_unique and r["电话"].is_unique
    area_village = dict(zip(city.areas["area_id"], city.areas["village_id"]))
    for v, g in zip(city.villages["village_id"], city.plan.groups):
        mine = r[r["驻点村"] == v]
        assert mine["角色"].value_counts().to_dict() == {"驻点领导": 1, "团队成员": 2 * g - 1, "辅助团队成员": g}
        homes = mine.loc[mine["角色"] == "辅助团队成员", "居住片区"]
        assert all(area_village[h] == v for h in homes)
        assert mine["姓名"].is_unique
    # each town: one party secretary and one town head, in its two largest villages
    titles = r[r["角色"] == "驻点领导"]["职务"].tolist()
    assert titles.count("镇党委书记") == city.plan.n_towns
    path = tmp_path / "roster.csv"
    r.to_csv(path, index=False, encoding="utf-8-sig")
    assert count_groups(path) == {"groups": city.n_groups, "regular": city.n_groups, "villages": len(city.villages)}


def test_write_city_imports_and_zones(tmp_path: Path) -> None:
    from api.importer import ImportRequest, run_import
    from api.zoning import ZoneRequest, run_zoning

    out = tmp_path / "city"
    summary = write_city(out, 3_000, seed=2, flush_households=1_000, households_per_village=1000)
    assert summary["households"] == 3_000 and summary["villages"] == 3 and summary["towns"] == 1
    expected = make_city(3_000, seed=2, households_per_village=1000)
    for k in LAYERS:  # appended in several flushes, read back: the city in memory
        back = gpd.read_file(out / f"{k}.gpkg")
        assert back.crs.to_epsg() == 4326
        want = getattr(expected, k)
        assert back["geometry"].geom_equals_exact(want.geometry, 1e-9).all()
        assert back.columns.tolist() == want.columns.tolist()
    raw = (out / "roster.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf" + ",".join(ROSTER_HEADER).encode() + b"\n")
    with open(out / "roster.csv", encoding="utf-8-sig", newline="") as fh:
        assert list(csv.reader(fh))[1:] == expected.roster.values.tolist()

    db = tmp_path / "city.db"
    report = run_import(db, ImportRequest(villages=out / "villages.gpkg", areas=out / "areas.gpkg",
                                          households=out / "households.gpkg", roads=out / "roads.gpkg"))
    assert report["households"] == 3_000 and report["households_unplaced"] == 0
    assert report["villages"] == 3 and report["crs_in"]["households"] == "EPSG:4326"
    assert report["households_in_area"] + report["households_attached"] + report["households_scattered"] == 3_000
    assert not [w for w in report["warnings"] if "重叠" in w]  # no overlapping areas

    v = int(np.argmax(expected.plan.groups))
    vid, groups = expected.plan.village_id(v), int(expected.plan.groups[v])
    assert groups >= 2
    doc = run_zoning(db, ZoneRequest(villages=[vid], roster=out / "roster.csv", seconds=1))
    (z,) = doc["villages"]
    assert z["status"] in ("optimal", "feasible") and z["contiguous"] is True
    assert len(z["zones"]) == groups and z["balance"] <= 1.12
    assert f"2+1 {groups} 个" in z["notes"][0]
    assert sum(len(zone["households"]) for zone in z["zones"]) == int(expected.plan.sizes[v])


def test_command_line_write(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["write", str(tmp_path), "--households", "700", "--seed", "4"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert {"towns", "villages", "areas", "households", "groups", "road_km", "seconds"} <= set(doc)
    assert doc["households"] == 700 and doc["villages"] == 1 and doc["road_km"] > 0
    assert all((tmp_path / f"{k}.gpkg").exists() for k in LAYERS)
