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
from dataclasses import dataclass
from pathlib import Path

import folium
from branca.element import Element, Figure
from folium.elements import MacroElement
from folium.template import Template

from geo.atomic import write_atomic
from maps.i18n import HTML_LANG, check_lang

logger = logging.getLogger(__name__)

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

    ``datum`` is the datum the tiles are drawn in: ``"WGS84"`` tiles take our layers as they are;
    ``"GCJ02"`` tiles (Gaode) need every WGS 84 layer shifted before it is drawn.
    """

    key: str
    url: str
    attribution: str
    max_zoom: int = 19
    subdomains: str | None = None
    datum: str = "WGS84"


TILE_PROVIDERS: dict[str, TileProvider] = {
    "osm": TileProvider(
        key="osm",
        url="https://tile.openstreetmap.org/{z}/{x}/{y}.png",
        attribution='&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> contributors',
        max_zoom=19,
    ),
    # "tianditu" (needs a tk key) and "gaode" (GCJ-02: layers must be shifted) come later: add a
    # TileProvider here and, for a keyed source, a key argument to offline_map.
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


def _tile_provider(tiles: str) -> TileProvider | None:
    if tiles == "none":
        return None
    try:
        return TILE_PROVIDERS[tiles]
    except KeyError:
        raise ValueError(f"Unknown tiles {tiles!r}: use one of {', '.join(TILES)}.") from None


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
    tiles: str = "none",
    attribution: str = OSM_ODBL_ATTRIBUTION,
    lang: str = "zh",
    title: str | None = None,
) -> folium.Map:
    """Return an empty folium map whose HTML opens offline (Leaflet inlined, no CDN).

    ``bounds`` (``min_lon, min_lat, max_lon, max_lat``, WGS 84) is fitted on opening; ``None`` shows
    the world.  ``tiles`` is one of :data:`TILES`: ``"none"`` (default; a plain light background, no
    network) or ``"osm"`` (OpenStreetMap tiles, which need the internet; the vector layers draw
    without them).  ``attribution`` (HTML: escape plain text with :func:`html_text`) is always shown in the attribution control,
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
        folium.TileLayer(
            tiles=provider.url,
            attr=provider.attribution,
            name=provider.key,
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
