"""``zhudian plan`` end to end: demo village, zones, a real month, routes checked independently."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np

import pytest
from sqlalchemy import func, select

from api import store
from api.store import plans
from api.store.models import MonthPlan, VisitSession
from test_cli import DEMO, import_demo, zhudian

TRIESEN = "990101001009"
PLANKEN = "990101001005"
GPX = "{http://www.topografix.com/GPX/1/1}"


@pytest.fixture(scope="module")
def planned(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict, Path]:
    tmp = tmp_path_factory.mktemp("plan")
    db = tmp / "demo.db"
    import_demo(db)
    zhudian("zone", db, "--village", TRIESEN, "--roster", DEMO / "roster.csv", "--seconds", "2", "--quiet")
    out = tmp / "routes"
    proc = zhudian("plan", db, "--month", "2026-12", "--village", TRIESEN, "--seconds", "1", "--out", out, "--json")
    return db, json.loads(proc.stdout), out


def _minutes(hhmm: str) -> int:
    h, m = hhmm.split(":")
    return int(h) * 60 + int(m)


def test_plan_json_has_every_household_planned_or_explained(planned) -> None:
    db, doc, _ = planned
    assert doc["month"] == "2026-12" and len(doc["groups"]) == 2
    engine = store.open_store(db, create=False)
    try:
        hh = store.load_households(engine, village_ids=[TRIESEN])
    finally:
        engine.dispose()
    stops = [s["household"] for g in doc["groups"] for ss in g["sessions"] for s in ss["stops"]]
    unplanned = [u["household"] for u in doc["unplanned"]]
    assert len(stops) == len(set(stops))  # nobody twice in a month
    # nobody has been visited this year, so every household is due: planned or listed with a reason
    assert set(stops) | set(unplanned) == set(hh["household_id"]) and not set(stops) & set(unplanned)
    assert {u["reason"] for u in doc["unplanned"]} <= {"no_time", "unreachable", "time_window"}
    assert all(u["reason_text"] for u in doc["unplanned"])
    cov = doc["projected_year_end_coverage"]
    assert set(cov) == {g["zone"] for g in doc["groups"]} and all(0 < c <= 1 for c in cov.values())


def test_sessions_follow_the_calendar_and_windows(planned) -> None:
    _, doc, _ = planned
    engine = store.open_store(planned[0], create=False)
    try:
        tags = dict(zip(*store.load_households(engine, village_ids=[TRIESEN])[["household_id", "tags"]].T.values))
    finally:
        engine.dispose()
    for g in doc["groups"]:
        for s in g["sessions"]:
            day = dt.date.fromisoformat(s["date"])
            assert day.year == 2026 and day.month == 12
            if s["kind"] == "stationing":
                assert day.weekday() == 1  # Tuesday
            else:
                assert s["kind"] == "evening" and s["start"] == "19:00" and day.weekday() < 5
            lo, hi = _minutes(s["start"]), _minutes(s["end"])
            last = lo
            for st in s["stops"]:
                a, d = _minutes(st["arrive"]), _minutes(st["depart"])
                assert lo <= a and d <= hi and a >= last and d - a >= 10  # in the window, in order, 10 min visits
                last = d
                if "evening_only" in (tags[st["household"]] or ""):
                    assert s["kind"] == "evening"
            assert (s["walk_m"] > 0) == bool(s["stops"])


def test_plan_is_stored_and_routes_written(planned) -> None:
    db, doc, out = planned
    engine = store.open_store(db, create=False)
    try:
        with engine.connect() as conn:
            assert conn.scalar(select(func.count()).select_from(MonthPlan)) == 2
            n_sessions = conn.scalar(select(func.count()).select_from(VisitSession))
    finally:
        engine.dispose()
    assert n_sessions == sum(len(g["sessions"]) for g in doc["groups"])
    geo = json.loads((out / "routes-2026-12.geojson").read_text(encoding="utf-8"))
    kinds = [f["properties"]["kind"] for f in geo["features"]]
    used = sum(1 for g in doc["groups"] for s in g["sessions"] if s["stops"])
    assert kinds.count("route") == used
    root = ET.parse(out / f"{TRIESEN}-G1-2026-12.gpx").getroot()
    assert root.tag == f"{GPX}gpx" and root.findall(f"{GPX}trk")


def test_stored_plan_reads_back_as_planned(planned, tmp_path: Path) -> None:
    db, doc, _ = planned
    engine = store.open_store(db, create=False)
    try:
        stored = plans.load_month_plan(engine, TRIESEN, dt.date(2026, 12, 17))
        assert plans.load_month_plan(engine, TRIESEN, dt.date(2026, 11, 1)) is None
    finally:
        engine.dispose()
    assert stored is not None and stored.groups() == sorted(g["group"] for g in doc["groups"])
    for g in doc["groups"]:
        got = [(s.date.isoformat(), s.start.strftime("%H:%M"), [(t.household_id, t.arrive.strftime("%H:%M"))
                                                                for t in s.stops])
               for s in stored.sessions_of(g["group"])]
        want = [(s["date"], s["start"], [(t["household"], t["arrive"]) for t in s["stops"]]) for s in g["sessions"]]
        assert got == want
        assert stored.plans[g["group"]]["params"]["month"] == "2026-12"


def test_bad_month_and_missing_holiday_year(tmp_path: Path, planned) -> None:
    db = planned[0]
    proc = zhudian("plan", db, "--month", "2026-13", check=False)
    assert proc.returncode == 2 and "YYYY-MM" in proc.stderr
    proc = zhudian("plan", db, "--month", "2031-01", check=False)
    assert proc.returncode == 2 and "2031" in proc.stderr and "--holidays" in proc.stderr


def test_plan_without_zones_says_what_to_do(tmp_path: Path) -> None:
    db = tmp_path / "nozones.db"
    zhudian("import", db, "--villages", DEMO / "villages.gpkg", "--areas", DEMO / "areas.gpkg", "--quiet")
    proc = zhudian("plan", db, "--month", "2026-12", check=False)
    assert proc.returncode == 2 and "zhudian zone" in proc.stderr


# --- villages solved in parallel; sessions starting at the auxiliary member's home -------------


@pytest.fixture(scope="module")
def two_villages(planned, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[int, dict], dict]:
    """Triesen and Planken zoned from the demo roster with one change: Triesen's auxiliary member
    ZD-0033 has no home area. Planned with ``--start auxiliary`` and an iteration limit (the
    plan then depends on the data and the seed only), serially, with two worker processes, and
    on a local Dask cluster of two worker processes (``docs["dask"]``)."""
    tmp = tmp_path_factory.mktemp("parallel")
    db = tmp / "two.db"
    shutil.copy(planned[0], db)
    text = (DEMO / "roster.csv").read_text(encoding="utf-8-sig")
    assert text.count(",V018,") == 1
    roster = tmp / "roster.csv"
    roster.write_text(text.replace(",V018,", ",,"), encoding="utf-8")
    zhudian("zone", db, "--village", TRIESEN, "--village", PLANKEN, "--roster", roster, "--seconds", "2", "--quiet")
    docs, stored = {}, {}
    for workers in (1, 2, "dask"):
        copy = tmp / f"workers{workers}.db"
        shutil.copy(db, copy)
        how = ["--workers", 2, "--executor", "dask"] if workers == "dask" else ["--workers", workers]
        proc = zhudian("plan", copy, "--month", "2026-12", "--village", TRIESEN, "--village", PLANKEN,
                       "--seconds", "120", "--iterations", "150", "--start", "auxiliary", "--json", *how)
        docs[workers] = json.loads(proc.stdout)
        engine = store.open_store(copy, create=False)
        try:
            stored[workers] = {v: plans.load_month_plan(engine, v, dt.date(2026, 12, 1)) for v in (TRIESEN, PLANKEN)}
        finally:
            engine.dispose()
    return db, docs, stored


def test_parallel_plan_is_the_serial_plan(two_villages) -> None:
    _, docs, stored = two_villages
    assert docs[1] == docs[2] == docs["dask"]
    assert docs[1]["failed"] == []
    assert [g["group"] for g in docs[1]["groups"]] == [f"{PLANKEN}-G1", f"{TRIESEN}-G1", f"{TRIESEN}-G2"]
    assert sum(g["planned"] for g in docs[1]["groups"]) > 300
    for v in (TRIESEN, PLANKEN):
        for other in (2, "dask"):
            a, b = stored[1][v], stored[other][v]
            assert a.groups() == b.groups()
            for g in a.groups():
                assert [(s.date, s.kind, [(t.household_id, t.arrive) for t in s.stops]) for s in a.sessions_of(g)] == \
                    [(s.date, s.kind, [(t.household_id, t.arrive) for t in s.stops]) for s in b.sessions_of(g)]


def test_auxiliary_start_per_group_with_fallback_reported(two_villages) -> None:
    _, docs, _ = two_villages
    doc = docs[1]
    starts = {g["group"]: g["start"] for g in doc["groups"]}
    homes = {g: s.get("area") for g, s in starts.items() if s["kind"] == "auxiliary_home"}
    office = [g for g, s in starts.items() if s["kind"] == "depot"]
    assert sorted(homes.values()) == ["V000", "V017"]       # Planken's and Triesen's ZD-0032
    assert len(office) == 1 and office[0].startswith(TRIESEN)
    assert "居住片区未填写" in starts[office[0]]["note"] and any(office[0] in n for n in doc["notes"])
    for g in doc["groups"]:
        assert g["end"] == g["start"]                        # --end start (default)
        assert set(g) >= {"group", "zone", "sessions", "start"} and set(g["start"]) >= {"kind", "lon", "lat"}
    engine = store.open_store(two_villages[0], create=False)
    try:
        depots = store.load_villages(engine).set_index("village_id")
    finally:
        engine.dispose()
    t = depots.loc[TRIESEN]
    assert (starts[office[0]]["lon"], starts[office[0]]["lat"]) == pytest.approx((t["depot_lon"], t["depot_lat"]))
    home = next(g for g in homes if g.startswith(TRIESEN))
    assert abs(starts[home]["lat"] - t["depot_lat"]) + abs(starts[home]["lon"] - t["depot_lon"]) > 1e-3


def test_auxiliary_routes_recheck_on_a_matrix_from_the_reported_points(two_villages) -> None:
    """Routes from the auxiliary member's home to the village office (``--end depot``), and from
    the outposts back to them, re-timed by the independent checker on walking times recomputed
    from the points the plan reports."""
    import geopandas as gpd

    from api.plan import PlanRequest, _workday_function, month_instances
    from geo.crs import utm_crs
    from geo.network import WalkNetwork, travel_matrices
    from planner.calendar import SessionRules
    from planner.check import check_routes
    from planner.month import MonthRules, plan_group_month, session_window_s
    from planner.routing import RoutingProblem, Vehicle

    db = two_villages[0]
    req = PlanRequest(month="2026-12", villages=[TRIESEN], start="auxiliary", end="depot", seconds=60,
                      iterations=100)
    engine = store.open_store(db, create=False)
    try:
        village = store.load_villages(engine).set_index("village_id", drop=False).loc[TRIESEN]
        hh, depot, insts = month_instances(engine, village, plans.load_zone_plan(engine, TRIESEN), req,
                                           SessionRules(), MonthRules(), _workday_function(req))
        inst = next(i for i in insts if i.start.kind == "auxiliary_home")
        nd = inst.n_depots
        assert nd == 2 + len(inst.outposts) and inst.end.kind == "depot"
        assert inst.outposts and any(s.depot for s in inst.sessions)  # Hintertuass, above Triesen
        lon = np.r_[inst.start.lon, depot[0], [o.lon for o in inst.outposts], hh.geometry.x.to_numpy()[inst.idx]]
        lat = np.r_[inst.start.lat, depot[1], [o.lat for o in inst.outposts], hh.geometry.y.to_numpy()[inst.idx]]
        crs = utm_crs(lon, lat)
        pts = gpd.GeoSeries(gpd.points_from_xy(lon, lat), crs="EPSG:4326").to_crs(crs)
        roads = store.load_roads(engine, bbox=(lon.min() - 0.01, lat.min() - 0.01, lon.max() + 0.01, lat.max() + 0.01))
    finally:
        engine.dispose()
    tm = travel_matrices(np.column_stack([pts.x, pts.y]), WalkNetwork.from_lines(roads.to_crs(crs).geometry.values))
    D, L = tm.time_s.astype(np.int64), tm.distance_m.astype(np.int64)
    # an outpost is the place of the household it names: no walk between them
    row_of = {h: nd + k for k, h in enumerate(hh["household_id"].to_numpy()[inst.idx])}
    for j, o in enumerate(inst.outposts):
        for M in (D, L):
            M[2 + j, :], M[:, 2 + j] = M[row_of[o.household], :], M[:, row_of[o.household]]
    gm = plan_group_month(inst.due, inst.sessions, states=inst.states, month=12, duration_s=inst.duration_s,
                          distance_m=inst.distance_m, seconds=60, iterations=100, n_depots=nd, end_depot=1)
    assert gm.routing.routes
    locs = np.r_[np.arange(nd), nd + np.array([d.household for d in gm.due])]
    real = RoutingProblem.from_matrices(
        D[np.ix_(locs, locs)], L[np.ix_(locs, locs)], n_depots=nd,
        vehicles=[Vehicle(s.depot, s.depot, *session_window_s(s)) if s.depot else Vehicle(0, 1, *session_window_s(s))
                  for s in gm.sessions],
        service_s=[d.service_min * 60 for d in gm.due], required=False, prize=1)
    assert check_routes(real, gm.routing) == []
    from_outposts = 0
    for r in gm.routing.routes:
        first, last = nd + gm.due[r.visits[0].client].household, nd + gm.due[r.visits[-1].client].household
        start, end = (r.start_depot, r.end_depot)
        if gm.sessions[r.vehicle].depot:
            assert start == end == gm.sessions[r.vehicle].depot >= 2               # an outpost and back
            from_outposts += 1
        else:
            assert (start, end) == (0, 1)
        assert abs(r.visits[0].arrive_s - r.start_s - D[start, first]) <= 1      # leaves the home / outpost
        assert abs(r.end_s - r.visits[-1].depart_s - D[last, end]) <= 1        # ends at the office / outpost
    assert from_outposts
    assert any(D[0, nd + gm.due[r.visits[0].client].household] != D[1, nd + gm.due[r.visits[0].client].household]
               for r in gm.routing.routes if not gm.sessions[r.vehicle].depot)


def test_a_search_cut_short_by_the_wall_clock_is_reported(planned, tmp_path: Path, monkeypatch) -> None:
    """When the wall-clock guard stops a group before its iterations (a far slower machine, here
    an iteration rate no machine reaches), the report says the plan may differ on a re-run."""
    import planner.month as month
    from api.plan import PlanRequest, run_plan

    db = tmp_path / "cut.db"
    shutil.copy(planned[0], db)
    monkeypatch.setattr(month, "ITERATIONS_PER_SECOND", 10**9)
    monkeypatch.setattr(month, "_WALL_GUARD_EXTRA_S", 0.0)
    report = run_plan(db, PlanRequest(month="2026-12", villages=[TRIESEN], seconds=0.2, workers=1))
    cut = [n for n in report["notes"] if "再次运行可能得到不同的计划" in n]
    assert sorted(n.split(":")[0] for n in cut) == sorted(g["group"] for g in report["groups"])
    assert not report["failed"] and all(g["planned"] > 0 for g in report["groups"])
