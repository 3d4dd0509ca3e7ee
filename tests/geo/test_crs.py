"""Tests of geo.crs: offset systems against the independent ``prcoords``, CRS rules of to_wgs84."""

from __future__ import annotations

import warnings

import geopandas
import numpy as np
import prcoords
import pyogrio
import pyproj
import pytest
import shapely

from geo import crs
from geo.errors import Collector, InputError

GEOD = pyproj.Geod(ellps="WGS84")
BEIJING = (116.3975, 39.9087)
LONDON = (-0.1276, 51.5072)
SEOUL = (126.9780, 37.5665)


def metres(lon1, lat1, lon2, lat2) -> np.ndarray:
    """Geodesic distance in metres between arrays of WGS 84 points."""
    return np.asarray(GEOD.inv(lon1, lat1, lon2, lat2)[2])


@pytest.fixture(scope="module")
def china_points() -> tuple[np.ndarray, np.ndarray]:
    """2,000 random WGS 84 points well inside the China box (fixed seed)."""
    rng = np.random.default_rng(20240601)
    return rng.uniform(73.5, 135.0, 2000), rng.uniform(18.2, 53.5, 2000)


def prc(func, lon, lat) -> tuple[np.ndarray, np.ndarray]:
    """Apply a prcoords function (which takes and returns (lat, lon)) point by point."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # prcoords warns for points it considers outside China
        out = np.array([func((la, lo)) for lo, la in zip(lon, lat)])
    return out[:, 1], out[:, 0]


def gdf(geoms, crs_=None, **columns) -> geopandas.GeoDataFrame:
    return geopandas.GeoDataFrame(columns or None, geometry=list(geoms), crs=crs_)


# --- GCJ-02 / BD-09 ------------------------------------------------------------------------


def test_gcj02_forward_matches_prcoords(china_points):
    lon, lat = china_points
    glon, glat = crs.wgs84_to_gcj02(lon, lat)
    plon, plat = prc(prcoords.wgs_gcj, lon, lat)
    assert metres(glon, glat, plon, plat).max() < 1e-6
    shift = metres(lon, lat, glon, glat)
    assert shift.min() > 20 and shift.max() < 800 and 300 < np.median(shift) < 550


def test_gcj02_inverse_round_trip_and_prcoords(china_points):
    lon, lat = china_points
    glon, glat = crs.wgs84_to_gcj02(lon, lat)
    wlon, wlat = crs.gcj02_to_wgs84(glon, glat)
    assert metres(wlon, wlat, lon, lat).max() < 0.001  # requirement: < 0.05 m
    plon, plat = prc(prcoords.gcj_wgs_bored, glon, glat)
    assert metres(wlon, wlat, plon, plat).max() < 0.05
    # The one-step inverse is metres off: the iteration is what makes it accurate.
    rlon, rlat = prc(prcoords.gcj_wgs, glon, glat)
    assert metres(rlon, rlat, lon, lat).max() > 1.0


def test_gcj02_inverse_with_one_iteration_is_less_accurate(china_points):
    lon, lat = china_points
    glon, glat = crs.wgs84_to_gcj02(lon, lat)
    wlon, wlat = crs.gcj02_to_wgs84(glon, glat, max_iter=1)
    assert metres(wlon, wlat, lon, lat).max() > 0.001


@pytest.mark.parametrize("kwargs", [{"tol_deg": 0.0}, {"tol_deg": float("nan")}, {"max_iter": 0}])
def test_inverse_rejects_bad_options(kwargs):
    with pytest.raises(ValueError):
        crs.gcj02_to_wgs84(np.array([116.4]), np.array([39.9]), **kwargs)
    with pytest.raises(ValueError):
        crs.bd09_to_wgs84(np.array([116.4]), np.array([39.9]), **kwargs)


def test_bd09_forward_and_inverse(china_points):
    lon, lat = china_points
    blon, blat = crs.wgs84_to_bd09(lon, lat)
    plon, plat = prc(prcoords.wgs_bd, lon, lat)
    assert metres(blon, blat, plon, plat).max() < 1e-6
    wlon, wlat = crs.bd09_to_wgs84(blon, blat)
    assert metres(wlon, wlat, lon, lat).max() < 0.001
    qlon, qlat = prc(prcoords.bd_wgs_bored, blon, blat)
    assert metres(wlon, wlat, qlon, qlat).max() < 0.05


def test_gcj02_bd09_closed_forms(china_points):
    lon, lat = china_points
    glon, glat = crs.wgs84_to_gcj02(lon, lat)
    blon, blat = crs.gcj02_to_bd09(glon, glat)
    plon, plat = prc(prcoords.gcj_bd, glon, glat)
    assert metres(blon, blat, plon, plat).max() < 1e-6
    g2lon, g2lat = crs.bd09_to_gcj02(blon, blat)
    qlon, qlat = prc(prcoords.bd_gcj, blon, blat)
    assert metres(g2lon, g2lat, qlon, qlat).max() < 1e-6
    # Baidu's closed-form inverse is decimetre-level, not exact.
    assert metres(g2lon, g2lat, glon, glat).max() < 1.0
    # BD-09 is a further ~0.0065 degree east and 0.006 degree north of GCJ-02.
    assert 500 < np.median(metres(glon, glat, blon, blat)) < 1200


def test_points_outside_china_are_not_shifted():
    lon, lat = np.array([LONDON[0], 2.35, -74.0]), np.array([LONDON[1], 48.86, 40.71])
    for func in (crs.wgs84_to_gcj02, crs.gcj02_to_wgs84, crs.wgs84_to_bd09, crs.bd09_to_wgs84):
        out_lon, out_lat = func(lon, lat)
        np.testing.assert_array_equal(out_lon, lon)
        np.testing.assert_array_equal(out_lat, lat)
    assert crs.outside_china(lon, lat).all()


def test_rough_box_shifts_seoul_like_prcoords():
    # Known limitation shared by every implementation: the box includes Seoul.
    assert not crs.outside_china(np.array([SEOUL[0]]), np.array([SEOUL[1]]))[0]
    glon, glat = crs.wgs84_to_gcj02(np.array([SEOUL[0]]), np.array([SEOUL[1]]))
    plon, plat = prc(prcoords.wgs_gcj, [SEOUL[0]], [SEOUL[1]])
    assert metres(glon, glat, plon, plat)[0] < 1e-6
    assert metres(glon, glat, np.array([SEOUL[0]]), np.array([SEOUL[1]]))[0] > 100


def test_outside_china_box_bounds():
    lon = np.array([72.004, 72.003, 137.8347, 137.8348, 100.0, 100.0, 100.0, np.nan])
    lat = np.array([30.0, 30.0, 30.0, 30.0, 0.8293, 0.8292, 55.8272, 30.0])
    np.testing.assert_array_equal(crs.outside_china(lon, lat),
                                  [False, True, False, True, False, True, True, True])


def test_offset_functions_keep_shape_and_do_not_modify_input():
    lon = np.array([[116.4, 121.5], [113.3, 104.1]])
    lat = np.array([[39.9, 31.2], [23.1, 30.7]])
    before = lon.copy()
    glon, glat = crs.wgs84_to_gcj02(lon, lat)
    assert glon.shape == (2, 2) and glat.shape == (2, 2)
    np.testing.assert_array_equal(lon, before)
    wlon, wlat = crs.gcj02_to_wgs84(glon, glat)
    assert metres(wlon.ravel(), wlat.ravel(), lon.ravel(), lat.ravel()).max() < 0.001


# --- UTM -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lon", "lat", "epsg"),
    [
        ([116.20, 116.60], [39.80, 40.00], 32650),  # Beijing
        ([9.47, 9.64], [47.05, 47.27], 32632),  # Liechtenstein
        ([151.10, 151.30], [-33.95, -33.80], 32756),  # Sydney
        ([-70.70, -70.60], [-33.50, -33.40], 32719),  # Santiago de Chile
        ([179.9, 180.0], [10.0, 10.0], 32660),  # the antimeridian stays in zone 60
    ],
)
def test_utm_crs(lon, lat, epsg):
    assert crs.utm_crs(np.array(lon), np.array(lat)).to_epsg() == epsg


def test_utm_crs_uses_the_centre_of_the_bounds():
    # Most points at 113E (zone 49), but the bounds' centre is 118.5E (zone 50).
    lon = np.array([113.0] * 10 + [124.0])
    lat = np.full(11, 30.0)
    assert crs.utm_crs(lon, lat).to_epsg() == 32650


def test_utm_crs_rejects_empty_and_non_degrees():
    with pytest.raises(ValueError):
        crs.utm_crs(np.array([]), np.array([]))
    with pytest.raises(ValueError):
        crs.utm_crs(np.array([np.nan]), np.array([np.nan]))
    with pytest.raises(ValueError):
        crs.utm_crs(np.array([440000.0]), np.array([4420000.0]))


# --- heuristics ----------------------------------------------------------------------------


def test_looks_like_lonlat():
    assert crs.looks_like_lonlat(np.array([116.4, -180.0]), np.array([39.9, 90.0]))
    assert not crs.looks_like_lonlat(np.array([181.0]), np.array([0.0]))
    assert not crs.looks_like_lonlat(np.array([116.4]), np.array([90.5]))
    assert not crs.looks_like_lonlat(np.array([116.4, np.nan]), np.array([39.9, 1.0]))
    assert not crs.looks_like_lonlat(np.array([440000.0]), np.array([4420000.0]))
    assert not crs.looks_like_lonlat(np.array([]), np.array([]))


def test_looks_swapped():
    assert crs.looks_swapped(np.array([39.9, 31.2]), np.array([116.4, 121.5]))  # China lat/lon
    assert crs.looks_swapped(np.array([30.0]), np.array([85.0]))  # China heuristic, y <= 90
    assert crs.looks_swapped(np.array([-33.9, 10.0]), np.array([151.2, 20.0]))  # general rule
    assert not crs.looks_swapped(np.array([116.4, 121.5]), np.array([39.9, 31.2]))
    assert not crs.looks_swapped(np.array([-0.13]), np.array([51.5]))
    assert not crs.looks_swapped(np.array([440000.0]), np.array([4420000.0]))
    assert not crs.looks_swapped(np.array([10.0]), np.array([200.0]))


# --- parse_crs_option ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("wgs84", 4326), ("WGS84", 4326), ("WGS-84", 4326), ("EPSG:4326", 4326),
        ("cgcs2000", 4490), ("CGCS2000", 4490), ("EPSG:4549", 4549), ("4549", 4549),
        ("epsg:4527", 4527),
    ],
)
def test_parse_crs_option_crs(value, expected):
    parsed = crs.parse_crs_option(value)
    assert isinstance(parsed, pyproj.CRS)
    assert parsed.to_epsg() == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [("gcj02", "gcj02"), ("GCJ-02", "gcj02"), ("GCJ02", "gcj02"), ("bd09", "bd09"),
     ("BD-09", "bd09"), (" bd09 ", "bd09")],
)
def test_parse_crs_option_offset(value, expected):
    assert crs.parse_crs_option(value) == expected
    assert expected in crs.OFFSET_CRS


def test_parse_crs_option_none():
    assert crs.parse_crs_option(None) is None


@pytest.mark.parametrize("value", ["mars", "EPSG:99999999", "", "gcj-03", "EPSG:5773"])
def test_parse_crs_option_rejects(value):
    with pytest.raises(ValueError) as err:
        crs.parse_crs_option(value)
    message = str(err.value)
    assert "坐标系" in message or "CRS" in message
    if value != "EPSG:5773":
        assert "无法识别" in message and "Unrecognised" in message
    assert "gcj02" in message and "bd09" in message and "cgcs2000" in message


# --- to_wgs84 ------------------------------------------------------------------------------


def test_cgcs2000_geographic_file_keeps_lon_lat_order(tmp_path):
    path = tmp_path / "households.gpkg"
    src = gdf([shapely.Point(*BEIJING), shapely.Point(121.47, 31.23)], "EPSG:4490",
              household_id=["H1", "H2"])
    pyogrio.write_dataframe(src, path)
    read = pyogrio.read_dataframe(path)
    assert read.crs.to_epsg() == 4490
    col = Collector(path)
    out = crs.to_wgs84(read, declared=None, collector=col)
    assert out.crs.to_epsg() == 4326
    np.testing.assert_allclose(out.geometry.x, [BEIJING[0], 121.47], atol=1e-7)
    np.testing.assert_allclose(out.geometry.y, [BEIJING[1], 31.23], atol=1e-7)
    assert list(out["household_id"]) == ["H1", "H2"]
    assert col.warnings == [] and col.problems == []


def test_cgcs2000_gauss_kruger_4549():
    lon, lat = 120.5, 30.25
    to_gk = pyproj.Transformer.from_crs(4326, 4549, always_xy=True)
    x, y = to_gk.transform(lon, lat)
    assert 540000 < x < 560000 and 3340000 < y < 3360000  # easting first, northing second
    on_cm_y = 3350000.0
    expected_cm = pyproj.Transformer.from_crs(4549, 4326, always_xy=True).transform(500000, on_cm_y)
    src = gdf([shapely.Point(x, y), shapely.Point(500000, on_cm_y)], "EPSG:4549")
    col = Collector("gk.shp")
    out = crs.to_wgs84(src, declared=None, collector=col)
    assert out.crs.to_epsg() == 4326
    assert metres(out.geometry.x[0], out.geometry.y[0], lon, lat) < 0.001
    assert out.geometry.x[1] == pytest.approx(120.0, abs=1e-9)  # the central meridian
    assert out.geometry.y[1] == pytest.approx(expected_cm[1], abs=1e-9)
    assert 30.2 < out.geometry.y[1] < 30.3
    assert col.warnings == []


@pytest.mark.parametrize(
    ("epsg", "point", "datum"),
    [
        (4610, (116.4, 39.9), "西安 1980"),
        (2385, (500000.0, 3350000.0), "西安 1980"),  # Xian 1980 / 3-degree GK CM 120E
        (4214, (116.4, 39.9), "北京 1954"),
        (2437, (500000.0, 3350000.0), "北京 1954"),  # Beijing 1954 / 3-degree GK CM 120E
    ],
)
def test_legacy_datums_warn(epsg, point, datum):
    col = Collector("old.shp")
    out = crs.to_wgs84(gdf([shapely.Point(*point)], f"EPSG:{epsg}"), declared=None, collector=col)
    assert out.crs.to_epsg() == 4326
    assert len(col.warnings) == 1
    assert datum in col.warnings[0] and "100 米" in col.warnings[0]


def test_legacy_datum_from_esri_prj_names():
    wkt = ('GEOGCS["GCS_Xian_1980",DATUM["D_Xian_1980",SPHEROID["Xian_1980",6378140.0,257.0]],'
           'PRIMEM["Greenwich",0.0],UNIT["Degree",0.0174532925199433]]')
    col = Collector("esri.shp")
    crs.to_wgs84(gdf([shapely.Point(116.4, 39.9)], pyproj.CRS(wkt)), declared=None, collector=col)
    assert any("西安 1980" in w for w in col.warnings)


def test_no_crs_lonlat_is_wgs84_with_warning():
    src = gdf([shapely.Point(*BEIJING), shapely.LineString([(116.0, 39.0), (116.1, 39.1)])])
    col = Collector("nocrs.geojson")
    out = crs.to_wgs84(src, declared=None, collector=col)
    assert out.crs.to_epsg() == 4326
    assert out.geometry.iloc[0].equals(shapely.Point(*BEIJING))
    assert out.geometry.iloc[1].equals(src.geometry.iloc[1])
    assert len(col.warnings) == 1
    assert "WGS 84" in col.warnings[0] and "--crs" in col.warnings[0]
    assert col.warnings[0].startswith("nocrs.geojson: 文件没有坐标系")
    assert src.crs is None  # the input is not modified


@pytest.mark.parametrize(
    "points",
    [
        [(39.9087, 116.3975), (31.23, 121.47)],  # China, lat first
        [(30.0, 85.0)],  # Tibet, lat first: y <= 90 still, caught by the China rule
        [(-33.87, 151.21)],  # Sydney, lat first: |y| > 90
    ],
)
def test_swapped_lat_lon_fails(points):
    col = Collector("swapped.csv")
    with pytest.raises(InputError) as err:
        crs.to_wgs84(gdf([shapely.Point(p) for p in points]), declared=None, collector=col)
    assert "纬度" in str(err.value) and "交换" in str(err.value)
    assert len(err.value.problems) == 1 and err.value.problems[0].file == "swapped.csv"


def test_swapped_lat_lon_fails_with_a_geographic_crs_too():
    src = gdf([shapely.Point(39.9087, 116.3975)], "EPSG:4326")
    with pytest.raises(InputError, match="纬度"):
        crs.to_wgs84(src, declared=None, collector=Collector("x.geojson"))
    with pytest.raises(InputError, match="纬度"):
        crs.to_wgs84(gdf([shapely.Point(39.9087, 116.3975)]), declared="gcj02",
                     collector=Collector("x.csv"))


def test_projected_numbers_without_crs_fail():
    src = gdf([shapely.Point(440000.0, 4420000.0), shapely.Point(441000.0, 4421000.0)])
    with pytest.raises(InputError) as err:
        crs.to_wgs84(src, declared=None, collector=Collector("gk.shp"))
    message = str(err.value)
    assert "--crs EPSG:" in message and "没有坐标系" in message
    assert "440000" in message  # the range is shown


def test_zone_prefixed_gauss_kruger_without_crs_gets_a_hint():
    src = gdf([shapely.Point(39440000.0, 4420000.0)])
    with pytest.raises(InputError) as err:
        crs.to_wgs84(src, declared=None, collector=Collector("gk.shp"))
    assert "EPSG:4527" in str(err.value)  # CGCS2000 / 3-degree Gauss-Kruger zone 39
    assert pyproj.CRS.from_epsg(4527).name.endswith("zone 39")


def test_declared_crs_used_when_file_has_none():
    x, y = pyproj.Transformer.from_crs(4326, 4549, always_xy=True).transform(120.5, 30.25)
    col = Collector("gk.csv")
    out = crs.to_wgs84(gdf([shapely.Point(x, y)]), declared=crs.parse_crs_option("EPSG:4549"),
                       collector=col)
    assert metres(out.geometry.x[0], out.geometry.y[0], 120.5, 30.25) < 0.001
    assert col.warnings == []
    # A string is parsed like the option.
    out2 = crs.to_wgs84(gdf([shapely.Point(x, y)]), declared="4549", collector=Collector("a"))
    assert out2.geometry.iloc[0].equals_exact(out.geometry.iloc[0], 1e-12)


def test_file_crs_wins_over_declared_with_warning():
    src = gdf([shapely.Point(*BEIJING)], "EPSG:4490")
    col = Collector("a.gpkg")
    out = crs.to_wgs84(src, declared="gcj02", collector=col)
    assert out.geometry.x[0] == pytest.approx(BEIJING[0], abs=1e-9)  # not GCJ-shifted
    assert out.geometry.y[0] == pytest.approx(BEIJING[1], abs=1e-9)
    assert len(col.warnings) == 1
    assert "文件自带坐标系" in col.warnings[0] and "GCJ-02" in col.warnings[0]

    x, y = pyproj.Transformer.from_crs(4326, 4549, always_xy=True).transform(120.5, 30.25)
    col = Collector("b.shp")
    out = crs.to_wgs84(gdf([shapely.Point(x, y)], "EPSG:4549"),
                       declared=crs.parse_crs_option("EPSG:4548"), collector=col)
    assert metres(out.geometry.x[0], out.geometry.y[0], 120.5, 30.25) < 0.001
    assert len(col.warnings) == 1 and "EPSG:4549" in col.warnings[0]


def test_same_declared_and_file_crs_does_not_warn():
    col = Collector("a.geojson")
    crs.to_wgs84(gdf([shapely.Point(*BEIJING)], "OGC:CRS84"),
                 declared=crs.parse_crs_option("wgs84"), collector=col)
    assert col.warnings == []


@pytest.mark.parametrize(("system", "forward"), [("gcj02", crs.wgs84_to_gcj02),
                                                  ("bd09", crs.wgs84_to_bd09)])
def test_declared_offset_shifts_every_vertex(system, forward):
    rng = np.random.default_rng(7)
    lon, lat = 116.3 + rng.uniform(0, 0.1, 14), 39.8 + rng.uniform(0, 0.1, 14)
    olon, olat = forward(lon, lat)  # the "true" WGS 84 points as they'd appear on AMap/Baidu
    o = list(zip(olon, olat))
    ring = [o[0], o[1], o[2], o[0]]
    geoms = [
        shapely.Point(o[3]),
        shapely.LineString(o[4:7]),
        shapely.Polygon(ring),
        shapely.MultiPolygon([shapely.Polygon(ring), shapely.Polygon([o[7], o[8], o[9], o[7]])]),
        shapely.MultiPoint(o[10:12]),
        shapely.MultiLineString([o[12:14], o[4:6]]),
        None,
    ]
    src = geopandas.GeoDataFrame({"name": list("abcdefg")}, geometry=geoms,
                                 index=[10, 11, 12, 13, 14, 15, 16])
    col = Collector("amap.geojson")
    out = crs.to_wgs84(src, declared=system, collector=col)
    assert out.crs.to_epsg() == 4326
    assert list(out.index) == [10, 11, 12, 13, 14, 15, 16] and list(out["name"]) == list("abcdefg")
    assert out.geometry.iloc[6] is None
    got, idx = shapely.get_coordinates(out.geometry.values, return_index=True)
    src_coords, src_idx = shapely.get_coordinates(src.geometry.values, return_index=True)
    np.testing.assert_array_equal(idx, src_idx)  # same vertices, same features
    true = {tuple(p): (a, b) for p, a, b in zip(o, lon, lat)}
    expected = np.array([true[tuple(p)] for p in src_coords])
    assert metres(got[:, 0], got[:, 1], expected[:, 0], expected[:, 1]).max() < 0.001
    assert metres(got[:, 0], got[:, 1], src_coords[:, 0], src_coords[:, 1]).min() > 100
    assert list(out.geom_type[:6]) == ["Point", "LineString", "Polygon", "MultiPolygon",
                                       "MultiPoint", "MultiLineString"]
    assert col.warnings == []


def test_declared_gcj02_keeps_z_and_agrees_with_prcoords():
    glon, glat = 121.4737, 31.2304
    src = gdf([shapely.Point(glon, glat, 12.5)])
    out = crs.to_wgs84(src, declared="gcj02", collector=Collector("z.csv"))
    point = out.geometry.iloc[0]
    assert point.has_z and point.z == 12.5
    plon, plat = prc(prcoords.gcj_wgs_bored, [glon], [glat])
    assert metres(point.x, point.y, plon[0], plat[0]) < 0.05


def test_declared_offset_with_projected_numbers_fails():
    with pytest.raises(InputError, match="不是经纬度"):
        crs.to_wgs84(gdf([shapely.Point(440000.0, 4420000.0)]), declared="bd09",
                     collector=Collector("x.csv"))


def test_declared_offset_warns_about_points_outside_china():
    col = Collector("mix.csv")
    out = crs.to_wgs84(gdf([shapely.Point(*LONDON), shapely.Point(*BEIJING)]), declared="gcj02",
                       collector=col)
    assert out.geometry.iloc[0].equals(shapely.Point(*LONDON))
    assert not out.geometry.iloc[1].equals(shapely.Point(*BEIJING))
    assert len(col.warnings) == 1 and "1 个坐标点在中国范围以外" in col.warnings[0]


def test_projected_crs_with_degree_numbers_fails():
    with pytest.raises(InputError, match="看起来是经纬度"):
        crs.to_wgs84(gdf([shapely.Point(*BEIJING)], "EPSG:4549"), declared=None,
                     collector=Collector("wrongprj.shp"))


def test_out_of_range_features_are_all_reported():
    good = [shapely.Point(*BEIJING)] * 5
    bad = [shapely.Point(200.0 + i, 30.0) for i in range(24)]
    inf_line = shapely.LineString([(116.0, 39.0), (116.0, np.inf)])
    src = gdf(good + bad + [inf_line], "EPSG:4326")
    col = Collector("bad.geojson")
    with pytest.raises(InputError) as err:
        crs.to_wgs84(src, declared=None, collector=col)
    problems = err.value.problems
    assert len(problems) == 21  # 20 named, then one summary
    assert [p.where for p in problems[:20]] == [f"要素 {i + 1}" for i in range(5, 25)]  # 1-based
    assert "经度 200" in problems[0].problem
    assert problems[20].where == "" and "另有 5 个要素" in problems[20].problem


def test_out_of_range_names_index_labels():
    src = geopandas.GeoDataFrame(
        geometry=[shapely.Point(*BEIJING), shapely.LineString([(116.0, 39.0), (116.0, 95.0)])],
        index=["H001", "H002"], crs="EPSG:4326")
    with pytest.raises(InputError) as err:
        crs.to_wgs84(src, declared=None, collector=Collector("h.geojson"))
    assert [p.where for p in err.value.problems] == ["H002"]  # string labels are used as given
    assert "纬度 95" in err.value.problems[0].problem


def test_empty_layer_without_crs():
    src = geopandas.GeoDataFrame({"a": []}, geometry=[])
    out = crs.to_wgs84(src, declared=None, collector=Collector("empty.geojson"))
    assert len(out) == 0 and out.crs.to_epsg() == 4326
