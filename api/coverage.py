"""Coverage analytics for the review meetings: the figures of the monthly and quarterly reports.

Two layers.  :func:`load_review_data` reads what the figures need from the store (households
with their village, town and zone; visits up to the end of the period; the problem ledger; the
roster with leave; spot-check findings) into plain DataFrames.  Everything else is a pure
function of a :class:`ReviewData`, so the tests can build one by hand and the report, the CLI
and the HTTP service all count the same way.  The figures use the visits only through a
:class:`VisitSummary` (per household: visits this year, first reached, latest visit and outcome,
latest met, visits in the period; per village and month: visits): :func:`summarize_visits`
computes it from visit rows, :func:`load_review_data` reads it aggregated in SQL, so a city's ten
million visits reach Python as a million rows.

Definitions (all "as of" the last day of the period, ``as_of``):

households
    households in the scope whose latest visit up to ``as_of`` is not ``moved`` (a household
    that moved leaves the denominator from the date of that visit; the visit is its audit trail).
visited / visit rate (走访率, year to date)
    households with at least one visit this year up to ``as_of`` whose outcome reached them
    (``met`` or ``refused``, as the month plan counts); rate = visited / households.
never visited
    households - visited.
priority overdue
    households the month plan would call ``priority`` or ``follow_up`` in the month of ``as_of``
    (:func:`maps.coverage.household_status`): a priority household (e.g. elderly living alone)
    not visited within its frequency, or a household owed a feedback visit.
not-home rate (period)
    visits with outcome ``not_home`` / all visits made in the period.
problems (year to date)
    collected: problems of visits this year up to ``as_of``; resolved (办结): those of them
    closed (``resolved`` or ``cannot_resolve``) on or before ``as_of``; resolution rate =
    resolved / collected.  Overdue: any problem (of any year) not closed by ``as_of`` and past its
    deadline (the overdue list has exactly these).
leave (请假人次)
    leave periods of the unit's people that overlap the period.
projected year-end coverage
    (visited + pace x days left in the year) / households, capped at 100%, where pace = households
    first reached this year per day over the last 90 days (or since the scope's first visit this
    year, if later).  A zone "will miss" full coverage when its projection is below 100%.
verification (spot checks)
    among spot-checked households with a finding, the share that confirmed the visit; per zone an
    LQAS decision (:func:`lqas_rule`).
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

logger = logging.getLogger(__name__)

REACHED = ("met", "refused")
CLOSED = ("resolved", "cannot_resolve")
PACE_DAYS = 90
LQAS_UPPER = 0.95
"""A zone whose true verification rate is at least this should be accepted (risk alpha)."""
LQAS_LOWER = 0.75
"""A zone whose true verification rate is at most this should be rejected (risk beta)."""
LQAS_MAX_BETA = 0.10
"""Largest accepted risk of accepting a zone at :data:`LQAS_LOWER`."""
SECRETARY = "secretary"
HEAD = "head"


# --------------------------------------------------------------------------------------------
# Periods


@dataclass(frozen=True)
class Period:
    """A report period: a month or a quarter (first and last day, inclusive)."""

    start: dt.date
    end: dt.date
    kind: str
    label: str

    @property
    def year(self) -> int:
        return self.end.year

    def months(self, *, since: dt.date | None = None) -> list[dt.date]:
        """First days of the months of this year from ``since`` (default January) to ``end``."""
        first = (since or dt.date(self.year, 1, 1)).replace(day=1)
        first = max(first, dt.date(self.year, 1, 1))
        out, m = [], first
        while m <= self.end:
            out.append(m)
            m = dt.date(m.year + (m.month == 12), m.month % 12 + 1, 1)
        return out


def _month_end(first: dt.date) -> dt.date:
    nxt = dt.date(first.year + (first.month == 12), first.month % 12 + 1, 1)
    return nxt - dt.timedelta(days=1)


def parse_period(month: str | None = None, quarter: str | None = None) -> Period:
    """``--month YYYY-MM`` or ``--quarter YYYYQn`` as a :class:`Period`.

    Raises
    ------
    ValueError
        When both or neither are given, or the text does not parse (the message shows the form).
    """
    if (month is None) == (quarter is None):
        raise ValueError("请给出 --month YYYY-MM 或 --quarter YYYYQn 之一 (如 --quarter 2026Q4)")
    if month is not None:
        try:
            first = dt.datetime.strptime(month, "%Y-%m").date()
        except ValueError:
            raise ValueError(f"--month 应为 YYYY-MM, 如 2026-12 (收到 {month!r})") from None
        return Period(first, _month_end(first), "month", f"{first.year}年{first.month}月")
    m = re.fullmatch(r"(\d{4})\s*[Qq]([1-4])", quarter.strip())
    if m is None:
        raise ValueError(f"--quarter 应为 YYYYQn, 如 2026Q4 (收到 {quarter!r})")
    year, q = int(m.group(1)), int(m.group(2))
    first = dt.date(year, 3 * q - 2, 1)
    return Period(first, _month_end(dt.date(year, 3 * q, 1)), "quarter", f"{year}年第{q}季度")


# --------------------------------------------------------------------------------------------
# Data


@dataclass
class ReviewData:
    """What the figures are computed from (see :func:`load_review_data` for the columns)."""

    period: Period
    households: pd.DataFrame
    """``household_pk`` (index), ``household_id``, ``village_id``, ``village``, ``town``, ``zone``,
    ``group_id``, ``tags``, ``address``, ``lon``, ``lat``."""
    visits: pd.DataFrame
    """``household_pk``, ``date`` (datetime64), ``outcome``, ``visit_group`` (the group that
    reported it), ``visit_id``; up to ``period.end``.  Empty (with these columns) when ``summary``
    holds the visits aggregated."""
    problems: pd.DataFrame
    """``id``, ``household_pk``, ``category``, ``department``, ``text``, ``status``, ``deadline``,
    ``resolved_date``, ``visit_date`` (datetime64 or NaT), ``resolution_note``."""
    members: pd.DataFrame
    """``member_id``, ``name``, ``role``, ``title``, ``village_id``, ``group_id``, ``leave``
    (list of (start, end) dates)."""
    spot: pd.DataFrame = field(default_factory=pd.DataFrame)
    """Spot-check items: ``check_id``, ``date``, ``household_id``, ``village_id``, ``group_id``,
    ``zone_label``, ``confirmed`` (True/False/None)."""
    zones: dict[str, list[tuple[str, str | None, Any]]] = field(default_factory=dict)
    """village id -> [(zone label, group id, outline polygon or None)] of the latest zone plan."""
    summary: VisitSummary | None = None
    """The visit records already aggregated for ``period`` (:func:`load_review_data` reads them so,
    leaving ``visits`` empty); None: the figures aggregate ``visits`` (:func:`summarize_visits`)."""
    _summary_of_rows: tuple | None = field(default=None, init=False, repr=False, compare=False)
    """(visits, households, period, summary): :func:`visit_summary`'s last aggregate of the rows."""

    @property
    def as_of(self) -> dt.date:
        return self.period.end


