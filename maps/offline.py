"""The base of every Zhudian map: a folium map that opens offline.

A default folium page is blank without the internet: it loads Leaflet, jQuery, Bootstrap,
awesome-markers and Font Awesome from CDNs.  :func:`offline_map` returns a ``folium.Map`` whose
rendered HTML carries Leaflet 1.9.3 *inline* (JS and CSS read from the installed ``xstatic-leaflet``
wheel at render time, never copied into the repository) and no other script or stylesheet:

* ``Map.default_js`` / ``Map.default_css`` (folium's CDN list) are emptied on the instance, so
  ``JSCSSMixin.render`` adds no ``<script src>`` / ``<link href>`` to ``Figure.header``;
* the map is moved into an :class:`OfflineFigure`, whose header starts with
  ``<meta charset="utf-8">`` and whose ``<html lang>`` follows ``lang``; Leaflet's CSS (the images
  it refers to as ``data:`` URIs) and JS go into that header as raw elements (not Jinja templates);
* ``L.Icon.Default`` gets ``data:`` URIs, so a plain ``folium.Marker`` (which is first added with the
  default icon, then given its own) never asks for ``images/marker-icon.png``.

Only what Leaflet itself draws is available: polygons, lines, circle markers, ``DivIcon`` markers,
tooltips, ``LayerControl``, and the HTML controls of this module.  folium ``Popup`` (needs jQuery),
``folium.Icon`` (awesome-markers, Font Awesome) and ``folium.plugins`` need their CDN assets:
:func:`save_html` / :func:`render_html` refuse any HTML that still references an external script or
stylesheet (see :func:`external_refs`).

Coordinates are WGS 84 longitude/latitude; ``bounds`` is ``(min_lon, min_lat, max_lon, max_lat)``,
the order of ``GeoDataFrame.total_bounds``.
"""

from __future__ import annotations

import base64
import functools
import html as html_lib
import json
import logging
import math
import numbers
import os
import re
from dataclasses import dataclass, replace
from pathlib import Path

import folium
import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely
from branca.element import Element, Figure
from folium.elements import MacroElement
from folium.template import Template

from geo.atomic import write_atomic
from geo.crs import wgs84_to_gcj02
from maps.i18n import HTML_LANG, check_lang

logger = logging.getLogger(__name__)

WGS84_CRS = "EPSG:4326"

OSM_ODBL_ATTRIBUTION = "© OpenStreetMap contributors (ODbL)"
"""Attribution of the demo data (OpenStreetMap extracts, licensed under the ODbL)."""

LEAFLET_PREFIX = '<a href="https://leafletjs.com" title="A JavaScript library for interactive maps">Leaflet</a>'
"""Prefix of the attribution control (a link only: nothing is fetched)."""

NO_TILES_BACKGROUND = "#f3f1ea"
"""Background of the map when ``tiles="none"`` (light paper, so vector layers stand out)."""

MAX_ZOOM = 20
"""Deepest zoom of a map without tiles (Leaflet's default would be unlimited without a tile layer)."""

FONT_STACK = (
    '"Helvetica Neue", Arial, "Noto Sans CJK SC", "Source Han Sans SC", "WenQuanYi Micro Hei", '
    '"Microsoft YaHei", "PingFang SC", sans-serif'
)


@dataclass(frozen=True)
class TileProvider:
    """A base-map tile source.

    ``datum`` is the datum the tiles are drawn in: ``"WGS84"`` tiles take our layers as they are
    (Tianditu's CGCS2000 agrees with WGS 84 to well under a metre); ``"GCJ02"`` tiles (Gaode) need
    every WGS 84 layer shifted before it is drawn (:func:`to_tile_datum`, :func:`lonlat_to_tile_datum`).
    ``needs_key``: the URLs hold a ``{tk}`` placeholder that :func:`resolve_tiles` fills with the
    user's key.  ``labels_url`` is an optional second tile layer drawn over the first (Tianditu's
    annotation layer: place names).
    """

    key: str
    url: str
    attribution: str
    max_zoom: int = 19
    subdomains: str | None = None
    datum: str = "WGS84"
    needs_key: bool = False
    labels_url: str | None = None


