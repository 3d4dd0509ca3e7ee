"""The zone map (maps.zones), with outlines from geo.outlines.

The HTML tests assert on the rendered page; the ``browser`` tests open it in headless Chromium with
the network unreachable (``tests/maps/browser.py``), require zero console errors and requests, and
count the pixels of the zone colours in the screenshot.
"""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import LineString, box

from browser import require_cjk_font, screenshot
from geo.layers import WGS84
from geo.outlines import zone_outlines
from maps.offline import NO_TILES_BACKGROUND, external_refs, render_html, save_html
from maps.zones import (
    UNZONED_COLOUR,
    ZONE_FILL_OPACITY,
    ZONE_PALETTE,
    darker,
    zone_colour,
    zone_map,
)
from test_overview import fixture_layers, script_part

DATA = Path(__file__).resolve().parents[1] / "data"
UTM = "EPSG:32650"
X0, Y0 = 440_000.0, 4_428_000.0  # metres, EPSG:32650 (about 116.30 E, 40.00 N)

MEMBERS = ["张伟、王芳、李娜", "刘洋、陈静、杨磊", ""]
WORKLOAD_MIN = [750.0, 690.0, 612.0]  # 12.5, 11.5, 10.2 hours


def small_problem(*, odd: bool = False) -> dict:
    """One village (depot), 2 natural villages and a compound, 60 households in 3 zones, roads.

    Zone 1 and 2 split the western natural village 李家庄 (A1); zone 3 has the eastern one and
    the compound.  Returns the keyword arguments of ``zone_map``.
    """
    rng = np.random.default_rng(11)
    a1, a2, c1 = box(X0 + 100, Y0 + 100, X0 + 700, Y0 + 900), box(X0 + 1000, Y0 + 100, X0 + 1500, Y0 + 600), \
        box(X0 + 1000, Y0 + 700, X0 + 1400, Y0 + 1000)
    areas = gpd.GeoDataFrame(
        {"area_id": ["A1", "A2", "C1", "V1-散居户"], "village_id": "V1",
         "name": ["李家庄", "王家湾", "阳光小区", "散居户"],
         "kind": ["natural_village", "natural_village", "compound", "scattered"], "attrs": [{}] * 4},
        geometry=[a1, a2, c1, None], crs=UTM).to_crs(WGS84)
    xy, area_of = [], []
    for area, n in ((a1, 30), (a2, 18)):
        minx, miny, maxx, maxy = area.bounds
        xy.extend(np.column_stack([rng.uniform(minx + 20, maxx - 20, n), rng.uniform(miny + 20, maxy - 20, n)]))
        area_of += ["A1" if area is a1 else "A2"] * n
    for i in range(4):  # 4 buildings of 3 households in the compound
        xy.extend([(X0 + 1080 + 80 * i, Y0 + 850)] * 3)
        area_of += ["C1"] * 3
    xy = np.asarray(xy)
    zone = np.where(np.asarray(area_of) == "A1", np.where(xy[:, 0] < X0 + 400, 1, 2), 3)
    households = gpd.GeoDataFrame(
        {"household_id": [f"H{i:03d}" for i in range(len(xy))], "area_id": area_of, "village_id": "V1",
         "placement": "in_area", "attrs": [{}] * len(xy), "zone": zone},
        geometry=gpd.points_from_xy(xy[:, 0], xy[:, 1]), crs=UTM).to_crs(WGS84)
    zones = zone_outlines(households, zone, areas=areas)
    zones["group_id"] = ["G1", "G2", "G3"]
    zones["group_label"] = ["第1组", "第2组", "第3组"] if not odd else ["<b>第1组</b>", "{{ x }}", "`${1}`"]
    zones["members"] = MEMBERS
    zones["workload_min"] = WORKLOAD_MIN
    villages = gpd.GeoDataFrame(
        {"village_id": ["V1"], "name": ["东河村"], "town": ["上庄镇"], "depot_lon": [np.nan], "depot_lat": [np.nan],
         "attrs": [{}]},
        geometry=[box(X0, Y0, X0 + 1600, Y0 + 1100)], crs=UTM).to_crs(WGS84)
    depot = gpd.GeoSeries.from_xy([X0 + 850], [Y0 + 650], crs=UTM).to_crs(WGS84)
    villages["depot_lon"], villages["depot_lat"] = depot.x.to_numpy(), depot.y.to_numpy()
    roads = gpd.GeoDataFrame(
        {"road_id": ["R1", "R2"]},
        geometry=[LineString([(X0, Y0 + 650), (X0 + 1600, Y0 + 650)]),
                  LineString([(X0 + 850, Y0), (X0 + 850, Y0 + 1100)])], crs=UTM).to_crs(WGS84)
    return {"zones": zones, "households": households, "areas": areas, "villages": villages, "roads": roads,
            "split_area_ids": ["A1"]}


