"""Forming "2+1" groups and giving groups the zones their auxiliaries live in."""

from __future__ import annotations

import itertools
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from planner.groups import (
    Group,
    Person,
    assign_auxiliaries_to_zones,
    form_groups,
    matched_auxiliaries,
    people_from_records,
    placeholder_groups,
)

V = "990101001001"


def roster(spec: str, village: str = V) -> list[Person]:
    """``"LMMA"`` -> leader, member, member, auxiliary with ids L1, M1, M2, A1 in that order."""
    role = {"L": "leader", "M": "member", "A": "auxiliary"}
    counts: dict[str, int] = {}
    out = []
    for c in spec:
        counts[c] = counts.get(c, 0) + 1
        mid = f"{c}{counts[c]}"
        out.append(Person(member_id=mid, name=f"名{mid}", role=role[c], village_id=village))
    return out


def shape(plan) -> list[tuple[tuple[str, ...], str | None, str]]:
    return [(g.members, g.auxiliary, g.rule) for g in plan.groups]


# ---------------------------------------------------------------- form_groups


def test_exact_two_plus_ones() -> None:
    plan = form_groups(roster("LMMMAA"), village_id=V)
    assert shape(plan) == [(("L1", "M1"), "A1", "2+1"), (("M2", "M3"), "A2", "2+1")]
    assert [g.group_id for g in plan.groups] == [f"{V}-G1", f"{V}-G2"]
    assert plan.leftover == [] and plan.irregular == []
    assert len(plan.notes) == 1 and "分为 2 个组" in plan.notes[0] and "驻点领导 1 人" in plan.notes[0]


def test_leaders_come_first_and_are_spread() -> None:
    # roster order puts members first; leaders still lead, one per group
    people = roster("MMAA") + roster("LL")[::-1]  # L2 listed before L1
    plan = form_groups(people, village_id=V)
    assert shape(plan) == [(("L2", "M1"), "A1", "2+1"), (("L1", "M2"), "A2", "2+1")]


def test_odd_member_makes_first_group_three_plus_one() -> None:
    plan = form_groups(roster("LMMMMAA"), village_id=V)
    assert shape(plan) == [(("L1", "M1", "M4"), "A1", "3+1"), (("M2", "M3"), "A2", "2+1")]
    assert any("单数" in n and "名M4 (M4)" in n and "3+1" in n for n in plan.notes)


def test_too_few_auxiliaries_gives_two_plus_zero_and_a_note() -> None:
    plan = form_groups(roster("LMMMMMA"), village_id=V)
    assert shape(plan) == [(("L1", "M1"), "A1", "2+1"), (("M2", "M3"), None, "2+0"), (("M4", "M5"), None, "2+0")]
    note = next(n for n in plan.notes if "少于组数" in n)
    assert f"{V}-G2" in note and f"{V}-G3" in note and "再指定 2 名辅助团队成员" in note


def test_no_auxiliaries() -> None:
    plan = form_groups(roster("LMM"), village_id=V)
    assert shape(plan) == [(("L1", "M1", "M2"), None, "3+0")]
    assert any("再指定 1 名辅助团队成员" in n for n in plan.notes)


@pytest.mark.parametrize("spec, expected", [
    ("L", [(("L1",), None, "1+0")]),
    ("MA", [(("M1",), "A1", "1+1")]),
    ("A", [((), "A1", "0+1")]),
])
def test_fewer_than_two_team_members_gives_one_flagged_group(spec: str, expected: list) -> None:
    plan = form_groups(roster(spec), village_id=V)
    assert shape(plan) == expected
    assert any("不足 2 人" in n and "补充团队成员" in n for n in plan.notes)


def test_nobody_gives_no_group() -> None:
    plan = form_groups(roster("LMA", village="other"), village_id=V)
    assert plan.groups == [] and plan.leftover == []
    assert "没有驻点村" in plan.notes[0] and "--groups" in plan.notes[0]


def test_extra_auxiliaries_are_stand_ins() -> None:
    plan = form_groups(roster("LMAAA"), village_id=V)
    assert shape(plan) == [(("L1", "M1"), "A1", "2+1")]
    assert plan.leftover == ["A2", "A3"]
    assert any("备用" in n and "名A2 (A2)" in n and "名A3 (A3)" in n for n in plan.notes)


def test_other_villages_are_ignored() -> None:
    people = roster("LMA") + roster("LMMMAA", village="990101001002")
    plan = form_groups(people, village_id=V)
    assert plan.n_groups == 1 and shape(plan) == [(("L1", "M1"), "A1", "2+1")]


def test_duplicate_member_id_and_bad_role_raise() -> None:
    with pytest.raises(ValueError, match="Duplicate member_id"):
        form_groups(roster("LM") + roster("M"), village_id=V)
    with pytest.raises(ValueError, match="role"):
        Person(member_id="X", name="x", role="驻点领导", village_id=V)


