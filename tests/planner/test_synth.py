"""Tests of the synthetic village/town generator and the capacitated k-means baseline (bench/)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from scipy import sparse
from scipy.sparse.csgraph import connected_components

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.baselines import additive_minutes, capacitated_kmeans  # noqa: E402
from bench.synth import household_graph, largest_remainder, make_town, make_village  # noqa: E402


def small(seed: int = 1, **kw):
    args = dict(n_households=400, n_units=5, n_compounds=1, n_groups=3, name="S")
    args.update(kw)
    return make_village(np.random.default_rng(seed), **args)


def connected(n: int, edges: np.ndarray) -> bool:
    g = sparse.coo_array((np.ones(len(edges)), (edges[:, 0], edges[:, 1])), shape=(n, n))
    return connected_components(g, directed=False)[0] == 1


def test_village_is_deterministic():
    a, b = small(7), small(7)
    assert a.household_ids == b.household_ids
    np.testing.assert_array_equal(a.xy, b.xy)
    np.testing.assert_array_equal(a.unit_of, b.unit_of)
    np.testing.assert_array_equal(a.tags, b.tags)
    assert [ln.wkb for ln in a.roads] == [ln.wkb for ln in b.roads]
    np.testing.assert_array_equal(a.walk_m(), b.walk_m())
    np.testing.assert_array_equal(a.edges(), b.edges())
    assert not np.array_equal(a.xy, small(8).xy)


def test_village_sizes_units_and_problem():
    v = small(3, n_farms=4)
    assert v.n == 400 and len(v.xy) == 400
    # 5 units (natural villages + compounds) + the scattered-farms unit
    assert len(v.unit_ids) == 6
    assert v.unit_kinds.count("compound") == 1
    assert v.unit_kinds.count("natural_village") == 4
    assert v.unit_kinds[-1] == "scattered" and (v.unit_of == 5).sum() == 4
    # every household in exactly one existing unit, every unit used
    assert v.unit_of.shape == (400,)
    assert set(np.unique(v.unit_of)) == set(range(6))
    p = v.to_problem()
    assert p.n == 400 and p.n_groups == 3 and p.walk_m.shape == (400, 400)
    assert (p.walk_m == p.walk_m.T).all() and (np.diag(p.walk_m) == 0).all()
    straight = np.hypot(*(p.xy[:, None, :] - p.xy[None, :, :]).transpose(2, 0, 1))
    assert (p.walk_m >= np.floor(straight) - 1).all()  # network distances are never shorter
    assert set(np.unique(p.service_min)) <= {10.0, 15.0}
    assert connected(p.n, p.edges)
    assert (p.edges[:, 0] < p.edges[:, 1]).all()


def test_compounds_stack_households_at_building_entrances():
    v = small(4, n_units=2, n_compounds=2, n_farms=0)
    assert set(v.unit_kinds) == {"compound"}
    # many households share (almost) the same point: the nearest neighbour is within a few metres
    d = np.hypot(*(v.xy[:, None, :] - v.xy[None, :, :]).transpose(2, 0, 1))
    np.fill_diagonal(d, np.inf)
    assert np.median(d.min(axis=1)) < 3.0


def test_town_sizes_and_determinism():
    town = make_town(seed=5, n_villages=6, households=1800, groups=7)
    assert len(town) == 6
    assert sum(v.n for v in town) == 1800
    assert sum(v.n_groups for v in town) == 7 and min(v.n_groups for v in town) >= 1
    again = make_town(seed=5, n_villages=6, households=1800, groups=7)
    for a, b in zip(town, again):
        np.testing.assert_array_equal(a.xy, b.xy)
        assert a.n_groups == b.n_groups
    for v in town:
        assert connected(v.n, v.edges())


def test_household_graph_connects_far_points_and_duplicates():
    xy = np.array([[0, 0], [0, 0], [10, 0], [20, 0], [5000, 0]], dtype=float)
    walk = np.rint(np.hypot(*(xy[:, None] - xy[None]).transpose(2, 0, 1))).astype(np.int32)
    e = household_graph(xy, walk)
    assert connected(5, e)


def test_largest_remainder_keeps_minimum_and_total():
    out = largest_remainder([10.0, 0.1, 0.1, 5.0], 8, minimum=1)
    assert out.sum() == 8 and out.min() >= 1 and out[0] == out.max()


@pytest.mark.parametrize("seed", [0, 1])
def test_capacitated_kmeans_balances_workload(seed):
    v = small(seed + 10, n_households=300, n_units=4, n_groups=4)
    p = v.to_problem()
    w = additive_minutes(p)
    assert w.sum() == pytest.approx(p.service_min.sum() + _mst(p.walk_m) / p.walk_speed_m_per_min)
    a = capacitated_kmeans(p.xy, w, 4, seed=seed, n_init=2)
    assert a.shape == (300,) and set(np.unique(a)) == {0, 1, 2, 3}
    loads = np.bincount(a, weights=w, minlength=4)
    # balanced on the additive workloads within a household or two of visits (< 2 %)
    assert loads.max() / loads.min() < 1.02


def _mst(d):
    from scipy.sparse.csgraph import minimum_spanning_tree

    return minimum_spanning_tree(d.astype(float) + 1e-9 * (1 - np.eye(len(d)))).sum()


def test_perturb_maps_old_households():
    v = small(5)
    v2, origin = v.perturb(np.random.default_rng(0), drop=0.05, add=0.05)
    assert v2.n == v.n and (origin < 0).sum() == 20
    kept = origin >= 0
    np.testing.assert_array_equal(v2.xy[kept], v.xy[origin[kept]])
    assert [v2.household_ids[i] for i in np.flatnonzero(kept)] == \
        [v.household_ids[j] for j in origin[kept]]
    assert set(np.unique(v2.unit_of)) == set(np.unique(v.unit_of))
    assert connected(v2.n, v2.to_problem().edges)
