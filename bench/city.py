"""Seeded synthetic city: towns of villages, from one village to a million households.

The city is made of the villages of :func:`bench.synth.make_village` (natural villages as fishbone
lanes, compounds as apartment grids, scattered farms, a winding main road, a depot), laid out as
the product would receive them from a city's GIS office, in the files its importer reads:

* ``villages.gpkg``: one polygon per administrative village (a 150 m buffer around the convex hull
  of its households and roads), ``village_id`` (``C00-T03-V012``: city, town, village), a Chinese
  ``name``, the ``town`` name and the village committee office ``depot_lon``/``depot_lat``;
* ``areas.gpkg``: the natural villages (``kind`` 自然村) and compounds (小区) as polygons (the
  outlines of ``make_village``, cut back along the main road so that no two overlap),
  ``area_id`` (``C00-T03-V012-U04``), Chinese ``name``, ``village_id``;
* ``households.gpkg``: points with ``household_id``, ``head`` (户主), ``address``, ``phone``,
  ``size`` (persons), ``tags`` (``elderly_alone``/``low_income``/``disabled`` on about 20%,
  ``evening_only`` on about 18%; comma-separated, as in the demo), ``village_id`` and ``area_id``
  (blank for the scattered farms, which the importer puts in the village's 散居户 area);
* ``roads.gpkg``: LineStrings with ``road_id``, ``name``, ``highway``;
* ``roster.csv`` (UTF-8 with BOM, the demo roster's columns
  ``编号,姓名,角色,职务,驻点村,电话,居住片区,请假日期``): per village one 驻点领导 and 2g - 1 团队成员
  (g "2+1" groups, one per ``households_per_group`` households) and g 辅助团队成员 living in
  distinct areas of the village (natural villages first); about 5% of the people have leave dates
  in December 2026 or January 2027.

Layout
------
Village sizes are log-normal (as in :func:`bench.synth.make_town`: sigma 0.5, clipped to 0.3-3x the
mean) and sum exactly to the requested households; towns get about ``villages_per_town`` villages
each.  A village has one natural village or compound per ~200 households (more households per unit
in larger villages); larger villages have more compounds.  Each village is turned so that its main
road runs roughly east-west (tilted up to 20 degrees), then the villages of a town are packed in rows
0.5-1.5 km apart (edge to edge, about 3-6 km centre to centre) and the towns of the city in rows
3-6 km apart.  Everything is drawn in metres and projected to WGS 84 (EPSG:4326) from UTM zone 50N
(EPSG:32650), with the city centred near 117 E, 30 N.

Determinism and streaming
-------------------------
The city-wide plan (village sizes, groups, names, town gaps) comes from
``default_rng([seed, 2**32 - 1])``; village ``i`` of town ``t`` is drawn from its own
``default_rng([seed, t, i])``.  :func:`iter_villages` yields one village's layers at a time (its
shape and attributes depend on its own generator only, its position on the bounding boxes of the
villages yielded before it; :func:`make_city_village` draws one alone), so :func:`write_city` writes
a 1,000,000-household city in bounded memory, appending to the GeoPackages every
``flush_households`` households.  :func:`make_city` is the concatenation of :func:`iter_villages`.

Command line::

    python bench/city.py write OUT_DIR --households 1000000 [--seed 0]
    python bench/city.py compare [--households 20000] [--seed 0]

``write`` prints a one-line JSON summary; ``compare`` prints the synthetic city's household density,
households per area, road metres per household, nearest-neighbour distance and households per group
next to the demo's (``data/demo``), computed by the same code from the files on both sides.

What differs from the demo (20,000 households, seed 0): households per area (211 vs 209) and per
group (606 vs 598) match; houses stand closer (median nearest neighbour 12.8 m vs 23.1 m, the
spacing of :func:`bench.synth.make_village`, i.e. of Chinese villages; the demo is Liechtenstein's
buildings) so the settled density is 2.3x and the straight-line spanning tree per household 0.32x
the demo's; and there are far fewer road metres per household (13.7 vs 124: the synthetic network
is the villages' own lanes and streets, with no roads between villages, while the demo carries
every OSM way of the country).  ``spread=1.8`` matches the demo's nearest-neighbour distance.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import pyogrio
import shapely
from pyproj import Transformer

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.synth import SynthVillage, largest_remainder, make_village  # noqa: E402

__all__ = [
    "CityParams",
    "CityPlan",
    "CityVillage",
    "City",
    "plan_city",
    "make_city_village",
    "iter_villages",
    "make_city",
    "write_city",
    "city_stats",
    "compare",
    "ROSTER_HEADER",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

WGS84 = "EPSG:4326"
METRIC_CRS = "EPSG:32650"
"""UTM zone 50N: the city is drawn in its metres (central meridian 117 E)."""
CENTRE_LONLAT = (117.0, 30.0)
"""Where the middle of the city lies (longitude, latitude), roughly."""

ROSTER_HEADER = ["编号", "姓名", "角色", "职务", "驻点村", "电话", "居住片区", "请假日期"]
LAYERS = ("villages", "areas", "households", "roads")

_PLAN_KEY = 2**32 - 1
"""Second seed word of the city-wide plan's generator (no town has this index)."""

UNIT_HOUSEHOLDS = 200.0
"""Households per natural village / compound in a village of :data:`REFERENCE_VILLAGE`
households (the demo has 209 per area); scales with village size to the power 0.35."""
REFERENCE_VILLAGE = 1900.0
MAX_UNITS = 30
VILLAGE_BUFFER_M = 150.0
"""The village polygon is the convex hull of its households and roads, buffered this much (m)."""
VILLAGE_GAP_M = (500.0, 1500.0)
"""Edge-to-edge distance between neighbouring villages' polygons' bounding boxes (metres)."""
TOWN_GAP_M = (3000.0, 6000.0)
"""Edge-to-edge distance between neighbouring towns' bounding boxes (metres)."""
MAX_TILT_DEG = 20.0

# ---------------------------------------------------------------------- names (fictional)

SURNAMES = list("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢")
GIVEN = ["伟", "芳", "敏", "静", "强", "磊", "军", "勇", "艳", "杰", "娟", "涛", "明", "超", "霞", "平", "刚", "桂英",
         "建国", "建华", "志强", "秀英", "丽华", "海燕", "国庆", "红梅", "晓东", "玉兰", "春生", "桂芳", "文军",
         "小红", "德明", "永福", "金花", "淑珍", "长林", "秋菊", "振华", "爱民"]
