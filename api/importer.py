"""Import users' files into the store: the one function the CLI and the HTTP API both call.

Reading and validation happen completely before anything is written; the write is one
transaction.  A failed import leaves the store as it was (and creates no store file).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from api import store
from geo.assemble import PlacementParams, assemble
from geo.errors import InputError, Problem
from geo.osm import read_osm
from geo.read import Layer, ReadOptions, read_areas, read_households, read_roads, read_villages

logger = logging.getLogger(__name__)

Progress = Callable[[str], None]
"""Called with a short Chinese description before each step."""


@dataclass
class ImportRequest:
    """What to import and how.

    Attributes
    ----------
    areas, villages, households, roads : path or None
        Input files; at least one is required.
    crs, encoding : str or None
        For files that carry no CRS / encoding of their own.
    columns : mapping
        Field -> header overrides (``{"lon": "X坐标"}``).
    generate_ids : bool
        Number households by row when the file has no id column.
    attach_distance_m : float
        Households outside every area within this distance (metres) join the nearest area.
    replace : bool
        Delete records of the imported layers that are not in the files.
    dry_run : bool
        Validate and report only; write nothing.
    """

    areas: str | Path | None = None
    villages: str | Path | None = None
    households: str | Path | None = None
    roads: str | Path | None = None
    crs: str | None = None
    encoding: str | None = None
    columns: Mapping[str, str] = field(default_factory=dict)
    generate_ids: bool = False
    attach_distance_m: float = 100.0
    replace: bool = False
    dry_run: bool = False
    osm: str | Path | None = None
    """An OpenStreetMap extract (.osm.pbf/.osm/.osm.gz) deriving the layers not given as files."""
    bbox: tuple | None = None
    """Only this part of the OSM extract: (west, south, east, north), WGS 84 degrees."""

    def __post_init__(self) -> None:
        if not any((self.areas, self.villages, self.households, self.roads, self.osm)):
            raise ValueError("至少需要一个图层: --areas、--villages、--households、--roads 或 --osm")


def _road_km(roads: gpd.GeoDataFrame) -> float:
    """Geodesic length of the roads (WGS 84 ellipsoid), as the store computes ``length_m``."""
    if roads is None or not len(roads):
        return 0.0
    metres = store._geodesic_length_m(np.asarray(roads.geometry.values, dtype=object))
    return round(float(np.nansum(metres)) / 1000.0, 3)


def _none_if_empty(frame: gpd.GeoDataFrame | None) -> gpd.GeoDataFrame | None:
    return frame if frame is not None and len(frame) else None


def run_import(db: str | Path, request: ImportRequest, *, progress: Progress | None = None) -> dict:
    """Read, validate, place and store the files of one import.

    Parameters
    ----------
    db : str or Path
        The SQLite store file (created if missing, unless ``dry_run``) or a database URL.
    request : ImportRequest
    progress : callable, optional
        Told about each step.

    Returns
    -------
    dict
        The import report: ``villages``, ``areas``, ``households``, ``households_in_area``,
        ``households_attached``, ``households_scattered``, ``households_unplaced``, ``roads``,
        ``roads_km``, ``crs_in``, ``warnings``, ``unplaced`` (ids with reasons), ``saved``
        (added/updated/... per layer, absent on a dry run) and ``store`` (totals after import).

    Raises
    ------
    geo.errors.InputError
        With the problems of every bad file; nothing is written.
    """
    step = progress or (lambda _msg: None)
    opts = ReadOptions(crs=request.crs, encoding=request.encoding, columns=dict(request.columns),
                       generate_ids=request.generate_ids)
    readers = (("villages", request.villages, read_villages), ("areas", request.areas, read_areas),
               ("households", request.households, read_households), ("roads", request.roads, read_roads))
    layers: dict[str, Layer] = {}
    problems: list[Problem] = []
    names = {"villages": "行政村", "areas": "片区", "households": "住户", "roads": "道路"}
    for key, path, reader in readers:
        if path is None:
            continue
        step(f"读取{names[key]}: {Path(path).name}")
        try:
            layers[key] = reader(path, options=opts)
        except InputError as exc:
            problems.extend(exc.problems)
    if request.osm is not None:
        step(f"读取 OpenStreetMap: {Path(request.osm).name}")
        try:
            osm = read_osm(request.osm, bbox=request.bbox)
        except InputError as exc:
            problems.extend(exc.problems)
        else:
            for key, layer in osm.layers().items():
                layers.setdefault(key, layer)  # the user's own files win over OSM
    if problems:
        raise InputError(problems)

    db_path = Path(db) if "://" not in str(db) else None
    exists = db_path is None or db_path.exists()
    engine = store.open_store(db, create=not request.dry_run) if exists or not request.dry_run else None
    created_now = db_path is not None and not exists and engine is not None
    try:
        known_v = known_a = None
        if engine is not None:
            known_v = store.load_villages(engine)
            if not (request.replace and "areas" in layers):
                known_a = store.load_areas(engine)
        step("归属住户到片区")
        result = assemble(villages=layers.get("villages"), areas=layers.get("areas"),
                          households=layers.get("households"), known_villages=known_v,
                          known_areas=known_a,
                          params=PlacementParams(attach_distance_m=request.attach_distance_m))
        roads = layers.get("roads")
        warnings = list(result.warnings)
        if roads is not None:
            warnings.extend(roads.warnings)
        report: dict = {
            "villages": int(result.counts.get("villages", 0)),
            "areas": int(result.counts.get("areas", 0)),
            "households": int(result.counts.get("households", 0)),
            "households_in_area": int(result.counts.get("households_in_area", 0)),
            "households_attached": int(result.counts.get("households_attached", 0)),
            "households_scattered": int(result.counts.get("households_scattered", 0)),
            "households_unplaced": int(result.counts.get("households_unplaced", 0)),
            "roads": len(roads.frame) if roads is not None else 0,
            "roads_km": _road_km(roads.frame) if roads is not None else 0.0,
            "crs_in": {k: v.crs_in for k, v in layers.items()},
            "warnings": warnings,
            "unplaced": [{"household": str(h), "reason": str(r)}
                         for h, r in zip(result.unplaced["household_id"], result.unplaced["reason"])],
            "dry_run": request.dry_run,
        }
        if request.dry_run:
            return report
        step("写入数据库")
        out_areas = result.areas
        replace_layers = set(layers) if request.replace else set()
        if roads is not None and roads.replace_all:
            replace_layers.add("roads")
        if "areas" in replace_layers and engine is not None:
            # scattered-households areas are derived, not in the user's file: keep them
            stored = store.load_areas(engine)
            keep = stored[(stored["kind"] == "scattered")]
            if out_areas is not None:
                keep = keep[~keep["area_id"].isin(out_areas["area_id"])]
            out_areas = gpd.GeoDataFrame(pd.concat([out_areas, keep], ignore_index=True), crs=keep.crs) \
                if out_areas is not None else keep
        batch = store.ImportBatch(
            villages=_none_if_empty(result.villages), areas=_none_if_empty(out_areas),
            households=result.households, roads=roads.frame if roads is not None else None,
            files={k: str(v.file) for k, v in layers.items()}, warnings=warnings,
        )
        counts = store.save_batch(engine, batch, replace_layers=tuple(sorted(replace_layers)))
        report["saved"] = counts.as_dict()
        report["store"] = store.summary(engine)
        return report
    except BaseException:
        if engine is not None:
            engine.dispose()
        if created_now and db_path is not None:
            for suffix in ("", "-wal", "-shm", "-journal"):
                Path(str(db_path) + suffix).unlink(missing_ok=True)
        raise
    finally:
        if engine is not None:
            engine.dispose()
