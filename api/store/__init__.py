"""The embedded store: one SQLite file (or a PostgreSQL database) holding the data model.

:func:`open_store` opens or creates a store and returns a SQLAlchemy :class:`~sqlalchemy.Engine`.
:func:`save_batch` writes what one import brings (villages, areas, households, roads) in one
transaction: records are matched by the users' own ids, so importing a corrected file again
updates those records, adds new ids and deletes nothing unless ``replace=True``.  A failed import
leaves the store as it was: in WAL mode its rolled-back pages never count as committed, so the
content is unchanged at once, and the database file is byte-identical once the connections are
closed (which checkpoints the WAL).  ``load_*`` read the layers back as GeoDataFrames with exactly
the columns of :mod:`geo.layers`; :func:`summary` counts what is stored.

Geometry is kept as WKB in EPSG:4326 (see :mod:`api.store.models`), so plain SQLite needs no
spatial extension.  The same models serve PostgreSQL (``postgresql+psycopg://...``, e.g. the
service's ``DATABASE_URL``).  The schema is made and upgraded by the Alembic migrations of
:mod:`api.store.migrate` when a store is opened (see ``docs/STORE.md``).  Writers go one at a
time on both backends: SQLite ``BEGIN IMMEDIATE``, a PostgreSQL transaction-level advisory lock.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
import time
from collections import Counter
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from dataclasses import replace as dc_replace
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import Geod
from sqlalchemy import (
    URL,
    Engine,
    Select,
    create_engine,
    delete,
    event,
    func,
    insert,
    inspect,
    select,
    text,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.orm import Session, aliased

from api.store.models import (
    SCHEMA_VERSION,
    Area,
    Base,
    Household,
    ImportLog,
    Meta,
    Road,
    Town,
    Village,
)
from geo.layers import (
    AREA_COLUMNS,
    HOUSEHOLD_COLUMNS,
    PLACEMENTS,
    ROAD_COLUMNS,
    VILLAGE_COLUMNS,
    WGS84,
)

__all__ = [
    "ImportBatch",
    "LayerCounts",
    "SaveCounts",
    "load_areas",
    "load_households",
    "load_roads",
    "load_villages",
    "open_store",
    "save_batch",
    "summary",
]

logger = logging.getLogger(__name__)

_CHUNK = 5000
"""Ids per ``IN (...)`` list: below SQLite's and PostgreSQL's limits on bound parameters."""
_BEGIN = "zhudian_sqlite_begin"
"""Execution option naming the SQLite ``BEGIN`` mode (``"IMMEDIATE"`` for writers)."""
_GEOD = Geod(ellps="WGS84")
_SQLITE_BUSY_S = 60.0
"""Seconds a SQLite connection waits for the write lock before "database is locked"."""


# --------------------------------------------------------------------------------------------
# Opening a store


def open_store(url_or_path: str | Path, *, create: bool = True) -> Engine:
    """Open a store, creating its file and schema when needed and upgrading an older schema.

    The schema is made and upgraded by the Alembic migrations of :mod:`api.store.migrate`, in
    one write transaction: an empty database gets every migration, a store made before
    migrations existed (schema version 2) is stamped with the baseline revision, an older store
    is upgraded.  A store newer than this program is refused.

    Parameters
    ----------
    url_or_path : str or Path
        A file path (the embedded SQLite store, e.g. ``"zhudian.db"``) or a SQLAlchemy URL
        (``"sqlite:///zhudian.db"``, ``"postgresql+psycopg://user@host/db"``).
    create : bool, default True
        Create the file and the schema when they are missing.  With ``False`` the store must
        exist already (it is still upgraded when it is older than this program).

    Returns
    -------
    Engine
        The engine to pass to :func:`save_batch`, ``load_*`` and :func:`summary`.  SQLite
        connections run with ``foreign_keys=ON``, ``journal_mode=WAL`` and
        ``synchronous=NORMAL``; on both backends writers go one at a time (SQLite
        ``BEGIN IMMEDIATE``, waiting up to 60 s for the lock; a PostgreSQL transaction-level
        advisory lock).

    Raises
    ------
    FileNotFoundError
        ``create=False`` and the SQLite file does not exist.
    ValueError
        The database cannot be opened (e.g. the file is not SQLite, the server is down), or it
        holds no Zhudian store (with ``create=False``, or with tables of the store's names but
        no schema version).
    RuntimeError
        The store has a schema version this program cannot use (newer, or older than 2).
    """
    url = _url(url_or_path)
    sqlite = url.get_backend_name() == "sqlite"
    path = Path(url.database) if sqlite and url.database not in (None, "", ":memory:") else None
    if path is not None and not path.exists():
        if not create:
            raise FileNotFoundError(
                f"找不到存储文件 {path}。处理办法: 检查路径是否正确，或先导入数据以新建存储。"
            )
        path.parent.mkdir(parents=True, exist_ok=True)
    where = str(path) if path is not None else url.render_as_string()
    # SQLite: a writer waits up to _SQLITE_BUSY_S for another's transaction (default 5 s: a large
    # import, or a migration on a loaded machine, takes longer).
    connect_args = {"timeout": _SQLITE_BUSY_S} if sqlite else {}
    engine = create_engine(url, json_serializer=_json_dumps, connect_args=connect_args)
    if sqlite:
        _configure_sqlite(engine)
    elif url.get_backend_name() == "postgresql":
        _configure_postgresql(engine)
    try:
        for attempt in range(_OPEN_TRIES):
            try:
                _prepare_schema(engine, where, create=create)
                break
            except OperationalError as exc:
                # SQLite reports "database is locked" without waiting in a few races of WAL
                # files opened and closed at once (the last connection's checkpoint): retry.
                if not (sqlite and "locked" in str(exc.orig)) or attempt == _OPEN_TRIES - 1:
                    raise
                logger.info("store %s locked while opening, retrying", where)
                engine.dispose()
                time.sleep(0.1 * 2**attempt)
    except DBAPIError as exc:
        engine.dispose()
        raise ValueError(
            f"{where} 无法打开，或不是驻点存储: {exc.orig}。处理办法: 检查路径或连接地址。"
        ) from exc
    except BaseException:
        engine.dispose()
        raise
    return engine


_OPEN_TRIES = 5


def _prepare_schema(engine: Engine, where: str, *, create: bool) -> None:
    """Check the store's version; create, stamp or upgrade its schema under the write lock."""
    with engine.connect() as conn:
        step = _next_step(_state(conn), where, create=create)
    if step is not None:
        with engine.connect() as conn, conn.execution_options(**{_BEGIN: "IMMEDIATE"}).begin():
            step = _next_step(_state(conn), where, create=create)  # again, under the lock
            if step is not None:
                _migrate(conn, step)


