"""ORM models of the store: the data model of DESIGN.md section 3 as SQLAlchemy 2 tables.

The models are dialect-neutral: the same classes create the schema on SQLite (the embedded
default) and on PostgreSQL.  Conventions:

- Every table has a surrogate integer primary key ``id``; foreign keys use it and are named
  ``<table>_fk`` (``village_fk``, ``area_fk``, ...).  The users' own identifiers are kept as
  strings in their own ``UNIQUE`` columns (``villages.village_id``, ``areas.area_id``,
  ``households.household_id``, ``roads.road_id``) and are never renumbered.
- Geometry is WKB (ISO flavour) in EPSG:4326 in a ``geom`` column, made by :func:`_geom`.  That
  function is the one place a PostGIS geometry type goes when GeoAlchemy2 arrives.  Polygons and
  lines carry their bounding box (``minx``, ``miny``, ``maxx``, ``maxy``, indexed) for bbox
  queries without a spatial extension; households carry ``lon`` / ``lat``.
- Attributes the user gave that have no column of their own stay in the JSON column ``attrs``.
- Enumerations are ``CHECK`` constraints; constraint names follow :data:`NAMING_CONVENTION`, so
  that migrations can address them.
- The schema is made by the Alembic migrations of :mod:`api.store.migrate`, not by
  ``create_all``: a change here needs a new migration (``tests/api/test_migrations.py`` fails
  until it exists).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    LargeBinary,
    MetaData,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from geo.layers import AREA_KINDS, PLACEMENTS



def _head_version() -> int:
    """The number of the newest migration, ``versions/NNNN_<slug>.py`` (see :mod:`api.store.migrate`)."""
    versions = Path(__file__).with_name("migrations") / "versions"
    numbers = [int(p.name[:4]) for p in versions.glob("[0-9][0-9][0-9][0-9]_*.py")]
    if not numbers:
        raise RuntimeError(f"找不到存储的迁移脚本 {versions}。处理办法: 重新安装 zhudian。")
    return max(numbers)


SCHEMA_VERSION = _head_version()
"""Version of the schema below: the number of the head migration, recorded in the ``meta``
table of every store.  Writing a migration (``python -m api.store.migrate revision``) raises it."""

MEMBER_ROLES = ("leader", "member", "auxiliary")
GROUP_ROLES = ("member", "auxiliary")
"""Role of a member inside a "2+1" group: 2 team members + 1 auxiliary member."""
PLAN_STATUSES = ("draft", "published", "archived")
SESSION_KINDS = ("stationing", "evening")
VISIT_OUTCOMES = ("met", "not_home", "refused", "moved")
PROBLEM_STATUSES = ("open", "in_progress", "resolved", "cannot_resolve")
"""Life of a problem; ``cannot_resolve`` carries its reason in ``resolution_note`` (issue 7)."""

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def _one_of(column: str, values: tuple[str, ...]) -> CheckConstraint:
    """A CHECK constraint limiting ``column`` to ``values`` (NULL passes, as in SQL)."""
    listed = ", ".join(f"'{v}'" for v in values)
    return CheckConstraint(f"{column} IN ({listed})", name=column)


def _geom() -> Mapped[bytes | None]:
    """A geometry column: WKB (ISO) in EPSG:4326, NULL for a missing geometry."""
    return mapped_column(LargeBinary, nullable=True)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {
        dict[str, Any]: JSON,
        list[Any]: JSON,
        bytes: LargeBinary,
        dt.datetime: DateTime(timezone=True),
    }


class _BBox:
    """Bounding box columns of a polygon or line layer (NULL for a missing geometry)."""

    minx: Mapped[float | None]
    miny: Mapped[float | None]
    maxx: Mapped[float | None]
    maxy: Mapped[float | None]


class Meta(Base):
    """Key/value facts about the store itself, such as ``schema_version``."""

    __tablename__ = "meta"
    key: Mapped[str] = mapped_column(primary_key=True)
    value: Mapped[str]


class Town(Base):
    """A town or subdistrict (镇/街道)."""

    __tablename__ = "towns"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(unique=True)
    attrs: Mapped[dict[str, Any]] = mapped_column(default=dict)


class Village(_BBox, Base):
    """An administrative village or community (村/社区) with its depot (村委会)."""

    __tablename__ = "villages"
    id: Mapped[int] = mapped_column(primary_key=True)
    village_id: Mapped[str] = mapped_column(unique=True)
    name: Mapped[str]
    town_fk: Mapped[int | None] = mapped_column(ForeignKey("towns.id"), index=True)
    depot_lon: Mapped[float | None]
    depot_lat: Mapped[float | None]
    attrs: Mapped[dict[str, Any]] = mapped_column(default=dict)
    geom: Mapped[bytes | None] = _geom()
    __table_args__ = (Index("ix_villages_bbox", "minx", "maxx", "miny", "maxy"),)


class Area(_BBox, Base):
    """A natural village (自然村), a residential compound (小区) or a village's scattered households."""

    __tablename__ = "areas"
    id: Mapped[int] = mapped_column(primary_key=True)
    area_id: Mapped[str] = mapped_column(unique=True)
    village_fk: Mapped[int] = mapped_column(ForeignKey("villages.id"), index=True)
    name: Mapped[str]
    kind: Mapped[str]
    attrs: Mapped[dict[str, Any]] = mapped_column(default=dict)
    geom: Mapped[bytes | None] = _geom()
    __table_args__ = (
        _one_of("kind", AREA_KINDS),
        Index("ix_areas_bbox", "minx", "maxx", "miny", "maxy"),
    )


