"""Small graph helpers on plain arrays (adjacency lists, connectivity, spanning trees)."""

from __future__ import annotations

from collections import deque

import numpy as np
import numpy.typing as npt


class Graph:
    """An undirected graph on n nodes in compressed adjacency form."""

    def __init__(self, n: int, edges: npt.NDArray[np.integer]):
        self.n = n
        e = np.asarray(edges, dtype=np.int64).reshape(-1, 2)
        both = np.vstack([e, e[:, ::-1]]) if len(e) else np.empty((0, 2), dtype=np.int64)
        order = np.lexsort((both[:, 1], both[:, 0]))
        both = both[order]
        self.indices = both[:, 1].copy()
        self.indptr = np.searchsorted(both[:, 0], np.arange(n + 1)).astype(np.int64)
        self._lists = [self.indices[self.indptr[i]:self.indptr[i + 1]].tolist() for i in range(n)]

    def neighbours(self, i: int) -> list[int]:
        return self._lists[i]

    def components(self, members: npt.NDArray[np.bool_]) -> list[list[int]]:
        """Connected components among ``members`` (each a list of nodes), largest first."""
        inside = np.asarray(members, dtype=bool).tolist()  # list indexing: much faster than numpy's
        comps: list[list[int]] = []
        lists = self._lists
        for s in np.flatnonzero(members).tolist():
            if not inside[s]:
                continue
            inside[s] = False
            comp = [s]
            queue = deque([s])
            while queue:
                a = queue.popleft()
                for b in lists[a]:
                    if inside[b]:
                        inside[b] = False
                        comp.append(b)
                        queue.append(b)
            comps.append(comp)
        comps.sort(key=len, reverse=True)
        return comps

    def connected(self, members: npt.NDArray[np.bool_], without: int | None = None) -> bool:
        """True when ``members`` (minus ``without``) form one connected piece (or are empty)."""
        mask = members
        if without is not None:
            mask = members.copy()
            mask[without] = False
        nodes = np.flatnonzero(mask)
        if len(nodes) <= 1:
            return True
        inside = np.asarray(mask, dtype=bool).tolist()
        start = int(nodes[0])
        inside[start] = False
        count = 1
        queue = deque([start])
        lists = self._lists
        while queue:
            a = queue.popleft()
            for b in lists[a]:
                if inside[b]:
                    inside[b] = False
                    count += 1
                    queue.append(b)
        return count == len(nodes)


def articulation_points(graph: "Graph", members: npt.NDArray[np.bool_]) -> set[int]:
    """Nodes whose removal disconnects the subgraph induced by ``members`` (iterative Tarjan)."""
    disc = {}
    low = {}
    points: set[int] = set()
    timer = 0
    inside = np.asarray(members, dtype=bool).tolist()
    for root in np.flatnonzero(members):
        root = int(root)
        if root in disc:
            continue
        disc[root] = low[root] = timer
        timer += 1
        children = 0
        stack = [(root, -1, iter(graph.neighbours(root)))]
        while stack:
            u, parent, it = stack[-1]
            advanced = False
            for v in it:
                if not inside[v] or v == parent:
                    continue
                if v in disc:
                    low[u] = min(low[u], disc[v])
                else:
                    disc[v] = low[v] = timer
                    timer += 1
                    if u == root:
                        children += 1
                    stack.append((v, u, iter(graph.neighbours(v))))
                    advanced = True
                    break
            if advanced:
                continue
            stack.pop()
            if stack:
                p = stack[-1][0]
                low[p] = min(low[p], low[u])
                if p != root and low[u] >= disc[p]:
                    points.add(p)
        if children > 1:
            points.add(root)
    return points


def mst_length(d: npt.NDArray[np.number]) -> float:
    """Length of a minimum spanning tree of a dense symmetric distance matrix (Prim, O(m^2))."""
    m = d.shape[0]
    if m <= 1:
        return 0.0
    d = d.astype(np.float64, copy=False)
    in_tree = np.zeros(m, dtype=bool)
    in_tree[0] = True
    best = d[0].copy()
    total = 0.0
    for _ in range(m - 1):
        cand = np.where(in_tree, np.inf, best)
        j = int(np.argmin(cand))
        total += float(cand[j])
        in_tree[j] = True
        np.minimum(best, d[j], out=best)
    return total


def mst_incident_half(d: npt.NDArray[np.number]) -> npt.NDArray[np.float64]:
    """Half the length of the spanning-tree edges touching each node: an additive share of the
    tree's length (shares sum to the tree length)."""
    m = d.shape[0]
    share = np.zeros(m)
    if m <= 1:
        return share
    d = d.astype(np.float64, copy=False)
    in_tree = np.zeros(m, dtype=bool)
    in_tree[0] = True
    best = d[0].copy()
    parent = np.zeros(m, dtype=np.int64)
    for _ in range(m - 1):
        cand = np.where(in_tree, np.inf, best)
        j = int(np.argmin(cand))
        w = float(cand[j])
        share[j] += w / 2
        share[parent[j]] += w / 2
        in_tree[j] = True
        closer = d[j] < best
        best[closer] = d[j][closer]
        parent[closer] = j
    return share


def medoid(d: npt.NDArray[np.number]) -> int:
    """Position of the member minimising the sum of distances to the others."""
    return int(np.argmin(d.sum(axis=1))) if d.shape[0] else -1


def mst_parent(d: npt.NDArray[np.number]) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Parent of each node in a minimum spanning tree of a dense distance matrix, rooted at
    node 0 (``parent[0] == -1``), and nodes in the order they joined the tree (Prim, O(m^2))."""
    m = d.shape[0]
    parent = np.full(m, -1, dtype=np.int64)
    order = np.zeros(m, dtype=np.int64)
    if m <= 1:
        return parent, order
    d = d.astype(np.float64, copy=False)
    in_tree = np.zeros(m, dtype=bool)
    in_tree[0] = True
    best = d[0].copy()
    link = np.zeros(m, dtype=np.int64)
    for step in range(1, m):
        cand = np.where(in_tree, np.inf, best)
        j = int(np.argmin(cand))
        parent[j] = link[j]
        order[step] = j
        in_tree[j] = True
        closer = d[j] < best
        best[closer] = d[j][closer]
        link[closer] = j
    return parent, order
