"""The route map (maps/routes.py), base maps and the GCJ-02 shift (maps/offline.py).

One village near Beijing (so the GCJ-02 shift applies), two sessions of one group along the roads
of ``test_zones.small_problem``.  The HTML tests check the stop order, tooltips and legend; the
``browser`` test opens the map offline in headless Chromium and counts the pixels of the session
colours.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

from browser import require_cjk_font, screenshot
from geo.crs import wgs84_to_gcj02
from geo.routes import RouteSpec, RouteStop, route_lines
from maps.offline import (
    TILE_PROVIDERS,
    external_refs,
    lonlat_to_tile_datum,
    offline_map,
    render_html,
    resolve_tiles,
    save_html,
    to_tile_datum,
)
from maps.routes import PATH_OPACITY, SessionRoute, close_stops, number_ranges, route_map, session_colour
from test_overview import script_part
from test_zones import colour_pixels, hex_rgb, plain, small_problem

LEGEND_JS = "document.querySelector('.zd-legend').innerText + '\\n' + document.querySelector('.zd-title').innerText"


def _metres(a: tuple[float, float], b: tuple[float, float]) -> float:
    dx = (b[0] - a[0]) * 111_320 * math.cos(math.radians(a[1]))
    dy = (b[1] - a[1]) * 110_540
    return math.hypot(dx, dy)


@pytest.fixture(scope="module")
def problem() -> dict:
    return small_problem()


@pytest.fixture(scope="module")
def sessions(problem) -> list[SessionRoute]:
    """Zone 1's households in two sessions: 6 stops by day (two sharing a spot), 4 in the evening."""
    hh = problem["households"]
    village = problem["villages"].iloc[0]
    zone1 = hh[hh["zone"] == 1].reset_index(drop=True)
    day_idx = [3, 0, 5, 1, 2, 4]
    evening_idx = [6, 8, 7, 9]
    heads = {h: f"户主{h[-2:]}" for h in hh["household_id"]}

    def spec(idx, date, start, end, route_id, same_spot=False):
        stops = []
        for k, i in enumerate(idx):
            p = zone1.geometry.iloc[i]
            if same_spot and k == 2:  # the third stop in the same building as the second
                p = zone1.geometry.iloc[idx[1]]
            stops.append(RouteStop(household_id=zone1["household_id"].iloc[i], lon=p.x, lat=p.y,
                                   arrive=f"{9 + k // 3:02d}:{(k % 3) * 20:02d}", depart="12:00", seq=k + 1,
                                   label=f"李家庄{i + 1}号"))
        return RouteSpec(route_id=route_id, name=route_id, date=date, depot_lon=float(village["depot_lon"]),
                         depot_lat=float(village["depot_lat"]), stops=stops, start=start, end=end)

    specs = [spec(day_idx, "2026-12-01", "09:00", "12:00", "day", same_spot=True),
             spec(evening_idx, "2026-12-02", "19:00", "21:30", "evening")]
    lines = route_lines(specs, problem["roads"])
    return [SessionRoute(route=s, kind=k, path=g, walk_m=float(w), heads=heads)
            for s, k, g, w in zip(specs, ("stationing", "evening"), lines.geometry, lines["walk_m"])]


def _map(problem, sessions, **kwargs):
    zone = problem["zones"][problem["zones"]["zone"] == 1]
    return route_map(sessions, zone=zone, areas=problem["areas"], roads=problem["roads"],
                     households=problem["households"][problem["households"]["zone"] == 1], group_label="第1组",
                     members="张伟、王芳、李娜", village_name="东河村", **kwargs)


# ------------------------------------------------------------------------------------------------
# Helpers


def test_number_ranges_and_close_stops():
    assert number_ranges([4, 5, 6, 9]) == "4–6,9" and number_ranges([2, 3]) == "2,3" and number_ranges([7]) == "7"
    lon = np.array([116.3, 116.3, 116.30005, 116.31])  # 0 m, ~4 m, ~850 m
    lat = np.array([40.0, 40.0, 40.0, 40.0])
    assert close_stops(lon, lat) == [[0, 1, 2], [3]]


# ------------------------------------------------------------------------------------------------
# The HTML


