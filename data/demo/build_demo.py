"""Build the bundled Zhudian demo dataset from the prepared Liechtenstein OSM layers.

Usage (from the repository root):

    .venv/bin/python data/demo/build_demo.py --src /work/shared/data/osm/liechtenstein --out data/demo

Input (``--src``): ``admin_units.geojson``, ``villages.geojson``, ``households.geojson`` and
``walk_edges.geojson`` as prepared from the Geofabrik extract of 2015-10-06 (see
``data/README.md``).

Output (``--out``): four GeoPackages, one layer each, EPSG:4326, UTF-8:

* ``villages.gpkg``   layer ``villages``:   the 11 municipalities as administrative villages (村)
* ``areas.gpkg``      layer ``areas``:      natural villages (自然村) and residential areas (小区)
* ``households.gpkg`` layer ``households``: one point per household, with fictional attributes
* ``roads.gpkg``      layer ``roads``:      the walkable edges

Rules (also described in ``data/README.md``):

* ``village_id``: fictional 12-digit statistical-division-style codes ``990101001001`` ..
  ``990101001011`` given to the municipalities in alphabetical order of their original name
  (prefix 99: not a real Chinese province code).
* Depot (village committee office): the household point of the village nearest to the centroid
  (computed in UTM 32N) of the village's seat, i.e. its natural village that bears the
  municipality's own name (all 11 have one); if there were none, its largest natural village
  (most households in the source layer; ties broken by area id); if it had no natural village at
  all, the household nearest to the centroid of its households. The natural villages of a village
  are those whose centroid lies in it.
* Area ``village_id``: the municipality containing the area's centroid (UTM 32N); fallback: the
  municipality with the largest overlap.
* Area names: natural villages and named compounds keep their OSM name; unnamed residential areas
  are named ``<village Chinese name>第<k>居民小区``, k = 1, 2, ... per village in area-id order.
* Household ``village_id``: the municipality containing the point (null if none does).
* Household address: ``<village Chinese name><addr:street>路<addr:housenumber>号`` when the
  building has both tags; otherwise ``<area name>村<N>号`` (natural village) or
  ``<area name>小区<N>号`` (compound; no second 小区 if the name already ends in it), with the area
  taken from the source attribution (natural village first, then compound) and N = 1, 2, ... in
  household-id order within the area; otherwise ``<village Chinese name>散居<N>号`` (N per
  village). Two buildings can carry the same street address; such addresses are kept as given.
* Head names, phones, household sizes and tags are fictional, drawn from fixed seeds (one random
  stream per attribute, households in household-id order) so the output is reproducible.
* Coordinates are rounded to 1e-6 degrees (about 0.1 m). Polygons go through
  ``shapely.set_precision`` (keeps them valid); lines and points are rounded vertex by vertex
  (identical vertices stay identical, so the road network keeps its topology).

The GeoPackages are written with a fixed timestamp (GDAL ``OGR_CURRENT_DATE``) and VACUUMed,
so running the script twice gives byte-identical files.
"""

from __future__ import annotations

import argparse
import hashlib
import sqlite3
import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely

SEED = 20151006  # date of the OSM extract; change it and every fictional attribute changes
METRIC_CRS = "EPSG:32632"  # UTM 32N, Liechtenstein
GRID = 1e-6  # degrees, about 0.1 m
FIXED_DATE = "2015-10-06T00:00:00.000Z"  # written into gpkg_contents.last_change

TOWN = "列支敦士登示范镇"
CODE_PREFIX = "990101001"  # 99 (fictional province) 01 (city) 01 (county) 001 (town)

MUNICIPALITY_ZH = {
    "Balzers": "巴尔采斯",
    "Eschen": "埃申",
    "Gamprin": "甘普林",
    "Mauren": "毛伦",
    "Planken": "普兰肯",
    "Ruggell": "鲁格尔",
    "Schaan": "沙恩",
    "Schellenberg": "申嫩贝格",
    "Triesen": "特里森",
    "Triesenberg": "特里森贝格",
    "Vaduz": "瓦杜兹",
}

KIND_ZH = {"natural_village": "自然村", "compound": "小区", "residential_area": "小区"}

