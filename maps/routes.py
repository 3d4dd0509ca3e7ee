"""The route map (走访路线图): where a "2+1" group walks in each session of its month.

A pure renderer: sessions (:class:`SessionRoute`: the stops of a :class:`geo.routes.RouteSpec`,
the walking path drawn along the network by :func:`geo.routes.route_lines`) and context layers in,
a ``folium.Map`` out (built on :func:`maps.offline.offline_map`, so it opens offline).

One map per group and month (every session) or per session (a one-item list).  Each session is
a layer of its own: its walking path in the session's colour over a white casing, and its stops
as numbered labels (DivIcons) in visit order; stops at the same spot (households of one
building) share one label, e.g. ``4–6``.  With several sessions the layer list (top left) is a
set of radio buttons, one per session, plus "all sessions" (every path, thin, stops as dots);
the first session with stops is shown on opening.  The depot (village committee: start and end of
every route) is always drawn.  Tooltips on the stops give the number, household id, address,
head of household and planned arrival.  The legend (right) has one row per session: colour,
date and weekday, kind (stationing day / evening), time window, stops and walking km, and the
month's totals.  Below the paths: the group's zone, area outlines, roads and the zone's other
households (grey), all optional.

Stop numbers are the position in the route (1 = first visit), whatever ``RouteStop.seq`` holds.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import folium
import geopandas as gpd
import numpy as np
import shapely

from geo.routes import RouteSpec
from maps.i18n import check_lang, label
from maps.offline import (
    FitBesideControls,
    HtmlControl,
    PointsLayer,
    TileProvider,
    html_text,
    lonlat_to_tile_datum,
    offline_map,
    resolve_tiles,
    to_tile_datum,
)
from maps.overview import _drawable, _features, _wgs84, add_roads

logger = logging.getLogger(__name__)

SESSION_PALETTE = (
    "#1f77b4", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2",
    "#17becf", "#7f7f00", "#393b79", "#006d2c", "#6b6ecf", "#843c39",
)
"""Session colours in session order (dark enough for white numbers, no pure red: that is the
depot's; cycle after 12)."""
PATH_OPACITY = 0.9
ZONE_COLOUR = "#4e79a7"
AREA_OUTLINE = "#555555"
CONTEXT_COLOUR = "#9e9e9e"
KINDS = ("stationing", "evening")
SAME_PLACE_M = 15.0
"""Stops closer than this (metres) share one number label (``4–6``), so labels do not overlap."""

_CSS = """
<style>
.zd-stop { display: inline-block; transform: translate(-50%, -50%); white-space: nowrap; min-width: 18px;
    height: 18px; box-sizing: border-box; padding: 0 4px; border-radius: 9px; border: 1.5px solid #fff;
    color: #fff; font-size: 11px; font-weight: 700; line-height: 15px; text-align: center;
    box-shadow: 0 1px 3px rgba(0, 0, 0, 0.55); }
.zd-legend td.zd-c { text-align: center; }
.zd-legend tr.zd-sum td { border-top: 1px solid #999; font-weight: 600; }
.zd-legend .zd-note { color: #555; font-size: 12px; padding-top: 3px; }
.zd-sub { color: #444; font-size: 12px; }
.leaflet-control-layers-base label { white-space: nowrap; }
.leaflet-control-layers { font-size: 12px; max-height: calc(100vh - 110px); overflow-y: auto; }
</style>
"""


@dataclass(frozen=True)
class SessionRoute:
    """One session of a group, as drawn.

    Attributes
    ----------
    route : RouteSpec
        Depot, stops in visit order (``label`` = address), ``date`` ``"YYYY-MM-DD"``,
        ``start``/``end`` ``"HH:MM"``; WGS 84 degrees.
    kind : {"stationing", "evening"}
    path : shapely LineString or MultiLineString, optional
        The walking line, WGS 84 (e.g. a row of :func:`geo.routes.route_lines`); None: straight
        segments between the stops are drawn.
    walk_m : float, optional
        Walking distance in metres (default: ``path``'s length is not measured; the legend shows —).
    heads : mapping of str to str
        Household id -> head of household, for the tooltips.
    start_text : str, optional
        What the route's depot is when it is not the village committee (e.g. ``外点 Malbun``);
        None: the village committee.
    """

    route: RouteSpec
    kind: str
    path: shapely.Geometry | None = None
    walk_m: float | None = None
    heads: Mapping[str, str] = field(default_factory=dict)
    start_text: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"session {self.route.route_id!r}: kind must be one of {', '.join(KINDS)}, "
                             f"got {self.kind!r}.")


