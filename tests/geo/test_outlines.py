"""Zone outlines (geo.outlines): a partition of the settled land, one valid outline per zone."""

from __future__ import annotations

import logging
from itertools import combinations
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely
from shapely.geometry import Point, box

from geo.layers import WGS84
from geo.outlines import OUTLINE_COLUMNS, zone_outlines

DATA = Path(__file__).resolve().parents[1] / "data"
UTM = "EPSG:32650"  # Beijing
X0, Y0 = 440_000.0, 4_428_000.0  # metres, EPSG:32650 (about 116.30 E, 40.00 N)
PAD = 40.0


def synthetic_village(seed: int = 3) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, np.ndarray]:
    """~200 households in 3 zones: 3 natural villages in a row, a compound, a far empty area.

    Built in UTM metres, returned in WGS 84: households (with 2 compound buildings holding 12
    households each, i.e. duplicated points), areas, labels (ints 0, 1, 2).
    """
    rng = np.random.default_rng(seed)
    villages = [box(X0, Y0, X0 + 400, Y0 + 300),           # zone 0
                box(X0 + 600, Y0, X0 + 1000, Y0 + 300),    # zone 1 (200 m field in between)
                box(X0 + 1200, Y0, X0 + 1500, Y0 + 400)]   # zone 2
    compound = box(X0 + 620, Y0 + 320, X0 + 700, Y0 + 380)   # zone 1, two buildings
    far = box(X0 + 3000, Y0 + 3000, X0 + 3400, Y0 + 3300)    # a natural village with no household
    xy, labels = [], []
    for zone, (v, n) in enumerate(zip(villages, (70, 60, 46), strict=True)):
        minx, miny, maxx, maxy = v.bounds
        pts = np.column_stack([rng.uniform(minx + 10, maxx - 10, n), rng.uniform(miny + 10, maxy - 10, n)])
        xy.extend(pts)
        labels += [zone] * n
    for building in ((X0 + 640, Y0 + 340), (X0 + 680, Y0 + 360)):
        xy.extend([building] * 12)
        labels += [1] * 12
    xy.append((X0 + 1100, Y0 + 500))  # a scattered household of zone 2, between villages 1 and 2
    labels.append(2)
    xy = np.asarray(xy)
    households = gpd.GeoDataFrame(
        {"household_id": [f"H{i:03d}" for i in range(len(xy))]},
        geometry=gpd.points_from_xy(xy[:, 0], xy[:, 1]), crs=UTM).to_crs(WGS84)
    areas = gpd.GeoDataFrame(
        {"area_id": ["A0", "A1", "A2", "C1", "FAR", "V1-散居户"],
         "kind": ["natural_village"] * 3 + ["compound", "natural_village", "scattered"]},
        geometry=[*villages, compound, far, None], crs=UTM).to_crs(WGS84)
    return households, areas, np.asarray(labels)


def metric(gdf: gpd.GeoDataFrame) -> gpd.GeoSeries:
    return gdf.geometry.to_crs(UTM)


def assert_partition(outlines: gpd.GeoDataFrame, households: gpd.GeoDataFrame, labels) -> None:
    """Valid, polygonal, non-overlapping; every household in its own zone's outline."""
    assert list(outlines.columns) == OUTLINE_COLUMNS
    assert outlines.crs.equals(WGS84)
    assert outlines.is_valid.all() and set(outlines.geom_type) <= {"Polygon", "MultiPolygon"}
    shapes = metric(outlines)
    for a, b in combinations(range(len(outlines)), 2):
        overlap = shapes.iloc[a].intersection(shapes.iloc[b]).area
        assert overlap < 0.01, (outlines.zone.iloc[a], outlines.zone.iloc[b], overlap)  # m²
    by_zone = dict(zip(outlines["zone"], outlines.geometry, strict=True))
    inside = [by_zone[z].covers(p) for z, p in zip(labels, households.geometry, strict=True)]
    assert all(inside), np.flatnonzero(~np.asarray(inside))
    assert outlines.union_all().covers(households.union_all())


