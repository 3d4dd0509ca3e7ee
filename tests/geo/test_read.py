"""Readers: one small broken file per failure mode, each checked for its message."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapefile  # pyshp: writes a .dbf with no code page and no .cpg, like old Chinese GIS tools
import shapely
from shapely.geometry import Point, box

from geo.crs import wgs84_to_gcj02
from geo.errors import InputError
from geo.read import ReadOptions, read_areas, read_households, read_roads, read_villages

DATA = Path(__file__).resolve().parents[1] / "data"

# a village near Guixi, Jiangxi (lon, lat)
X0, Y0 = 117.20, 28.29
D = 0.001  # about 100 m


def _fc(features: list[dict]) -> dict:
    return {"type": "FeatureCollection", "features": features}


def _write_geojson(path: Path, features: list[dict], crs: str | None = None) -> Path:
    doc = _fc(features)
    if crs:
        doc["crs"] = {"type": "name", "properties": {"name": crs}}
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return path


def _poly(x: float, y: float, w: float = 2 * D) -> dict:
    return shapely.geometry.mapping(box(x, y, x + w, y + w))


def _areas_file(tmp_path: Path, **props) -> Path:
    feats = [
        {"type": "Feature", "properties": {"编号": "A1", "名称": "上村", "类型": "自然村", **props},
         "geometry": _poly(X0, Y0)},
        {"type": "Feature", "properties": {"编号": "A2", "名称": "幸福小区", "类型": "小区", **props},
         "geometry": _poly(X0 + 3 * D, Y0)},
    ]
    return _write_geojson(tmp_path / "areas.geojson", feats)


def _problems(exc: pytest.ExceptionInfo[InputError]) -> str:
    return "\n".join(str(p) for p in exc.value.problems)


# ---------------------------------------------------------------- areas


def test_areas_chinese_headers_and_kinds(tmp_path: Path) -> None:
    layer = read_areas(_areas_file(tmp_path))
    f = layer.frame
    assert list(f["area_id"]) == ["A1", "A2"]
    assert list(f["kind"]) == ["natural_village", "compound"]
    assert list(f["name"]) == ["上村", "幸福小区"]
    assert f.crs.to_epsg() == 4326
    assert layer.crs_in == "EPSG:4326"  # GeoJSON is WGS 84 by definition (RFC 7946)


def test_areas_unknown_kind_is_named(tmp_path: Path) -> None:
    feats = [{"type": "Feature", "properties": {"id": "A1", "kind": "farmland"}, "geometry": _poly(X0, Y0)}]
    with pytest.raises(InputError) as exc:
        read_areas(_write_geojson(tmp_path / "a.geojson", feats))
    text = _problems(exc)
    assert "要素 1 (编号 A1)" in text and "farmland" in text and "自然村" in text


def test_empty_file(tmp_path: Path) -> None:
    p = tmp_path / "empty.geojson"
    p.write_bytes(b"")
    with pytest.raises(InputError) as exc:
        read_areas(p)
    assert "empty.geojson" in str(exc.value) and "文件为空" in str(exc.value)


def test_not_a_geo_file(tmp_path: Path) -> None:
    p = tmp_path / "notes.geojson"
    p.write_text("这不是地图数据, just some notes\n", encoding="utf-8")
    with pytest.raises(InputError) as exc:
        read_areas(p)
    assert "notes.geojson" in str(exc.value) and "无法作为地理数据文件读取" in str(exc.value)


def test_wrong_geometry_type(tmp_path: Path) -> None:
    feats = [{"type": "Feature", "properties": {"id": f"P{i}"}, "geometry": {"type": "Point", "coordinates": [X0, Y0]}}
             for i in range(3)]
    with pytest.raises(InputError) as exc:
        read_areas(_write_geojson(tmp_path / "points.geojson", feats))
    assert "几何类型不对" in str(exc.value) and "Point" in str(exc.value)


def test_one_wrong_geometry_among_good_is_named(tmp_path: Path) -> None:
    feats = [{"type": "Feature", "properties": {"id": "A1"}, "geometry": _poly(X0, Y0)},
             {"type": "Feature", "properties": {"id": "A2"},
              "geometry": {"type": "LineString", "coordinates": [[X0, Y0], [X0 + D, Y0]]}}]
    with pytest.raises(InputError) as exc:
        read_areas(_write_geojson(tmp_path / "mixed.geojson", feats))
    assert "要素 2 (编号 A2)" in str(exc.value) and "LineString" in str(exc.value)


def test_missing_id_column(tmp_path: Path) -> None:
    feats = [{"type": "Feature", "properties": {"名称": "上村"}, "geometry": _poly(X0, Y0)}]
    with pytest.raises(InputError) as exc:
        read_areas(_write_geojson(tmp_path / "noid.geojson", feats))
    assert "缺少片区编号列" in str(exc.value) and "noid.geojson" in str(exc.value)


def test_duplicate_ids_are_all_listed(tmp_path: Path) -> None:
    feats = [{"type": "Feature", "properties": {"id": i}, "geometry": _poly(X0 + k * 3 * D, Y0)}
             for k, i in enumerate(["A1", "A2", "A1", "A3", "A2"])]
    with pytest.raises(InputError) as exc:
        read_areas(_write_geojson(tmp_path / "dups.geojson", feats))
    text = str(exc.value)
    assert "编号重复" in text and "A1" in text and "A2" in text and "A3 (" not in text
    assert "要素 1" in text and "要素 3" in text


def test_invalid_polygon_repaired_with_reason(tmp_path: Path) -> None:
    bowtie = {"type": "Polygon", "coordinates": [[[X0, Y0], [X0 + D, Y0 + D], [X0 + D, Y0], [X0, Y0 + D], [X0, Y0]]]}
    feats = [{"type": "Feature", "properties": {"id": "BOW"}, "geometry": bowtie}]
    layer = read_areas(_write_geojson(tmp_path / "bow.geojson", feats))
    assert layer.frame.geometry.is_valid.all()
    assert any("BOW" in w and "Self-intersection" in w and "已自动修复" in w for w in layer.warnings)


def test_gbk_shapefile_without_cpg_reads_chinese(tmp_path: Path) -> None:
    base = tmp_path / "gbk_areas"
    with shapefile.Writer(str(base), shapeType=shapefile.POLYGON, encoding="gbk") as w:
        w.field("BIANHAO", "C", size=10)
        w.field("MINGCHENG", "C", size=40)
        w.field("LEIXING", "C", size=10)
        w.poly([[(X0, Y0), (X0 + D, Y0), (X0 + D, Y0 + D), (X0, Y0 + D), (X0, Y0)]])
        w.record("A1", "王堃家村", "自然村")
    assert not base.with_suffix(".cpg").exists()
    layer = read_areas(base.with_suffix(".shp"),
                       options=ReadOptions(columns={"area_id": "BIANHAO", "name": "MINGCHENG", "kind": "LEIXING"}))
    assert layer.frame["name"].iloc[0] == "王堃家村"
    assert layer.frame["kind"].iloc[0] == "natural_village"


def test_windows_zip_with_gbk_names(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    base = src / "自然村"
    with shapefile.Writer(str(base), shapeType=shapefile.POLYGON, encoding="gbk") as w:
        w.field("编号", "C", size=10)
        w.field("名称", "C", size=40)
        w.poly([[(X0, Y0), (X0 + D, Y0), (X0 + D, Y0 + D), (X0, Y0 + D), (X0, Y0)]])
        w.record("A9", "朱家湾")
    z = tmp_path / "片区.zip"
    with zipfile.ZipFile(z, "w") as zf:
        for f in src.iterdir():
            info = zipfile.ZipInfo("数据/" + f.name)
            # what Chinese Windows does: GBK bytes in the name, no UTF-8 flag
            info.filename = ("数据/" + f.name).encode("gbk").decode("cp437")
            zf.writestr(info, f.read_bytes())
    layer = read_areas(z)
    assert list(layer.frame["area_id"]) == ["A9"]
    assert layer.frame["name"].iloc[0] == "朱家湾"


def test_cgcs2000_gauss_kruger_file(tmp_path: Path) -> None:
    # EPSG:4549 = CGCS2000 / 3-degree Gauss-Kruger CM 120E (metres, northing/easting)
    pts = gpd.GeoSeries([Point(X0, Y0)], crs=4326).to_crs(4549)
    x, y = pts.x.iloc[0], pts.y.iloc[0]
    g = gpd.GeoDataFrame({"编号": ["A1"], "类型": ["小区"]},
                         geometry=[box(x, y, x + 200, y + 200)], crs=4549)
    p = tmp_path / "gk.gpkg"
    g.to_file(p)
    layer = read_areas(p)
    corners = np.asarray(layer.frame.geometry.iloc[0].exterior.coords)
    # the box's corner at (x, y) comes back at (X0, Y0): lon first, not lat
    assert np.min(np.hypot(corners[:, 0] - X0, corners[:, 1] - Y0)) < 1e-7
    assert layer.crs_in == "EPSG:4549"


# ---------------------------------------------------------------- households


def _hh_csv(tmp_path: Path, rows: list[list[object]], header=("户编号", "户主姓名", "经度", "纬度", "人口", "标签"),
             encoding: str = "utf-8", name: str = "households.csv") -> Path:
    df = pd.DataFrame(rows, columns=list(header))
    p = tmp_path / name
    p.write_bytes(df.to_csv(index=False).encode(encoding))
    return p


def test_households_csv_chinese_headers(tmp_path: Path) -> None:
    p = _hh_csv(tmp_path, [["0001", "张䶮", X0 + 0.5 * D, Y0 + 0.5 * D, 3, "独居老人、低保户"],
                           ["0002", "李四", X0 + 1.5 * D, Y0 + 0.5 * D, "", ""]])
    layer = read_households(p)
    f = layer.frame
    assert any("WGS 84" in w for w in layer.warnings)  # a CSV has no CRS: assumed, and said
    assert list(f["household_id"]) == ["0001", "0002"]  # leading zeros kept
    assert f["head"].iloc[0] == "张䶮"
    assert f["tags"].iloc[0] == "elderly_alone,low_income"
    assert f["size"].iloc[0] == 3 and pd.isna(f["size"].iloc[1])


def test_households_gbk_csv(tmp_path: Path) -> None:
    p = _hh_csv(tmp_path, [["H1", "王堃", X0, Y0, 2, ""]], encoding="gb18030")
    layer = read_households(p)
    assert layer.frame["head"].iloc[0] == "王堃"
    assert any("GB18030" in w for w in layer.warnings)


def test_households_xlsx(tmp_path: Path) -> None:
    df = pd.DataFrame({"户号": ["H1", "H2"], "经度": [X0, X0 + D], "纬度": [Y0, Y0], "联系电话": ["13812341234", None]})
    p = tmp_path / "住户.xlsx"
    df.to_excel(p, index=False)
    f = read_households(p).frame
    assert list(f["household_id"]) == ["H1", "H2"]
    assert f["phone"].iloc[0] == "13812341234"


def test_missing_coordinate_columns(tmp_path: Path) -> None:
    p = _hh_csv(tmp_path, [["H1", "张三", "x", "y", 1, ""]], header=("户编号", "户主姓名", "东", "北", "人口", "标签"))
    with pytest.raises(InputError) as exc:
        read_households(p)
    assert "缺少坐标列" in str(exc.value) and "--column lon=" in str(exc.value)


def test_household_missing_id_column_and_generate_ids(tmp_path: Path) -> None:
    p = _hh_csv(tmp_path, [["张三", X0, Y0]], header=("户主姓名", "经度", "纬度"))
    with pytest.raises(InputError) as exc:
        read_households(p)
    assert "缺少住户编号列" in str(exc.value) and "--generate-ids" in str(exc.value)
    f = read_households(p, options=ReadOptions(generate_ids=True)).frame
    assert list(f["household_id"]) == ["households-000001"]


def test_household_duplicate_ids_listed_with_rows(tmp_path: Path) -> None:
    p = _hh_csv(tmp_path, [["H1", "a", X0, Y0, 1, ""], ["H2", "b", X0, Y0, 1, ""], ["H1", "c", X0, Y0, 1, ""]])
    with pytest.raises(InputError) as exc:
        read_households(p)
    text = str(exc.value)
    assert "住户编号重复" in text and "H1" in text and "第 2 行" in text and "第 4 行" in text


def test_coordinates_out_of_range(tmp_path: Path) -> None:
    p = _hh_csv(tmp_path, [["H1", "a", 200.0, Y0, 1, ""], ["H2", "b", X0, Y0, 1, ""]])
    with pytest.raises(InputError) as exc:
        read_households(p, options=ReadOptions(crs="wgs84"))
    assert "H1" in str(exc.value)


def test_bad_numbers_named_by_row(tmp_path: Path) -> None:
    p = _hh_csv(tmp_path, [["H1", "a", "东经117", Y0, "三", ""], ["H2", "b", X0, Y0, 2, ""]])
    with pytest.raises(InputError) as exc:
        read_households(p)
    text = str(exc.value)
    assert "第 2 行 (编号 H1)" in text and "不是数字" in text


def test_swapped_lat_lon_is_reported(tmp_path: Path) -> None:
    p = _hh_csv(tmp_path, [["H1", "a", Y0, X0, 1, ""], ["H2", "b", Y0 + D, X0, 1, ""]])
    with pytest.raises(InputError) as exc:
        read_households(p)
    assert "纬度" in str(exc.value)


def test_gcj02_option_converts(tmp_path: Path) -> None:
    lon, lat = wgs84_to_gcj02(np.array([X0]), np.array([Y0]))
    p = _hh_csv(tmp_path, [["H1", "a", lon[0], lat[0], 1, ""]])
    f = read_households(p, options=ReadOptions(crs="gcj02")).frame
    assert abs(f.geometry.x.iloc[0] - X0) < 1e-6 and abs(f.geometry.y.iloc[0] - Y0) < 1e-6
    raw = read_households(p).frame  # without the option the ~500 m shift stays
    assert abs(raw.geometry.x.iloc[0] - X0) > 1e-4


def test_column_override(tmp_path: Path) -> None:
    p = _hh_csv(tmp_path, [["H1", X0, Y0]], header=("ID号", "X坐标", "Y坐标"))
    f = read_households(p, options=ReadOptions(columns={"household_id": "ID号", "lon": "X坐标", "lat": "Y坐标"})).frame
    assert f["household_id"].iloc[0] == "H1"
    with pytest.raises(InputError) as exc:
        read_households(p, options=ReadOptions(columns={"lon": "不存在"}))
    assert "不存在" in str(exc.value) and "X坐标" in str(exc.value)


# ---------------------------------------------------------------- villages and roads


def test_villages_with_depot(tmp_path: Path) -> None:
    feats = [{"type": "Feature", "properties": {"统计用区划代码": "360681100201", "村名": "塘湾村",
                                                 "乡镇": "罗河镇", "村委经度": X0, "村委纬度": Y0},
              "geometry": _poly(X0 - D, Y0 - D, 10 * D)}]
    f = read_villages(_write_geojson(tmp_path / "v.geojson", feats)).frame
    assert f["village_id"].iloc[0] == "360681100201"
    assert f["town"].iloc[0] == "罗河镇" and f["depot_lon"].iloc[0] == pytest.approx(X0)


def test_roads_multiline_split_and_generated_ids(tmp_path: Path) -> None:
    feats = [{"type": "Feature", "properties": {"名称": "村道"},
              "geometry": {"type": "MultiLineString", "coordinates": [[[X0, Y0], [X0 + D, Y0]], [[X0, Y0 + D], [X0 + D, Y0 + D]]]}}]
    layer = read_roads(_write_geojson(tmp_path / "roads.geojson", feats))
    assert list(layer.frame["road_id"]) == ["R000001-1", "R000001-2"]
    assert layer.replace_all


def test_real_haidian_fixture_reads() -> None:
    # the fixture names its natural villages and compounds "village_id": say which column is the id
    layer = read_areas(DATA / "haidian" / "villages.geojson", options=ReadOptions(columns={"area_id": "village_id"}))
    assert len(layer.frame) == 9
    assert set(layer.frame["kind"]) <= {"natural_village", "compound"}
    hh = read_households(DATA / "haidian" / "households.geojson").frame
    assert len(hh) == 152 and hh["household_id"].is_unique


def test_gcj02_option_applies_to_geojson_labelled_wgs84(tmp_path: Path) -> None:
    lon, lat = wgs84_to_gcj02(np.array([X0]), np.array([Y0]))
    feats = [{"type": "Feature", "properties": {"id": "H1"},
              "geometry": {"type": "Point", "coordinates": [lon[0], lat[0]]}}]
    layer = read_households(_write_geojson(tmp_path / "amap.geojson", feats), options=ReadOptions(crs="gcj02"))
    assert abs(layer.frame.geometry.x.iloc[0] - X0) < 1e-6
    assert any("GCJ-02" in w for w in layer.warnings)