class Household(Base):
    """A household (户): a point with its head, address, size and tags."""

    __tablename__ = "households"
    id: Mapped[int] = mapped_column(primary_key=True)
    household_id: Mapped[str] = mapped_column(unique=True)
    area_fk: Mapped[int | None] = mapped_column(ForeignKey("areas.id"), index=True)
    village_fk: Mapped[int | None] = mapped_column(ForeignKey("villages.id"), index=True)
    address: Mapped[str | None]
    head: Mapped[str | None]
    phone: Mapped[str | None]
    size: Mapped[int | None]
    tags: Mapped[str] = mapped_column(default="")
    """Comma-separated tags; ``""`` for none."""
    placement: Mapped[str]
    attrs: Mapped[dict[str, Any]] = mapped_column(default=dict)
    geom: Mapped[bytes | None] = _geom()
    lon: Mapped[float | None]
    lat: Mapped[float | None]
    __table_args__ = (
        _one_of("placement", PLACEMENTS),
        CheckConstraint("size IS NULL OR size >= 0", name="size"),
        Index("ix_households_lonlat", "lon", "lat"),
    )


class Road(_BBox, Base):
    """A walkable line; ``length_m`` is its geodesic length on WGS 84, computed at save time."""

    __tablename__ = "roads"
    id: Mapped[int] = mapped_column(primary_key=True)
    road_id: Mapped[str] = mapped_column(unique=True)
    name: Mapped[str | None]
    highway: Mapped[str | None]
    attrs: Mapped[dict[str, Any]] = mapped_column(default=dict)
    geom: Mapped[bytes | None] = _geom()
    length_m: Mapped[float | None]
    __table_args__ = (Index("ix_roads_bbox", "minx", "maxx", "miny", "maxy"),)


class Member(Base):
    """A person of a stationed team: leader (驻点领导), team member or auxiliary member."""

    __tablename__ = "members"
    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[str | None] = mapped_column(unique=True)
    """The user's own id for the person, when the roster has one."""
    name: Mapped[str]
    role: Mapped[str]
    village_fk: Mapped[int | None] = mapped_column(ForeignKey("villages.id"), index=True)
    phone: Mapped[str | None]
    title: Mapped[str | None]
    """Post, e.g. 镇党委书记 / 镇长 (reports tell town party secretaries from town heads)."""
    home_area: Mapped[str | None]
    """Area id where the person lives (auxiliary members are local)."""
    leave_dates: Mapped[list[Any]] = mapped_column(default=list)
    """Leave as ``[["2025-03-04", "2025-03-06"], ...]`` (ISO start and end dates, inclusive)."""
    attrs: Mapped[dict[str, Any]] = mapped_column(default=dict)
    __table_args__ = (_one_of("role", MEMBER_ROLES),)


class Group(Base):
    """A "2+1" group of one village; its members are in :class:`GroupMember`."""

    __tablename__ = "groups"
    id: Mapped[int] = mapped_column(primary_key=True)
    village_fk: Mapped[int] = mapped_column(ForeignKey("villages.id"), index=True)
    name: Mapped[str]
    attrs: Mapped[dict[str, Any]] = mapped_column(default=dict)
    __table_args__ = (UniqueConstraint("village_fk", "name"),)