@dataclass
class VisitSummary:
    """What the figures need from the visit records of a scope up to ``period.end``, aggregated.

    :func:`summarize_visits` computes it from visit rows (the definition), :func:`load_review_data`
    in SQL (a million households and ten million visits give a million rows, not ten million).
    """

    period: Period
    households: pd.DataFrame
    """Index ``household_pk`` (every household of the scope), columns ``visits_ytd`` (visits this
    year that reached the household, int), ``first_reached`` (datetime64, NaT when none),
    ``last_visit`` and ``last_outcome`` (the latest visit by date, then by id; NaT/NaN when none),
    ``last_met`` (latest ``met`` visit), ``period_visits`` and ``period_not_home`` (visits in the
    period, and those not at home; int)."""
    months: pd.DataFrame
    """Visits this year per village and month: ``village_id``, ``month`` (``"YYYY-MM"``),
    ``visits``, ``not_home`` (int)."""
    first_this_year: dt.date | None
    """The earliest visit this year (any outcome, any household of the visits), None without one."""


def _frame(rows, columns: list[str]) -> pd.DataFrame:
    """A DataFrame from result rows, column by column (building it from Row objects row by row
    costs seconds per million rows)."""
    cols = list(zip(*rows)) if rows else [()] * len(columns)
    return pd.DataFrame({c: list(v) for c, v in zip(columns, cols)}, columns=columns)


def _plain_rows(conn, stmt) -> list[tuple]:
    """The rows of ``stmt`` as the driver's tuples, without SQLAlchemy's ``Row`` objects (a
    million rows: a second saved).  Only for columns whose values need no conversion by
    SQLAlchemy (integers, floats, text; dates are read with :func:`_dates`)."""
    return conn.execute(stmt).cursor.fetchall()


