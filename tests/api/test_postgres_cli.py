"""The ``zhudian`` command on a PostgreSQL + PostGIS store: the whole chain.

Real processes given a ``postgresql+psycopg://`` URL where the other CLI tests give a file:
import, zone, export, plan, visits and a route map (the sheets read the plan the same way).  The
import report and every layer read back must be those of the same import into a SQLite file.
Skipped without a server (``ZHUDIAN_TEST_PG_URL``), failed under CI.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import geopandas as gpd
import pytest
from geopandas.testing import assert_geodataframe_equal
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from api import store
from api.store import plans
from api.store.models import Household, Visit
from test_cli import DEMO, zhudian

pytestmark = pytest.mark.postgresql

TRIESEN = "990101001009"
GROUP = f"{TRIESEN}-G1"
MONTH = "2026-12"


def _import(db: str | Path) -> dict:
    """Import the demo data; the JSON report."""
    proc = zhudian("import", db, "--villages", DEMO / "villages.gpkg", "--areas", DEMO / "areas.gpkg",
                   "--households", DEMO / "households.gpkg", "--roads", DEMO / "roads.gpkg", "--json")
    return json.loads(proc.stdout)


def _comparable(report: dict) -> dict:
    """An import report without what names the store."""
    return {k: v for k, v in report.items() if k not in {"db", "store", "created"}}


def _layers(db: str | Path) -> dict[str, gpd.GeoDataFrame]:
    engine = store.open_store(db, create=False)
    try:
        return {"villages": store.load_villages(engine), "areas": store.load_areas(engine),
                "households": store.load_households(engine), "roads": store.load_roads(engine)}
    finally:
        engine.dispose()


def test_cli_chain_on_postgresql_matches_sqlite(pg_schema_url: str, tmp_path: Path) -> None:
    url = pg_schema_url
    on_pg, on_sqlite = _import(url), _import(tmp_path / "demo.db")
    assert on_pg["households"] > 100
    assert _comparable(on_pg) == _comparable(on_sqlite)
    pg_layers, sqlite_layers = _layers(url), _layers(tmp_path / "demo.db")
    for name, frame in pg_layers.items():
        assert_geodataframe_equal(frame, sqlite_layers[name])

    zoned = json.loads(zhudian("zone", url, "--village", TRIESEN, "--roster", DEMO / "roster.csv",
                               "--seconds", "1", "--json").stdout)
    assert zoned
    out = tmp_path / "export.geojson"
    zhudian("export", url, "households", "--out", out, "--quiet")
    assert len(gpd.read_file(out)) == len(pg_layers["households"])

    # a month plan, stored in PostgreSQL and read back
    plan = json.loads(zhudian("plan", url, "--month", MONTH, "--village", TRIESEN, "--seconds", "1",
                              "--out", tmp_path / "pg" / "routes", "--json").stdout)
    engine = store.open_store(url, create=False)
    try:
        hh = store.load_households(engine, village_ids=[TRIESEN])
        stops = [s["household"] for g in plan["groups"] for ss in g["sessions"] for s in ss["stops"]]
        unplanned = [u["household"] for u in plan["unplanned"]]
        assert set(stops) | set(unplanned) == set(hh["household_id"]) and len(stops) == len(set(stops))
        stored = plans.load_month_plan(engine, TRIESEN, dt.date(2026, 12, 1))
        assert stored is not None
        # visits recorded in the store reach the coverage map
        with Session(engine) as session, session.begin():
            pk = session.scalar(select(Household.id).where(Household.household_id == stops[0]))
            session.add(Visit(household_fk=pk, date=dt.date(2026, 12, 1), outcome="met", client_id="p-1"))
        states = plans.visit_states(engine, TRIESEN, 2026)
        assert states[stops[0]]
        with engine.connect() as conn:
            assert conn.scalar(text("SELECT postgis_version()"))  # the database has PostGIS
    finally:
        engine.dispose()

    zhudian("map", url, "routes", "--group", GROUP, "--month", MONTH, "--out", tmp_path / "route.html", "--quiet")
    assert (tmp_path / "route.html").stat().st_size > 10_000
