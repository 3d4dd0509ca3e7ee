"""OSM importer: a tiny hand-written extract, every format, every failure mode, and a real extract."""

from __future__ import annotations

import gzip
from pathlib import Path

import osmium
import pytest
import shapely
from shapely.geometry import Point

from geo.assemble import assemble
from geo.errors import InputError
from geo.layers import AREA_COLUMNS, HOUSEHOLD_COLUMNS, ROAD_COLUMNS, VILLAGE_COLUMNS
from geo.osm import OsmOptions, read_osm

DATA = Path(__file__).resolve().parents[1] / "data"
GUIXI = DATA / "osm" / "jiangxi-guixi-2024-11.osm.gz"

# near Guixi, Jiangxi: 0.0001 degree is about 9.8 m east-west and 11.1 m north-south
X0, Y0 = 117.20, 28.29


class _Osm:
    """Builds a small OSM XML document: nodes, closed squares, lines and relations."""

    def __init__(self) -> None:
        self.nodes: list[tuple[int, str]] = []
        self.ways: list[tuple[int, str]] = []
        self.relations: list[tuple[int, str]] = []
        self._next = 1000

    def _node(self, x: float, y: float, tags: dict | None = None, node_id: int | None = None) -> int:
        if node_id is None:
            self._next += 1
            node_id = self._next
        text = f'<node id="{node_id}" version="1" lat="{y:.7f}" lon="{x:.7f}">{_tags(tags)}</node>'
        self.nodes.append((node_id, text))
        return node_id

    def place(self, node_id: int, x: float, y: float, tags: dict) -> None:
        self._node(x, y, tags, node_id)

    def line(self, way_id: int, coords: list[tuple[float, float]], tags: dict) -> None:
        refs = [self._node(x, y) for x, y in coords]
        self._way(way_id, refs, tags)

    def square(self, way_id: int, x: float, y: float, size: float, tags: dict | None) -> None:
        """A closed way, ``size`` degrees on each side, lower-left corner at (x, y)."""
        refs = [self._node(x, y), self._node(x + size, y), self._node(x + size, y + size), self._node(x, y + size)]
        self._way(way_id, refs + refs[:1], tags)

    def multipolygon(self, rel_id: int, outer_way: int, tags: dict) -> None:
        members = f'<member type="way" ref="{outer_way}" role="outer"/>'
        self.relations.append((rel_id, f'<relation id="{rel_id}" version="1">{members}'
                              f'{_tags({"type": "multipolygon", **tags})}</relation>'))

    def _way(self, way_id: int, refs: list[int], tags: dict | None) -> None:
        nds = "".join(f'<nd ref="{r}"/>' for r in refs)
        self.ways.append((way_id, f'<way id="{way_id}" version="1">{nds}{_tags(tags)}</way>'))

    def xml(self) -> str:
        # sorted by type, then id, as OSM files are
        body = "\n".join(text for part in (self.nodes, self.ways, self.relations) for _, text in sorted(part))
        return f'<?xml version="1.0" encoding="UTF-8"?>\n<osm version="0.6" generator="test">\n{body}\n</osm>\n'

    def write(self, path: Path) -> Path:
        path.write_text(self.xml(), encoding="utf-8")
        return path


def _tags(tags: dict | None) -> str:
    def esc(v: str) -> str:
        return str(v).replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;")
    return "".join(f'<tag k="{esc(k)}" v="{esc(v)}"/>' for k, v in (tags or {}).items())