# Fictional head-of-household names: a common surname + two given-name characters.
SURNAMES = list("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢")
GIVEN = list("伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚桂华建国志红玉春海文德荣成林金永福雪梅凤云")

# Household size 1..6. Elderly living alone are size 1; the others follow SIZE_P
# (mean 2.97), which gives an overall mean of about 2.8.
SIZE_P = np.array([0.13, 0.29, 0.26, 0.17, 0.10, 0.05])
TAG_RATES = {  # in this order in the comma-separated 标签 column
    "elderly_alone": 0.08,
    "low_income": 0.05,
    "disabled": 0.03,
    "evening_only": 0.20,
}
PHONE_PREFIX = "1000000"  # + 4 digits = 11 digits, all distinct; no real mobile number starts with 100


def rng(offset: int) -> np.random.Generator:
    """One independent random stream per attribute, so changing one leaves the others alone."""
    return np.random.default_rng([SEED, offset])


def round_coords(geoms: np.ndarray) -> np.ndarray:
    """Round every vertex to GRID (points and lines: no re-noding, no vertex removal)."""
    return shapely.transform(geoms, lambda xy: np.round(xy, 6))


def drop_repeated(geoms: np.ndarray) -> np.ndarray:
    """Remove consecutive duplicate vertices that rounding may create (never endpoints)."""
    return shapely.remove_repeated_points(geoms, tolerance=0.0)


def precise_polygons(geoms: np.ndarray) -> np.ndarray:
    """Snap polygons to GRID; set_precision keeps them valid (unlike plain rounding)."""
    out = shapely.set_precision(geoms, GRID)
    if not shapely.is_valid(out).all() or shapely.is_empty(out).any():
        raise SystemExit("polygon rounding produced an invalid or empty geometry")
    return out


