"""The sessions of a month: stationing days (驻点日) and evening visits (夜访) of one group.

Pure: the public-holiday calendar comes in as a function (``is_workday``, see
:mod:`api.holidays`), leave as a function counting the group's people away on a day.

Rules (all in :class:`SessionRules`)
------------------------------------
Stationing day
    One weekday per week (``stationing_weekday``, Monday = 0; default Tuesday), only when that
    date is a working day: a public holiday on that weekday means no stationing day that week
    (it is not moved). An adjusted working weekend day (调休上班, e.g. a Saturday) is never a
    stationing day, because it is not the configured weekday.
    The daytime window has a lunch break (default 09:00-12:00 and 14:30-17:30). The routing core
    has no breaks, so **each part of the day is its own session** (``part`` = ``"am"``,
    ``"pm"``): one vehicle each, both starting and ending at the group's start point (by default
    the depot, the village committee office, where the group has lunch; or the auxiliary
    member's home, see ``api.plan.PlanRequest.start``/``end``).
Evenings
    ``evenings_per_week`` weeknights per week (default 3), 19:00-21:30. The nights are taken from
    ``evening_weekdays`` (default Mon, Wed, Thu: weeknights other than the stationing day) when
    that date is a working day; when some of them are not (a holiday), the other weekdays
    Mon-Fri except the stationing weekday stand in, in order, until the week has its count.
    Weekends, even adjusted working ones, have no evening visits. Weeks are whole ISO weeks
    (Monday-Sunday), so a week split across two months gets the same nights as if it were not:
    days of the neighbouring month are looked at but not returned (if the holiday calendar does
    not cover them, they count as ordinary: Mon-Fri working).
Leave (请假)
    ``on_leave(day)`` gives how many people of the group are away that day. A "2+1" group visits
    in twos, so with ``leave_skip_at`` (default 2) or more people away every session of that day
    is skipped. With fewer away (one person: the group still has two), the session is kept
    whole under ``leave_rule="skip"`` (default), or ends ``leave_shorten_min`` minutes earlier
    under ``leave_rule="shorten"``. The number away is kept on the session (``away``) for the
    monthly leave count (请假人次).
"""

from __future__ import annotations

import calendar as _stdcal
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

KINDS = ("stationing", "evening")
LEAVE_RULES = ("skip", "shorten")
_WEEKDAY_ZH = "一二三四五六日"


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


@dataclass(frozen=True)
class SessionRules:
    """When a group visits; times are minutes since midnight.

    Attributes
    ----------
    stationing_weekday : int
        Weekday of the stationing day, Monday = 0 (default 1: Tuesday). Configurable per town.
    day_windows : tuple of (start, end)
        The stationing day's parts; each becomes one session. Default 09:00-12:00, 14:30-17:30.
    evenings_per_week : int
        Evening sessions per week (default 3).
    evening_window : (start, end)
        Default 19:00-21:30.
    evening_weekdays : tuple of int
        Preferred evening weekdays, in order (default Mon, Wed, Thu).
    leave_rule : ``"skip"`` or ``"shorten"``
        What one person away (fewer than ``leave_skip_at``) does to a session: nothing, or
        ``leave_shorten_min`` minutes off its end. See the module docstring.
    leave_skip_at : int
        This many people away (or more) skip the day's sessions (default 2).
    leave_shorten_min : int
        Minutes cut under ``leave_rule="shorten"`` (default 30).
    """

    stationing_weekday: int = 1
    day_windows: tuple[tuple[int, int], ...] = ((9 * 60, 12 * 60), (14 * 60 + 30, 17 * 60 + 30))
    evenings_per_week: int = 3
    evening_window: tuple[int, int] = (19 * 60, 21 * 60 + 30)
    evening_weekdays: tuple[int, ...] = (0, 2, 3)
    leave_rule: str = "skip"
    leave_skip_at: int = 2
    leave_shorten_min: int = 30

    def __post_init__(self) -> None:
        problems = []
        if not 0 <= self.stationing_weekday <= 6:
            problems.append(f"stationing_weekday must be 0 (Monday) .. 6, "
                            f"got {self.stationing_weekday}")
        windows = list(self.day_windows) + [self.evening_window]
        for s, e in windows:
            if not 0 <= s < e <= 24 * 60:
                problems.append(f"window ({s}, {e}) must satisfy 0 <= start < end <= 1440 "
                                "(minutes since midnight)")
        ends = [e for _, e in self.day_windows]
        starts = [s for s, _ in self.day_windows]
        if any(b < a for a, b in zip(ends[:-1], starts[1:])):
            problems.append("day_windows must be in order and not overlap")
        if not 0 <= self.evenings_per_week <= 5:
            problems.append(f"evenings_per_week must be 0..5, got {self.evenings_per_week}")
        if any(not 0 <= d <= 4 for d in self.evening_weekdays):
            problems.append(f"evening_weekdays must be weekdays 0 (Mon) .. 4 (Fri), "
                            f"got {self.evening_weekdays}")
        if len(set(self.evening_weekdays)) != len(self.evening_weekdays):
            problems.append("evening_weekdays has duplicates")
        if self.leave_rule not in LEAVE_RULES:
            problems.append(f"leave_rule must be one of {LEAVE_RULES}, got {self.leave_rule!r}")
        if self.leave_skip_at < 1:
            problems.append("leave_skip_at must be >= 1")
        if self.leave_shorten_min < 0:
            problems.append("leave_shorten_min must be >= 0")
        if problems:
            raise ValueError("invalid session rules: " + "; ".join(problems))