def session_colour(position: int) -> str:
    """The colour of the session at ``position`` in the map's session order."""
    return SESSION_PALETTE[position % len(SESSION_PALETTE)]


def number_ranges(numbers: Sequence[int]) -> str:
    """``[4, 5, 6, 9]`` -> ``"4–6,9"`` (runs of consecutive numbers joined by an en dash)."""
    out: list[str] = []
    nums = sorted(numbers)
    i = 0
    while i < len(nums):
        j = i
        while j + 1 < len(nums) and nums[j + 1] == nums[j] + 1:
            j += 1
        out.append(str(nums[i]) if j == i else f"{nums[i]}–{nums[j]}" if j > i + 1 else f"{nums[i]},{nums[j]}")
        i = j + 1
    return ",".join(out)


def close_stops(lon: np.ndarray, lat: np.ndarray, within_m: float = SAME_PLACE_M) -> list[list[int]]:
    """Stops (positions) grouped by place: each stop joins the first group whose first stop is within
    ``within_m`` metres, else starts a group.  Groups in order of their first stop."""
    groups: list[list[int]] = []
    if not len(lon):
        return groups
    scale = math.cos(math.radians(float(np.mean(lat))))
    for k in range(len(lon)):
        for g in groups:
            dx = (lon[k] - lon[g[0]]) * 111_320.0 * scale
            dy = (lat[k] - lat[g[0]]) * 110_540.0
            if dx * dx + dy * dy <= within_m * within_m:
                g.append(k)
                break
        else:
            groups.append([k])
    return groups


def _weekday(day: dt.date, lang: str) -> str:
    names = label("weekday_short", lang)
    return f"周{names[day.weekday()]}" if lang == "zh" else names.split(",")[day.weekday()]


def session_name(s: SessionRoute, lang: str) -> str:
    """Short name of a session, e.g. ``12-01 周二 驻点日`` (unique per date, kind and start)."""
    day = dt.date.fromisoformat(s.route.date)
    return f"{day:%m-%d} {_weekday(day, lang)} {label(s.kind, lang)}"


def _km(s: SessionRoute) -> float:
    return math.nan if s.walk_m is None else float(s.walk_m) / 1000.0


