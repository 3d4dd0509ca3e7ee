"""Put layers read from several files together: villages, areas, households.

* Every area gets its administrative village: from its village column, else the village polygon
  that holds it, else the one village named after the file (said in a warning).
* Overlaps between areas are resolved deterministically: the smaller area keeps the shared part
  (a compound drawn inside a natural village is cut out of it), ties broken by id; every overlap is
  reported.
* Every household gets an area: the one its file names, else the polygon that holds it, else the
  nearest area of its village within ``attach_distance_m``, else its village's scattered-households
  area (散居户).  Households whose village cannot be told are returned as unplaced, with a reason.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo import crs as gcrs
from geo._shapes import polygonal
from geo.errors import Collector
from geo.layers import AREA_COLUMNS, HOUSEHOLD_COLUMNS, VILLAGE_COLUMNS, WGS84, scattered_area_id
from geo.read import Layer

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PlacementParams:
    """How households are placed in areas.

    Attributes
    ----------
    attach_distance_m : float
        A household outside every area joins the nearest area of its village within this
        distance (metres); farther ones go to the village's scattered-households area.
    min_overlap_m2 : float
        Overlaps smaller than this (square metres) are resolved silently (digitising slivers).
    """

    attach_distance_m: float = 100.0
    min_overlap_m2: float = 1.0

    def __post_init__(self) -> None:
        if not self.attach_distance_m >= 0:
            raise ValueError("attach_distance_m must be >= 0 (metres)")


@dataclass
class Assembled:
    """Layers ready for the store, plus what happened on the way.

    ``villages``/``areas``/``households`` hold the records this import writes (None when the
    layer is not touched); ``unplaced`` the households that could not be placed, with a
    ``reason`` column.
    """

    villages: gpd.GeoDataFrame | None
    areas: gpd.GeoDataFrame | None
    households: gpd.GeoDataFrame | None
    unplaced: gpd.GeoDataFrame
    warnings: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)


def _empty(columns: list[str]) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({c: [] for c in columns if c != "geometry"}, geometry=[], crs=WGS84)


def _metric(gs: gpd.GeoSeries, crs) -> gpd.GeoSeries:
    return gs.to_crs(crs)


def _concat(frames: list[gpd.GeoDataFrame], columns: list[str]) -> gpd.GeoDataFrame:
    frames = [f for f in frames if f is not None and len(f)]
    if not frames:
        return _empty(columns)
    out = pd.concat([f[columns] for f in frames], ignore_index=True)
    return gpd.GeoDataFrame(out, geometry="geometry", crs=WGS84)


def assemble(
    *,
    villages: Layer | None = None,
    areas: Layer | None = None,
    households: Layer | None = None,
    known_villages: gpd.GeoDataFrame | None = None,
    known_areas: gpd.GeoDataFrame | None = None,
    params: PlacementParams = PlacementParams(),
) -> Assembled:
    """Combine freshly read layers with what the store already holds.

    Parameters
    ----------
    villages, areas, households : Layer, optional
        Layers read in this import.
    known_villages, known_areas : GeoDataFrame, optional
        Villages and areas already in the store, used to place households and areas of a partial
        import.  Records of this import replace known records with the same id.
    params : PlacementParams
        Placement distances.

    Returns
    -------
    Assembled

    Raises
    ------
    geo.errors.InputError
        When households and areas do not overlap at all (usually a coordinate-system mix-up).
    """
    warnings: list[str] = []
    for layer in (villages, areas, households):
        if layer is not None:
            warnings.extend(layer.warnings)
    counts: dict[str, int] = {}

    new_villages = villages.frame.copy() if villages is not None else None
    v_known = known_villages if known_villages is not None else _empty(VILLAGE_COLUMNS)
    if new_villages is not None:
        v_known = v_known[~v_known["village_id"].isin(new_villages["village_id"])]
    all_villages = _concat([new_villages, v_known], VILLAGE_COLUMNS)
    touched_villages: dict[str, dict] = {}  # villages created or changed by this import

    stored_village_ids = set(all_villages["village_id"].tolist())

    def ensure_village(vid: str, name: str | None = None) -> None:
        if vid in stored_village_ids or vid in touched_villages:
            return
        touched_villages[vid] = {"village_id": vid, "name": name or vid, "town": None,
                                 "depot_lon": math.nan, "depot_lat": math.nan, "attrs": {},
                                 "geometry": None}

    # metric CRS from whatever data we have
    pts = []
    for layer in (areas, households, villages):
        if layer is not None and len(layer.frame):
            b = layer.frame.total_bounds
            pts.append(((b[0] + b[2]) / 2, (b[1] + b[3]) / 2))
    if not pts and len(all_villages):
        b = all_villages.total_bounds
        pts.append(((b[0] + b[2]) / 2, (b[1] + b[3]) / 2))
    metric = gcrs.utm_crs(np.array([pts[0][0]]), np.array([pts[0][1]])) if pts else None

    vpoly = all_villages[all_villages.geometry.notna() & ~all_villages.geometry.is_empty] if len(all_villages) else all_villages

    # ---- areas -------------------------------------------------------------------------------
    new_areas = None
    if areas is not None:
        new_areas = areas.frame.copy()
        missing = new_areas["village_id"].isna()
        if missing.any() and len(vpoly):
            rp = gpd.GeoSeries(new_areas.loc[missing].geometry.representative_point(), crs=WGS84)
            joined = gpd.sjoin(gpd.GeoDataFrame(geometry=rp), vpoly[["village_id", "geometry"]],
                               how="left", predicate="within")
            joined = joined[~joined.index.duplicated(keep="first")]
            found = joined["village_id"]
            new_areas.loc[found.index[found.notna()], "village_id"] = found[found.notna()]
            still = new_areas["village_id"].isna()
            if still.any():
                # outside every village polygon: nearest village, with a warning
                am = _metric(new_areas.loc[still].geometry, metric)
                vm = _metric(vpoly.geometry, metric)
                for idx, g in am.items():
                    d = vm.distance(g)
                    j = int(np.argmin(d.values))
                    vid = vpoly["village_id"].iloc[j]
                    new_areas.at[idx, "village_id"] = vid
                    warnings.append(f"{areas.file}: 片区 {new_areas.at[idx, 'area_id']} 不在任何行政村范围内, "
                                    f"归入最近的行政村 {vid} (相距 {d.iloc[j]:.0f} 米)")
        elif missing.any():
            if len(all_villages) == 1:
                vid = all_villages["village_id"].iloc[0]
            else:
                stem = _stem(areas.file)
                vid = stem
                ensure_village(vid, stem)
                warnings.append(f"{areas.file}: 没有行政村图层或行政村列, 全部片区归入一个行政村 “{stem}” (编号 {vid}); "
                                f"用 --villages 提供行政村边界, 或在片区文件中加“行政村”列")
            new_areas.loc[missing, "village_id"] = vid
        for vid in sorted(set(new_areas["village_id"].tolist())):
            ensure_village(vid)
        new_areas = _resolve_overlaps(new_areas, metric, params, areas.file, warnings)
        counts["areas"] = len(new_areas)

    a_known = known_areas if known_areas is not None else _empty(AREA_COLUMNS)
    if new_areas is not None:
        a_known = a_known[~a_known["area_id"].isin(new_areas["area_id"])]
    all_areas = _concat([new_areas, a_known], AREA_COLUMNS)

    # ---- households --------------------------------------------------------------------------
    placed = None
    unplaced = _empty(HOUSEHOLD_COLUMNS + ["reason"])
    new_scattered: dict[str, dict] = {}
    if households is not None:
        placed, unplaced, new_scattered = _place_households(
            households, all_areas, all_villages, touched_villages, metric, params, warnings, counts
        )
        for vid in set(placed["village_id"].tolist()):
            ensure_village(vid)

    # areas written by this import: new ones + scattered areas created now
    out_areas = new_areas
    if new_scattered:
        sc = gpd.GeoDataFrame(list(new_scattered.values()), geometry="geometry", crs=WGS84)
        out_areas = _concat([out_areas, sc], AREA_COLUMNS)

    # villages written: the new layer + villages created from ids + depots estimated now
    out_villages = new_villages
    if touched_villages:
        tv = gpd.GeoDataFrame(list(touched_villages.values()), geometry="geometry", crs=WGS84)
        out_villages = _concat([out_villages, tv], VILLAGE_COLUMNS)
        created = sorted(k for k in touched_villages)
        if created and villages is None:
            warnings.append(f"新建行政村 {len(created)} 个 (来自村编号列或文件名): {', '.join(created[:10])}"
                            + (" ..." if len(created) > 10 else ""))
    if placed is not None and len(placed):
        out_villages = _estimate_depots(out_villages, all_villages, placed, warnings)
    if out_villages is not None:
        counts["villages"] = len(out_villages)
    if placed is not None:
        counts["households"] = len(placed)
    return Assembled(villages=out_villages, areas=out_areas, households=placed, unplaced=unplaced,
                     warnings=warnings, counts=counts)


def _stem(file: str) -> str:
    """A file name without its data suffixes (``guixi.osm.gz`` -> ``guixi``)."""
    name = file
    for suffix in (".gz", ".bz2", ".zip", ".pbf", ".osm", ".geojson", ".json", ".gpkg", ".shp", ".csv", ".xlsx"):
        if name.lower().endswith(suffix) and len(name) > len(suffix):
            name = name[: -len(suffix)]
    return name


def _resolve_overlaps(areas: gpd.GeoDataFrame, metric, params: PlacementParams, file: str,
                      warnings: list[str]) -> gpd.GeoDataFrame:
    """Make areas disjoint: the smaller area keeps a shared part; ties broken by id."""
    geoms_m = _metric(areas.geometry, metric).values
    size = shapely.area(geoms_m)
    order = sorted(range(len(areas)), key=lambda i: (size[i], str(areas["area_id"].iloc[i])))
    rank = np.empty(len(areas), dtype=int)
    rank[order] = np.arange(len(areas))
    tree = shapely.STRtree(geoms_m)
    left, right = tree.query(geoms_m, predicate="intersects")
    keep = (left != right) & (rank[right] < rank[left])  # right is smaller: cut it out of left
    cut: dict[int, list[int]] = {}
    reported = 0
    notes: list[str] = []
    for i, j in zip(left[keep], right[keep]):
        inter = shapely.area(shapely.intersection(geoms_m[i], geoms_m[j]))
        if inter <= 0:
            continue
        cut.setdefault(int(i), []).append(int(j))
        if inter >= params.min_overlap_m2:
            reported += 1
            if len(notes) < 20:
                notes.append(f"{areas['area_id'].iloc[i]} 与 {areas['area_id'].iloc[j]} 重叠 {inter:.0f} 平方米, "
                             f"归入较小的 {areas['area_id'].iloc[j]}")
    if not cut:
        return areas
    new_geoms = list(areas.geometry.values)
    dropped = []
    kept: dict[int, object] = {}
    for i, js in cut.items():
        g = shapely.difference(geoms_m[i], shapely.union_all([geoms_m[j] for j in js]))
        g = polygonal(g)
        if g is None or shapely.area(g) < params.min_overlap_m2:
            dropped.append(i)
            continue
        kept[i] = g
    if kept:  # back to WGS 84 in one transformation
        back = gpd.GeoSeries(list(kept.values()), crs=metric).to_crs(WGS84).values
        for i, g in zip(kept, back):
            new_geoms[i] = g
    out = areas.copy()
    out["geometry"] = gpd.GeoSeries(new_geoms, crs=WGS84, index=out.index)
    if reported:
        warnings.append(f"{file}: 片区重叠 {reported} 处, 重叠部分归入较小的片区: " + "; ".join(notes)
                        + (" ..." if reported > len(notes) else ""))
    if dropped:
        ids = [str(areas["area_id"].iloc[i]) for i in dropped]
        warnings.append(f"{file}: {len(ids)} 个片区被更小的片区完全覆盖, 未导入: {', '.join(ids[:20])}")
        out = out.drop(index=out.index[dropped])
    return out


def _place_households(layer: Layer, areas: gpd.GeoDataFrame, villages: gpd.GeoDataFrame,
                      touched_villages: dict[str, dict], metric, params: PlacementParams,
                      warnings: list[str], counts: dict[str, int]):
    hh = layer.frame.copy().reset_index(drop=True)
    n = len(hh)
    area_of = np.array([None] * n, dtype=object)
    placement = np.array([None] * n, dtype=object)
    poly = areas[areas.geometry.notna() & ~areas.geometry.is_empty & (areas["kind"] != "scattered")]
    poly = poly.reset_index(drop=True)
    hm = _metric(hh.geometry, metric)
    pm = _metric(poly.geometry, metric) if len(poly) else gpd.GeoSeries([], crs=metric)

    # 1. the area named in the file
    given = hh["area_id"].notna().to_numpy()
    if given.any():
        by_id = {a: i for i, a in enumerate(areas["area_id"])}
        by_name: dict[tuple, list[int]] = {}
        for i, (nm, vid) in enumerate(zip(areas["name"], areas["village_id"])):
            by_name.setdefault((nm, vid), []).append(i)
            by_name.setdefault((nm, None), []).append(i)
        unknown = []
        named = hh["area_id"].to_numpy(dtype=object)
        own_village = hh["village_id"].to_numpy(dtype=object)
        rows, at = [], []
        for k in np.flatnonzero(given).tolist():
            a = named[k]
            idx = by_id.get(a)
            if idx is None:
                cand = by_name.get((a, own_village[k])) or by_name.get((a, None)) or []
                idx = cand[0] if len(cand) == 1 else None
            if idx is None:
                unknown.append(a)
                continue
            rows.append(k)
            at.append(idx)
        if rows:
            rows_a, at_a = np.array(rows), np.array(at)
            area_of[rows_a] = areas["area_id"].to_numpy(dtype=object)[at_a]
            shapes = np.asarray(areas.geometry.values, dtype=object)
            shapely.prepare(shapes)  # one area holds many households: prepared geometries test faster
            inside = shapely.covers(shapes[at_a], np.asarray(hh.geometry.values, dtype=object)[rows_a])
            placement[rows_a] = np.array(["attached", "in_area"], dtype=object)[inside.astype(int)]
        if unknown:
            warnings.append(f"{layer.file}: {len(unknown)} 户所填片区在片区数据中找不到 "
                            f"({', '.join(sorted(set(map(str, unknown)))[:10])}), 改按位置归属")

    # 2. inside a polygon
    todo = np.flatnonzero(placement == None)  # noqa: E711
    if len(todo) and len(poly):
        tree = shapely.STRtree(pm.values)
        hi, ai = tree.query(hm.values[todo], predicate="within")
        pids = poly["area_id"].to_numpy(dtype=object)
        # a household inside several areas goes to the first by area id
        id_rank = np.argsort(np.argsort(np.array([str(a) for a in pids], dtype=str), kind="stable"))
        order = np.lexsort((id_rank[ai], hi))
        hi, ai = hi[order], ai[order]
        first = np.flatnonzero(np.r_[True, hi[1:] != hi[:-1]]) if len(hi) else hi
        area_of[todo[hi[first]]] = pids[ai[first]]
        placement[todo[hi[first]]] = "in_area"

    # the households and areas must overlap at all, or something is wrong with coordinates
    # (a household inside an area settles it; the distance query over all households is the
    # expensive way, needed only when none is)
    if len(poly) and not (placement == "in_area").any():
        near = shapely.STRtree(pm.values).query(hm.values, predicate="dwithin",
                                                distance=max(params.attach_distance_m, 1000.0))
        if near.shape[1] == 0:
            b1 = hh.total_bounds
            b2 = poly.total_bounds
            col = Collector(layer.file)
            col.fail("", f"住户与片区完全不重叠 (住户范围 {b1[0]:.4f},{b1[1]:.4f} - {b1[2]:.4f},{b1[3]:.4f}; "
                         f"片区范围 {b2[0]:.4f},{b2[1]:.4f} - {b2[2]:.4f},{b2[3]:.4f})",
                     "检查两个文件的坐标系是否一致 (如一个是 GCJ-02 需加 --crs gcj02), 或是否选错了文件")

    # village of each household (own column, else village polygon) for the next steps
    hh_village = hh["village_id"].to_numpy(dtype=object).copy()
    known_vids = set(villages["village_id"]) | set(touched_villages)
    vpoly = villages[villages.geometry.notna()] if len(villages) else villages
    need_v = np.array([v is None for v in hh_village])
    if need_v.any() and len(vpoly):
        # inside a village polygon, or within the attach distance of one (nearest wins)
        vm = _metric(vpoly.geometry, metric).values
        rows = np.flatnonzero(need_v)
        hi, vi = shapely.STRtree(vm).query(hm.values[rows], predicate="dwithin",
                                           distance=max(params.attach_distance_m, 0.01))
        best_v: dict[int, tuple[float, str]] = {}
        for h, j in zip(hi.tolist(), vi.tolist()):
            key = (float(shapely.distance(hm.values[rows[h]], vm[j])), str(vpoly["village_id"].iloc[j]))
            if rows[h] not in best_v or key < best_v[rows[h]]:
                best_v[rows[h]] = key
        for k, (_, vid) in best_v.items():
            hh_village[k] = vid
    if len(known_vids) == 1 and not len(vpoly):
        # one village without a boundary: every household is in it
        only = next(iter(known_vids))
        hh_village = np.array([v if v is not None else only for v in hh_village], dtype=object)

    # 3. nearest area (of the household's village, when known) within attach distance
    todo = np.flatnonzero(placement == None)  # noqa: E711
    if len(todo) and len(poly) and params.attach_distance_m > 0:
        tree = shapely.STRtree(pm.values)
        hi, ai = tree.query(hm.values[todo], predicate="dwithin", distance=params.attach_distance_m)
        best: dict[int, tuple[float, str, int]] = {}
        pvill = poly["village_id"].to_numpy(dtype=object)
        for h, a in zip(hi.tolist(), ai.tolist()):
            k = todo[h]
            if hh_village[k] is not None and pvill[a] != hh_village[k]:
                continue
            d = shapely.distance(hm.values[k], pm.values[a])
            key = (d, str(poly["area_id"].iloc[a]), a)
            if k not in best or key < best[k]:
                best[k] = key
        for k, (_, _, a) in best.items():
            area_of[k] = poly["area_id"].iloc[a]
            placement[k] = "attached"

    # 4. the village's scattered-households area
    vnames = dict(zip(villages["village_id"], villages["name"]))
    vnames.update({k: v["name"] for k, v in touched_villages.items()})
    existing_area_ids = set(areas["area_id"])
    new_scattered: dict[str, dict] = {}
    reasons = np.array([None] * n, dtype=object)
    for k in np.flatnonzero(placement == None):  # noqa: E711
        vid = hh_village[k]
        if vid is None:
            reasons[k] = "不在任何片区或行政村边界内, 也没有填写所属行政村"
            continue
        sid = scattered_area_id(vid)
        if sid not in existing_area_ids and sid not in new_scattered:
            new_scattered[sid] = {"area_id": sid, "village_id": vid,
                                  "name": f"{vnames.get(vid, vid)}散居户", "kind": "scattered",
                                  "attrs": {}, "geometry": None}
        area_of[k] = sid
        placement[k] = "scattered"

    hh["area_id"] = area_of
    hh["placement"] = placement
    a_village = dict(zip(areas["area_id"], areas["village_id"]))
    a_village.update({k: v["village_id"] for k, v in new_scattered.items()})
    final_v = np.array([a_village.get(a) if a is not None else None for a in area_of], dtype=object)
    own_v = hh["village_id"].to_numpy(dtype=object)
    hids = hh["household_id"].to_numpy(dtype=object)
    conflict = [(hids[k], own_v[k], final_v[k]) for k in range(n)
                if own_v[k] is not None and final_v[k] is not None and own_v[k] != final_v[k]]
    if conflict:
        ex = "; ".join(f"{h}: 文件 {a} → 位置 {b}" for h, a, b in conflict[:5])
        warnings.append(f"{layer.file}: {len(conflict)} 户所填行政村与所在片区的行政村不同, 以片区为准 ({ex})")
    hh["village_id"] = final_v
    ok = hh["placement"].notna()
    placed = hh[ok].reset_index(drop=True)
    unplaced = hh[~ok].copy()
    unplaced["reason"] = reasons[~ok.to_numpy()]
    unplaced = unplaced.reset_index(drop=True)
    counts["households_in_area"] = int((placed["placement"] == "in_area").sum())
    counts["households_attached"] = int((placed["placement"] == "attached").sum())
    counts["households_scattered"] = int((placed["placement"] == "scattered").sum())
    counts["households_unplaced"] = len(unplaced)
    summary = (f"{layer.file}: 住户 {n} 户: 在片区内 {counts['households_in_area']}, "
               f"就近归入片区 ({params.attach_distance_m:.0f} 米内) {counts['households_attached']}, "
               f"归入散居户 {counts['households_scattered']}, 无法归属 {len(unplaced)}")
    warnings.append(summary)
    if len(unplaced):
        ex = ", ".join(map(str, unplaced["household_id"].head(10)))
        warnings.append(f"{layer.file}: {len(unplaced)} 户无法确定所属行政村, 未导入 ({ex}"
                        f"{' ...' if len(unplaced) > 10 else ''}); 请在住户文件中加“行政村”列, 或提供行政村边界")
    return placed, unplaced, new_scattered


def _estimate_depots(out_villages: gpd.GeoDataFrame | None, all_villages: gpd.GeoDataFrame,
                     households: gpd.GeoDataFrame, warnings: list[str]) -> gpd.GeoDataFrame:
    """Villages without a committee office location get the household nearest their centre."""
    out = out_villages.copy() if out_villages is not None else _empty(VILLAGE_COLUMNS)
    estimated = []
    out_row: dict = {}  # village id -> first row of ``out``
    for row, vid in zip(out.index, out["village_id"].tolist()):
        out_row.setdefault(vid, row)
    known_at: dict = {}  # village id -> first position in ``all_villages``
    for i, vid in enumerate(all_villages["village_id"].tolist()):
        known_at.setdefault(vid, i)
    hx = shapely.get_x(households.geometry.values)
    hy = shapely.get_y(households.geometry.values)
    groups = households.groupby("village_id").indices
    for vid in sorted(groups):
        at = groups[vid]
        row = out_row.get(vid)
        if row is not None:
            lon, lat = out.at[row, "depot_lon"], out.at[row, "depot_lat"]
        else:
            if vid not in known_at:
                continue
            known = all_villages.iloc[known_at[vid]]
            lon, lat = known["depot_lon"], known["depot_lat"]
        if lon is not None and lat is not None and not (pd.isna(lon) or pd.isna(lat)):
            continue
        xy = np.column_stack([hx[at], hy[at]])
        centre = np.median(xy, axis=0)
        k = int(np.argmin(((xy - centre) ** 2).sum(axis=1)))
        if row is None:
            rec = all_villages.iloc[known_at[vid]].to_dict()
            out = _concat([out, gpd.GeoDataFrame([rec], geometry="geometry", crs=WGS84)], VILLAGE_COLUMNS)
            row = out.index[-1]
            out_row[vid] = row
        out.at[row, "depot_lon"] = float(xy[k, 0])
        out.at[row, "depot_lat"] = float(xy[k, 1])
        estimated.append(str(vid))
    if estimated:
        warnings.append(f"{len(estimated)} 个行政村没有村委会位置, 暂用居中住户的位置 ({', '.join(estimated[:10])}"
                        f"{' ...' if len(estimated) > 10 else ''}); 可在行政村文件中加 村委经度/村委纬度 列")
    return out