def _town() -> _Osm:
    """One hamlet with a house, a shop, a shed and a factory; a compound of flats; roads."""
    o = _Osm()
    o.place(1, X0, Y0, {"place": "hamlet", "name": "测试村", "name:en": "Ceshi"})
    o.place(2, X0 + 0.001, Y0, {"place": "village"})  # unnamed: not a seed
    o.place(3, X0 + 0.2, Y0 + 0.2, {"place": "village", "name": "远村"})  # 25 km away: no houses
    o.square(10, X0 + 0.0002, Y0 + 0.0002, 0.0001,  # about 109 m2
             {"building": "house", "name": "李家", "addr:city": "贵溪市", "addr:street": "花园路",
              "addr:housenumber": "8"})
    o.square(11, X0 - 0.0004, Y0 + 0.0002, 0.0001, {"building": "yes", "shop": "convenience"})
    o.square(12, X0 + 0.0002, Y0 - 0.0003, 0.00003, {"building": "yes"})  # about 10 m2: a shed
    o.square(14, X0 - 0.0020, Y0 - 0.0020, 0.0006, {"building": "yes"})  # about 3,900 m2: a factory
    # a block of flats as a multipolygon relation inside a named compound
    o.square(13, X0 + 0.0050, Y0 + 0.0050, 0.0002, None)
    o.multipolygon(50, 13, {"building": "apartments", "addr:street": "幸福路", "addr:housenumber": "3"})
    o.square(20, X0 + 0.0045, Y0 + 0.0045, 0.0015, {"landuse": "residential", "name": "幸福小区"})
    o.square(21, X0 - 0.0100, Y0 - 0.0100, 0.0010, {"landuse": "residential"})
    o.line(30, [(X0 - 0.0005, Y0 - 0.0005), (X0 + 0.0010, Y0 + 0.0010)], {"highway": "footway"})
    o.line(31, [(X0 - 0.0010, Y0), (X0 + 0.0010, Y0)], {"highway": "motorway"})
    o.line(32, [(X0, Y0 - 0.0010), (X0, Y0 + 0.0010)], {"highway": "residential", "access": "private"})
    o.line(33, [(X0 + 0.0040, Y0 + 0.0040), (X0 + 0.0060, Y0 + 0.0040)],
           {"highway": "service", "access": "private", "foot": "yes", "name": "幸福小区内路"})
    o.line(34, [(X0 - 0.0010, Y0 + 0.0020), (X0 + 0.0010, Y0 + 0.0020)], {"highway": "trunk"})
    o.line(35, [(X0 - 0.0010, Y0 + 0.0030), (X0 + 0.0010, Y0 + 0.0030)], {"highway": "path", "foot": "no"})
    return o


@pytest.fixture
def town_osm(tmp_path: Path) -> Path:
    return _town().write(tmp_path / "测试镇.osm")


def test_derives_households_areas_and_roads(town_osm: Path) -> None:
    out = read_osm(town_osm)
    hh = out.households.frame
    assert list(hh.columns) == HOUSEHOLD_COLUMNS
    assert str(hh.crs) == "EPSG:4326"
    # the house and the flats; not the shop, the shed or the factory
    assert sorted(hh["household_id"]) == ["osm-r50", "osm-w10"]
    house = hh.set_index("household_id").loc["osm-w10"]
    assert house["address"] == "贵溪市花园路8号"
    assert house["attrs"]["name"] == "李家"
    assert house["attrs"]["building"] == "house"
    assert 100 < house["attrs"]["footprint_m2"] < 120
    assert house.geometry.distance(Point(X0 + 0.00025, Y0 + 0.00025)) < 1e-6  # the centroid
    assert hh["placement"].isna().all() and hh["village_id"].isna().all() and hh["area_id"].isna().all()
    assert hh.set_index("household_id").loc["osm-r50", "address"] == "幸福路3号"
    assert out.counts["buildings_too_small"] == 1 and out.counts["buildings_too_large"] == 1

    areas = out.areas.frame.set_index("area_id")
    assert list(out.areas.frame.columns) == AREA_COLUMNS
    assert areas.loc["osm-n1", "name"] == "测试村"
    assert areas.loc["osm-n1", "kind"] == "natural_village"
    assert areas.loc["osm-n1"].geometry.covers(house.geometry)
    assert areas.loc["osm-w20", ["name", "kind"]].tolist() == ["幸福小区", "compound"]
    assert areas.loc["osm-w21", "name"] == "未命名居住区 w21"
    assert "远村" not in set(areas["name"])
    assert areas["village_id"].isna().all()
    # grown 25 m and shrunk 15 m: the outline runs about 10 m outside the house
    utm = out.areas.frame.to_crs(32650).set_index("area_id")
    assert 10 * 11 < utm.loc["osm-n1"].geometry.area < 40 * 40

    roads = out.roads.frame
    assert list(roads.columns) == ROAD_COLUMNS
    # footway; private service road open to walkers; not motorway, private road, trunk, foot=no
    assert sorted(roads["road_id"]) == ["osm-w30", "osm-w33"]
    assert roads.set_index("road_id").loc["osm-w33", "name"] == "幸福小区内路"
    assert roads.set_index("road_id").loc["osm-w33", "attrs"]["foot"] == "yes"
    assert out.roads.replace_all

    assert out.villages is None
    text = "\n".join(out.warnings)
    assert "远村" in text and "没有名称的地名点" in text and "未命名居住区" in text
    assert all(w.startswith("测试镇.osm: ") for w in out.warnings)
    assert set(out.layers()) == {"areas", "households", "roads"}


