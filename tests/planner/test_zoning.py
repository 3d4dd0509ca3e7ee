"""Zoning: invariants on synthetic villages, impossible requests, locks and re-zoning."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from planner._graph import Graph, mst_incident_half, mst_length
from planner.zones import ZoningParams, ZoningProblem
from planner.zoning import solve_zoning, tradeoff, zone_workload

from villages import make_village

FAST = ZoningParams(seconds=3.0)


def _check_invariants(problem: ZoningProblem, r) -> None:
    n, k = problem.n, problem.n_groups
    # every household in exactly one zone, zones numbered 0..k-1
    assert r.assignment.shape == (n,)
    assert set(r.assignment.tolist()) == set(range(k))
    assert sorted(np.concatenate([z.households for z in r.zones]).tolist()) == list(range(n))
    # contiguity checked independently of the solver's own flag
    g = Graph(n, problem.edges)
    for z in range(k):
        assert g.connected(r.assignment == z), f"zone {z} not contiguous"
    # reported workloads are the recomputed ones
    loads = [sum(zone_workload(problem, np.flatnonzero(r.assignment == z))) for z in range(k)]
    assert r.balance == pytest.approx(max(loads) / min(loads), rel=1e-9)


@pytest.mark.parametrize("seed,k", [(0, 4), (1, 5), (2, 3)])
def test_village_zones_balanced_contiguous(seed: int, k: int) -> None:
    p = make_village(seed, n_groups=k)
    r = solve_zoning(p, FAST)
    assert r.ok, r.reasons
    _check_invariants(p, r)
    assert r.max_deviation <= 0.05 and r.contiguous
    assert r.params["seed"] == 0 and r.solver_status


def test_same_seed_same_zones() -> None:
    p = make_village(3, n_groups=4)
    a = solve_zoning(p, ZoningParams(seconds=3, seed=7, workers=1))
    b = solve_zoning(p, ZoningParams(seconds=3, seed=7, workers=1))
    assert np.array_equal(a.assignment, b.assignment)


def test_splits_are_reported_with_reasons_and_forced_flag() -> None:
    # one hamlet is bigger than a zone: its split is forced
    p = make_village(4, hamlets=(400, 60, 50, 40), compounds=(), n_groups=3)
    r = solve_zoning(p, FAST)
    assert r.ok
    big = [s for s in r.splits if p.unit_ids[s.unit] == "N0"]
    assert big and big[0].forced and "必须拆" in big[0].reason
    for s in r.splits:
        assert s.reason and len(s.zones) >= 2


def test_relaxing_balance_never_needs_more_splits() -> None:
    p = make_village(1, n_groups=5, hamlets=(60, 40, 120, 30, 80, 50, 70, 90, 45, 100), compounds=(150, 60))
    res = tradeoff(p, (0.02, 0.10, 0.30), params=FAST)
    assert all(r.ok for r in res)
    excess = [r.excess_pieces for r in res]
    assert excess[0] >= excess[1] >= excess[2]
    assert res[2].excess_pieces == 0  # at ±30% whole hamlets can be grouped


def test_more_groups_than_households_is_invalid() -> None:
    p = make_village(0, hamlets=(2,), compounds=(), scattered=1, n_groups=4)
    r = solve_zoning(p, FAST)
    assert r.status == "invalid" and "多于住户数" in r.reasons[0]
    assert not r.ok and (r.assignment == -1).all()


def test_impossible_tolerance_is_explained() -> None:
    p = make_village(0, hamlets=(3, 3), compounds=(), scattered=0, n_groups=2)
    r = solve_zoning(p, ZoningParams(tolerance=0.0, seconds=2))
    assert r.status == "infeasible" and r.reasons and "tolerance" in r.reasons[0]


def test_one_group_gets_everything() -> None:
    p = make_village(0, n_groups=1)
    r = solve_zoning(p, FAST)
    assert r.ok and (r.assignment == 0).all() and r.balance == 1.0


def test_area_lock_is_respected() -> None:
    p = make_village(5, n_groups=4)
    free = solve_zoning(p, FAST)
    unit = 1  # lock hamlet N1 to group 3
    r = solve_zoning(p, replace(FAST, unit_locks={unit: 3}))
    assert r.ok
    assert set(r.assignment[p.unit_of == unit].tolist()) == {3}
    _check_invariants(p, r)
    assert free.ok


def test_rezoning_after_small_change_moves_few_households() -> None:
    p = make_village(6, n_groups=4)
    first = solve_zoning(p, FAST)
    assert first.ok
    # drop 2% of households (the last ones of each hamlet) and re-zone with the previous zones
    rng = np.random.default_rng(0)
    keep = np.sort(rng.choice(p.n, size=int(p.n * 0.98), replace=False))
    sub = _subset(p, keep)
    r = solve_zoning(sub, replace(FAST, previous=first.assignment[keep]))
    assert r.ok and r.contiguous
    assert r.moved <= 0.1 * sub.n, r.moved
    _check_invariants(sub, r)


def _subset(p: ZoningProblem, keep: np.ndarray) -> ZoningProblem:
    from geo.adjacency import household_graph

    walk = p.walk_m[np.ix_(keep, keep)]
    return replace(p, household_ids=[p.household_ids[i] for i in keep], unit_of=p.unit_of[keep],
                   service_min=p.service_min[keep], walk_m=walk, xy=p.xy[keep],
                   edges=household_graph(p.xy[keep], walk))


def test_mst_helpers_agree() -> None:
    rng = np.random.default_rng(1)
    xy = rng.uniform(0, 1000, size=(60, 2))
    d = np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1))
    assert mst_incident_half(d).sum() == pytest.approx(mst_length(d))
    import networkx as nx

    g = nx.Graph()
    for i in range(60):
        for j in range(i + 1, 60):
            g.add_edge(i, j, weight=d[i, j])
    ref = nx.minimum_spanning_tree(g).size(weight="weight")
    assert mst_length(d) == pytest.approx(ref)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), k=st.integers(2, 4),
       hamlets=st.lists(st.integers(5, 80), min_size=2, max_size=6))
def test_every_household_in_exactly_one_contiguous_zone(seed: int, k: int, hamlets: list[int]) -> None:
    p = make_village(seed, hamlets=tuple(hamlets), compounds=(), scattered=3, n_groups=k)
    r = solve_zoning(p, ZoningParams(seconds=2, tolerance=0.10))
    if not r.ok:
        assert r.reasons  # an explained failure, never a silent one
        return
    _check_invariants(p, r)
    if r.max_deviation > 0.10:
        # small villages: a household is a large share of a zone; the miss is then said, and small
        assert r.status == "feasible" and any("超出要求" in x for x in r.reasons)
        from planner.zoning import household_walk_min

        w = p.service_min + household_walk_min(p)
        assert r.max_deviation <= 0.10 + 2 * w.max() / (w.sum() / k)


def test_articulation_points_match_networkx() -> None:
    import networkx as nx

    from planner._graph import articulation_points

    rng = np.random.default_rng(0)
    for _ in range(100):
        n = int(rng.integers(2, 40))
        e = rng.integers(0, n, size=(int(rng.integers(1, 2 * n)), 2))
        e = e[e[:, 0] != e[:, 1]]
        members = rng.random(n) < 0.8
        g = nx.Graph()
        g.add_nodes_from(np.flatnonzero(members).tolist())
        g.add_edges_from((int(a), int(b)) for a, b in e if members[a] and members[b])
        assert articulation_points(Graph(n, e), members) == set(nx.articulation_points(g))


@pytest.mark.parametrize("name", ["T00-V03", "T00-V25"])
def test_hamlets_meeting_at_one_house_still_balance(name: str) -> None:
    """Synthetic villages whose hamlets meet the main road at a single house: with next-door
    neighbours along the roads in the graph, two groups can share the road past that house, so
    the ±3% band is met (before, the best contiguous split was 1.38 and 1.45)."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from bench.synth import make_town

    village = next(v for v in make_town(seed=0) if v.name == name)
    problem = village.to_problem()
    r = solve_zoning(problem, ZoningParams(tolerance=0.03, seconds=5.0, seed=0))
    _check_invariants(problem, r)
    assert r.ok and r.contiguous
    assert r.balance <= 1.06
