"""Schema migrations of the store with Alembic, configured in code: no ``alembic.ini``.

The revisions live in ``api/store/migrations/versions`` and ship with the package.  Their ids
are the schema versions, four digits (``"0002"`` is the baseline: the schema of version 2 as
Zhudian made it before migrations existed), so :data:`api.store.models.SCHEMA_VERSION` is the
number of the head revision.  :func:`api.store.open_store` upgrades every store it opens:

- an empty database gets ``upgrade head``;
- a store made before migrations (``meta.schema_version`` 2, no ``alembic_version`` table) is
  stamped with the baseline, then upgraded;
- a store at an older revision is upgraded;
- a store at a revision this program does not know (made by a newer Zhudian) is refused.

All of it runs in the one write transaction of :func:`api.store.open_store`.

Command line, for developers (``python -m api.store.migrate --help``)::

    python -m api.store.migrate revision -m "visits: add duration"   # autogenerate the next revision
    python -m api.store.migrate check [STORE]    # models and migrations agree? (exit 1 if not)
    python -m api.store.migrate upgrade STORE    # upgrade a store (what open_store does)
    python -m api.store.migrate current STORE    # revision and schema version of a store
    python -m api.store.migrate history          # the revisions, oldest first

``STORE`` is a SQLite file or a URL (``postgresql+psycopg://...``); ``DATABASE_URL`` is used
when it is left out.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, DefaultClause
from sqlalchemy.sql.functions import FunctionElement

from api.store.models import SCHEMA_VERSION, Base

__all__ = [
    "BASELINE",
    "MIGRATIONS",
    "alembic_config",
    "configure_context",
    "differences",
    "include_name",
    "make_revision",
    "render_item",
    "revision_id",
    "script_directory",
    "upgrade",
]

MIGRATIONS = Path(__file__).with_name("migrations")
"""The Alembic script directory (``env.py``, ``script.py.mako``, ``versions/``)."""
BASELINE = "0002"
"""Revision of the schema that stores made before migrations have (``meta.schema_version`` 2)."""
IGNORED_TABLES = frozenset(
    {"spatial_ref_sys", "geometry_columns", "geography_columns", "raster_columns",
     "raster_overviews", "layer", "topology"}
)
"""Tables of PostGIS (and its topology extension) that may sit beside the store's tables."""