def load_review_data(engine, period: Period, *, town: str | None = None,
                     village_ids: list[str] | None = None, visit_rows: bool = False) -> ReviewData:
    """Read the figures' inputs for ``period`` (all towns, or one town by name or id prefix).

    The visit records come aggregated (:attr:`ReviewData.summary`, computed in SQL, ``visits``
    left empty), or with ``visit_rows=True`` as rows (``visits``, aggregated by the figures):
    the same figures either way.

    Raises
    ------
    ValueError
        When the scope holds no households (the message says which town).
    """
    from sqlalchemy import String, cast, func, select

    from api.store.models import (
        Group,
        GroupMember,
        Household,
        Member,
        Town,
        Village,
        Visit,
        Zone,
        ZoneHousehold,
        ZonePlan,
    )
    from api.store.models import Problem as ProblemRow
    from api.store.visits import spot_check_items

    with engine.connect() as conn:
        vq = select(Village.id, Village.village_id, Village.name, Town.name).outerjoin(Town, Village.town_fk == Town.id)
        villages = pd.DataFrame(conn.execute(vq).all(), columns=["village_pk", "village_id", "village", "town"])
        if town is not None:
            villages = villages[(villages["town"] == town) | villages["village_id"].str.startswith(town)]
        if village_ids:
            villages = villages[villages["village_id"].isin(village_ids)]
        if not len(villages):
            raise ValueError(f"数据库中没有{'镇 ' + town + ' 的' if town else ''}行政村。处理办法: 检查 --town, "
                             "或先用 zhudian import 导入数据")
        villages["town"] = villages["town"].fillna("(未指定镇)")
        vpks = villages["village_pk"].tolist()
        hh = _frame(_plain_rows(conn,
            select(Household.id, Household.household_id, Household.village_fk, Household.tags, Household.address,
                   Household.lon, Household.lat).where(Household.village_fk.in_(vpks))),
            ["household_pk", "household_id", "village_pk", "tags", "address", "lon", "lat"])
        if not len(hh):
            raise ValueError("所选范围内没有住户。处理办法: 先用 zhudian import 导入住户")
        hh = hh.merge(villages, on="village_pk", how="left")
        latest = (select(ZonePlan.village_fk, func.max(ZonePlan.version).label("v"))
                  .where(ZonePlan.village_fk.in_(vpks)).group_by(ZonePlan.village_fk).subquery())
        zrows = conn.execute(
            select(Zone.id, Zone.label, Group.name, ZonePlan.village_fk, Zone.geom)
            .join(ZonePlan, Zone.plan_fk == ZonePlan.id)
            .join(latest, (latest.c.village_fk == ZonePlan.village_fk) & (latest.c.v == ZonePlan.version))
            .outerjoin(Group, Zone.group_fk == Group.id).order_by(Zone.id)).all()
        zone_of: dict[int, tuple[str, str | None]] = {}
        zpk = {r[0]: (r[1] or f"Z{r[0]}", r[2]) for r in zrows}
        if zpk:
            ids = list(zpk)
            for i in range(0, len(ids), 500):
                for zfk, hfk in _plain_rows(conn, select(ZoneHousehold.zone_fk, ZoneHousehold.household_fk)
                                            .where(ZoneHousehold.zone_fk.in_(ids[i:i + 500]))):
                    zone_of[hfk] = zpk[zfk]
        vid_of_pk = dict(zip(villages["village_pk"], villages["village_id"]))
        import shapely

        zones: dict[str, list] = {}
        for zid, lab, gname, vfk, geom in zrows:
            zones.setdefault(vid_of_pk[vfk], []).append(
                (lab or f"Z{zid}", gname, shapely.from_wkb(geom) if geom is not None else None))
        in_zone = [zone_of.get(pk, ("", None)) for pk in hh["household_pk"].tolist()]
        hh["zone"] = [z[0] for z in in_zone]
        hh["group_id"] = [z[1] for z in in_zone]
        if visit_rows:
            # visits: one query over the scope, plain tuples (fast for a million rows)
            # dates as ISO text (both dialects) parsed in one vectorised call: a million rows in seconds
            vrows = conn.execute(
                select(Visit.household_fk, cast(Visit.date, String), Visit.outcome, Visit.group_fk, Visit.id)
                .join(Household, Visit.household_fk == Household.id)
                .where(Household.village_fk.in_(vpks), Visit.date <= period.end)).all()
            visits = _frame(vrows, ["household_pk", "date", "outcome", "group_fk", "visit_id"])
            visits["date"] = pd.to_datetime(visits["date"].astype("str").str.slice(0, 10), format="%Y-%m-%d")
            gnames = dict(conn.execute(select(Group.id, Group.name).where(Group.village_fk.in_(vpks))).all())
            visits["visit_group"] = visits["group_fk"].map(gnames)
            visits = visits.drop(columns=["group_fk"])
            summary = None
        else:
            # ten million visits are a million households' aggregates, read in SQL
            visits = pd.DataFrame({"household_pk": pd.Series(dtype="int64"), "date": pd.Series(dtype="datetime64[ns]"),
                                   "outcome": pd.Series(dtype="str"), "visit_id": pd.Series(dtype="int64"),
                                   "visit_group": pd.Series(dtype="str")})
            summary = _sql_summary(conn, vpks, hh.set_index("household_pk").sort_index(), period)
        prow = conn.execute(
            select(ProblemRow.id, ProblemRow.household_fk, ProblemRow.category, ProblemRow.department,
                   ProblemRow.text, ProblemRow.status, ProblemRow.deadline, ProblemRow.resolved_date,
                   Visit.date, ProblemRow.resolution_note)
            .join(Household, ProblemRow.household_fk == Household.id)
            .outerjoin(Visit, ProblemRow.visit_fk == Visit.id)
            .where(Household.village_fk.in_(vpks))).all()
        problems = _frame(prow, ["id", "household_pk", "category", "department", "text", "status",
                                               "deadline", "resolved_date", "visit_date", "resolution_note"])
        for c in ("deadline", "resolved_date", "visit_date"):
            problems[c] = pd.to_datetime(problems[c])
        mrows = conn.execute(
            select(Member.member_id, Member.name, Member.role, Member.title, Member.village_fk, Member.leave_dates,
                   Group.name).outerjoin(GroupMember, GroupMember.member_fk == Member.id)
            .outerjoin(Group, GroupMember.group_fk == Group.id).where(Member.village_fk.in_(vpks))).all()
    members = pd.DataFrame(
        [(m, n, r, t, vid_of_pk.get(v), g, [(dt.date.fromisoformat(a), dt.date.fromisoformat(b)) for a, b in (lv or [])])
         for m, n, r, t, v, lv, g in mrows],
        columns=["member_id", "name", "role", "title", "village_id", "group_id", "leave"])
    spot = pd.DataFrame(spot_check_items(engine, until=period.end))
    if len(spot):
        spot = spot[spot["village_id"].isin(villages["village_id"])]
    hh = hh.drop(columns=["village_pk"]).set_index("household_pk").sort_index()
    return ReviewData(period=period, households=hh, visits=visits, problems=problems, members=members, spot=spot,
                      zones=zones, summary=summary)


# --------------------------------------------------------------------------------------------
# Visits, aggregated


SUMMARY_COLUMNS = ["visits_ytd", "first_reached", "last_visit", "last_outcome", "last_met", "period_visits",
                   "period_not_home"]


