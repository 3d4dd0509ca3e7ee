"""The plain functions of the coverage review: periods, LQAS, weights, projection, leaders, the
figures of a hand-made ReviewData (moved households, overdue problems, feedback owed)."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd
import pytest
from scipy.stats import binom

from api.coverage import (
    Period,
    ReviewData,
    household_figures,
    leader_kind,
    lqas_decision,
    lqas_rule,
    parse_period,
    projected_coverage,
    unit_figures,
)
from api.spotcheck import _largest_remainder, draw_sample, zone_weight
from api.visits import parse_date, row_client_id


def test_periods() -> None:
    q = parse_period(quarter="2026Q4")
    assert (q.start, q.end, q.label) == (dt.date(2026, 10, 1), dt.date(2026, 12, 31), "2026年第4季度")
    m = parse_period(month="2026-02")
    assert (m.start, m.end) == (dt.date(2026, 2, 1), dt.date(2026, 2, 28))
    assert [d.month for d in q.months(since=dt.date(2026, 9, 14))] == [9, 10, 11, 12]
    for bad in ({"quarter": "2026Q0"}, {"month": "2026-13"}, {}, {"month": "2026-01", "quarter": "2026Q1"}):
        with pytest.raises(ValueError):
            parse_period(**bad)


@pytest.mark.parametrize("n", [5, 8, 9, 12, 15, 19, 30, 60])
def test_lqas_rule_against_the_binomial(n: int) -> None:
    rule = lqas_rule(n)
    betas = [binom.cdf(d, n, 0.25) for d in range(n + 1)]
    ok = [d for d in range(n + 1) if betas[d] <= 0.10]
    if not ok:
        assert rule is None and lqas_decision(n, 0) == "insufficient"
        return
    d, alpha, beta = rule
    assert d == max(ok)
    assert beta == pytest.approx(binom.cdf(d, n, 0.25))
    assert alpha == pytest.approx(binom.sf(d, n, 0.05))
    assert lqas_decision(n, d) == "accept" and lqas_decision(n, d + 1) == "reject"


def test_lqas_small_samples() -> None:
    assert lqas_rule(8) is None and lqas_rule(9) is not None and lqas_rule(9)[0] == 0
    assert lqas_decision(0, 0) == "insufficient"


def test_weights_and_allocation() -> None:
    assert zone_weight(1.0, 0.0) == 1.0
    assert zone_weight(0.2, 0.3) == pytest.approx(1 + 1.6 + 0.6)
    assert zone_weight(float("nan"), float("nan")) == 3.0
    alloc = _largest_remainder(10, np.array([3.0, 1.0, 1.0]), np.array([100, 100, 2]))
    assert alloc.sum() == 10 and alloc[2] <= 2 and alloc[0] > alloc[1]
    assert _largest_remainder(50, np.array([1.0, 1.0]), np.array([3, 4])).tolist() == [3, 4]


def _eligible() -> tuple[pd.DataFrame, pd.DataFrame]:
    rows = [{"household_id": f"{v}-{z}-{k}", "village_id": v, "zone": f"{v}-{z}"}
            for v in ("V1", "V2", "V3", "V4") for z in ("A", "B") for k in range(30)]
    zones = pd.DataFrame([{"village_id": v, "zone": f"{v}-{z}",
                           "visit_rate": 0.1 if (v, z) == ("V1", "A") else 0.9, "not_home_rate": 0.05}
                          for v in ("V1", "V2", "V3", "V4") for z in ("A", "B")])
    return pd.DataFrame(rows), zones


def test_sample_is_reproducible_stratified_and_weighted() -> None:
    eligible, zones = _eligible()
    a = draw_sample(eligible, zones, n_villages=2, n_households=10, rng=np.random.default_rng(5))
    b = draw_sample(eligible, zones, n_villages=2, n_households=10, rng=np.random.default_rng(5))
    assert a["household_id"].tolist() == b["household_id"].tolist()
    assert len(a) == 20 and a["household_id"].is_unique and a["village_id"].nunique() == 2
    # every stratum of a drawn village gets households, the low-coverage zone more
    v1 = [draw_sample(eligible, zones, n_villages=4, n_households=10, rng=np.random.default_rng(s))
          for s in range(3)]
    for s in v1:
        counts = s[s["village_id"] == "V1"]["zone"].value_counts()
        assert counts["V1-A"] > counts["V1-B"] > 0
    # V1 (with the weak zone) is drawn first more often than its 1/4 share
    first = [draw_sample(eligible, zones, n_villages=1, n_households=1, rng=np.random.default_rng(s))["village_id"].iloc[0]
             for s in range(1000)]
    assert first.count("V1") / 1000 > 0.3  # expected 2.1 / 6.0 = 0.35; without weights 0.25


def test_projection_and_leaders() -> None:
    assert projected_coverage(50, 100, 30, 30, 60) == 1.0
    assert projected_coverage(50, 100, 0, 30, 60) == 0.5
    assert projected_coverage(50, 100, 10, 100, 100) == pytest.approx(0.6)
    assert math.isnan(projected_coverage(0, 0, 0, 1, 1))
    assert leader_kind("镇党委书记") == "secretary" and leader_kind("街道党工委书记") == "secretary"
    assert leader_kind("镇长") == "head" and leader_kind("街道办事处主任") == "head"
    for other in ("镇党委副书记", "副镇长", "镇纪委书记", "镇综治办干部", None, ""):
        assert leader_kind(other) is None


def test_file_helpers() -> None:
    assert parse_date("2026年3月4日") == parse_date("2026/3/4") == parse_date("2026-03-04 00:00:00") \
        == dt.date(2026, 3, 4)
    with pytest.raises(ValueError):
        parse_date("4.3.2026x")
    a = row_client_id("H1", dt.date(2026, 3, 4), "G1", "met")
    assert a == row_client_id("H1", dt.date(2026, 3, 4), "G1", "met") != row_client_id("H1", dt.date(2026, 3, 4), "G1",
                                                                                          "not_home")


def _data() -> ReviewData:
    hh = pd.DataFrame({"household_id": ["H1", "H2", "H3", "H4"], "village_id": "V", "village": "村", "town": "镇",
                       "zone": ["Z1", "Z1", "Z2", "Z2"], "group_id": ["G1", "G1", "G2", "G2"],
                       "tags": ["", "", "elderly_alone", ""], "address": "", "lon": 0.0, "lat": 0.0},
                      index=pd.Index([1, 2, 3, 4], name="household_pk"))
    d = pd.Timestamp
    visits = pd.DataFrame({"household_pk": [1, 2, 2, 4, 1], "date": [d("2026-03-02"), d("2026-03-03"), d("2026-03-20"),
                                                                     d("2026-03-05"), d("2026-02-01")],
                           "outcome": ["met", "not_home", "moved", "met", "met"], "visit_group": "G1",
                           "visit_id": [1, 2, 3, 4, 5]})
    problems = pd.DataFrame({"id": [1, 2, 3], "household_pk": [1, 4, 4], "category": "其他", "department": "x",
                             "text": "t", "status": ["resolved", "open", "in_progress"],
                             "deadline": [d("2026-03-10"), d("2026-03-20"), d("2026-04-20")],
                             "resolved_date": [d("2026-03-05"), pd.NaT, pd.NaT],
                             "visit_date": [d("2026-03-02"), d("2026-03-05"), d("2026-03-05")],
                             "resolution_note": None})
    members = pd.DataFrame({"member_id": ["M1"], "name": ["甲"], "role": ["member"], "title": [""],
                            "village_id": ["V"], "group_id": ["G1"],
                            "leave": [[(dt.date(2026, 3, 30), dt.date(2026, 4, 2)), (dt.date(2026, 1, 5),
                                                                                     dt.date(2026, 1, 6))]]})
    return ReviewData(period=Period(dt.date(2026, 3, 1), dt.date(2026, 3, 31), "month", "2026年3月"),
                      households=hh, visits=visits, problems=problems, members=members)


def test_figures_of_a_hand_made_village() -> None:
    data = _data()
    hf = household_figures(data)
    assert hf["visits_ytd"].tolist() == [2, 0, 0, 1]
    assert hf["moved"].tolist() == [False, True, False, False]
    assert hf["moved_date"].iloc[1] == pd.Timestamp("2026-03-20")
    # H1's problem was resolved on 03-05 and nobody has met H1 since: feedback owed
    assert hf["follow_up"].tolist() == [True, False, False, False]
    assert hf["status"].tolist() == ["priority_overdue", "moved", "priority_overdue", "visited"]
    v = unit_figures(data, hf, "village").iloc[0]
    assert (v["households"], v["visited"], v["moved"], v["never_visited"]) == (3, 2, 1, 1)
    assert v["visit_rate"] == pytest.approx(2 / 3)
    assert (v["visits"], v["not_home"]) == (4, 1)  # the February visit is outside the period
    assert (v["problems"], v["resolved"], v["overdue"]) == (3, 1, 1)
    assert v["leave"] == 1  # the January leave does not overlap March
    z = unit_figures(data, hf, "zone").set_index("zone")
    assert z.loc["Z1", "households"] == 1 and z.loc["Z2", "visit_rate"] == 0.5
    assert z.loc["Z1", "leave"] == 1 and z.loc["Z2", "leave"] == 0
    # one month later H1 has been met again: no feedback owed
    later = _data()
    later.visits = pd.concat([later.visits, pd.DataFrame({"household_pk": [1], "date": [pd.Timestamp("2026-03-25")],
                                                          "outcome": ["met"], "visit_group": "G1", "visit_id": [6]})])
    assert not household_figures(later)["follow_up"].iloc[0]