def test_three_zones_partition_the_village():
    households, areas, labels = synthetic_village()
    outlines = zone_outlines(households, labels, areas=areas, pad_m=PAD)
    assert outlines["zone"].tolist() == [0, 1, 2]
    assert outlines["households"].tolist() == [70, 84, 47]
    assert outlines["households_outside"].tolist() == [0, 0, 0]
    assert_partition(outlines, households, labels)
    # Zones 0 and 1 are one piece each; zone 2 is its village plus its scattered household.
    assert outlines["parts"].tolist() == [1, 1, 2]
    assert (outlines["parts"] == outlines.geometry.apply(lambda g: len(shapely.get_parts(g)))).all()
    assert np.allclose(outlines["area_m2"], metric(outlines).area)
    # Each village (fully covered by its households' zone), padded, is in the outline.
    areas_m = metric(areas)
    for zone, village in enumerate(areas_m.iloc[:3]):
        assert metric(outlines).iloc[zone].buffer(0.01).covers(village)


def test_outlines_stay_on_the_settled_land():
    households, areas, labels = synthetic_village()
    outlines = zone_outlines(households, labels, areas=areas, pad_m=PAD)
    shapes = metric(outlines)
    points, areas_m = metric(households), metric(areas)
    near = areas_m.iloc[:4]  # the 3 villages and the compound; not the far, empty village
    mask = shapely.union_all([*points.buffer(PAD), *near.buffer(PAD)])
    assert shapes.union_all().difference(mask.buffer(0.01)).area < 1.0  # m²: nothing outside
    # ...and nearly all of the mask is covered (only the holes filled in it are extra).
    # 25 cm: the discs here have 64 sides, the outlines' 32 (0.19 m apart at most).
    assert mask.buffer(-0.25).difference(shapes.union_all()).area < 1.0
    # The field between villages 0 and 1 and the far, empty village belong to no zone.
    assert not shapes.union_all().intersects(Point(X0 + 500, Y0 + 150).buffer(30))
    assert not shapes.union_all().intersects(areas_m.iloc[4])
    # Without areas, only the households' discs: smaller, still a partition.
    bare = zone_outlines(households, labels, pad_m=PAD)
    assert_partition(bare, households, labels)
    discs = points.buffer(PAD).union_all()
    no_holes = shapely.union_all([shapely.Polygon(p.exterior) for p in shapely.get_parts(discs)])
    bare_shape = metric(bare).union_all()
    assert bare_shape.difference(no_holes.buffer(0.01)).area < 1.0  # small holes are filled...
    assert discs.buffer(-0.25).difference(bare_shape).area < 1.0  # ...the discs are all covered
    assert bare["area_m2"].sum() < outlines["area_m2"].sum()


def test_mixed_building_goes_to_its_majority(caplog):
    households, areas, labels = synthetic_village()
    labels = labels.copy()
    shared = np.flatnonzero((households.geometry == households.geometry.iloc[176]).to_numpy())
    assert len(shared) == 12  # the first compound building, zone 1
    labels[shared[:3]] = 0  # 3 of its 12 households are in zone 0: the building stays in zone 1
    with caplog.at_level(logging.WARNING, logger="geo.outlines"):
        outlines = zone_outlines(households, labels, areas=areas, pad_m=PAD)
    assert outlines["households"].tolist() == [73, 81, 47]
    assert outlines["households_outside"].tolist() == [3, 0, 0]
    assert "3 household(s) share a building point" in caplog.text
    zone1 = outlines.geometry.iloc[1]
    assert all(zone1.covers(households.geometry.iloc[i]) for i in shared)
    # The building is zone 1's: zone 0 gets no piece around it and stays one piece.
    assert outlines["parts"].tolist() == [1, 1, 2]


def test_labels_as_strings_and_households_in_another_crs():
    households, areas, labels = synthetic_village()
    names = np.array(["西片", "中片", "东片"])[labels]
    outlines = zone_outlines(households.to_crs(UTM), list(names), areas=areas.to_crs(UTM), pad_m=PAD)
    assert outlines["zone"].tolist() == sorted(["西片", "中片", "东片"])
    assert outlines.crs.equals(WGS84)
    assert_partition(outlines, households, names)
    ref = zone_outlines(households, labels, areas=areas, pad_m=PAD)
    by_name = dict(zip(outlines["zone"], outlines["area_m2"], strict=True))
    assert by_name["西片"] == pytest.approx(ref["area_m2"].iloc[0], rel=1e-6)