def colour_pixels(png: Path, rgb, tol: float = 6) -> int:
    from PIL import Image

    image = np.asarray(Image.open(png).convert("RGB"), dtype=float)
    return int((np.abs(image - np.asarray(rgb, dtype=float)).max(axis=2) <= tol).sum())


def hex_rgb(colour: str) -> np.ndarray:
    return np.array([int(colour[i:i + 2], 16) for i in (1, 3, 5)], dtype=float)


def blended(fill: str, opacity: float, background: str = NO_TILES_BACKGROUND) -> np.ndarray:
    return hex_rgb(background) * (1 - opacity) + hex_rgb(fill) * opacity


def zone_fill_pixels(png: Path, n_zones: int) -> list[int]:
    return [colour_pixels(png, blended(zone_colour(i), ZONE_FILL_OPACITY)) for i in range(n_zones)]


def plain(html: str) -> str:
    """``html`` with the ``\\uXXXX`` escapes of its JavaScript strings and JSON decoded."""
    return re.sub(r"\\u([0-9a-fA-F]{4})", lambda m: chr(int(m.group(1), 16)), html).replace('\\"', '"')


LEGEND_JS = "document.querySelector('.zd-legend').innerText + '\\n' + document.querySelector('.zd-title').innerText"


# ------------------------------------------------------------------------------------------------
# The HTML


def test_palette_has_twelve_distinct_colours():
    assert len(set(ZONE_PALETTE)) == len(ZONE_PALETTE) >= 12
    first = [hex_rgb(c) for c in ZONE_PALETTE[:12]]
    closest = min(np.abs(a - b).sum() for a, b in itertools.combinations(first, 2))
    assert closest > 60, closest  # sum of channel differences, 0-765
    assert zone_colour(0) == ZONE_PALETTE[0] and zone_colour(len(ZONE_PALETTE)) == ZONE_PALETTE[0]
    assert darker("#ffffff", 0.5) == "#808080"


def test_zone_map_html_zh():
    problem = small_problem()
    html = render_html(zone_map(**problem))
    assert external_refs(html) == []
    assert "<title>东河村 · 分片走访地图</title>" in html and '<html lang="zh-CN">' in html
    body = plain(script_part(html))
    legend = body[body.index('<div class="zd-head">图例'):]
    legend = legend[:legend.index("</table>")]
    for text in ("第1组", "第2组", "第3组", "张伟、王芳、李娜", "刘洋、陈静、杨磊", "（未定成员）", "分组", "成员", "户数",
                 "工作量", "12.5 小时", "11.5 小时", "10.2 小时", "34.2 小时", "合计", "被拆分的片区",
                 "自然村/小区界", "行政村界", "道路", "村委会"):
        assert text in legend, text
    counts = problem["zones"]["households"].tolist()
    assert counts[0] + counts[1] == 30 and counts[2] == 30
    for n in counts:
        assert f">{n}户<" in legend
    assert '被拆分的片区</td><td class="zd-n">1</td>' in legend
    assert f"<b>第1组</b><br>张伟、王芳、李娜<br>{counts[0]} 户<br>" in body and "工作量 12.5 小时" in body  # zone tooltip
    for i in range(3):
        assert zone_colour(i) in body and darker(zone_colour(i)) in body
    assert body.count('"h": "H0') == 60  # one marker per household
    assert '"h": "H000 · 第1组"' in body  # household tooltip: id and group
    for name in ("李家庄", "王家湾", "阳光小区"):  # permanent area name labels
        assert f'<div class="zd-area-name">{name}</div>' in body, name
    assert "散居户" not in body  # the scattered area has no outline and no label
    assert body.count('<div class="zd-zone-name"') == 3
    assert body.count('"dashArray": "7 5"') == 1  # the split area
    assert "李家庄<br>此片区分属多个组" in body
    assert "paddingBottomRight" in body