class GroupMember(Base):
    """Membership of a group; a member belongs to at most one group."""

    __tablename__ = "group_members"
    group_fk: Mapped[int] = mapped_column(ForeignKey("groups.id"), primary_key=True)
    member_fk: Mapped[int] = mapped_column(ForeignKey("members.id"), primary_key=True, unique=True)
    role: Mapped[str]
    __table_args__ = (_one_of("role", GROUP_ROLES),)


class ZonePlan(Base):
    """A versioned zoning of one village, with the parameters, seed and scores that made it."""

    __tablename__ = "zone_plans"
    id: Mapped[int] = mapped_column(primary_key=True)
    village_fk: Mapped[int] = mapped_column(ForeignKey("villages.id"), index=True)
    version: Mapped[int]
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    seed: Mapped[int | None]
    status: Mapped[str] = mapped_column(default="draft")
    """Life of the plan: one of :data:`PLAN_STATUSES`."""
    solver_status: Mapped[str | None]
    scores: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())
    __table_args__ = (
        UniqueConstraint("village_fk", "version"),
        _one_of("status", PLAN_STATUSES),
    )


class Zone(Base):
    """One group's zone (片区) in a zone plan."""

    __tablename__ = "zones"
    id: Mapped[int] = mapped_column(primary_key=True)
    plan_fk: Mapped[int] = mapped_column(ForeignKey("zone_plans.id"), index=True)
    group_fk: Mapped[int | None] = mapped_column(ForeignKey("groups.id"), index=True)
    label: Mapped[str | None]
    workload_min: Mapped[float | None]
    geom: Mapped[bytes | None] = _geom()
    """Outline polygon."""


class ZoneHousehold(Base):
    """Household membership of a zone."""

    __tablename__ = "zone_households"
    zone_fk: Mapped[int] = mapped_column(ForeignKey("zones.id"), primary_key=True)
    household_fk: Mapped[int] = mapped_column(
        ForeignKey("households.id"), primary_key=True, index=True
    )


class MonthPlan(Base):
    """The visit plan of one month for a village or a whole town."""

    __tablename__ = "month_plans"
    id: Mapped[int] = mapped_column(primary_key=True)
    month: Mapped[dt.date]
    """First day of the month."""
    village_fk: Mapped[int | None] = mapped_column(ForeignKey("villages.id"), index=True)
    town_fk: Mapped[int | None] = mapped_column(ForeignKey("towns.id"), index=True)
    zone_plan_fk: Mapped[int | None] = mapped_column(ForeignKey("zone_plans.id"))
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    seed: Mapped[int | None]
    status: Mapped[str] = mapped_column(default="draft")
    solver_status: Mapped[str | None]
    scores: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())
    __table_args__ = (
        _one_of("status", PLAN_STATUSES),
        CheckConstraint("village_fk IS NOT NULL OR town_fk IS NOT NULL", name="scope"),
    )


class VisitSession(Base):
    """A stationing day (驻点日) or an evening (夜访) of one group, with its time budget."""

    __tablename__ = "sessions"
    id: Mapped[int] = mapped_column(primary_key=True)
    month_plan_fk: Mapped[int | None] = mapped_column(ForeignKey("month_plans.id"), index=True)
    group_fk: Mapped[int] = mapped_column(ForeignKey("groups.id"), index=True)
    date: Mapped[dt.date]
    kind: Mapped[str]
    start_time: Mapped[dt.time | None]
    end_time: Mapped[dt.time | None]
    budget_min: Mapped[float | None]
    start_kind: Mapped[str | None]
    """Where the session starts: ``depot`` (the office), ``auxiliary_home`` or ``outpost``
    (a point near households too far to walk to from the office); NULL: the office."""
    start_label: Mapped[str | None]
    start_lon: Mapped[float | None]
    start_lat: Mapped[float | None]
    __table_args__ = (
        _one_of("kind", SESSION_KINDS),
        CheckConstraint("budget_min IS NULL OR budget_min >= 0", name="budget_min"),
    )