TIANDITU_KEY_ENV = "ZHUDIAN_TIANDITU_KEY"
"""Environment variable read by the API/CLI (not by this module) for the Tianditu key."""

_TIANDITU = ("https://t{s}.tianditu.gov.cn/{layer}_w/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0"
             "&LAYER={layer}&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles&TILEMATRIX={z}&TILEROW={y}&TILECOL={x}&tk={tk}")

TILE_PROVIDERS: dict[str, TileProvider] = {
    "osm": TileProvider(
        key="osm",
        url="https://tile.openstreetmap.org/{z}/{x}/{y}.png",
        attribution='&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> contributors',
        max_zoom=19,
    ),
    # Tianditu (天地图, the national platform): Web Mercator vector map + Chinese annotation layer.
    # A browser key ("tk") is required; it ends up in the page, as with any Tianditu web map.
    "tianditu": TileProvider(
        key="tianditu",
        url=_TIANDITU.replace("{layer}", "vec"),
        labels_url=_TIANDITU.replace("{layer}", "cva"),
        attribution='&copy; <a href="https://www.tianditu.gov.cn">天地图</a> (国家地理信息公共服务平台)',
        max_zoom=18,
        subdomains="01234567",
        needs_key=True,
    ),
    # Gaode (高德, AutoNavi): street map tiles in GCJ-02, so vector layers are shifted to GCJ-02.
    "gaode": TileProvider(
        key="gaode",
        url="https://webrd0{s}.is.autonavi.com/appmaptile?lang=zh_cn&size=1&scale=1&style=8&x={x}&y={y}&z={z}",
        attribution='&copy; <a href="https://www.amap.com">高德地图</a> AutoNavi',
        max_zoom=18,
        subdomains="1234",
        datum="GCJ02",
    ),
}
"""Tile sources by the name ``offline_map(tiles=...)`` takes; ``"none"`` means no tiles."""

TILES = ("none", *TILE_PROVIDERS)
"""Accepted values of ``tiles``."""


# --------------------------------------------------------------------------------------------
# Leaflet, read from the installed xstatic-leaflet wheel


@functools.cache
def leaflet_assets() -> tuple[str, str, str]:
    """Return ``(version, js, css)`` of the installed Leaflet, the CSS images as ``data:`` URIs."""
    import xstatic.pkg.leaflet as xleaflet

    base = Path(xleaflet.BASE_DIR)
    try:
        js = (base / "leaflet.js").read_text(encoding="utf-8")
        css = (base / "leaflet.css").read_text(encoding="utf-8")
    except OSError as exc:
        raise RuntimeError(
            f"Leaflet is missing from the xstatic-leaflet package ({base}): reinstall it "
            f"(pip install --force-reinstall xstatic-leaflet)."
        ) from exc

    def to_data_uri(match: re.Match[str]) -> str:
        image = base / match.group(1)
        data = base64.b64encode(image.read_bytes()).decode("ascii")
        return f'url("data:image/png;base64,{data}")'

    css = re.sub(r"url\((images/[\w.-]+\.png)\)", to_data_uri, css)
    # Neither file contains "</script" or "</style" today; keep it so if a later Leaflet does.
    js = re.sub(r"</(script)", r"<\\/\1", js, flags=re.IGNORECASE)
    css = re.sub(r"</(style)", r"<\\/\1", css, flags=re.IGNORECASE)
    version = xleaflet.VERSION
    return version, js, css


@functools.cache
def _default_icon_script() -> str:
    import xstatic.pkg.leaflet as xleaflet

    images = Path(xleaflet.BASE_DIR) / "images"

    def uri(name: str) -> str:
        return "data:image/png;base64," + base64.b64encode((images / name).read_bytes()).decode("ascii")

    options = {
        "iconUrl": uri("marker-icon.png"),
        "iconRetinaUrl": uri("marker-icon-2x.png"),
        "shadowUrl": uri("marker-shadow.png"),
    }
    return f"L.Icon.Default.imagePath = '';\nL.Icon.Default.mergeOptions({json.dumps(options)});"


