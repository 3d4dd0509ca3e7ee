"""Balanced, contiguous team zones for one administrative village.

How it works (a two-level method, measured in ``shared/notes/zoning.md`` before the work began):

1. **Blocks.**  Each natural village or compound with households is a block; scattered households
   (散居户) join the block of their nearest household by walking distance.  A household's
   workload is its visit minutes plus an additive share of walking (half the walking spanning-tree
   edges touching it), so a zone's workload is close to "visit minutes + spanning-tree walk".
2. **Which blocks go together (CP-SAT).**  Zones are *slots* rooted in blocks (Hess-style centres:
   no labelled-group symmetry).  A block may be shared by several zones with integer minute
   shares; each zone's total lies inside the balance band; zones are connected over the block
   adjacency graph (single-commodity flow from the root).  Objective, lexicographic: first the
   pieces beyond what block sizes force (``excess pieces``), then the largest deviation from the
   mean, then (second stage, balance kept within 1 %) compactness: minutes × walking distance to
   the zone's root.
3. **Drawing the pieces (households).**  A shared block is cut by multi-source region growing on
   the household adjacency graph, from the households touching each zone's other blocks, so every
   piece is connected and attached to its zone.
4. **Check and repair.**  Contiguity is checked at household level.  A small stray fragment is
   handed to the neighbouring zone; a zone whose blocks cannot be drawn connected is forbidden
   (no-good cut) and CP-SAT re-solves.  Then a local search moves boundary households of shared
   blocks between neighbouring zones to even out the true workloads, never disconnecting a zone.

Re-zoning (``previous`` given) first repairs the previous zones (new households join their
neighbours' zone, locks are applied, boundary moves rebalance); only if that cannot meet the band
does it solve afresh, then labels zones to keep as many households with their group as possible.
"""

from __future__ import annotations

import heapq
import logging
import math
import time
from collections.abc import Sequence
from dataclasses import asdict, replace

import numpy as np
import numpy.typing as npt
from ortools.sat.python import cp_model

from planner._graph import Graph, articulation_points, medoid, mst_incident_half, mst_length, mst_parent
from planner.zones import Split, Zone, ZoningParams, ZoningProblem, ZoningResult

logger = logging.getLogger(__name__)

IntArray = npt.NDArray[np.int64]

_PLAN_MARGIN = 0.005
"""Plan this much inside the band: additive workloads differ slightly from the true ones."""
_FRAGMENT_SHARE = 0.05
"""Stray pieces of a zone below this share of the mean workload are handed to a neighbour."""
_MAX_NOGOODS = 6
_CPSAT_SHARE = 0.5
"""Deterministic CP-SAT time for the block plans, as a share of ``ZoningParams.seconds``."""
_WALL_GUARD = 3.0
"""The wall-clock guard, as a multiple of ``ZoningParams.seconds`` ..."""
_WALL_GUARD_MIN_S = 20.0
"""... and at least this many seconds: with a short budget on a loaded machine (a city zoned by
several processes at once) a tight guard would cut CP-SAT off and fall back to worse zones, so
the zones would depend on the load."""
_MAX_CANDIDATE_BLOCKS = 30


# --------------------------------------------------------------------------------------------
# workloads


def household_walk_min(problem: ZoningProblem) -> npt.NDArray[np.float64]:
    """Each household's additive share of walking minutes (half its spanning-tree edges)."""
    return mst_incident_half(problem.walk_m) / problem.walk_speed_m_per_min


def zone_workload(problem: ZoningProblem, members: npt.NDArray[np.integer]) -> tuple[float, float]:
    """(visit minutes, walking minutes) of a set of households: walking is the spanning tree of
    their walking distances at the problem's walking speed."""
    idx = np.asarray(members, dtype=np.int64)
    service = float(problem.service_min[idx].sum())
    walk = mst_length(problem.walk_m[np.ix_(idx, idx)]) / problem.walk_speed_m_per_min
    return service, walk


# --------------------------------------------------------------------------------------------
# entry point


def solve_zoning(problem: ZoningProblem, params: ZoningParams = ZoningParams()) -> ZoningResult:
    """Split one village's households into ``problem.n_groups`` balanced, contiguous zones.

    Parameters
    ----------
    problem : ZoningProblem
    params : ZoningParams

    Returns
    -------
    ZoningResult
        ``status`` ``optimal``/``feasible`` with zones; ``infeasible`` or ``invalid`` with
        ``reasons`` (in Chinese, for the town leader).  Never raises for a request that simply
        cannot be met.

    Raises
    ------
    ValueError
        When the arrays of ``problem`` do not fit together (a programming error, not bad data).
    """
    t0 = time.perf_counter()
    _check_shapes(problem)
    n, k = problem.n, problem.n_groups
    if k < 1:
        return _failed(problem, params, "invalid", [f"小组数必须至少为 1 (收到 {k})"], t0)
    if n == 0:
        return _failed(problem, params, "invalid", ["该村没有住户, 无法分片"], t0)
    if k > n:
        return _failed(problem, params, "invalid",
                       [f"小组数 ({k}) 多于住户数 ({n}): 每个小组至少要负责一户; 请减少小组数"], t0)
    bad_locks = [g for g in [*params.unit_locks.values(), *params.household_locks.values()] if not 0 <= g < k]
    if bad_locks:
        return _failed(problem, params, "invalid", [f"锁定的小组序号超出范围 (共 {k} 个小组): {sorted(set(bad_locks))}"], t0)

    ctx = _Context(problem, params)
    if params.previous is not None:
        repaired = _repair(ctx)
        if repaired is not None:
            return _result(ctx, repaired, "feasible", "repair", t0, [])

    reasons: list[str] = []
    if k == 1:
        assignment = np.zeros(n, dtype=np.int64)
        return _result(ctx, assignment, "optimal", "trivial", t0, reasons)

    # Time: CP-SAT runs on a deterministic budget (a share of ``seconds``), everything else is
    # bounded by counts, so the same input gives the same zones however loaded the machine is;
    # the wall-clock deadline is only a guard against a machine that is far too slow.
    ctx.deadline = t0 + max(_WALL_GUARD * params.seconds, _WALL_GUARD_MIN_S)
    budget = _CPSAT_SHARE * params.seconds
    level1 = _Level1(ctx)
    if level1.infeasible_reason:
        return _failed(problem, params, "infeasible", [level1.infeasible_reason], t0, ctx=ctx)
    best: tuple | None = None
    deadline = ctx.deadline
    for attempt in range(_MAX_NOGOODS + 1):
        if best is not None and (level1.spent >= budget or time.perf_counter() > deadline):
            break  # out of time: keep the best drawn so far
        sol = level1.solve(max(0.2, 0.5 * (budget - level1.spent)))
        if sol is None and best is None and level1.last_status == "UNKNOWN":
            sol = level1.solve(max(0.3, budget - level1.spent))  # more time, once
        if sol is None:
            if best is not None:
                break
            status = level1.last_status
            if status == "UNKNOWN" and not (params.unit_locks or params.household_locks):
                # no block plan in time: zones grown from spanning trees are contiguous by
                # construction; return the best of them (the band may not be met: reported)
                alts = [*_whole_areas(ctx), *_tree_cuts(ctx)]
                if alts:
                    a = min(alts, key=lambda x: _overall_score(ctx, x))
                    return _result(ctx, _label(ctx, a), "feasible", "UNKNOWN+tree", t0, reasons)
            if status in ("INFEASIBLE", "UNKNOWN") and (params.unit_locks or params.household_locks):
                # the locks cannot be met inside the band: zone without them, then move the
                # locked areas and households where the user put them and rebalance
                free = solve_zoning(problem, replace(params, unit_locks={}, household_locks={},
                                                     seconds=max(0.5, 0.5 * params.seconds)))
                if free.ok:
                    a = _apply_locks(ctx, free.assignment)
                    return _result(ctx, a, "feasible", "locks-applied", t0, [
                        f"锁定的片区/住户无法在 ±{params.tolerance:.0%} 的平衡要求内满足: 先不考虑锁定分片, "
                        f"再按锁定调整并尽量重新平衡"])
            if status == "INFEASIBLE":
                reasons.append(_infeasible_text(ctx))
                return _failed(problem, params, "infeasible", reasons, t0, ctx=ctx)
            return _failed(problem, params, "infeasible",
                           [f"在 {params.seconds:g} 秒内没有找到满足要求的分片方案 (求解器状态 {status}); "
                            f"请增加 --seconds 或放宽 --tolerance"], t0, ctx=ctx)
        assignment, _ = _draw(ctx, sol)
        assignment = _fix_fragments(ctx, assignment)
        broken = [z for z in range(k) if not ctx.graph.connected(assignment == z)]
        if not broken:
            assignment = _rebalance(ctx, assignment, allow_new_splits=False)
        loads = _true_loads(ctx, assignment)
        dev = np.abs(loads / loads.mean() - 1)
        score = (len(broken), float(dev.max()) > params.tolerance, float(dev.max()))
        if best is None or score < best[1]:
            best = (assignment, score, sol)
        if not broken and dev.max() <= params.tolerance:
            break
        cuts = broken or [int(np.argmax(dev))]
        for z in cuts:
            level1.forbid(sol.zone_blocks[z])
        logger.info("zone(s) %s %s, re-solving with no-good cut(s)", cuts,
                    "not contiguous" if broken else "out of the band")
    assignment, score, sol = best
    if score[1]:
        # the planned blocks cannot be drawn inside the band (lanes that meet at one house, ...):
        # also try growing zones household by household from the edge of the village inwards,
        # and keep whichever is better (in the band first, then fewer split areas, then balance)
        drawn = _finish_draw(ctx, assignment, score)
        best_alt, best_score = drawn, _overall_score(ctx, drawn)
        for source in (_whole_areas, _tree_cuts):
            if best_score[:2] == (0, False):
                break  # connected and in the band: the other starts cannot do better on both
            for alt in source(ctx):
                sc = _overall_score(ctx, alt)
                if sc < best_score:
                    best_alt, best_score = alt, sc
        if best_alt is not drawn:
            return _result(ctx, _label(ctx, best_alt), "feasible", f"{sol.status}+tree", t0, reasons)
    if score[0]:  # still a zone in pieces: hand every stray piece to a neighbour, then rebalance
        assignment = _fix_fragments(ctx, assignment, limit=math.inf)
        assignment = _rebalance(ctx, assignment, allow_new_splits=False)
    loads = _true_loads(ctx, assignment)
    if np.max(np.abs(loads / loads.mean() - 1)) > params.tolerance:
        # the band cannot be met by the planned splits alone: let boundaries move across areas
        # (each new split is reported with its reason)
        assignment = _rebalance(ctx, assignment, allow_new_splits=True)
    assignment = _label(ctx, assignment)
    return _result(ctx, assignment, "optimal" if sol.optimal else "feasible", sol.status, t0, reasons)