_HEAD = f"{SCHEMA_VERSION:04d}"
"""Alembic revision of :data:`SCHEMA_VERSION` (see :mod:`api.store.migrate`)."""
_LEGACY_VERSION = "2"
"""``meta.schema_version`` of the stores made before migrations: the baseline revision."""


@dataclass(frozen=True)
class _StoreState:
    """What a database holds: its tables, ``meta.schema_version`` and Alembic revision."""

    tables: frozenset[str]
    version: str | None
    revision: str | None


def _state(conn: Any) -> _StoreState:
    tables = frozenset(inspect(conn).get_table_names())
    version = revision = None
    if "meta" in tables:
        version = conn.scalar(select(Meta.value).where(Meta.key == "schema_version"))
    if "alembic_version" in tables:
        revision = conn.scalar(text("SELECT version_num FROM alembic_version"))
    return _StoreState(tables, version, revision)


def _next_step(state: _StoreState, where: str, *, create: bool) -> str | None:
    """What opening this store takes: ``None`` (ready), ``"create"``, ``"stamp"``, ``"upgrade"``.

    Raises the errors of :func:`open_store` for a store it cannot open.
    """
    if state.revision is not None:
        if state.revision == _HEAD and state.version == str(SCHEMA_VERSION):
            return None
        if state.revision != _HEAD and state.revision in _known_revisions():
            return "upgrade"
        raise _version_error(where, state.version or state.revision)
    if state.version is not None:
        if state.version == _LEGACY_VERSION:
            return "stamp"
        raise _version_error(where, state.version)
    if create and "meta" not in state.tables:
        clash = sorted(state.tables & set(Base.metadata.tables))
        if not clash:
            return "create"
        raise ValueError(
            f"{where} 已有表 {', '.join(clash)}，但不是驻点存储（没有结构版本）。"
            "处理办法: 换一个空的数据库或新文件。"
        )
    raise ValueError(f"{where} 不是驻点存储（没有结构版本）。处理办法: 检查路径或连接地址。")


def _version_error(where: str, version: str) -> RuntimeError:
    return RuntimeError(
        f"存储 {where} 的结构版本是 {version}，本程序使用版本 {SCHEMA_VERSION}。"
        "处理办法: 使用与存储相配的程序版本。"
    )


def _known_revisions() -> set[str]:
    from api.store.migrate import script_directory

    return {script.revision for script in script_directory().walk_revisions()}


def _migrate(conn: Any, step: str) -> None:
    """Create, stamp or upgrade the schema in the transaction of ``conn``, and record its version."""
    from api.store import migrate

    if conn.dialect.name == "sqlite":
        # Batch migrations copy tables; foreign keys are checked once, at commit.
        conn.exec_driver_sql("PRAGMA defer_foreign_keys=ON")
    logger.info("store schema: %s to revision %s", step, _HEAD)
    migrate.upgrade(conn, stamp_baseline=step == "stamp")
    conn.execute(delete(Meta).where(Meta.key == "schema_version"))
    conn.execute(insert(Meta).values(key="schema_version", value=str(SCHEMA_VERSION)))


def _url(url_or_path: str | Path) -> URL:
    if isinstance(url_or_path, str) and "://" in url_or_path:
        return make_url(url_or_path)
    return URL.create("sqlite", database=str(Path(url_or_path).expanduser()))


def _json_dumps(value: Any) -> str:
    # Chinese text stays readable in the file; NaN is not JSON (PostgreSQL refuses it).
    return json.dumps(value, ensure_ascii=False, allow_nan=False)


def _configure_sqlite(engine: Engine) -> None:
    """Pragmas on every new connection, and SQLAlchemy's own ``BEGIN``.

    The ``sqlite3`` module starts transactions only before DML, so the reads that decide an
    import would run outside its transaction.  Turning that off and emitting ``BEGIN`` ourselves
    makes every transaction whole; writers take the write lock at once (``BEGIN IMMEDIATE``).
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        mode = connection.get_execution_options().get(_BEGIN, "")
        connection.exec_driver_sql(f"BEGIN {mode}".rstrip())


_PG_WRITE_LOCK = 0x7A68_7564_6961_6E00
"""Key of the PostgreSQL advisory lock that writers hold for their transaction ("zhudian")."""


def _configure_postgresql(engine: Engine) -> None:
    """Writers take a transaction-level advisory lock first: one writer at a time, as on SQLite.

    ``save_batch`` and the other writers read, check, then write; under PostgreSQL's default
    READ COMMITTED another writer could change what was checked in between.  The lock is
    released at commit or rollback.
    """

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        if connection.get_execution_options().get(_BEGIN) == "IMMEDIATE":
            connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_PG_WRITE_LOCK})")


@contextmanager
def _write_session(engine: Engine) -> Iterator[Session]:
    """A session in one write transaction: committed on success, rolled back on any error.

    The transaction holds the write lock (SQLite ``BEGIN IMMEDIATE``, a PostgreSQL advisory
    lock) from its start.
    """
    with Session(engine.execution_options(**{_BEGIN: "IMMEDIATE"})) as session, session.begin():
        yield session


# --------------------------------------------------------------------------------------------
# Layers: the column contracts of geo.layers mapped onto the tables

_FLOAT_COLUMNS = frozenset({"depot_lon", "depot_lat"})
_INT_COLUMNS = frozenset({"size"})
_REFERENCES = {"village_id": "villages", "area_id": "areas"}
"""A column naming a user id of another layer, and that layer."""
_FOREIGN_KEYS = {"villages": "village_fk", "areas": "area_fk"}


@dataclass(frozen=True)
class _Layer:
    name: str
    model: Any
    key: str
    """The column of the users' id."""
    columns: tuple[str, ...]
    """The contract of :mod:`geo.layers`, ``geometry`` last."""

    @property
    def references(self) -> tuple[str, ...]:
        return tuple(c for c in self.columns if c in _REFERENCES and c != self.key)


