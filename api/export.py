"""Export a stored layer to GeoJSON, GeoPackage or CSV (WGS 84, UTF-8, users' ids and attributes kept)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio

from api import store

LAYERS = ("villages", "areas", "households", "roads")
FORMATS = {".geojson": "GeoJSON", ".json": "GeoJSON", ".gpkg": "GPKG", ".csv": "CSV"}


def _flatten(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Spread the ``attrs`` dicts back into columns (names that clash get a ``attr_`` prefix)."""
    out = frame.drop(columns=["attrs"]).copy()
    extra = pd.DataFrame(list(frame["attrs"]), index=frame.index) if len(frame) else pd.DataFrame()
    for c in extra.columns:
        name = c if c not in out.columns else f"attr_{c}"
        out.insert(len(out.columns) - 1, name, extra[c])
    return out


def load_layer(engine, layer: str) -> gpd.GeoDataFrame:
    """Load one layer from the store as a flat GeoDataFrame ready to write.

    Raises
    ------
    ValueError
        For an unknown layer name.
    """
    loaders = {"villages": store.load_villages, "areas": store.load_areas,
               "households": store.load_households, "roads": store.load_roads}
    if layer not in loaders:
        raise ValueError(f"未知图层 {layer!r}; 可选: {', '.join(LAYERS)}")
    return _flatten(loaders[layer](engine))


def export_layer(db: str | Path, layer: str, out: str | Path) -> int:
    """Write a stored layer to ``out``; the format follows the extension.

    Households in CSV get ``lon``/``lat`` columns; other layers in CSV carry WKT geometry.
    The file is written to a temporary name and renamed, so a failed export leaves no
    half-written file.

    Returns
    -------
    int
        Number of records written.

    Raises
    ------
    ValueError
        For an unknown layer or file extension.
    FileNotFoundError
        When the store does not exist.
    """
    out = Path(out)
    fmt = FORMATS.get(out.suffix.lower())
    if fmt is None:
        raise ValueError(f"不支持的导出格式 {out.suffix!r}; 可用: .geojson, .gpkg, .csv")
    engine = store.open_store(db, create=False)
    try:
        frame = load_layer(engine, layer)
    finally:
        engine.dispose()
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.stem}-", suffix=out.suffix, dir=out.parent)
    os.close(fd)
    try:
        if fmt == "CSV":
            table = pd.DataFrame(frame.drop(columns="geometry"))
            if layer == "households":
                table["lon"] = frame.geometry.x.round(7)
                table["lat"] = frame.geometry.y.round(7)
            else:
                table["wkt"] = [g.wkt if g is not None else "" for g in frame.geometry]
            table.to_csv(tmp, index=False, encoding="utf-8-sig")
        else:
            Path(tmp).unlink()
            if layer == "households":
                frame["size"] = frame["size"].astype("float64")
            pyogrio.write_dataframe(frame, tmp, driver=fmt, layer=layer if fmt == "GPKG" else None)
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return len(frame)