def summarize_visits(visits: pd.DataFrame, households: pd.DataFrame, period: Period) -> VisitSummary:
    """The :class:`VisitSummary` of visit rows (the columns of :attr:`ReviewData.visits`).

    Visits after ``period.end`` are left out; per-household figures are of the households in
    ``households`` (its index), months of the visits of those households.  Without a ``visit_id``
    column, visits of the same day are ordered as given.
    """
    as_of = pd.Timestamp(period.end)
    jan1 = pd.Timestamp(dt.date(period.year, 1, 1))
    idx = households.index
    v = visits[visits["date"] <= as_of]
    out = pd.DataFrame(index=idx)
    reached = v[v["outcome"].isin(REACHED) & (v["date"] >= jan1)]
    out["visits_ytd"] = reached.groupby("household_pk").size().reindex(idx, fill_value=0).astype(int)
    out["first_reached"] = reached.groupby("household_pk")["date"].min().reindex(idx)
    order = v.sort_values(["date", "visit_id"] if "visit_id" in v else ["date"], kind="stable")
    last = order.groupby("household_pk").tail(1).set_index("household_pk")
    out["last_visit"] = last["date"].reindex(idx)
    out["last_outcome"] = last["outcome"].reindex(idx)
    out["last_met"] = v[v["outcome"] == "met"].groupby("household_pk")["date"].max().reindex(idx)
    in_period = v[v["date"] >= pd.Timestamp(period.start)]
    out["period_visits"] = in_period.groupby("household_pk").size().reindex(idx, fill_value=0).astype(int)
    out["period_not_home"] = (in_period[in_period["outcome"] == "not_home"].groupby("household_pk").size()
                              .reindex(idx, fill_value=0).astype(int))
    this_year = v[v["date"] >= jan1]
    first = this_year["date"].min().date() if len(this_year) else None
    ty = this_year.join(households["village_id"], on="household_pk")
    ty = ty[ty["village_id"].notna()]
    ty = ty.assign(month=ty["date"].dt.strftime("%Y-%m"), nh=(ty["outcome"] == "not_home").astype(int))
    g = ty.groupby(["village_id", "month"])
    months = pd.DataFrame({"visits": g.size(), "not_home": g["nh"].sum()}).reset_index() if len(ty) else \
        pd.DataFrame({"village_id": [], "month": [], "visits": [], "not_home": []})
    months[["visits", "not_home"]] = months[["visits", "not_home"]].astype(int)
    return VisitSummary(period=period, households=out, months=months, first_this_year=first)


def visit_summary(data: ReviewData) -> VisitSummary:
    """``data.summary``, or the summary of ``data.visits`` (computed once per rows and period)."""
    if data.summary is not None:
        if data.summary.period != data.period:
            raise ValueError(f"visit summary of {data.summary.period.label} used for {data.period.label}: "
                             "load the data again for this period")
        return data.summary
    cached = data._summary_of_rows
    if cached is not None and cached[0] is data.visits and cached[1] is data.households and cached[2] == data.period:
        return cached[3]
    summary = summarize_visits(data.visits, data.households, data.period)
    data._summary_of_rows = (data.visits, data.households, data.period, summary)
    return summary


def _sql_summary(conn, village_pks: list[int], households: pd.DataFrame, period: Period) -> VisitSummary:
    """:func:`summarize_visits` of the stored visits of the households of ``village_pks``, in SQL.

    Two grouped queries: one row per household over its visits up to ``period.end`` (read from the
    index ``visits(household_fk, date, outcome, id)`` alone; the latest visit is the largest of
    day number, id and outcome packed into one integer), and one row per village and month over
    this year's visits.  ``households`` holds the scope's households (index ``household_pk``,
    columns ``village_pk`` and ``village_id``).
    """
    from sqlalchemy import (BigInteger, Integer, String, and_, case, cast, func, literal, literal_column, select,
                            type_coerce)

    from api.store.models import Household, Visit

    sqlite = conn.dialect.name == "sqlite"
    jan1 = dt.date(period.year, 1, 1)
    codes = {o: k for k, o in enumerate(("met", "not_home", "refused", "moved"))}
    day = type_coerce(Visit.date, String)  # ISO text on SQLite; PostgreSQL returns dates
    if sqlite:
        day_number = cast(func.julianday(Visit.date), Integer)  # Julian day number (noon)
        epoch = 2440587  # ... of 1970-01-01
        month = func.substr(day, literal_column("1"), literal_column("7"))
        # a plain expression keeps SQLite from the date index: the visits are read per household from
        # the covering index (a third of the city's visits in 2 s, not 7 s)
        as_text = day.concat("")
        date_in_year = and_(as_text >= jan1.isoformat(), as_text <= period.end.isoformat())
    else:
        day_number = Visit.date - literal_column("DATE '1970-01-01'")
        epoch = 0
        month = func.to_char(Visit.date, literal_column("'YYYY-MM'"))
        date_in_year = and_(Visit.date >= jan1, Visit.date <= period.end)
    reached = and_(Visit.outcome.in_(REACHED), Visit.date >= jan1)
    in_period = Visit.date >= period.start
    packed = (type_coerce(day_number, BigInteger) * literal(10 ** 11, BigInteger)
              + type_coerce(Visit.id, BigInteger) * literal(10, BigInteger)
              + case(*((Visit.outcome == o, k) for o, k in codes.items()), else_=9))
    scope = Household.village_fk.in_(village_pks)
    per_household = (
        select(Household.id,
               func.count().filter(reached),
               type_coerce(func.min(Visit.date).filter(reached), String),
               type_coerce(func.max(packed), BigInteger),
               type_coerce(func.max(Visit.date).filter(Visit.outcome == "met"), String),
               func.count().filter(in_period),
               func.count().filter(and_(in_period, Visit.outcome == "not_home")))
        .select_from(Household).join(Visit, Visit.household_fk == Household.id)
        .where(scope, Visit.date <= period.end).group_by(Household.id))
    rows = _frame(_plain_rows(conn, per_household),
                  ["household_pk", "visits_ytd", "first_reached", "packed", "last_met", "period_visits",
                   "period_not_home"]).set_index("household_pk")
    idx = households.index
    out = pd.DataFrame(index=idx)
    out["visits_ytd"] = rows["visits_ytd"].reindex(idx, fill_value=0).astype(int)
    out["first_reached"] = _dates(rows["first_reached"]).reindex(idx)
    packed_values = rows["packed"].to_numpy(dtype=np.int64)
    days = packed_values // 10 ** 11 - epoch
    last_day = pd.Series(days.astype("datetime64[D]").astype(_DATE_DTYPE), index=rows.index)
    names = np.array(list(codes) + [None] * (10 - len(codes)), dtype=object)
    out["last_visit"] = last_day.reindex(idx)
    out["last_outcome"] = pd.Series(names[packed_values % 10], index=rows.index, dtype="str").reindex(idx)
    out["last_met"] = _dates(rows["last_met"]).reindex(idx)
    out["period_visits"] = rows["period_visits"].reindex(idx, fill_value=0).astype(int)
    out["period_not_home"] = rows["period_not_home"].reindex(idx, fill_value=0).astype(int)
    month_label = month.label("month")
    per_month = (
        select(Household.village_fk, month_label, func.count(),
               func.count().filter(Visit.outcome == "not_home"), type_coerce(func.min(Visit.date), String))
        .select_from(Household).join(Visit, Visit.household_fk == Household.id)
        .where(scope, date_in_year).group_by(Household.village_fk, month_label))
    m = _frame(_plain_rows(conn, per_month), ["village_pk", "month", "visits", "not_home", "first"])
    first = _dates(m["first"]).min() if len(m) else None
    vid = dict(zip(households["village_pk"], households["village_id"]))
    months = pd.DataFrame({"village_id": [vid.get(k) for k in m["village_pk"]], "month": m["month"].astype("str"),
                           "visits": m["visits"].astype(int), "not_home": m["not_home"].astype(int)})
    months = months.sort_values(["village_id", "month"], kind="stable").reset_index(drop=True)
    return VisitSummary(period=period, households=out, months=months,
                        first_this_year=first.date() if first is not None and pd.notna(first) else None)


