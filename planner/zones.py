"""Typed input and output of zoning: plain arrays in, plain results out (no GeoDataFrames).

The caller (``api``) builds a :class:`ZoningProblem` per administrative village from the store and
``geo`` (walking matrix, household adjacency graph), and gets a :class:`ZoningResult` back.
Households, units (natural villages / compounds) and zones are referred to by position; the ids
travel alongside so results can be reported in the users' own ids.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class ZoningProblem:
    """One administrative village to split into ``n_groups`` zones.

    Attributes
    ----------
    household_ids : list of str
        The users' household ids, length n.
    unit_of : int array, shape (n,)
        Index into ``unit_ids`` of each household's area (natural village, compound or the
        scattered-households area).
    unit_ids : list of str
        Area ids, length U.
    unit_kinds : list of str
        ``natural_village``, ``compound`` or ``scattered`` per unit.
    service_min : float array, shape (n,)
        Visit minutes per household (per yearly round of visits).
    walk_m : int array, shape (n, n)
        Walking distances in metres (symmetric, zero diagonal).
    edges : int array, shape (m, 2)
        Household adjacency graph (pairs of household positions) used for contiguity: a zone is
        contiguous when its households are connected in this graph.
    xy : float array, shape (n, 2)
        Household positions in metres (a metric CRS); used for outlines and seeding only.
    n_groups : int
        Number of zones wanted (one per "2+1" group).
    walk_speed_m_per_min : float
        Walking speed, metres per minute (4 km/h = 66.7).
    """

    household_ids: list[str]
    unit_of: IntArray
    unit_ids: list[str]
    unit_kinds: list[str]
    service_min: FloatArray
    walk_m: npt.NDArray[np.integer]
    edges: IntArray
    xy: FloatArray
    n_groups: int
    walk_speed_m_per_min: float = 4000.0 / 60.0

    @property
    def n(self) -> int:
        return len(self.household_ids)


@dataclass(frozen=True)
class ZoningParams:
    """How to zone.

    Attributes
    ----------
    tolerance : float
        Allowed deviation of each zone's workload from the village mean (0.05 = ±5%).
    seconds : float
        Time limit for the CP-SAT solver per village, seconds.
    seed : int
        Random seed (CP-SAT and the household-level step); same seed, same zones.
    min_piece_share : float
        A piece of a split natural village/compound is at least this share of the mean workload.
    unit_locks : mapping of unit index -> zone index
        Areas the user locked to a group (zone index = group position).
    household_locks : mapping of household index -> zone index
        Households the user locked to a group.
    previous : int array of shape (n,) or None
        Previous zone of each household (-1 for new households); re-zoning then moves as few
        households as possible.
    workers : int
        CP-SAT search workers (default 1, deterministic for a given seed; more workers search in
        parallel, and the result may then differ from run to run).
    """

    tolerance: float = 0.05
    seconds: float = 5.0
    seed: int = 0
    min_piece_share: float = 0.10
    unit_locks: Mapping[int, int] = field(default_factory=dict)
    household_locks: Mapping[int, int] = field(default_factory=dict)
    previous: IntArray | None = None
    workers: int = 1

    def __post_init__(self) -> None:
        if not 0.0 <= self.tolerance < 1.0:
            raise ValueError("tolerance must be in [0, 1) (0.05 means ±5%)")
        if not self.seconds > 0:
            raise ValueError("seconds must be > 0")
        if not 0.0 <= self.min_piece_share < 1.0:
            raise ValueError("min_piece_share must be in [0, 1)")
        if self.workers < 1:
            raise ValueError("workers must be >= 1")


@dataclass(frozen=True)
class Split:
    """A natural village or compound shared by several zones, and why."""

    unit: int
    zones: tuple[int, ...]
    forced: bool
    """True when the unit alone exceeds one zone's allowance (its size forces the split);
    False when the split is needed only to meet the balance band."""
    reason: str


@dataclass(frozen=True)
class Zone:
    """One zone: the households and areas of one group, and its workload (minutes)."""

    index: int
    households: IntArray
    units: tuple[int, ...]
    service_min: float
    walk_min: float
    contiguous: bool

    @property
    def workload_min(self) -> float:
        return self.service_min + self.walk_min


@dataclass
class ZoningResult:
    """The zones of one village, or the reasons there are none.

    ``status`` is ``optimal`` or ``feasible`` (zones returned), ``infeasible`` (no zoning meets
    the request; ``reasons`` says why) or ``invalid`` (the request itself is impossible, e.g. more
    groups than households).
    """

    status: str
    assignment: IntArray
    zones: list[Zone]
    splits: list[Split]
    balance: float
    cv: float
    max_deviation: float
    contiguous: bool
    excess_pieces: int
    moved: int
    reasons: list[str]
    solver_status: str
    seconds: float
    params: dict
    objective: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status in ("optimal", "feasible")
