"""Schema migrations (api.store.migrate): models and migrations agree, stores of every age open.

Each test that touches a database runs on SQLite and on PostgreSQL (``target``, see conftest.py).
"""

from __future__ import annotations

import re
import shutil
import sqlite3
import threading
from pathlib import Path
from types import SimpleNamespace

import pytest
from alembic import command
from sqlalchemy import CheckConstraint, Column, Engine, Integer, MetaData, Table, create_engine, event, inspect, text
from sqlalchemy.pool import NullPool

from api.store import ImportBatch, load_households, load_villages, open_store, save_batch
from api.store import migrate
from api.store.models import SCHEMA_VERSION, Base
from test_store import areas, households, villages

V2_DUMP = Path(__file__).resolve().parents[1] / "data" / "store" / "v2.sql"
HEAD = f"{SCHEMA_VERSION:04d}"


def raw_engine(target) -> Engine:
    """An engine on the target's database without open_store (nothing created or upgraded)."""
    url = f"sqlite:///{target.path}" if target.sqlite else target.url
    return create_engine(url, poolclass=NullPool)


def tables(target) -> set[str]:
    engine = raw_engine(target)
    try:
        with engine.connect() as conn:
            return set(inspect(conn).get_table_names()) - migrate.IGNORED_TABLES  # PostGIS's
    finally:
        engine.dispose()


def revision_and_version(engine: Engine) -> tuple[str, str]:
    with engine.connect() as conn:
        revision = conn.scalar(text("SELECT version_num FROM alembic_version"))
        version = conn.scalar(text("SELECT value FROM meta WHERE key = 'schema_version'"))
    return revision, version


def make_legacy_store(target) -> None:
    """A store as Zhudian made it before migrations: the baseline tables, meta 2, no alembic_version."""
    engine = raw_engine(target)
    try:
        with engine.begin() as conn:
            command.upgrade(migrate.alembic_config(conn), migrate.BASELINE)
            conn.execute(text("DROP TABLE alembic_version"))
            conn.execute(text("INSERT INTO meta (key, value) VALUES ('schema_version', '2')"))
    finally:
        engine.dispose()


# --- the migrations themselves ----------------------------------------------------------------


def test_models_and_migrations_agree(target):
    """Fails when api/store/models.py changed without a migration (or the other way round)."""
    engine = open_store(target.url)
    try:
        with engine.connect() as conn:
            diff = migrate.differences(conn)
    finally:
        engine.dispose()
    assert not diff, (
        "api/store/models.py and the migrations disagree: "
        + "; ".join(map(str, diff))
        + '\nFix: python -m api.store.migrate revision -m "what changed", then review the file.'
    )


def check_constraints(engine: Engine) -> dict[tuple[str, str], set[str]]:
    """(table, CHECK constraint name) -> the quoted literals of its SQL (the allowed values).

    Autogenerate does not compare CHECK constraints; the literals are what the enumerations of
    the models put in them, and read the same on both backends.
    """
    out = {}
    with engine.connect() as conn:
        inspector = inspect(conn)
        for table in set(inspector.get_table_names()) - migrate.IGNORED_TABLES - {"alembic_version"}:
            for ck in inspector.get_check_constraints(table):
                out[(table, ck["name"])] = set(re.findall(r"'([^']*)'", str(ck["sqltext"])))
    return out


def model_check_constraints() -> dict[tuple[str, str], set[str]]:
    return {
        (table.name, str(ck.name)): set(re.findall(r"'([^']*)'", str(ck.sqltext)))
        for table in Base.metadata.sorted_tables
        for ck in table.constraints
        if isinstance(ck, CheckConstraint)
    }


@pytest.mark.parametrize("start", ["empty", "legacy"])
def test_check_constraints_match_the_models(target, start):
    """Enumerations changed in the models (e.g. a new problem status) need a migration too."""
    if start == "legacy":
        make_legacy_store(target)
    open_store(target.url).dispose()
    engine = raw_engine(target)
    try:
        assert check_constraints(engine) == model_check_constraints()
    finally:
        engine.dispose()


