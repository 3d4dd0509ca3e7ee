"""Printed sheets job: load a month's plan from the store and write the PDFs of :mod:`maps.sheets`.

For each group with a plan that month: ``<group>-<YYYY-MM>.pdf`` (cover + route sheets); for each
village: ``<village>-zones-A3.pdf`` (the wall map of its zones); with ``cards``:
``<group>-cards.pdf`` (contact cards for the households planned that month, in visit order).
Every file is written atomically (:func:`geo.atomic.write_atomic`).

The CLI (``zhudian sheets``) and the HTTP API call :func:`run_sheets`; the drawing is in
:mod:`maps.sheets` and :mod:`maps.sheet_map`.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from api import store
from api.store import plans
from geo.atomic import write_atomic
from geo.crs import utm_crs
from geo.errors import InputError, Problem
from geo.network import WalkingParams, WalkNetwork
from maps.i18n import check_lang, label, start_text

logger = logging.getLogger(__name__)


@dataclass
class SheetsRequest:
    """What to print.

    Attributes
    ----------
    month : str
        ``YYYY-MM``; the month must have a plan (``zhudian plan``).
    villages : village ids (default every village with a plan that month).
    group : str, optional
        Only this group (its route sheets, cards and its village's zone map).
    lang : {"zh", "en"}
    show_phones : bool
        Print household phones in full (default masked 138****1234).
    cards : bool
        Also write contact cards per group.
    """

    month: str
    villages: Sequence[str] | None = None
    group: str | None = None
    lang: str = "zh"
    show_phones: bool = False
    cards: bool = False
    first_day: dt.date = field(init=False)

    def __post_init__(self) -> None:
        try:
            self.first_day = dt.datetime.strptime(self.month, "%Y-%m").date()
        except ValueError:
            raise ValueError(f"--month 应为 YYYY-MM, 如 2026-12 (收到 {self.month!r})") from None
        try:
            check_lang(self.lang)
        except ValueError:
            raise ValueError(f"--lang 应为 zh 或 en (收到 {self.lang!r})") from None


def run_sheets(db: str | Path, req: SheetsRequest, out: str | Path, *,
               progress: Callable[[str], None] | None = None) -> dict:
    """Write the month's PDFs into ``out`` (created if missing).

    Returns
    -------
    dict
        ``{"month", "out", "seconds", "files": [{"kind": "route_sheets" | "zone_map" | "cards",
        "village", "group", "path", "pages", "bytes"}]}``.

    Raises
    ------
    geo.errors.InputError
        For an unknown village or group, or when the month has no plan (the message says to run
        ``zhudian plan DB --month ...`` first); nothing is written then.
    FileNotFoundError
        When the database does not exist, or no CJK font is installed
        (:class:`maps.fonts.FontNotFoundError`, naming the package to install).
    """
    from maps.fonts import find_cjk_fonts, subset_fonts

    step = progress or (lambda _m: None)
    t0 = time.perf_counter()
    fonts = find_cjk_fonts()  # fail before any work when no font is installed
    engine = store.open_store(db, create=False)
    try:
        villages = store.load_villages(engine)
        problems = []
        if req.villages:
            known = set(villages["village_id"])
            problems += [Problem("--village", v, "数据库中没有这个行政村", "检查行政村编号 (zhudian export DB villages)")
                         for v in req.villages if v not in known]
            villages = villages[villages["village_id"].isin(req.villages)]
        if problems:
            raise InputError(problems)
        month_plans = {}
        for vid in villages["village_id"]:
            mp = plans.load_month_plan(engine, vid, req.first_day)
            if mp is not None and (req.group is None or req.group in mp.plans):
                month_plans[vid] = mp
        if not month_plans:
            where = f" (小组 {req.group})" if req.group else ""
            fix = (f"先运行 zhudian plan {db} --month {req.month} 生成该月计划"
                   + (f", 或检查小组编号 {req.group}" if req.group else ""))
            raise InputError([Problem("--month", req.month, f"{req.month} 还没有走访计划{where}", fix)])
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        chosen = villages[villages["village_id"].isin(month_plans)]
        hh = store.load_households(engine, village_ids=list(chosen["village_id"]))
        areas = store.load_areas(engine, village_ids=list(chosen["village_id"]))
        people = {vid: plans.load_people(engine, vid) for vid in chosen["village_id"]}
        files: list[dict] = []
        with tempfile.TemporaryDirectory(prefix="zhudian-fonts-") as tmp:
            # one font subset for the whole job (a full CJK face costs ~1 s per PDF to embed)
            fonts = subset_fonts(fonts, _charset(req.lang, chosen, hh, areas, people), tmp)
            for _, v in chosen.iterrows():
                vid = v["village_id"]
                files += _village_sheets(engine, v, month_plans[vid], req, out, fonts, step,
                                         hh=hh[hh["village_id"] == vid].reset_index(drop=True),
                                         areas=areas[areas["village_id"] == vid], people=people[vid])
        return {"month": req.month, "out": str(out), "seconds": round(time.perf_counter() - t0, 2), "files": files}
    finally:
        engine.dispose()


def _charset(lang: str, villages: pd.DataFrame, hh: pd.DataFrame, areas: pd.DataFrame, people: dict) -> str:
    """Every character the job may print: the labels, and the text of villages, areas, households
    and people (anything missed still prints, from the full font)."""
    from maps.sheets import label_characters

    parts = [label_characters(lang)]
    for frame, cols in ((villages, ("village_id", "name", "town")), (areas, ("name",)),
                        (hh, ("household_id", "address", "head", "phone"))):
        for c in cols:
            if c in frame.columns:
                parts.append("".join(frame[c].dropna().astype(str).unique()))
    parts += [f"{p.name}{p.title or ''}{p.phone or ''}{p.member_id}" for ps in people.values() for p in ps]
    return "".join(parts)


def _pages(data: bytes) -> int:
    """Page count of a PDF written by fpdf2 (its page tree root carries ``/Count``)."""
    import re

    counts = [int(m) for m in re.findall(rb"/Type /Pages[^>]*?/Count (\d+)", data)]
    counts += [int(m) for m in re.findall(rb"/Count (\d+)[^>]*?/Type /Pages", data)]
    return max(counts) if counts else 0


def _write(path: Path, data: bytes, kind: str, village: str, group: str | None) -> dict:
    write_atomic(path, data)
    return {"kind": kind, "village": village, "group": group, "path": str(path), "pages": _pages(data),
            "bytes": len(data)}


def _village_sheets(engine, v: pd.Series, mp: plans.StoredMonthPlan, req: SheetsRequest, out: Path, fonts,
                    step: Callable[[str], None], *, hh: gpd.GeoDataFrame, areas: gpd.GeoDataFrame,
                    people: list) -> list[dict]:
    from geo.routes import RouteSpec, RouteStop, route_lines
    from maps.sheets import (Background, CardHousehold, SheetGroup, SheetMember, SheetSession, SheetStop,
                             contact_cards_pdf, route_sheets_pdf, zone_map_pdf)
    from maps.zones import zone_colour

    vid, lang = v["village_id"], req.lang
    zp = plans.load_zone_plan(engine, vid)
    groups = plans.load_groups(engine, vid)
    people = {p.member_id: p for p in people}

    depot = (float(v["depot_lon"]), float(v["depot_lat"]))
    if any(map(math.isnan, depot)) and len(hh):
        depot = (float(hh.geometry.x.median()), float(hh.geometry.y.median()))
    lon = np.r_[depot[0], hh.geometry.x.to_numpy()]
    lat = np.r_[depot[1], hh.geometry.y.to_numpy()]
    crs = utm_crs(lon, lat)
    pad = 0.01
    roads = store.load_roads(engine, bbox=(lon.min() - pad, lat.min() - pad, lon.max() + pad, lat.max() + pad))
    roads_m = roads.to_crs(crs) if len(roads) else None
    areas_m = areas[areas.geometry.notna() & (areas["kind"] != "scattered")].to_crs(crs)
    background = Background(areas=areas_m, roads=roads_m)
    hh_m = hh.to_crs(crs)
    pos = {h: i for i, h in enumerate(hh["household_id"])}
    depot_m = gpd.GeoSeries(gpd.points_from_xy([depot[0]], [depot[1]]), crs="EPSG:4326").to_crs(crs).iloc[0]
    depot_xy = (float(depot_m.x), float(depot_m.y))
    area_names = dict(zip(areas["area_id"], areas["name"]))

    zones = sorted(zp.zones if zp is not None else [], key=lambda z: z.label)
    zone_pos = {z.label: i for i, z in enumerate(zones)}
    zone_of_group = {z.group_id: z for z in zones if z.group_id}
    group_order = [g.group_id for g in groups]
    group_by_id = {g.group_id: g for g in groups}
    prefix = f"{vid}-"

    def short(text: str) -> str:
        return text[len(prefix):] if text.startswith(prefix) else text

    def group_name(gid: str) -> str:
        return label("sheet_group_n", lang, n=group_order.index(gid) + 1) if gid in group_order else short(gid)

    def members(gid: str) -> list[SheetMember]:
        g = group_by_id.get(gid)
        ids = [*(g.members if g else ()), *([g.auxiliary] if g and g.auxiliary else [])]
        return [SheetMember(name=people[m].name, phone=people[m].phone, role=people[m].role, title=people[m].title)
                for m in ids if m in people]

    def outline_m(z) -> object:
        if z is None or z.outline is None:
            return None
        return gpd.GeoSeries([z.outline], crs="EPSG:4326").to_crs(crs).iloc[0]

    walking = WalkingParams()
    m_per_min = walking.speed_kmh * 1000 / 60
    wanted = [g for g in mp.groups() if req.group is None or g == req.group]

    # all routes of the village in one call: the network is built once
    specs, keys = [], []
    for gid in wanted:
        for k, s in enumerate(mp.sessions_of(gid)):
            if not s.stops:
                continue
            stops = []
            for n, st in enumerate(s.stops):
                row = hh.iloc[pos[st.household_id]]
                stops.append(RouteStop(household_id=st.household_id, lon=float(row.geometry.x),
                                       lat=float(row.geometry.y), arrive=_hhmm(st.arrive), depart=_hhmm(st.depart),
                                       seq=n + 1))
            at = (depot if s.start_point is None or s.start_point.kind == "depot"
                  else (s.start_point.lon, s.start_point.lat))
            specs.append(RouteSpec(route_id=f"{gid}/{k}", name=gid, date=s.date.isoformat(), depot_lon=at[0],
                                   depot_lat=at[1], stops=stops, start=_hhmm(s.start), end=_hhmm(s.end)))
            keys.append((gid, k))
    lines = {}
    if specs:
        network = WalkNetwork.from_lines(roads_m.geometry.values, params=walking) if roads_m is not None else None
        gdf = route_lines(specs, None, network=network, crs=crs).to_crs(crs)
        lines = {key: (geom, float(w)) for key, geom, w in zip(keys, gdf.geometry.values, gdf["walk_m"])}

    files = []
    for gid in wanted:
        z = zone_of_group.get(gid)
        step(f"路线单: {v['name']} {group_name(gid)}")
        zone_hh = [h for h in (z.household_ids if z else []) if h in pos]
        counts = Counter(hh["area_id"].iloc[pos[h]] for h in zone_hh)
        sessions = []
        for k, s in enumerate(mp.sessions_of(gid)):
            stops = []
            for st in s.stops:
                row = hh.iloc[pos[st.household_id]]
                pm = hh_m.geometry.iloc[pos[st.household_id]]
                stops.append(SheetStop(household_id=st.household_id, address=_text(row["address"]),
                                       head=_text(row["head"]), phone=_text(row["phone"]) or None,
                                       tags=tuple(t for t in _text(row["tags"]).split(",") if t),
                                       arrive=_hhmm(st.arrive), x=float(pm.x), y=float(pm.y)))
            path, walk_m = lines.get((gid, k), (None, 0.0))
            start_xy, start_text = _session_start(s.start_point, crs, lang)
            sessions.append(SheetSession(date=s.date, kind=s.kind, start=_hhmm(s.start), end=_hhmm(s.end),
                                         stops=stops, walk_m=walk_m, walk_min=walk_m / m_per_min, path=path,
                                         start_xy=start_xy, start_text=start_text))
        sheet_group = SheetGroup(
            village_id=vid, village_name=str(v["name"]), town=_text(v.get("town")), group_id=gid,
            group_name=group_name(gid), zone_label=short(z.label) if z else "—",
            zone_areas=[str(area_names.get(a, a)) for a, _ in counts.most_common()],
            members=members(gid), colour=zone_colour(zone_pos[z.label]) if z else "#9e9e9e",
            sessions=sessions, depot_xy=depot_xy, zone_outline=outline_m(z))
        data = route_sheets_pdf(sheet_group, req.first_day, background, lang=lang, show_phones=req.show_phones,
                                fonts=fonts)
        files.append(_write(out / f"{gid}-{req.month}.pdf", data, "route_sheets", vid, gid))
        if req.cards:
            seen: dict[str, CardHousehold] = {}
            for s in sessions:
                for st in s.stops:
                    seen.setdefault(st.household_id, CardHousehold(st.household_id, st.head, st.address))
            if seen:
                step(f"联系卡: {v['name']} {group_name(gid)}")
                data = contact_cards_pdf(sheet_group, list(seen.values()), lang=lang, fonts=fonts)
                files.append(_write(out / f"{gid}-cards.pdf", data, "cards", vid, gid))

    if zones:
        step(f"分片地图: {v['name']}")
        from maps.sheets import ZoneRow

        rows = [ZoneRow(zone_label=z.label, group_name=group_name(z.group_id) if z.group_id else short(z.label),
                        members=members(z.group_id) if z.group_id else [], households=len(z.household_ids),
                        workload_min=float(z.workload_min), colour=zone_colour(i), outline=outline_m(z))
                for i, z in enumerate(zones)]
        zone_of_hh = {h: z.label for z in zones for h in z.household_ids}
        points = gpd.GeoDataFrame({"zone_label": [zone_of_hh.get(h, "") for h in hh["household_id"]]},
                                  geometry=hh_m.geometry.values, crs=crs)
        data = zone_map_pdf(village_name=str(v["name"]), town=_text(v.get("town")), version=zp.version, zones=rows,
                            households=points, depot_xy=depot_xy, background=background, lang=lang, fonts=fonts)
        files.append(_write(out / f"{vid}-zones-A3.pdf", data, "zone_map", vid, None))
    return files


def _session_start(point: plans.SessionStart | None, crs, lang: str) -> tuple[tuple[float, float] | None, str | None]:
    """Where a stored session starts, projected to ``crs``, and its legend text; (None, None) at
    the village committee office (the group's depot is drawn)."""
    text = None if point is None else start_text(point.kind, point.label, lang)
    if text is None:
        return None, None
    p = gpd.GeoSeries(gpd.points_from_xy([point.lon], [point.lat]), crs="EPSG:4326").to_crs(crs).iloc[0]
    return (float(p.x), float(p.y)), text


def _hhmm(t: dt.time | None) -> str:
    return t.strftime("%H:%M") if t is not None else "00:00"


def _text(value: object) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return ""
    return str(value)