def test_people_from_records() -> None:
    recs = [{"member_id": "A", "name": "王", "role": "leader", "village_id": V, "phone": None,
             "home_area": float("nan"), "title": " 镇长 ", "leave": [], "attrs": {}}]
    (p,) = people_from_records(recs)
    assert p == Person("A", "王", "leader", V, None, None, "镇长")


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from("LMA"), max_size=14), st.randoms(use_true_random=False))
def test_invariants(spec: list[str], rnd: random.Random) -> None:
    people = roster("".join(spec))
    rnd.shuffle(people)
    plan = form_groups(people, village_id=V)
    placed = [m for g in plan.groups for m in g.people] + plan.leftover
    assert sorted(placed) == sorted(p.member_id for p in people)  # everyone exactly once
    team = [p for p in people if p.role != "auxiliary"]
    aux = [p for p in people if p.role == "auxiliary"]
    assert plan.n_groups == (0 if not people else max(1, len(team) // 2))
    assert [g.group_id for g in plan.groups] == [f"{V}-G{k}" for k in range(1, plan.n_groups + 1)]
    for g in plan.groups:
        assert g.rule == f"{len(g.members)}+{1 if g.auxiliary else 0}"
    assert len(plan.leftover) == max(0, len(aux) - plan.n_groups)
    if len(team) >= 2:
        assert all(len(g.members) in (2, 3) for g in plan.groups)
        assert sum(len(g.members) == 3 for g in plan.groups) == len(team) % 2
    # deterministic: the same roster gives the same plan
    assert form_groups(people, village_id=V) == plan


# ---------------------------------------------------------------- placeholders


def test_placeholder_groups() -> None:
    plan = placeholder_groups(V, 3)
    assert [g.group_id for g in plan.groups] == [f"{V}-G1", f"{V}-G2", f"{V}-G3"]
    assert all(g.members == () and g.auxiliary is None and g.rule == "待定" for g in plan.groups)
    assert "--groups 3" in plan.notes[0]
    with pytest.raises(ValueError):
        placeholder_groups(V, 0)


# ---------------------------------------------------------------- zones


def _groups(auxes: list[str | None]) -> list[Group]:
    return [Group(f"{V}-G{k + 1}", V, (f"M{k}a", f"M{k}b"), a, "2+1" if a else "2+0") for k, a in enumerate(auxes)]


def test_assign_picks_the_matching_permutation() -> None:
    groups = _groups(["A1", "A2", "A3"])
    zones = [{"x", "y"}, {"z"}, {"w"}]
    homes = {"A1": "w", "A2": "x", "A3": "z"}
    zone_of = assign_auxiliaries_to_zones(groups, zones, homes)
    assert zone_of == [2, 0, 1]
    assert matched_auxiliaries(groups, zones, homes, zone_of) == 3


def test_assign_maximises_where_greedy_would_not() -> None:
    # area "s" is split between zones 0 and 1; A2 lives in "t" (zone 0 only)
    groups = _groups(["A1", "A2", None])
    zones = [{"s", "t"}, {"s"}, {"u"}]
    zone_of = assign_auxiliaries_to_zones(groups, zones, {"A1": "s", "A2": "t"})
    assert zone_of == [1, 0, 2]


def test_assign_is_identity_without_homes_and_deterministic() -> None:
    groups = _groups(["A1", "A2", None, "A4"])
    zones = [{"a"}, {"b"}, {"c"}, {"d"}]
    assert assign_auxiliaries_to_zones(groups, zones, {}) == [0, 1, 2, 3]
    homes = {"A4": "a"}
    first = assign_auxiliaries_to_zones(groups, zones, homes)
    assert first == [1, 2, 3, 0]  # lexicographically smallest among the optimal ones
    assert all(assign_auxiliaries_to_zones(groups, zones, homes) == first for _ in range(5))


def test_assign_rejects_mismatched_counts() -> None:
    with pytest.raises(ValueError, match="one zone per group"):
        assign_auxiliaries_to_zones(_groups(["A1"]), [{"a"}, {"b"}], {})
    assert assign_auxiliaries_to_zones([], [], {}) == []


@pytest.mark.parametrize("seed", range(40))
def test_assign_matches_brute_force(seed: int) -> None:
    rnd = random.Random(seed)
    n = rnd.randint(1, 6)
    areas = [f"a{k}" for k in range(8)]
    zones = [set(rnd.sample(areas, rnd.randint(1, 3))) for _ in range(n)]
    auxes = [f"A{k}" if rnd.random() < 0.8 else None for k in range(n)]
    homes = {a: rnd.choice(areas) for a in auxes if a and rnd.random() < 0.9}
    groups = _groups(auxes)

    def score(perm: tuple[int, ...]) -> int:
        return matched_auxiliaries(groups, zones, homes, perm)

    best = max(score(p) for p in itertools.permutations(range(n)))
    expected = min(p for p in itertools.permutations(range(n)) if score(p) == best)
    assert tuple(assign_auxiliaries_to_zones(groups, zones, homes)) == expected