_LAYERS = {
    "villages": _Layer("villages", Village, "village_id", tuple(VILLAGE_COLUMNS)),
    "areas": _Layer("areas", Area, "area_id", tuple(AREA_COLUMNS)),
    "households": _Layer("households", Household, "household_id", tuple(HOUSEHOLD_COLUMNS)),
    "roads": _Layer("roads", Road, "road_id", tuple(ROAD_COLUMNS)),
}
_KEYS = {layer.key: layer for layer in _LAYERS.values()}


def _layer_select(layer: _Layer) -> tuple[Select[Any], dict[str, Any]]:
    """``SELECT id, <contract columns>`` of a layer (references as user ids, geometry as WKB).

    Returns the statement (ordered by the surrogate id) and the column expressions by name,
    for filters.
    """
    model = layer.model
    exprs: dict[str, Any] = {}
    joins = []
    for column in layer.columns:
        if column == "geometry":
            exprs[column] = model.geom
        elif column == "town":
            exprs[column] = Town.name
            joins.append((Town, model.town_fk == Town.id))
        elif column in layer.references:
            target = aliased(_LAYERS[_REFERENCES[column]].model)
            exprs[column] = getattr(target, column)
            joins.append((target, getattr(model, _FOREIGN_KEYS[_REFERENCES[column]]) == target.id))
        else:
            exprs[column] = getattr(model, column)
    stmt = select(model.id, *(e.label(c) for c, e in exprs.items())).select_from(model)
    for target, on in joins:
        stmt = stmt.outerjoin(target, on)
    return stmt.order_by(model.id), exprs


