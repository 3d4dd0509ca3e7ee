"""The importer at bulk sizes (thousands of rows: the store's bulk insert, update and COPY paths),
on both backends: a bad row is named by file and row and nothing is written; a re-import is an
upsert."""

from __future__ import annotations

import csv
from pathlib import Path

import geopandas
import numpy as np
import pytest
from shapely.geometry import Polygon

from api.importer import ImportRequest, run_import
from api.store import load_households, open_store
from geo.errors import InputError

N = 3_000
VILLAGE = "110108001001"


def write_inputs(folder: Path, *, bad_row: int | None = None, changed: int = 0) -> ImportRequest:
    """Households as a CSV (N rows, a tenth of them outside the one area), an areas GeoJSON."""
    rng = np.random.default_rng(0)
    lon = 116.30 + rng.uniform(0, 0.02, N)
    lat = 39.90 + rng.uniform(0, 0.01, N)
    households = folder / "住户.csv"
    with households.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["户编号", "经度", "纬度", "户主", "人口", "标签", "行政村"])
        for i in range(N):
            size = "三口" if i == bad_row else str(1 + i % 6)
            head = f"户主{i}" + ("（改）" if i < changed else "")
            w.writerow([f"H{i:05d}", f"{lon[i]:.6f}", f"{lat[i]:.6f}", head, size,
                        "独居老人" if i % 10 == 0 else "", VILLAGE])
    areas = folder / "片区.geojson"
    geopandas.GeoDataFrame(
        {"area_id": ["A1"], "name": ["王家庄"], "kind": ["自然村"], "village_id": [VILLAGE]},
        geometry=[Polygon([(116.30, 39.90), (116.318, 39.90), (116.318, 39.91), (116.30, 39.91)])],
        crs="EPSG:4326",
    ).to_file(areas, driver="GeoJSON")
    return ImportRequest(areas=areas, households=households)


def test_a_bad_row_among_thousands_is_named_and_nothing_is_written(tmp_path: Path, target) -> None:
    bad = write_inputs(tmp_path, bad_row=2_500)
    with pytest.raises(InputError) as info:
        run_import(target.url, bad)
    [problem] = info.value.problems
    assert problem.file == "住户.csv"
    assert "第 2502 行" in problem.where and "H02500" in problem.where  # the header is row 1
    assert "人口" in problem.problem
    if target.sqlite:
        assert not Path(target.url).exists()  # a failed first import leaves no store file

    good = write_inputs(tmp_path)
    report = run_import(target.url, good)
    assert report["saved"]["households"]["added"] == N
    assert report["households_in_area"] + report["households_attached"] + report["households_scattered"] == N
    before = target.dump()

    changed_and_bad = write_inputs(tmp_path, bad_row=2_999, changed=1_000)
    with pytest.raises(InputError, match="第 3001 行"):
        run_import(target.url, changed_and_bad)
    assert target.dump() == before


def test_reimport_at_bulk_size_is_an_upsert(tmp_path: Path, target) -> None:
    request = write_inputs(tmp_path)
    first = run_import(target.url, request)
    assert first["saved"]["households"] == {"added": N, "updated": 0, "deleted": 0, "unchanged": 0}
    again = run_import(target.url, request)
    assert again["saved"]["households"] == {"added": 0, "updated": 0, "deleted": 0, "unchanged": N}
    changed = run_import(target.url, write_inputs(tmp_path, changed=1_200))
    assert changed["saved"]["households"] == {"added": 0, "updated": 1_200, "deleted": 0, "unchanged": N - 1_200}
    engine = open_store(target.url, create=False)
    try:
        stored = load_households(engine).set_index("household_id")
    finally:
        engine.dispose()
    assert len(stored) == N
    assert stored.loc["H00000", "head"] == "户主0（改）" and stored.loc["H02999", "head"] == "户主2999"
    assert stored.loc["H00010", "tags"] == "elderly_alone"
    assert int(stored.loc["H00005", "size"]) == 6
