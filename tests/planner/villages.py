"""Small synthetic villages for zoning tests: hamlets of houses, compounds of flats."""

from __future__ import annotations

import numpy as np

from geo.adjacency import household_graph
from planner.zones import ZoningProblem


def make_village(seed: int = 0, *, hamlets: tuple[int, ...] = (60, 40, 120, 30, 80, 50),
                 compounds: tuple[int, ...] = (90,), scattered: int = 6, n_groups: int = 4,
                 spacing_m: float = 300.0) -> ZoningProblem:
    """Hamlets along a road (x axis), compounds as a few buildings with many flats each,
    scattered farms; walking distance = straight line x 1.25."""
    rng = np.random.default_rng(seed)
    xy, unit_of, kinds, ids = [], [], [], []
    u = 0
    for h, size in enumerate(hamlets):
        centre = np.array([h * spacing_m, rng.normal(0, 40)])
        pts = centre + rng.normal(0, 25 + size * 0.5, size=(size, 2))
        xy.append(pts)
        unit_of += [u] * size
        kinds.append("natural_village")
        ids.append(f"N{h}")
        u += 1
    for c, size in enumerate(compounds):
        centre = np.array([(len(hamlets) / 2) * spacing_m, 250.0 + 150 * c])
        buildings = centre + rng.normal(0, 30, size=(max(1, size // 30), 2))
        pts = buildings[rng.integers(0, len(buildings), size)]
        xy.append(pts)
        unit_of += [u] * size
        kinds.append("compound")
        ids.append(f"C{c}")
        u += 1
    if scattered:
        pts = np.column_stack([rng.uniform(0, len(hamlets) * spacing_m, scattered), rng.uniform(-300, 300, scattered)])
        xy.append(pts)
        unit_of += [u] * scattered
        kinds.append("scattered")
        ids.append("S")
    xy = np.vstack(xy)
    n = len(xy)
    d = np.hypot(xy[:, None, 0] - xy[None, :, 0], xy[:, None, 1] - xy[None, :, 1]) * 1.25
    walk = np.rint(d).astype(np.int32)
    edges = household_graph(xy, walk)
    return ZoningProblem(
        household_ids=[f"H{i:05d}" for i in range(n)], unit_of=np.array(unit_of, dtype=np.int64),
        unit_ids=ids, unit_kinds=kinds, service_min=np.full(n, 10.0), walk_m=walk, edges=edges,
        xy=xy, n_groups=n_groups,
    )