_VILLAGE_A = list("柳桃杨松竹梅兰荷桂枫槐杏枣桑柏石金银玉龙凤鹤鹿云霞清明新安和永丰太长高大小双三")
_VILLAGE_B = list("塘桥湾河溪岭山坪坝岗湖港庄园林冲垄洲口田埠坡圩渡店铺集井泉源峰台沟")
_VILLAGE_C = list("东西南北上下前后中新")
_TOWN_A = list("青白黄红东西南北中金石龙凤天长平安永太新临双")
_TOWN_B = list("阳沙河桥山湖港口埠店市集溪岭坪田滩源城江")
_NV_SUFFIX = ["家村", "庄", "家湾", "家坝", "家岭", "家塘", "屋", "家冲", "家垄", "家桥", "家洲", "家山"]
_CP_A = ["阳光", "锦绣", "幸福", "和谐", "翠竹", "金桂", "丽景", "康乐", "滨河", "东方", "新城", "嘉和", "富康",
         "安居", "祥和", "怡景", "兴隆", "绿洲", "南苑", "北苑", "春晖", "瑞丰"]
_CP_B = ["花园", "小区", "家园", "新村", "苑", "公寓"]
LEADER_TITLES = ["镇党委副书记", "镇人大主席", "副镇长", "镇纪委书记", "副镇长", "镇党委委员、组织委员", "副镇长",
                 "镇党委委员、宣传委员", "镇党委委员、武装部部长", "镇人大副主席", "镇党委委员、政法委员"]
MEMBER_TITLES = ["镇党政办干部", "镇农业农村办干部", "镇社会事务办干部", "镇综治办干部", "镇财政所干部",
                 "镇规划建设办干部"]
AUX_TITLES = ["村委会委员", "村民小组长", "村党支部委员"]
_KIND_LABEL = {"natural_village": "自然村", "compound": "小区"}

TAG_KINDS = ("elderly_alone", "low_income", "disabled")
TAG_WEIGHTS = (0.5, 0.3, 0.2)
"""Among households with a priority tag (the ~20% of :func:`bench.synth.make_village`): which one
(demo: 523 / 318 / 192 with a single tag); 10% carry a second one."""
SIZE_P = (0.12, 0.26, 0.26, 0.18, 0.12, 0.06)
"""Persons per household 1..6 for households that are not elderly living alone (mean 3.0; the
demo's mean is 2.8)."""
LEAVE_START = date(2026, 12, 1)