def revision_id(version: int) -> str:
    """The revision id of a schema version: ``2 -> "0002"``."""
    return f"{version:04d}"


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic configuration for the store's migrations, made in code.

    Parameters
    ----------
    connection : Connection, optional
        The connection ``env.py`` runs the migrations on, inside the caller's transaction.
    """
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("file_template", "%%(rev)s_%%(slug)s")
    config.set_main_option("truncate_slug_length", "40")
    config.attributes["connection"] = connection
    return config


def script_directory() -> ScriptDirectory:
    """The revisions shipped with this program."""
    return ScriptDirectory.from_config(alembic_config())


def include_name(name: str | None, type_: str, parent_names: Any) -> bool:
    """Leave PostGIS's own tables out of autogenerate's comparison."""
    return not (type_ == "table" and name in IGNORED_TABLES)


def render_item(type_: str, obj: Any, autogen_context: Any) -> str | Literal[False]:
    """Render ``server_default=func.now()`` as ``sa.func.now()``, the same on every backend.

    Autogenerate would write what the comparing database compiles it to
    (``(CURRENT_TIMESTAMP)`` on SQLite).
    """
    if (
        type_ == "server_default"
        and isinstance(obj, DefaultClause)
        and isinstance(obj.arg, FunctionElement)
        and obj.arg.name == "now"
    ):
        return "sa.func.now()"
    return False


def configure_context(context: Any, connection: Connection) -> None:
    """Configure Alembic's ``context`` (from ``env.py``) for the store on ``connection``.

    SQLite alters tables by copying them (batch mode, which autogenerate writes for every
    backend); the comparison of autogenerate covers column types and leaves PostGIS's tables
    alone.
    """
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=True,
        compare_type=True,
        include_name=include_name,
        render_item=render_item,
    )


def upgrade(connection: Connection, *, stamp_baseline: bool = False) -> None:
    """Upgrade the store on ``connection`` to the head revision, in the caller's transaction.

    Parameters
    ----------
    connection : Connection
        In a transaction: nothing is committed here.
    stamp_baseline : bool, default False
        First record the store as being at :data:`BASELINE` (a store made before migrations).
    """
    config = alembic_config(connection)
    if stamp_baseline:
        command.stamp(config, BASELINE)
    command.upgrade(config, "head")


def differences(connection: Connection) -> list[Any]:
    """What autogenerate finds between the models and the database on ``connection``.

    Empty when the migrations create exactly the tables of :mod:`api.store.models`.
    """
    context = MigrationContext.configure(
        connection,
        opts={"compare_type": True, "include_name": include_name, "target_metadata": Base.metadata},
    )
    return list(compare_metadata(context, Base.metadata))


def make_revision(message: str, *, url: str | None = None, empty: bool = False) -> Path:
    """Write the next revision, autogenerated from what the models add to the head revision.

    Parameters
    ----------
    message : str
        What the revision does (its docstring and the file name's slug).
    url : str, optional
        Compare against this store (upgraded first); a temporary SQLite file by default.
    empty : bool, default False
        Write a revision even when the models add nothing (for data migrations).

    Returns
    -------
    Path
        The new file, ``versions/NNNN_<slug>.py``.

    Raises
    ------
    ValueError
        The models add nothing and ``empty`` is false.
    """
    from api.store import open_store

    head = script_directory().get_current_head()
    if head is None or not head.isdigit():
        raise ValueError(f"迁移的最新版本 {head!r} 不是四位数字。处理办法: 检查 {MIGRATIONS / 'versions'}。")
    new_id = revision_id(int(head) + 1)
    with tempfile.TemporaryDirectory() as tmp:
        engine = open_store(url or Path(tmp) / "head.db")
        try:
            with engine.begin() as connection:
                if not empty and not differences(connection):
                    raise ValueError("模型与迁移一致，没有要生成的迁移。处理办法: 先修改 api/store/models.py。")
                script = command.revision(
                    alembic_config(connection), message=message, autogenerate=not empty,
                    rev_id=new_id,
                )
        finally:
            engine.dispose()
    assert script is not None and not isinstance(script, list)
    return Path(script.path)


# --------------------------------------------------------------------------------------------
# Command line


def _store_argument(value: str | None) -> str:
    store = value or os.environ.get("DATABASE_URL")
    if not store:
        raise SystemExit("没有给出存储。处理办法: 给出 SQLite 文件或连接地址，或设置 DATABASE_URL。")
    return store


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m api.store.migrate``: see the module docstring."""
    parser = argparse.ArgumentParser(
        prog="python -m api.store.migrate", description="驻点存储的结构迁移 (Alembic)。"
    )
    sub = parser.add_subparsers(dest="command", required=True)
    rev = sub.add_parser("revision", help="按模型的改动自动生成下一个迁移")
    rev.add_argument("-m", "--message", required=True, help="迁移说明，如 'visits: add duration'")
    rev.add_argument("--url", help="与这个存储比较（默认: 临时 SQLite 文件）")
    rev.add_argument("--empty", action="store_true", help="生成空迁移（数据迁移用）")
    check = sub.add_parser("check", help="检查模型与迁移是否一致（不一致时退出码 1）")
    check.add_argument("store", nargs="?", help="与这个存储比较（默认: 临时 SQLite 文件）")
    for name, text in (("upgrade", "把存储升级到最新结构"), ("current", "显示存储的迁移版本")):
        p = sub.add_parser(name, help=text)
        p.add_argument("store", nargs="?", help="SQLite 文件或连接地址（默认: DATABASE_URL）")
    sub.add_parser("history", help="列出全部迁移")
    args = parser.parse_args(argv)

    from api.store import open_store

    if args.command == "revision":
        try:
            path = make_revision(args.message, url=args.url, empty=args.empty)
        except ValueError as exc:
            print(exc, file=sys.stderr)
            return 1
        print(f"已生成 {path}")
        print("处理办法: 检查生成的代码（约束名、默认值、SQLite 上的 batch 操作），再运行 "
              "pytest tests/api/test_migrations.py。")
        return 0
    if args.command == "history":
        for script in reversed(list(script_directory().walk_revisions())):
            print(f"{script.revision}  {script.doc}")
        return 0
    if args.command == "check":
        with tempfile.TemporaryDirectory() as tmp:
            engine = open_store(args.store or Path(tmp) / "head.db")
            try:
                with engine.connect() as connection:
                    diff = differences(connection)
            finally:
                engine.dispose()
        for item in diff:
            print(item)
        print("模型与迁移一致。" if not diff else
              "模型与迁移不一致。处理办法: python -m api.store.migrate revision -m '...'")
        return 1 if diff else 0
    where = _store_argument(args.store)
    if args.command == "upgrade":
        open_store(where).dispose()
        print(f"已升级到结构版本 {SCHEMA_VERSION}（迁移 {revision_id(SCHEMA_VERSION)}）。")
        return 0
    print(_describe(where))
    return 0


def _describe(where: str) -> str:
    """The revision and schema version of a store, read without changing anything."""
    from sqlalchemy import create_engine

    from api.store import _state, _url

    url = _url(where)
    if url.get_backend_name() == "sqlite" and url.database and not Path(url.database).exists():
        raise SystemExit(f"找不到存储文件 {url.database}。")
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            state = _state(connection)
    finally:
        engine.dispose()
    return (f"存储: 迁移 {state.revision or '无'}，结构版本 {state.version or '无'}；"
            f"本程序: 迁移 {revision_id(SCHEMA_VERSION)}，结构版本 {SCHEMA_VERSION}")


if __name__ == "__main__":
    sys.exit(main())
