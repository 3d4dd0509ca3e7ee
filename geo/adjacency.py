"""The household adjacency graph: which households are neighbours, for zone contiguity.

A zone is *contiguous* when its households are connected in this graph using only edges between
its own households.  The graph is the Delaunay triangulation of the household positions, keeping
an edge only where walking between the two households is not a long detour (no edge across a
river without a bridge, or across a field the path goes round), plus the minimum spanning tree of
the walking distances, so the whole village is always connected.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from scipy.spatial import Delaunay, QhullError

from geo.network import WalkNetwork

IntArray = npt.NDArray[np.int64]


def dense_mst(d: npt.ArrayLike) -> tuple[IntArray, npt.NDArray[np.float64]]:
    """Minimum spanning tree of a complete graph given as a dense (n, n) distance matrix.

    Prim's algorithm from node 0: O(n²) time, O(n) extra memory; zero off-diagonal distances
    (households at one building) are real edges of length 0; ties go to the node added to the
    tree first, then the lowest index.  Row ``j`` gives the distances from ``j`` (a symmetric
    matrix is expected; see :func:`walking_mst_edges`).

    Returns
    -------
    (edges, lengths)
        ``edges`` int64 (n - 1, 2) as (parent, child) in the order added, ``lengths`` float64
        (n - 1,), in the matrix's units.
    """
    d = np.asarray(d)
    n = len(d)
    if n < 2:
        return np.empty((0, 2), dtype=np.int64), np.empty(0)
    in_tree = np.zeros(n, dtype=bool)
    in_tree[0] = True
    best = d[0].astype(np.float64)
    best[0] = np.inf
    parent = np.zeros(n, dtype=np.int64)
    edges = np.empty((n - 1, 2), dtype=np.int64)
    lengths = np.empty(n - 1)
    for k in range(n - 1):
        j = int(np.argmin(best))
        edges[k] = (parent[j], j)
        lengths[k] = best[j]
        in_tree[j] = True
        best[j] = np.inf
        row = d[j]
        closer = (row < best) & ~in_tree
        best[closer] = row[closer]
        parent[closer] = j
    return edges, lengths


def walking_mst_edges(walk_m: npt.NDArray[np.integer]) -> IntArray:
    """Edges (i, j), i < j, of a minimum spanning tree of a walking-distance matrix (metres).

    The matrix is symmetrised by the shorter way first; see :func:`dense_mst`.
    """
    if walk_m.shape[0] < 2:
        return np.empty((0, 2), dtype=np.int64)
    edges, _ = dense_mst(np.minimum(walk_m, walk_m.T))
    edges.sort(axis=1)
    return edges


def household_graph(
    xy: npt.NDArray[np.float64],
    walk_m: npt.NDArray[np.integer],
    *,
    max_detour: float = 2.5,
    slack_m: float = 50.0,
    max_edge_m: float | None = None,
    network: WalkNetwork | None = None,
    doorstep_reach: float = 1.5,
) -> IntArray:
    """Neighbour pairs among households.

    Parameters
    ----------
    xy : float array (n, 2)
        Positions in metres (metric CRS).
    walk_m : int array (n, n)
        Walking distances, metres.
    max_detour : float
        A Delaunay edge is kept when walking ≤ ``max_detour`` × straight distance + ``slack_m``.
    slack_m : float
        Metres; see ``max_detour``.
    max_edge_m : float, optional
        Drop Delaunay edges longer than this walk (default: 3 × the 95th percentile of the
        spanning-tree edges, at least 150 m), so distant hamlets touch only through the tree.
    network : WalkNetwork, optional
        The roads the walking distances were computed on.  With it, next-door neighbours along the
        roads (:meth:`WalkNetwork.doorstep_pairs`: houses whose doorsteps are joined by a stretch of
        road with no other doorstep on it) are neighbours too, under the same detour rule but
        without ``max_edge_m``.  Lanes opening onto one street are then neighbours across the
        street, so a natural village can be shared lane by lane, and the end houses of two
        hamlets on one road are neighbours along it, so a group can reach its hamlets by the road
        without passing another group's doors, as on the ground.
    doorstep_reach : float
        Along a stretch of road with no doorstep on it, houses farther apart than ``max_edge_m``
        are neighbours only if at most this many times farther than the nearest other house on
        that stretch (the next hamlet along the road, not every hamlet on it).

    Returns
    -------
    int array (m, 2)
        Unique pairs (i, j) with i < j.
    """
    xy = np.asarray(xy, dtype=np.float64)
    n = len(xy)
    if n < 2:
        return np.empty((0, 2), dtype=np.int64)
    mst = walking_mst_edges(walk_m)
    if max_edge_m is None:
        lengths = walk_m[mst[:, 0], mst[:, 1]]
        max_edge_m = max(150.0, 3.0 * float(np.percentile(lengths, 95))) if len(lengths) else 150.0
    edges = [mst]
    uniq, first = np.unique(np.round(xy, 2), axis=0, return_index=True)
    if len(uniq) >= 3:
        try:
            tri = Delaunay(uniq)
        except QhullError:  # all points on a line
            tri = None
        if tri is not None:
            s = tri.simplices
            pairs = np.vstack([s[:, [0, 1]], s[:, [1, 2]], s[:, [0, 2]]])
            pairs = first[pairs]  # back to household positions
            a, b = pairs[:, 0], pairs[:, 1]
            straight = np.hypot(*(xy[a] - xy[b]).T)
            walk = walk_m[a, b].astype(np.float64)
            keep = (walk <= max_detour * straight + slack_m) & (walk <= max_edge_m)
            edges.append(pairs[keep])
    if network is not None:
        pairs = network.doorstep_pairs(xy, near_m=max_edge_m, reach=doorstep_reach)
        if len(pairs):
            a, b = pairs[:, 0], pairs[:, 1]
            straight = np.hypot(*(xy[a] - xy[b]).T)
            walk = walk_m[a, b].astype(np.float64)
            edges.append(pairs[walk <= max_detour * straight + slack_m])
    # households sharing one point (the flats of one building) are neighbours of their building's
    # representative and of everything it touches, so a building can be shared between two zones
    _, inverse = np.unique(np.round(xy, 2), axis=0, return_inverse=True)
    rep = first[inverse.ravel()]
    same = np.flatnonzero(rep != np.arange(n))
    if len(same):
        e_rep = np.vstack(edges)
        e_rep = np.vstack([e_rep, e_rep[:, ::-1]])
        order = np.argsort(e_rep[:, 0], kind="stable")
        e_rep = e_rep[order]
        starts = np.searchsorted(e_rep[:, 0], np.arange(n + 1))
        extra = [np.column_stack([rep[same], same])]
        for i in same:
            r = rep[i]
            nb = e_rep[starts[r]:starts[r + 1], 1]
            nb = nb[rep[nb] != r]
            if len(nb):
                extra.append(np.column_stack([np.full(len(nb), i), nb]))
        edges.extend(extra)
    e = np.vstack(edges).astype(np.int64)
    e.sort(axis=1)
    e = e[e[:, 0] != e[:, 1]]
    return np.unique(e, axis=0)
