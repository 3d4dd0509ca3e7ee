"""The store's two backends for the tests: a SQLite file, and a PostgreSQL database.

``target`` runs a test once per backend.  The PostgreSQL one needs a server: its URL comes from
``ZHUDIAN_TEST_PG_URL`` (``make test`` runs pytest through ``.ci/with-postgres.sh``, which starts
a throwaway PostgreSQL + PostGIS cluster and sets it).  Without it the PostgreSQL tests are
skipped, unless the ``CI`` environment variable is set: then they fail.  Each PostgreSQL test gets
a schema of its own in that database (first on its ``search_path``, so the store's tables go
there), dropped afterwards.
"""

from __future__ import annotations

import os
import sqlite3
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

PG_ENV = "ZHUDIAN_TEST_PG_URL"
BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)]


def pg_unavailable(reason: str) -> None:
    """Skip the test, or fail it under ``CI`` where PostgreSQL must be there."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason}; under CI the PostgreSQL tests must run (make test starts a server "
                    f"with .ci/with-postgres.sh after make system-deps installs it).")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[Engine]:
    """An engine on the test database of ``ZHUDIAN_TEST_PG_URL`` (skips or fails without one)."""
    url = os.environ.get(PG_ENV)
    if not url:
        pg_unavailable(f"{PG_ENV} is not set: no PostgreSQL server for the tests "
                       "(run pytest through sh .ci/with-postgres.sh)")
    engine = create_engine(url, poolclass=NullPool, connect_args={"connect_timeout": 10})
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001 - any failure to connect means "no server"
        engine.dispose()
        pg_unavailable(f"PostgreSQL at {PG_ENV} does not answer: {exc}")
    yield engine
    engine.dispose()


@pytest.fixture
def pg_schema_url(pg_server: Engine) -> Iterator[str]:
    """The URL of a fresh, empty schema of the test database (dropped after the test)."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    with pg_server.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    url = make_url(pg_server.url).update_query_dict(
        # lock_timeout: a test that leaves a transaction open fails instead of hanging the run
        {"options": f"-c search_path={schema},public -c lock_timeout=60s"}
    )
    yield url.render_as_string(hide_password=False)
    with pg_server.begin() as conn:
        conn.execute(text("SET LOCAL lock_timeout = '20s'"))
        conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))


@dataclass(frozen=True)
class StoreTarget:
    """Where a test's store lives.

    Attributes
    ----------
    backend : str
        ``"sqlite"`` or ``"postgresql"``.
    url : str
        What :func:`api.store.open_store` takes: a file path for SQLite, a URL for PostgreSQL.
    path : Path or None
        The SQLite file.
    """

    backend: str
    url: str
    path: Path | None = None

    @property
    def sqlite(self) -> bool:
        return self.backend == "sqlite"

    def dump(self) -> list[str]:
        """Every table and row as text, read on a connection of its own (committed data only)."""
        if self.path is not None:
            con = sqlite3.connect(self.path)  # the stdlib driver, WAL included
            try:
                return list(con.iterdump())
            finally:
                con.close()
        engine = create_engine(self.url, poolclass=NullPool)
        try:
            with engine.connect() as conn:
                out = []
                for table in sorted(inspect(conn).get_table_names()):
                    rows = conn.execute(text(f'SELECT * FROM "{table}"')).all()
                    out.append(f"TABLE {table}")
                    out += sorted(repr(tuple(row)) for row in rows)
                return out
        finally:
            engine.dispose()


@pytest.fixture(params=BACKENDS)
def target(request: pytest.FixtureRequest, tmp_path: Path) -> StoreTarget:
    """A place for a new store, once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        path = tmp_path / "店.db"
        return StoreTarget("sqlite", str(path), path)
    return StoreTarget("postgresql", request.getfixturevalue("pg_schema_url"))