def test_route_map_stops_in_visit_order(problem, sessions):
    html = render_html(_map(problem, sessions))
    assert external_refs(html) == []
    assert re.search(r"<script[^>]+src=[\"']?https?:", html) is None
    assert re.search(r"<link[^>]+href=[\"']?https?:", html) is None
    assert "<title>东河村 · 第1组 · 走访路线图</title>" in html
    body = plain(script_part(html))
    day = sessions[0].route.stops
    # Tooltips in visit order, with number, id, address, head and planned arrival.
    tips = re.findall(r"<b>(\d+)\.</b> (H\d{3}) · (李家庄\d+号) · 户主 户主\d\d · 计划到达 (\d\d:\d\d)", body)
    first = [t for t in tips if t[1] in {s.household_id for s in day}][:len(day)]
    assert [(int(n), h) for n, h, _, _ in first] == [(k + 1, s.household_id) for k, s in enumerate(day)]
    assert [a for *_, a in first] == [s.arrive for s in day]
    # Numbered labels: stops 2 and 3 share a spot, so one label "2,3".
    labels = re.findall(r'<div class="zd-stop" style="background:([^"]+)">([^<]+)</div>', body)
    assert [t for c, t in labels if c == session_colour(0)] == ["1", "2,3", "4", "5", "6"]
    assert [t for c, t in labels if c == session_colour(1)] == ["1", "2", "3", "4"]
    # Layer control: one radio per session plus "all sessions"; legend with date, kind, window, stops, km.
    assert "全月 2 个时段" in body and "12-01 周二 驻点日 09:00" in body and "12-02 周三 夜访 19:00" in body
    legend = body[body.index('<div class="zd-head">图例'):]
    for text in ("日期", "时段", "时间", "户数", "公里", "09:00–12:00", "19:00–21:30", "合计", "村委会 · 起终点"):
        assert text in legend, text
    km = sessions[0].walk_m / 1000
    assert f'<td class="zd-n">6</td><td class="zd-n">{km:.1f}</td>' in legend
    assert "L.control.layers" in body and '"collapsed": false' in body
    assert "baselayerchange" in body


def test_a_session_from_an_outpost_has_its_own_start_marker_and_legend_row(problem, sessions):
    """The evening session starts at an outpost (its first stop's place): the map marks both
    starts, the office and the outpost, and the legend names the outpost."""
    from dataclasses import replace

    first = sessions[1].route.stops[0]
    moved = replace(sessions[1], route=replace(sessions[1].route, depot_lon=first.lon, depot_lat=first.lat),
                    start_text="外点 李家庄（乘车前往）")
    body = plain(script_part(render_html(_map(problem, [sessions[0], moved]))))
    markers = re.findall(r'<div class="zd-depot">([^<]+)</div>', body)
    assert "村委 · 起终点" in markers and "外点 李家庄（乘车前往） · 起终点" in markers
    legend = body[body.index('<div class="zd-head">图例'):]
    assert "村委会 · 起终点" in legend and "外点 李家庄（乘车前往） · 起终点" in legend
    plain_body = plain(script_part(render_html(_map(problem, sessions))))
    assert "外点" not in plain_body and re.findall(r'<div class="zd-depot">([^<]+)</div>', plain_body).count(
        "村委 · 起终点") == 1


def test_route_map_english_and_errors(problem, sessions):
    html = render_html(_map(problem, sessions, lang="en"))
    body = plain(script_part(html))
    assert '<html lang="en">' in html and "Visit routes" in html
    assert "12-01 Tue Stationing day 09:00" in body and "Planned arrival 09:00" in body
    assert "驻点日" not in body and "走访路线图" not in html
    with pytest.raises(ValueError, match="at least one session"):
        route_map([])
    with pytest.raises(ValueError, match="kind must be one of"):
        SessionRoute(route=sessions[0].route, kind="night")
    with pytest.raises(ValueError, match="same date, kind and start"):
        route_map([sessions[0], sessions[0]])


# ------------------------------------------------------------------------------------------------
# Base maps and the GCJ-02 shift