# --------------------------------------------------------------------------------------------
# preparation


class _Context:
    """Derived data shared by the steps: blocks, weights, graph, distances."""

    def __init__(self, problem: ZoningProblem, params: ZoningParams):
        self.p = problem
        self.params = params
        self.deadline: float | None = None
        """Wall-clock guard (perf_counter): past it, searching and polishing stop whatever their
        budgets (only reached on a machine far slower than expected)."""
        self.k = problem.n_groups
        self.graph = Graph(problem.n, problem.edges)
        self.walk_min = household_walk_min(problem)
        self.w = problem.service_min.astype(np.float64) + self.walk_min  # additive workload
        self.T = float(self.w.sum()) / self.k
        tol = params.tolerance
        self.tol_plan = max(tol - _PLAN_MARGIN, tol * 0.6)
        # blocks: the connected pieces (in the household graph) of each real unit; scattered
        # households join the block they reach first along the graph (walking distance)
        unit_of = np.asarray(problem.unit_of, dtype=np.int64)
        kinds = np.asarray(problem.unit_kinds, dtype=object)
        real = np.array([kinds[u] != "scattered" for u in unit_of], dtype=bool)
        block_of = np.full(problem.n, -1, dtype=np.int64)
        self.block_unit: list[int] = []
        self.block_scattered: list[bool] = []
        if real.any():
            for u in sorted(set(unit_of[real].tolist())):
                for comp in self.graph.components(unit_of == u):
                    block_of[comp] = len(self.block_unit)
                    self.block_unit.append(u)
                    self.block_scattered.append(False)
            if (~real).any():
                block_of = self._absorb(block_of, problem.walk_m)
        else:
            block_of[:] = 0
            self.block_unit = [int(unit_of[0])]
            self.block_scattered = [True]
        self.block_of = block_of
        self.B = len(self.block_unit)
        self.block_members = [np.flatnonzero(block_of == b) for b in range(self.B)]
        self.block_w = np.array([self.w[m].sum() for m in self.block_members])
        # block adjacency from household edges
        e = np.asarray(problem.edges, dtype=np.int64).reshape(-1, 2)
        be = block_of[e] if len(e) else np.empty((0, 2), dtype=np.int64)
        be = be[be[:, 0] != be[:, 1]]
        be.sort(axis=1)
        self.block_edges = np.unique(be, axis=0) if len(be) else be
        # distance between blocks = walking distance between their medoids (metres)
        self.block_medoid = np.array([m[medoid(problem.walk_m[np.ix_(m, m)])] for m in self.block_members])
        self.block_dist = problem.walk_m[np.ix_(self.block_medoid, self.block_medoid)].astype(np.int64)
        # units locked by the user -> blocks locked (scattered units are not blocks)
        self.block_locks: dict[int, int] = {}
        unit_to_block = {u: b for b, u in enumerate(self.block_unit)}
        for u, g in params.unit_locks.items():
            if u in unit_to_block:
                self.block_locks[unit_to_block[u]] = g
        self.household_locks = dict(params.household_locks)
        for u, g in params.unit_locks.items():
            if u not in unit_to_block:  # a locked scattered area: lock its households
                for i in np.flatnonzero(unit_of == u):
                    self.household_locks.setdefault(int(i), g)
        self.locked = np.zeros(problem.n, dtype=bool)
        """Households that must stay where the user put them (locked areas and households)."""
        self.locked[list(self.household_locks)] = True
        for u in params.unit_locks:
            self.locked[unit_of == u] = True

    def _absorb(self, block_of: IntArray, walk: npt.NDArray[np.integer]) -> IntArray:
        """Give each household without a block (scattered) the block it reaches first along
        the household graph (multi-source Dijkstra on walking distances)."""
        out = block_of.copy()
        dist = np.where(out >= 0, 0.0, np.inf)
        heap = [(0.0, int(i)) for i in np.flatnonzero(out >= 0)]
        heapq.heapify(heap)
        while heap:
            d, i = heapq.heappop(heap)
            if d > dist[i]:
                continue
            for j in self.graph.neighbours(i):
                nd = d + float(walk[i, j])
                if nd < dist[j] and block_of[j] < 0:
                    dist[j] = nd
                    out[j] = out[i]
                    heapq.heappush(heap, (nd, j))
        rest = np.flatnonzero(out < 0)  # not reachable along the graph
        if len(rest):
            have = np.flatnonzero(out >= 0)
            out[rest] = out[have[np.argmin(walk[np.ix_(rest, have)], axis=1)]]
        return out

    @property
    def lo(self) -> int:
        return math.ceil(self.T * (1 - self.tol_plan))

    @property
    def hi(self) -> int:
        return math.floor(self.T * (1 + self.tol_plan))


# --------------------------------------------------------------------------------------------
# level 1: CP-SAT over blocks


