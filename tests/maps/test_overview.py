"""Offline folium maps (maps.offline) and the overview map (maps.overview).

The HTML tests assert on the rendered page; the ``browser`` tests open it in headless Chromium with
the network unreachable (see ``tests/maps/browser.py``), require zero console errors and zero
network requests, and count the pixels of the layer colours in the screenshot.
"""

from __future__ import annotations

import re
from pathlib import Path

import folium
import geopandas as gpd
import numpy as np
import pytest
from shapely.geometry import LineString, Point, box

from browser import require_cjk_font, screenshot
from geo.layers import WGS84
from maps.offline import (
    NO_TILES_BACKGROUND,
    OSM_ODBL_ATTRIBUTION,
    external_refs,
    leaflet_assets,
    offline_map,
    render_html,
    save_html,
)
from maps.overview import AREA_FILL, AREA_FILL_OPACITY, HOUSEHOLD_COLOUR, overview_map

DATA = Path(__file__).resolve().parents[1] / "data"

LEGEND_ZH = ["行政村界", "自然村", "小区", "道路", "住户（区内）", "就近归入", "散居户", "村委会", "住户合计"]
LEGEND_EN = ["Village boundary", "Natural village", "Residential compound", "Roads",
             "Households (in area)", "Attached to nearest area", "Scattered households", "Village committee"]

# A small village near Beijing: 1,600 m x 1,100 m, a natural village (west), a compound (east).
X0, Y0 = 116.300, 40.000


def tiny_village(*, odd_names: bool = False) -> tuple[gpd.GeoDataFrame, ...]:
    """One village, two areas (+ the scattered area), 20 households, 4 roads; all in WGS 84."""
    name = "东河村" if not odd_names else "东<b>河</b>村 {{ x }} `${1}`"
    villages = gpd.GeoDataFrame(
        {"village_id": ["V1"], "name": [name], "town": ["上庄镇"], "depot_lon": [X0 + 0.0100],
         "depot_lat": [Y0 + 0.0040], "attrs": [{}]},
        geometry=[box(X0, Y0, X0 + 0.019, Y0 + 0.010)], crs=WGS84)
    areas = gpd.GeoDataFrame(
        {"area_id": ["A1", "A2", "V1-散居户"], "village_id": ["V1"] * 3,
         "name": ["李家庄", "阳光小区", "散居户"], "kind": ["natural_village", "compound", "scattered"],
         "attrs": [{}] * 3},
        geometry=[box(X0 + 0.001, Y0 + 0.001, X0 + 0.007, Y0 + 0.008),
                  box(X0 + 0.011, Y0 + 0.002, X0 + 0.018, Y0 + 0.009), None], crs=WGS84)
    rows = []
    for i in range(6):  # in the natural village
        rows.append(("A1", "in_area", X0 + 0.002 + 0.0009 * i, Y0 + 0.003 + 0.0006 * (i % 3)))
    for i in range(8):  # in the compound
        rows.append(("A2", "in_area", X0 + 0.012 + 0.0007 * i, Y0 + 0.004 + 0.0008 * (i % 4)))
    for i in range(3):  # just outside the natural village, attached to it
        rows.append(("A1", "attached", X0 + 0.0075 + 0.0003 * i, Y0 + 0.002 + 0.002 * i))
    for i in range(3):  # far from both: scattered
        rows.append(("V1-散居户", "scattered", X0 + 0.009 + 0.0002 * i, Y0 + 0.0085 - 0.0025 * i))
    households = gpd.GeoDataFrame(
        {"household_id": [f"H{i:03d}" if not odd_names or i else "H<0>{{y}}" for i in range(len(rows))],
         "area_id": [r[0] for r in rows], "village_id": "V1", "placement": [r[1] for r in rows],
         "attrs": [{}] * len(rows)},
        geometry=[Point(r[2], r[3]) for r in rows], crs=WGS84)
    roads = gpd.GeoDataFrame(
        {"road_id": ["R1", "R2", "R3", "R4"]},
        geometry=[LineString([(X0, Y0 + 0.0095), (X0 + 0.019, Y0 + 0.0095)]),
                  LineString([(X0 + 0.0095, Y0), (X0 + 0.0095, Y0 + 0.010)]),
                  LineString([(X0 + 0.0095, Y0 + 0.010), (X0 + 0.0095, Y0)]),  # R2 reversed
                  LineString([(X0 + 0.001, Y0 + 0.0005), (X0 + 0.008, Y0 + 0.0005), (X0 + 0.009, Y0 + 0.001)])],
        crs=WGS84)
    return villages, areas, households, roads


