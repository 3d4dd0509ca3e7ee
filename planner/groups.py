"""Forming the "2+1" groups of a village team, and giving each group a zone.

Pure functions on plain dataclasses: no files, no pandas.  The roster reader
(:func:`geo.roster.read_roster`) gives the people; :func:`form_groups` makes the groups of one
village; the zoning step cuts one zone per group; :func:`assign_auxiliaries_to_zones` then says
which group takes which zone, so that auxiliaries work where they live.

分组规则 (Chinese)
-----------------
1. **团队成员** = 驻点领导 + 团队成员。驻点领导计入团队成员参与分组 (驻点领导也包干一个片区,
   亲自走访), 排在最前; 有多名驻点领导时每组最多先放一名, 分散到前几个组。
2. **排序**: 驻点领导在前, 团队成员在后, 同一角色按花名册中的顺序; 结果完全确定。
3. **组数** = 团队成员人数 ÷ 2 (向下取整)。团队成员按顺序两两编组 (每组先放驻点领导, 再依次补满 2 人)。
   辅助团队成员按花名册顺序, 依次分给第 1、2、…… 组, 每组 1 名。
4. **辅助团队成员不足**: 组数 = min(成员对数, 辅助人数) 的组为 "2+1"; 多出的成员对仍然成组,
   标为 "2+0", 并提示该村再指定辅助团队成员 (村干部)。不会报错。
5. **团队成员为单数**: 多出的 1 人编入第 1 组 (驻点领导所在组, 领导常被镇里工作占用,
   多一人可以保证该组正常走访), 该组为 "3+1" (没有辅助成员时为 "3+0")。
6. **辅助团队成员多于组数**: 多出的人不编入小组, 列入 ``leftover`` 作为备用
   (组内辅助成员请假时替补)。一个 :class:`Group` 只有一名辅助成员。
7. **团队成员不足 2 人**: 只组成 1 个组 (有几个人就放几个, 如 "1+1"、"1+0"、"0+1"), 并提示补充;
   花名册里没有该村任何人员时不分组。
8. **组编号**: ``<村编码>-G1``、``<村编码>-G2``…… 按上述顺序编号。
9. 没有花名册时 (``--groups N``), :func:`placeholder_groups` 生成 N 个待定小组, 没有人员, 规则 "待定"。

Rules (English)
---------------
1. The **team** is the leaders (驻点领导) plus the team members (团队成员).  Leaders count as team
   members for grouping: the town leader also walks a zone.  With several leaders, each of the
   first groups gets at most one leader before anyone doubles up.
2. **Order**: leaders first, then members, then auxiliaries, each in roster order; the result
   is deterministic.
3. **Number of groups** = team size // 2.  Each group gets one leader (while there are any),
   then team members in roster order until it has two.  Auxiliaries go to groups 1, 2, ... in
   roster order, one each.
4. **Too few auxiliaries**: min(pairs, auxiliaries) groups are "2+1"; the remaining pairs still
   form groups, "2+0", and a note asks the village to name more auxiliaries.  Never an error.
5. **Odd team size**: the person left over joins group 1 (the leader's group, whose leader is
   often called away by town business), which becomes "3+1" ("3+0" without auxiliaries).
6. **More auxiliaries than groups**: the extra auxiliaries join no group; they are listed in
   ``leftover`` as stand-ins for an auxiliary on leave.  A :class:`Group` has one auxiliary.
7. **Fewer than two team members**: one group with whoever there is ("1+1", "1+0", "0+1"),
   flagged in the notes.  A village with nobody on the roster gets no group.
8. **Group ids**: ``<village_id>-G1``, ``<village_id>-G2``, ... in the order above.
9. Without a roster (``--groups N``), :func:`placeholder_groups` makes N groups with no people,
   rule "待定" (to be decided).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linear_sum_assignment

ROLES = ("leader", "member", "auxiliary")
ROLE_LABEL = {"leader": "驻点领导", "member": "团队成员", "auxiliary": "辅助团队成员"}
PLACEHOLDER_RULE = "待定"


@dataclass(frozen=True)
class Person:
    """One person on the roster (see :mod:`geo.roster` for where the fields come from)."""

    member_id: str
    name: str
    role: str
    village_id: str
    phone: str | None = None
    home_area: str | None = None
    title: str | None = None

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise ValueError(f"Expected role in {ROLES}, got {self.role!r}.")
        if not self.member_id:
            raise ValueError("Expected a non-empty member_id.")

    @property
    def is_team(self) -> bool:
        """True for leaders and team members (the people who form the pairs)."""
        return self.role != "auxiliary"


@dataclass(frozen=True)
class Group:
    """One group of a village team.

    Attributes
    ----------
    group_id : str
        ``<village_id>-G<k>``, k from 1.
    village_id : str
    members : tuple of str
        Member ids of the team members (leader first when the group has one).
    auxiliary : str or None
        Member id of the auxiliary member, None for a "2+0" group or a placeholder.
    rule : str
        ``"<team members>+<auxiliaries>"`` ("2+1", "3+1", "2+0", "1+1", ...) or "待定" for a
        placeholder group.
    """

    group_id: str
    village_id: str
    members: tuple[str, ...]
    auxiliary: str | None
    rule: str

    @property
    def people(self) -> tuple[str, ...]:
        """Everyone in the group: the team members, then the auxiliary."""
        return self.members + ((self.auxiliary,) if self.auxiliary else ())


@dataclass
class GroupPlan:
    """The groups of one village, the people left out, and what happened (Chinese notes)."""

    village_id: str
    groups: list[Group] = field(default_factory=list)
    leftover: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def n_groups(self) -> int:
        return len(self.groups)

    @property
    def irregular(self) -> list[Group]:
        """Groups that are not a plain "2+1" (3+1, 2+0, 1+1, placeholders...)."""
        return [g for g in self.groups if g.rule != "2+1"]


def people_from_records(records: Iterable[Mapping[str, object]]) -> list[Person]:
    """Build :class:`Person` objects from plain records (e.g. roster rows as dicts).

    Keys other than the :class:`Person` fields are ignored; blank optional fields become None.
    """
    out = []
    for rec in records:
        def opt(key: str) -> str | None:
            v = rec.get(key)
            if v is None or (isinstance(v, float) and v != v):
                return None
            text = str(v).strip()
            return text or None

        out.append(Person(member_id=str(rec["member_id"]), name=str(rec["name"]), role=str(rec["role"]),
                          village_id=str(rec["village_id"]), phone=opt("phone"),
                          home_area=opt("home_area"), title=opt("title")))
    return out


def _who(p: Person) -> str:
    return f"{p.name} ({p.member_id})"


def form_groups(people: Sequence[Person], *, village_id: str) -> GroupPlan:
    """Form the groups of one village from its roster (rules in the module docstring).

    Parameters
    ----------
    people : sequence of Person
        The roster, in roster order; people of other villages are ignored, so the whole roster
        can be passed for each village.
    village_id : str
        The village to group.

    Returns
    -------
    GroupPlan
        Groups in order ``G1, G2, ...``; ``leftover`` member ids (extra auxiliaries); Chinese
        ``notes`` for the user: a summary first, then one note per departure from "2+1".

    Raises
    ------
    ValueError
        If two people of the village share a member id.
    """
    mine = [p for p in people if p.village_id == village_id]
    seen: set[str] = set()
    for p in mine:
        if p.member_id in seen:
            raise ValueError(f"Duplicate member_id {p.member_id!r} in village {village_id!r}.")
        seen.add(p.member_id)
    leaders = [p for p in mine if p.role == "leader"]
    members = [p for p in mine if p.role == "member"]
    auxes = [p for p in mine if p.role == "auxiliary"]
    team = leaders + members
    plan = GroupPlan(village_id=village_id)
    if not mine:
        plan.notes.append(f"花名册里没有驻点村 {village_id} 的人员, 未分组; "
                          "请在花名册中补充该村人员, 或用 --groups N 先设 N 个待定小组")
        return plan

    n_pairs = len(team) // 2
    slots: list[list[Person]] = [[] for _ in range(max(n_pairs, 1))]
    odd: list[Person] = []
    if n_pairs == 0:
        slots[0] = list(team)
    else:
        for k, leader in enumerate(leaders[:n_pairs]):
            slots[k].append(leader)
        for p in leaders[n_pairs:] + members:
            target = next((s for s in slots if len(s) < 2), None)
            if target is None:
                odd.append(p)
            else:
                target.append(p)
        slots[0].extend(odd)
    n_groups = len(slots)
    given = auxes[:n_groups]
    spare = auxes[n_groups:]
    for k, slot in enumerate(slots):
        aux = given[k] if k < len(given) else None
        plan.groups.append(Group(
            group_id=f"{village_id}-G{k + 1}", village_id=village_id,
            members=tuple(p.member_id for p in slot), auxiliary=aux.member_id if aux else None,
            rule=f"{len(slot)}+{1 if aux else 0}",
        ))
    plan.leftover = [p.member_id for p in spare]

    counts: dict[str, int] = {}
    for g in plan.groups:
        counts[g.rule] = counts.get(g.rule, 0) + 1
    shape = "、".join(f"{rule} {n} 个" for rule, n in counts.items())
    plan.notes.append(f"驻点村 {village_id}: 团队成员 {len(team)} 人 (其中驻点领导 {len(leaders)} 人), "
                      f"辅助团队成员 {len(auxes)} 人; 分为 {n_groups} 个组 ({shape})")
    if n_pairs == 0:
        plan.notes.append(f"团队成员只有 {len(team)} 人 (不足 2 人), 只组成 1 个组 "
                          f"{plan.groups[0].group_id} ({plan.groups[0].rule}); 请为该村补充团队成员")
    if odd:
        plan.notes.append(f"团队成员为单数, {'、'.join(_who(p) for p in odd)} 编入第 1 组 "
                          f"{plan.groups[0].group_id}, 该组为 {plan.groups[0].rule}")
    lacking = [g for g in plan.groups if g.auxiliary is None]
    if lacking:
        plan.notes.append(f"辅助团队成员只有 {len(auxes)} 人, 少于组数 {n_groups}: "
                          f"{'、'.join(g.group_id for g in lacking)} 没有辅助团队成员 "
                          f"({'、'.join(sorted({g.rule for g in lacking}))}); "
                          f"请该村再指定 {len(lacking)} 名辅助团队成员 (村干部)")
    if spare:
        plan.notes.append(f"辅助团队成员多于组数: {'、'.join(_who(p) for p in spare)} 未编入小组, "
                          "作为备用 (组内辅助团队成员请假时替补)")
    return plan


def placeholder_groups(village_id: str, n: int) -> GroupPlan:
    """``n`` groups with nobody in them yet, for ``--groups N`` without a roster.

    Raises
    ------
    ValueError
        If ``n`` < 1.
    """
    if n < 1:
        raise ValueError(f"Expected n >= 1 groups, got {n}.")
    groups = [Group(group_id=f"{village_id}-G{k}", village_id=village_id, members=(), auxiliary=None,
                    rule=PLACEHOLDER_RULE) for k in range(1, n + 1)]
    note = (f"驻点村 {village_id}: 没有花名册, 按 --groups {n} 设 {n} 个待定小组 "
            f"({groups[0].group_id}{' .. ' + groups[-1].group_id if n > 1 else ''}); 导入花名册后再分配人员")
    return GroupPlan(village_id=village_id, groups=groups, notes=[note])


def assign_auxiliaries_to_zones(groups: Sequence[Group], zone_units: Sequence[set[str]],
                                auxiliary_home: Mapping[str, str]) -> list[int]:
    """Give each group a zone so that as many auxiliaries as possible work where they live.

    Parameters
    ----------
    groups : sequence of Group
        The village's groups, G1 first.
    zone_units : sequence of set of str
        The area ids of each zone (zone j = ``zone_units[j]``); as many zones as groups.
    auxiliary_home : mapping
        Member id -> area id of the auxiliary's home.  Auxiliaries missing here, or groups
        without an auxiliary, match no zone.

    Returns
    -------
    list of int
        ``zone_of[i]`` = the zone given to ``groups[i]``; a permutation of ``range(n)``.  It
        maximises the number of groups whose auxiliary lives in an area of their zone (an
        assignment problem, solved with ``scipy.optimize.linear_sum_assignment``); among the
        optimal permutations it is the lexicographically smallest (G1 gets the lowest-numbered
        zone it can, then G2, ...), so with no homes known the result is the identity.

    Raises
    ------
    ValueError
        If the numbers of groups and zones differ.
    """
    n = len(groups)
    if len(zone_units) != n:
        raise ValueError(f"Expected one zone per group, got {n} groups and {len(zone_units)} zones.")
    if n == 0:
        return []
    score = np.zeros((n, n), dtype=np.int64)
    for i, g in enumerate(groups):
        home = auxiliary_home.get(g.auxiliary) if g.auxiliary else None
        if home is None:
            continue
        for j, units in enumerate(zone_units):
            if home in units:
                score[i, j] = 1

    def best(rows: list[int], cols: list[int]) -> int:
        if not rows:
            return 0
        sub = score[np.ix_(rows, cols)]
        r, c = linear_sum_assignment(sub, maximize=True)
        return int(sub[r, c].sum())

    target = best(list(range(n)), list(range(n)))
    zone_of: list[int] = []
    fixed = 0
    free = list(range(n))
    for i in range(n):
        rest_rows = list(range(i + 1, n))
        for j in free:
            others = [c for c in free if c != j]
            if fixed + int(score[i, j]) + best(rest_rows, others) == target:
                zone_of.append(j)
                fixed += int(score[i, j])
                free.remove(j)
                break
    return zone_of


def matched_auxiliaries(groups: Sequence[Group], zone_units: Sequence[set[str]],
                        auxiliary_home: Mapping[str, str], zone_of: Sequence[int]) -> int:
    """How many groups' auxiliaries live in an area of the zone ``zone_of`` gives them."""
    return sum(1 for g, j in zip(groups, zone_of)
               if g.auxiliary and auxiliary_home.get(g.auxiliary) in zone_units[j])