def test_revisions_are_a_line_of_schema_versions():
    scripts = list(reversed(list(migrate.script_directory().walk_revisions())))
    assert [s.revision for s in scripts][0] == migrate.BASELINE
    assert migrate.script_directory().get_heads() == [HEAD]
    previous = None
    for script in scripts:
        assert re.fullmatch(r"\d{4}", script.revision), script.path
        assert Path(script.path).name.startswith(f"{script.revision}_")
        assert script.down_revision == previous
        if previous is not None:
            assert int(script.revision) == int(previous) + 1
        previous = script.revision
    assert int(previous) == SCHEMA_VERSION


def test_downgrade_to_nothing_and_up_again(target):
    open_store(target.url).dispose()
    engine = raw_engine(target)
    try:
        with engine.begin() as conn:
            command.downgrade(migrate.alembic_config(conn), "base")
        assert tables(target) <= {"alembic_version"}
    finally:
        engine.dispose()
    engine = open_store(target.url)
    assert revision_and_version(engine) == (HEAD, str(SCHEMA_VERSION))
    engine.dispose()


# --- opening stores of every age --------------------------------------------------------------


def test_a_store_from_before_migrations_is_stamped_and_upgraded(tmp_path):
    """A real store made by Zhudian's create_all (schema version 2), kept as a SQL dump."""
    db = tmp_path / "v2.db"
    con = sqlite3.connect(db)
    con.executescript(V2_DUMP.read_text(encoding="utf-8"))
    con.close()
    engine = open_store(db, create=False)
    try:
        assert revision_and_version(engine) == (HEAD, str(SCHEMA_VERSION))
        with engine.connect() as conn:
            assert not migrate.differences(conn)
            visit = conn.execute(text("SELECT note, client_id FROM visits")).one()
        assert tuple(visit) == ("在家", "c-1")
        hh = load_households(engine)
        assert hh["household_id"].tolist() == ["H1", "H2", "H3", "H4", "H5", "H6"]
        assert hh["head"].tolist()[:3] == ["王堃", "张䶮", "𠮷田"]
        save_batch(engine, ImportBatch(villages=villages()))  # still writable
    finally:
        engine.dispose()


def test_a_legacy_store_upgrades_on_both_backends(target):
    make_legacy_store(target)
    engine = open_store(target.url)
    try:
        assert revision_and_version(engine) == (HEAD, str(SCHEMA_VERSION))
        with engine.connect() as conn:
            assert not migrate.differences(conn)
    finally:
        engine.dispose()


def test_an_older_revision_is_upgraded_with_its_data(target):
    engine = raw_engine(target)
    try:
        with engine.begin() as conn:
            command.upgrade(migrate.alembic_config(conn), migrate.BASELINE)
            conn.execute(text("INSERT INTO meta (key, value) VALUES ('schema_version', '2')"))
    finally:
        engine.dispose()
    engine = open_store(target.url, create=False)  # opening upgrades, even without create
    try:
        assert revision_and_version(engine) == (HEAD, str(SCHEMA_VERSION))
        save_batch(engine, ImportBatch(villages=villages(), areas=areas(), households=households()))
    finally:
        engine.dispose()
    engine = open_store(target.url, create=False)
    assert len(load_villages(engine)) == 3
    engine.dispose()


@pytest.mark.parametrize("revision, version", [("0099", "99"), (HEAD, "99"), ("abc123", None)])
def test_a_newer_store_is_refused(target, revision, version):
    open_store(target.url).dispose()
    engine = raw_engine(target)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = :r"), {"r": revision})
        if version is None:
            conn.execute(text("DELETE FROM meta"))
        else:
            conn.execute(text("UPDATE meta SET value = :v"), {"v": version})
    engine.dispose()
    shown = version or revision
    with pytest.raises(RuntimeError, match=rf"结构版本是 {shown}，本程序使用版本 {SCHEMA_VERSION}。处理办法: 使用与存储相配的程序版本"):
        open_store(target.url)
    with pytest.raises(RuntimeError, match=shown):
        open_store(target.url, create=False)


def test_an_unknown_old_version_is_refused(target):
    make_legacy_store(target)
    engine = raw_engine(target)
    with engine.begin() as conn:
        conn.execute(text("UPDATE meta SET value = '1'"))
    engine.dispose()
    with pytest.raises(RuntimeError, match="结构版本是 1"):
        open_store(target.url)