def _dates(values: pd.Series) -> pd.Series:
    """Dates as the database returns them (ISO text from SQLite, ``datetime.date`` from
    PostgreSQL, None) as datetime64 of the resolution :func:`load_review_data` reads visit dates in."""
    known = values.dropna()
    if len(known) and not isinstance(known.iloc[0], str):
        return pd.to_datetime(values).astype(_DATE_DTYPE)
    return pd.to_datetime(values.astype(object).where(values.notna(), None), format="%Y-%m-%d").astype(_DATE_DTYPE)


_DATE_DTYPE = pd.to_datetime(pd.Series(["2026-01-01"]), format="%Y-%m-%d").dtype
"""The dtype of dates parsed from ISO text (``datetime64[us]`` with pandas 3)."""


# --------------------------------------------------------------------------------------------
# Per household


def household_figures(data: ReviewData) -> pd.DataFrame:
    """Per household (same index as ``data.households``): ``visits_ytd``, ``first_reached``,
    ``last_visit``, ``last_outcome``, ``moved`` (bool), ``moved_date``, ``visited`` (bool),
    ``follow_up`` (owed a feedback visit) and ``status`` (the coverage map's status)."""
    from maps.coverage import household_status
    from planner.month import HouseholdState

    as_of = pd.Timestamp(data.as_of)
    hh = data.households
    summary = visit_summary(data).households
    out = pd.DataFrame(index=hh.index)
    for column in ("visits_ytd", "first_reached", "last_visit", "last_outcome"):
        out[column] = summary[column]
    out["moved"] = (out["last_outcome"] == "moved").to_numpy()
    out["moved_date"] = out["last_visit"].where(out["moved"])
    out["visited"] = (out["visits_ytd"] > 0) & ~out["moved"]
    out["follow_up"] = False
    p = data.problems
    if len(p):
        closed = p[p["status"].isin(CLOSED) & p["resolved_date"].notna() & (p["resolved_date"] <= as_of)]
        if len(closed):
            last_met = summary["last_met"]
            owed = closed.groupby("household_pk")["resolved_date"].max()
            lm = last_met.reindex(owed.index)
            owed = owed[lm.isna() | (lm < owed)]
            out.loc[out.index.isin(owed.index), "follow_up"] = True
    # A household's status depends on its own state only: households in the same state (of a
    # city's million, 65,000 distinct states) are classified once.
    key = pd.DataFrame({"n": out["visits_ytd"].to_numpy(), "lv": out["last_visit"].to_numpy(),
                        "lo": out["last_outcome"].to_numpy(dtype=object), "tags": hh["tags"].to_numpy(dtype=object),
                        "fu": out["follow_up"].to_numpy(dtype=bool)})
    code = key.groupby(list(key.columns), dropna=False, sort=False).ngroup().to_numpy()
    first = np.unique(code, return_index=True)[1]  # the first household of each state, by state number
    states = [HouseholdState(visits_this_year=int(n), last_visit=lv.date() if pd.notna(lv) else None,
                             last_outcome=lo if isinstance(lo, str) else None,
                             tags=tuple(t for t in str(tags or "").split(",") if t), follow_up=bool(fu))
              for n, lv, lo, tags, fu in key.iloc[first].itertuples(index=False, name=None)]
    status = np.array(household_status(states, year=data.as_of.year, month=data.as_of.month), dtype=object)
    out["status"] = status[code].tolist() if states else []
    return out


# --------------------------------------------------------------------------------------------
# Per unit (zone, village, town)

LEVEL_KEYS = {"zone": ["town", "village_id", "village", "zone", "group_id"], "village": ["town", "village_id", "village"],
              "town": ["town"]}


def _leave_count(leave: list, start: dt.date, end: dt.date) -> int:
    return sum(1 for a, b in leave if a <= end and b >= start)


def projected_coverage(visited: float, households: float, reached_in_window: float, window_days: int,
                       days_left: int) -> float:
    """(visited + pace x days left) / households, at most 1; pace = reached_in_window / window_days.

    NaN for a unit without households."""
    if households <= 0:
        return math.nan
    pace = reached_in_window / window_days if window_days > 0 else 0.0
    return min(1.0, (visited + pace * days_left) / households)


