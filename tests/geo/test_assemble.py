"""Putting layers together: villages for areas, overlaps, households placed in areas."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import shapely
from shapely.geometry import box, mapping

from geo.assemble import PlacementParams, assemble
from geo.errors import InputError
from geo.layers import scattered_area_id
from geo.read import read_areas, read_households, read_villages

X0, Y0 = 117.20, 28.29
D = 0.001  # ~100 m in latitude, ~88 m in longitude here


def _write(path: Path, feats: list[dict]) -> Path:
    path.write_text(json.dumps({"type": "FeatureCollection", "features": feats}, ensure_ascii=False), "utf-8")
    return path


def _area(aid: str, geom, kind: str = "自然村", **props) -> dict:
    return {"type": "Feature", "properties": {"编号": aid, "名称": f"片区{aid}", "类型": kind, **props},
            "geometry": mapping(geom)}


def _hh(hid: str, x: float, y: float, **props) -> dict:
    return {"type": "Feature", "properties": {"户编号": hid, **props},
            "geometry": {"type": "Point", "coordinates": [x, y]}}


def test_overlap_goes_to_the_smaller_area_and_is_reported(tmp_path: Path) -> None:
    big = box(X0, Y0, X0 + 4 * D, Y0 + 4 * D)
    small = box(X0 + D, Y0 + D, X0 + 2 * D, Y0 + 2 * D)  # a compound drawn inside the village
    areas = read_areas(_write(tmp_path / "a.geojson", [_area("BIG", big), _area("SMALL", small, "小区")]))
    res = assemble(areas=areas)
    geoms = dict(zip(res.areas["area_id"], res.areas.geometry))
    assert geoms["SMALL"].equals(small)
    assert shapely.area(shapely.intersection(geoms["BIG"], geoms["SMALL"])) < 1e-12
    assert shapely.area(geoms["BIG"]) == pytest.approx(shapely.area(big) - shapely.area(small), rel=1e-6)
    assert any("重叠 1 处" in w and "SMALL" in w for w in res.warnings)
    # same input in the other order: same result (deterministic)
    areas2 = read_areas(_write(tmp_path / "b.geojson", [_area("SMALL", small, "小区"), _area("BIG", big)]))
    res2 = assemble(areas=areas2)
    geoms2 = dict(zip(res2.areas["area_id"], res2.areas.geometry))
    assert geoms2["BIG"].equals(geoms["BIG"])


def test_areas_without_villages_form_one_village_named_after_the_file(tmp_path: Path) -> None:
    areas = read_areas(_write(tmp_path / "塘湾村.geojson", [_area("A1", box(X0, Y0, X0 + D, Y0 + D))]))
    res = assemble(areas=areas)
    assert list(res.areas["village_id"]) == ["塘湾村"]
    assert list(res.villages["village_id"]) == ["塘湾村"]
    assert any("塘湾村" in w and "行政村" in w for w in res.warnings)


def test_areas_get_village_from_polygons(tmp_path: Path) -> None:
    v = [{"type": "Feature", "properties": {"编码": "V1", "名称": "东村"}, "geometry": mapping(box(X0, Y0, X0 + 5 * D, Y0 + 5 * D))},
         {"type": "Feature", "properties": {"编码": "V2", "名称": "西村"}, "geometry": mapping(box(X0 - 5 * D, Y0, X0, Y0 + 5 * D))}]
    villages = read_villages(_write(tmp_path / "v.geojson", v))
    areas = read_areas(_write(tmp_path / "a.geojson", [_area("A1", box(X0 + D, Y0 + D, X0 + 2 * D, Y0 + 2 * D)),
                                                        _area("A2", box(X0 - 3 * D, Y0 + D, X0 - 2 * D, Y0 + 2 * D))]))
    res = assemble(villages=villages, areas=areas)
    assert dict(zip(res.areas["area_id"], res.areas["village_id"])) == {"A1": "V1", "A2": "V2"}


def test_households_placed_attached_scattered_and_unplaced(tmp_path: Path) -> None:
    v = [{"type": "Feature", "properties": {"编码": "V1"}, "geometry": mapping(box(X0, Y0, X0 + 20 * D, Y0 + 20 * D))}]
    villages = read_villages(_write(tmp_path / "v.geojson", v))
    areas = read_areas(_write(tmp_path / "a.geojson", [_area("A1", box(X0 + D, Y0 + D, X0 + 3 * D, Y0 + 3 * D))]))
    hh = read_households(_write(tmp_path / "h.geojson", [
        _hh("IN", X0 + 2 * D, Y0 + 2 * D),                 # inside A1
        _hh("NEAR", X0 + 3.5 * D, Y0 + 2 * D),             # ~44 m east of A1
        _hh("FAR", X0 + 15 * D, Y0 + 15 * D),              # in the village, far from any area
        _hh("LOST", X0 + 40 * D, Y0 + 40 * D),             # outside every village, no village column
    ]))
    res = assemble(villages=villages, areas=areas, households=hh, params=PlacementParams(attach_distance_m=100))
    placed = dict(zip(res.households["household_id"], zip(res.households["area_id"], res.households["placement"])))
    assert placed["IN"] == ("A1", "in_area")
    assert placed["NEAR"] == ("A1", "attached")
    assert placed["FAR"] == (scattered_area_id("V1"), "scattered")
    assert list(res.unplaced["household_id"]) == ["LOST"] and res.unplaced["reason"].iloc[0]
    assert res.counts == {**res.counts, "households_in_area": 1, "households_attached": 1,
                          "households_scattered": 1, "households_unplaced": 1}
    assert scattered_area_id("V1") in set(res.areas["area_id"])
    # every household placed exactly once
    assert res.households["household_id"].is_unique and len(res.households) + len(res.unplaced) == 4
    # the village got an estimated committee office at one of its households
    dep = res.villages.set_index("village_id").loc["V1"]
    assert (dep["depot_lon"], dep["depot_lat"]) in {(g.x, g.y) for g in res.households.geometry}


def test_attach_distance_zero_sends_outside_households_to_scattered(tmp_path: Path) -> None:
    areas = read_areas(_write(tmp_path / "a.geojson", [_area("A1", box(X0, Y0, X0 + 2 * D, Y0 + 2 * D))]))
    hh = read_households(_write(tmp_path / "h.geojson", [_hh("NEAR", X0 + 2.2 * D, Y0 + D)]))
    res = assemble(areas=areas, households=hh, params=PlacementParams(attach_distance_m=0))
    assert res.households["placement"].iloc[0] == "scattered"


def test_households_that_do_not_overlap_areas_fail(tmp_path: Path) -> None:
    areas = read_areas(_write(tmp_path / "a.geojson", [_area("A1", box(X0, Y0, X0 + D, Y0 + D))]))
    hh = read_households(_write(tmp_path / "h.geojson", [_hh("H1", X0 + 1.0, Y0 + 1.0), _hh("H2", X0 + 1.001, Y0 + 1.0)]))
    with pytest.raises(InputError) as exc:
        assemble(areas=areas, households=hh)
    assert "h.geojson" in str(exc.value) and "不重叠" in str(exc.value) and "--crs" in str(exc.value)


def test_area_named_in_households_file_wins(tmp_path: Path) -> None:
    areas = read_areas(_write(tmp_path / "a.geojson", [_area("A1", box(X0, Y0, X0 + D, Y0 + D)),
                                                        _area("A2", box(X0 + 2 * D, Y0, X0 + 3 * D, Y0 + D))]))
    hh = read_households(_write(tmp_path / "h.geojson", [_hh("H1", X0 + 0.5 * D, Y0 + 0.5 * D, 自然村="片区A2")]))
    res = assemble(areas=areas, households=hh, params=PlacementParams(attach_distance_m=0))
    assert res.households["area_id"].iloc[0] == "A2" and res.households["placement"].iloc[0] == "attached"


def test_households_only_import_uses_known_areas(tmp_path: Path) -> None:
    areas = read_areas(_write(tmp_path / "a.geojson", [_area("A1", box(X0, Y0, X0 + D, Y0 + D), 行政村="V9")]))
    first = assemble(areas=areas)
    hh = read_households(_write(tmp_path / "h.geojson", [_hh("H1", X0 + 0.5 * D, Y0 + 0.5 * D)]))
    res = assemble(households=hh, known_villages=first.villages, known_areas=first.areas)
    assert res.households["area_id"].iloc[0] == "A1" and res.households["village_id"].iloc[0] == "V9"
    assert res.areas is None  # nothing new to write for areas


def test_areas_named_in_the_file_are_placed_per_household(tmp_path: Path) -> None:
    """The named-area path handles each household on its own: inside its named area (in_area),
    outside it (attached), an unknown name (placed by location, with a warning), none given."""
    areas = read_areas(_write(tmp_path / "a.geojson", [_area("A1", box(X0, Y0, X0 + D, Y0 + D)),
                                                        _area("A2", box(X0 + 2 * D, Y0, X0 + 3 * D, Y0 + D))]))
    inside_a1, inside_a2 = (X0 + 0.5 * D, Y0 + 0.5 * D), (X0 + 2.5 * D, Y0 + 0.5 * D)
    hh = read_households(_write(tmp_path / "h.geojson", [
        _hh("ID_IN", *inside_a2, 自然村="A2"),
        _hh("NAME_IN", *inside_a1, 自然村="片区A1"),
        _hh("NAME_OUT", *inside_a1, 自然村="片区A2"),
        _hh("UNKNOWN", *inside_a2, 自然村="无此片区"),
        _hh("NONE", *inside_a1),
    ] + [_hh(f"MANY{i}", *inside_a1, 自然村="A1") for i in range(50)]))
    res = assemble(areas=areas, households=hh, params=PlacementParams(attach_distance_m=0))
    placed = dict(zip(res.households["household_id"], zip(res.households["area_id"], res.households["placement"])))
    assert placed["ID_IN"] == ("A2", "in_area")
    assert placed["NAME_IN"] == ("A1", "in_area")
    assert placed["NAME_OUT"] == ("A2", "attached")
    assert placed["UNKNOWN"] == ("A2", "in_area")
    assert placed["NONE"] == ("A1", "in_area")
    assert all(placed[f"MANY{i}"] == ("A1", "in_area") for i in range(50))
    assert all(isinstance(p, str) for p in res.households["placement"])
    assert any("无此片区" in w and "改按位置归属" in w for w in res.warnings)


def test_households_naming_far_areas_still_fail_the_overlap_check(tmp_path: Path) -> None:
    """Placed by name but nowhere near any area: the coordinates are wrong, as without names."""
    areas = read_areas(_write(tmp_path / "a.geojson", [_area("A1", box(X0, Y0, X0 + D, Y0 + D))]))
    hh = read_households(_write(tmp_path / "h.geojson", [_hh("H1", X0 + 1.0, Y0 + 1.0, 自然村="A1")]))
    with pytest.raises(InputError, match="不重叠"):
        assemble(areas=areas, households=hh)