def build_villages(admin: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    admin = admin.sort_values("name").reset_index(drop=True)
    unknown = set(admin["name"]) - set(MUNICIPALITY_ZH)
    if unknown:
        raise SystemExit(f"no Chinese name for municipalities {sorted(unknown)}")
    v = gpd.GeoDataFrame(
        {
            "village_id": [f"{CODE_PREFIX}{i + 1:03d}" for i in range(len(admin))],
            "name": admin["name"].map(MUNICIPALITY_ZH),
            "name_en": admin["name"],
            "town": TOWN,
        },
        geometry=precise_polygons(admin.geometry.values),
        crs=admin.crs,
    )
    return v


def locate(points_m: gpd.GeoSeries, villages_m: gpd.GeoDataFrame) -> pd.Series:
    """village_id of the village polygon containing each point (first by id if several)."""
    j = gpd.sjoin(
        gpd.GeoDataFrame(geometry=points_m.values, index=points_m.index, crs=points_m.crs),
        villages_m[["village_id", "geometry"]],
        how="left",
        predicate="within",
    )
    j = j.sort_values("village_id").loc[~j.index.duplicated(keep="first")]
    return j["village_id"].reindex(points_m.index)


def build_areas(src: gpd.GeoDataFrame, villages: gpd.GeoDataFrame) -> tuple[gpd.GeoDataFrame, dict]:
    src = src.sort_values("village_id").reset_index(drop=True)
    geoms = precise_polygons(src.geometry.values)
    vm = villages.to_crs(METRIC_CRS)
    am = gpd.GeoSeries(geoms, crs=src.crs).to_crs(METRIC_CRS)
    vid = locate(am.centroid, vm)
    fallback = []
    for i in vid[vid.isna()].index:
        overlap = vm.geometry.intersection(am.iloc[i]).area
        vid.iloc[i] = vm["village_id"].iloc[int(np.argmax(overlap.values))]
        fallback.append(src["village_id"].iloc[i])
    zh = villages.set_index("village_id")["name"]

    names = []
    counter: dict[str, int] = {}
    for area_name, kind, village_id in zip(src["name"], src["kind"], vid):
        if isinstance(area_name, str) and area_name.strip():
            names.append(area_name.strip())
        else:
            counter[village_id] = counter.get(village_id, 0) + 1
            names.append(f"{zh[village_id]}第{counter[village_id]}居民小区")
    unknown_kinds = set(src["kind"]) - set(KIND_ZH)
    if unknown_kinds:
        raise SystemExit(f"unknown area kinds {sorted(unknown_kinds)}")
    areas = gpd.GeoDataFrame(
        {
            "area_id": src["village_id"].astype(str),
            "name": names,
            "kind": src["kind"].map(KIND_ZH),
            "village_id": vid.values,
        },
        geometry=geoms,
        crs=src.crs,
    )
    return areas, {"centroid_fallback": fallback}


def fictional_names(n: int) -> list[str]:
    r = rng(1)
    s = r.integers(0, len(SURNAMES), n)
    g1 = r.integers(0, len(GIVEN), n)
    g2 = r.integers(0, len(GIVEN), n)
    return [SURNAMES[a] + GIVEN[b] + GIVEN[c] for a, b, c in zip(s, g1, g2)]


def fictional_phones(n: int) -> list[str]:
    if n > 10_000:
        raise SystemExit("more than 10,000 households: widen the fictional phone range")
    suffix = rng(2).permutation(10_000)[:n]
    return [f"{PHONE_PREFIX}{x:04d}" for x in suffix]


def fictional_tags(n: int) -> tuple[list[str], np.ndarray]:
    r = rng(3)
    flags = {tag: r.random(n) < p for tag, p in TAG_RATES.items()}
    tags = [",".join(t for t in TAG_RATES if flags[t][i]) for i in range(n)]
    return tags, flags["elderly_alone"]


def fictional_sizes(n: int, elderly_alone: np.ndarray) -> np.ndarray:
    size = rng(4).choice(np.arange(1, 7), size=n, p=SIZE_P)
    size[elderly_alone] = 1
    return size


def clean_str(x) -> str | None:
    if isinstance(x, str) and x.strip():
        return x.strip()
    return None


def build_households(
    src: gpd.GeoDataFrame, villages: gpd.GeoDataFrame, areas: gpd.GeoDataFrame
) -> gpd.GeoDataFrame:
    src = src.sort_values("household_id").reset_index(drop=True)
    n = len(src)
    points = round_coords(src.geometry.values)
    vm = villages.to_crs(METRIC_CRS)
    vid = locate(gpd.GeoSeries(points, crs=src.crs).to_crs(METRIC_CRS), vm)
    zh = villages.set_index("village_id")["name"]
    # "<area name>" + 村/小区 (unless the name already ends so), then "<N>号": the suffix keeps
    # Latin names and house numbers apart ("Balzers村12号", "巴尔采斯第1居民小区12号").
    area_label = {
        aid: name if name.endswith(("村", "小区")) else name + ("村" if kind == "自然村" else "小区")
        for aid, name, kind in zip(areas["area_id"], areas["name"], areas["kind"])
    }

    addresses = []
    seq: dict[str, int] = {}
    for street, number, nat, comp, village_id in zip(
        src["addr_street"], src["addr_housenumber"], src["village_id"], src["compound_id"], vid
    ):
        street, number = clean_str(street), clean_str(number)
        muni = zh[village_id] if isinstance(village_id, str) else ""
        if street and number:
            addresses.append(f"{muni}{street}路{number}号")
            continue
        area = clean_str(nat) or clean_str(comp)
        if area is not None:
            key, prefix = "A:" + area, area_label[area]
        else:
            key, prefix = "S:" + str(village_id), f"{muni}散居"
        seq[key] = seq.get(key, 0) + 1
        addresses.append(f"{prefix}{seq[key]}号")

    tags, elderly = fictional_tags(n)
    hh = gpd.GeoDataFrame(
        {
            "户编号": src["household_id"].astype(str),
            "户主姓名": fictional_names(n),
            "地址": addresses,
            "联系电话": fictional_phones(n),
            "人口": fictional_sizes(n, elderly).astype("int32"),
            "标签": tags,
            "village_id": vid.values,
        },
        geometry=points,
        crs=src.crs,
    )
    return hh


def depots(villages: gpd.GeoDataFrame, areas_src: gpd.GeoDataFrame, areas: gpd.GeoDataFrame,
           households: gpd.GeoDataFrame) -> tuple[gpd.GeoDataFrame, dict]:
    hm = households.to_crs(METRIC_CRS)
    src = areas_src.sort_values("village_id").reset_index(drop=True)
    am = areas.to_crs(METRIC_CRS)  # rounded geometries, same order as src
    am["hh"] = src["households"].values
    am["vid"] = am["village_id"]
    am["kind"] = src["kind"].values
    name_en = villages.set_index("village_id")["name_en"]
    lon, lat, info = [], [], {}
    for village_id in villages["village_id"]:
        cand = hm[hm["village_id"] == village_id]
        if cand.empty:
            raise SystemExit(f"village {village_id} has no households: cannot place a depot")
        nv = am[(am["vid"] == village_id) & (am["kind"] == "natural_village")]
        seat = nv[nv["name"] == name_en[village_id]]
        if len(seat) or len(nv):
            pool = seat if len(seat) else nv
            best = pool.sort_values(["hh", "area_id"], ascending=[False, True]).iloc[0]
            centre = best.geometry.centroid
            why = "seat" if len(seat) else "largest"
            rule = f"nearest household to centroid of {why} natural village {best['area_id']} {best['name']}"
        else:
            centre = shapely.MultiPoint(list(cand.geometry.values)).centroid
            rule = "nearest household to centroid of the village's households"
        d = cand.geometry.distance(centre)
        k = d.idxmin()
        pt = households.geometry.loc[k]
        lon.append(round(pt.x, 6))
        lat.append(round(pt.y, 6))
        info[village_id] = (rule, households["户编号"].loc[k], round(float(d.loc[k]), 1))
    out = villages.copy()
    out["depot_lon"] = lon
    out["depot_lat"] = lat
    return out, info


def build_roads(src: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    src = src.sort_values("edge_id").reset_index(drop=True)
    geoms = drop_repeated(round_coords(src.geometry.values))
    return gpd.GeoDataFrame(
        {
            "road_id": src["edge_id"].astype(str),
            "name": src["name"].where(src["name"].notna(), None),
            "highway": src["highway"],
        },
        geometry=geoms,
        crs=src.crs,
    )


def write_gpkg(gdf: gpd.GeoDataFrame, path: Path, layer: str) -> None:
    if path.exists():
        path.unlink()
    gdf.to_file(path, layer=layer, driver="GPKG", engine="pyogrio")
    con = sqlite3.connect(path)
    try:
        con.execute("VACUUM")
    finally:
        con.close()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--src", type=Path, required=True, help="folder with the prepared GeoJSON layers")
    ap.add_argument("--out", type=Path, required=True, help="output folder (data/demo)")
    args = ap.parse_args(argv)

    # Reproducible GeoPackages: fixed last_change timestamp instead of "now".
    pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": FIXED_DATE})

    read = lambda name: gpd.read_file(args.src / f"{name}.geojson", engine="pyogrio")  # noqa: E731
    admin, areas_src, hh_src, edges = (read(n) for n in ("admin_units", "villages", "households", "walk_edges"))
    for g in (admin, areas_src, hh_src, edges):
        if g.crs is None or g.crs.to_epsg() != 4326:
            raise SystemExit("inputs must be EPSG:4326")

    villages = build_villages(admin)
    areas, area_info = build_areas(areas_src, villages)
    households = build_households(hh_src, villages, areas)
    villages, depot_info = depots(villages, areas_src, areas, households)
    roads = build_roads(edges)

    args.out.mkdir(parents=True, exist_ok=True)
    layers = {"villages": villages, "areas": areas, "households": households, "roads": roads}
    for name, gdf in layers.items():
        write_gpkg(gdf, args.out / f"{name}.gpkg", name)

    total = 0
    for name, gdf in layers.items():
        p = args.out / f"{name}.gpkg"
        size = p.stat().st_size
        total += size
        digest = hashlib.sha256(p.read_bytes()).hexdigest()[:12]
        print(f"{p}: {len(gdf)} features, {size / 1024:.0f} KiB, sha256 {digest}")
    print(f"total {total / 1024 / 1024:.2f} MiB")
    print(f"households outside every village: {int(households['village_id'].isna().sum())}")
    if area_info["centroid_fallback"]:
        print(f"areas placed by largest overlap (centroid outside): {area_info['centroid_fallback']}")
    for village_id, (rule, hid, dist) in depot_info.items():
        print(f"depot {village_id}: {hid} ({rule}, {dist} m)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