def pace_window(data: ReviewData) -> tuple[dt.date, int]:
    """Start of the pace window and its length in days (see the module docstring)."""
    as_of = data.as_of
    start = max(dt.date(as_of.year, 1, 1), as_of - dt.timedelta(days=PACE_DAYS - 1))
    first = visit_summary(data).first_this_year
    if first is not None:
        start = max(start, first)
    return start, (as_of - start).days + 1


def unit_figures(data: ReviewData, hf: pd.DataFrame, level: str) -> pd.DataFrame:
    """The figures of every zone, village or town (``level``), one row each (see the module docstring).

    Columns: the level's keys, then ``households``, ``moved``, ``visited``, ``visit_rate``,
    ``never_visited``, ``priority_overdue``, ``visits``, ``not_home``, ``not_home_rate``,
    ``problems``, ``resolved``, ``overdue``, ``resolution_rate``, ``leave``, ``projected``,
    ``will_miss``, ``checked``, ``confirmed``, ``verification_rate`` (and ``lqas`` for zones).
    """
    keys = LEVEL_KEYS[level]
    period = data.period
    hh = data.households.join(hf)
    hh = hh.assign(**{k: hh[k].fillna("") for k in keys if k in ("zone", "group_id")})
    g = hh.groupby(keys, dropna=False, sort=True)
    out = pd.DataFrame({
        "households": g["moved"].apply(lambda s: int((~s).sum())),
        "moved": g["moved"].sum().astype(int),
        "visited": g["visited"].sum().astype(int),
        "priority_overdue": g["status"].apply(lambda s: int((s == "priority_overdue").sum())),
    })
    out["visit_rate"] = np.where(out["households"] > 0, out["visited"] / out["households"].where(out["households"] > 0, 1),
                                 np.nan)
    out["never_visited"] = out["households"] - out["visited"]
    # visits in the period
    summary = visit_summary(data).households
    vg = hh[keys].assign(n=summary["period_visits"], nh=summary["period_not_home"]).groupby(keys, dropna=False)
    out["visits"] = vg["n"].sum().reindex(out.index, fill_value=0).astype(int)
    out["not_home"] = vg["nh"].sum().reindex(out.index, fill_value=0).astype(int)
    out["not_home_rate"] = np.where(out["visits"] > 0, out["not_home"] / out["visits"].where(out["visits"] > 0, 1), np.nan)
    # problems, year to date
    as_of = pd.Timestamp(data.as_of)
    p = data.problems
    if len(p):
        p = p[p["visit_date"].isna() | (p["visit_date"] <= as_of)]
        p = p.assign(closed=p["status"].isin(CLOSED) & p["resolved_date"].notna() & (p["resolved_date"] <= as_of))
        p = p.assign(late=~p["closed"] & p["deadline"].notna() & (p["deadline"] < as_of),
                     ytd=p["visit_date"].isna() | (p["visit_date"] >= pd.Timestamp(dt.date(period.year, 1, 1))))
        pk = p.join(hh[keys], on="household_pk")
        ytd = pk[pk["ytd"]].groupby(keys, dropna=False)
        out["problems"] = ytd.size().reindex(out.index, fill_value=0).astype(int)
        out["resolved"] = ytd["closed"].sum().reindex(out.index, fill_value=0).astype(int)
        out["overdue"] = pk.groupby(keys, dropna=False)["late"].sum().reindex(out.index, fill_value=0).astype(int)
    else:
        out["problems"] = out["resolved"] = out["overdue"] = 0
    out["resolution_rate"] = np.where(out["problems"] > 0, out["resolved"] / out["problems"].where(out["problems"] > 0, 1),
                                      np.nan)
    # leave
    out["leave"] = _leave_by(data, out.index, keys)
    # projection
    start, days = pace_window(data)
    first = hh["first_reached"]
    in_window = hh.assign(w=(first >= pd.Timestamp(start)) & (first <= as_of) & ~hh["moved"]).groupby(keys, dropna=False)["w"].sum()
    days_left = (dt.date(data.as_of.year, 12, 31) - data.as_of).days
    out["projected"] = [projected_coverage(vis, n, float(in_window.get(k, 0)), days, days_left)
                        for k, vis, n in zip(out.index, out["visited"], out["households"])]
    out["will_miss"] = out["projected"] < 1.0 - 1e-9
    # spot checks
    checked, confirmed = _spot_by(data, hh, out.index, keys)
    out["checked"], out["confirmed"] = checked, confirmed
    out["verification_rate"] = np.where(out["checked"] > 0, out["confirmed"] / out["checked"].where(out["checked"] > 0, 1),
                                        np.nan)
    if level == "zone":
        out["lqas"] = [lqas_decision(int(n), int(n - c)) for n, c in zip(out["checked"], out["confirmed"])]
    return out.reset_index()


def _leave_by(data: ReviewData, index: pd.Index, keys: list[str]) -> list[int]:
    m = data.members
    if not len(m):
        return [0] * len(index)
    info = data.households.drop_duplicates("village_id").set_index("village_id")[["town", "village"]]
    m = m.join(info, on="village_id")
    m = m.assign(n=[_leave_count(lv, data.period.start, data.period.end) for lv in m["leave"]])
    if "zone" in keys:
        zone_of_group = data.households.dropna(subset=["group_id"]).drop_duplicates("group_id").set_index("group_id")["zone"]
        m = m.assign(zone=m["group_id"].map(zone_of_group).fillna(""), group_id=m["group_id"].fillna(""))
    counts = m.groupby(keys, dropna=False)["n"].sum()
    return [int(counts.get(k, 0)) for k in index]


