"""Chinese public holidays and adjusted working days (调休), for :mod:`planner.calendar`.

Two sources:

- :func:`is_workday`: the maintained ``chinesecalendar`` package (import name
  ``chinese_calendar``), which the State Council's yearly notice updates each year. A year it
  does not cover raises :class:`ValueError` in Chinese saying how to fix it (upgrade the package or
  give a holiday file); nothing is guessed.
- :func:`load_holiday_file`: a CSV ``date,type`` for users whose package is outdated, type
  ``休`` / ``holiday`` (a day off that would otherwise be a working day) or ``班`` / ``workday``
  (an adjusted working day, usually a weekend). Days not listed follow the week: Mon-Fri work.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from functools import lru_cache
from datetime import date
from pathlib import Path

_FIX = "请升级 chinesecalendar (pip install -U chinesecalendar) 或用 --holidays 提供节假日文件"
_HOLIDAY = {"休", "holiday", "off", "假"}
_WORKDAY = {"班", "workday", "work", "上班"}


def covered_years() -> set[int]:
    """Years the installed ``chinesecalendar`` package has holiday data for."""
    return set(_covered())


@lru_cache(maxsize=1)
def _covered() -> frozenset[int]:
    from chinese_calendar import constants

    return frozenset({d.year for d in constants.holidays} | {d.year for d in constants.workdays})


def _missing(year: int) -> ValueError:
    return ValueError(f"节假日数据缺少 {year} 年: {_FIX}")


def is_workday(d: date) -> bool:
    """True on working days (including 调休 working weekends), False on weekends and holidays.

    Raises
    ------
    ValueError
        When the installed ``chinesecalendar`` has no data for ``d.year``.
    """
    import chinese_calendar

    if d.year not in _covered():
        raise _missing(d.year)
    try:
        return bool(chinese_calendar.is_workday(d))
    except NotImplementedError as exc:  # the package's own "no available data" error
        raise _missing(d.year) from exc


def load_holiday_file(path: str | Path) -> Callable[[date], bool]:
    """Read a holiday CSV (``date,type``; header optional) into an ``is_workday`` function.

    The function raises :class:`ValueError` for a year the file has no line for (a file
    without next year's holidays must not silently plan through them).

    Raises
    ------
    ValueError
        Listing every unreadable line (row number, content, why) at once.
    """
    path = Path(path)
    special: dict[date, bool] = {}
    problems: list[str] = []
    with path.open(encoding="utf-8-sig", newline="") as fh:
        for row_no, row in enumerate(csv.reader(fh), start=1):
            cells = [c.strip() for c in row]
            if not cells or not any(cells) or cells[0].startswith("#"):
                continue
            if row_no == 1 and cells[0].lower() in ("date", "日期"):
                continue
            if len(cells) < 2:
                problems.append(f"第 {row_no} 行 “{','.join(row)}”: 需要两列 日期,类型")
                continue
            try:
                day = date.fromisoformat(cells[0].replace("/", "-"))
            except ValueError:
                problems.append(f"第 {row_no} 行: 日期 “{cells[0]}” 无法识别 (应为 2027-01-01)")
                continue
            kind = cells[1].lower()
            if kind in _HOLIDAY:
                special[day] = False
            elif kind in _WORKDAY:
                special[day] = True
            else:
                problems.append(f"第 {row_no} 行: 类型 “{cells[1]}” 无法识别 "
                                "(应为 休/holiday 或 班/workday)")
    if problems:
        raise ValueError(f"节假日文件 {path} 有 {len(problems)} 处错误:\n  - "
                         + "\n  - ".join(problems))
    years = {d.year for d in special}

    def file_is_workday(d: date) -> bool:
        if d.year not in years:
            raise ValueError(f"节假日文件 {path} 缺少 {d.year} 年: 请补充该年的节假日和调休日期")
        if d in special:
            return special[d]
        return d.weekday() < 5

    file_is_workday.years = years  # type: ignore[attr-defined]
    return file_is_workday
