"""Coverage computed in SQL equals the straightforward computation, on both backends.

A small store with everything that makes the figures tricky: two towns, a village with two zone
plans (only the latest counts), several visits of a household on one day (the latest by id
wins), households that moved, visits after the period, problems closed and open.  Checked:

* the report's visit aggregates read in SQL (:func:`api.coverage.load_review_data`) against the
  same aggregates computed from the visit rows (``visit_rows=True``), and every figure of
  :func:`api.coverage.compute` either way;
* the service's ``GET /coverage`` and ``/coverage/gaps`` queries (:mod:`api.service.data`)
  against a reference computed in Python from the stored rows.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict

import geopandas
import numpy as np
import pandas as pd
import pytest
import shapely
from shapely.geometry import Polygon
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.coverage import compute, load_review_data, parse_period, visit_summary
from api.store import ImportBatch, open_store, save_batch
from api.store.models import Group, Household, Problem, Village, Visit, Zone, ZoneHousehold, ZonePlan
from api.service import data
from api.service.security import Principal, Scope

VILLAGES = {"V1": "东镇", "V2": "东镇", "V3": "西镇"}
OUTCOMES = ["met", "not_home", "refused", "moved"]


def _box(x: float) -> Polygon:
    return Polygon([(x, 30.0), (x + 0.01, 30.0), (x + 0.01, 30.01), (x, 30.01)])


def build(url: str, seed: int = 0):
    """The store of the module docstring; returns its engine."""
    rng = np.random.default_rng(seed)
    engine = open_store(url)
    vids = list(VILLAGES)
    villages = geopandas.GeoDataFrame(
        {"village_id": vids, "name": [f"村{v}" for v in vids], "town": list(VILLAGES.values()),
         "depot_lon": np.nan, "depot_lat": np.nan, "attrs": [{}] * 3},
        geometry=[_box(110 + k) for k in range(3)], crs="EPSG:4326")
    areas = geopandas.GeoDataFrame(
        {"area_id": [f"A{v}" for v in vids], "village_id": vids, "name": vids, "kind": "natural_village",
         "attrs": [{}] * 3}, geometry=[_box(110 + k) for k in range(3)], crs="EPSG:4326")
    n = 240
    village_of = [vids[i % 3] for i in range(n)]
    households = geopandas.GeoDataFrame(
        {"household_id": [f"H{i:03d}" for i in range(n)], "area_id": [f"A{v}" for v in village_of],
         "village_id": village_of, "address": None, "head": None, "phone": None,
         "size": pd.array([None] * n, dtype="Int64"),
         "tags": ["elderly_alone" if i % 7 == 0 else "low_income" if i % 11 == 0 else "" for i in range(n)],
         "placement": "in_area", "attrs": [{}] * n},
        geometry=shapely.points(110 + np.array([vids.index(v) for v in village_of]) + 0.005, np.full(n, 30.005)),
        crs="EPSG:4326")
    save_batch(engine, ImportBatch(villages=villages, areas=areas, households=households))
    with Session(engine) as s, s.begin():
        vpk = dict(s.execute(select(Village.village_id, Village.id)).all())
        hpk = dict(s.execute(select(Household.household_id, Household.id)).all())
        groups = {}
        for v in vids:
            for g in (1, 2):
                grp = Group(village_fk=vpk[v], name=f"{v}-G{g}", attrs={})
                s.add(grp)
                s.flush()
                groups[v, g] = grp.id
        # V1 has two zone plans: version 1 (every household in one zone) and the latest, version 2
        for v, versions in (("V1", (1, 2)), ("V2", (1,))):
            members = [h for i, h in enumerate(sorted(hpk)) if village_of[i] == v]
            for version in versions:
                plan = ZonePlan(village_fk=vpk[v], version=version, params={}, scores={}, status="published")
                s.add(plan)
                s.flush()
                parts = [members] if version == 1 and len(versions) > 1 else [members[::2], members[1::2]]
                for k, part in enumerate(parts, start=1):
                    zone = Zone(plan_fk=plan.id, group_fk=groups[v, k], label=f"{v}-Z{k}-v{version}")
                    s.add(zone)
                    s.flush()
                    s.add_all(ZoneHousehold(zone_fk=zone.id, household_fk=hpk[h]) for h in part)
        visits = []
        for _ in range(1_500):
            i = int(rng.integers(0, n - 20))  # the last 20 households are never visited
            day = dt.date(2025, 1, 1) + dt.timedelta(days=int(rng.integers(0, 730)))
            outcome = OUTCOMES[int(rng.choice(4, p=[0.6, 0.25, 0.1, 0.05]))]
            visits.append((i, day, outcome))
            if rng.random() < 0.1:  # a second visit on the same day, recorded later
                visits.append((i, day, OUTCOMES[int(rng.integers(0, 4))]))
        rng.shuffle(visits)  # ids do not follow dates
        rows = [Visit(household_fk=hpk[f"H{i:03d}"], group_fk=groups[village_of[i], 1 + i % 2], date=day,
                      outcome=outcome) for i, day, outcome in visits]
        s.add_all(rows)
        s.flush()
        for v in rows[::15]:
            closed = rng.random() < 0.6
            s.add(Problem(household_fk=v.household_fk, visit_fk=v.id, category="其他", text="问题",
                          deadline=v.date + dt.timedelta(days=20),
                          status="resolved" if closed else "open",
                          resolved_date=v.date + dt.timedelta(days=int(rng.integers(1, 60))) if closed else None))
    return engine


@pytest.fixture
def engine(target):
    engine = build(target.url)
    yield engine
    engine.dispose()


PERIODS = [parse_period(month="2026-06"), parse_period(quarter="2026Q4"), parse_period(month="2025-12")]


@pytest.mark.parametrize("town", [None, "东镇"])
def test_report_aggregates_in_sql_equal_those_of_the_rows(engine, town):
    for period in PERIODS:
        sql = load_review_data(engine, period, town=town)
        rows = load_review_data(engine, period, town=town, visit_rows=True)
        assert sql.summary is not None and not len(sql.visits)
        assert rows.summary is None and len(rows.visits)
        a, b = visit_summary(sql), visit_summary(rows)
        pd.testing.assert_frame_equal(a.households, b.households)
        pd.testing.assert_frame_equal(a.months, b.months, check_dtype=False)
        assert a.first_this_year == b.first_this_year
        fa, fb = compute(sql), compute(rows)
        for name in ("households", "zones", "villages", "towns", "trend", "town_trend", "leaders", "groups",
                     "overdue"):
            pd.testing.assert_frame_equal(getattr(fa, name), getattr(fb, name), obj=f"{period.label} {name}")
        assert fa.total.keys() == fb.total.keys()
        for k, v in fa.total.items():
            assert v == fb.total[k] or (isinstance(v, float) and math.isnan(v) and math.isnan(fb.total[k]))


def test_the_latest_visit_of_a_day_is_the_last_recorded(engine):
    """Two visits on a household's last day: its last outcome is the one with the higher id."""
    with engine.connect() as conn:
        rows = conn.execute(select(Visit.id, Visit.household_fk, Visit.date, Visit.outcome)).all()
    last: dict[int, tuple] = {}
    for vid, h, day, outcome in rows:
        if day <= dt.date(2026, 12, 31) and (h not in last or (day, vid) > last[h][:2]):
            last[h] = (day, vid, outcome)
    tied = [h for h, (day, vid, _) in last.items()
            if sum(1 for _, hh, d, _ in rows if hh == h and d == day) > 1]
    assert tied, "the store has no household whose last day holds two visits"
    summary = visit_summary(load_review_data(engine, parse_period(month="2026-12"))).households
    for h in tied:
        assert summary.loc[h, "last_outcome"] == last[h][2]
        assert summary.loc[h, "last_visit"].date() == last[h][0]