class Stop(Base):
    """A planned stop of a session: the ``seq``-th household, with arrival and departure."""

    __tablename__ = "stops"
    id: Mapped[int] = mapped_column(primary_key=True)
    session_fk: Mapped[int] = mapped_column(ForeignKey("sessions.id"))
    seq: Mapped[int]
    household_fk: Mapped[int] = mapped_column(ForeignKey("households.id"), index=True)
    arrive: Mapped[dt.time | None]
    depart: Mapped[dt.time | None]
    __table_args__ = (
        UniqueConstraint("session_fk", "seq"),
        CheckConstraint("seq >= 0", name="seq"),
    )


class Visit(Base):
    """A visit made (or attempted); ``client_id`` makes a phone's retried upload idempotent."""

    __tablename__ = "visits"
    id: Mapped[int] = mapped_column(primary_key=True)
    household_fk: Mapped[int] = mapped_column(ForeignKey("households.id"), index=True)
    group_fk: Mapped[int | None] = mapped_column(ForeignKey("groups.id"), index=True)
    stop_fk: Mapped[int | None] = mapped_column(ForeignKey("stops.id"))
    date: Mapped[dt.date]
    outcome: Mapped[str]
    note: Mapped[str | None]
    client_id: Mapped[str | None] = mapped_column(unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())
    __table_args__ = (_one_of("outcome", VISIT_OUTCOMES), Index("ix_visits_date", "date"),
                      # coverage: a household's visits of a year (EXISTS probes), and every column the
                      # per-household aggregates read, so that PostgreSQL answers them from the index
                      # alone (SQLite keeps the row id in every index anyway)
                      Index("ix_visits_household_date_outcome_id", "household_fk", "date", "outcome", "id"))


class Problem(Base):
    """An item of the problem ledger (问题台账)."""

    __tablename__ = "problems"
    id: Mapped[int] = mapped_column(primary_key=True)
    household_fk: Mapped[int] = mapped_column(ForeignKey("households.id"), index=True)
    visit_fk: Mapped[int | None] = mapped_column(ForeignKey("visits.id"), index=True)
    category: Mapped[str | None]
    department: Mapped[str | None]
    text: Mapped[str]
    deadline: Mapped[dt.date | None]
    status: Mapped[str] = mapped_column(default="open")
    resolution_note: Mapped[str | None]
    resolved_date: Mapped[dt.date | None]
    created_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())
    __table_args__ = (_one_of("status", PROBLEM_STATUSES),)


class ImportLog(Base):
    """One successful import: when, which files, what changed and what the user was warned of."""

    __tablename__ = "import_log"
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime]
    replaced: Mapped[list[Any]] = mapped_column(default=list)
    """Layers whose stored records missing from the import were deleted."""
    files: Mapped[dict[str, Any]] = mapped_column(default=dict)
    counts: Mapped[dict[str, Any]] = mapped_column(default=dict)
    warnings: Mapped[list[Any]] = mapped_column(default=list)



# --------------------------------------------------------------------------------------------
# The HTTP service (issue 6): API tokens, jobs, the audit log and uploaded rosters.
# Used by api/service; appended here so that one migration covers them.

TOKEN_ROLES = ("city_admin", "town_admin", "group_member", "inspector")
"""Roles of an API token: city admin (all), town admin (own town), group member (own zone),
inspector (read-only, all)."""
JOB_KINDS = ("zoning", "plan")
JOB_STATUSES = ("queued", "running", "cancelling", "succeeded", "failed", "cancelled")


class ApiToken(Base):
    """A bearer token of the HTTP API.  Only an HMAC of the token is stored, never the token."""

    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str]
    """Who holds it (a person or a device), for the audit log."""
    role: Mapped[str]
    town_fk: Mapped[int | None] = mapped_column(ForeignKey("towns.id"), index=True)
    """The town of a town admin (and of a group member's village)."""
    group_id: Mapped[str | None]
    """A group member's group, by its id (``990101001009-G1``): groups are re-formed by zoning."""
    token_hash: Mapped[str] = mapped_column(unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())
    revoked_at: Mapped[dt.datetime | None]
    __table_args__ = (_one_of("role", TOKEN_ROLES),)