def test_zone_map_html_en_and_colours_follow_zone_order():
    problem = small_problem()
    zones = problem["zones"]
    zones["group_label"] = ["Group 1", "Group 2", "Group 3"]
    html = render_html(zone_map(**dict(problem, zones=zones.iloc[[2, 0, 1]]), lang="en"))
    assert '<html lang="en">' in html and "<title>东河村 · Zone map</title>" in html
    body = plain(script_part(html))
    for text in ("Group", "Members", "Households", "Workload", "12.5 h", "(no members yet)", "Split areas",
                 "Natural village / compound", "Village committee", "Total"):
        assert text in body, text
    for text in ("分片走访地图", "工作量", "小时", "被拆分的片区", "未定成员", "村委会"):
        assert text not in html and text not in body, text
    # Colours by zone order, whatever the row order: each legend row has its zone's colour.
    rows = re.findall(r"<tr><td><span class=\"zd-swatch\" style=\"[^\"]*border:2px solid (#[0-9a-f]{6})\">"
                      r"</span></td><td>(Group \d)</td>", body)
    assert rows == [(darker(zone_colour(i)), f"Group {i + 1}") for i in range(3)]


def test_zone_map_escapes_user_text():
    html = render_html(zone_map(**small_problem(odd=True)))
    body = script_part(html)
    assert "<b>第1组" not in plain(body) and "{{ x }}" not in body and "`${1}`" not in body
    assert "&lt;b&gt;第1组&lt;/b&gt;" in plain(body) and "&#123;&#123; x &#125;&#125;" in plain(body)


def test_zone_map_unzoned_households_and_no_optional_layers():
    problem = small_problem()
    households = problem["households"].copy()
    households.loc[households.index[:4], "zone"] = np.nan  # not yet zoned
    zones = problem["zones"].drop(columns=["members", "group_id"])
    html = render_html(zone_map(zones=zones, households=households, areas=problem["areas"]))
    body = plain(script_part(html))
    assert "未分片住户" in body and UNZONED_COLOUR in body and "H000 · 未分片住户" in body
    assert "<title>分片走访地图</title>" in html  # no villages: the plain title
    assert "村委会" not in body and "行政村界" not in body and "道路" not in body
    assert "（未定成员）" in body  # no members column


def test_zone_map_reports_every_problem():
    problem = small_problem()
    zones = problem["zones"].copy()
    zones.loc[1, "zone"] = 1  # zone 1 twice
    with pytest.raises(ValueError) as info:
        zone_map(zones=zones.drop(columns=["workload_min"]), households=problem["households"].drop(columns=["zone"]),
                 areas=problem["areas"].drop(columns=["kind"]))
    message = str(info.value)
    assert "zones: missing column(s) workload_min" in message
    assert "households: missing column(s) zone" in message
    assert "areas: missing column(s) kind" in message
    assert "zone label(s) 1 appear more than once" in message
    with pytest.raises(ValueError, match="Unsupported lang"):
        zone_map(**problem, lang="fr")


# ------------------------------------------------------------------------------------------------
# In a real browser, offline


@pytest.mark.browser
def test_zone_map_in_browser_zh(tmp_path):
    require_cjk_font()
    path = save_html(zone_map(**small_problem()), tmp_path / "zones.html")
    result = screenshot(path, tmp_path / "zones.png", evaluate=LEGEND_JS)
    assert result.errors == [], result.errors
    assert result.external_requests == []
    legend = result.value
    assert "东河村 · 分片走访地图" in legend
    assert re.search(r"第1组\s*张伟、王芳、李娜\s*\d+户\s*12.5 小时", legend), legend
    assert re.search(r"第3组\s*（未定成员）\s*30户\s*10.2 小时", legend), legend
    assert re.search(r"合计\s*60户\s*34.2 小时", legend) and re.search(r"被拆分的片区\s*1", legend)

    png = result.png_path
    fills = zone_fill_pixels(png, 3)
    assert all(n > 0.02 * 1200 * 800 for n in fills), fills  # each zone a visible part of the view
    rings = [colour_pixels(png, hex_rgb(darker(zone_colour(i))), tol=10) for i in range(3)]
    assert all(n > 300 for n in rings), rings  # zone outlines and household rings
    background = colour_pixels(png, hex_rgb(NO_TILES_BACKGROUND), tol=2)
    assert 0.1 * 1200 * 800 < background < 0.9 * 1200 * 800