def fixture_layers(folder: Path) -> tuple[gpd.GeoDataFrame, ...]:
    """A ``tests/data/<area>/`` fixture adapted to the geo.layers columns (see tests/data/README.md).

    Its ``villages.geojson`` holds *areas* (``village_id`` is the area id; ``residential_area`` is
    drawn as a compound) and no administrative village: one village is made around all areas.
    A household belongs to its compound if any, else its natural village, else it is scattered.
    """
    raw = gpd.read_file(folder / "villages.geojson").to_crs(WGS84)
    areas = gpd.GeoDataFrame(
        {"area_id": raw["village_id"].astype(str), "village_id": "V1", "name": raw["name"].fillna("").astype(str),
         "kind": raw["kind"].replace({"residential_area": "compound"})},
        geometry=raw.geometry, crs=WGS84)
    hull = areas.union_all().convex_hull
    villages = gpd.GeoDataFrame(
        {"village_id": ["V1"], "name": [folder.name], "depot_lon": [hull.centroid.x], "depot_lat": [hull.centroid.y]},
        geometry=[hull], crs=WGS84)
    raw_h = gpd.read_file(folder / "households.geojson").to_crs(WGS84)
    area_id = raw_h["compound_id"].where(raw_h["compound_id"].notna(), raw_h["village_id"])
    households = gpd.GeoDataFrame(
        {"household_id": raw_h["household_id"].astype(str), "area_id": area_id,
         "placement": np.where(area_id.notna(), "in_area", "scattered")},
        geometry=raw_h.geometry, crs=WGS84)
    roads = gpd.read_file(folder / "walk_edges.geojson").to_crs(WGS84)[["geometry"]]
    return villages, areas, households, roads


def script_part(html: str) -> str:
    """The map's own script (after Leaflet and the CSS): where the data is."""
    return html.split("<body>", 1)[1]


# ------------------------------------------------------------------------------------------------
# maps.offline


def test_offline_map_inlines_leaflet_and_needs_no_network():
    html = render_html(offline_map(bounds=(X0, Y0, X0 + 0.02, Y0 + 0.01)))
    version, js, css = leaflet_assets()
    assert version == "1.9.3"
    assert external_refs(html) == []
    assert "cdn." not in html and "jquery" not in html.lower() and "bootstrap" not in html.lower()
    assert "Leaflet 1.9.3" in html and js in html  # the whole library, inline
    assert ".leaflet-container" in html and "images/layers.png" not in html  # CSS images as data: URIs
    assert "L.map(" in html and '"preferCanvas": true' in html
    assert html.startswith("<!DOCTYPE html>") and '<html lang="zh-CN">' in html
    assert html.index('<meta charset="utf-8">') < html.index("<script")
    assert OSM_ODBL_ATTRIBUTION in html and "setPrefix" in html  # attribution without tiles
    assert NO_TILES_BACKGROUND in html and "L.tileLayer" not in html
    assert "fitBounds([[40.0, 116.3], [40.01, 116.32]]" in html
    assert len(html.encode()) < 250_000