class _Solution:
    def __init__(self, shares: dict[tuple[int, int], int], zone_blocks: list[tuple[int, ...]],
                 roots: list[int], status: str, optimal: bool):
        self.shares = shares  # (block, zone) -> minutes
        self.zone_blocks = zone_blocks
        self.roots = roots
        self.status = status
        self.optimal = optimal


class _Level1:
    def __init__(self, ctx: _Context, *, band: float | None = None):
        """``band``: planning band (share of the mean workload) instead of the context's."""
        self.ctx = ctx
        self.infeasible_reason = ""
        self.nogoods: list[tuple[int, ...]] = []
        self.last_status = ""
        self.spent = 0.0
        """Deterministic CP-SAT time granted so far (seconds), an upper bound of what was used."""
        self.leaf_rule = True
        k, B = ctx.k, ctx.B
        W = np.maximum(1, np.rint(ctx.block_w)).astype(np.int64)
        self.W = W
        T = float(W.sum()) / k
        self.Tm = T
        tol_plan = ctx.tol_plan if band is None else band
        self.lo = math.ceil(T * (1 - tol_plan))
        self.hi = math.floor(T * (1 + tol_plan))
        if self.lo > self.hi:
            self.infeasible_reason = (f"平衡要求 ±{ctx.params.tolerance:.1%} 过窄: 平均工作量只有 {T:.0f} 分钟, "
                                      f"按分钟取整后没有可行范围; 请放宽 --tolerance")
            return
        self.min_piece = [int(min(W[b], max(1, math.ceil(ctx.params.min_piece_share * T)))) for b in range(B)]
        self.forced = [max(1, math.ceil(W[b] / self.hi)) for b in range(B)]
        # slots: zones rooted in blocks
        self.slots: list[int] = []
        for b in range(B):
            r = min(k, W[b] // max(self.lo, 1) + 1)
            self.slots.extend([b] * int(r))
        if len(self.slots) < k:
            self.infeasible_reason = "可作为片区中心的自然村/小区太少"  # cannot happen: Σ r_b ≥ k
            return
        adj: dict[int, set[int]] = {b: set() for b in range(B)}
        for a, b in ctx.block_edges:
            adj[int(a)].add(int(b))
            adj[int(b)].add(int(a))
        self.adj = adj
        self.cand: list[list[int]] = []
        for r in self.slots:
            order = np.argsort(ctx.block_dist[r], kind="stable")
            self.cand.append(sorted(int(b) for b in order[:_MAX_CANDIDATE_BLOCKS]))

    def forbid(self, blocks: tuple[int, ...]) -> None:
        self.nogoods.append(tuple(sorted(blocks)))

    def _build(self) -> tuple[cp_model.CpModel, dict]:
        ctx, k, B, W = self.ctx, self.ctx.k, self.ctx.B, self.W
        m = cp_model.CpModel()
        S = len(self.slots)
        use = [m.NewBoolVar(f"use{s}") for s in range(S)]
        x: dict[tuple[int, int], cp_model.IntVar] = {}
        q: dict[tuple[int, int], cp_model.IntVar] = {}
        for s in range(S):
            for b in self.cand[s]:
                x[b, s] = m.NewBoolVar(f"x{b}_{s}")
                q[b, s] = m.NewIntVar(0, int(W[b]), f"q{b}_{s}")
                m.Add(x[b, s] <= use[s])
                m.Add(q[b, s] <= int(W[b]) * x[b, s])
                m.Add(q[b, s] >= self.min_piece[b] * x[b, s])
            m.Add(x[self.slots[s], s] == use[s])
        m.Add(sum(use) == k)
        loads = []
        for s in range(S):
            load = sum(q[b, s] for b in self.cand[s])
            loads.append(load)
            m.Add(load >= self.lo * use[s])
            m.Add(load <= self.hi * use[s])
        # symmetry: slots of one block are used in order, heaviest first
        for s in range(S - 1):
            if self.slots[s] == self.slots[s + 1]:
                m.Add(use[s + 1] <= use[s])
                m.Add(loads[s] >= loads[s + 1])
        pieces = []
        for b in range(B):
            xs = [x[b, s] for s in range(S) if (b, s) in x]
            m.Add(sum(q[b, s] for s in range(S) if (b, s) in q) == int(W[b]))
            p = sum(xs)
            m.Add(p >= self.forced[b])
            pieces.append(p)
        # a shared block is a leaf of every zone it is not the root of: a zone may end in a piece
        # of a shared block but not pass through it (that would cut the block in two)
        shared = []
        for b in range(B):
            sh = m.NewBoolVar(f"shared{b}")
            m.Add(pieces[b] <= 1 + k * sh)
            shared.append(sh)
        # contiguity over block adjacency: flow from the root of each slot
        for s in range(S):
            cset = set(self.cand[s])
            root = self.slots[s]
            M = len(cset)
            inflow: dict[int, list] = {b: [] for b in cset}
            outflow: dict[int, list] = {b: [] for b in cset}
            for a in cset:
                for b in self.adj[a]:
                    if b in cset and b != root:
                        f = m.NewIntVar(0, M, f"f{s}_{a}_{b}")
                        m.Add(f <= M * x[a, s])
                        m.Add(f <= M * x[b, s])
                        if a != root and self.leaf_rule:
                            m.Add(f <= M * (1 - shared[a]))
                        outflow[a].append(f)
                        inflow[b].append(f)
            for b in cset:
                if b != root:
                    m.Add(sum(inflow[b]) - sum(outflow[b]) == x[b, s])
        # user locks
        locks = ctx.block_locks
        for b, g in locks.items():
            m.Add(pieces[b] == 1)
        lb = sorted(locks)
        for i, a in enumerate(lb):
            for b in lb[i + 1:]:
                for s in range(S):
                    if (a, s) in x and (b, s) in x:
                        if locks[a] == locks[b]:
                            m.Add(x[a, s] == x[b, s])
                        else:
                            m.Add(x[a, s] + x[b, s] <= 1)
                    elif locks[a] == locks[b] and ((a, s) in x or (b, s) in x):
                        only = x[a, s] if (a, s) in x else x[b, s]
                        m.Add(only == 0)
        # no-goods: a block set that could not be drawn well (connected and in the band); its
        # supersets are forbidden too, or the model would dodge the cut with token pieces
        for ng in self.nogoods:
            ngs = set(ng)
            for s in range(S):
                if not ngs <= set(self.cand[s]):
                    continue
                m.Add(sum(x[b, s] for b in ng) <= len(ng) - 1)
        excess = sum(pieces[b] - self.forced[b] for b in range(B) if not ctx.block_scattered[b])
        T = int(round(self.Tm))
        dev = m.NewIntVar(0, int(W.sum()), "dev")
        for s in range(S):
            m.Add(dev >= loads[s] - T * use[s])
            m.Add(dev >= T * use[s] - loads[s])
        dist10 = (ctx.block_dist // 10).astype(np.int64)
        compact = sum(int(dist10[b, self.slots[s]]) * q[b, s] for (b, s) in q)
        vars_ = dict(use=use, x=x, q=q, loads=loads, pieces=pieces, excess=excess, dev=dev, compact=compact)
        return m, vars_

    def _solver(self, seconds: float) -> cp_model.CpSolver:
        solver = cp_model.CpSolver()
        # deterministic: the limit is CP-SAT's deterministic time (about seconds of one core);
        # the wall-clock limit is only a guard on a heavily loaded machine
        solver.parameters.max_deterministic_time = max(0.2, seconds)
        self.spent += max(0.2, seconds)
        solver.parameters.max_time_in_seconds = max(_WALL_GUARD_MIN_S / 4, 4.0 * seconds)
        # one worker: the search is then deterministic without interleave_search, which with 2
        # workers aborted OR-Tools 9.15 on some of these models (CHECK heuristics.fixed_search)
        solver.parameters.num_search_workers = self.ctx.params.workers
        solver.parameters.random_seed = self.ctx.params.seed
        return solver

    def solve(self, seconds: float) -> _Solution | None:
        m, v = self._build()
        bigT = int(self.W.sum()) + 1
        m.Minimize(v["excess"] * bigT + v["dev"])
        # no hint from the previous solution: it is the combination just forbidden, and an
        # infeasible hint on an infeasible model aborted OR-Tools 9.15 (CHECK fixed_search)
        solver = self._solver(seconds * 0.5)
        st = solver.Solve(m)
        self.last_status = solver.StatusName(st)
        if st == cp_model.INFEASIBLE and self.leaf_rule:
            logger.info("leaf rule relaxed (%s)", self.last_status)
            self.leaf_rule = False
            return self.solve(seconds * 0.5)
        small = [int(min(self.W[b], max(1, math.ceil(0.03 * self.Tm)))) for b in range(len(self.W))]
        if st == cp_model.INFEASIBLE and self.min_piece != small:
            logger.info("minimum piece size relaxed to 3%% of a zone (%s)", self.last_status)
            self.min_piece = small
            return self.solve(seconds * 0.5)
        if st not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            return None
        stage_a_optimal = st == cp_model.OPTIMAL
        best_excess = int(round(solver.Value(v["excess"])))
        best_dev = int(solver.Value(v["dev"]))
        first = self._extract(solver, v)
        # stage B: keep pieces and (nearly) the balance, make zones compact
        m2, v2 = self._build()
        m2.Add(v2["excess"] <= best_excess)
        m2.Add(v2["dev"] <= max(best_dev, int(math.ceil(0.01 * self.Tm))))
        for (b, s), var in v2["x"].items():
            m2.AddHint(var, solver.Value(v["x"][b, s]))
        for (b, s), var in v2["q"].items():
            m2.AddHint(var, solver.Value(v["q"][b, s]))
        m2.Minimize(v2["compact"])
        solver2 = self._solver(seconds * 0.2)
        st2 = solver2.Solve(m2)
        if st2 not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            first.status = self.last_status
            first.optimal = stage_a_optimal
            return first
        sol = self._extract(solver2, v2)
        sol.status = f"{self.last_status}+{solver2.StatusName(st2)}"
        sol.optimal = stage_a_optimal and st2 == cp_model.OPTIMAL
        return sol

    def _extract(self, solver: cp_model.CpSolver, v: dict) -> _Solution:
        used = [s for s in range(len(self.slots)) if solver.Value(v["use"][s])]
        shares: dict[tuple[int, int], int] = {}
        zone_blocks: list[tuple[int, ...]] = []
        roots = []
        for z, s in enumerate(used):
            blocks = []
            for b in self.cand[s]:
                if solver.Value(v["x"][b, s]):
                    shares[b, z] = int(solver.Value(v["q"][b, s]))
                    blocks.append(b)
            zone_blocks.append(tuple(sorted(blocks)))
            roots.append(self.slots[s])
        return _Solution(shares, zone_blocks, roots, "", False)


def _infeasible_text(ctx: _Context) -> str:
    tol = ctx.params.tolerance
    biggest = max(ctx.block_w) / ctx.T if ctx.B else 0
    text = (f"没有满足 ±{tol:.0%} 平衡要求且每片连通的分片方案。平均每组工作量 {ctx.T / 60:.1f} 小时")
    if ctx.block_locks:
        text += "; 锁定的片区可能互相冲突或过大, 请检查锁定"
    elif biggest < 0.1:
        text += "; 片区之间可能不连通 (住户相距过远), 请检查道路数据"
    return text + "; 可以放宽 --tolerance 或调整小组数"


# --------------------------------------------------------------------------------------------
# level 2: drawing the shared blocks at household level


def _draw(ctx: _Context, sol: _Solution) -> tuple[IntArray, list]:
    """Households -> zones: whole blocks directly, shared blocks cut by region growing."""
    n = ctx.p.n
    assignment = np.full(n, -1, dtype=np.int64)
    by_block: dict[int, list[tuple[int, int]]] = {}
    for (b, z), share in sol.shares.items():
        by_block.setdefault(b, []).append((z, share))
    shared = []
    for b, parts in by_block.items():
        if len(parts) == 1:
            assignment[ctx.block_members[b]] = parts[0][0]
        else:
            shared.append(b)
    # cut shared blocks, those with the most anchored zones first
    pending = sorted(shared)
    while pending:
        def anchored(b: int) -> int:
            return sum(1 for z, _ in by_block[b] if (assignment == z).any())

        pending.sort(key=lambda b: (-anchored(b), b))
        b = pending.pop(0)
        _cut_block(ctx, b, by_block[b], assignment, sol.zone_blocks)
    return assignment, []


def _cut_block(ctx: _Context, b: int, parts: list[tuple[int, int]], assignment: IntArray,
               zone_blocks: list[tuple[int, ...]]) -> None:
    """Cut shared block ``b`` into connected pieces of the given minute shares.

    Households at one point (flats of one building) form one *site* and stay together.  Each
    zone grows from the sites touching its other households; a zone whose other households are in
    several pieces first claims the shortest path through the block that joins them.  Growing is
    multi-source, the least-filled zone first, nearest sites first.
    """
    members = ctx.block_members[b]
    walk = ctx.p.walk_m
    # sites: households at the same point
    _, site_of_m = np.unique(np.round(ctx.p.xy[members], 1), axis=0, return_inverse=True)
    site_of_m = site_of_m.ravel()
    n_sites = int(site_of_m.max()) + 1
    site_members = [members[site_of_m == s] for s in range(n_sites)]
    site_rep = np.array([m[0] for m in site_members])
    site_w = np.array([ctx.w[m].sum() for m in site_members])
    site_of = {int(i): int(s) for i, s in zip(members, site_of_m)}
    site_adj: list[set[int]] = [set() for _ in range(n_sites)]
    touch: dict[int, dict[int, set[int]]] = {}  # zone -> outside component -> sites touching it
    zones = [z for z, _ in parts]
    outside_comp: dict[int, npt.NDArray] = {}
    main_comp: dict[int, int] = {}  # zone -> its heaviest component outside the block
    for z in zones:
        mask = assignment == z
        labels = np.full(ctx.p.n, -1, dtype=np.int64)
        comps = ctx.graph.components(mask)
        for c, comp in enumerate(comps):
            labels[comp] = c
        if comps:
            main_comp[z] = max(range(len(comps)), key=lambda c: (float(ctx.w[comps[c]].sum()), -c))
        outside_comp[z] = labels
        touch[z] = {}
    for i in members:
        si = site_of[int(i)]
        for j in ctx.graph.neighbours(int(i)):
            sj = site_of.get(j)
            if sj is not None:
                if sj != si:
                    site_adj[si].add(sj)
            else:
                zj = int(assignment[j])
                if zj in touch:
                    touch[zj].setdefault(int(outside_comp[zj][j]), set()).add(si)
    site_graph = Graph(n_sites, np.array([(a, t) for a in range(n_sites) for t in site_adj[a] if a < t],
                                         dtype=np.int64).reshape(-1, 2))
    # the main connected piece of the block (by workload): seeds go there, not on a stray farm
    main = max(site_graph.components(np.ones(n_sites, dtype=bool)),
               key=lambda c: (float(site_w[c].sum()), -min(c)))
    in_main = np.zeros(n_sites, dtype=bool)
    in_main[main] = True
    total_share = sum(s for _, s in parts)
    scale = float(site_w.sum()) / max(total_share, 1)
    target = {z: s * scale for z, s in parts}
    owner = np.full(n_sites, -1, dtype=np.int64)
    seeds: dict[int, list[int]] = {z: [] for z in zones}
    # bridges first: join the separate pieces of a zone through this block
    for z in sorted(zones, key=lambda z: -len(touch[z])):
        groups = [sorted(g) for _, g in sorted(touch[z].items())]
        seeds[z] = sorted({s for g in groups for s in g if owner[s] == -1})
        if len(groups) > 1:
            for g in groups[1:]:
                path = _site_path(groups[0], g, site_adj, site_rep, walk, owner)
                for s in path:
                    if owner[s] == -1:
                        owner[s] = z
                seeds[z] = sorted(set(seeds[z]) | set(path))
    owner_bridge = owner.copy()
    # zones with no contact: the site nearest their households, or far from the other seeds
    taken = [s for z in zones for s in seeds[z]]
    # zones reaching outside the block seed first (towards their other blocks), then the zones
    # that lie wholly inside it, each as far as possible from the seeds already placed
    inside_only = {z: not (assignment == z).any() and all(ob == b for ob in zone_blocks[z]) for z in zones}
    for z in sorted(zones, key=lambda z: (inside_only[z], -target[z], z)):
        if seeds[z]:
            continue
        outside = np.flatnonzero(assignment == z)
        if not len(outside):  # not drawn yet: head for the zone's other blocks
            others = [ctx.block_members[ob] for ob in zone_blocks[z] if ob != b]
            outside = np.concatenate(others) if others else outside
        if len(outside):
            d = walk[np.ix_(site_rep, outside)].min(axis=1).astype(np.float64)
        elif taken:
            d = -walk[np.ix_(site_rep, site_rep[taken])].min(axis=1).astype(np.float64)
        else:
            d = -walk[site_rep, site_rep[0]].astype(np.float64)
        d[owner >= 0] = np.inf
        d[~in_main] = np.inf
        if not np.isfinite(d).any():
            d = np.where(owner >= 0, np.inf, 0.0)
        seeds[z] = [int(np.argmin(d))]
        taken.extend(seeds[z])
    for i, g in ctx.household_locks.items():
        if int(i) in site_of and g in seeds:
            seeds[g].append(site_of[int(i)])
    dist_from = {z: walk[np.ix_(site_rep[sorted(set(seeds[z]))], site_rep)].min(axis=0).astype(np.float64)
                 for z in zones}
    load = {z: float(site_w[owner == z].sum()) for z in zones}
    heaps: dict[int, list] = {z: [(dist_from[z][s], s) for s in sorted(set(seeds[z]))] for z in zones}
    for z in zones:
        heapq.heapify(heaps[z])
    expanded = np.zeros(n_sites, dtype=bool)
    while True:
        if not (owner == -1).any():
            break
        for z in zones:  # a zone boxed in before reaching its share gets a fresh frontier
            if not heaps[z] and load[z] < target[z]:
                _refill(z, heaps[z], owner, site_adj, dist_from[z])
        open_z = [z for z in zones if heaps[z]]
        if not open_z:
            break
        z = min(open_z, key=lambda z: (load[z] / max(target[z], 1e-9), z))
        _, s = heapq.heappop(heaps[z])
        if expanded[s] or (owner[s] != -1 and owner[s] != z):
            continue
        if owner[s] == -1:  # bridge sites are owned already: they only expand
            owner[s] = z
            load[z] += site_w[s]
        expanded[s] = True
        for t in site_adj[s]:
            if owner[t] == -1:
                heapq.heappush(heaps[z], (dist_from[z][t], t))
    # sites never reached (the block is not connected): nearest zone by walking
    for s in np.flatnonzero(owner == -1):
        owner[s] = min(zones, key=lambda z: (dist_from[z][s], z))
    # a second cutter: peel zones off one at a time along the walking-distance difference to
    # the other zones' seeds (a sweep); keep whichever cut is connected and closer to the shares
    candidates = [owner]
    by_size = sorted(zones, key=lambda z: (-target[z], z))
    for order in (by_size, by_size[::-1]):
        candidates.append(_grow_in_turn(order, seeds, owner_bridge, target, site_w, site_adj, dist_from))
    anchors = {z: set(touch[z].get(main_comp[z], ())) if z in main_comp else set() for z in zones}
    candidates = [_mend_cut(o, zones, site_graph, anchors, site_w) for o in candidates]
    best = min(candidates, key=lambda o: _cut_score(ctx, assignment, o, site_members, zones, target, site_w))
    for s in range(n_sites):
        assignment[site_members[s]] = best[s]


def _mend_cut(owner: IntArray, zones: list[int], sites: Graph, anchors: dict[int, set[int]],
              site_w: npt.NDArray) -> IntArray:
    """Give each piece of a cut that cannot reach its zone to the neighbouring zone it touches most.

    A zone's piece of the block reaches the zone when it holds a site touching the zone's
    households outside the block (``anchors``); a zone with no households outside keeps its
    heaviest piece.  Pieces that reach nobody stay where they are.
    """
    owner = owner.copy()
    for _ in range(3):
        changed = False
        for z in zones:
            pieces = sites.components(owner == z)
            if len(pieces) < 2:
                continue
            if anchors[z]:
                keep = [pc for pc in pieces if anchors[z].intersection(pc)]
            else:
                keep = [max(pieces, key=lambda pc: (float(site_w[pc].sum()), -min(pc)))]
            if not keep:
                continue
            for pc in pieces:
                if any(pc is k for k in keep):
                    continue
                near: dict[int, int] = {}
                for u in pc:
                    for t in sites.neighbours(u):
                        o = int(owner[t])
                        if o != z and o >= 0:
                            near[o] = near.get(o, 0) + 1
                if near:
                    owner[pc] = max(sorted(near), key=lambda o: near[o])
                    changed = True
        if not changed:
            break
    return owner


def _grow_in_turn(order: list[int], seeds: dict[int, list[int]], owner0: IntArray,
                  target: dict[int, float], site_w: npt.NDArray, adj: list[set[int]],
                  dist_from: dict) -> IntArray:
    """Cut by growing one zone at a time from its seeds (nearest free neighbouring site first)
    until it has its share; the last zone takes the rest.  Every grown piece is connected to its
    seeds; stray leftovers go to the zone they touch most."""
    owner = owner0.copy()
    n_sites = len(site_w)
    for pos, z in enumerate(order[:-1]):
        reserved = {s for later in order[pos + 1:] for s in seeds[later]} - set(seeds[z])
        load = float(site_w[owner == z].sum())
        heap = [(float(dist_from[z][s]), s) for s in seeds[z] if owner[s] in (-1, z)]
        heapq.heapify(heap)
        done = np.zeros(n_sites, dtype=bool)
        while heap and load < target[z]:
            _, s = heapq.heappop(heap)
            if done[s] or owner[s] not in (-1, z):
                continue
            if s in reserved:
                continue
            if owner[s] == -1:
                if load + site_w[s] / 2 > target[z]:
                    break
                owner[s] = z
                load += site_w[s]
            done[s] = True
            for t in adj[s]:
                if owner[t] == -1 and not done[t]:
                    heapq.heappush(heap, (float(dist_from[z][t]), t))
    last = order[-1]
    free = owner == -1
    # the last zone keeps the free sites connected to its seeds; other stray pieces join a neighbour
    reach = np.zeros(n_sites, dtype=bool)
    stack = [s for s in seeds[last] if free[s] or owner[s] == last]
    for s in stack:
        reach[s] = True
    while stack:
        u = stack.pop()
        for t in adj[u]:
            if free[t] and not reach[t]:
                reach[t] = True
                stack.append(t)
    owner[free & reach] = last
    if not seeds[last]:
        owner[free] = last
    for _ in range(n_sites):
        stray = np.flatnonzero(owner == -1)
        if not len(stray):
            break
        progressed = False
        for s in stray:
            nbz = [owner[t] for t in adj[s] if owner[t] != -1]
            if nbz:
                owner[s] = max(set(nbz), key=nbz.count)
                progressed = True
        if not progressed:
            owner[owner == -1] = last
            break
    return owner


def _cut_score(ctx: _Context, assignment: IntArray, owner: IntArray, site_members: list,
               zones: list[int], target: dict[int, float], site_w: npt.NDArray) -> tuple:
    """(pieces beyond one per zone, worst relative miss of the shares) of a candidate cut."""
    trial = assignment.copy()
    for s, z in enumerate(owner):
        trial[site_members[s]] = z
    limit = _FRAGMENT_SHARE * ctx.T  # smaller stray pieces are handed to a neighbour later
    pieces = 0
    for z in zones:
        comps = ctx.graph.components(trial == z)
        pieces += sum(1 for c in comps[1:] if ctx.w[c].sum() > limit)
    miss = max(abs(float(site_w[owner == z].sum()) - target[z]) / max(target[z], 1e-9) for z in zones)
    return (pieces, round(miss, 3))


def _refill(z: int, heap: list, owner: IntArray, adj: list[set[int]], dist: npt.NDArray) -> None:
    """Give zone ``z`` new frontier sites: free sites next to its own, else the nearest free one."""
    free = owner == -1
    mine = np.flatnonzero(owner == z)
    nxt = sorted({t for s in mine for t in adj[s] if free[t]})
    if not nxt and free.any():
        nxt = [int(np.argmin(np.where(free, dist, np.inf)))]
    for t in nxt:
        heapq.heappush(heap, (float(dist[t]), int(t)))


def _site_path(src: list[int], dst: list[int], adj: list[set[int]], rep: IntArray,
               walk: npt.NDArray[np.integer], owner: IntArray) -> list[int]:
    """Shortest chain of free sites from any of ``src`` to any of ``dst`` (Dijkstra)."""
    dist = {s: 0.0 for s in src}
    prev: dict[int, int] = {}
    heap = [(0.0, s) for s in src]
    heapq.heapify(heap)
    goal = set(dst)
    while heap:
        d, s = heapq.heappop(heap)
        if d > dist.get(s, math.inf):
            continue
        if s in goal:
            path = [s]
            while path[-1] in prev:
                path.append(prev[path[-1]])
            return path
        for t in adj[s]:
            if owner[t] != -1:
                continue
            nd = d + float(walk[rep[s], rep[t]])
            if nd < dist.get(t, math.inf):
                dist[t] = nd
                prev[t] = s
                heapq.heappush(heap, (nd, t))
    return []


def _finish_draw(ctx: _Context, assignment: IntArray, score: tuple) -> IntArray:
    """The final repairs of a drawn zoning (what :func:`solve_zoning` applies to its best)."""
    a = assignment
    if score[0]:
        a = _fix_fragments(ctx, a, limit=math.inf)
        a = _rebalance(ctx, a, allow_new_splits=False)
    loads = _true_loads(ctx, a)
    if np.max(np.abs(loads / loads.mean() - 1)) > ctx.params.tolerance:
        a = _rebalance(ctx, a, allow_new_splits=True)
    return a


def _overall_score(ctx: _Context, a: IntArray) -> tuple:
    """(not contiguous, outside the band, split areas beyond need, max deviation) — lower is better."""
    loads = _true_loads(ctx, a)
    dev = float(np.max(np.abs(loads / loads.mean() - 1)))
    broken = sum(not ctx.graph.connected(a == z) for z in range(ctx.k))
    unit = np.asarray(ctx.p.unit_of)
    allowance = loads.mean() * (1 + ctx.params.tolerance)
    excess = 0
    for u in set(unit.tolist()):
        if ctx.p.unit_kinds[u] == "scattered":
            continue
        m = unit == u
        excess += max(0, len(set(a[m].tolist())) - max(1, math.ceil(ctx.w[m].sum() / allowance)))
    return (broken, dev > ctx.params.tolerance, excess, round(dev, 4))


def _whole_areas(ctx: _Context):
    """The zoning that keeps every natural village and compound whole (splitting only those too
    big for one zone) and is as even as whole areas allow, then balanced by boundary moves
    (yielded, at most one).

    When the planned pieces cannot be drawn inside the band (areas that touch at single houses),
    this is often the better start: a few households moved across one boundary instead of an
    area cut in the wrong place.
    """
    if ctx.deadline is not None and time.perf_counter() > ctx.deadline:
        return
    level = _Level1(ctx, band=0.5)
    if level.infeasible_reason:
        return
    sol = level.solve(max(0.3, 0.15 * ctx.params.seconds))
    if sol is None:
        return
    a, _ = _draw(ctx, sol)
    a = _fix_fragments(ctx, a, limit=math.inf)
    yield _rebalance(ctx, a, allow_new_splits=True)


def _tree_cuts(ctx: _Context, *, trees: int = 8):
    """Zonings made by cutting spanning trees of the household graph (yielded one by one).

    Cutting an edge of a spanning tree leaves two connected parts, so every zone is contiguous
    by construction.  Each round cuts off the subtree whose workload is nearest the mean
    (preferring cuts between areas when they are about as good), until k zones remain.  The
    first tree is the walking-distance spanning tree, the others use seeded random detours;
    each result is then balanced by boundary moves.
    """
    p, k, n = ctx.p, ctx.k, ctx.p.n
    rng = np.random.default_rng(ctx.params.seed)
    base = p.walk_m.astype(np.float64)
    unit = np.asarray(p.unit_of)
    adjacent = np.zeros((n, n), dtype=bool) if n <= 4000 else None
    if adjacent is not None:
        e = np.asarray(p.edges, dtype=np.int64).reshape(-1, 2)
        adjacent[e[:, 0], e[:, 1]] = adjacent[e[:, 1], e[:, 0]] = True
    target = float(ctx.w.sum()) / k
    for t in range(trees if n <= 1500 else max(2, trees // 3)):
        if ctx.deadline is not None and time.perf_counter() > ctx.deadline:
            return
        d = base if t == 0 else base * rng.uniform(1.0, 1.5, size=base.shape)
        if adjacent is not None:  # only edges of the household graph: zones stay contiguous in it
            d = np.where(adjacent, d, d + 1e7)
        parent, order = mst_parent(d)
        owner = np.full(n, -1, dtype=np.int64)
        alive = np.ones(n, dtype=bool)
        for z in range(k - 1):
            sub = np.where(alive, ctx.w, 0.0)
            for v in order[::-1]:  # children before parents
                if parent[v] >= 0 and alive[v]:
                    sub[parent[v]] += sub[v]
            cand = np.flatnonzero(alive & (parent >= 0))
            if not len(cand):
                break
            miss = np.abs(sub[cand] - target) / target
            between = unit[cand] != unit[parent[cand]]
            score = miss - 0.01 * between
            v = int(cand[np.argmin(score)])
            # the subtree of v: nodes whose chain of parents reaches v
            members = np.zeros(n, dtype=bool)
            members[v] = True
            for u in order:
                if alive[u] and parent[u] >= 0 and members[parent[u]]:
                    members[u] = True
            owner[members] = z
            alive[members] = False
        owner[owner == -1] = k - 1
        yield _rebalance(ctx, owner, allow_new_splits=True)


def _fix_fragments(ctx: _Context, assignment: IntArray, *, limit: float | None = None) -> IntArray:
    """Hand stray pieces of a zone (below ``limit`` minutes; default 5% of the mean workload) to
    the neighbouring zone they touch most."""
    assignment = assignment.copy()
    limit = _FRAGMENT_SHARE * ctx.T if limit is None else limit
    for _ in range(3):
        changed = False
        for z in range(ctx.k):
            comps = ctx.graph.components(assignment == z)
            if len(comps) <= 1:
                continue
            comps.sort(key=lambda c: -ctx.w[c].sum())
            for comp in comps[1:]:
                if ctx.w[comp].sum() > limit or ctx.locked[comp].any():
                    continue
                touch: dict[int, int] = {}
                for i in comp:
                    for j in ctx.graph.neighbours(i):
                        zj = int(assignment[j])
                        if zj != z:
                            touch[zj] = touch.get(zj, 0) + 1
                if touch:
                    new = max(sorted(touch), key=lambda t: touch[t])
                    assignment[comp] = new
                    changed = True
        if not changed:
            break
    return assignment


# --------------------------------------------------------------------------------------------
# balancing and repair at household level


def _true_loads(ctx: _Context, assignment: IntArray) -> npt.NDArray[np.float64]:
    return np.array([sum(zone_workload(ctx.p, np.flatnonzero(assignment == z))) for z in range(ctx.k)])


def _rebalance(ctx: _Context, assignment: IntArray, *, allow_new_splits: bool,
               max_moves: int | None = None) -> IntArray:
    if ctx.deadline is not None and time.perf_counter() > ctx.deadline:
        return assignment.copy()  # far past the time limit: no more polishing
    return _rebalance_moves(ctx, assignment, allow_new_splits=allow_new_splits, max_moves=max_moves)


def _rebalance_moves(ctx: _Context, assignment: IntArray, *, allow_new_splits: bool,
                     max_moves: int | None = None) -> IntArray:
    """Move boundary households from heavier to lighter neighbouring zones, keeping every zone
    connected, until the true workloads are as even as such moves allow.

    A household whose departure would cut its zone in two takes the cut-off part with it (a
    *branch move*), so zones that touch at a single household can still trade work.  Without
    ``allow_new_splits`` only households of areas the two zones already share (or scattered ones)
    move, so no natural village is split anew.
    """
    a = assignment.copy()
    n, k = ctx.p.n, ctx.k
    if k == 1 or not len(ctx.p.edges):
        return a
    max_moves = max_moves if max_moves is not None else max(50, n // 2)
    unit = np.asarray(ctx.p.unit_of, dtype=np.int64)
    n_units = int(unit.max()) + 1
    scattered = np.array([ctx.p.unit_kinds[u] == "scattered" for u in unit], dtype=bool)
    locked = ctx.locked.copy()  # grows with scattered households that should not move
    e = np.asarray(ctx.p.edges, dtype=np.int64).reshape(-1, 2)
    E = np.vstack([e, e[:, ::-1]])
    moves = 0

    def true_load(assign: IntArray, z: int) -> float:
        return sum(zone_workload(ctx.p, np.flatnonzero(assign == z)))

    def move_set(i: int, members_h: npt.NDArray[np.bool_], cuts: set[int]) -> npt.NDArray[np.int64]:
        if i not in cuts:
            return np.array([i])
        rest = members_h.copy()
        rest[i] = False
        comps = ctx.graph.components(rest)
        comps.sort(key=lambda c: -ctx.w[c].sum())
        return np.array([i] + [j for c in comps[1:] for j in c], dtype=np.int64)

    version = np.zeros(k, dtype=np.int64)  # bumped when a zone changes: cached cut points expire
    ap_cache: dict[int, tuple] = {}
    for _round in range(3):
        start = a.copy()
        version += 1
        true = _true_loads(ctx, a)
        loads = true.copy()
        target = float(true.sum()) / k
        uz = np.zeros((n_units, k), dtype=np.int64)
        np.add.at(uz, (unit, a), 1)
        improved_any = False
        while moves < max_moves:
            dev = loads / target - 1
            if np.max(np.abs(dev)) < 0.002:
                break
            if ctx.deadline is not None and time.perf_counter() > ctx.deadline:
                break
            best = None
            for h in np.argsort(-dev):
                sel = (a[E[:, 0]] == h) & (a[E[:, 1]] != h)
                if not sel.any():
                    continue
                pi, pl = E[sel, 0], a[E[sel, 1]]
                keep = (dev[pl] < dev[h]) & ~locked[pi]
                if not allow_new_splits:
                    keep &= scattered[pi] | (uz[unit[pi], pl] > 0)
                if not keep.any():
                    continue
                pairs, touching = np.unique(np.column_stack([pi[keep], pl[keep]]), axis=0, return_counts=True)
                w1 = ctx.w[pairs[:, 0]]
                g1 = np.maximum(np.abs(dev[h]), np.abs(dev[pairs[:, 1]])) - np.maximum(
                    np.abs((loads[h] - w1) / target - 1), np.abs((loads[pairs[:, 1]] + w1) / target - 1))
                order = np.lexsort((-touching, -g1))
                members_h = a == h
                if ap_cache.get(h, (None,))[0] != version[h]:
                    ap_cache[h] = (version[h], articulation_points(ctx.graph, members_h))
                cuts = ap_cache[h][1]
                branches = 0
                for idx in order[:30]:
                    i, L = int(pairs[idx, 0]), int(pairs[idx, 1])
                    if i in cuts:
                        branches += 1
                        if branches > 5:
                            continue  # branch moves cost a search each: a few per zone are enough
                    group = move_set(i, members_h, cuts)
                    if locked[group].any():
                        continue
                    if not allow_new_splits and not (scattered[group] | (uz[unit[group], L] > 0)).all():
                        continue
                    wg = float(ctx.w[group].sum())
                    gain = max(abs(dev[h]), abs(dev[L])) - max(abs((loads[h] - wg) / target - 1),
                                                               abs((loads[L] + wg) / target - 1))
                    if gain > 1e-9 and (best is None or gain > best[4] + 1e-9):
                        best = (group, h, L, wg, gain)
                        if len(group) == 1:
                            break  # a single household with a gain: take it
                if best:
                    break
            if best is None:
                break
            group, h, L, wg, _ = best
            if scattered[group].any():
                # a scattered household's walk is not additive (it may be far from everyone):
                # check the move on the true workloads of the two zones
                before = max(abs(loads[h] / target - 1), abs(loads[L] / target - 1))
                a[group] = L
                th, tl = true_load(a, h), true_load(a, L)
                if max(abs(th / target - 1), abs(tl / target - 1)) >= before:
                    a[group] = h
                    locked[group[scattered[group]]] = True
                    continue
                loads[h], loads[L] = th, tl
            else:
                a[group] = L
                loads[h] -= wg
                loads[L] += wg
            np.add.at(uz, (unit[group], h), -1)
            np.add.at(uz, (unit[group], L), 1)
            version[h] += 1
            version[L] += 1
            moves += 1
            improved_any = True
        new_true = _true_loads(ctx, a)
        if np.max(np.abs(new_true / new_true.mean() - 1)) > np.max(np.abs(true / true.mean() - 1)):
            a = start  # this round made the true balance worse: keep what we had
            break
        if not improved_any:
            break
    return a


def _repair(ctx: _Context) -> IntArray | None:
    """Re-zoning: keep the previous zones, add new households, apply locks, rebalance.

    Returns None when the repaired zones miss the band or are not contiguous (solve afresh)."""
    prev = np.asarray(ctx.params.previous, dtype=np.int64)
    k, p = ctx.k, ctx.p
    if prev.shape != (p.n,) or prev.max(initial=-1) >= k or not (prev >= 0).any():
        return None
    a = prev.copy()
    if len(set(a[a >= 0].tolist())) != k:
        return None
    new = np.flatnonzero(a < 0)
    old = np.flatnonzero(a >= 0)
    if len(new):
        same_block = ctx.block_of[new][:, None] == ctx.block_of[old][None, :]
        d = p.walk_m[np.ix_(new, old)].astype(np.float64) + np.where(same_block, 0.0, 1e9)
        d = np.where(d >= 1e9, p.walk_m[np.ix_(new, old)].astype(np.float64) + 1e6, d)
        a[new] = a[old[np.argmin(d, axis=1)]]
    for u, g in ctx.params.unit_locks.items():
        a[np.asarray(p.unit_of) == u] = g
    for i, g in ctx.household_locks.items():
        a[i] = g
    a = _fix_fragments(ctx, a)
    if any(not ctx.graph.connected(a == z) for z in range(k)):
        # the change cut a zone (a house that joined two hamlets is gone): every stray piece
        # goes to the neighbour it touches most, then the balance is repaired below
        a = _fix_fragments(ctx, a, limit=math.inf)

    def fits(assign: IntArray) -> bool:
        loads = _true_loads(ctx, assign)
        return all(ctx.graph.connected(assign == z) for z in range(k)) and \
            np.max(np.abs(loads / loads.mean() - 1)) <= ctx.params.tolerance

    if fits(a):
        return a  # still within the band: move nobody
    a = _rebalance(ctx, a, allow_new_splits=False)
    if fits(a):
        return a
    a = _rebalance(ctx, a, allow_new_splits=True)
    return a if fits(a) else None


def _apply_locks(ctx: _Context, assignment: IntArray) -> IntArray:
    """Number zones so locked areas mostly stay put, move locked areas/households to their group,
    reattach stray pieces and rebalance (locked households never move)."""
    a = _label(ctx, assignment)
    unit = np.asarray(ctx.p.unit_of)
    for u, g in ctx.params.unit_locks.items():
        a[unit == u] = g
    for i, g in ctx.household_locks.items():
        a[i] = g
    a = _fix_fragments(ctx, a, limit=math.inf)
    return _rebalance(ctx, a, allow_new_splits=True)


def _label(ctx: _Context, assignment: IntArray) -> IntArray:
    """Number zones as groups: locked areas and households first, then the previous zones (most
    households kept), then by size for a stable order."""
    k = ctx.k
    score = np.zeros((k, k))  # zone x label
    for b, g in ctx.block_locks.items():
        for z in set(assignment[ctx.block_members[b]].tolist()):
            score[z, g] += 1e9
    for i, g in ctx.household_locks.items():
        score[assignment[i], g] += 1e6
    if ctx.params.previous is not None:
        prev = np.asarray(ctx.params.previous)
        for z in range(k):
            labels, counts = np.unique(prev[(assignment == z) & (prev >= 0) & (prev < k)], return_counts=True)
            score[z, labels] += counts
    if not score.any():
        # stable order: zones sorted by the position of their medoid block root (west to east)
        xy = ctx.p.xy
        cx = np.array([xy[assignment == z, 0].mean() + 1e-6 * xy[assignment == z, 1].mean() for z in range(k)])
        order = np.argsort(cx, kind="stable")
        mapping = np.empty(k, dtype=np.int64)
        mapping[order] = np.arange(k)
        return mapping[assignment]
    from ortools.graph.python import linear_sum_assignment

    lsa = linear_sum_assignment.SimpleLinearSumAssignment()
    top = score.max()
    for z in range(k):
        for g in range(k):
            lsa.add_arc_with_cost(z, g, int(top - score[z, g]))
    if lsa.solve() != lsa.OPTIMAL:
        return assignment
    mapping = np.array([lsa.right_mate(z) for z in range(k)], dtype=np.int64)
    return mapping[assignment]


# --------------------------------------------------------------------------------------------
# results


def _check_shapes(p: ZoningProblem) -> None:
    n = p.n
    if np.shape(p.unit_of) != (n,) or np.shape(p.service_min) != (n,):
        raise ValueError("unit_of and service_min must have one entry per household")
    if np.shape(p.walk_m) != (n, n):
        raise ValueError("walk_m must be n x n")
    if np.shape(p.xy) != (n, 2):
        raise ValueError("xy must be n x 2 (metres)")
    if len(p.unit_ids) != len(p.unit_kinds):
        raise ValueError("unit_ids and unit_kinds differ in length")
    if n and (np.min(p.unit_of) < 0 or np.max(p.unit_of) >= len(p.unit_ids)):
        raise ValueError("unit_of refers to a unit that does not exist")
    e = np.asarray(p.edges).reshape(-1, 2)
    if len(e) and (e.min() < 0 or e.max() >= n):
        raise ValueError("edges refer to households that do not exist")


def _params_dict(params: ZoningParams) -> dict:
    d = asdict(params)
    d["previous"] = None if params.previous is None else "given"
    d["unit_locks"] = {str(k): v for k, v in params.unit_locks.items()}
    d["household_locks"] = {str(k): v for k, v in params.household_locks.items()}
    return d


def _failed(problem: ZoningProblem, params: ZoningParams, status: str, reasons: list[str],
            t0: float, ctx: _Context | None = None) -> ZoningResult:
    return ZoningResult(status=status, assignment=np.full(problem.n, -1, dtype=np.int64), zones=[],
                        splits=[], balance=math.nan, cv=math.nan, max_deviation=math.nan,
                        contiguous=False, excess_pieces=0, moved=0, reasons=reasons,
                        solver_status=status, seconds=time.perf_counter() - t0,
                        params=_params_dict(params))


def _result(ctx: _Context, assignment: IntArray, status: str, solver_status: str, t0: float,
            reasons: list[str]) -> ZoningResult:
    p, k = ctx.p, ctx.k
    zones: list[Zone] = []
    unit_of = np.asarray(p.unit_of)
    for z in range(k):
        members = np.flatnonzero(assignment == z)
        service, walk = zone_workload(p, members)
        units = tuple(sorted(set(unit_of[members].tolist())))
        zones.append(Zone(index=z, households=members, units=units, service_min=service,
                          walk_min=walk, contiguous=ctx.graph.connected(assignment == z)))
    loads = np.array([zz.workload_min for zz in zones])
    mean = float(loads.mean())
    balance = float(loads.max() / loads.min()) if loads.min() > 0 else math.inf
    cv = float(loads.std() / mean) if mean > 0 else 0.0
    max_dev = float(np.max(np.abs(loads / mean - 1))) if mean > 0 else 0.0
    tol = ctx.params.tolerance
    allowance = mean * (1 + tol)
    splits: list[Split] = []
    excess = 0
    kinds = p.unit_kinds
    for u in sorted(set(unit_of.tolist())):
        if kinds[u] == "scattered":
            continue
        members = unit_of == u
        zs = tuple(sorted(set(assignment[members].tolist())))
        if len(zs) <= 1:
            continue
        w_u = float(ctx.w[members].sum())
        need = max(1, math.ceil(w_u / allowance))
        forced = len(zs) <= need
        excess += max(0, len(zs) - need)
        share = w_u / mean
        if forced:
            reason = (f"该片区工作量约为 {share:.1f} 个小组的平均工作量, 超过一个小组的上限 (+{tol:.0%}), "
                      f"必须拆给 {len(zs)} 个小组")
        else:
            reason = (f"为使各组工作量相差在 ±{tol:.0%} 以内而拆分 (该片区约为 {share:.1f} 个小组的工作量); "
                      f"放宽平衡要求可减少拆分")
        splits.append(Split(unit=u, zones=zs, forced=forced, reason=reason))
    moved = 0
    if ctx.params.previous is not None:
        prev = np.asarray(ctx.params.previous)
        moved = int(((prev >= 0) & (prev != assignment)).sum())
    contiguous = all(zz.contiguous for zz in zones)
    if not contiguous:
        reasons = reasons + [f"第 {zz.index + 1} 片不连通 (住户之间被其它片隔开)" for zz in zones if not zz.contiguous]
    if max_dev > tol + 1e-9:
        status = "feasible"
        reasons = reasons + [f"实际工作量最大偏差 {max_dev:.1%} 超出要求的 ±{tol:.0%} "
                             f"(住户太少或单户工作量占比过大时难以更均衡)"]
    if not contiguous:
        status = "feasible"
    return ZoningResult(status=status, assignment=assignment, zones=zones, splits=splits,
                        balance=balance, cv=cv, max_deviation=max_dev, contiguous=contiguous,
                        excess_pieces=excess, moved=moved, reasons=reasons, solver_status=solver_status,
                        seconds=time.perf_counter() - t0, params=_params_dict(ctx.params),
                        objective={"mean_workload_min": mean})


def tradeoff(problem: ZoningProblem, tolerances: Sequence[float] = (0.02, 0.05, 0.10, 0.15), *,
             params: ZoningParams = ZoningParams()) -> list[ZoningResult]:
    """Zone the same village at several balance bands, to show what balance costs in splits."""
    from dataclasses import replace

    return [solve_zoning(problem, replace(params, tolerance=t)) for t in tolerances]