def _spot_by(data: ReviewData, hh: pd.DataFrame, index: pd.Index, keys: list[str]) -> tuple[list[int], list[int]]:
    s = data.spot
    if not len(s):
        return [0] * len(index), [0] * len(index)
    s = s[s["confirmed"].notna()]
    pk_of = pd.Series(hh.index, index=hh["household_id"])
    s = s[["household_id", "confirmed"]].assign(household_pk=s["household_id"].map(pk_of)).dropna(subset=["household_pk"])
    s = s.join(hh[keys], on="household_pk")
    g = s.groupby(keys, dropna=False)
    n = g.size()
    c = g["confirmed"].apply(lambda x: int(sum(bool(y) for y in x)))
    return [int(n.get(k, 0)) for k in index], [int(c.get(k, 0)) for k in index]


# --------------------------------------------------------------------------------------------
# LQAS


def _binom_cdf(d: int, n: int, p: float) -> float:
    return float(sum(math.comb(n, k) * p ** k * (1 - p) ** (n - k) for k in range(0, d + 1)))


def lqas_rule(n: int, *, upper: float = LQAS_UPPER, lower: float = LQAS_LOWER,
              max_beta: float = LQAS_MAX_BETA) -> tuple[int, float, float] | None:
    """The LQAS decision rule for a sample of ``n`` checked households.

    A zone is **accepted** when at most ``d`` of its ``n`` checked households do not confirm the
    visit, else **rejected**.  ``d`` is the largest number such that the risk of accepting a zone
    whose true verification rate is ``lower`` (beta = P[failures <= d | 1 - lower]) stays at most
    ``max_beta``; alpha = P[failures > d | 1 - upper] is the risk of rejecting a zone at ``upper``.

    Returns
    -------
    (d, alpha, beta) or None
        None when even ``d = 0`` gives beta > ``max_beta``: the sample is too small to decide
        (with the defaults, fewer than 9 checked households).
    """
    best = None
    for d in range(0, n + 1):
        beta = _binom_cdf(d, n, 1 - lower)
        if beta > max_beta:
            break
        best = (d, 1 - _binom_cdf(d, n, 1 - upper), beta)
    return best


def lqas_decision(n: int, failures: int) -> str:
    """``"accept"``, ``"reject"`` or ``"insufficient"`` (too few checked households for a rule,
    see :func:`lqas_rule`)."""
    rule = lqas_rule(n) if n > 0 else None
    if rule is None:
        return "insufficient"
    return "accept" if failures <= rule[0] else "reject"


# --------------------------------------------------------------------------------------------
# Trend, leaders, group verification


def monthly_trend(data: ReviewData, hf: pd.DataFrame, level: str = "village") -> pd.DataFrame:
    """Per unit and month of the year up to ``as_of`` (from the first month with visits):
    ``month`` (first day), ``visit_rate`` (cumulative, at the month's end), ``visits``,
    ``not_home_rate`` (in that month), ``problems`` (collected that month)."""
    keys = LEVEL_KEYS[level][: 3 if level == "village" else 1]
    hh = data.households.join(hf)
    summary = visit_summary(data)
    since = summary.first_this_year or data.period.start
    rows = []
    info = hh.drop_duplicates("village_id").set_index("village_id")[[k for k in keys if k != "village_id"]]
    vk = summary.months.join(info, on="village_id")
    pk = data.problems.join(hh[keys], on="household_pk") if len(data.problems) else None
    units = hh.groupby(keys, sort=True)  # every unit, in order; households without a key are left out
    code = units.ngroup().to_numpy()
    index = units.size().index
    keyed = code >= 0
    for first in data.period.months(since=since):
        end = pd.Timestamp(_month_end(first))
        start = pd.Timestamp(first)
        in_scope = ~(hh["moved_date"].notna() & (hh["moved_date"] <= end)).to_numpy()
        reached = (hh["first_reached"].notna() & (hh["first_reached"] <= end)).to_numpy() & in_scope
        den = pd.Series(np.bincount(code[keyed & in_scope], minlength=len(index)), index=index)
        num = pd.Series(np.bincount(code[keyed & reached], minlength=len(index)), index=index)
        month_v = vk[vk["month"] == f"{first:%Y-%m}"]
        mg = month_v.groupby(keys)
        n_vis = mg["visits"].sum()
        n_nh = mg["not_home"].sum()
        if pk is not None:
            mp = pk[(pk["visit_date"] >= start) & (pk["visit_date"] <= end)].groupby(keys).size()
        else:
            mp = pd.Series(dtype=int)
        for k in den.index:
            d = int(den[k])
            nv = int(n_vis.get(k, 0))
            rows.append({**dict(zip(keys, k if isinstance(k, tuple) else (k,))), "month": first,
                         "visit_rate": int(num.get(k, 0)) / d if d else math.nan, "visits": nv,
                         "not_home_rate": int(n_nh.get(k, 0)) / nv if nv else math.nan,
                         "problems": int(mp.get(k, 0))})
    return pd.DataFrame(rows)


def leader_kind(title: str | None) -> str | None:
    """``"secretary"`` for a town (or subdistrict) party secretary, ``"head"`` for a town head
    (镇长 / 街道办事处主任), None otherwise (deputies: 副书记, 副镇长, ... are neither)."""
    t = (title or "").strip()
    if not t or "副" in t:
        return None
    if re.search(r"(镇|乡|街道)?党(委|工委)书记$", t):
        return SECRETARY
    if re.search(r"(镇|乡)长$", t) or re.search(r"街道(办事处)?主任$", t):
        return HEAD
    return None