def test_tile_providers_and_keys():
    assert set(TILE_PROVIDERS) == {"osm", "tianditu", "gaode"}
    with pytest.raises(ValueError, match="天地图底图需要密钥"):
        resolve_tiles("tianditu")
    with pytest.raises(ValueError, match="只含字母和数字"):
        resolve_tiles("tianditu", key="abc'def0123456789")
    tianditu = resolve_tiles("tianditu", key="0123456789abcdef0123456789abcdef")
    html = render_html(offline_map(tiles=tianditu))
    assert "tk=0123456789abcdef0123456789abcdef" in html and "{tk}" not in html
    assert "vec_w" in html and "cva_w" in html and "天地图" in plain(html)  # base, labels, attribution
    gaode = render_html(offline_map(tiles="gaode"))
    assert "autonavi.com" in gaode and "高德地图" in plain(gaode) and "OpenStreetMap contributors (ODbL)" in gaode
    for page in (html, gaode):
        assert external_refs(page) == []


def test_gaode_shifts_every_layer_by_the_gcj02_offset(problem, sessions):
    # A known point: Tiananmen, WGS 84 (116.391275, 39.907325) is about (116.397510, 39.908722) in GCJ-02.
    lon, lat = lonlat_to_tile_datum([116.391275], [39.907325], "gaode")
    assert abs(lon[0] - 116.39751) < 2e-5 and abs(lat[0] - 39.908722) < 2e-5
    assert 300 < _metres((116.391275, 39.907325), (lon[0], lat[0])) < 800
    # Outside China (the demo town in Liechtenstein): no shift; other tiles: no shift.
    assert lonlat_to_tile_datum([9.52], [47.14], "gaode")[0][0] == 9.52
    assert lonlat_to_tile_datum([116.391275], [39.907325], "osm")[0][0] == 116.391275
    shifted = to_tile_datum(problem["households"], "gaode")
    moved = [_metres((a.x, a.y), (b.x, b.y)) for a, b in zip(problem["households"].geometry, shifted.geometry)]
    assert min(moved) > 300 and max(moved) < 800
    # In the route map: the depot and every stop are drawn at their GCJ-02 positions.
    body = script_part(render_html(_map(problem, sessions, tiles="gaode")))
    village = problem["villages"].iloc[0]
    g_lon, g_lat = wgs84_to_gcj02(np.array([village["depot_lon"]]), np.array([village["depot_lat"]]))
    assert f"[{round(float(g_lat[0]), 6)}, {round(float(g_lon[0]), 6)}]" in body
    assert f"[{round(float(village['depot_lat']), 6)}, {round(float(village['depot_lon']), 6)}]" not in body
    stop = sessions[0].route.stops[0]
    s_lon, s_lat = wgs84_to_gcj02(np.array([stop.lon]), np.array([stop.lat]))
    assert f"[{round(float(s_lat[0]), 6)}, {round(float(s_lon[0]), 6)}]" in body


# ------------------------------------------------------------------------------------------------
# In a real browser, offline


@pytest.mark.browser
def test_route_map_in_browser(tmp_path, problem, sessions):
    require_cjk_font()
    path = save_html(_map(problem, sessions), tmp_path / "route.html")
    result = screenshot(path, tmp_path / "route.png", evaluate=LEGEND_JS)
    assert result.errors == [], result.errors
    assert result.external_requests == []
    assert "东河村 · 第1组 · 走访路线图" in result.value and "张伟、王芳、李娜" in result.value
    assert re.search(r"12-01 周二\s+驻点日\s+09:00–12:00\s+6\s+\d+\.\d", result.value), result.value
    png = result.png_path

    def drawn(colour: str) -> tuple[int, int]:
        """(path pixels: the colour over the white casing, label pixels: the colour itself)."""
        on_white = hex_rgb(colour) * PATH_OPACITY + 255 * (1 - PATH_OPACITY)
        return colour_pixels(png, on_white, tol=8), colour_pixels(png, hex_rgb(colour), tol=8)

    path, labels = drawn(session_colour(0))
    assert path > 1800, path  # the walking path of the first session (~2,600 px here)
    assert labels > 5 * 150, labels  # its five number labels (and a legend swatch)
    hidden_path, hidden_labels = drawn(session_colour(1))
    assert hidden_path < 100 and hidden_labels < 200, (hidden_path, hidden_labels)  # swatches only
    depot = colour_pixels(png, hex_rgb("#d7191c"), tol=8)
    assert depot > 150, depot