def route_map(
    sessions: Sequence[SessionRoute],
    *,
    zone: gpd.GeoDataFrame | None = None,
    areas: gpd.GeoDataFrame | None = None,
    roads: gpd.GeoDataFrame | None = None,
    households: gpd.GeoDataFrame | None = None,
    group_label: str | None = None,
    members: str | None = None,
    village_name: str | None = None,
    lang: str = "zh",
    tiles: str | TileProvider | None = "none",
    title: str | None = None,
) -> folium.Map:
    """Return the route map of ``sessions`` (see the module docstring), fitted to the routes.

    Parameters
    ----------
    sessions : sequence of SessionRoute
        In the order they are listed (normally by date and start time).  Sessions without stops
        are listed in the legend but get no layer.
    zone : GeoDataFrame, optional
        The group's zone outline(s), drawn lightly filled.
    areas : GeoDataFrame, optional
        Natural villages / compounds (``name``), drawn as thin outlines.
    roads : GeoDataFrame, optional
        Drawn as thin grey lines.
    households : GeoDataFrame, optional
        The zone's households (points): the ones not visited in these sessions are drawn as small
        grey dots for context (``household_id`` column).
    group_label, members, village_name : str, optional
        For the title box (e.g. "第1组", "张伟、王芳、李娜", "东河村").
    lang : {"zh", "en"}
    tiles : str or TileProvider
        As in :func:`maps.offline.offline_map`; with Gaode every layer is shifted to GCJ-02.
    title : str, optional
        Default: village, group and "走访路线图" / "Visit routes".

    Raises
    ------
    ValueError
        For no sessions, an unknown ``kind``, session names that repeat (same date, kind and
        start), unknown tiles or ``lang``.
    """
    check_lang(lang)
    sessions = list(sessions)
    if not sessions:
        raise ValueError("route_map needs at least one session.")
    names = [f"{session_name(s, lang)} {s.route.start}" for s in sessions]
    if len(set(names)) != len(names):
        raise ValueError("route_map: two sessions have the same date, kind and start time.")
    provider = resolve_tiles(tiles)

    zone = _layer(zone, "zone", provider)
    areas = _layer(areas, "areas", provider)
    roads = _layer(roads, "roads", provider)
    households = _layer(households, "households", provider)

    drawn = [(i, s) for i, s in enumerate(sessions) if s.route.stops]
    shown = drawn[0][1] if drawn else sessions[0]
    depot = lonlat_to_tile_datum([shown.route.depot_lon], [shown.route.depot_lat], provider)

    # Fit to the session shown first (its stops, path and the depot); each session chosen later
    # is fitted in turn (FitBesideControls follows the base layers).
    xs = [depot[0][0]]
    ys = [depot[1][0]]
    if drawn:
        first = drawn[0][1]
        lon, lat = _stop_lonlat(first, provider)
        xs.extend(lon)
        ys.extend(lat)
        for part in _path_latlons(first, provider):
            ys.extend(p[0] for p in part)
            xs.extend(p[1] for p in part)
    bounds = (float(min(xs)), float(min(ys)), float(max(xs)), float(max(ys)))

    if title is None:
        where = " · ".join(t for t in (village_name, group_label) if t)
        title = f"{where} · {label('route_map_title', lang)}" if where else label("route_map_title", lang)
    m = offline_map(bounds=bounds, tiles=provider, lang=lang, title=title)
    m.options["zoom_snap"] = 0.25
    m.get_root().header.add_child(folium.Element(_CSS), name="zhudian_route_css")

    if zone is not None and len(_drawable(zone)):
        folium.GeoJson(
            _features(_drawable(zone), lambda row: {}), name=label("zone_outline", lang), interactive=False,
            style_function=lambda f: {"color": ZONE_COLOUR, "weight": 2, "opacity": 0.8, "dashArray": "6 4",
                                      "fillColor": ZONE_COLOUR, "fillOpacity": 0.07},
        ).add_to(m)
    if roads is not None and len(_drawable(roads)):
        add_roads(m, _drawable(roads), lang=lang)
    if areas is not None and len(_drawable(areas)):
        folium.GeoJson(
            _features(_drawable(areas), lambda row: {}), name=label("area_outline", lang), interactive=False,
            style_function=lambda f: {"color": AREA_OUTLINE, "weight": 1, "opacity": 0.6, "fill": False},
        ).add_to(m)
    if households is not None and len(households):
        visited = {st.household_id for _, s in drawn for st in s.route.stops}
        other = _drawable(households)
        other = other[(other.geometry.geom_type == "Point") & ~other["household_id"].astype(str).isin(visited)]
        if len(other):
            PointsLayer(other.geometry.x.to_numpy(), other.geometry.y.to_numpy(), np.zeros(len(other), dtype=int),
                        [{"radius": 2.5, "weight": 0, "fillColor": CONTEXT_COLOUR, "fillOpacity": 0.8}],
                        name=label("other_households", lang)).add_to(m)

    several = len(drawn) > 1
    if several:
        _all_sessions_layer(drawn, provider, lang).add_to(m)
    for k, (i, s) in enumerate(drawn):
        group = folium.FeatureGroup(
            name=f'<span class="zd-line" style="border-top:4px solid {session_colour(i)}"></span> '
                 f"{html_text(session_name(s, lang))} {html_text(s.route.start)}",
            overlay=not several, control=several, show=k == 0)
        _draw_session(group, s, session_colour(i), provider, lang)
        group.add_to(m)

    depot_group = folium.FeatureGroup(name=label("start_end", lang), control=False)
    starts: dict[tuple[float, float], str | None] = {}
    for s in sessions:  # every place a session starts from: the office, outposts
        starts.setdefault((s.route.depot_lon, s.route.depot_lat), s.start_text)
    for (lon, lat), text in starts.items():
        x, y = lonlat_to_tile_datum([lon], [lat], provider)
        short, full = ((label("depot_short", lang), label("depot", lang)) if text is None else (text, text))
        folium.Marker(
            location=(round(float(y[0]), 6), round(float(x[0]), 6)),
            icon=folium.DivIcon(html=f'<div class="zd-depot">{html_text(short)} · '
                                     f'{html_text(label("start_end", lang))}</div>',
                                icon_size=(0, 0), class_name="zd-depot-icon"),
            tooltip=folium.Tooltip(html_text(f"{full} · {label('start_end', lang)}")),
        ).add_to(depot_group)
    depot_group.add_to(m)

    box = f"{html_text(title)}"
    if members:
        box += f'<div class="zd-sub">{html_text(members)}</div>'
    HtmlControl(box, position="topright", class_name="zd-box zd-title").add_to(m)
    HtmlControl(_legend(sessions, several, lang), position="topright", class_name="zd-box zd-legend").add_to(m)
    if several:
        folium.LayerControl(collapsed=False, position="topleft").add_to(m)
    FitBesideControls(bounds, follow_base_layers=several).add_to(m)
    return m


