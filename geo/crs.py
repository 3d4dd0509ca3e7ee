"""Coordinate reference systems of user files: everything ends in WGS 84 (EPSG:4326, x = lon).

Supported inputs:

- any CRS pyproj understands, notably WGS 84, CGCS2000 (EPSG:4490) and its Gauss-Kruger
  projections (EPSG:4491-4554).  Axis order is handled by transforming with ``always_xy=True``
  (geopandas does so), so x is always the longitude or the easting;
- the Chinese offset systems GCJ-02 (AMap/Tencent, "火星坐标") and BD-09 (Baidu), only when the user
  asks for them with ``--crs gcj02`` / ``--crs bd09`` (a file cannot say it is in either);
- files without a CRS whose coordinates look like longitude/latitude, taken as WGS 84 with a
  warning.

Xian 1980 and Beijing 1954 based CRSs are converted with PROJ's ballpark (near identity)
transformation, which can be ~100 m off: a warning says so.  CGCS2000 -> WGS 84 is also treated as
identity by PROJ, which is right to within a metre or so, and is not warned about.

The GCJ-02 forward transform is the public-domain formula used by every open implementation
(e.g. ``prcoords``, ``eviltransform``); its inverse here is a vectorised fixed-point iteration that
is accurate to well under a millimetre, where the usual one-step inverse is off by up to ~4 m.
"Inside China" is the usual rough box (:func:`outside_china`): points in e.g. Seoul, Hanoi or Taipei
are inside the box and shifted like every other implementation does.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable

import geopandas
import numpy as np
import numpy.typing as npt
import pyproj
import shapely
from pyproj.exceptions import CRSError

from geo.errors import Collector

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]

WGS84 = pyproj.CRS.from_epsg(4326)
CGCS2000 = pyproj.CRS.from_epsg(4490)

OFFSET_CRS = frozenset({"gcj02", "bd09"})
"""Names accepted by the ``--crs`` option besides the CRSs pyproj understands."""

_OFFSET_LABEL = {"gcj02": "GCJ-02", "bd09": "BD-09"}

# The rough "inside China" box shared by all GCJ-02 implementations (degrees).
_CHINA_LON = (72.004, 137.8347)
_CHINA_LAT = (0.8293, 55.8271)

# Krasovsky 1940 ellipsoid, as used by the GCJ-02 formula.
_GCJ_A = 6378245.0
_GCJ_EE = 0.00669342162296594323

# Baidu's constant offsets (degrees) and the frequency of its wobble (radians per degree).
_BD_DLON = 0.0065
_BD_DLAT = 0.0060
_BD_X_PI = math.pi * 3000.0 / 180.0

# Coordinates looking like swapped lat/lon in China: x within China's latitudes, y within its
# longitudes (degrees).
_SWAP_X = (15.0, 55.0)
_SWAP_Y = (70.0, 140.0)

_MAX_LISTED = 20
"""At most this many features are named one by one in a problem list; the rest are summarised."""

_ACCEPTED = (
    "wgs84 (EPSG:4326), cgcs2000 (EPSG:4490), gcj02 (GCJ-02), bd09 (BD-09), "
    "或任何 EPSG 代码 / or any EPSG code, e.g. EPSG:4549"
)


# --------------------------------------------------------------------------------------------
# GCJ-02 and BD-09


def _as_arrays(lon: npt.ArrayLike, lat: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Return ``lon``, ``lat`` as broadcast float64 arrays (copies, never views of the input)."""
    lon_a, lat_a = np.broadcast_arrays(np.asarray(lon, dtype=np.float64),
                                       np.asarray(lat, dtype=np.float64))
    return lon_a.copy(), lat_a.copy()