class Job(Base):
    """A zoning or month-planning job run by the service's process pool.

    A job still ``queued`` or ``running`` when the service starts was interrupted: it is marked
    ``failed`` then, never left "running".
    """

    __tablename__ = "jobs"
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str]
    status: Mapped[str] = mapped_column(default="queued")
    percent: Mapped[float] = mapped_column(default=0.0)
    message: Mapped[str | None]
    """The current step (Chinese), or why the job failed."""
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    result: Mapped[dict[str, Any] | None]
    error: Mapped[list[Any] | None]
    """Problems ``[{"file", "where", "problem", "fix"}]`` of a failed job."""
    token_fk: Mapped[int | None] = mapped_column(ForeignKey("api_tokens.id"))
    town_fk: Mapped[int | None] = mapped_column(ForeignKey("towns.id"))
    """Scope of the job: None for a city-wide job."""
    pid: Mapped[int | None]
    created_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())
    started_at: Mapped[dt.datetime | None]
    finished_at: Mapped[dt.datetime | None]
    __table_args__ = (_one_of("kind", JOB_KINDS), _one_of("status", JOB_STATUSES),
                      Index("ix_jobs_status", "status"))


class AuditLog(Base):
    """One write through the HTTP API: who, when, what."""

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime]
    token_fk: Mapped[int | None] = mapped_column(ForeignKey("api_tokens.id"), index=True)
    actor: Mapped[str]
    """The token's name and role, kept even if the token is revoked."""
    action: Mapped[str]
    """``import``, ``roster.upload``, ``job.zoning``, ``job.plan``, ``job.cancel``, ``visit.create``,
    ``visit.bulk``."""
    method: Mapped[str]
    path: Mapped[str]
    status: Mapped[int]
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)
    __table_args__ = (Index("ix_audit_log_at", "at"),)


class RosterFile(Base):
    """A roster uploaded through the API (validated), kept for zoning jobs that name it."""

    __tablename__ = "roster_files"
    id: Mapped[int] = mapped_column(primary_key=True)
    filename: Mapped[str]
    content: Mapped[bytes]
    town_fk: Mapped[int | None] = mapped_column(ForeignKey("towns.id"))
    villages: Mapped[list[Any]] = mapped_column(default=list)
    """Village ids the roster names."""
    token_fk: Mapped[int | None] = mapped_column(ForeignKey("api_tokens.id"))
    created_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())


# --------------------------------------------------------------------------------------------
# Coverage review (issue 7): problem categories, spot checks (暗访).
# Used by api/store/visits.py, api/coverage.py and api/spotcheck.py; one migration covers them
# (and the wider ``ck_problems_status`` for ``cannot_resolve``, which autogenerate does not see).


class ProblemCategory(Base):
    """A category of the problem ledger, with the department usually responsible and the days
    given to resolve it.  An empty table means the defaults of :data:`api.store.visits.DEFAULT_CATEGORIES`."""

    __tablename__ = "problem_categories"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(unique=True)
    department: Mapped[str | None]
    days: Mapped[int] = mapped_column(default=30)
    """Days from the visit to the deadline."""
    position: Mapped[int] = mapped_column(default=0)
    __table_args__ = (CheckConstraint("days > 0", name="days"),)


class SpotCheck(Base):
    """One unannounced spot check (暗访): the sample drawn, with the seed that reproduces it."""

    __tablename__ = "spot_checks"
    id: Mapped[int] = mapped_column(primary_key=True)
    date: Mapped[dt.date]
    """The day of the check; the sample is of visits in the weeks before it."""
    seed: Mapped[str]
    """The seed as text (an integer up to 128 bits does not fit a BIGINT)."""
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    town_fk: Mapped[int | None] = mapped_column(ForeignKey("towns.id"))
    created_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())


class SpotCheckItem(Base):
    """A household of a spot check: the visit checked and, once recorded, whether the household
    confirmed it (``confirmed`` NULL: not checked yet or nobody found)."""

    __tablename__ = "spot_check_items"
    id: Mapped[int] = mapped_column(primary_key=True)
    check_fk: Mapped[int] = mapped_column(ForeignKey("spot_checks.id"), index=True)
    seq: Mapped[int]
    household_fk: Mapped[int] = mapped_column(ForeignKey("households.id"), index=True)
    visit_fk: Mapped[int | None] = mapped_column(ForeignKey("visits.id"))
    group_fk: Mapped[int | None] = mapped_column(ForeignKey("groups.id"), index=True)
    zone_label: Mapped[str | None]
    confirmed: Mapped[bool | None]
    checked_date: Mapped[dt.date | None]
    note: Mapped[str | None]
    __table_args__ = (UniqueConstraint("check_fk", "seq"), UniqueConstraint("check_fk", "household_fk"))