def reference(engine, year: int):
    """Per household: village id, town, latest zone label (or None), visited in ``year``, last visit."""
    with engine.connect() as conn:
        hh = conn.execute(select(Household.id, Village.village_id).join(Village)).all()
        visits = conn.execute(select(Visit.household_fk, Visit.date, Visit.outcome)).all()
        plans = conn.execute(select(ZonePlan.id, ZonePlan.village_fk, ZonePlan.version)).all()
        zones = conn.execute(select(Zone.id, Zone.plan_fk, Zone.label)).all()
        members = conn.execute(select(ZoneHousehold.zone_fk, ZoneHousehold.household_fk)).all()
    latest = {}
    for pid, vfk, version in plans:
        if vfk not in latest or version > latest[vfk][1]:
            latest[vfk] = (pid, version)
    latest_plans = {pid for pid, _ in latest.values()}
    zone_label = {zid: label for zid, pid, label in zones if pid in latest_plans}
    zone_of = {h: zone_label[z] for z, h in members if z in zone_label}
    visited = {h for h, day, outcome in visits if day.year == year and outcome != "not_home"}
    last = defaultdict(lambda: None)
    for h, day, _ in visits:
        last[h] = max(day, last[h]) if last[h] else day
    return {h: {"village": v, "town": VILLAGES[v], "zone": zone_of.get(h), "visited": h in visited,
                "last": last[h]} for h, v in hh}


def counts(ref: dict, key, town: str | None = None) -> dict:
    out: dict = defaultdict(lambda: [0, 0])
    for r in ref.values():
        if town is not None and r["town"] != town:
            continue
        k = key(r)
        if k is None:
            continue
        out[k][0] += 1
        out[k][1] += r["visited"]
    return {k: tuple(v) for k, v in out.items()}


@pytest.mark.parametrize("year", [2025, 2026])
def test_service_coverage_equals_a_reference(engine, year):
    scope = Scope(Principal(token_id=0, name="test", role="city_admin"))
    ref = reference(engine, year)
    cases = [("town", None, lambda r: r["town"]), ("village", None, lambda r: r["village"]),
             ("zone", None, lambda r: r["zone"]), ("village", "东镇", lambda r: r["village"]),
             ("zone", "东镇", lambda r: r["zone"]), ("zone", "西镇", lambda r: r["zone"])]
    with engine.connect() as conn:
        for level, town, key in cases:
            got = data.coverage(conn, scope, level, year, None, town)
            expected = counts(ref, key, town)
            assert {r["id"] if level != "village" else r["village"]: (r["households"], r["visited"])
                    for r in got["rows"]} == expected, (level, town)
            if expected:
                n = sum(v[0] for v in expected.values())
                assert (got["total"]["households"], got["total"]["visited"]) == (n, sum(v[1] for v in expected.values()))
            else:
                assert got["rows"] == [] and got["total"] is None
        gaps = data.gaps_fc(conn, scope, year, "V2", 1000, 0, "http://test/coverage/gaps")
    with Session(engine) as s:
        pk_of = dict(s.execute(select(Household.household_id, Household.id)).all())
    never = {h for h, r in ref.items() if r["village"] == "V2" and not r["visited"]}
    assert gaps["numberMatched"] == len(never) == len(gaps["features"])
    last_of = {pk_of[f["id"]]: f["properties"]["last_visit"] for f in gaps["features"]}
    assert set(last_of) == never
    assert any(last is not None for last in last_of.values())
    for h, last in last_of.items():
        assert last == (ref[h]["last"].isoformat() if ref[h]["last"] else None)