def _layer(gdf: gpd.GeoDataFrame | None, name: str, provider: TileProvider | None) -> gpd.GeoDataFrame | None:
    if gdf is None:
        return None
    return to_tile_datum(_wgs84(gdf, name), provider)


def _stop_lonlat(s: SessionRoute, provider: TileProvider | None) -> tuple[np.ndarray, np.ndarray]:
    lon = np.array([st.lon for st in s.route.stops], dtype=np.float64)
    lat = np.array([st.lat for st in s.route.stops], dtype=np.float64)
    return lonlat_to_tile_datum(lon, lat, provider)


def _path_latlons(s: SessionRoute, provider: TileProvider | None) -> list[list[tuple[float, float]]]:
    """The walking path as Leaflet ``[[lat, lon], ...]`` parts (straight lines without a path)."""
    if s.path is not None and not s.path.is_empty:
        parts = [g for g in shapely.get_parts(s.path) if g.geom_type == "LineString"]
        coords = [shapely.get_coordinates(g) for g in parts]
    else:
        pts = s.route.points()
        coords = [pts]
    out = []
    for c in coords:
        lon, lat = lonlat_to_tile_datum(c[:, 0], c[:, 1], provider)
        out.append(list(zip(np.round(lat, 6).tolist(), np.round(lon, 6).tolist(), strict=True)))
    return out


def _stop_tip(n: int, stop, heads: Mapping[str, str], lang: str) -> str:
    parts = [f"<b>{n}.</b> {html_text(stop.household_id)}"]
    if stop.label:
        parts.append(html_text(stop.label))
    head = heads.get(stop.household_id)
    if head:
        parts.append(f"{html_text(label('head_of_household', lang))} {html_text(head)}")
    parts.append(html_text(label("planned_arrival", lang, t=stop.arrive)))
    return " · ".join(parts)


def _draw_session(group: folium.FeatureGroup, s: SessionRoute, colour: str, provider: TileProvider | None,
                  lang: str) -> None:
    """The path (white casing, then the colour) and the numbered stops of one session."""
    for part in _path_latlons(s, provider):
        folium.PolyLine(part, color="#ffffff", weight=7, opacity=0.85, interactive=False).add_to(group)
        folium.PolyLine(part, color=colour, weight=4, opacity=PATH_OPACITY, interactive=False).add_to(group)
    lon, lat = _stop_lonlat(s, provider)
    for ks in close_stops(lon, lat):
        numbers = [k + 1 for k in ks]
        tip = "<br>".join(_stop_tip(k + 1, s.route.stops[k], s.heads, lang) for k in ks)
        folium.Marker(
            location=(round(float(lat[ks[0]]), 6), round(float(lon[ks[0]]), 6)),
            icon=folium.DivIcon(html=f'<div class="zd-stop" style="background:{colour}">{number_ranges(numbers)}</div>',
                                icon_size=(0, 0), class_name="zd-stop-icon"),
            tooltip=folium.Tooltip(tip),
        ).add_to(group)