def test_layers_assemble(town_osm: Path) -> None:
    out = read_osm(town_osm)
    result = assemble(villages=out.villages, areas=out.areas, households=out.households)
    placed = result.households.set_index("household_id")
    assert placed.loc["osm-w10", ["area_id", "placement"]].tolist() == ["osm-n1", "in_area"]
    assert placed.loc["osm-r50", ["area_id", "placement"]].tolist() == ["osm-w20", "in_area"]
    assert len(result.unplaced) == 0


def _to_pbf(src: Path, dst: Path) -> Path:
    with osmium.SimpleWriter(str(dst)) as writer:
        for obj in osmium.FileProcessor(str(src)):
            writer.add(obj)
    return dst


@pytest.mark.parametrize("form", ["osm.gz", "osm.pbf", "gzip named .osm", "osm.bz2"])
def test_every_format_gives_the_same_layers(town_osm: Path, tmp_path: Path, form: str) -> None:
    data = town_osm.read_bytes()
    if form == "osm.gz":
        path = tmp_path / "town.osm.gz"
        path.write_bytes(gzip.compress(data))
    elif form == "gzip named .osm":  # what some browsers save an osm.org export as
        path = tmp_path / "map.osm"
        path.write_bytes(gzip.compress(data))
    elif form == "osm.bz2":
        import bz2

        path = tmp_path / "town.osm.bz2"
        path.write_bytes(bz2.compress(data))
    else:
        path = _to_pbf(town_osm, tmp_path / "town.osm.pbf")
    ref, got = read_osm(town_osm), read_osm(path)
    for a, b in ((ref.households, got.households), (ref.areas, got.areas), (ref.roads, got.roads)):
        assert a.frame.drop(columns="geometry").equals(b.frame.drop(columns="geometry"))
        assert shapely.equals_exact(a.frame.geometry.values, b.frame.geometry.values, tolerance=1e-7).all()


def test_bbox_keeps_and_clips(town_osm: Path) -> None:
    bbox = (X0 - 0.0006, Y0 - 0.0006, X0 + 0.0006, Y0 + 0.0006)
    out = read_osm(town_osm, bbox=bbox)
    assert list(out.households.frame["household_id"]) == ["osm-w10"]
    assert list(out.roads.frame["road_id"]) == ["osm-w30"]
    assert out.roads.frame.geometry.iloc[0].within(shapely.box(*bbox).buffer(1e-9))
    assert "osm-w21" not in set(out.areas.frame["area_id"])  # outside: nothing left after clipping


def test_admin_boundaries_become_villages(tmp_path: Path) -> None:
    o = _town()
    o.square(90, X0 - 0.02, Y0 - 0.02, 0.04,
             {"boundary": "administrative", "admin_level": "10", "name": "测试社区"})
    out = read_osm(o.write(tmp_path / "a.osm"))
    v = out.villages.frame
    assert list(v.columns) == VILLAGE_COLUMNS
    assert v[["village_id", "name"]].values.tolist() == [["osm-w90", "测试社区"]]
    assert v["depot_lon"].isna().all()
    assert set(out.layers()) == {"areas", "households", "roads", "villages"}
    result = assemble(villages=out.villages, areas=out.areas, households=out.households)
    assert set(result.households["village_id"]) == {"osm-w90"}


def test_admin_boundaries_covering_few_households_are_not_used(tmp_path: Path) -> None:
    o = _town()
    o.square(91, X0 - 0.001, Y0 - 0.001, 0.002,  # holds the house, not the flats
             {"boundary": "administrative", "admin_level": "8", "name": "某街道"})
    out = read_osm(o.write(tmp_path / "a.osm"))
    assert out.villages is None
    assert any("某街道" in w and "1/2" in w for w in out.areas.warnings)


def test_places_option(town_osm: Path) -> None:
    out = read_osm(town_osm, options=OsmOptions(places=("village",)))
    assert "osm-n1" not in set(out.areas.frame["area_id"])  # a hamlet is no longer a seed


def test_options_validate() -> None:
    with pytest.raises(ValueError, match="shrink_m"):
        OsmOptions(grow_m=10, shrink_m=20)
    with pytest.raises(ValueError, match="footprint"):
        OsmOptions(min_footprint_m2=100, max_footprint_m2=50)