class _Raw(Element):
    """A piece of HTML emitted as is (not compiled as a Jinja template, unlike ``Element``)."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self._name = "Raw"
        self.text = text

    def render(self, **kwargs) -> str:  # noqa: ARG002 - the Element signature
        return self.text


def js_string(text: str) -> str:
    """Return ``text`` as a JavaScript string literal safe inside ``<script>`` and folium templates.

    ``<``, ``>``, ``&``, ``'`` and the braces are ``\\u`` escapes: no ``</script>`` can end the
    script early, and folium, which compiles the output of every element again as a Jinja template,
    sees no ``{{``, ``{%`` or ``{#``.
    """
    out = json.dumps(text, ensure_ascii=False)
    for char in "<>&'{}":
        out = out.replace(char, f"\\u{ord(char):04x}")
    return out


_HTML_EXTRA = str.maketrans({"{": "&#123;", "}": "&#125;", "`": "&#96;", "$": "&#36;"})


def html_text(text: object) -> str:
    """Escape ``text`` for HTML, also braces (see :func:`js_string`), backticks and ``$``.

    The extra escapes make the text safe inside folium's ``Tooltip``, which puts it in a JavaScript
    template literal.
    """
    return html_lib.escape(str(text)).translate(_HTML_EXTRA)


class OfflineFigure(Figure):
    """A ``Figure`` starting with ``<meta charset="utf-8">``, with ``<html lang=...>``."""

    _template = Template(
        "<!DOCTYPE html>\n"
        '<html lang="{{ this.html_lang }}">\n'
        "<head>\n"
        '<meta charset="utf-8">\n'
        "{% if this.title %}<title>{{ this.title|e }}</title>{% endif %}\n"
        "    {{ this.header.render(**kwargs) }}\n"
        "</head>\n"
        "<body>\n"
        "    {{ this.html.render(**kwargs) }}\n"
        "</body>\n"
        "<script>\n"
        "    {{ this.script.render(**kwargs) }}\n"
        "</script>\n"
        "</html>\n"
    )

    def __init__(self, *, lang: str = "zh", title: str | None = None) -> None:
        super().__init__(title=title)
        self.html_lang = HTML_LANG[check_lang(lang)]
        # Figure adds an http-equiv meta; the template has the HTML5 one.
        self.header._children.pop("meta_http", None)


class HtmlControl(MacroElement):
    """A Leaflet control (a box in a corner of the map) showing fixed HTML: legends, titles.

    ``html`` is inserted as HTML: escape any user text in it with :func:`html_text`.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function () {
            var control = L.control({position: {{ this.position_js }}});
            control.onAdd = function () {
                var div = L.DomUtil.create("div", {{ this.class_js }});
                div.innerHTML = {{ this.html_js }};
                L.DomEvent.disableClickPropagation(div);
                L.DomEvent.disableScrollPropagation(div);
                return div;
            };
            control.addTo({{ this._parent.get_name() }});
        })();
        {% endmacro %}
        """
    )

    def __init__(self, html: str, *, position: str = "topright", class_name: str = "zd-box") -> None:
        super().__init__()
        if position not in ("topleft", "topright", "bottomleft", "bottomright"):
            raise ValueError(
                f"Unknown control position {position!r}: use topleft, topright, bottomleft or bottomright."
            )
        self._name = "HtmlControl"
        self.position_js = js_string(position)
        self.class_js = js_string(class_name)
        self.html_js = js_string(html)


class _Attribution(MacroElement):
    """Sets the prefix of the attribution control and adds the data attribution to it."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
            {{ this._parent.get_name() }}.attributionControl.setPrefix({{ this.prefix_js }});
            {{ this._parent.get_name() }}.attributionControl.addAttribution({{ this.text_js }});
        {% endmacro %}
        """
    )

    def __init__(self, text: str, prefix: str = LEAFLET_PREFIX) -> None:
        super().__init__()
        self._name = "Attribution"
        self.text_js = js_string(text)
        self.prefix_js = js_string(prefix)


class _Scale(MacroElement):
    """A metric scale bar."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
            L.control.scale({imperial: false, maxWidth: 150}).addTo({{ this._parent.get_name() }});
        {% endmacro %}
        """
    )

    def __init__(self) -> None:
        super().__init__()
        self._name = "Scale"


class _FitBounds(MacroElement):
    """``map.fitBounds`` without animation (folium's ``FitBounds`` animates small zoom changes)."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
            {{ this._parent.get_name() }}.fitBounds({{ this.bounds|tojson }}, {animate: false, padding: [12, 12]});
        {% endmacro %}
        """
    )

    def __init__(self, bounds: list[list[float]]) -> None:
        super().__init__()
        self._name = "FitBounds"
        self.bounds = bounds


class FitBesideControls(MacroElement):
    """Fit ``bounds`` again once the controls exist, keeping the data clear of the boxes on both sides.

    The widths of the left and right control corners (legends, layer lists) become the padding,
    unless together they take more than 60% of the map (a narrow screen): then 12 px.
    ``bounds`` is ``(min_lon, min_lat, max_lon, max_lat)``.  With ``follow_base_layers`` the map
    is fitted the same way to each base layer chosen in the layer control (route sessions).
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function () {
            var map = {{ this._parent.get_name() }};
            var box = map.getContainer();
            function width(sel) {
                var w = 0;
                box.querySelectorAll(sel).forEach(function (el) {
                    if (!el.classList.contains("leaflet-control-zoom")) { w = Math.max(w, el.offsetWidth); }
                });
                return w;
            }
            function fit(bounds) {
                var left = width(".leaflet-left .leaflet-control"), right = width(".leaflet-right .leaflet-control");
                left = left ? left + 24 : 12; right = right ? right + 24 : 12;
                if (left + right > 0.6 * map.getSize().x) { left = 12; right = 12; }
                map.fitBounds(bounds, {animate: false, paddingTopLeft: [left, 12], paddingBottomRight: [right, 12]});
            }
            fit({{ this.bounds|tojson }});
            {% if this.follow_base_layers %}
            map.on("baselayerchange", function (e) {
                if (e.layer.getBounds && e.layer.getBounds().isValid()) { fit(e.layer.getBounds().pad(0.05)); }
            });
            {% endif %}
        })();
        {% endmacro %}
        """
    )

    def __init__(self, bounds: tuple[float, float, float, float], *, follow_base_layers: bool = False) -> None:
        super().__init__()
        self._name = "FitBesideControls"
        self.bounds = _leaflet_bounds(bounds)
        self.follow_base_layers = follow_base_layers


def js_data(value: object) -> str:
    """``value`` (lists, numbers, strings, None: no dicts) as JavaScript, safe like :func:`js_string`.

    Without objects the only braces are inside strings, so every ``<``, ``>``, ``&``, ``'`` and
    brace can be written as a ``\\u`` escape.
    """
    out = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    for char in "<>&'{}":
        out = out.replace(char, f"\\u{ord(char):04x}")
    return out


class PointsLayer(folium.map.Layer):
    """Many points as one layer of canvas circle markers, built in the browser from compact arrays.

    folium's ``GeoJson`` writes a Feature per point and a style switch over feature ids; here the
    page holds four arrays (longitudes, latitudes, style class, tooltip) and one loop makes the
    markers, all on the map's canvas renderer, with a single tooltip function for the whole layer.
    8,000 households take about 60 bytes each.

    Parameters
    ----------
    lon, lat : array_like of float
        Degrees (already in the datum of the tiles); rounded to ``decimals``.
    classes : array_like of int
        Index into ``styles`` per point.
    styles : list of dict
        Leaflet ``CircleMarker`` options per class (``radius``, ``fillColor``, ``color``, ...).
    tips : list of str, optional
        Tooltip HTML per point (escape user text with :func:`html_text`); None: not interactive.
    name, show, overlay, control : as ``folium.FeatureGroup``.

    Raises
    ------
    ValueError
        If the arrays differ in length or a class has no style.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = (function () {
            var d = {{ this.data_js }}, styles = {{ this.styles_js }}, g = L.featureGroup();
            for (var i = 0; i < d[0].length; i++) {
                var o = Object.assign({zdI: i, interactive: d[3] !== null}, styles[d[2][i]]);
                L.circleMarker([d[1][i], d[0][i]], o).addTo(g);
            }
            if (d[3] !== null) { g.bindTooltip(function (l) { return d[3][l.options.zdI]; }); }
            return g;
        })();
        {% endmacro %}
        """
    )

    def __init__(self, lon: npt.ArrayLike, lat: npt.ArrayLike, classes: npt.ArrayLike, styles: list[dict],
                 tips: list[str] | None = None, *, name: str | None = None, decimals: int = 6,
                 show: bool = True, overlay: bool = True, control: bool = True) -> None:
        super().__init__(name=name, overlay=overlay, control=control, show=show)
        self._name = "PointsLayer"
        lon_a = np.round(np.asarray(lon, dtype=np.float64), decimals)
        lat_a = np.round(np.asarray(lat, dtype=np.float64), decimals)
        cls = np.asarray(classes, dtype=np.int64)
        if not (len(lon_a) == len(lat_a) == len(cls)) or (tips is not None and len(tips) != len(cls)):
            raise ValueError("PointsLayer: lon, lat, classes (and tips) must have the same length.")
        if len(cls) and (cls.min() < 0 or cls.max() >= len(styles)):
            raise ValueError(f"PointsLayer: classes must be 0..{len(styles) - 1} (one style per class).")
        if not np.isfinite(lon_a).all() or not np.isfinite(lat_a).all():
            raise ValueError("PointsLayer: coordinates must be finite (drop points without a location).")
        self.data_js = js_data([lon_a.tolist(), lat_a.tolist(), cls.tolist(), None if tips is None else list(tips)])
        self.styles_js = json.dumps(styles, separators=(", ", ": "))
        if "{{" in self.styles_js or "{%" in self.styles_js:
            raise ValueError("PointsLayer: styles must not contain template markers.")


_BASE_CSS = """
.leaflet-container { font-family: %(fonts)s; }
.zd-box {
    background: rgba(255, 255, 255, 0.92); padding: 6px 10px; border-radius: 4px;
    box-shadow: 0 1px 5px rgba(0, 0, 0, 0.35); color: #222; font-size: 13px; line-height: 1.5;
}
.zd-title { font-size: 16px; font-weight: 600; }
.zd-legend table { border-collapse: collapse; }
.zd-legend td { padding: 1px 4px; white-space: nowrap; }
.zd-legend td.zd-n { text-align: right; font-variant-numeric: tabular-nums; }
.zd-legend .zd-head { font-weight: 600; padding-bottom: 3px; }
.zd-swatch { display: inline-block; width: 16px; height: 11px; vertical-align: middle; box-sizing: border-box; }
.zd-line { display: inline-block; width: 16px; vertical-align: middle; }
.zd-depot {
    display: inline-block; transform: translate(-50%%, -50%%); white-space: nowrap;
    background: #d7191c; color: #fff; font-size: 11px; font-weight: 600; line-height: 1.3;
    padding: 1px 3px; border: 1px solid #fff; border-radius: 2px; box-shadow: 0 1px 3px rgba(0, 0, 0, 0.5);
}
.zd-legend .zd-depot { transform: none; font-size: 10px; box-shadow: none; }
.zd-dot { display: inline-block; width: 9px; height: 9px; border-radius: 50%%; margin: 0 3px; vertical-align: middle; }
"""


_KEY = re.compile(r"^[0-9A-Za-z]{8,64}$")


def resolve_tiles(tiles: str | TileProvider | None, *, key: str | None = None) -> TileProvider | None:
    """Return the :class:`TileProvider` for ``tiles`` (``None`` for ``"none"``), its key filled in.

    Parameters
    ----------
    tiles : str or TileProvider or None
        One of :data:`TILES`, or a provider (returned as it is once its key is in).
    key : str, optional
        The key of a provider with ``needs_key`` (Tianditu's ``tk``: letters and digits).

    Raises
    ------
    ValueError
        For unknown tiles, a keyed provider without a key (message in Chinese: how to give one),
        or a key that is not letters and digits.
    """
    if tiles is None or tiles == "none":
        return None
    if isinstance(tiles, TileProvider):
        provider = tiles
    else:
        try:
            provider = TILE_PROVIDERS[tiles]
        except KeyError:
            raise ValueError(f"Unknown tiles {tiles!r}: use one of {', '.join(TILES)}.") from None
    if not provider.needs_key or "{tk}" not in provider.url:
        return provider
    if not key:
        raise ValueError(
            f"天地图底图需要密钥 (tk): 用 --tianditu-key 提供, 或设置环境变量 {TIANDITU_KEY_ENV}; "
            f"密钥在 https://console.tianditu.gov.cn 申请 (浏览器端). 不需要底图时用 --tiles none.")
    if not _KEY.match(key):
        raise ValueError("天地图密钥 (tk) 应只含字母和数字 (通常 32 位), 请检查 --tianditu-key 或 "
                         f"{TIANDITU_KEY_ENV}.")
    return replace(provider, url=provider.url.replace("{tk}", key),
                   labels_url=provider.labels_url.replace("{tk}", key) if provider.labels_url else None)


def _tile_provider(tiles: str | TileProvider | None) -> TileProvider | None:
    return resolve_tiles(tiles)


def tile_datum(tiles: str | TileProvider | None) -> str:
    """``"WGS84"`` or ``"GCJ02"``: the datum the layers must be in to line up with ``tiles``."""
    if tiles is None or tiles == "none":
        return "WGS84"
    if isinstance(tiles, TileProvider):
        return tiles.datum
    provider = TILE_PROVIDERS.get(tiles)
    if provider is None:
        raise ValueError(f"Unknown tiles {tiles!r}: use one of {', '.join(TILES)}.")
    return provider.datum


def lonlat_to_tile_datum(lon: npt.ArrayLike, lat: npt.ArrayLike, tiles: str | TileProvider | None
                         ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """WGS 84 longitude/latitude (degrees) moved into the datum of ``tiles`` (see :func:`to_tile_datum`)."""
    lon_a = np.asarray(lon, dtype=np.float64)
    lat_a = np.asarray(lat, dtype=np.float64)
    if tile_datum(tiles) != "GCJ02":
        return lon_a.copy(), lat_a.copy()
    ok = np.isfinite(lon_a) & np.isfinite(lat_a)
    out_lon, out_lat = lon_a.copy(), lat_a.copy()
    out_lon[ok], out_lat[ok] = wgs84_to_gcj02(lon_a[ok], lat_a[ok])
    return out_lon, out_lat


def to_tile_datum(gdf: gpd.GeoDataFrame, tiles: str | TileProvider | None, *,
                  lonlat_columns: tuple[str, str] | None = None) -> gpd.GeoDataFrame:
    """Move a WGS 84 layer into the datum of ``tiles``, so it lines up with them.

    This is the one place where the maps handle datums: every renderer calls it on every vector
    layer (and on point columns such as the depot's) after reprojecting to WGS 84.  With
    Gaode (``datum="GCJ02"``) the coordinates are shifted WGS 84 -> GCJ-02
    (:func:`geo.crs.wgs84_to_gcj02`: several hundred metres in China, nothing outside the China
    box); with any other tiles (or none) ``gdf`` is returned unchanged.  The result keeps the
    EPSG:4326 label (GCJ-02 has no EPSG code); it is for drawing only.

    Parameters
    ----------
    gdf : GeoDataFrame
        Longitude/latitude (WGS 84) geometries.
    tiles : str or TileProvider or None
    lonlat_columns : (str, str), optional
        Also shift these longitude/latitude columns (e.g. ``("depot_lon", "depot_lat")``).

    Raises
    ------
    ValueError
        For unknown tiles, or a ``gdf`` with a CRS other than WGS 84 (reproject it first).
    """
    if tile_datum(tiles) != "GCJ02":
        return gdf
    if gdf.crs is not None and not gdf.crs.equals(WGS84_CRS):
        raise ValueError(f"to_tile_datum needs WGS 84 longitude/latitude, got {gdf.crs}: "
                         f"reproject first (gdf.to_crs('EPSG:4326')).")

    def shift(coords: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        out = np.array(coords, dtype=np.float64, copy=True)
        out[:, 0], out[:, 1] = wgs84_to_gcj02(coords[:, 0], coords[:, 1])
        return out

    out = gdf.copy()
    geoms = np.asarray(gdf.geometry.values, dtype=object)
    present = np.array([g is not None for g in geoms], dtype=bool)
    shifted = geoms.copy()
    if present.any():
        shifted[present] = shapely.transform(geoms[present], shift)
    out[gdf.geometry.name] = gpd.GeoSeries(shifted, index=gdf.index, crs=gdf.crs)
    if lonlat_columns is not None:
        lon_col, lat_col = lonlat_columns
        lon = pd.to_numeric(out[lon_col], errors="coerce").to_numpy(dtype=np.float64)
        lat = pd.to_numeric(out[lat_col], errors="coerce").to_numpy(dtype=np.float64)
        out[lon_col], out[lat_col] = lonlat_to_tile_datum(lon, lat, tiles)
    return out


def _leaflet_bounds(bounds: tuple[float, float, float, float]) -> list[list[float]]:
    """``(min_lon, min_lat, max_lon, max_lat)`` -> Leaflet ``[[south, west], [north, east]]``."""
    if len(bounds) != 4 or not all(isinstance(v, numbers.Real) and math.isfinite(v) for v in bounds):
        raise ValueError(f"bounds must be four finite numbers (min_lon, min_lat, max_lon, max_lat), got {bounds!r}.")
    west, south, east, north = (float(v) for v in bounds)
    if west > east or south > north:
        raise ValueError(f"bounds must be (min_lon, min_lat, max_lon, max_lat) with min <= max, got {bounds!r}.")
    if not (-180 <= west <= 180 and -180 <= east <= 180 and -90 <= south <= 90 and -90 <= north <= 90):
        raise ValueError(
            f"bounds {bounds!r} are not WGS 84 longitude/latitude: reproject the data to EPSG:4326 first."
        )
    # A single point (or a line along a meridian/parallel) would zoom in without limit: pad ~100 m.
    pad = 0.001
    if east - west < pad:
        west, east = west - pad / 2, east + pad / 2
    if north - south < pad:
        south, north = south - pad / 2, north + pad / 2
    return [[round(south, 6), round(west, 6)], [round(north, 6), round(east, 6)]]


def offline_map(
    *,
    bounds: tuple[float, float, float, float] | None = None,
    tiles: str | TileProvider | None = "none",
    attribution: str = OSM_ODBL_ATTRIBUTION,
    lang: str = "zh",
    title: str | None = None,
) -> folium.Map:
    """Return an empty folium map whose HTML opens offline (Leaflet inlined, no CDN).

    ``bounds`` (``min_lon, min_lat, max_lon, max_lat``, WGS 84) is fitted on opening; ``None`` shows
    the world.  ``tiles`` is one of :data:`TILES` or a :class:`TileProvider` from
    :func:`resolve_tiles`: ``"none"`` (default; a plain light background, no network), ``"osm"``,
    ``"tianditu"`` (pass ``resolve_tiles("tianditu", key=...)``: it needs a key) or ``"gaode"``
    (GCJ-02: the caller shifts its layers with :func:`to_tile_datum`).  Tiles need the internet;
    the vector layers draw without them.  The tile source's attribution is shown next to ``attribution``.  ``attribution`` (HTML: escape plain text with :func:`html_text`) is always shown in the attribution control,
    after the Leaflet prefix.  ``lang`` (``"zh"`` or ``"en"``) sets ``<html lang>``; ``title`` the
    page ``<title>``.  The map uses the canvas renderer (``prefer_canvas``) so thousands of circle
    markers stay fast.
    """
    check_lang(lang)
    provider = _tile_provider(tiles)
    fitted = _leaflet_bounds(bounds) if bounds is not None else None
    if fitted is not None:
        location = [round((fitted[0][0] + fitted[1][0]) / 2, 6), round((fitted[0][1] + fitted[1][1]) / 2, 6)]
    else:
        location = None

    # Zoom 1 at first, then the bounds are fitted without animation (_FitBounds).
    m = folium.Map(location=location, zoom_start=1, tiles=None, prefer_canvas=True)
    # folium's CDN list (Leaflet, jQuery, Bootstrap, awesome-markers, Font Awesome): not wanted.
    m.default_js = []
    m.default_css = []
    m.options["max_zoom"] = provider.max_zoom if provider is not None else MAX_ZOOM

    figure = OfflineFigure(lang=lang, title=title)
    figure.add_child(m)
    version, js, css = leaflet_assets()
    css_extra = _BASE_CSS % {"fonts": FONT_STACK}
    if provider is None:
        css_extra += f".leaflet-container {{ background: {NO_TILES_BACKGROUND}; }}\n"
    figure.header.add_child(_Raw(f"<!-- Leaflet {version} (BSD-2-Clause), inlined -->\n<style>\n{css}\n</style>"),
                            name="leaflet_css")
    figure.header.add_child(_Raw(f"<script>\n{js}\n</script>"), name="leaflet_js")
    figure.header.add_child(_Raw(f"<script>\n{_default_icon_script()}\n</script>"), name="leaflet_default_icon")
    figure.header.add_child(_Raw(f"<style>{css_extra}</style>"), name="zhudian_css")

    if provider is not None:
        for i, url in enumerate(u for u in (provider.url, provider.labels_url) if u):
            folium.TileLayer(
                tiles=url,
                attr=provider.attribution if i == 0 else " ",
                name=provider.key if i == 0 else f"{provider.key}-labels",
                max_zoom=provider.max_zoom,
                subdomains=provider.subdomains or "abc",
                control=False,
            ).add_to(m)
    _Attribution(attribution).add_to(m)
    _Scale().add_to(m)
    if fitted is not None:
        _FitBounds(fitted).add_to(m)
    return m


# --------------------------------------------------------------------------------------------
# Checking and writing the HTML

_REF_PATTERNS = (
    re.compile(r"<script\b[^>]*?\bsrc\s*=\s*[\"']?([^\"'\s>]+)", re.IGNORECASE),
    re.compile(r"<link\b[^>]*?\bhref\s*=\s*[\"']?([^\"'\s>]+)", re.IGNORECASE),
    re.compile(r"@import\s+(?:url\(\s*)?[\"']?([^\"')\s;]+)", re.IGNORECASE),
    re.compile(r"\burl\(\s*[\"']?([^\"')\s]+)", re.IGNORECASE),
)
_EXTERNAL = re.compile(r"^(?:https?:)?//", re.IGNORECASE)


def external_refs(html: str) -> list[str]:
    """Return the external URLs the page would load as scripts or styles, in order, without repeats.

    Looks at ``<script src>``, ``<link href>`` and CSS ``@import`` / ``url(...)`` anywhere in the
    text (also inside JS strings, which could be inserted later); a URL is external if it is
    ``http(s)://`` or protocol-relative ``//host``.  Tile URL templates and ``<a href>`` links are not
    resources of the page and are not reported.
    """
    hits = sorted(
        (match.start(1), match.group(1)) for pattern in _REF_PATTERNS for match in pattern.finditer(html)
    )
    return list(dict.fromkeys(url for _, url in hits if _EXTERNAL.match(url)))


def render_html(m: folium.Map) -> str:
    """Render ``m`` to a complete HTML page; raise ``ValueError`` if it would need the internet."""
    html = m.get_root().render()
    refs = external_refs(html)
    if refs:
        raise ValueError(
            f"The map would load {len(refs)} external script(s)/stylesheet(s) and so not open offline: "
            f"{', '.join(refs)}. Build it with maps.offline.offline_map and use only Leaflet features "
            f"(no folium Popup/Icon/plugins), or inline the plugin's assets."
        )
    if '<meta charset="utf-8">' not in html:
        raise ValueError("The map HTML has no <meta charset=\"utf-8\">: build it with maps.offline.offline_map.")
    return html


def save_html(m: folium.Map, path: str | os.PathLike[str]) -> Path:
    """Write ``m`` as a self-contained UTF-8 HTML file at ``path`` and return the path.

    The write is atomic: a temporary file in the same folder is replaced into place, so a reader
    never sees half a map.  Raises ``ValueError`` (see :func:`render_html`) before writing anything
    if the page references an external script or stylesheet.
    """
    return write_atomic(path, render_html(m).encode("utf-8"))
