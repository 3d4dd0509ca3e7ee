"""Baseline zoning methods for the benchmark, all at household level, all ``-> (n,) zone index``.

* :func:`capacitated_kmeans`: k-means whose assignment step is a min-cost flow (OR-Tools
  ``SimpleMinCostFlow``) that fills every zone up to the same workload capacity, plus Lloyd
  iterations (centres = workload-weighted means), best of several k-means++ starts.  Balances the
  *additive* household workloads (visit minutes + half the household's walking spanning-tree
  edges), not counts (the notes' a2 balanced counts).  Knows nothing of units or roads.
* :func:`metis_zones`: METIS k-way (``pymetis``) on the household adjacency graph, vertex weight =
  additive workload, edge weight 20 inside a unit and 1 across (the notes' d1), ``ufactor`` 3 %,
  ``contig`` on (best effort: METIS does not guarantee it).
* :func:`kmeans_zones`: plain k-means on the positions (no balance), for reference.

Every method takes a :class:`planner.zones.ZoningProblem` and a seed; ``n_groups == 1`` gives all
zeros.  ``pymetis`` is a bench-only dependency.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
from scipy.cluster.vq import kmeans2

from geo.adjacency import dense_mst
from planner.zones import ZoningProblem

__all__ = ["additive_minutes", "capacitated_kmeans", "ckmeans_zones", "metis_zones",
           "kmeans_zones"]

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


def additive_minutes(problem: ZoningProblem) -> FloatArray:
    """Per-household workload that adds up: visit minutes + half of the household's edges in the
    walking spanning tree of the whole village, in minutes (sums to visits + tree walk)."""
    edges, lengths = dense_mst(problem.walk_m)
    half = np.zeros(problem.n)
    np.add.at(half, edges[:, 0], lengths / 2)
    np.add.at(half, edges[:, 1], lengths / 2)
    return np.asarray(problem.service_min, dtype=np.float64) + half / problem.walk_speed_m_per_min


# ---------------------------------------------------------------------- capacitated k-means


def _kmeanspp(xy: FloatArray, w: FloatArray, k: int, rng: np.random.Generator) -> FloatArray:
    """k-means++ seeding, weighted by workload."""
    centres = [xy[rng.choice(len(xy), p=w / w.sum())]]
    d2 = ((xy - centres[0]) ** 2).sum(axis=1)
    for _ in range(1, k):
        p = w * d2
        p = p / p.sum() if p.sum() > 0 else w / w.sum()
        centres.append(xy[rng.choice(len(xy), p=p)])
        d2 = np.minimum(d2, ((xy - centres[-1]) ** 2).sum(axis=1))
    return np.asarray(centres)


def _capacitated_assign(cost: FloatArray, w: IntArray, cap: int) -> IntArray:
    """Min-cost assignment of weighted items to zones of capacity ``cap`` (transportation problem
    as a min-cost flow; an item split between zones goes to the zone that got most of it)."""
    from ortools.graph.python import min_cost_flow

    n, k = cost.shape
    scale = 1e6 / max(float(cost.max()), 1e-9)
    smcf = min_cost_flow.SimpleMinCostFlow()
    tails = np.r_[np.repeat(np.arange(n), k), n + np.arange(k)].astype(np.int32)
    heads = np.r_[np.tile(n + np.arange(k), n), np.full(k, n + k)].astype(np.int32)
    caps = np.r_[np.repeat(w, k), np.full(k, cap)].astype(np.int64)
    costs = np.r_[np.rint(cost.reshape(-1) * scale), np.zeros(k)].astype(np.int64)
    arcs = smcf.add_arcs_with_capacity_and_unit_cost(tails, heads, caps, costs)
    smcf.set_nodes_supplies(np.arange(n + k + 1, dtype=np.int32),
                            np.r_[w, np.zeros(k), -w.sum()].astype(np.int64))
    status = smcf.solve()
    if status != smcf.OPTIMAL:
        raise RuntimeError(f"capacitated assignment: min-cost flow status {status}")
    flows = smcf.flows(arcs)[: n * k].reshape(n, k)
    return np.argmax(flows, axis=1).astype(np.int64)


def capacitated_kmeans(xy: npt.ArrayLike, weights: npt.ArrayLike, k: int, *, seed: int = 0,
                       n_init: int = 4, max_iter: int = 30, slack: float = 0.0) -> IntArray:
    """Capacitated k-means: every zone gets at most ``(1 + slack) x total / k`` of the weight.

    Parameters
    ----------
    xy : (n, 2) metres
    weights : (n,) positive workloads (minutes); balanced to 0.1 minute
    k : number of zones
    seed, n_init, max_iter : k-means++ starts and Lloyd iterations per start
    slack : capacity above the exact mean share

    Returns
    -------
    int64 array (n,) of zone indices 0..k-1 (best start by weighted inertia)
    """
    xy = np.asarray(xy, dtype=np.float64)
    wf = np.asarray(weights, dtype=np.float64)
    n = len(xy)
    if k <= 1 or n == 0:
        return np.zeros(n, dtype=np.int64)
    w = np.maximum(1, np.rint(wf * 10)).astype(np.int64)
    cap = int(math.ceil(w.sum() * (1 + slack) / k))
    rng = np.random.default_rng(seed)
    best, best_inertia = None, math.inf
    for _ in range(n_init):
        centres = _kmeanspp(xy, wf, k, rng)
        labels = None
        for _ in range(max_iter):
            d2 = ((xy[:, None, :] - centres[None, :, :]) ** 2).sum(axis=2)
            new = _capacitated_assign(d2, w, cap)
            if labels is not None and np.array_equal(new, labels):
                break
            labels = new
            for z in range(k):
                m = labels == z
                if m.any():
                    centres[z] = np.average(xy[m], axis=0, weights=wf[m])
        d2 = ((xy - centres[labels]) ** 2).sum(axis=1)
        inertia = float((wf * d2).sum())
        if inertia < best_inertia:
            best, best_inertia = labels, inertia
    return best


def ckmeans_zones(problem: ZoningProblem, *, seed: int = 0, **kw) -> IntArray:
    """Capacitated k-means on a zoning problem, balancing additive workload minutes."""
    return capacitated_kmeans(problem.xy, additive_minutes(problem), problem.n_groups, seed=seed,
                              **kw)


# ---------------------------------------------------------------------- METIS


def metis_zones(problem: ZoningProblem, *, seed: int = 0, ufactor: int = 30,
                intra_unit_weight: int = 20, contiguous: bool = True) -> IntArray:
    """METIS k-way partition of the household graph (vertex weight = additive workload in
    0.1 minutes, edge weight ``intra_unit_weight`` inside a unit, 1 across; ``ufactor`` in 1/1000:
    30 = 3 % imbalance allowed)."""
    import pymetis

    n, k = problem.n, problem.n_groups
    if k <= 1 or n == 0:
        return np.zeros(n, dtype=np.int64)
    e = np.asarray(problem.edges, dtype=np.int64).reshape(-1, 2)
    e = e[e[:, 0] != e[:, 1]]
    a, b = np.r_[e[:, 0], e[:, 1]], np.r_[e[:, 1], e[:, 0]]
    unit_of = np.asarray(problem.unit_of)
    ew = np.where(unit_of[a] == unit_of[b], intra_unit_weight, 1)
    o = np.lexsort((b, a))
    a, b, ew = a[o], b[o], ew[o]
    starts = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(a, minlength=n), out=starts[1:])
    vw = np.maximum(1, np.rint(additive_minutes(problem) * 10)).astype(np.int64)
    opts = pymetis.Options(ufactor=ufactor, seed=seed)
    _, parts = pymetis.part_graph(
        k, pymetis.CSRAdjacency(starts.tolist(), b.tolist()), vweights=vw.tolist(),
        eweights=ew.tolist(), recursive=False, contiguous=contiguous, options=opts)
    return np.asarray(parts, dtype=np.int64)


# ---------------------------------------------------------------------- plain k-means


def kmeans_zones(problem: ZoningProblem, *, seed: int = 0, n_init: int = 5) -> IntArray:
    """Unbalanced k-means on household positions (best of ``n_init`` k-means++ starts)."""
    n, k = problem.n, problem.n_groups
    xy = np.asarray(problem.xy, dtype=np.float64)
    if k <= 1 or n == 0:
        return np.zeros(n, dtype=np.int64)
    rng = np.random.default_rng(seed)
    best, best_inertia = None, math.inf
    for _ in range(n_init):
        centres, labels = kmeans2(xy, k, minit="++", seed=rng)
        inertia = float(((xy - centres[labels]) ** 2).sum())
        if inertia < best_inertia:
            best, best_inertia = labels.astype(np.int64), inertia
    return best