def test_one_household_and_one_zone():
    households, areas, labels = synthetic_village()
    one = zone_outlines(households.iloc[:1], [7], pad_m=PAD)
    assert one["zone"].tolist() == [7] and one["parts"].tolist() == [1]
    assert one["area_m2"].iloc[0] == pytest.approx(np.pi * PAD**2, rel=0.02)
    all_in_one = zone_outlines(households, ["全村"] * len(households), areas=areas, pad_m=PAD)
    assert all_in_one["households"].tolist() == [len(households)]
    assert_partition(all_in_one, households, ["全村"] * len(households))


def test_reports_every_problem():
    households, _, labels = synthetic_village()
    broken = households.copy()
    broken.loc[broken.index[5], "geometry"] = box(0, 0, 1, 1)
    bad_labels = list(labels[:-1])
    with pytest.raises(ValueError) as info:
        zone_outlines(broken, bad_labels, pad_m=0)
    message = str(info.value)
    assert "pad_m must be a positive number" in message
    assert f"labels has {len(labels) - 1} entries for {len(labels)} households" in message
    assert "1 household geometries are not points (rows 5)" in message
    with pytest.raises(ValueError, match=r"2 household\(s\) have no zone label \(rows 0, 3\)"):
        zone_outlines(households.iloc[:4], [None, 1, 1, float("nan")])
    with pytest.raises(ValueError, match="no households"):
        zone_outlines(households.iloc[:0], [])


@pytest.mark.parametrize("k", [3, 5])
def test_real_village_every_part_holds_its_households(k):
    """Haidian fixture, zones by k-means on coordinates: every piece of an outline holds a household."""
    from scipy.cluster.vq import kmeans2

    folder = DATA / "haidian"
    if not (folder / "households.geojson").exists():
        pytest.skip("tests/data/haidian not present")
    households = gpd.read_file(folder / "households.geojson")
    areas = gpd.read_file(folder / "villages.geojson")
    areas["kind"] = areas["kind"].replace({"residential_area": "compound"})
    xy = metric(households).get_coordinates().to_numpy()
    _, labels = kmeans2(xy, k, seed=1, minit="++")
    outlines = zone_outlines(households, labels, areas=areas)
    assert len(outlines) == len(set(labels.tolist()))
    assert_partition(outlines, households, labels)
    for zone, outline in zip(outlines["zone"], outlines.geometry, strict=True):
        own = households.geometry[labels == zone]
        for part in shapely.get_parts(outline):
            assert own.intersects(part).any(), (zone, part.area)


def test_cut_off_piece_goes_to_the_neighbour_and_holes_are_filled():
    """A piece of a zone's cell cut off from its household joins the zone it borders.

    A at x=0, B at x=100 (bisector x=50); B's compound is a strip x=40..160, so the settled land
    reaches x=30: its part x=30..50 is nearer A, but away from A's disc (x <= 10).
    """
    households = gpd.GeoDataFrame(geometry=[Point(X0, Y0), Point(X0 + 100, Y0)], crs=UTM)
    areas = gpd.GeoDataFrame({"kind": ["compound"]}, geometry=[box(X0 + 40, Y0 - 5, X0 + 160, Y0 + 5)], crs=UTM)
    outlines = zone_outlines(households, ["A", "B"], areas=areas, pad_m=10)
    assert outlines["parts"].tolist() == [1, 1]
    a, b = metric(outlines)
    assert a.area == pytest.approx(np.pi * 100, rel=0.02)  # A keeps its disc only
    assert b.covers(Point(X0 + 45, Y0)) and b.covers(Point(X0 + 31, Y0))

    # Houses around a courtyard: the gap in the middle (< (3 * pad)²) is part of the zone.
    ring = [Point(X0 + 30 * np.cos(t), Y0 + 30 * np.sin(t)) for t in np.linspace(0, 2 * np.pi, 12, endpoint=False)]
    yard = zone_outlines(gpd.GeoDataFrame(geometry=ring, crs=UTM), [1] * 6 + [2] * 6, pad_m=12)
    assert metric(yard).union_all().covers(Point(X0, Y0))