def test_a_failed_creation_leaves_nothing(target):
    """All revisions run in one transaction: a failure in the last statement undoes the first."""
    ddl: list[str] = []

    def fail(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith(("CREATE", "INSERT INTO META")):
            ddl.append(statement)
        if statement.startswith("INSERT INTO meta"):
            raise RuntimeError("injected failure")

    event.listen(Engine, "before_cursor_execute", fail)
    try:
        with pytest.raises(RuntimeError, match="injected failure"):
            open_store(target.url)
    finally:
        event.remove(Engine, "before_cursor_execute", fail)
    assert len(ddl) > 20  # every table and index was created before the failure
    assert tables(target) == set()
    engine = open_store(target.url)
    assert revision_and_version(engine) == (HEAD, str(SCHEMA_VERSION))
    engine.dispose()


def test_stores_opened_at_once_are_created_once(target):
    if target.sqlite:
        target.path.touch()
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def open_it() -> None:
        try:
            start.wait()
            open_store(target.url).dispose()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=open_it) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    if errors:
        raise errors[0]
    engine = open_store(target.url)
    assert revision_and_version(engine) == (HEAD, str(SCHEMA_VERSION))
    engine.dispose()


def test_opening_retries_a_transient_sqlite_lock(tmp_path):
    """SQLite may answer "database is locked" at once (WAL files opened and closed together)."""
    locked: list[str] = []

    def lock_once(conn, cursor, statement, parameters, context, executemany):
        if not locked:
            locked.append(statement)
            raise sqlite3.OperationalError("database is locked")

    event.listen(Engine, "before_cursor_execute", lock_once)
    try:
        engine = open_store(tmp_path / "店.db")
    finally:
        event.remove(Engine, "before_cursor_execute", lock_once)
    assert locked
    assert revision_and_version(engine) == (HEAD, str(SCHEMA_VERSION))
    engine.dispose()

    def always_locked(conn, cursor, statement, parameters, context, executemany):
        raise sqlite3.OperationalError("database is locked")

    event.listen(Engine, "before_cursor_execute", always_locked)
    try:
        with pytest.raises(ValueError, match="无法打开.*database is locked"):
            open_store(tmp_path / "店.db")
    finally:
        event.remove(Engine, "before_cursor_execute", always_locked)


# --- the developers' helper -------------------------------------------------------------------


def test_revision_helper_writes_the_next_migration(tmp_path, monkeypatch, capsys):
    migrations = tmp_path / "migrations"
    shutil.copytree(migrate.MIGRATIONS, migrations, ignore=shutil.ignore_patterns("__pycache__"))
    metadata = MetaData(naming_convention=Base.metadata.naming_convention)
    for table in Base.metadata.sorted_tables:
        table.to_metadata(metadata)
    Table("zz_new", metadata, Column("id", Integer, primary_key=True), Column("n", Integer))
    monkeypatch.setattr(migrate, "MIGRATIONS", migrations)
    monkeypatch.setattr(migrate, "Base", SimpleNamespace(metadata=metadata))

    assert migrate.main(["revision", "-m", "add zz_new"]) == 0
    new = migrations / "versions" / f"{SCHEMA_VERSION + 1:04d}_add_zz_new.py"
    assert new.exists(), capsys.readouterr()
    code = new.read_text(encoding="utf-8")
    assert f"revision: str = '{SCHEMA_VERSION + 1:04d}'" in code
    assert f"down_revision: str | None = '{HEAD}'" in code
    assert "op.create_table('zz_new'" in code and "pk_zz_new" in code

    assert migrate.main(["check"]) == 0  # a store upgraded with the new revision has zz_new
    assert "模型与迁移一致" in capsys.readouterr().out


def test_revision_helper_refuses_an_empty_migration(tmp_path, monkeypatch, capsys):
    migrations = tmp_path / "migrations"
    shutil.copytree(migrate.MIGRATIONS, migrations, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(migrate, "MIGRATIONS", migrations)
    assert migrate.main(["revision", "-m", "nothing"]) == 1
    assert "没有要生成的迁移" in capsys.readouterr().err
    assert sorted(p.name for p in (migrations / "versions").glob("*.py")) == sorted(
        p.name for p in (migrate.MIGRATIONS / "versions").glob("*.py")
    )
