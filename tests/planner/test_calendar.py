"""Sessions of a month: stationing days, evenings, holidays and 调休, leave; holiday data."""

from __future__ import annotations

from datetime import date

import pytest

from api.holidays import covered_years, is_workday, load_holiday_file
from planner.calendar import Session, SessionRules, evening_days, month_sessions


def weekdays_only(d: date) -> bool:
    return d.weekday() < 5


def test_covered_years_include_this_year():
    """Fails when the installed chinesecalendar lacks the current year: upgrade it
    (pip install -U chinesecalendar) or ship a holiday file. This failure is intended."""
    year = date.today().year
    assert year in covered_years(), f"chinesecalendar has no holiday data for {year}"
    assert isinstance(is_workday(date(year, 6, 1)), bool)


def test_missing_year_is_a_clear_chinese_error():
    year = max(covered_years()) + 1
    with pytest.raises(ValueError, match=f"节假日数据缺少 {year} 年.*pip install -U chinesecalendar"):
        is_workday(date(year, 1, 5))


def test_plain_month_has_four_or_five_tuesdays_split_in_two():
    # March 2027 with a plain weekday calendar: Tuesdays 2, 9, 16, 23, 30
    s = month_sessions(2027, 3, rules=SessionRules(), is_workday=weekdays_only)
    day = [x for x in s if x.kind == "stationing"]
    assert [x.date.day for x in day if x.part == "am"] == [2, 9, 16, 23, 30]
    assert [x.date.day for x in day if x.part == "pm"] == [2, 9, 16, 23, 30]
    am = day[0]
    assert (am.start_min, am.end_min) == (9 * 60, 12 * 60)
    assert (day[1].start_min, day[1].end_min) == (14 * 60 + 30, 17 * 60 + 30)
    assert "驻点日上午" in am.label and "周二" in am.label
    assert s == sorted(s, key=lambda x: (x.date, x.start_min))


def test_holiday_tuesday_is_skipped_and_adjusted_saturday_is_not_a_stationing_day():
    # October 2026 (chinesecalendar): 1-7 National Day holiday (Tue 6 off), Sat 10 is 调休上班
    s = month_sessions(2026, 10, rules=SessionRules(), is_workday=is_workday)
    tuesdays = sorted({x.date.day for x in s if x.kind == "stationing"})
    assert tuesdays == [13, 20, 27]
    assert is_workday(date(2026, 10, 10))  # adjusted working Saturday
    assert all(x.date != date(2026, 10, 10) for x in s)
    assert all(is_workday(x.date) for x in s)


def test_evenings_three_per_week_with_stand_in_nights():
    s = month_sessions(2026, 10, rules=SessionRules(), is_workday=is_workday)
    ev = [x.date.day for x in s if x.kind == "evening"]
    # week of Oct 5: Mon 5, Wed 7 are holidays -> Thu 8 and stand-in Fri 9 (Tue is stationing)
    assert ev == [8, 9, 12, 14, 15, 19, 21, 22, 26, 28, 29]
    assert all((x.start_min, x.end_min) == (19 * 60, 21 * 60 + 30)
               for x in s if x.kind == "evening")
    plain = evening_days(2027, 3, rules=SessionRules(), is_workday=weekdays_only)
    assert [d.weekday() for d in plain[:3]] == [0, 2, 3]
    two = evening_days(2027, 3, rules=SessionRules(evenings_per_week=2),
                       is_workday=weekdays_only)
    assert len(two) == 2 * 5  # Mar 1 is a Monday: five whole weeks of Mon + Wed
    assert {d.weekday() for d in two} == {0, 2}


def test_week_across_months_keeps_its_nights():
    # The week Mon 2027-03-29 .. Sun 04-04 has Mon 29, Wed 31 (March) and Thu 1 (April)
    mar = evening_days(2027, 3, rules=SessionRules(), is_workday=weekdays_only)
    apr = evening_days(2027, 4, rules=SessionRules(), is_workday=weekdays_only)
    assert [d for d in mar if d.day >= 29] == [date(2027, 3, 29), date(2027, 3, 31)]
    assert apr[0] == date(2027, 4, 1) and apr[1] == date(2027, 4, 5)


def test_leave_rule_skip_and_shorten():
    away = {date(2027, 3, 2): 2, date(2027, 3, 9): 1, date(2027, 3, 1): 3}
    rules = SessionRules()
    s = month_sessions(2027, 3, rules=rules, is_workday=weekdays_only,
                       on_leave=lambda d: away.get(d, 0))
    days = {(x.date.day, x.kind) for x in s}
    assert (2, "stationing") not in days and (1, "evening") not in days  # two or more away
    kept = [x for x in s if x.date.day == 9]
    assert len(kept) == 2 and all(x.away == 1 and x.minutes == 180 for x in kept)
    short = month_sessions(2027, 3, rules=SessionRules(leave_rule="shorten"),
                           is_workday=weekdays_only, on_leave=lambda d: away.get(d, 0))
    kept = [x for x in short if x.date.day == 9]
    assert [x.end_min for x in kept] == [12 * 60 - 30, 17 * 60 + 30 - 30]


def test_configurable_weekday_and_validation():
    s = month_sessions(2027, 3, rules=SessionRules(stationing_weekday=3,
                                                   evening_weekdays=(0, 1, 2)),
                       is_workday=weekdays_only)
    assert {x.date.weekday() for x in s if x.kind == "stationing"} == {3}
    with pytest.raises(ValueError, match="stationing_weekday"):
        SessionRules(stationing_weekday=7)
    with pytest.raises(ValueError, match="leave_rule"):
        SessionRules(leave_rule="maybe")
    with pytest.raises(ValueError, match="kind"):
        Session(date(2027, 3, 1), "night", 0, 10)


def test_holiday_file(tmp_path):
    f = tmp_path / "holidays.csv"
    f.write_text("date,type\n2027-01-01,休\n2027-02-06,班\n2027-02-09,holiday\n",
                 encoding="utf-8")
    wd = load_holiday_file(f)
    assert wd(date(2027, 1, 1)) is False        # Friday, holiday
    assert wd(date(2027, 2, 6)) is True         # Saturday, adjusted working day
    assert wd(date(2027, 2, 9)) is False        # Tuesday, holiday
    assert wd(date(2027, 2, 10)) is True
    with pytest.raises(ValueError, match="缺少 2028 年"):
        wd(date(2028, 1, 4))
    s = month_sessions(2027, 2, rules=SessionRules(), is_workday=wd)
    assert 9 not in {x.date.day for x in s if x.kind == "stationing"}
    bad = tmp_path / "bad.csv"
    bad.write_text("2027-13-01,休\n2027-01-02,maybe\n", encoding="utf-8")
    with pytest.raises(ValueError, match="2 处错误") as err:
        load_holiday_file(bad)
    assert "第 1 行" in str(err.value) and "第 2 行" in str(err.value)