def test_offline_map_options():
    en = render_html(offline_map(lang="en"))
    assert '<html lang="en">' in en and external_refs(en) == []
    osm = render_html(offline_map(tiles="osm"))
    assert "https://tile.openstreetmap.org/{z}/{x}/{y}.png" in osm and "L.tileLayer" in osm
    assert external_refs(osm) == []  # tiles are images fetched by Leaflet, not page resources
    assert OSM_ODBL_ATTRIBUTION in osm and NO_TILES_BACKGROUND not in osm
    one_point = render_html(offline_map(bounds=(X0, Y0, X0, Y0)))  # padded, not an infinite zoom
    assert "fitBounds([[39.9995, 116.2995], [40.0005, 116.3005]]" in one_point
    with pytest.raises(ValueError, match="Unknown tiles 'bing'"):
        offline_map(tiles="bing")
    with pytest.raises(ValueError, match="Unsupported lang 'fr'"):
        offline_map(lang="fr")
    with pytest.raises(ValueError, match="min <= max"):
        offline_map(bounds=(X0 + 1, Y0, X0, Y0 + 1))
    with pytest.raises(ValueError, match="reproject"):
        offline_map(bounds=(440_000, 4_420_000, 441_000, 4_421_000))


def test_external_refs_finds_cdn_assets():
    refs = external_refs(folium.Map().get_root().render())  # folium's default page
    assert "https://cdn.jsdelivr.net/npm/leaflet@1.9.3/dist/leaflet.js" in refs
    assert "https://code.jquery.com/jquery-3.7.1.min.js" in refs
    assert any(r.endswith("leaflet.css") for r in refs) and len(refs) == 10
    page = """<link rel="stylesheet" href='//fonts.example.com/a.css'><script src=https://x.example/b.js></script>
        <style>@import url("https://fonts.example.com/c.css"); .a {background: url(http://x.example/d.png)}</style>
        <link rel="stylesheet" href="local.css"><a href="https://leafletjs.com">Leaflet</a>
        <script>var t = "https://tile.openstreetmap.org/{z}/{x}/{y}.png";</script>"""
    assert external_refs(page) == ["//fonts.example.com/a.css", "https://x.example/b.js",
                                   "https://fonts.example.com/c.css", "http://x.example/d.png"]


def test_save_html_writes_atomically_and_refuses_cdn(tmp_path):
    m = offline_map()
    path = save_html(m, tmp_path / "map.html")
    assert path == tmp_path / "map.html"
    text = path.read_bytes().decode("utf-8")
    assert '<meta charset="utf-8">' in text and external_refs(text) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["map.html"]  # no temporary file left

    m.add_js_link("fullscreen", "https://cdn.example.com/fullscreen.js")  # a plugin's CDN asset
    with pytest.raises(ValueError, match="https://cdn.example.com/fullscreen.js"):
        save_html(m, tmp_path / "other.html")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["map.html"]
    with pytest.raises(ValueError, match="external"):
        save_html(folium.Map(), tmp_path / "cdn.html")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        save_html(offline_map(), tmp_path / "missing" / "map.html")


def test_plain_marker_does_not_load_image_files():
    m = offline_map(bounds=(X0, Y0, X0 + 0.01, Y0 + 0.01))
    folium.Marker([Y0, X0]).add_to(m)  # Leaflet's default icon, usually images/marker-icon.png
    html = render_html(m)
    assert "L.Icon.Default.imagePath = ''" in html and "marker-icon.png" not in html.split("</style>")[-1]


# ------------------------------------------------------------------------------------------------
# maps.overview: the HTML


def test_overview_html_zh():
    villages, areas, households, roads = tiny_village()
    html = render_html(overview_map(villages, areas, households, roads))
    assert external_refs(html) == []
    assert "Leaflet 1.9.3" in html and "L.map(" in html
    for text in LEGEND_ZH:
        assert text in html, text
    assert "东河村 · 驻点总览" in html and "<title>东河村 · 驻点总览</title>" in html
    script = script_part(html)
    assert script.count('"h": "H0') == 20  # one feature per household, one short property
    assert not re.findall(r"\d\.\d{7,}", script)  # coordinates rounded to 6 decimals
    # The roads layer holds R1, R2, R4 (1.62 + 1.11 + 0.70 km): R3 is R2 reversed, drawn and counted once.
    assert script.count('"MultiLineString"') == 1 and "3.4 公里" in script
    assert "fitBounds([[40.0, 116.3], [40.01, 116.319]]" in script
    for colour in (*AREA_FILL.values(), HOUSEHOLD_COLOUR["in_area"], HOUSEHOLD_COLOUR["attached"]):
        assert colour in script