def _all_sessions_layer(drawn: list[tuple[int, SessionRoute]], provider: TileProvider | None,
                        lang: str) -> folium.FeatureGroup:
    """Every path, thin, and every stop as a dot in its session's colour (the month at a glance)."""
    group = folium.FeatureGroup(name=html_text(label("all_sessions", lang, n=len(drawn))), overlay=False,
                                control=True, show=False)
    lons, lats, classes, tips = [], [], [], []
    styles = []
    for c, (i, s) in enumerate(drawn):
        colour = session_colour(i)
        for part in _path_latlons(s, provider):
            folium.PolyLine(part, color=colour, weight=2.5, opacity=0.8, interactive=False).add_to(group)
        lon, lat = _stop_lonlat(s, provider)
        lons.extend(lon)
        lats.extend(lat)
        classes.extend([c] * len(lon))
        name = html_text(session_name(s, lang))
        tips.extend(f"{name}<br>{_stop_tip(k + 1, st, s.heads, lang)}" for k, st in enumerate(s.route.stops))
        styles.append({"radius": 4, "weight": 1, "color": "#ffffff", "fillColor": colour, "fillOpacity": 1.0})
    PointsLayer(lons, lats, classes, styles, tips, name="stops", control=False).add_to(group)
    return group


def _legend(sessions: list[SessionRoute], several: bool, lang: str) -> str:
    def cell(text: str, cls: str = "") -> str:
        return f'<td{f" class={chr(34)}{cls}{chr(34)}" if cls else ""}>{html_text(text)}</td>'

    head = ("<tr><td></td>" + cell(label("date", lang)) + cell(label("session", lang))
            + cell(label("time_window", lang)) + cell(label("n_stops_head", lang), "zd-n")
            + cell(label("km_head", lang), "zd-n") + "</tr>")
    rows = [head]
    for i, s in enumerate(sessions):
        day = dt.date.fromisoformat(s.route.date)
        swatch = (f'<span class="zd-line" style="border-top:4px solid {session_colour(i)}"></span>'
                  if s.route.stops else "")
        km = _km(s)
        rows.append(f"<tr><td>{swatch}</td>{cell(f'{day:%m-%d} {_weekday(day, lang)}')}{cell(label(s.kind, lang))}"
                    f"{cell(f'{s.route.start}–{s.route.end}')}{cell(str(len(s.route.stops)), 'zd-n')}"
                    f"{cell('—' if math.isnan(km) else f'{km:.1f}', 'zd-n')}</tr>")
    if len(sessions) > 1:
        total_km = sum(0.0 if math.isnan(_km(s)) else _km(s) for s in sessions)
        rows.append(f'<tr class="zd-sum"><td></td>{cell(label("total", lang))}<td></td><td></td>'
                    f"{cell(str(sum(len(s.route.stops) for s in sessions)), 'zd-n')}{cell(f'{total_km:.1f}', 'zd-n')}</tr>")
    others = (f'<tr><td><span class="zd-stop" style="background:{session_colour(0)};transform:none">1</span></td>'
              f'<td colspan="5">{html_text(label("stop_numbers", lang))} · {html_text(label("walking_path", lang))}</td></tr>'
              f'<tr><td><span class="zd-depot">{html_text(label("depot_short", lang))}</span></td>'
              f'<td colspan="5">{html_text(label("depot", lang))} · {html_text(label("start_end", lang))}</td></tr>')
    for text in dict.fromkeys(s.start_text for s in sessions if s.start_text):  # outposts, auxiliary's home
        others += (f'<tr><td><span class="zd-depot">{html_text(label("start_short", lang))}</span></td>'
                   f'<td colspan="5">{html_text(text)} · {html_text(label("start_end", lang))}</td></tr>')
    note = f'<div class="zd-note">{html_text(label("pick_session", lang))}</div>' if several else ""
    return (f'<div class="zd-head">{html_text(label("legend", lang))}</div>'
            f'<table>{"".join(rows)}{others}</table>{note}')