def leader_rows(data: ReviewData, villages: pd.DataFrame) -> pd.DataFrame:
    """One row per town party secretary and town head the roster names (by ``title``), with the
    figures of the village they are stationed in and their own leave count; secretaries first."""
    m = data.members.assign(kind=[leader_kind(t) for t in data.members["title"]]) if len(data.members) else None
    if m is None or not m["kind"].notna().any():
        return pd.DataFrame(columns=["kind", "name", "title", "town", "village_id", "village"])
    m = m[m["kind"].notna()]
    vt = villages.set_index("village_id")
    rows = []
    for r in m.itertuples(index=False):
        if r.village_id not in vt.index:
            continue
        v = vt.loc[r.village_id]
        rows.append({"kind": r.kind, "name": r.name, "title": r.title, "town": v["town"], "village_id": r.village_id,
                     "village": v["village"], "households": int(v["households"]), "visit_rate": v["visit_rate"],
                     "never_visited": int(v["never_visited"]), "problems": int(v["problems"]),
                     "resolution_rate": v["resolution_rate"], "overdue": int(v["overdue"]),
                     "leave": _leave_count(r.leave, data.period.start, data.period.end)})
    out = pd.DataFrame(rows)
    if len(out):
        out = (out.assign(_order=out["kind"].map({SECRETARY: 0, HEAD: 1}))
               .sort_values(["town", "_order"], kind="stable").drop(columns="_order").reset_index(drop=True))
    return out


def group_verification(data: ReviewData, hf: pd.DataFrame) -> pd.DataFrame:
    """Per group (the group that reported the visit): spot-checked households with a finding,
    confirmed, not confirmed and the verification rate."""
    s = data.spot
    cols = ["village_id", "group_id", "checked", "confirmed", "not_confirmed", "verification_rate"]
    if not len(s):
        return pd.DataFrame(columns=cols)
    s = s[s["confirmed"].notna()]
    if not len(s):
        return pd.DataFrame(columns=cols)
    g = s.assign(group_id=s["group_id"].fillna("")).groupby(["village_id", "group_id"])
    out = pd.DataFrame({"checked": g.size(), "confirmed": g["confirmed"].apply(lambda x: int(sum(bool(y) for y in x)))})
    out["not_confirmed"] = out["checked"] - out["confirmed"]
    out["verification_rate"] = out["confirmed"] / out["checked"]
    return out.reset_index()[cols]


def rank(table: pd.DataFrame, *, by: tuple[str, ...] = ("visit_rate", "resolution_rate")) -> pd.DataFrame:
    """``table`` sorted best first (比学赶超) with a ``rank`` column (ties share a rank)."""
    t = table.copy()
    sort = t[list(by)].fillna(-1.0)
    t = t.assign(_a=sort[by[0]], _b=sort[by[1]] if len(by) > 1 else 0).sort_values(["_a", "_b"], ascending=False,
                                                                                    kind="stable")
    t["rank"] = t[["_a", "_b"]].apply(tuple, axis=1).rank(method="min", ascending=False).astype(int)
    return t.drop(columns=["_a", "_b"]).reset_index(drop=True)


def total_row(table: pd.DataFrame, label: dict[str, str]) -> dict[str, Any]:
    """The sum of a town table's rows (district / city = sum of its towns), with rates recomputed."""
    s = {c: int(table[c].sum()) for c in ("households", "moved", "visited", "never_visited", "priority_overdue",
                                           "visits", "not_home", "problems", "resolved", "overdue", "leave",
                                           "checked", "confirmed")}
    s["visit_rate"] = s["visited"] / s["households"] if s["households"] else math.nan
    s["not_home_rate"] = s["not_home"] / s["visits"] if s["visits"] else math.nan
    s["resolution_rate"] = s["resolved"] / s["problems"] if s["problems"] else math.nan
    s["verification_rate"] = s["confirmed"] / s["checked"] if s["checked"] else math.nan
    w = table["households"].to_numpy(dtype=float)
    proj = table["projected"].to_numpy(dtype=float)
    ok = np.isfinite(proj) & (w > 0)
    s["projected"] = float((proj[ok] * w[ok]).sum() / w[ok].sum()) if ok.any() else math.nan
    s["will_miss"] = bool(s["projected"] < 1.0 - 1e-9) if math.isfinite(s["projected"]) else False
    return {**label, **s}


@dataclass
class Figures:
    """Every table of a report, computed from one :class:`ReviewData`."""

    data: ReviewData
    households: pd.DataFrame
    zones: pd.DataFrame
    villages: pd.DataFrame
    towns: pd.DataFrame
    total: dict[str, Any]
    leaders: pd.DataFrame
    trend: pd.DataFrame
    town_trend: pd.DataFrame
    groups: pd.DataFrame
    overdue: pd.DataFrame


def compute(data: ReviewData) -> Figures:
    """All the figures of a report (see the module docstring for the definitions)."""
    hf = household_figures(data)
    zones = unit_figures(data, hf, "zone")
    villages = rank(unit_figures(data, hf, "village"))
    towns = rank(unit_figures(data, hf, "town"))
    total = total_row(towns, {"town": "合计"})
    trend = monthly_trend(data, hf, "village")
    town_trend = monthly_trend(data, hf, "town")
    p = data.problems
    as_of = pd.Timestamp(data.as_of)
    if len(p):
        late = p[~(p["status"].isin(CLOSED) & p["resolved_date"].notna() & (p["resolved_date"] <= as_of))
                 & p["deadline"].notna() & (p["deadline"] < as_of)]
        late = late.join(data.households[["household_id", "village", "village_id", "town", "group_id"]], on="household_pk")
        late = late.assign(overdue_days=(as_of - late["deadline"]).dt.days).sort_values(
            ["overdue_days", "id"], ascending=[False, True]).reset_index(drop=True)
    else:
        late = pd.DataFrame(columns=["id", "household_id", "village", "category", "department", "text", "deadline",
                                     "overdue_days", "status"])
    return Figures(data=data, households=hf, zones=zones, villages=villages, towns=towns, total=total,
                   leaders=leader_rows(data, villages), trend=trend, town_trend=town_trend,
                   groups=group_verification(data, hf), overdue=late)