def test_overview_html_en():
    html = render_html(overview_map(*tiny_village(), lang="en"))
    for text in LEGEND_EN:
        assert text in html, text
    for text in ("自然村", "就近归入", "散居户", "村委会", "驻点总览"):
        assert text not in html, text
    assert '<html lang="en">' in html and "东河村 · Overview" in html


def test_overview_escapes_user_text():
    html = render_html(overview_map(*tiny_village(odd_names=True)))  # would break folium's templates
    script = script_part(html)
    assert "<b>河" not in script and "{{ x }}" not in script and "{{y}}" not in script
    assert "东&lt;b&gt;河&lt;/b&gt;村 &#123;&#123; x &#125;&#125; &#96;&#36;&#123;1&#125;&#96;" in script


def test_overview_without_roads_and_other_crs():
    villages, areas, households, _ = tiny_village()
    metric = "EPSG:32650"
    m = overview_map(villages.to_crs(metric), areas.to_crs(metric), households.to_crs(metric))
    html = render_html(m)
    assert "道路" not in html.split("<body>")[1].split("图例")[1]  # no roads row in the legend
    assert re.search(r"fitBounds\(\[\[40\.0, 116\.3\], \[40\.01, 116\.319\]\]", html)


def test_overview_reports_every_problem():
    villages, areas, households, roads = tiny_village()
    areas = areas.assign(kind=["natural_village", "estate", "scattered"])
    with pytest.raises(ValueError) as info:
        overview_map(villages.drop(columns=["depot_lat"]), areas, households.drop(columns=["placement"]), roads)
    message = str(info.value)
    assert "villages: missing column(s) depot_lat" in message
    assert "households: missing column(s) placement" in message
    assert "areas: unknown kind 'estate'" in message


def test_overview_size_for_a_town():
    """8,375 households and 7,174 road edges (the size of the Liechtenstein demo): well under 5 MB."""
    rng = np.random.default_rng(7)
    villages, areas, _, _ = tiny_village()
    n, n_edges = 8_375, 7_174
    xy = np.column_stack([X0 + rng.uniform(0, 0.019, n), Y0 + rng.uniform(0, 0.010, n)])
    households = gpd.GeoDataFrame(
        {"household_id": [f"LI-{i:05d}" for i in range(n)], "area_id": "A1", "village_id": "V1",
         "placement": rng.choice(["in_area", "attached", "scattered"], n, p=[0.8, 0.15, 0.05])},
        geometry=gpd.points_from_xy(xy[:, 0], xy[:, 1]), crs=WGS84)
    starts = np.column_stack([X0 + rng.uniform(0, 0.019, n_edges), Y0 + rng.uniform(0, 0.010, n_edges)])
    steps = rng.normal(0, 0.0004, (n_edges, 5, 2)).cumsum(axis=1)  # 6-vertex edges
    roads = gpd.GeoDataFrame(geometry=[LineString(np.vstack([s, s + d])) for s, d in zip(starts, steps)],
                             crs=WGS84)
    html = render_html(overview_map(villages, areas, households, roads))
    size = len(html.encode())
    assert size < 3_500_000, f"{size / 1e6:.1f} MB"
    assert script_part(html).count('"h": "LI-') == n


# ------------------------------------------------------------------------------------------------
# In a real browser, offline


def colour_pixels(png: Path, rgb: tuple[float, float, float], tol: float = 6) -> int:
    from PIL import Image

    image = np.asarray(Image.open(png).convert("RGB"), dtype=float)
    return int((np.abs(image - np.asarray(rgb)).max(axis=2) <= tol).sum())


def hex_rgb(colour: str) -> np.ndarray:
    return np.array([int(colour[i:i + 2], 16) for i in (1, 3, 5)], dtype=float)


def blended(fill: str, opacity: float, background: str = NO_TILES_BACKGROUND) -> tuple[float, ...]:
    return tuple(hex_rgb(background) * (1 - opacity) + hex_rgb(fill) * opacity)