def _chunks(values: Sequence[Any], size: int = _CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


# --------------------------------------------------------------------------------------------
# Saving


@dataclass
class ImportBatch:
    """What one import brings.  Each layer is optional: ``None`` means "not in this import".

    Attributes
    ----------
    villages, areas, households, roads : GeoDataFrame or None
        Layers with the columns of :mod:`geo.layers`, in WGS 84.  ``attrs`` may be left out
        (no extra attributes) and so may the villages' ``town``.
    town : str or None
        Town of the new villages whose ``town`` is missing.
    files : dict
        Layer name -> file name, written to the import log.
    warnings : list of str
        What the readers warned the user of, written to the import log.
    """

    villages: gpd.GeoDataFrame | None = None
    areas: gpd.GeoDataFrame | None = None
    households: gpd.GeoDataFrame | None = None
    roads: gpd.GeoDataFrame | None = None
    town: str | None = None
    files: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class LayerCounts:
    """What an import did to one layer.

    Attributes
    ----------
    added : int
        New ids.
    updated : int
        Ids already stored whose content changed.
    deleted : int
        Stored ids missing from the import (``replace=True`` only).
    unchanged : int
        Ids already stored with identical content.
    """

    added: int = 0
    updated: int = 0
    deleted: int = 0
    unchanged: int = 0


@dataclass(frozen=True)
class SaveCounts:
    """What :func:`save_batch` did, per layer; ``None`` for a layer not in the import.

    Attributes
    ----------
    villages, areas, households, roads : LayerCounts or None
    towns_added : int
        Towns created for the villages of this import.
    import_id : int or None
        Id of the ``import_log`` row of this import.
    """

    villages: LayerCounts | None = None
    areas: LayerCounts | None = None
    households: LayerCounts | None = None
    roads: LayerCounts | None = None
    towns_added: int = 0
    import_id: int | None = None

    def as_dict(self) -> dict[str, Any]:
        """The counts of the layers in the import, plus ``towns_added``, as plain data."""
        out: dict[str, Any] = {
            name: asdict(counts)
            for name in _LAYERS
            if (counts := getattr(self, name)) is not None
        }
        out["towns_added"] = self.towns_added
        return out


@dataclass
class _Prepared:
    """One layer of a batch in store form, column by column: contract values (geometry as WKB)."""

    layer: _Layer
    values: dict[str, list[Any]]
    """Contract column -> one value per record."""
    derived: dict[str, list[float | None]]
    """Bbox, lon/lat or length_m per record, computed from the geometry."""

    @property
    def keys(self) -> list[str]:
        return self.values[self.layer.key]

    def column(self, name: str) -> list[Any]:
        return self.values[name]

    def __len__(self) -> int:
        return len(self.keys)

    def records(self) -> list[tuple[Any, ...]]:
        """One tuple of contract values per record, in :attr:`_Layer.columns` order."""
        return list(zip(*(self.values[c] for c in self.layer.columns)))


def save_batch(
    engine: Engine,
    batch: ImportBatch,
    *,
    replace: bool = False,
    replace_layers: Collection[str] = (),
) -> SaveCounts:
    """Write one import to the store, in one transaction.

    Records are matched by the users' ids: stored ids are updated (or counted unchanged when
    their content is identical), new ids added.  Villages are written first, then areas,
    households and roads, and the import is logged in ``import_log``.  A village whose ``town``
    is missing keeps its stored town; a new one gets ``batch.town``.  Everything is checked
    before the first write, under the write lock (SQLite ``BEGIN IMMEDIATE``); any error rolls
    the whole import back.

    Parameters
    ----------
    engine : Engine
        From :func:`open_store`.
    batch : ImportBatch
        The layers of this import.
    replace : bool, default False
        Also delete the stored records of each layer in the batch whose ids are not in it.
        Layers not in the batch are left alone.
    replace_layers : collection of str, default ()
        Layers (``"roads"``, ...) replaced that way even when ``replace`` is false, e.g. roads
        whose ids are generated anew by each read.  Layers not in the batch are left alone.

    Returns
    -------
    SaveCounts

    Raises
    ------
    ValueError
        A layer is malformed (missing columns, missing or duplicate ids, not WGS 84), a
        reference to a village or area is unknown, a record to delete under ``replace`` is
        still referenced by one that stays (households, visits, zones, ...), an unknown name
        is in ``replace_layers``, or the database refuses a value (an unknown
        ``kind`` or ``placement``, a negative ``size``).  Nothing is written then.
    """
    unknown = sorted(set(replace_layers) - set(_LAYERS))
    if unknown:
        raise ValueError(f"replace_layers 中有未知图层 {unknown}，可用: {list(_LAYERS)}。")
    prepared = {
        name: _prepare(_LAYERS[name], gdf)
        for name in _LAYERS
        if (gdf := getattr(batch, name)) is not None
    }
    replaced = {name for name in prepared if replace or name in replace_layers}
    try:
        with _write_session(engine) as session:
            counts = _save(session, prepared, batch, replaced)
    except IntegrityError as exc:
        raise ValueError(
            f"数据库拒绝了这次导入，存储保持原样: {exc.orig}。处理办法: 检查 kind、placement "
            "的取值是否在约定之内、size 是否为非负整数、名称是否为空。"
        ) from exc
    logger.info("import %s saved: %s", counts.import_id, counts.as_dict())
    return counts


def _save(
    session: Session, prepared: dict[str, _Prepared], batch: ImportBatch, replaced: set[str]
) -> SaveCounts:
    # 1. What is stored: ids of the referenced layers, and the records this batch touches.
    ids = {name: _id_map(session, _LAYERS[name]) for name in ("villages", "areas")}
    area_village = dict(
        session.execute(select(Area.area_id, Village.village_id).join(Village)).all()
    )
    stored = {name: _fetch(session, p.layer, p.keys) for name, p in prepared.items()}
    if "villages" in prepared:
        _fill_towns(prepared["villages"], stored["villages"], batch.town)

    # 2. Check everything before writing anything.
    final: dict[str, set[str]] = {}
    for name, stored_ids in ids.items():
        given = set(prepared[name].keys) if name in prepared else set()
        final[name] = given if name in replaced else set(stored_ids) | given
    if "areas" in prepared:
        area_village.update(zip(prepared["areas"].keys, prepared["areas"].column("village_id")))
    _check_references(prepared, final, ids, area_village)
    doomed: dict[str, list[int]] = {}
    for name in replaced:
        keep = set(prepared[name].keys)
        all_ids = ids[name] if name in ids else _id_map(session, _LAYERS[name])
        doomed[name] = [i for key, i in all_ids.items() if key not in keep]
    _check_deletions(session, doomed, prepared, replaced)

    # 3. Write: parents before children, deletions after the updates that re-point children.
    counts: dict[str, LayerCounts] = {}
    towns_added, towns = 0, {}
    for name, p in prepared.items():
        if name == "villages":
            towns_added = _add_towns(session, p.column("town"))
            towns = dict(session.execute(select(Town.name, Town.id)).all())
        counts[name] = _upsert(session, p, stored[name], ids, towns)
        if name in ids:  # the layers after this one refer to the records just added
            ids[name] = _id_map(session, p.layer)
    for name in reversed(list(prepared)):
        dead = doomed.get(name, [])
        model = _LAYERS[name].model
        for chunk in _chunks(dead):
            session.execute(
                delete(model).where(model.id.in_(chunk)),
                execution_options={"synchronize_session": False},
            )
        counts[name] = dc_replace(counts[name], deleted=len(dead))

    result = SaveCounts(**counts, towns_added=towns_added)
    log = ImportLog(
        at=dt.datetime.now(dt.UTC),
        replaced=sorted(replaced),
        files=dict(batch.files),
        counts=result.as_dict(),
        warnings=list(batch.warnings),
    )
    session.add(log)
    session.flush()
    return dc_replace(result, import_id=log.id)


def _id_map(session: Session, layer: _Layer) -> dict[str, int]:
    """User id -> surrogate id of every stored record of a layer."""
    key = getattr(layer.model, layer.key)
    return dict(session.execute(select(key, layer.model.id)).all())


_Stored = dict[str, tuple[int, tuple[Any, ...]]]
"""User id -> (surrogate id, contract values) of stored records."""


def _fetch(session: Session, layer: _Layer, keys: list[str]) -> _Stored:
    """The stored records with these user ids."""
    model = layer.model
    if not keys or session.execute(select(model.id).limit(1)).first() is None:
        return {}  # an empty layer (a first import): nothing to look up
    stmt, exprs = _layer_select(layer)
    out: _Stored = {}
    if len(keys) > _FETCH_ALL:
        # many keys: one pass over the table beats thousands of IN (...) lists
        wanted = set(keys)
        for row in session.execute(stmt.order_by(None)):
            if row[1] in wanted:
                out[row[1]] = (row[0], tuple(row[1:]))
        return out
    for chunk in _chunks(keys):
        for row in session.execute(stmt.where(exprs[layer.key].in_(chunk))):
            out[row[1]] = (row[0], tuple(row[1:]))
    return out


_FETCH_ALL = 50_000
"""Above this many ids, :func:`_fetch` reads the whole layer instead of looking ids up."""


def _fill_towns(p: _Prepared, stored: _Stored, town: str | None) -> None:
    """A village without a town keeps its stored town; a new village gets the batch's town."""
    i = p.layer.columns.index("town")
    towns = p.values["town"]
    for n, (key, value) in enumerate(zip(p.keys, towns)):
        if value is None:
            old = stored.get(key)
            towns[n] = old[1][i] if old is not None else town


def _add_towns(session: Session, names: list[str | None]) -> int:
    known = set(session.scalars(select(Town.name)))
    new = sorted({n for n in names if n is not None} - known)
    if new:
        session.execute(insert(Town), [{"name": n, "attrs": {}} for n in new])
    return len(new)


def _check_references(
    prepared: dict[str, _Prepared],
    final: dict[str, set[str]],
    stored: dict[str, dict[str, int]],
    area_village: dict[str, str],
) -> None:
    """Every village and area a record names exists after the import, and they agree."""
    problems: list[str] = []
    for name, p in prepared.items():
        for column in p.layer.references:
            target = _REFERENCES[column]
            for key, ref in zip(p.keys, p.column(column)):
                if ref is None:
                    if name == "areas":
                        problems.append(f"{name} 中 {key} 没有 village_id")
                elif ref not in final[target]:
                    why = (
                        "不在本次导入里，--replace 会删除它"
                        if ref in stored[target]
                        else "既不在存储中，也不在本次导入里"
                    )
                    problems.append(f"{name} 中 {key} 引用的 {column} '{ref}' {why}")
        if name == "households":
            for key, area, village in zip(p.keys, p.column("area_id"), p.column("village_id")):
                owner = area_village.get(area) if area is not None else None
                if village is not None and owner is not None and owner != village:
                    problems.append(
                        f"households 中 {key} 的 village_id '{village}' 与其 area '{area}' "
                        f"所属的村 '{owner}' 不一致"
                    )
    if problems:
        raise ValueError(
            _problem_list("导入的引用有误，存储未改动", problems, "补上缺少的村或片区，或改正编号。")
        )


def _check_deletions(
    session: Session,
    doomed: dict[str, list[int]],
    prepared: dict[str, _Prepared],
    replaced: set[str],
) -> None:
    """Refuse to delete records that stay referenced by records the import does not replace.

    A replaced layer loses its stored records that are not in the import, and the records of
    the import were checked by :func:`_check_references`; no other record (of a layer not
    replaced, or of zones, visits, the problem ledger, ...) may point at a deleted one.
    """
    problems: list[str] = []
    for name, dead in doomed.items():
        if not dead:
            continue
        layer = _LAYERS[name]
        table = layer.model.__table__
        for other in Base.metadata.sorted_tables:
            if other.name in replaced:
                continue
            in_batch = set(prepared[other.name].keys) if other.name in prepared else set()
            if other.name in _LAYERS:
                label = other.c[_LAYERS[other.name].key]
            else:
                label = list(other.primary_key)[0]
            for fk in other.foreign_keys:
                if fk.column.table is not table:
                    continue
                rows: list[tuple[Any, str]] = []
                for chunk in _chunks(dead):
                    rows += session.execute(
                        select(label, table.c[layer.key])
                        .join(table, fk.parent == table.c.id)
                        .where(fk.parent.in_(chunk))
                    ).all()
                rows = [r for r in rows if r[0] not in in_batch]  # re-pointed by this import
                if rows:
                    fix = (
                        f"把 {other.name} 图层一起导入（它会一并被替换）"
                        if other.name in _LAYERS
                        else "这些记录不会被自动删除"
                    )
                    dead_keys = _some(sorted({r[1] for r in rows}))
                    referrers = _some([str(r[0]) for r in rows])
                    problems.append(
                        f"--replace 要删除的 {name} {dead_keys} 仍被 {other.name} 的 "
                        f"{len(rows)} 条记录引用（如 {referrers}）；"
                        f"{fix}，或把这些 {name} 留在导入文件里"
                    )
    if problems:
        raise ValueError(_problem_list("不能按 --replace 删除，存储未改动", problems, "见上。"))


def _upsert(
    session: Session,
    p: _Prepared,
    stored: _Stored,
    ids: dict[str, dict[str, int]],
    towns: dict[str, int],
) -> LayerCounts:
    """Insert the new records of one layer, update the changed ones, count the rest.

    Rows go to the database in bulk (:func:`_bulk_insert`, :func:`_bulk_update`), built column by
    column: a million households take seconds, where a dictionary per row took a minute.
    """
    n = len(p)
    if stored:
        added_at: list[int] = []
        updated_at: list[int] = []
        surrogate: list[int] = []
        for i, record in enumerate(p.records()):
            old = stored.get(record[0])
            if old is None:
                added_at.append(i)
            elif old[1] != record:
                updated_at.append(i)
                surrogate.append(old[0])
    else:  # nothing of this layer's ids is stored: every record is new
        added_at, updated_at, surrogate = list(range(n)), [], []
    if added_at or updated_at:
        columns, data = _table_columns(p, ids, towns)
        table = p.layer.model.__table__
        if added_at:
            rows = list(zip(*data)) if len(added_at) == n else _take(data, added_at)
            _bulk_insert(session, table, columns, rows)
        if updated_at:
            rows = [(*row, pk) for row, pk in zip(_take(data, updated_at), surrogate)]
            _bulk_update(session, table, columns, rows)
    return LayerCounts(
        added=len(added_at), updated=len(updated_at), unchanged=n - len(added_at) - len(updated_at)
    )


def _take(data: list[list[Any]], at: list[int]) -> list[tuple[Any, ...]]:
    """Rows ``at`` of column lists, as tuples."""
    return [tuple(column[i] for column in data) for i in at]


def _table_columns(
    p: _Prepared, ids: dict[str, dict[str, int]], towns: dict[str, int]
) -> tuple[list[str], list[list[Any]]]:
    """The table columns of a layer and their values: references and towns as surrogate ids,
    attributes as JSON text, plus the values derived from the geometry."""
    names: list[str] = []
    data: list[list[Any]] = []
    for column in p.layer.columns:
        values = p.values[column]
        if column == "geometry":
            names.append("geom")
        elif column == "town":
            names.append("town_fk")
            values = [None if v is None else towns[v] for v in values]
        elif column in p.layer.references:
            target = _REFERENCES[column]
            names.append(_FOREIGN_KEYS[target])
            surrogate = ids[target]
            values = [None if v is None else surrogate[v] for v in values]
        elif column == "attrs":
            names.append(column)
            values = [_json_dumps(v) if v else "{}" for v in values]
        else:
            names.append(column)
        data.append(values)
    for column, values in p.derived.items():
        names.append(column)
        data.append(values)
    return names, data


def _copy_rows(conn: Any, statement: str, rows: list[tuple[Any, ...]]) -> None:
    """PostgreSQL ``COPY ... FROM STDIN`` of ``rows`` on the connection's driver cursor, inside its
    transaction (errors as :func:`_driver_errors` turns them)."""
    with _driver_errors(conn, statement):
        cursor = conn.connection.driver_connection.cursor()
        with cursor, cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row(row)


def _bulk_insert(session: Session, table: Any, columns: list[str], rows: list[tuple[Any, ...]]) -> None:
    """Insert rows (values in ``columns`` order, JSON as text) in bulk, in the session's
    transaction: one ``executemany`` of a prepared ``INSERT``; ``COPY`` on PostgreSQL for many rows."""
    conn = session.connection()
    quote = conn.dialect.identifier_preparer.quote
    target = f"{quote(table.name)} ({', '.join(quote(c) for c in columns)})"
    if conn.dialect.name == "postgresql" and len(rows) >= _COPY_MIN_ROWS:
        _copy_rows(conn, f"COPY {target} FROM STDIN", rows)
        return
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    conn.exec_driver_sql(f"INSERT INTO {target} VALUES ({', '.join([mark] * len(columns))})", rows)


def _bulk_update(session: Session, table: Any, columns: list[str], rows: list[tuple[Any, ...]]) -> None:
    """Update rows by surrogate id (each row: values in ``columns`` order, then the id): one
    ``executemany``; on PostgreSQL, for many rows, ``COPY`` into a temporary table and one ``UPDATE``."""
    conn = session.connection()
    quote = conn.dialect.identifier_preparer.quote
    if conn.dialect.name == "postgresql" and len(rows) >= _COPY_MIN_ROWS:
        scratch = quote(f"zhudian_update_{table.name}")
        conn.exec_driver_sql(
            f"CREATE TEMPORARY TABLE {scratch} ON COMMIT DROP AS "
            f"SELECT {', '.join(quote(c) for c in columns)}, id FROM {quote(table.name)} WITH NO DATA"
        )
        _copy_rows(conn, f"COPY {scratch} ({', '.join(quote(c) for c in (*columns, 'id'))}) FROM STDIN", rows)
        assign = ", ".join(f"{quote(c)} = u.{quote(c)}" for c in columns)
        conn.exec_driver_sql(f"UPDATE {quote(table.name)} AS t SET {assign} FROM {scratch} AS u WHERE t.id = u.id")
        conn.exec_driver_sql(f"DROP TABLE {scratch}")
        return
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    assign = ", ".join(f"{quote(c)} = {mark}" for c in columns)
    conn.exec_driver_sql(f"UPDATE {quote(table.name)} SET {assign} WHERE id = {mark}", rows)


_COPY_MIN_ROWS = 1000
"""PostgreSQL: from this many rows on, :func:`_bulk_insert` and :func:`_bulk_update` use ``COPY``
(fewer rows go as one ``executemany`` of a plain statement)."""


@contextmanager
def _driver_errors(conn: Any, statement: str) -> Iterator[None]:
    """Errors of the driver used directly (PostgreSQL ``COPY``) as SQLAlchemy's, as
    ``Session.execute`` raises them (an ``IntegrityError`` for a refused value)."""
    dbapi = conn.dialect.loaded_dbapi
    try:
        yield
    except dbapi.Error as exc:
        raise DBAPIError.instance(statement, None, exc, dbapi.Error) from exc


def _problem_list(title: str, problems: list[str], fix: str) -> str:
    shown = problems[:50]
    if len(problems) > 50:
        shown.append(f"... 另有 {len(problems) - 50} 个问题未列出")
    return f"{title}（{len(problems)} 个问题）:\n" + "\n".join(shown) + f"\n处理办法: {fix}"


def _some(values: Sequence[str], n: int = 5) -> str:
    shown = ", ".join(values[:n])
    return shown + (f" 等 {len(values)} 个" if len(values) > n else "")


# --------------------------------------------------------------------------------------------
# From a GeoDataFrame to store values


def _prepare(layer: _Layer, gdf: gpd.GeoDataFrame) -> _Prepared:
    """Check one layer of a batch and turn it into store values, column by column."""
    where = f"导入的 {layer.name} 图层"
    if not isinstance(gdf, gpd.GeoDataFrame) or gdf.active_geometry_name is None:
        raise ValueError(f"{where}不是带几何列的 GeoDataFrame。")
    if len(gdf) and (gdf.crs is None or not gdf.crs.equals(WGS84, ignore_axis_order=True)):
        raise ValueError(
            f"{where}的坐标系是 {gdf.crs}，存储只收 WGS 84 (EPSG:4326)。"
            "处理办法: 先用 to_crs('EPSG:4326') 转换；"
            "没有坐标系时先确认坐标确实是经纬度再 set_crs。"
        )
    optional = {"attrs", "town"}
    missing = [c for c in layer.columns[:-1] if c not in gdf.columns and c not in optional]
    if missing:
        raise ValueError(
            f"{where}缺少列 {', '.join(missing)}。处理办法: 按 geo.layers 的约定给出这些列。"
        )

    values: list[list[Any]] = []
    for column in layer.columns[:-1]:
        if column in gdf.columns:
            values.append(_convert(column, gdf[column], where))
        else:
            values.append([{} if column == "attrs" else None] * len(gdf))
    keys = values[0]
    _check_keys(layer, keys, where)
    geoms = np.asarray(gdf.geometry.array, dtype=object)
    values.append(shapely.to_wkb(geoms, flavor="iso").tolist())
    return _Prepared(layer, dict(zip(layer.columns, values)), _derive(layer.name, geoms))


def _convert(column: str, series: pd.Series, where: str) -> list[Any]:
    """One column as plain Python values; missing values become ``None``."""
    missing = series.isna().tolist()
    raw = series.astype(object).tolist()
    if column in _FLOAT_COLUMNS:
        return [None if m else float(v) for v, m in zip(raw, missing)]
    if column in _INT_COLUMNS:
        try:
            ints = pd.array(series, dtype="Int64")
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{where}的 {column} 列须为整数（人数），可以留空: {exc}") from exc
        return [None if v is pd.NA else int(v) for v in ints]
    if column == "attrs":
        bad = [str(i + 1) for i, v in enumerate(raw) if not (isinstance(v, dict) or _is_na(v))]
        if bad:
            raise ValueError(f"{where}的 attrs 列须为字典，第 {_some(bad)} 行不是。")
        return [(_jsonable(v) if v else {}) if isinstance(v, dict) else {} for v in raw]
    if column == "tags":
        return ["" if m else str(v) for v, m in zip(raw, missing)]
    if column in _KEYS and series.dtype.kind == "f" and not all(missing):
        raise ValueError(
            f"{where}的 {column} 是浮点数，编号须为文本。处理办法: 读取时按文本读入编号。"
        )
    return [None if m else v if isinstance(v, str) else str(v) for v, m in zip(raw, missing)]


def _check_keys(layer: _Layer, keys: list[Any], where: str) -> None:
    empty = [str(i + 1) for i, k in enumerate(keys) if k is None or k == ""]
    if empty:
        raise ValueError(
            f"{where}第 {_some(empty)} 行没有 {layer.key}。处理办法: 给每条记录一个编号。"
        )
    duplicated = sorted(k for k, n in Counter(keys).items() if n > 1)
    if duplicated:
        raise ValueError(
            f"{where}中 {layer.key} 重复: {_some(duplicated)}。处理办法: 每个编号只出现一次。"
        )


def _is_na(value: Any) -> bool:
    if isinstance(value, float):
        return math.isnan(value)
    return value is None or value is pd.NA or value is pd.NaT


def _jsonable(value: Any) -> Any:
    """A JSON-safe copy of an attribute value: numpy to Python, NaN to None, dates to ISO."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, np.ndarray)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, str):
        return value
    if _is_na(value):
        return None
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    return str(value)


def _derive(name: str, geoms: np.ndarray) -> dict[str, list[float | None]]:
    """Values computed from the geometry: bbox, or lon/lat of households, plus road lengths."""
    if name == "households":
        derived = {"lon": shapely.get_x(geoms), "lat": shapely.get_y(geoms)}
    else:
        bounds = shapely.bounds(geoms)
        derived = {c: bounds[:, i] for i, c in enumerate(("minx", "miny", "maxx", "maxy"))}
        if name == "roads":
            derived["length_m"] = _geodesic_length_m(geoms)
    return {c: [None if math.isnan(v) else v for v in a.tolist()] for c, a in derived.items()}


def _geodesic_length_m(geoms: np.ndarray) -> np.ndarray:
    """Length on the WGS 84 ellipsoid of each line (sum over parts); NaN for a missing geometry."""
    parts, owner = shapely.get_parts(geoms, return_index=True)
    lines = shapely.get_type_id(parts) == shapely.GeometryType.LINESTRING
    coords, part = shapely.get_coordinates(parts[lines], return_index=True)
    step = part[1:] == part[:-1]  # consecutive vertices of the same line
    start, end = coords[:-1][step], coords[1:][step]
    _, _, d = _GEOD.inv(start[:, 0], start[:, 1], end[:, 0], end[:, 1])
    length = np.bincount(owner[lines][part[1:][step]], weights=d, minlength=len(geoms))
    for i in np.flatnonzero(~lines):  # rings, polygons: rare in a road layer
        length[owner[i]] += _GEOD.geometry_length(parts[i])
    length[shapely.is_missing(geoms)] = np.nan
    return length


# --------------------------------------------------------------------------------------------
# Loading


def load_villages(engine: Engine, *, village_ids: Sequence[str] | None = None) -> gpd.GeoDataFrame:
    """Load villages, all or those of ``village_ids``, with the columns of ``VILLAGE_COLUMNS``.

    Parameters
    ----------
    engine : Engine
        From :func:`open_store`.
    village_ids : sequence of str, optional
        Only these villages (ids not stored are ignored).

    Returns
    -------
    GeoDataFrame
        In EPSG:4326, in the order the records were first stored.
    """
    return _load_by_village(engine, _LAYERS["villages"], village_ids)


def load_areas(engine: Engine, *, village_ids: Sequence[str] | None = None) -> gpd.GeoDataFrame:
    """Load areas, all or those of the villages ``village_ids``, with ``AREA_COLUMNS``.

    See :func:`load_villages` for the parameters.
    """
    return _load_by_village(engine, _LAYERS["areas"], village_ids)


def load_households(
    engine: Engine, *, village_ids: Sequence[str] | None = None
) -> gpd.GeoDataFrame:
    """Load households, all or those of the villages ``village_ids``, with ``HOUSEHOLD_COLUMNS``.

    ``size`` is ``Int64`` (NA where unknown), ``tags`` a comma-separated string (``""`` for
    none).  See :func:`load_villages` for the parameters.
    """
    return _load_by_village(engine, _LAYERS["households"], village_ids)


def load_roads(
    engine: Engine, *, bbox: tuple[float, float, float, float] | None = None
) -> gpd.GeoDataFrame:
    """Load roads, all or those whose bounding box meets ``bbox``, with ``ROAD_COLUMNS``.

    Parameters
    ----------
    engine : Engine
        From :func:`open_store`.
    bbox : (minx, miny, maxx, maxy), optional
        Longitude/latitude window.  Roads whose bounding box intersects it are returned (a
        road near the window's corner may not touch the window itself).

    Returns
    -------
    GeoDataFrame
        In EPSG:4326.
    """
    layer = _LAYERS["roads"]
    stmt, _ = _layer_select(layer)
    if bbox is None:
        return _load(engine, layer, [stmt])
    minx, miny, maxx, maxy = bbox
    if minx > maxx or miny > maxy:
        raise ValueError(f"bbox {bbox} 须为 (minx, miny, maxx, maxy)，且 min 不大于 max。")
    window = (Road.maxx >= minx) & (Road.minx <= maxx) & (Road.maxy >= miny) & (Road.miny <= maxy)
    return _load(engine, layer, [stmt.where(window)])


def _load_by_village(
    engine: Engine, layer: _Layer, village_ids: Sequence[str] | None
) -> gpd.GeoDataFrame:
    stmt, exprs = _layer_select(layer)
    if village_ids is None:
        return _load(engine, layer, [stmt])
    ids = [village_ids] if isinstance(village_ids, str) else list(village_ids)
    return _load(engine, layer, [stmt.where(exprs["village_id"].in_(c)) for c in _chunks(ids)])


def _load(engine: Engine, layer: _Layer, statements: list[Select[Any]]) -> gpd.GeoDataFrame:
    """Run the statements in one transaction; their rows, in surrogate id order, as a frame."""
    with engine.connect() as conn:
        rows = [row for stmt in statements for row in conn.execute(stmt)]
    if len(statements) > 1:
        rows.sort(key=lambda row: row[0])
    return _frame(layer, rows)


def _frame(layer: _Layer, rows: list[Any]) -> gpd.GeoDataFrame:
    """Rows of :func:`_layer_select` as a GeoDataFrame with the contract's columns and dtypes."""
    columns = list(zip(*rows)) if rows else [() for _ in range(len(layer.columns) + 1)]
    data: dict[str, Any] = {}
    for name, values in zip(layer.columns, columns[1:]):
        if name == "geometry":
            data[name] = gpd.GeoSeries(shapely.from_wkb(np.array(values, dtype=object)), crs=WGS84)
        elif name in _FLOAT_COLUMNS:
            data[name] = pd.Series(np.array(values, dtype=float))
        elif name in _INT_COLUMNS:
            data[name] = pd.Series(pd.array(values, dtype="Int64"))
        elif name == "attrs":
            data[name] = pd.Series(list(values), dtype=object)
        else:
            data[name] = pd.Series(list(values), dtype="str")
    return gpd.GeoDataFrame(data, geometry="geometry", crs=WGS84)


# --------------------------------------------------------------------------------------------
# Summary


def summary(engine: Engine) -> dict[str, int | float]:
    """Count what the store holds.

    Returns
    -------
    dict
        ``towns``, ``villages``, ``areas``, ``households``, ``roads``; ``roads_km`` (geodesic,
        summed from the lengths computed at save time); ``households_<placement>`` for each
        placement of :data:`geo.layers.PLACEMENTS`.
    """
    out: dict[str, int | float] = {}
    with engine.connect() as conn:
        for model in (Town, *(layer.model for layer in _LAYERS.values())):
            out[model.__tablename__] = conn.scalar(select(func.count()).select_from(model)) or 0
        metres = conn.scalar(select(func.coalesce(func.sum(Road.length_m), 0.0)))
        out["roads_km"] = round(float(metres) / 1000, 3)
        placed = dict(
            conn.execute(
                select(Household.placement, func.count()).group_by(Household.placement)
            ).all()
        )
    for placement in PLACEMENTS:
        out[f"households_{placement}"] = placed.get(placement, 0)
    return out


def checkpoint(url_or_path: str | Path) -> None:
    """Fold SQLite's write-ahead log into the database file (nothing to do on PostgreSQL).

    Writes committed by other processes (the workers of a parallel job, a Dask worker that is
    stopped rather than asked to exit) can stay in the ``-wal`` file beside the database until
    the last connection closes; SQLite reads them from there, but a user who copies or backs up
    the ``.db`` file alone, or a rename of the file alone, would lose them.

    Raises
    ------
    FileNotFoundError
        When the store does not exist.
    """
    engine = open_store(url_or_path, create=False)
    try:
        if engine.dialect.name == "sqlite":
            with engine.connect() as conn:
                conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        engine.dispose()


def household_counts(engine: Engine) -> dict[str, int]:
    """Households per village: ``{village_id: count}`` (villages without households absent)."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(Village.village_id, func.count(Household.id))
            .join(Household, Household.village_fk == Village.id)
            .group_by(Village.village_id)
        ).all()
    return {str(v): int(n) for v, n in rows}