def outside_china(lon: FloatArray, lat: FloatArray) -> npt.NDArray[np.bool_]:
    """Tell which points lie outside the rough China box used by GCJ-02 implementations.

    The box is longitude 72.004-137.8347 degrees and latitude 0.8293-55.8271 degrees (bounds
    included).  It is deliberately rough: Seoul, Hanoi and Taipei are inside it.  Non-finite
    coordinates count as outside.  Points outside are never shifted by the GCJ-02/BD-09 functions.

    Parameters
    ----------
    lon, lat : array_like of float
        Longitude and latitude, degrees.

    Returns
    -------
    ndarray of bool
        True where the point is outside the box.
    """
    lon_a, lat_a = _as_arrays(lon, lat)
    inside = ((lon_a >= _CHINA_LON[0]) & (lon_a <= _CHINA_LON[1])
              & (lat_a >= _CHINA_LAT[0]) & (lat_a <= _CHINA_LAT[1]))
    return ~inside


def _gcj_forward(lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
    """GCJ-02 forward formula without the China test (degrees in, degrees out)."""
    x = lon - 105.0
    y = lat - 35.0
    pi = math.pi
    # Northward and eastward shifts in metres.
    d_lat_m = (-100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * np.sqrt(np.abs(x))
               + (20.0 * np.sin(6.0 * pi * x) + 20.0 * np.sin(2.0 * pi * x)) * 2.0 / 3.0
               + (20.0 * np.sin(pi * y) + 40.0 * np.sin(pi * y / 3.0)) * 2.0 / 3.0
               + (160.0 * np.sin(pi * y / 12.0) + 320.0 * np.sin(pi * y / 30.0)) * 2.0 / 3.0)
    d_lon_m = (300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * np.sqrt(np.abs(x))
               + (20.0 * np.sin(6.0 * pi * x) + 20.0 * np.sin(2.0 * pi * x)) * 2.0 / 3.0
               + (20.0 * np.sin(pi * x) + 40.0 * np.sin(pi * x / 3.0)) * 2.0 / 3.0
               + (150.0 * np.sin(pi * x / 12.0) + 300.0 * np.sin(pi * x / 30.0)) * 2.0 / 3.0)
    rad_lat = np.radians(lat)
    magic = 1.0 - _GCJ_EE * np.sin(rad_lat) ** 2
    sqrt_magic = np.sqrt(magic)
    # Metres per degree of latitude / longitude on the Krasovsky ellipsoid.
    m_per_deg_lat = np.radians(_GCJ_A * (1.0 - _GCJ_EE) / (magic * sqrt_magic))
    m_per_deg_lon = np.radians(_GCJ_A * np.cos(rad_lat) / sqrt_magic)
    return lon + d_lon_m / m_per_deg_lon, lat + d_lat_m / m_per_deg_lat


def _bd_from_gcj(lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Baidu's closed-form GCJ-02 -> BD-09 (degrees)."""
    r = np.hypot(lon, lat) + 0.00002 * np.sin(lat * _BD_X_PI)
    theta = np.arctan2(lat, lon) + 0.000003 * np.cos(lon * _BD_X_PI)
    return r * np.cos(theta) + _BD_DLON, r * np.sin(theta) + _BD_DLAT


def _gcj_from_bd(lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Baidu's closed-form BD-09 -> GCJ-02 (degrees)."""
    x = lon - _BD_DLON
    y = lat - _BD_DLAT
    r = np.hypot(x, y) - 0.00002 * np.sin(y * _BD_X_PI)
    theta = np.arctan2(y, x) - 0.000003 * np.cos(x * _BD_X_PI)
    return r * np.cos(theta), r * np.sin(theta)


def _bd_forward(lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
    """WGS 84 -> BD-09 without the China test (degrees)."""
    return _bd_from_gcj(*_gcj_forward(lon, lat))


def _check_iteration(tol_deg: float, max_iter: int) -> None:
    if not (tol_deg > 0 and math.isfinite(tol_deg)):
        raise ValueError(f"Expected tol_deg > 0, got {tol_deg!r}.")
    if max_iter < 1:
        raise ValueError(f"Expected max_iter >= 1, got {max_iter!r}.")


def _invert(
    forward: Callable[[FloatArray, FloatArray], tuple[FloatArray, FloatArray]],
    lon: FloatArray,
    lat: FloatArray,
    lon0: FloatArray,
    lat0: FloatArray,
    *,
    tol_deg: float,
    max_iter: int,
) -> tuple[FloatArray, FloatArray]:
    """Solve ``forward(w) = (lon, lat)`` for ``w`` by fixed-point iteration from ``(lon0, lat0)``.

    ``w <- w - (forward(w) - target)`` converges fast because the offsets vary slowly (their
    Jacobian is the identity plus ~1e-3), gaining about three digits per step.
    """
    w_lon, w_lat = lon0.copy(), lat0.copy()
    for _ in range(max_iter):
        f_lon, f_lat = forward(w_lon, w_lat)
        d_lon = f_lon - lon
        d_lat = f_lat - lat
        w_lon -= d_lon
        w_lat -= d_lat
        step = np.maximum(np.abs(d_lon), np.abs(d_lat))
        if not np.any(step > tol_deg):  # NaN steps do not hold the loop up
            break
    else:
        logger.warning("offset inverse did not reach %.1e degrees in %d iterations",
                       tol_deg, max_iter)
    return w_lon, w_lat


def wgs84_to_gcj02(lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Convert WGS 84 to GCJ-02 (the offset system of AMap, Tencent and Google China maps).

    Parameters
    ----------
    lon, lat : array_like of float
        WGS 84 longitude and latitude, degrees; broadcast together.

    Returns
    -------
    lon, lat : ndarray of float
        GCJ-02 longitude and latitude, degrees.  Points outside the rough China box
        (:func:`outside_china`) are returned unchanged.
    """
    lon_a, lat_a = _as_arrays(lon, lat)
    inside = ~outside_china(lon_a, lat_a)
    g_lon, g_lat = _gcj_forward(lon_a[inside], lat_a[inside])
    lon_a[inside] = g_lon
    lat_a[inside] = g_lat
    return lon_a, lat_a


def gcj02_to_wgs84(
    lon: FloatArray, lat: FloatArray, *, tol_deg: float = 1e-9, max_iter: int = 30
) -> tuple[FloatArray, FloatArray]:
    """Convert GCJ-02 to WGS 84 with an iterative (fixed-point) inverse.

    Parameters
    ----------
    lon, lat : array_like of float
        GCJ-02 longitude and latitude, degrees; broadcast together.
    tol_deg : float, default 1e-9
        Stop when the last correction of every point is at most this, degrees (1e-9 degree is
        about 0.1 mm).  The result is then accurate to far better than 0.05 m.
    max_iter : int, default 30
        Most iterations after the one-step first guess; 3-4 are needed in practice.

    Returns
    -------
    lon, lat : ndarray of float
        WGS 84 longitude and latitude, degrees.  Points whose GCJ-02 coordinates are outside the
        rough China box (:func:`outside_china`) are returned unchanged.

    Raises
    ------
    ValueError
        If ``tol_deg`` is not positive or ``max_iter`` is below 1.
    """
    _check_iteration(tol_deg, max_iter)
    lon_a, lat_a = _as_arrays(lon, lat)
    inside = ~outside_china(lon_a, lat_a)
    g_lon, g_lat = lon_a[inside], lat_a[inside]
    f_lon, f_lat = _gcj_forward(g_lon, g_lat)
    w_lon, w_lat = _invert(_gcj_forward, g_lon, g_lat, 2.0 * g_lon - f_lon, 2.0 * g_lat - f_lat,
                           tol_deg=tol_deg, max_iter=max_iter)
    lon_a[inside] = w_lon
    lat_a[inside] = w_lat
    return lon_a, lat_a


def gcj02_to_bd09(lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Convert GCJ-02 to BD-09 with Baidu's closed-form formula.

    Parameters
    ----------
    lon, lat : array_like of float
        GCJ-02 longitude and latitude, degrees.

    Returns
    -------
    lon, lat : ndarray of float
        BD-09 longitude and latitude, degrees (applied everywhere: both are offset systems).
    """
    lon_a, lat_a = _as_arrays(lon, lat)
    return _bd_from_gcj(lon_a, lat_a)


def bd09_to_gcj02(lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Convert BD-09 to GCJ-02 with Baidu's closed-form inverse formula.

    The formula is itself approximate (about 1e-6 degree, decimetres);
    :func:`bd09_to_wgs84` refines it.

    Parameters
    ----------
    lon, lat : array_like of float
        BD-09 longitude and latitude, degrees.

    Returns
    -------
    lon, lat : ndarray of float
        GCJ-02 longitude and latitude, degrees.
    """
    lon_a, lat_a = _as_arrays(lon, lat)
    return _gcj_from_bd(lon_a, lat_a)


def wgs84_to_bd09(lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Convert WGS 84 to BD-09 (Baidu maps): GCJ-02, then Baidu's formula.

    Parameters
    ----------
    lon, lat : array_like of float
        WGS 84 longitude and latitude, degrees.

    Returns
    -------
    lon, lat : ndarray of float
        BD-09 longitude and latitude, degrees.  Points outside the rough China box
        (:func:`outside_china`) are returned unchanged.
    """
    lon_a, lat_a = _as_arrays(lon, lat)
    inside = ~outside_china(lon_a, lat_a)
    b_lon, b_lat = _bd_forward(lon_a[inside], lat_a[inside])
    lon_a[inside] = b_lon
    lat_a[inside] = b_lat
    return lon_a, lat_a


def bd09_to_wgs84(
    lon: FloatArray, lat: FloatArray, *, tol_deg: float = 1e-9, max_iter: int = 30
) -> tuple[FloatArray, FloatArray]:
    """Convert BD-09 to WGS 84 with an iterative inverse of :func:`wgs84_to_bd09`.

    The first guess is Baidu's closed-form inverse followed by :func:`gcj02_to_wgs84`; a
    fixed-point iteration on the whole WGS 84 -> BD-09 chain then removes the decimetre error of
    Baidu's inverse formula.

    Parameters
    ----------
    lon, lat : array_like of float
        BD-09 longitude and latitude, degrees.
    tol_deg : float, default 1e-9
        Stop when the last correction of every point is at most this, degrees (about 0.1 mm).
    max_iter : int, default 30
        Most iterations after the first guess.

    Returns
    -------
    lon, lat : ndarray of float
        WGS 84 longitude and latitude, degrees.  Points whose BD-09 coordinates are outside the
        rough China box are returned unchanged.

    Raises
    ------
    ValueError
        If ``tol_deg`` is not positive or ``max_iter`` is below 1.
    """
    _check_iteration(tol_deg, max_iter)
    lon_a, lat_a = _as_arrays(lon, lat)
    inside = ~outside_china(lon_a, lat_a)
    b_lon, b_lat = lon_a[inside], lat_a[inside]
    g_lon, g_lat = _gcj_from_bd(b_lon, b_lat)
    f_lon, f_lat = _gcj_forward(g_lon, g_lat)
    w_lon, w_lat = _invert(_bd_forward, b_lon, b_lat, 2.0 * g_lon - f_lon, 2.0 * g_lat - f_lat,
                           tol_deg=tol_deg, max_iter=max_iter)
    lon_a[inside] = w_lon
    lat_a[inside] = w_lat
    return lon_a, lat_a


# --------------------------------------------------------------------------------------------
# Metric CRS and coordinate heuristics


def utm_crs(lon: FloatArray, lat: FloatArray) -> pyproj.CRS:
    """Choose the WGS 84 / UTM zone CRS of the data's centre, for lengths and areas in metres.

    The centre is the middle of the bounds of the finite coordinates; its zone is the plain 6-degree
    zone (no Norway/Svalbard exceptions, as in EPSG's own areas of use): EPSG:326zz north of the
    equator (latitude 0 included), EPSG:327zz south of it.

    Parameters
    ----------
    lon, lat : array_like of float
        WGS 84 longitude and latitude, degrees.

    Returns
    -------
    pyproj.CRS
        The UTM CRS, units metres, x = easting.

    Raises
    ------
    ValueError
        If there is no finite coordinate, or the centre is not a valid longitude/latitude.
    """
    lon_a, lat_a = _as_arrays(lon, lat)
    ok = np.isfinite(lon_a) & np.isfinite(lat_a)
    if not ok.any():
        raise ValueError("utm_crs needs at least one point with finite coordinates.")
    lon_c = (float(lon_a[ok].min()) + float(lon_a[ok].max())) / 2.0
    lat_c = (float(lat_a[ok].min()) + float(lat_a[ok].max())) / 2.0
    if not (-180.0 <= lon_c <= 180.0 and -90.0 <= lat_c <= 90.0):
        raise ValueError(f"Expected longitude/latitude in degrees; the data centre is "
                         f"({lon_c}, {lat_c}).")
    zone = min(int(math.floor((lon_c + 180.0) / 6.0)) + 1, 60)
    return pyproj.CRS.from_epsg((32600 if lat_c >= 0 else 32700) + zone)


def _finite_xy(x: npt.ArrayLike, y: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    x_a, y_a = _as_arrays(x, y)
    x_a, y_a = x_a.ravel(), y_a.ravel()
    ok = np.isfinite(x_a) & np.isfinite(y_a)
    return x_a[ok], y_a[ok]


def looks_like_lonlat(x: FloatArray, y: FloatArray) -> bool:
    """Tell whether coordinates can be longitude/latitude in degrees.

    Parameters
    ----------
    x, y : array_like of float
        Coordinates (x would be the longitude, y the latitude).

    Returns
    -------
    bool
        True if there is at least one point and every coordinate is finite with
        ``|x| <= 180`` and ``|y| <= 90``.
    """
    x_a, y_a = _as_arrays(x, y)
    if x_a.size == 0:
        return False
    return bool(np.all(np.isfinite(x_a)) and np.all(np.isfinite(y_a))
                and np.all(np.abs(x_a) <= 180.0) and np.all(np.abs(y_a) <= 90.0))


def looks_swapped(x: FloatArray, y: FloatArray) -> bool:
    """Tell whether coordinates look like latitude/longitude, i.e. with the axes swapped.

    Two rules, on the finite coordinates:

    - generally: every ``|x| <= 90`` and ``|y| <= 180``, and some ``|y| > 90`` (a latitude above
      90 degrees cannot be right, but a longitude can);
    - for China (heuristic): every x within China's latitudes (15-55) and every y within its
      longitudes (70-140).  This also flags true lon/lat data of the Arctic between 15 and 55
      degrees east (Svalbard), which a Chinese town never is.

    Parameters
    ----------
    x, y : array_like of float
        Coordinates as given (x should be the longitude, y the latitude), degrees.

    Returns
    -------
    bool
        True if the axes look swapped; False for no finite point.
    """
    x_a, y_a = _finite_xy(x, y)
    if x_a.size == 0:
        return False
    ax, ay = np.abs(x_a), np.abs(y_a)
    general = bool(np.all(ax <= 90.0) and np.all(ay <= 180.0) and np.any(ay > 90.0))
    china = bool(np.all((x_a >= _SWAP_X[0]) & (x_a <= _SWAP_X[1]))
                 and np.all((y_a >= _SWAP_Y[0]) & (y_a <= _SWAP_Y[1])))
    return general or china


# --------------------------------------------------------------------------------------------
# The --crs option


def parse_crs_option(value: str | None) -> pyproj.CRS | str | None:
    """Parse the ``--crs`` option (the CRS a user declares for files that carry none).

    Parameters
    ----------
    value : str or None
        ``None`` (not given); ``"wgs84"`` (any case, ``WGS-84`` too) for EPSG:4326; ``"cgcs2000"``
        for EPSG:4490; ``"gcj02"``/``"GCJ-02"`` or ``"bd09"``/``"BD-09"`` for the offset systems;
        a bare EPSG number (``"4549"``); or anything :meth:`pyproj.CRS.from_user_input` accepts
        (``"EPSG:4549"``, WKT, PROJ strings).

    Returns
    -------
    pyproj.CRS or str or None
        The CRS; the string ``"gcj02"`` or ``"bd09"`` (see :data:`OFFSET_CRS`); or None.

    Raises
    ------
    ValueError
        If the value is not a known name nor a horizontal CRS pyproj understands; the message, in
        Chinese and English, lists the accepted values.
    """
    if value is None:
        return None
    text = str(value).strip()
    key = text.lower().replace("-", "").replace("_", "").replace(" ", "")
    if key == "wgs84":
        return WGS84
    if key == "cgcs2000":
        return CGCS2000
    if key in OFFSET_CRS:
        return key
    if text.isdigit():
        text = f"EPSG:{text}"
    bad = (f"无法识别的坐标系 --crs {value!r}; 可用: {_ACCEPTED} / "
           f"Unrecognised CRS --crs {value!r}; accepted values: {_ACCEPTED}")
    if not text:
        raise ValueError(bad)
    try:
        crs = pyproj.CRS.from_user_input(text)
    except CRSError as exc:
        raise ValueError(bad) from exc
    if not (crs.is_geographic or crs.is_projected):
        raise ValueError(f"--crs {value!r} ({crs.name}) 不是平面或经纬度坐标系 / is not a "
                         f"geographic or projected CRS; accepted values: {_ACCEPTED}")
    return crs


# --------------------------------------------------------------------------------------------
# GeoDataFrame to WGS 84


def _crs_label(crs: pyproj.CRS | str) -> str:
    if isinstance(crs, str):
        return _OFFSET_LABEL.get(crs, crs)
    code = crs.to_epsg()
    return f"{crs.name} (EPSG:{code})" if code else crs.name


def _legacy_datum(crs: pyproj.CRS) -> str | None:
    """Return "西安 1980" or "北京 1954" when ``crs`` is based on that datum, else None."""
    geodetic = crs.geodetic_crs
    if geodetic is None:
        return None
    code = geodetic.to_epsg()
    datum = (geodetic.datum.name if geodetic.datum is not None else "").lower().replace("_", " ")
    ellipsoid = (crs.ellipsoid.name if crs.ellipsoid is not None else "").lower()
    if code == 4610 or "xian 1980" in datum:
        return "西安 1980 (Xian 1980)"
    if code == 4214 or "beijing 1954" in datum:
        return "北京 1954 (Beijing 1954)"
    if datum.startswith("unknown"):  # a bare PROJ string on the ellipsoid of either datum
        if "iag 1975" in ellipsoid or "iau 1976" in ellipsoid or "xian" in ellipsoid:
            return "西安 1980 (Xian 1980)"
        if "krass" in ellipsoid:
            return "北京 1954 (Beijing 1954)"
    return None


def _same_crs(a: pyproj.CRS | str, b: pyproj.CRS | str) -> bool:
    if isinstance(a, str) or isinstance(b, str):
        return a == b
    return a.equals(b, ignore_axis_order=True)


def _range_text(x: FloatArray, y: FloatArray) -> str:
    return (f"x 在 {x.min():.6g} 到 {x.max():.6g} 之间, "
            f"y 在 {y.min():.6g} 到 {y.max():.6g} 之间")


def _fail_swapped(collector: Collector, x: FloatArray, y: FloatArray) -> None:
    collector.fail(
        "",
        f"经度和纬度顺序颠倒了 (lat/lon swapped): x 看起来是纬度, y 看起来是经度 "
        f"({_range_text(x, y)}); 例如第一个点 x={x[0]:.6f}, y={y[0]:.6f}",
        "交换两个坐标: x 应为经度, y 应为纬度 (表格导入时检查经度列与纬度列是否选反; "
        "导出时注意坐标轴顺序), 然后重新导入",
    )


def _projected_hint(x: FloatArray) -> str:
    """Suggest a CGCS2000 Gauss-Kruger CRS when x carries a zone number in front (e.g. 39xxxxxx)."""
    zones = np.unique(np.floor(x / 1e6).astype(np.int64))
    if zones.size != 1:
        return ""
    zone = int(zones[0])
    if 25 <= zone <= 45:
        return (f"; x 前两位 {zone} 像是 3 度带带号, 若为 CGCS2000 可用 --crs EPSG:{4513 + zone - 25}"
                f" (CGCS2000 / 3-degree Gauss-Kruger zone {zone})")
    if 13 <= zone <= 23:
        return (f"; x 前两位 {zone} 像是 6 度带带号, 若为 CGCS2000 可用 --crs EPSG:{4491 + zone - 13}"
                f" (CGCS2000 / Gauss-Kruger zone {zone})")
    return ""


def _fail_unknown(collector: Collector, x: FloatArray, y: FloatArray) -> None:
    collector.fail(
        "",
        f"文件没有坐标系, 坐标也不是经纬度 ({_range_text(x, y)}), 看起来是投影坐标 (单位米), "
        f"无法确定位置",
        "用 --crs EPSG:xxxx 指定文件的坐标系, 例如 CGCS2000 3 度带中央经线 120°E 为 "
        "--crs EPSG:4549; 或补上原始的 .prj 文件" + _projected_hint(x),
    )


def _collect_out_of_range(gdf: geopandas.GeoDataFrame, collector: Collector) -> None:
    """Add a problem per feature with a non-finite or out-of-range coordinate (at most 20 named)."""
    coords, index = shapely.get_coordinates(gdf.geometry.values, return_index=True)
    lon, lat = coords[:, 0], coords[:, 1]
    bad = ~(np.isfinite(lon) & np.isfinite(lat) & (np.abs(lon) <= 180.0) & (np.abs(lat) <= 90.0))
    if not bad.any():
        return
    positions, first = np.unique(index[bad], return_index=True)
    bad_lon, bad_lat = lon[bad][first], lat[bad][first]
    fix = "检查该要素的坐标, 以及文件的坐标系 (.prj 或 --crs) 是否与坐标一致"
    for pos, x, y in zip(positions[:_MAX_LISTED], bad_lon, bad_lat):
        label = gdf.index[pos]
        collector.add(label if isinstance(label, str) else f"要素 {pos + 1}",
                      f"转换到 WGS 84 后坐标超出范围或无效 (经度 {x:.6g}, 纬度 {y:.6g})", fix)
    if positions.size > _MAX_LISTED:
        collector.add("", f"另有 {positions.size - _MAX_LISTED} 个要素坐标超出范围或无效, 未逐一列出",
                      fix)


def _shift_geometries(gdf: geopandas.GeoDataFrame, system: str) -> geopandas.GeoDataFrame:
    inverse = gcj02_to_wgs84 if system == "gcj02" else bd09_to_wgs84

    def func(coords: FloatArray) -> FloatArray:
        out = np.array(coords, dtype=np.float64, copy=True)
        out[:, 0], out[:, 1] = inverse(coords[:, 0], coords[:, 1])
        return out

    shifted = shapely.transform(np.asarray(gdf.geometry.values), func, include_z=None)
    out = gdf.copy()
    out[gdf.geometry.name] = geopandas.GeoSeries(shifted, index=gdf.index, crs=WGS84)
    return out.set_crs(WGS84, allow_override=True)


def to_wgs84(
    gdf: geopandas.GeoDataFrame,
    *,
    declared: pyproj.CRS | str | None,
    collector: Collector,
) -> geopandas.GeoDataFrame:
    """Bring a layer read from a user's file to WGS 84 (EPSG:4326, x = longitude, y = latitude).

    Rules, in order:

    1. The file's own CRS (``gdf.crs``) wins over ``declared``; if both are given and differ,
       a warning says the file's CRS was used.
    2. A file without a CRS takes ``declared``; ``"gcj02"``/``"bd09"`` shift every vertex with the
       iterative inverse (:func:`gcj02_to_wgs84`, :func:`bd09_to_wgs84`).
    3. Without either: coordinates looking like lon/lat are taken as WGS 84 with a warning;
       swapped lat/lon (:func:`looks_swapped`) and other numbers (projected metres) fail.
    4. With a geographic or offset CRS, swapped lat/lon fails too; with a projected CRS,
       coordinates that look like degrees fail (the .prj does not match the data).
    5. Xian 1980 and Beijing 1954 based CRSs are converted with a warning (~100 m off).
    6. Every feature with a coordinate out of range (|lon| > 180, |lat| > 90) or non-finite after
       conversion is reported (the first 20 by index, the rest summarised), then the collector
       raises.

    Parameters
    ----------
    gdf : geopandas.GeoDataFrame
        The layer as read; not modified.
    declared : pyproj.CRS or str or None
        The CRS the user declared (``--crs``), as returned by :func:`parse_crs_option`; a string is
        parsed with it.
    collector : geo.errors.Collector
        Receives warnings and problems of the file.

    Returns
    -------
    geopandas.GeoDataFrame
        A new GeoDataFrame in EPSG:4326, same index and columns.

    Raises
    ------
    geo.errors.InputError
        Through ``collector`` when the CRS cannot be determined, lat/lon are swapped, or
        coordinates are out of range.
    ValueError
        If ``declared`` is a string :func:`parse_crs_option` does not accept.
    """
    if isinstance(declared, str):
        declared = parse_crs_option(declared)
    file_crs = gdf.crs
    x, y = _finite_xy(*shapely.get_coordinates(gdf.geometry.values).T)

    if file_crs is not None and isinstance(declared, str) and _same_crs(file_crs, WGS84):
        # GCJ-02/BD-09 data always comes labelled WGS 84 (GeoJSON has no other choice)
        source: pyproj.CRS | str | None = declared
        collector.warn(f"文件标注为 WGS 84, 按 --crs {declared} 指定的 {_OFFSET_LABEL[declared]} 坐标纠偏")
    elif file_crs is not None:
        source = file_crs
        if declared is not None and not _same_crs(file_crs, declared):
            collector.warn(
                f"文件自带坐标系 {_crs_label(file_crs)}, 与 --crs 指定的 {_crs_label(declared)} "
                f"不同; 已按文件自带的坐标系处理 (如文件的坐标系有误, 请修正或删除 .prj)")
    elif declared is not None:
        source = declared
    else:
        source = None

    if source is None:
        if x.size == 0:
            source = WGS84
        elif looks_swapped(x, y):
            _fail_swapped(collector, x, y)
        elif looks_like_lonlat(x, y):
            collector.warn("文件没有坐标系, 坐标看起来是经纬度, 按 WGS 84 处理; "
                           "如是 GCJ-02/BD-09 请用 --crs 指定")
            source = WGS84
        else:
            _fail_unknown(collector, x, y)

    if isinstance(source, str):  # GCJ-02 / BD-09
        label = _OFFSET_LABEL[source]
        if x.size and looks_swapped(x, y):
            _fail_swapped(collector, x, y)
        if x.size and not looks_like_lonlat(x, y):
            collector.fail("", f"指定了 --crs {source} ({label} 经纬度), 但坐标不是经纬度 "
                               f"({_range_text(x, y)})",
                           "检查坐标列; 若文件是投影坐标, 用 --crs EPSG:xxxx 指定其坐标系")
        n_out = int(np.count_nonzero(outside_china(x, y)))
        if n_out:
            collector.warn(f"{n_out} 个坐标点在中国范围以外, 未做 {label} 纠偏 (按 WGS 84 处理)")
        out = _shift_geometries(gdf, source)
    else:
        assert source is not None
        crs = pyproj.CRS.from_user_input(source)
        if x.size and crs.is_geographic and looks_swapped(x, y):
            _fail_swapped(collector, x, y)
        if x.size and crs.is_projected and looks_like_lonlat(x, y):
            collector.fail("", f"坐标系是投影坐标系 {_crs_label(crs)} (单位米), 但坐标看起来是经纬度 "
                               f"({_range_text(x, y)})",
                           "修正或删除文件的 .prj; 坐标是经纬度时可用 --crs wgs84 或 --crs gcj02 等")
        legacy = _legacy_datum(crs)
        if legacy:
            collector.warn(f"坐标系 {_crs_label(crs)} 基于{legacy}基准, 转换到 WGS 84 只能近似, "
                           f"位置可能偏差约 100 米; 如有 CGCS2000 或 WGS 84 的数据, 请改用它")
        out = gdf.set_crs(crs, allow_override=True) if gdf.crs is None else gdf
        out = out.to_crs(WGS84)

    _collect_out_of_range(out, collector)
    collector.raise_if_any()
    return out