LEGEND_JS = "document.querySelector('.zd-legend').innerText + '\\n' + document.querySelector('.zd-title').innerText"


@pytest.mark.browser
def test_browser_harness_sees_a_default_folium_page_fail(tmp_path):
    """The harness is offline and hears the console: folium's CDN page fails as it would offline."""
    page = tmp_path / "cdn.html"
    folium.Map().save(page)
    result = screenshot(page, tmp_path / "cdn.png", timeout_s=60)
    assert any("L is not defined" in e for e in result.errors), result.errors
    assert "https://code.jquery.com/jquery-3.7.1.min.js" in result.external_requests


@pytest.mark.browser
def test_overview_in_browser_zh(tmp_path):
    require_cjk_font()  # the screenshot is for people to look at, too
    path = save_html(overview_map(*tiny_village()), tmp_path / "overview.html")
    result = screenshot(path, tmp_path / "overview.png", evaluate=LEGEND_JS)
    assert result.errors == [], result.errors
    assert result.external_requests == []
    legend = result.value
    for text in LEGEND_ZH:
        assert text in legend, legend
    assert re.search(r"住户（区内）\s*14", legend) and re.search(r"就近归入\s*3", legend)
    assert re.search(r"散居户\s*3", legend) and re.search(r"住户合计\s*20", legend)
    assert "东河村 · 驻点总览" in legend and re.search(r"道路\s*3.4 公里", legend)

    png = result.png_path
    natural = colour_pixels(png, blended(AREA_FILL["natural_village"], AREA_FILL_OPACITY))
    compound = colour_pixels(png, blended(AREA_FILL["compound"], AREA_FILL_OPACITY))
    in_area = colour_pixels(png, tuple(hex_rgb(HOUSEHOLD_COLOUR["in_area"])), tol=12)
    scattered = colour_pixels(png, tuple(hex_rgb(HOUSEHOLD_COLOUR["scattered"])), tol=12)
    background = colour_pixels(png, tuple(hex_rgb(NO_TILES_BACKGROUND)), tol=2)
    total = 1200 * 800
    # The village fills most of the view: each area is several % of it; 14 + 3 markers of ~35 px.
    assert natural > 0.03 * total and compound > 0.03 * total, (natural, compound)
    assert in_area > 14 * 15 and scattered > 3 * 15, (in_area, scattered)
    assert 0.2 * total < background < 0.9 * total  # not blank, not all painted over


@pytest.mark.browser
def test_overview_in_browser_en(tmp_path):
    path = save_html(overview_map(*tiny_village(), lang="en"), tmp_path / "overview-en.html")
    result = screenshot(path, tmp_path / "overview-en.png", evaluate=LEGEND_JS)
    assert result.errors == [] and result.external_requests == []
    for text in LEGEND_EN:
        assert text in result.value, result.value


@pytest.mark.browser
@pytest.mark.parametrize(("area", "min_area_px"), [("haidian", 5_000), ("guixi", 50)])  # guixi: tiny areas
def test_overview_of_real_data_in_browser(tmp_path, area, min_area_px):
    folder = DATA / area
    if not (folder / "households.geojson").exists():
        pytest.skip(f"tests/data/{area} not present")
    villages, areas, households, roads = fixture_layers(folder)
    path = save_html(overview_map(villages, areas, households, roads), tmp_path / f"{area}.html")
    assert path.stat().st_size < 1_500_000
    result = screenshot(path, tmp_path / f"{area}.png", evaluate=LEGEND_JS)
    assert result.errors == [] and result.external_requests == []
    assert re.search(rf"住户合计\s*{len(households)}", result.value), result.value
    png = result.png_path
    households_px = sum(colour_pixels(png, tuple(hex_rgb(HOUSEHOLD_COLOUR[p])), tol=12)
                        for p in ("in_area", "scattered"))
    areas_px = sum(colour_pixels(png, blended(c, AREA_FILL_OPACITY)) for c in AREA_FILL.values())
    assert households_px > 10 * len(households) and areas_px > min_area_px, (households_px, areas_px)
