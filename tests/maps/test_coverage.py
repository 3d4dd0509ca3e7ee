"""The coverage-gap map (maps/coverage.py): statuses, rates, legend, and a whole town in a browser.

The village of ``test_zones.small_problem`` with made-up statuses: zone 1 fully visited, zone 2
half, zone 3 not at all (with priority households overdue and a not-home).  The ``browser`` tests
open the maps offline in headless Chromium and count the pixels of the status and rate colours;
one draws a synthetic town as large as the demo (8,375 households) and checks size and time.
"""

from __future__ import annotations

import datetime as dt
import re

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import box

from browser import require_cjk_font, screenshot
from geo.layers import WGS84
from maps.coverage import (
    RATE_COLOURS,
    RATE_FILL_OPACITY,
    STATUS_COLOUR,
    coverage_map,
    household_status,
    rate_colour,
)
from maps.offline import external_refs, render_html, save_html
from planner.month import HouseholdState
from test_overview import script_part
from test_zones import blended, colour_pixels, hex_rgb, plain, small_problem

LEGEND_JS = "document.querySelector('.zd-legend').innerText + '\\n' + document.querySelector('.zd-title').innerText"


def test_household_status_follows_the_month_rules():
    d = dt.date
    states = [
        HouseholdState(),                                                        # never visited
        HouseholdState(visits_this_year=1, last_visit=d(2026, 3, 1), last_outcome="met"),
        HouseholdState(visits_this_year=2, last_visit=d(2026, 11, 3), last_outcome="met",
                       tags=("elderly_alone",)),                                 # monthly: due in December
        HouseholdState(visits_this_year=2, last_visit=d(2026, 12, 1), last_outcome="met",
                       tags=("elderly_alone",)),                                 # seen this month
        HouseholdState(last_visit=d(2026, 5, 2), last_outcome="not_home"),
        HouseholdState(visits_this_year=1, last_visit=d(2026, 2, 1), last_outcome="moved"),
        HouseholdState(visits_this_year=1, last_visit=d(2026, 10, 9), last_outcome="met",
                       tags=("low_income",)),                                    # quarterly: not yet
        HouseholdState(tags=("low_income",)),                                    # never: overdue
    ]
    assert household_status(states, year=2026, month=12) == [
        "never_visited", "visited", "priority_overdue", "visited", "not_home", "moved", "visited",
        "priority_overdue"]
    assert household_status(states, year=2026, month=11)[2] == "visited"  # same month as the visit


def test_rate_colours():
    assert rate_colour(0.0) == RATE_COLOURS[0] and rate_colour(0.5) == RATE_COLOURS[2]
    assert rate_colour(1.0) == RATE_COLOURS[4] and rate_colour(float("nan")) not in RATE_COLOURS


def village_problem() -> dict:
    """Keyword arguments of coverage_map: 60 households in 3 zones with known statuses."""
    p = small_problem()
    hh = p["households"].copy()
    status = []
    seen = {1: 0, 2: 0, 3: 0}
    for z in hh["zone"]:
        k = seen[z]
        seen[z] += 1
        if z == 1:
            status.append("visited")
        elif z == 2:
            status.append("visited" if k % 2 == 0 else "never_visited")
        else:
            status.append("priority_overdue" if k < 5 else "not_home" if k < 8 else "never_visited")
    hh["status"] = status
    hh["unit"] = hh["zone"].astype(str)
    hh["address"] = [f"东河村{i + 1}号" for i in range(len(hh))]
    hh["last_visit"] = ["2026-05-06" if s == "visited" else None for s in status]
    units = p["zones"][["zone", "group_label", "geometry"]].rename(columns={"zone": "unit", "group_label": "name"})
    units["unit"] = units["unit"].astype(str)
    return {"households": hh, "units": units, "villages": p["villages"], "as_of": "2026-12"}


def test_coverage_map_html():
    problem = village_problem()
    html = render_html(coverage_map(**problem))
    assert external_refs(html) == []
    assert re.search(r"<(script|link)[^>]+(src|href)=[\"']?https?:", html) is None
    assert "<title>东河村 · 走访覆盖图</title>" in html
    body = plain(script_part(html))
    counts = problem["households"]["status"].value_counts()
    legend = body[body.index('<div class="zd-head">图例'):]
    for status, text in (("visited", "今年已走访"), ("never_visited", "今年未走访"),
                         ("priority_overdue", "重点户逾期"), ("not_home", "上次未遇")):
        assert f'{text}</td><td class="zd-n">{counts[status]}</td>' in legend, text
    assert "已搬离" not in legend  # no movers: no row
    visited = int(counts["visited"])
    assert f"截至 2026-12 · 走访率 {visited / 60:.0%} ({visited}/60 户)" in body
    # zone 1 100%, zone 2 ~50%, zone 3 0%: one unit in each of three classes
    assert '80%–100%</td><td class="zd-n">1</td>' in legend and '0%–20%</td><td class="zd-n">1</td>' in legend
    assert "第1组 100%" in body and "第3组 0%" in body
    assert "<b>第1组</b><br>走访率 100%" in body
    # One compact layer for the households: ids, addresses, statuses in the tooltips; no Feature per point.
    assert body.count('"type": "Feature"') == 3 + 1  # 3 zones, 1 village outline
    assert "H000 · 东河村1号<br>" in body and "上次走访 2026-05-06" in body