def _scrambled_name(k: int, first: list[str], second: list[str], third: list[str], suffix: str) -> str:
    """Name number ``k``: a distinct two-syllable name for each ``k`` below len(first)*len(second),
    then the same names with a third syllable (东, 西, ...), then with a number."""
    n = len(first) * len(second)
    j = (k % n) * 7919 % n  # 7919 is prime and does not divide n: a permutation of 0..n-1
    a, b = divmod(j, len(second))
    extra = ""
    if k >= n:
        r = k // n - 1
        extra = third[r % len(third)] + (str(r // len(third) + 1) if r >= len(third) else "")
    return f"{first[a]}{second[b]}{extra}{suffix}"


def village_name(k: int) -> str:
    """Chinese name of the ``k``-th village of the city (distinct across the city), e.g. 柳塘村."""
    return _scrambled_name(k, _VILLAGE_A, _VILLAGE_B, _VILLAGE_C, "村")


def town_name(t: int) -> str:
    """Chinese name of town ``t`` (distinct across the city), e.g. 青阳镇."""
    return _scrambled_name(t, _TOWN_A, _TOWN_B, _VILLAGE_C, "镇")


# ---------------------------------------------------------------------- plan


@dataclass(frozen=True)
class CityParams:
    """What city to draw.

    Attributes
    ----------
    households : int
        Households in the whole city (hit exactly), at least 1.
    seed : int
        Same seed, same city.
    households_per_village : float
        Mean village size; villages = max(1, round(households / households_per_village)).
        The seed city: about 1,900 (1 million households in 517 villages).
    households_per_group : float
        One "2+1" group per this many households of a village (at least one group); the demo
        has 8,375 households in 14 groups.
    villages_per_town : float
        Mean villages per town (the seed city: 517 villages in 34 towns).
    tag_share : float
        Share of households with a priority tag (elderly living alone, low income, disabled).
    evening_share : float
        Share of households (not elderly living alone) found at home only in the evening.
    leave_share : float
        Share of roster people with leave dates (December 2026 - January 2027).
    spread : float
        Scale of every village's drawing: 1.0 keeps :func:`bench.synth.make_village`'s spacing
        (houses 10-18 m apart along lanes, as in Chinese villages); larger values stretch
        houses, lanes and fields alike (1.8 gives about the demo's nearest-neighbour distance).
    """

    households: int
    seed: int = 0
    households_per_village: float = 1900.0
    households_per_group: float = 600.0
    villages_per_town: float = 15.0
    tag_share: float = 0.2
    evening_share: float = 0.2
    leave_share: float = 0.05
    spread: float = 1.0

    def __post_init__(self) -> None:
        if int(self.households) != self.households or self.households < 1:
            raise ValueError(f"households must be a positive integer, got {self.households!r}")
        if self.seed < 0:
            raise ValueError("seed must be >= 0")
        for name in ("households_per_village", "households_per_group", "villages_per_town", "spread"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0")
        for name in ("tag_share", "evening_share", "leave_share"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name} must be within 0..1")


@dataclass(frozen=True)
class CityPlan:
    """The numbers of the city, drawn before any geometry (small: a few arrays per village).

    Attributes
    ----------
    params : CityParams
    town_of, index_in_town : int arrays (n_villages,)
        Town of each village and its index ``i`` in the town (its generator is
        ``default_rng([seed, t, i])``).
    sizes : int array (n_villages,)
        Households per village; sums to ``params.households``.
    groups : int array (n_villages,)
        "2+1" groups per village.
    rank_in_town : int array (n_villages,)
        0 for the town's largest village (its leader is the party secretary), 1 for the second
        (the town head), ...
    town_gap_m : float array (n_towns,)
        Gap (metres) between a town and the next one in its row.
    """

    params: CityParams
    town_of: IntArray
    index_in_town: IntArray
    sizes: IntArray
    groups: IntArray
    rank_in_town: IntArray
    town_gap_m: FloatArray

    @property
    def n_villages(self) -> int:
        return len(self.sizes)

    @property
    def n_towns(self) -> int:
        return len(self.town_gap_m)

    @property
    def city_code(self) -> str:
        """``C00`` for seed 0 (the seed, at least two digits)."""
        return f"C{self.params.seed:02d}"

    def village_id(self, v: int) -> str:
        """Id of village ``v`` (global index), e.g. ``C00-T03-V012``."""
        return f"{self.city_code}-T{int(self.town_of[v]):02d}-V{int(self.index_in_town[v]):03d}"


def plan_city(households: int, *, seed: int = 0, **kw: float) -> CityPlan:
    """Draw the city's numbers: villages per town, households and groups per village.

    Parameters
    ----------
    households : int
        Households in the city (the village sizes sum to it exactly).
    seed : int
    **kw
        Other :class:`CityParams` fields.

    Returns
    -------
    CityPlan
    """
    p = CityParams(households=int(households), seed=int(seed), **kw)
    rng = np.random.default_rng([p.seed, _PLAN_KEY])
    n_v = max(1, int(round(p.households / p.households_per_village)))
    n_v = min(n_v, p.households)
    mean = p.households / n_v
    raw = np.clip(rng.lognormal(0.0, 0.5, n_v), 0.3, 3.0)
    sizes = largest_remainder(raw, p.households, minimum=min(max(30, int(0.25 * mean)), p.households // n_v))
    n_t = max(1, int(math.ceil(n_v / p.villages_per_town)))
    per_town = largest_remainder(np.clip(rng.lognormal(0.0, 0.3, n_t), 0.5, 2.0), n_v, minimum=1)
    town_of = np.repeat(np.arange(n_t), per_town).astype(np.int64)
    first = np.r_[0, np.cumsum(per_town)[:-1]]
    index_in_town = (np.arange(n_v) - first[town_of]).astype(np.int64)
    groups = np.maximum(1, np.round(sizes / p.households_per_group)).astype(np.int64)
    rank = np.empty(n_v, dtype=np.int64)
    for t in range(n_t):
        mine = np.flatnonzero(town_of == t)
        order = mine[np.lexsort((mine, -sizes[mine]))]
        rank[order] = np.arange(len(order))
    gaps = rng.uniform(*TOWN_GAP_M, n_t)
    return CityPlan(params=p, town_of=town_of, index_in_town=index_in_town, sizes=sizes.astype(np.int64),
                    groups=groups, rank_in_town=rank, town_gap_m=gaps)


# ---------------------------------------------------------------------- one village


@dataclass
class CityVillage:
    """One village's layers, in WGS 84 (what :func:`iter_villages` yields).

    Attributes
    ----------
    index : int
        Global index of the village in the city (0, 1, ...).
    town_index, index_in_town : int
    village_id : str
    n_groups : int
    villages, areas, households, roads : GeoDataFrame (EPSG:4326)
        One row in ``villages``; columns as described in the module docstring.
    roster : DataFrame
        The village's roster rows, columns :data:`ROSTER_HEADER` (all str, blank = "").
    road_m : float
        Length of the village's roads, metres (in UTM 50N, where they are drawn).
    """

    index: int
    town_index: int
    index_in_town: int
    village_id: str
    n_groups: int
    villages: gpd.GeoDataFrame
    areas: gpd.GeoDataFrame
    households: gpd.GeoDataFrame
    roads: gpd.GeoDataFrame
    roster: pd.DataFrame
    road_m: float


@dataclass
class _Drawn:
    """A village drawn in metres, turned, its bounding box's lower-left corner at (0, 0)."""

    synth: SynthVillage
    xy: FloatArray
    roads: npt.NDArray[np.object_]
    polygons: list
    depot: FloatArray
    outline: shapely.Polygon
    width: float
    height: float
    gap: float
    jitter: float


def _road_sides(synth: SynthVillage) -> list:
    """The unit outlines of :func:`bench.synth.make_village`, each cut back to its own side of
    the main road.

    An outline is the buffered convex hull of the unit's households; where the main road bends,
    the hull's chord can cross the road into a unit on the other side (a few overlaps per hundred
    villages).  Every unit lies on one side of the main road, at least ~15 m from it, so cutting
    the outline along the road keeps every household inside and removes the overlaps.
    """
    road = shapely.get_coordinates(synth.roads[0])
    u = road[-1] - road[0]
    u = u / np.hypot(*u)
    normal = np.array([-u[1], u[0]])
    far = 20_000.0
    start, end = road[0] - far * u, road[-1] + far * u
    left = shapely.Polygon(np.vstack([start, road, end, end + far * normal, start + far * normal]))
    out = []
    for k, poly in enumerate(synth.unit_polygons):
        if poly is None:
            out.append(None)
            continue
        pts = synth.xy[synth.unit_of == k]
        on_left = shapely.contains_xy(left, pts[:, 0], pts[:, 1]).mean() >= 0.5
        cut = shapely.intersection(poly, left) if on_left else shapely.difference(poly, left)
        if not shapely.covers(cut, shapely.multipoints(pts)):  # a unit astride the road: keep it whole
            cut = poly
        out.append(cut)
    return out


def _turn(synth: SynthVillage, rng: np.random.Generator, spread: float = 1.0) -> _Drawn:
    """Turn the village so its main road runs east-west (+- :data:`MAX_TILT_DEG`), scale it by
    ``spread``, and put its bounding box's lower-left corner at (0, 0)."""
    main = shapely.get_coordinates(synth.roads[0])
    d = main[-1] - main[0]
    tilt = math.radians(rng.uniform(-MAX_TILT_DEG, MAX_TILT_DEG))
    theta = -math.atan2(d[1], d[0]) + tilt
    rot = spread * np.array([[math.cos(theta), -math.sin(theta)], [math.sin(theta), math.cos(theta)]])

    def turn(c: FloatArray) -> FloatArray:
        return c @ rot.T

    xy = turn(synth.xy)
    roads = shapely.transform(np.asarray(synth.roads, dtype=object), turn)
    polys = [None if g is None else shapely.transform(g, turn) for g in _road_sides(synth)]
    depot = turn(synth.depot_xy[None, :])[0]
    pts = np.vstack([xy, shapely.get_coordinates(roads), depot[None, :]])
    outline = shapely.buffer(shapely.convex_hull(shapely.multipoints(pts)), VILLAGE_BUFFER_M)
    x0, y0, x1, y1 = outline.bounds
    shift = np.array([-x0, -y0])

    def move(c: FloatArray) -> FloatArray:
        return c + shift

    return _Drawn(
        synth=synth, xy=xy + shift, roads=shapely.transform(roads, move),
        polygons=[None if g is None else shapely.transform(g, move) for g in polys],
        depot=depot + shift, outline=shapely.transform(outline, move),
        width=x1 - x0, height=y1 - y0, gap=float(rng.uniform(*VILLAGE_GAP_M)),
        jitter=float(rng.uniform(0.0, 400.0)),
    )


def _draw(plan: CityPlan, v: int) -> tuple[_Drawn, np.random.Generator]:
    """Draw village ``v`` in metres from its own generator; return it and the generator (for the
    attributes drawn after the geometry)."""
    p = plan.params
    t, i = int(plan.town_of[v]), int(plan.index_in_town[v])
    rng = np.random.default_rng([p.seed, t, i])
    n = int(plan.sizes[v])
    mean = p.households / plan.n_villages
    per_unit = UNIT_HOUSEHOLDS * (n / REFERENCE_VILLAGE) ** 0.35 * rng.uniform(0.8, 1.25)
    n_units = int(np.clip(round(n / per_unit), 1, MAX_UNITS))
    p_compound = 0.15 + 0.35 * float(np.clip((n / mean - 1.0) / 2.0, 0.0, 1.0))
    n_compounds = int(rng.binomial(n_units - 1, p_compound)) if n_units > 1 else 0
    synth = make_village(rng, n_households=n, n_units=n_units, n_compounds=n_compounds,
                         n_groups=int(plan.groups[v]), tag_share=p.tag_share, name=plan.village_id(v))
    return _turn(synth, rng, p.spread), rng


def _unit_names(rng: np.random.Generator, kinds: list[str]) -> list[str]:
    """Distinct Chinese names for the units of one village (张家湾, 阳光花园, ...)."""
    nv = [s + x for s in SURNAMES for x in _NV_SUFFIX]
    cp = [a + b for a in _CP_A for b in _CP_B]
    nv_order = rng.permutation(len(nv))
    cp_order = rng.permutation(len(cp))
    out, k_nv, k_cp = [], 0, 0
    for kind in kinds:
        if kind == "natural_village":
            out.append(nv[nv_order[k_nv % len(nv)]] + (str(k_nv // len(nv) + 1) if k_nv >= len(nv) else ""))
            k_nv += 1
        elif kind == "compound":
            out.append(cp[cp_order[k_cp % len(cp)]] + (str(k_cp // len(cp) + 1) if k_cp >= len(cp) else ""))
            k_cp += 1
        else:
            out.append("散居户")
    return out


_TAG_TABLE = np.array([",".join(name for b, name in enumerate(TAG_KINDS + ("evening_only",)) if m >> b & 1)
                       for m in range(16)], dtype=object)


def _household_attrs(rng: np.random.Generator, synth: SynthVillage, p: CityParams,
                     vname: str, unit_names: list[str]) -> dict[str, object]:
    """Tags, size, head, phone and address of each household of a village."""
    n = synth.n
    kind = rng.choice(len(TAG_KINDS), n, p=TAG_WEIGHTS)
    mask = np.where(synth.tags, 1 << kind, 0)
    second = synth.tags & (rng.random(n) < 0.1)
    other = (kind + rng.integers(1, len(TAG_KINDS), n)) % len(TAG_KINDS)
    mask = mask | np.where(second, 1 << other, 0)
    elderly = (mask & 1).astype(bool)
    evening = (rng.random(n) < p.evening_share) & ~elderly
    mask = mask | np.where(evening, 8, 0)
    size = np.where(elderly, 1, rng.choice(np.arange(1, 7), n, p=SIZE_P)).astype(np.int32)
    heads = np.char.add(np.asarray(SURNAMES)[rng.integers(len(SURNAMES), size=n)],
                        np.asarray(GIVEN)[rng.integers(len(GIVEN), size=n)]).tolist()
    phones = [f"100{x:08d}" for x in rng.integers(0, 10**8, n).tolist()]
    unit_of = synth.unit_of
    first = np.searchsorted(unit_of, np.arange(len(synth.unit_ids)))
    number = (np.arange(n) - first[unit_of] + 1).tolist()
    uname = [unit_names[u] for u in unit_of.tolist()]
    address = [f"{vname}{u}{k}号" for u, k in zip(uname, number)]
    return {"tags": _TAG_TABLE[mask].tolist(), "size": size, "head": heads, "phone": phones, "address": address}


def _leave_cell(rng: np.random.Generator) -> str:
    start = LEAVE_START + timedelta(days=int(rng.integers(0, 56)))
    days = int(rng.integers(1, 6))
    if days == 1:
        return start.isoformat()
    return f"{start.isoformat()}~{(start + timedelta(days=days - 1)).isoformat()}"


def _roster(rng: np.random.Generator, plan: CityPlan, v: int, synth: SynthVillage) -> pd.DataFrame:
    """The roster rows of village ``v``: 1 leader, 2g - 1 members, g auxiliaries."""
    vid = plan.village_id(v)
    g = int(plan.groups[v])
    rank = int(plan.rank_in_town[v])
    leader_title = ("镇党委书记" if rank == 0 else "镇长" if rank == 1
                    else LEADER_TITLES[(rank - 2 + int(plan.town_of[v])) % len(LEADER_TITLES)])
    roles = [("驻点领导", leader_title)]
    roles += [("团队成员", MEMBER_TITLES[int(k)]) for k in rng.integers(len(MEMBER_TITLES), size=2 * g - 1)]
    roles += [("辅助团队成员", AUX_TITLES[int(k)]) for k in rng.integers(len(AUX_TITLES), size=g)]
    natural = [u for u, k in zip(synth.unit_ids, synth.unit_kinds) if k == "natural_village"]
    compounds = [u for u, k in zip(synth.unit_ids, synth.unit_kinds) if k == "compound"]
    homes = ([natural[j] for j in rng.permutation(len(natural))]
             + [compounds[j] for j in rng.permutation(len(compounds))])
    pool = len(SURNAMES) * len(GIVEN)
    picks = rng.choice(pool, size=len(roles), replace=False)
    leave = rng.random(len(roles)) < plan.params.leave_share
    rows = []
    n_aux = 0
    for k, ((role, title), pick, away) in enumerate(zip(roles, picks.tolist(), leave.tolist())):
        home = ""
        if role == "辅助团队成员":
            home = homes[n_aux % len(homes)] if homes else ""
            n_aux += 1
        s, gv = divmod(pick, len(GIVEN))
        rows.append([f"{vid}-P{k + 1:02d}", SURNAMES[s] + GIVEN[gv], role, title, vid,
                     f"100{v:05d}{k + 1:03d}", home, _leave_cell(rng) if away else ""])
    return pd.DataFrame(rows, columns=ROSTER_HEADER, dtype=object)


def _highways(roads: npt.NDArray[np.object_]) -> list[str]:
    """``tertiary`` for the main road (first line), ``residential`` for the lines that leave it
    (village streets, compound access roads, farm driveways), ``service`` for the lanes."""
    main = roads[0]
    ends = np.c_[shapely.get_point(roads, 0), shapely.get_point(roads, -1)]
    touch = (shapely.distance(ends, main) < 1.0).any(axis=1)
    out = np.where(touch, "residential", "service").astype(object)
    out[0] = "tertiary"
    return out.tolist()


def _frames(plan: CityPlan, v: int, drawn: _Drawn, rng: np.random.Generator, offset: FloatArray,
            to_wgs: Transformer) -> CityVillage:
    """The WGS 84 layers of a drawn village placed at ``offset`` (city metres, UTM 50N)."""
    p = plan.params
    synth = drawn.synth
    vid = plan.village_id(v)
    t = int(plan.town_of[v])
    vname = village_name(v)

    def project(c: FloatArray) -> FloatArray:
        x, y = to_wgs.transform(c[:, 0] + offset[0], c[:, 1] + offset[1])
        return np.c_[x, y]

    unit_names = _unit_names(rng, synth.unit_kinds)
    attrs = _household_attrs(rng, synth, p, vname, unit_names)
    roster = _roster(rng, plan, v, synth)

    depot = project(drawn.depot[None, :])[0]
    villages = gpd.GeoDataFrame(
        {"village_id": [vid], "name": [vname], "town": [town_name(t)],
         "depot_lon": [float(depot[0])], "depot_lat": [float(depot[1])]},
        geometry=[shapely.transform(drawn.outline, project)], crs=WGS84)
    real = [u for u, k in enumerate(synth.unit_kinds) if k != "scattered"]
    areas = gpd.GeoDataFrame(
        {"area_id": [synth.unit_ids[u] for u in real], "name": [unit_names[u] for u in real],
         "kind": [_KIND_LABEL[synth.unit_kinds[u]] for u in real], "village_id": [vid] * len(real)},
        geometry=shapely.transform(np.asarray([drawn.polygons[u] for u in real], dtype=object), project),
        crs=WGS84)
    scattered = np.array([k == "scattered" for k in synth.unit_kinds])
    unit_id = np.asarray(synth.unit_ids, dtype=object)
    area_id = np.where(scattered[synth.unit_of], None, unit_id[synth.unit_of])
    lonlat = project(drawn.xy)
    households = gpd.GeoDataFrame(
        {"household_id": synth.household_ids, "head": attrs["head"], "address": attrs["address"],
         "phone": attrs["phone"], "size": attrs["size"], "tags": attrs["tags"],
         "village_id": [vid] * synth.n, "area_id": area_id.tolist()},
        geometry=gpd.points_from_xy(lonlat[:, 0], lonlat[:, 1]), crs=WGS84)
    names: list[str | None] = [None] * len(drawn.roads)
    names[0] = f"{vname}主路"
    roads = gpd.GeoDataFrame(
        {"road_id": [f"{vid}-R{k:04d}" for k in range(len(drawn.roads))], "name": names,
         "highway": _highways(drawn.roads)},
        geometry=shapely.transform(drawn.roads, project), crs=WGS84)
    return CityVillage(index=v, town_index=t, index_in_town=int(plan.index_in_town[v]), village_id=vid,
                       n_groups=int(plan.groups[v]), villages=villages, areas=areas, households=households,
                       roads=roads, roster=roster, road_m=float(shapely.length(drawn.roads).sum()))


def make_city_village(plan: CityPlan, v: int, offset: tuple[float, float] = (0.0, 0.0)) -> CityVillage:
    """Village ``v`` of a plan on its own, its bounding box's lower-left corner at ``offset``
    (metres east and north of the city's corner).

    The shapes and attributes are those :func:`iter_villages` gives the village; only the place
    differs (there it follows from the villages before it).
    """
    drawn, rng = _draw(plan, v)
    return _frames(plan, v, drawn, rng, np.asarray(offset, dtype=np.float64) + _city_origin(plan), _to_wgs())


def _to_wgs() -> Transformer:
    return Transformer.from_crs(METRIC_CRS, WGS84, always_xy=True)


def _city_origin(plan: CityPlan) -> FloatArray:
    """UTM 50N coordinates of the city's lower-left corner: the city's estimated middle at
    :data:`CENTRE_LONLAT` (estimate: villages about 3.5 km x 1.5 km with 1 km gaps, towns 4.5 km
    apart, both in square-ish rows)."""
    x, y = Transformer.from_crs(WGS84, METRIC_CRS, always_xy=True).transform(*CENTRE_LONLAT)
    side_towns = math.ceil(math.sqrt(plan.n_towns))
    side_villages = math.ceil(math.sqrt(plan.n_villages / plan.n_towns))
    s = plan.params.spread
    half_x = side_towns * (side_villages * (3500.0 * s + 1000.0) + 4500.0) / 2
    half_y = side_towns * (side_villages * (1500.0 * s + 1000.0) + 4500.0) / 2
    return np.array([x - half_x, y - half_y])


# ---------------------------------------------------------------------- the city


def iter_villages(households: int, *, seed: int = 0, plan: CityPlan | None = None,
                  **kw: float) -> Iterator[CityVillage]:
    """Yield the city's villages one at a time, town by town (bounded memory).

    Villages of a town are packed in rows (``ceil(sqrt(villages in town))`` per row) with
    0.5-1.5 km between their bounding boxes; towns likewise, 3-6 km apart.  A village's place
    depends only on the villages yielded before it.

    Parameters
    ----------
    households : int
        Households in the city.
    seed : int
    plan : CityPlan, optional
        A plan from :func:`plan_city` (then ``households``, ``seed`` and ``kw`` must match it or
        be left at their defaults; the plan wins).
    **kw
        Other :class:`CityParams` fields (``households_per_village``, ``households_per_group``,
        ``villages_per_town``, ``tag_share``, ``evening_share``, ``leave_share``, ``spread``).

    Yields
    ------
    CityVillage
    """
    plan = plan or plan_city(households, seed=seed, **kw)
    origin = _city_origin(plan)
    to_wgs = _to_wgs()
    towns_per_row = max(1, math.ceil(math.sqrt(plan.n_towns)))
    tx, ty, t_row_top = 0.0, 0.0, 0.0
    v = 0
    for t in range(plan.n_towns):
        if t and t % towns_per_row == 0:
            tx, ty = 0.0, t_row_top + plan.town_gap_m[t - 1]
        mine = np.flatnonzero(plan.town_of == t)
        per_row = max(1, math.ceil(math.sqrt(len(mine))))
        vx, vy, v_row_top, town_w = 0.0, 0.0, 0.0, 0.0
        last_gap = 0.0
        for k, v in enumerate(mine.tolist()):
            drawn, rng = _draw(plan, v)
            if k and k % per_row == 0:
                vx, vy = 0.0, v_row_top + last_gap
            y = vy + drawn.jitter
            at = origin + np.array([tx + vx, ty + y])
            yield _frames(plan, v, drawn, rng, at, to_wgs)
            town_w = max(town_w, vx + drawn.width)
            v_row_top = max(v_row_top, y + drawn.height)
            vx += drawn.width + drawn.gap
            last_gap = drawn.gap
        t_row_top = max(t_row_top, ty + v_row_top)
        tx += town_w + plan.town_gap_m[t]


@dataclass
class City:
    """A whole synthetic city in memory (WGS 84 GeoDataFrames; see the module docstring).

    Attributes
    ----------
    plan : CityPlan
    villages, areas, households, roads : GeoDataFrame (EPSG:4326)
    roster : DataFrame
        Columns :data:`ROSTER_HEADER`.
    """

    plan: CityPlan
    villages: gpd.GeoDataFrame
    areas: gpd.GeoDataFrame
    households: gpd.GeoDataFrame
    roads: gpd.GeoDataFrame
    roster: pd.DataFrame

    @property
    def n_groups(self) -> int:
        return int(self.plan.groups.sum())

    def summary(self) -> dict:
        """Towns, villages, areas, households, groups, people and road kilometres."""
        roads_km = float(self.roads.to_crs(METRIC_CRS).length.sum()) / 1000.0 if len(self.roads) else 0.0
        return {"towns": self.plan.n_towns, "villages": len(self.villages), "areas": len(self.areas),
                "households": len(self.households), "groups": self.n_groups, "people": len(self.roster),
                "road_km": round(roads_km, 1)}


def _concat(frames: list[pd.DataFrame]) -> pd.DataFrame:
    out = pd.concat(frames, ignore_index=True)
    return gpd.GeoDataFrame(out, geometry="geometry", crs=WGS84) if isinstance(frames[0], gpd.GeoDataFrame) else out


def make_city(households: int, *, seed: int = 0, **kw: float) -> City:
    """The whole city in memory: :func:`iter_villages` concatenated.

    Parameters
    ----------
    households : int
        Households in the city, 1 to a few million (memory grows with it; use
        :func:`write_city` for a million).
    seed : int
    **kw
        Other :class:`CityParams` fields: ``households_per_village`` (1,900),
        ``households_per_group`` (600), ``villages_per_town`` (15), ``tag_share`` (0.2),
        ``evening_share`` (0.2), ``leave_share`` (0.05), ``spread`` (1.0).

    Returns
    -------
    City
    """
    plan = plan_city(households, seed=seed, **kw)
    parts: dict[str, list] = {k: [] for k in (*LAYERS, "roster")}
    for cv in iter_villages(households, plan=plan):
        for k in parts:
            parts[k].append(getattr(cv, k))
    return City(plan=plan, **{k: _concat(v) for k, v in parts.items()})


def write_city(out_dir: str | Path, households: int, seed: int = 0, *, flush_households: int = 100_000,
               progress: bool = False, **kw: float) -> dict:
    """Write a city to ``villages.gpkg``, ``areas.gpkg``, ``households.gpkg``, ``roads.gpkg``
    (EPSG:4326, one layer each, named after the file) and ``roster.csv`` (UTF-8 with BOM).

    Villages are generated one at a time and appended to the files every ``flush_households``
    households, so memory stays bounded whatever the city's size.  Existing files of these names
    in ``out_dir`` are replaced.

    Parameters
    ----------
    out_dir : str or Path
        Created if missing.
    households : int
    seed : int
    flush_households : int
        Households buffered between two appends.
    progress : bool
        Print a line per flush to stderr.
    **kw
        Other :class:`CityParams` fields.

    Returns
    -------
    dict
        ``towns``, ``villages``, ``areas``, ``households``, ``groups``, ``people``, ``road_km``,
        ``seconds`` (wall time), ``bytes`` (the five files), ``out``.
    """
    t0 = time.perf_counter()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {k: out / f"{k}.gpkg" for k in LAYERS}
    for path in paths.values():
        for extra in ("", "-journal", "-wal", "-shm"):
            Path(f"{path}{extra}").unlink(missing_ok=True)
    plan = plan_city(households, seed=seed, **kw)
    counts = {"villages": 0, "areas": 0, "households": 0, "people": 0}
    road_m = 0.0
    written = {k: False for k in LAYERS}
    buf: dict[str, list] = {k: [] for k in LAYERS}
    pending = 0

    def flush() -> None:
        nonlocal pending
        if not any(buf.values()):
            return
        for k in LAYERS:
            if buf[k]:
                frame = _concat(buf[k])
                pyogrio.write_dataframe(frame, paths[k], layer=k, driver="GPKG", append=written[k])
                written[k] = True
                buf[k].clear()
        if progress:
            print(f"  {counts['households']:,} households, {counts['villages']} villages, "
                  f"{time.perf_counter() - t0:.0f} s", file=sys.stderr)
        pending = 0

    with open(out / "roster.csv", "w", encoding="utf-8-sig", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(ROSTER_HEADER)
        for cv in iter_villages(households, plan=plan):
            for k in LAYERS:
                buf[k].append(getattr(cv, k))
            w.writerows(cv.roster.itertuples(index=False, name=None))
            counts["villages"] += 1
            counts["areas"] += len(cv.areas)
            counts["households"] += len(cv.households)
            counts["people"] += len(cv.roster)
            road_m += cv.road_m
            pending += len(cv.households)
            if pending >= flush_households:
                flush()
        flush()
    files = [*paths.values(), out / "roster.csv"]
    return {"towns": plan.n_towns, **{k: counts[k] for k in ("villages", "areas", "households")},
            "groups": int(plan.groups.sum()), "people": counts["people"], "road_km": round(road_m / 1000, 1),
            "seconds": round(time.perf_counter() - t0, 1), "bytes": sum(f.stat().st_size for f in files),
            "out": str(out)}


# ---------------------------------------------------------------------- comparison with the demo


def cached_city(households: int, seed: int = 0, folder: str | Path | None = None) -> Path:
    """The folder of a city's files (default ``out/bench/city-<households>-<seed>``), written by
    :func:`write_city` only when its ``households.gpkg`` is missing (benchmarks reuse it)."""
    folder = Path(folder) if folder is not None else ROOT / "out" / "bench" / f"city-{households}-{seed}"
    if not (folder / "households.gpkg").exists():
        t0 = time.perf_counter()
        write_city(folder, households, seed=seed)
        print(f"city: {households} households written to {folder} in {time.perf_counter() - t0:.0f} s",
              file=sys.stderr)
    return folder


def count_groups(roster_csv: str | Path) -> dict:
    """Groups the product forms from a roster file (:func:`geo.roster.read_roster`, then
    :func:`planner.groups.form_groups` per village).

    Returns
    -------
    dict
        ``groups`` (all), ``regular`` ("2+1" groups), ``villages`` (with at least one group).
    """
    from geo.roster import members_by_village, read_roster
    from planner.groups import form_groups, people_from_records

    layer = read_roster(roster_csv)
    groups = regular = villages = 0
    for vid, recs in members_by_village(layer).items():
        plan = form_groups(people_from_records(recs), village_id=vid)
        groups += plan.n_groups
        regular += plan.n_groups - len(plan.irregular)
        villages += plan.n_groups > 0
    return {"groups": groups, "regular": regular, "villages": villages}


def mst_length(xy: FloatArray) -> float:
    """Length (metres) of the straight-line minimum spanning tree of points (metres).

    A lower bound for the walk that visits them all (a round trip is at most twice it, and
    usually about 1.1-1.3 times on clustered points).
    """
    from scipy.sparse import coo_array
    from scipy.sparse.csgraph import minimum_spanning_tree
    from scipy.spatial import Delaunay, QhullError

    pts = np.unique(np.round(np.asarray(xy, dtype=np.float64), 2), axis=0)
    n = len(pts)
    if n < 2:
        return 0.0
    if n == 2:
        return float(np.hypot(*(pts[1] - pts[0])))
    pts = pts - pts.mean(axis=0)  # small coordinates: less round-off in qhull
    try:
        s = Delaunay(pts).simplices
        e = np.unique(np.sort(np.concatenate([s[:, [0, 1]], s[:, [1, 2]], s[:, [0, 2]]]), axis=1), axis=0)
    except (QhullError, ValueError):  # all on one line: the tree is the path along it
        o = np.lexsort(pts.T[::-1])
        e = np.c_[o[:-1], o[1:]]
    w = np.hypot(*(pts[e[:, 0]] - pts[e[:, 1]]).T) + 1e-9  # > 0: a zero would be no edge
    tree = minimum_spanning_tree(coo_array((w, (e[:, 0], e[:, 1])), shape=(n, n)).tocsr())
    return float(tree.sum())


def city_stats(folder: str | Path) -> dict[str, float]:
    """Density and spacing figures of a folder with ``villages/areas/households/roads.gpkg`` and
    ``roster.csv`` (the demo's layout), computed in the UTM zone of the households.

    Returns
    -------
    dict
        ``households``, ``villages``, ``areas``, ``groups``; ``households_per_village``;
        ``households_per_area`` (areas with an outline); ``settled_km2`` (union of the areas);
        ``in_areas_share``; ``density_per_km2`` (households inside the areas / settled km²);
        ``compound_share`` (of the households inside areas, those in compounds);
        ``road_m_per_household`` (all roads); ``settled_road_m_per_household`` (road metres
        within 50 m of the areas); ``nn_median_m`` and ``nn_p90_m`` (distance from a household to
        the nearest other household, metres); ``mst_m_per_household`` (straight-line minimum
        spanning tree of each village's households, summed, per household: a proxy for route
        metres per visit); ``households_per_group``; ``tagged_share``
        (elderly living alone / low income / disabled); ``evening_share``; ``mean_size``.
    """
    from scipy.spatial import cKDTree

    from geo.columns import HOUSEHOLD_FIELDS, match_columns, parse_kind, parse_tags

    folder = Path(folder)
    hh = pyogrio.read_dataframe(folder / "households.gpkg")
    areas = pyogrio.read_dataframe(folder / "areas.gpkg")
    roads = pyogrio.read_dataframe(folder / "roads.gpkg", columns=[])
    villages = pyogrio.read_dataframe(folder / "villages.gpkg", read_geometry=False)
    crs = hh.estimate_utm_crs()
    hh, areas, roads = hh.to_crs(crs), areas.to_crs(crs), roads.to_crs(crs)
    cols = match_columns(hh.columns, HOUSEHOLD_FIELDS)
    n = len(hh)
    settled = shapely.union_all(areas.geometry.values)
    hx, hy = hh.geometry.x.to_numpy(), hh.geometry.y.to_numpy()
    inside = shapely.contains_xy(settled, hx, hy)
    kinds = [parse_kind(k) for k in areas["kind"]]
    compounds = shapely.union_all(areas.geometry.values[[k == "compound" for k in kinds]])
    in_compound = shapely.contains_xy(compounds, hx, hy) if not compounds.is_empty else np.zeros(n, bool)
    xy = np.c_[hx, hy]
    nn = cKDTree(xy).query(xy, k=2)[0][:, 1]
    vcol = cols.get("village_id")
    by_village = hh.groupby(hh[vcol].astype(str)).indices if vcol else {"": np.arange(n)}
    mst_m = sum(mst_length(xy[idx]) for idx in by_village.values())
    road_len = shapely.length(roads.geometry.values)
    near = shapely.intersection(roads.geometry.values, shapely.buffer(settled, 50.0))
    tags = [parse_tags(t) for t in hh[cols["tags"]]] if "tags" in cols else [[] for _ in range(n)]
    sizes = pd.to_numeric(hh[cols["size"]], errors="coerce") if "size" in cols else pd.Series(np.nan, index=hh.index)
    g = count_groups(folder / "roster.csv")
    return {
        "households": n,
        "villages": len(villages),
        "areas": len(areas),
        "groups": g["groups"],
        "households_per_village": n / len(villages),
        "households_per_area": n / len(areas),
        "settled_km2": settled.area / 1e6,
        "in_areas_share": float(inside.mean()),
        "density_per_km2": float(inside.sum()) / (settled.area / 1e6),
        "compound_share": float(in_compound.sum()) / max(1, int(inside.sum())),
        "road_m_per_household": float(road_len.sum()) / n,
        "settled_road_m_per_household": float(shapely.length(near).sum()) / n,
        "nn_median_m": float(np.median(nn)),
        "nn_p90_m": float(np.percentile(nn, 90)),
        "mst_m_per_household": mst_m / n,
        "households_per_group": n / max(1, g["groups"]),
        "tagged_share": float(np.mean([any(t in ("elderly_alone", "low_income", "disabled") for t in ts)
                                       for ts in tags])),
        "evening_share": float(np.mean(["evening_only" in ts for ts in tags])),
        "mean_size": float(sizes.mean()),
    }


_ROWS = [
    ("households_per_km2_settled", "density_per_km2", "households per km² of settled area (inside areas)", 0),
    ("households_per_area", "households_per_area", "households per area (natural village / compound)", 0),
    ("road_m_per_household", "road_m_per_household", "road metres per household (all roads in the file)", 1),
    ("settled_road_m_per_household", "settled_road_m_per_household",
     "road metres per household within 50 m of the areas", 1),
    ("nn_median_m", "nn_median_m", "median distance to the nearest other household (m)", 1),
    ("mst_m_per_household", "mst_m_per_household",
     "straight-line spanning-tree metres per household (per village; route-length proxy)", 1),
    ("households_per_group", "households_per_group", "households per group (roster, product's 2+1 rules)", 0),
    ("nn_p90_m", "nn_p90_m", "90th percentile distance to the nearest household (m)", 1),
    ("households_per_village", "households_per_village", "households per village", 0),
    ("in_areas_share", "in_areas_share", "share of households inside an area", 3),
    ("compound_share", "compound_share", "share of households (inside areas) in compounds", 3),
    ("tagged_share", "tagged_share", "share with elderly_alone / low_income / disabled", 3),
    ("evening_share", "evening_share", "share evening_only", 3),
    ("mean_size", "mean_size", "persons per household", 2),
]


def compare(households: int = 20_000, *, seed: int = 0, demo: str | Path = ROOT / "data" / "demo",
            **kw: float) -> dict:
    """The synthetic city next to the demo, figures from :func:`city_stats` on both sides.

    The synthetic city is written with :func:`write_city` to a temporary folder first, so both
    sides are measured from the files the importer would read.

    Returns
    -------
    dict
        ``demo`` and ``synthetic`` (the :func:`city_stats` dicts), ``rows`` (key, label, demo,
        synthetic, synthetic / demo), ``synthetic_summary`` (from :func:`write_city`).
    """
    with tempfile.TemporaryDirectory(prefix="city-") as tmp:
        summary = write_city(tmp, households, seed, **kw)
        synth = city_stats(tmp)
    ref = city_stats(demo)
    rows = []
    for key, stat, label, digits in _ROWS:
        a, b = ref[stat], synth[stat]
        rows.append({"key": key, "label": label, "demo": round(a, digits), "synthetic": round(b, digits),
                     "ratio": round(b / a, 2) if a else None})
    return {"demo": ref, "synthetic": synth, "rows": rows, "synthetic_summary": summary}


def format_table(result: dict) -> str:
    """The rows of :func:`compare` as a Markdown table."""
    d, s = result["demo"], result["synthetic"]
    lines = [f"demo: {d['households']:,} households, {d['villages']} villages, {d['areas']} areas, "
             f"{d['groups']} groups; synthetic: {s['households']:,} households, {s['villages']} villages, "
             f"{s['areas']} areas, {s['groups']} groups",
             "",
             "| measure | demo | synthetic | synthetic / demo |",
             "|---|---:|---:|---:|"]
    for r in result["rows"]:
        lines.append(f"| {r['label']} | {r['demo']:,} | {r['synthetic']:,} | "
                     f"{'' if r['ratio'] is None else r['ratio']} |")
    return "\n".join(lines)


# ---------------------------------------------------------------------- command line


def _add_params(ap: argparse.ArgumentParser, households: int | None) -> None:
    ap.add_argument("--households", type=int, required=households is None, default=households,
                    help="households in the city")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--households-per-village", type=float, default=1900.0)
    ap.add_argument("--households-per-group", type=float, default=600.0)
    ap.add_argument("--villages-per-town", type=float, default=15.0)
    ap.add_argument("--spread", type=float, default=1.0,
                    help="scale of each village's drawing (1.8: about the demo's house spacing)")


def _params(args: argparse.Namespace) -> dict:
    return {"households_per_village": args.households_per_village,
            "households_per_group": args.households_per_group,
            "villages_per_town": args.villages_per_town, "spread": args.spread}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    w = sub.add_parser("write", help="write the city's GeoPackages and roster.csv to a folder")
    w.add_argument("out", type=Path)
    _add_params(w, None)
    w.add_argument("--flush", type=int, default=100_000, help="households between two appends")
    w.add_argument("--progress", action="store_true")
    c = sub.add_parser("compare", help="compare a synthetic city with the demo (data/demo)")
    _add_params(c, 20_000)
    c.add_argument("--demo", type=Path, default=ROOT / "data" / "demo")
    c.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = ap.parse_args(argv)
    if args.cmd == "write":
        summary = write_city(args.out, args.households, args.seed, flush_households=args.flush,
                             progress=args.progress, **_params(args))
        print(json.dumps(summary, ensure_ascii=False))
    else:
        result = compare(args.households, seed=args.seed, demo=args.demo, **_params(args))
        if args.json:
            print(json.dumps(result, ensure_ascii=False, indent=1))
        else:
            print(format_table(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