def _only_roads(tmp: Path) -> Path:
    o = _Osm()
    o.line(30, [(X0, Y0), (X0 + 0.001, Y0)], {"highway": "footway"})
    return o.write(tmp / "roads.osm")


def _only_shops(tmp: Path) -> Path:
    o = _Osm()
    o.square(11, X0, Y0, 0.0002, {"building": "retail"})
    o.square(12, X0 + 0.001, Y0, 0.0002, {"building": "yes", "amenity": "school"})
    return o.write(tmp / "shops.osm")


def _text(tmp: Path) -> Path:
    path = tmp / "notes.osm"
    path.write_text("这不是 OSM 文件\n", encoding="utf-8")
    return path


def _geojson(tmp: Path) -> Path:
    path = tmp / "houses.osm.pbf"
    path.write_text('{"type": "FeatureCollection", "features": []}', encoding="utf-8")
    return path


def _broken_gzip(tmp: Path) -> Path:
    path = tmp / "cut.osm.gz"
    path.write_bytes(gzip.compress(_town().xml().encode())[:200])
    return path


def _bad_xml(tmp: Path) -> Path:
    path = tmp / "other.osm"
    path.write_text('<?xml version="1.0"?><gpx version="1.1"></gpx>', encoding="utf-8")
    return path


def _unsorted(tmp: Path) -> Path:
    path = tmp / "josm.osm"
    text = _town().xml()
    first = text.index("<way ")
    end = text.index("</way>", first) + len("</way>")
    path.write_text(text[:first] + text[end:].replace("</osm>", text[first:end] + "\n</osm>"), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("make", "bbox", "expected"),
    [
        (lambda tmp: tmp / "missing.osm", None, "文件不存在"),
        (_text, None, "不是 OpenStreetMap 数据文件"),
        (_geojson, None, "看起来是 GeoJSON"),
        (_broken_gzip, None, "无法作为 OpenStreetMap 数据文件读取"),
        (_bad_xml, None, "无法作为 OpenStreetMap 数据文件读取"),
        (_unsorted, None, "没有按类型和编号排序"),
        (_only_roads, None, "没有任何建筑轮廓"),
        (_only_shops, None, "但都不是住宅"),
        (_only_shops, None, "building=retail 1, yes 1"),
        (lambda tmp: _town().write(tmp / "t.osm"), (100.0, 20.0, 100.1, 20.1), "内没有住宅建筑"),
        (lambda tmp: _town().write(tmp / "t.osm"), (118.0, 28.0, 117.0, 29.0), "范围 (bbox) 无效"),
        (lambda tmp: _town().write(tmp / "t.osm"), (1, 2, 3), "应为 4 个数字"),
    ],
    ids=["missing", "text", "geojson", "broken-gzip", "not-osm-xml", "unsorted", "no-buildings", "no-houses",
         "no-houses-detail", "bbox-empty", "bbox-inverted", "bbox-short"],
)
def test_failure_modes(tmp_path: Path, make, bbox, expected: str) -> None:
    path = make(tmp_path)
    with pytest.raises(InputError) as info:
        read_osm(path, bbox=bbox)
    message = str(info.value)
    assert expected in message
    assert message.startswith(path.name)  # names the file
    assert "处理办法" in message  # and says how to fix it


@pytest.mark.skipif(not GUIXI.exists(), reason="tests/data/osm extract missing")
def test_real_extract_guixi() -> None:
    out = read_osm(GUIXI)
    hh = out.households.frame
    assert 140 <= len(hh) <= 165  # the shared prepared layer has 152 from the same rules
    assert hh["household_id"].is_unique and hh["household_id"].str.match(r"osm-[wr]\d+$").all()
    nv = out.areas.frame[out.areas.frame["kind"] == "natural_village"]
    assert {"花园村", "大岩苏家"} <= set(nv["name"])
    assert shapely.is_valid(out.areas.frame.geometry.values).all()
    assert len(out.roads.frame) > 100 and out.roads.frame["road_id"].is_unique
    assert not out.roads.frame["highway"].isin(["motorway", "trunk", "construction"]).any()
    # its only boundary (东门街道, admin_level 8) holds a third of the houses: not used as a village
    assert out.villages is None
    result = assemble(villages=out.villages, areas=out.areas, households=out.households)
    assert len(result.unplaced) == 0
    assert len(result.households) == len(hh)
    # quarters (社区) seed villages when asked
    more = read_osm(GUIXI, options=OsmOptions(places=("village", "hamlet", "quarter")))
    assert (more.areas.frame["name"].str.endswith("社区")).sum() >= 5