def test_coverage_map_english_and_problems():
    problem = village_problem()
    body = plain(script_part(render_html(coverage_map(**problem, lang="en"))))
    for text in ("Visited this year", "Not visited this year", "Priority household overdue", "Not home last time",
                 "Zone visit rate", "As of 2026-12"):
        assert text in body, text
    assert "今年已走访" not in body
    bad = problem["households"].copy()
    bad.loc[0, "status"] = "lost"
    with pytest.raises(ValueError) as info:
        coverage_map(bad.drop(columns=["household_id"]), problem["units"].drop(columns=["name"]))
    message = str(info.value)
    assert "households: missing column(s) household_id" in message and "units: missing column(s) name" in message
    assert "unknown status 'lost'" in message


def test_gaode_shifts_the_households():
    problem = village_problem()
    plainbody = script_part(render_html(coverage_map(**problem)))
    gaode = script_part(render_html(coverage_map(**problem, tiles="gaode")))
    x = round(float(problem["households"].geometry.x.iloc[0]), 5)
    assert f"{x}," in plainbody and f"{x}," not in gaode  # GCJ-02 is ~500 m off near Beijing


@pytest.mark.browser
def test_coverage_map_in_browser(tmp_path):
    require_cjk_font()
    problem = village_problem()
    path = save_html(coverage_map(**problem), tmp_path / "coverage.html")
    result = screenshot(path, tmp_path / "coverage.png", evaluate=LEGEND_JS)
    assert result.errors == [], result.errors
    assert result.external_requests == []
    assert re.search(r"今年已走访\s+\d+", result.value) and "东河村 · 走访覆盖图" in result.value
    png = result.png_path
    dots = {s: colour_pixels(png, hex_rgb(STATUS_COLOUR[s]), tol=10) for s in
            ("visited", "never_visited", "priority_overdue", "not_home")}
    assert all(n > 60 for n in dots.values()), dots  # every status is drawn (and in the legend)
    assert dots["visited"] > dots["not_home"]  # 29 visited dots, 3 not-home
    full = colour_pixels(png, blended(RATE_COLOURS[4], RATE_FILL_OPACITY), tol=6)
    empty = colour_pixels(png, blended(RATE_COLOURS[0], RATE_FILL_OPACITY), tol=3)
    assert full > 0.02 * 1200 * 800 and empty > 0.02 * 1200 * 800, (full, empty)


def synthetic_town(n_households: int = 8_375, n_villages: int = 11, seed: int = 3) -> dict:
    """A town as large as the demo: villages in a row, 3 zones each, random statuses."""
    rng = np.random.default_rng(seed)
    lon0, lat0 = 116.0, 40.0
    per = n_households // n_villages + 1
    frames, units, villages = [], [], []
    for v in range(n_villages):
        vid = f"V{v:02d}"
        west = lon0 + v * 0.03
        villages.append({"village_id": vid, "name": f"第{v + 1}村", "geometry": box(west, lat0, west + 0.028, lat0 + 0.03)})
        for z in range(3):
            units.append({"unit": f"{vid}-Z{z + 1}", "name": f"第{v + 1}村 第{z + 1}组", "village_id": vid,
                          "geometry": box(west + z * 0.0093, lat0, west + (z + 1) * 0.0093, lat0 + 0.03)})
        n = min(per, n_households - v * per)
        lon = west + rng.uniform(0, 0.028, n)
        frames.append(pd.DataFrame({
            "household_id": [f"H{v:02d}{i:04d}" for i in range(n)], "village_id": vid,
            "unit": [f"{vid}-Z{min(int((x - west) / 0.0093), 2) + 1}" for x in lon],
            "address": [f"第{v + 1}村{i + 1}号" for i in range(n)],
            "status": rng.choice(["visited", "never_visited", "priority_overdue", "not_home"], n, p=[.5, .3, .1, .1]),
            "last_visit": None, "lon": lon, "lat": lat0 + rng.uniform(0, 0.03, n)}))
    hh = pd.concat(frames, ignore_index=True)
    households = gpd.GeoDataFrame(hh.drop(columns=["lon", "lat"]), geometry=gpd.points_from_xy(hh["lon"], hh["lat"]),
                                  crs=WGS84)
    return {"households": households, "units": gpd.GeoDataFrame(units, crs=WGS84),
            "villages": gpd.GeoDataFrame(villages, crs=WGS84), "as_of": "2026-12"}


@pytest.mark.browser
def test_town_coverage_map_is_small_and_fast(tmp_path):
    town = synthetic_town()
    assert len(town["households"]) == 8_375
    path = save_html(coverage_map(**town, title="示范镇 · 走访覆盖图"), tmp_path / "town.html")
    size = path.stat().st_size
    assert size < 5_000_000, size
    assert size < 120 * 8_375 + 400_000, size  # ~60-100 bytes a household, not a Feature each
    result = screenshot(path, tmp_path / "town.png", settle_s=0.0, evaluate="performance.now()")
    assert result.errors == [] and result.external_requests == []
    assert result.value < 3_000, f"first render after {result.value:.0f} ms"
    # Gaps are drawn over the visited households: red everywhere, some green at the edges.
    assert colour_pixels(result.png_path, hex_rgb(STATUS_COLOUR["never_visited"]), tol=10) > 5_000
    assert colour_pixels(result.png_path, hex_rgb(STATUS_COLOUR["visited"]), tol=10) > 50