@pytest.mark.browser
def test_zone_map_in_browser_en(tmp_path):
    problem = small_problem()
    problem["zones"]["group_label"] = ["Group 1", "Group 2", "Group 3"]
    path = save_html(zone_map(**problem, lang="en"), tmp_path / "zones-en.html")
    result = screenshot(path, tmp_path / "zones-en.png", evaluate=LEGEND_JS)
    assert result.errors == [] and result.external_requests == []
    assert re.search(r"Group 1\s*张伟、王芳、李娜\s*\d+ hh\s*12.5 h", result.value), result.value
    assert "Zone map" in result.value and "Split areas" in result.value


@pytest.mark.browser
@pytest.mark.parametrize("k", [3, 5])
def test_zone_map_of_real_data_in_browser(tmp_path, k):
    """Haidian fixture, zones by k-means on coordinates: every zone colour shows, no errors."""
    from scipy.cluster.vq import kmeans2

    folder = DATA / "haidian"
    if not (folder / "households.geojson").exists():
        pytest.skip("tests/data/haidian not present")
    villages, areas, households, roads = fixture_layers(folder)
    xy = households.to_crs(UTM).get_coordinates().to_numpy()
    _, labels = kmeans2(xy, k, seed=1, minit="++")
    households["zone"] = labels + 1
    zones = zone_outlines(households, households["zone"].to_numpy(), areas=areas)
    zones["group_label"] = [f"第{z}组" for z in zones["zone"]]
    zones["members"] = ""
    zones["workload_min"] = zones["households"] * 25.0
    split = [a for a, n in households.groupby("area_id")["zone"].nunique().items() if n > 1]
    m = zone_map(zones=zones, households=households, areas=areas, villages=villages, roads=roads,
                 split_area_ids=split)
    path = save_html(m, tmp_path / f"haidian-{k}.html")
    assert path.stat().st_size < 1_500_000
    result = screenshot(path, tmp_path / f"haidian-{k}.png", evaluate=LEGEND_JS)
    assert result.errors == [] and result.external_requests == []
    assert re.search(rf"合计\s*{len(households)}户", result.value), result.value
    fills = zone_fill_pixels(result.png_path, k)
    assert all(n > 2_000 for n in fills), fills


def test_town_map_groups_the_legend_by_village():
    """Two villages in one map: zone labels unique in the town, legend rows under village names."""
    east = small_problem()
    west = small_problem()
    for layer in ("zones", "households", "areas", "villages"):  # 2 km further west
        frame = west[layer]
        west[layer] = frame.set_geometry(frame.geometry.to_crs(UTM).translate(-2_000, 0).to_crs(WGS84))
    west["villages"][["village_id", "name"]] = [["V2", "西河村"]]
    depot = west["villages"].geometry.iloc[0].centroid
    west["villages"][["depot_lon", "depot_lat"]] = [[depot.x, depot.y]]
    west["areas"]["area_id"] = "W" + west["areas"]["area_id"]
    west["households"]["area_id"] = "W" + west["households"]["area_id"]
    for problem, vid in ((east, "V1"), (west, "V2")):
        problem["zones"]["village_id"] = vid
        problem["zones"]["zone"] = [f"{vid}-{z}" for z in problem["zones"]["zone"]]
        problem["households"]["zone"] = [f"{vid}-{z}" for z in problem["households"]["zone"]]
    town = {key: gpd.GeoDataFrame(pd.concat([west[key], east[key]], ignore_index=True), crs=WGS84)
            for key in ("zones", "households", "areas", "villages")}
    html = render_html(zone_map(**town, split_area_ids=["A1", "WA1"]))
    body = plain(script_part(html))
    assert "<title>西河村、东河村 · 分片走访地图</title>" in html
    legend = body[body.index('<div class="zd-head">图例'):]
    assert legend.index(">东河村<") < legend.index(">西河村<")  # V1 first
    assert legend.count("第1组") == 2 and "合计</td><td></td><td class=\"zd-n\">120户" in legend
    assert '被拆分的片区</td><td class="zd-n">2</td>' in legend
    assert len({zone_colour(i) for i in range(6)}) == 6 and zone_colour(5) in body
    assert body.count('"h": "H0') == 120