@dataclass(frozen=True)
class Session:
    """One visiting session of a group (one routing vehicle).

    ``start_min``/``end_min`` are minutes since midnight of ``date``; ``part`` is ``"am"`` or
    ``"pm"`` for the stationing day's two halves, ``""`` for evenings; ``away`` the number of
    group members on leave that day; ``depot`` the row of the walking matrices where the session
    starts and ends when it is not the usual start (0, the default): an outpost near households
    too far to walk to from there (see :func:`planner.month.plan_group_month`).
    """

    date: date
    kind: str
    start_min: int
    end_min: int
    part: str = ""
    away: int = 0
    depot: int = 0

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"session kind must be one of {KINDS}, got {self.kind!r}")
        if not 0 <= self.start_min <= self.end_min <= 24 * 60:
            raise ValueError(f"session {self.date}: expected 0 <= start_min <= end_min <= 1440")

    @property
    def minutes(self) -> int:
        return self.end_min - self.start_min

    @property
    def label(self) -> str:
        """Chinese label for sheets, e.g. ``3月3日(周二) 驻点日上午 09:00-12:00``."""
        what = {"am": "驻点日上午", "pm": "驻点日下午"}.get(self.part, "驻点日") \
            if self.kind == "stationing" else "夜访"
        return (f"{self.date.month}月{self.date.day}日(周{_WEEKDAY_ZH[self.date.weekday()]}) "
                f"{what} {_hhmm(self.start_min)}-{_hhmm(self.end_min)}")


def _workday_or_ordinary(is_workday: Callable[[date], bool], d: date, year: int,
                         month: int) -> bool:
    if (d.year, d.month) == (year, month):
        return bool(is_workday(d))
    try:
        return bool(is_workday(d))
    except (ValueError, NotImplementedError):  # a neighbouring year the calendar lacks
        return d.weekday() < 5


def evening_days(year: int, month: int, *, rules: SessionRules,
                 is_workday: Callable[[date], bool]) -> list[date]:
    """The evening dates of the month (before leave), see the module docstring."""
    first = date(year, month, 1)
    last = date(year, month, _stdcal.monthrange(year, month)[1])
    monday = first - timedelta(days=first.weekday())
    fill = [wd for wd in range(5)
            if wd not in rules.evening_weekdays and wd != rules.stationing_weekday]
    out: list[date] = []
    while monday <= last:
        chosen: list[date] = []
        for wd in list(rules.evening_weekdays) + fill:
            if len(chosen) >= rules.evenings_per_week:
                break
            d = monday + timedelta(days=wd)
            if _workday_or_ordinary(is_workday, d, year, month):
                chosen.append(d)
        out.extend(d for d in chosen if first <= d <= last)
        monday += timedelta(days=7)
    return sorted(out)


def month_sessions(year: int, month: int, *, rules: SessionRules = SessionRules(),
                   is_workday: Callable[[date], bool],
                   on_leave: Callable[[date], int] = lambda d: 0) -> list[Session]:
    """All sessions of one group in a month, in time order.

    Parameters
    ----------
    year, month : the month planned.
    rules : SessionRules
    is_workday : date -> bool
        True on working days, including adjusted working days (调休上班); e.g.
        :func:`api.holidays.is_workday` or a function from :func:`api.holidays.load_holiday_file`.
        Its errors (a year it does not cover) propagate for days of the month itself.
    on_leave : date -> int
        Number of the group's people away that day (default: nobody).
    """
    if not 1 <= month <= 12:
        raise ValueError(f"month must be 1..12, got {month}")
    n_days = _stdcal.monthrange(year, month)[1]
    evenings = set(evening_days(year, month, rules=rules, is_workday=is_workday))
    out: list[Session] = []
    for day in range(1, n_days + 1):
        d = date(year, month, day)
        planned: list[Session] = []
        if d.weekday() == rules.stationing_weekday and is_workday(d):
            parts = ("am", "pm") if len(rules.day_windows) == 2 else \
                tuple(f"p{k + 1}" for k in range(len(rules.day_windows)))
            planned += [Session(d, "stationing", s, e, part)
                        for (s, e), part in zip(rules.day_windows, parts)]
        if d in evenings:
            planned.append(Session(d, "evening", *rules.evening_window))
        if not planned:
            continue
        away = int(on_leave(d))
        if away >= rules.leave_skip_at:
            continue
        for s in planned:
            end = s.end_min
            if away and rules.leave_rule == "shorten":
                end = max(s.start_min, end - rules.leave_shorten_min)
            if end > s.start_min:
                out.append(Session(s.date, s.kind, s.start_min, end, s.part, away))
    return out
