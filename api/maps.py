"""Map job: read the store, build the layers and write the offline HTML maps (zones, routes, coverage).

``zhudian map`` and the demo call :func:`run_map`, :func:`write_route_maps` and
:func:`write_coverage_maps`; the drawing is in :mod:`maps` (pure renderers), this module only
loads from the store and turns the rows into the GeoDataFrames and dataclasses the renderers take.

Settings: the Tianditu key comes from ``--tianditu-key`` or the ``ZHUDIAN_TIANDITU_KEY``
environment variable (:func:`tianditu_key`).
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from api import store
from api.store import plans
from geo.errors import InputError, Problem
from maps.offline import TIANDITU_KEY_ENV, TILES, TileProvider, resolve_tiles
from maps.i18n import start_text

logger = logging.getLogger(__name__)

KINDS = ("zones", "routes", "coverage")
WGS84 = "EPSG:4326"


def tianditu_key(option: str | None = None) -> str | None:
    """The Tianditu key: the ``--tianditu-key`` option, else ``$ZHUDIAN_TIANDITU_KEY``, else None."""
    return option or os.environ.get(TIANDITU_KEY_ENV) or None


@dataclass
class MapRequest:
    """What map to draw.

    Attributes
    ----------
    kind : {"zones", "routes", "coverage"}
    out : path
        The HTML file to write (atomically).
    village : str, optional
        Village id; default: the whole town (zones, coverage) or the group's village (routes).
    group : str, optional
        Group id (routes: required).
    month : str, optional
        ``YYYY-MM``: the plan month (routes: required) or the month the coverage statuses refer
        to (default: this month).
    date : str, optional
        ``YYYY-MM-DD``: only the session(s) of that day (routes).
    tiles : {"none", "osm", "tianditu", "gaode"}
    lang : {"zh", "en"}
    tianditu_key : str, optional
        Default from :func:`tianditu_key`.

    Raises
    ------
    ValueError
        In Chinese, for an unknown kind, tiles or language, a bad month or date, routes without
        ``group`` or ``month``, or Tianditu without a key.
    """

    kind: str
    out: str | Path
    village: str | None = None
    group: str | None = None
    month: str | None = None
    date: str | None = None
    tiles: str = "none"
    lang: str = "zh"
    tianditu_key: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"地图种类应为 {' / '.join(KINDS)} (收到 {self.kind!r})")
        if self.tiles not in TILES:
            raise ValueError(f"--tiles 应为 {' / '.join(TILES)} (收到 {self.tiles!r})")
        if self.lang not in ("zh", "en"):
            raise ValueError(f"--lang 应为 zh 或 en (收到 {self.lang!r})")
        if self.month is not None:
            try:
                dt.datetime.strptime(self.month, "%Y-%m")
            except ValueError:
                raise ValueError(f"--month 应为 YYYY-MM, 如 2026-12 (收到 {self.month!r})") from None
        if self.date is not None:
            try:
                dt.date.fromisoformat(self.date)
            except ValueError:
                raise ValueError(f"--date 应为 YYYY-MM-DD, 如 2026-12-01 (收到 {self.date!r})") from None
        if self.kind == "routes":
            if not self.group:
                raise ValueError("路线图需要 --group 小组编号 (如 990101001001-G1); 小组编号见 zhudian plan 的输出")
            if not self.month:
                raise ValueError("路线图需要 --month YYYY-MM (走访计划的月份)")
        self.provider: TileProvider | None = resolve_tiles(self.tiles, key=tianditu_key(self.tianditu_key))

    @property
    def month_date(self) -> dt.date:
        """The first day of ``month`` (this month when not given)."""
        if self.month is None:
            return dt.date.today().replace(day=1)
        return dt.datetime.strptime(self.month, "%Y-%m").date()


def run_map(db: str | Path, req: MapRequest) -> dict:
    """Draw the requested map from the store and write it.

    Returns
    -------
    dict
        ``{"kind", "out", "bytes", "villages": [ids], ...}`` (routes: ``group``, ``sessions``,
        ``stops``; coverage: ``households`` and ``status`` counts).

    Raises
    ------
    geo.errors.InputError
        For an unknown village or group, or a missing zone plan / month plan (the message says
        which command to run first).
    FileNotFoundError
        When the store does not exist.
    """
    from maps.offline import save_html

    engine = store.open_store(db, create=False)
    try:
        villages = _villages(engine, req.village)
        if req.kind == "zones":
            m, report = _zones(engine, villages, req)
        elif req.kind == "routes":
            m, report = _routes(engine, villages, req)
        else:
            m, report = _coverage(engine, villages, req)
    finally:
        engine.dispose()
    path = save_html(m, req.out)
    return {"kind": req.kind, "out": str(path), "bytes": path.stat().st_size, **report}


# --------------------------------------------------------------------------------------------
# Loading


def _villages(engine, village: str | None) -> gpd.GeoDataFrame:
    villages = store.load_villages(engine)
    if village is None:
        return villages
    chosen = villages[villages["village_id"] == village]
    if not len(chosen):
        raise InputError([Problem("--village", village, "数据库中没有这个行政村",
                                  f"行政村编号应为其中之一: {', '.join(villages['village_id'].astype(str)[:12])}")])
    return chosen


def _group_number(zone_label: str, position: int) -> int:
    match = re.search(r"(\d+)$", zone_label or "")
    return int(match.group(1)) if match else position + 1


def group_label(number: int, lang: str) -> str:
    """``第1组`` / ``Group 1``."""
    return f"第{number}组" if lang == "zh" else f"Group {number}"


def _members(engine, village_id: str) -> dict[str, str]:
    """group id -> member names joined by "、" (team members, then the auxiliary)."""
    names = {p.member_id: p.name for p in plans.load_people(engine, village_id)}
    out = {}
    for g in plans.load_groups(engine, village_id):
        ids = [*g.members, *([g.auxiliary] if g.auxiliary else [])]
        out[g.group_id] = "、".join(names.get(m, m) for m in ids)
    return out


def zone_layers(engine, villages: gpd.GeoDataFrame, *, lang: str = "zh") -> dict:
    """The stored zone plans of ``villages`` as the keyword arguments of :func:`maps.zones.zone_map`.

    Villages without a zone plan are left out.  Raises ``InputError`` if none has one.
    """
    zone_rows, hh_frames, area_frames, split = [], [], [], []
    for _, v in villages.iterrows():
        vid = v["village_id"]
        zp = plans.load_zone_plan(engine, vid)
        if zp is None:
            continue
        members = _members(engine, vid)
        hh = store.load_households(engine, village_ids=[vid])
        zone_of = {h: z.label for z in zp.zones for h in z.household_ids}
        hh["zone"] = hh["household_id"].map(zone_of)
        for k, z in enumerate(zp.zones):
            zone_rows.append({"zone": z.label, "group_id": z.group_id, "village_id": vid,
                              "group_label": group_label(_group_number(z.label, k), lang),
                              "members": members.get(z.group_id, ""), "households": len(z.household_ids),
                              "workload_min": z.workload_min, "geometry": z.outline})
        areas = store.load_areas(engine, village_ids=[vid])
        areas = areas[areas.geometry.notna()]
        n_zones = hh.dropna(subset=["zone"]).groupby("area_id")["zone"].nunique()
        split.extend(a for a in n_zones[n_zones > 1].index.astype(str) if a in set(areas["area_id"]))
        hh_frames.append(hh)
        area_frames.append(areas)
    if not zone_rows:
        raise InputError([Problem("", "", "所选行政村还没有分片, 无法绘制分片地图",
                                  "先运行 zhudian zone DB --roster 花名册.csv (或 --groups N) 为各村分片")])
    zones = gpd.GeoDataFrame(zone_rows, geometry="geometry", crs=WGS84)
    done = {r["village_id"] for r in zone_rows}
    return {"zones": zones, "households": _concat(hh_frames), "areas": _concat(area_frames),
            "villages": villages[villages["village_id"].isin(done)], "split_area_ids": split}


def _concat(frames: list[gpd.GeoDataFrame]) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), geometry="geometry", crs=WGS84)


def _roads_near(engine, bounds, pad: float = 0.003) -> gpd.GeoDataFrame:
    b = bounds
    return store.load_roads(engine, bbox=(b[0] - pad, b[1] - pad, b[2] + pad, b[3] + pad))


def _zones(engine, villages: gpd.GeoDataFrame, req: MapRequest):
    from maps.zones import zone_map

    layers = zone_layers(engine, villages, lang=req.lang)
    roads = _roads_near(engine, layers["households"].total_bounds)
    m = zone_map(**layers, roads=roads, lang=req.lang, tiles=req.provider)
    return m, {"villages": layers["villages"]["village_id"].tolist(), "zones": len(layers["zones"])}


# --------------------------------------------------------------------------------------------
# Routes


def _hhmm(t: dt.time | None, default: str = "00:00") -> str:
    return default if t is None else f"{t.hour:02d}:{t.minute:02d}"


def _depot(village: pd.Series, hh: gpd.GeoDataFrame) -> tuple[float, float]:
    """The depot (lon, lat); the median household when the village has none (as the planner does)."""
    lon, lat = float(village["depot_lon"]), float(village["depot_lat"])
    if math.isnan(lon) or math.isnan(lat):
        return float(hh.geometry.x.median()), float(hh.geometry.y.median())
    return lon, lat


def village_route_sessions(engine, village: pd.Series, month: dt.date, *, groups: list[str] | None = None,
                           day: dt.date | None = None, lang: str = "zh") -> dict:
    """The stored month plan of one village as :class:`maps.routes.SessionRoute` lists, per group.

    Walking paths follow the roads (one network for the whole village, :func:`geo.routes.route_lines`).
    Each session starts where the plan says (the office, the auxiliary member's home, an outpost);
    ``lang`` is the language of the start points' names.

    Returns
    -------
    dict
        ``{"sessions": {group id: [SessionRoute]}, "households": GeoDataFrame,
        "zones": {group id: GeoDataFrame}, "areas": GeoDataFrame, "roads": GeoDataFrame,
        "members": {group id: str}, "labels": {group id: int}}``.

    Raises
    ------
    geo.errors.InputError
        When the village has no plan for ``month`` or a requested group has none.
    """
    from geo.network import WalkNetwork
    from geo.routes import RouteSpec, RouteStop, route_lines, routes_crs
    from maps.routes import SessionRoute

    vid, name = village["village_id"], village["name"]
    stored = plans.load_month_plan(engine, vid, month)
    if stored is None:
        raise InputError([Problem("--month", f"{month:%Y-%m}", f"{name} ({vid}) 还没有 {month:%Y-%m} 的走访计划",
                                  f"先运行 zhudian plan DB --month {month:%Y-%m} --village {vid}")])
    wanted = groups if groups is not None else stored.groups()
    missing = [g for g in wanted if g not in stored.groups()]
    if missing:
        raise InputError([Problem("--group", g, f"{name} {month:%Y-%m} 的走访计划中没有这个小组",
                                  f"可选: {', '.join(stored.groups()) or '无'}; 或先运行 zhudian plan "
                                  f"DB --month {month:%Y-%m} --village {vid}") for g in missing])
    hh = store.load_households(engine, village_ids=[vid])
    by_id = hh.set_index("household_id")
    depot = _depot(village, hh)
    raw: dict[str, list] = {}
    specs = []
    for g in wanted:
        for s in stored.sessions_of(g):
            if day is not None and s.date != day:
                continue
            stops = []
            for k, st in enumerate(s.stops):
                row = by_id.loc[st.household_id]
                stops.append(RouteStop(household_id=st.household_id, lon=float(row.geometry.x),
                                       lat=float(row.geometry.y), arrive=_hhmm(st.arrive), depart=_hhmm(st.depart),
                                       seq=k + 1, label=str(row["address"]) if pd.notna(row["address"]) else None))
            start = _hhmm(s.start)
            point = s.start_point
            text = None if point is None else start_text(point.kind, point.label, lang)
            at = depot if text is None else (point.lon, point.lat)
            spec = RouteSpec(route_id=f"{g}-{s.date.isoformat()}-{s.kind}-{start}", name=f"{g} {s.date}",
                             date=s.date.isoformat(), depot_lon=at[0], depot_lat=at[1], stops=stops,
                             start=start, end=_hhmm(s.end, "23:59"))
            raw.setdefault(g, []).append((spec, s.kind, text))
            specs.append(spec)
    if not specs:
        raise InputError([Problem("--date", str(day), f"{name} 的这些小组在 {day} 没有走访时段",
                                  "去掉 --date, 或换一个有驻点日/夜访的日期")])
    routed = [sp for sp in specs if sp.stops]
    lines = {}
    if routed:
        crs = routes_crs(routed)
        pts = np.vstack([sp.points() for sp in routed])
        lo, hi = pts.min(axis=0), pts.max(axis=0)
        roads = store.load_roads(engine, bbox=(lo[0] - 0.01, lo[1] - 0.01, hi[0] + 0.01, hi[1] + 0.01))
        network = WalkNetwork.from_lines(roads.to_crs(crs).geometry.values) if len(roads) else None
        frame = route_lines(routed, roads, network=network, crs=crs)
        lines = {r.route_id: (r.geometry, float(r.walk_m)) for r in frame.itertuples(index=False)}
    heads = {h: str(v) for h, v in zip(hh["household_id"], hh["head"], strict=True) if pd.notna(v)}
    sessions = {g: [SessionRoute(route=spec, kind=kind, path=lines.get(spec.route_id, (None, 0.0))[0],
                                 walk_m=lines.get(spec.route_id, (None, 0.0))[1], heads=heads, start_text=text)
                    for spec, kind, text in items] for g, items in raw.items()}
    zp = plans.load_zone_plan(engine, vid)
    zones, labels, zone_hh = {}, {}, {}
    if zp is not None:
        for k, z in enumerate(zp.zones):
            if z.group_id is None:
                continue
            labels[z.group_id] = _group_number(z.label, k)
            zones[z.group_id] = gpd.GeoDataFrame({"zone": [z.label]}, geometry=[z.outline], crs=WGS84) \
                if z.outline is not None else None
            zone_hh[z.group_id] = set(z.household_ids)
    b = hh.total_bounds
    return {"sessions": sessions, "households": hh, "zones": zones, "zone_households": zone_hh,
            "areas": store.load_areas(engine, village_ids=[vid]), "roads": _roads_near(engine, b),
            "members": _members(engine, vid), "labels": labels}


def _group_route_map(data: dict, group: str, village: pd.Series, *, lang: str, tiles):
    from maps.routes import route_map

    hh = data["households"]
    own = data["zone_households"].get(group)
    context = hh[hh["household_id"].isin(own)] if own else None
    areas = data["areas"]
    number = data["labels"].get(group)
    return route_map(data["sessions"][group], zone=data["zones"].get(group), areas=areas[areas.geometry.notna()],
                     roads=data["roads"], households=context,
                     group_label=group_label(number, lang) if number else group,
                     members=data["members"].get(group), village_name=str(village["name"]), lang=lang, tiles=tiles)


def _find_group_village(engine, villages: gpd.GeoDataFrame, group: str) -> pd.Series:
    for _, v in villages.iterrows():
        if any(g.group_id == group for g in plans.load_groups(engine, v["village_id"])):
            return v
    raise InputError([Problem("--group", group, "数据库中没有这个小组",
                              "小组编号形如 990101001001-G1, 见 zhudian zone / zhudian plan 的输出")])


def _routes(engine, villages: gpd.GeoDataFrame, req: MapRequest):
    village = _find_group_village(engine, villages, req.group)
    day = dt.date.fromisoformat(req.date) if req.date else None
    data = village_route_sessions(engine, village, req.month_date, groups=[req.group], day=day, lang=req.lang)
    m = _group_route_map(data, req.group, village, lang=req.lang, tiles=req.provider)
    sessions = data["sessions"][req.group]
    return m, {"villages": [village["village_id"]], "group": req.group, "sessions": len(sessions),
               "stops": sum(len(s.route.stops) for s in sessions)}


def write_route_maps(engine, month: dt.date, folder: Path, *, lang: str = "zh",
                     tiles: str | TileProvider | None = "none") -> dict[str, Path]:
    """One route map per group with a plan for ``month``: ``folder/<group>-<YYYY-MM>.html``.

    Returns group id -> path (villages without a plan that month are skipped).
    """
    from maps.offline import save_html

    folder.mkdir(parents=True, exist_ok=True)
    written = {}
    for _, v in store.load_villages(engine).iterrows():
        if plans.load_month_plan(engine, v["village_id"], month) is None:
            continue
        data = village_route_sessions(engine, v, month, lang=lang)
        for group in data["sessions"]:
            m = _group_route_map(data, group, v, lang=lang, tiles=tiles)
            written[group] = save_html(m, folder / f"{group}-{month:%Y-%m}.html")
    return written


# --------------------------------------------------------------------------------------------
# Coverage


def coverage_layers(engine, villages: gpd.GeoDataFrame, month: dt.date, *, lang: str = "zh") -> dict:
    """Households with their status on ``month`` and the units (zones, else areas) of ``villages``.

    Returns
    -------
    dict
        The keyword arguments of :func:`maps.coverage.coverage_map` (``households``, ``units``,
        ``villages``, ``visited_this_year``, ``as_of``).
    """
    from maps.coverage import household_status
    from planner.month import HouseholdState

    frames, units, reached = [], [], []
    several = len(villages) > 1
    for _, v in villages.iterrows():
        vid = v["village_id"]
        hh = store.load_households(engine, village_ids=[vid])
        if not len(hh):
            continue
        visits = plans.visit_states(engine, vid, month.year)
        states = []
        last = []
        for hid, tags in zip(hh["household_id"], hh["tags"], strict=True):
            st = visits.get(hid, {})
            states.append(HouseholdState(visits_this_year=st.get("visits_this_year", 0),
                                         last_visit=st.get("last_visit"), last_outcome=st.get("last_outcome"),
                                         tags=tuple(t for t in str(tags or "").split(",") if t)))
            last.append(st.get("last_visit"))
        hh["status"] = household_status(states, year=month.year, month=month.month)
        hh["last_visit"] = [d.isoformat() if d else None for d in last]
        reached.extend(s.visits_this_year > 0 for s in states)
        zp = plans.load_zone_plan(engine, vid)
        prefix = f"{v['name']} " if several else ""
        if zp is not None and any(z.outline is not None for z in zp.zones):
            zone_of = {h: z.label for z in zp.zones for h in z.household_ids}
            hh["unit"] = hh["household_id"].map(zone_of).fillna("")
            units.extend({"unit": z.label, "name": prefix + group_label(_group_number(z.label, k), lang),
                          "village_id": vid, "geometry": z.outline}
                         for k, z in enumerate(zp.zones) if z.outline is not None)
        else:
            areas = store.load_areas(engine, village_ids=[vid])
            hh["unit"] = hh["area_id"].astype(str)
            units.extend({"unit": a.area_id, "name": prefix + str(a.name), "village_id": vid, "geometry": a.geometry}
                         for a in areas.itertuples(index=False) if a.geometry is not None)
        frames.append(hh[["household_id", "village_id", "address", "status", "last_visit", "unit", "geometry"]])
    if not frames:
        raise InputError([Problem("--village", "", "所选范围内没有住户", "先运行 zhudian import 导入住户")])
    return {"households": _concat(frames),
            "units": gpd.GeoDataFrame(units, geometry="geometry", crs=WGS84) if units else None,
            "villages": villages, "visited_this_year": reached, "as_of": f"{month:%Y-%m}"}


def _coverage(engine, villages: gpd.GeoDataFrame, req: MapRequest):
    from maps.coverage import coverage_map

    layers = coverage_layers(engine, villages, req.month_date, lang=req.lang)
    m = coverage_map(**layers, lang=req.lang, tiles=req.provider, title=_town_title(villages, req.lang))
    counts = layers["households"]["status"].value_counts()
    return m, {"villages": villages["village_id"].tolist(), "households": len(layers["households"]),
               "status": {k: int(v) for k, v in counts.items()}}


def _town_title(villages: gpd.GeoDataFrame, lang: str) -> str | None:
    """``<town> · 走访覆盖图`` for several villages of one town; None otherwise (the map's default)."""
    from maps.i18n import label

    if len(villages) < 2 or "town" not in villages.columns:
        return None
    towns = villages["town"].dropna().unique().tolist()
    return f"{towns[0]} · {label('coverage_map_title', lang)}" if len(towns) == 1 else None


def write_coverage_maps(engine, month: dt.date, out: Path, folder: Path, *, lang: str = "zh",
                        title: str | None = None) -> tuple[Path, dict[str, Path]]:
    """The town coverage map at ``out`` and one per village in ``folder`` (``<village id>.html``)."""
    from maps.coverage import coverage_map
    from maps.offline import save_html

    villages = store.load_villages(engine)
    title = title if title is not None else _town_title(villages, lang)
    town = save_html(coverage_map(**coverage_layers(engine, villages, month, lang=lang), lang=lang, title=title), out)
    folder.mkdir(parents=True, exist_ok=True)
    per_village = {}
    for _, v in villages.iterrows():
        one = villages[villages["village_id"] == v["village_id"]]
        try:
            layers = coverage_layers(engine, one, month, lang=lang)
        except InputError:
            continue
        per_village[v["village_id"]] = save_html(coverage_map(**layers, lang=lang), folder / f"{v['village_id']}.html")
    return town, per_village
