"""``zhudian plan`` end to end: demo village, zones, a real month, routes checked independently."""

from __future__ import annotations

import datetime as dt
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from sqlalchemy import func, select

from api import store
from api.store import plans
from api.store.models import MonthPlan, VisitSession
from test_cli import DEMO, zhudian

TRIESEN = "990101001009"
GPX = "{http://www.topografix.com/GPX/1/1}"


@pytest.fixture(scope="module")
def planned(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict, Path]:
    tmp = tmp_path_factory.mktemp("plan")
    db = tmp / "demo.db"
    zhudian("import", db, "--villages", DEMO / "villages.gpkg", "--areas", DEMO / "areas.gpkg",
            "--households", DEMO / "households.gpkg", "--roads", DEMO / "roads.gpkg", "--quiet")
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
