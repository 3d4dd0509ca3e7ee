"""``zhudian demo`` end to end on a one-village cut of the demo data (the whole demo is what
``make demo`` runs): every output the index links exists, maps open offline, PDFs are real."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import geopandas as gpd
import pytest

from api.demo import DEMO_DATA, run_demo
from maps.offline import external_refs

VILLAGE = "990101001009"  # Triesen: two groups in the demo roster


@pytest.fixture(scope="module")
def demo_out(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object]:
    data = tmp_path_factory.mktemp("data")
    villages = gpd.read_file(DEMO_DATA / "villages.gpkg")
    villages = villages[villages["village_id"] == VILLAGE]
    villages.to_file(data / "villages.gpkg")
    areas = gpd.read_file(DEMO_DATA / "areas.gpkg")
    areas[areas["village_id"] == VILLAGE].to_file(data / "areas.gpkg")
    households = gpd.read_file(DEMO_DATA / "households.gpkg")
    households[households["village_id"] == VILLAGE].to_file(data / "households.gpkg")
    w, s, e, n = villages.total_bounds
    roads = gpd.read_file(DEMO_DATA / "roads.gpkg", bbox=(w - 0.01, s - 0.01, e + 0.01, n + 0.01))
    roads.to_file(data / "roads.gpkg")
    with open(DEMO_DATA / "roster.csv", encoding="utf-8-sig", newline="") as f:
        rows = list(csv.reader(f))
    with open(data / "roster.csv", "w", encoding="utf-8-sig", newline="") as f:
        csv.writer(f).writerows([rows[0]] + [r for r in rows[1:] if r[4] == VILLAGE])
    out = tmp_path_factory.mktemp("out")
    return out, run_demo(out, data=data)


def test_every_linked_output_exists(demo_out) -> None:
    out, summary = demo_out
    index = (out / "index.html").read_text(encoding="utf-8")
    links = re.findall(r'href="([^"#]+)"', index)
    assert len(links) >= 8
    for href in links:
        assert (out / href).exists(), href
    assert all(Path(p).exists() for p in summary.files)
    # one route map and one route sheet per group of the village, one A3 zone map
    assert len(list((out / "sheets").glob(f"{VILLAGE}-G*-2026-12.pdf"))) == 2
    assert len(list((out / "sheets").glob("*zones*.pdf"))) == 1


def test_maps_are_offline_and_pdfs_are_pdfs(demo_out) -> None:
    out, _ = demo_out
    pages = list(out.rglob("*.html"))
    assert len(pages) >= 6
    for page in pages:
        assert external_refs(page.read_text(encoding="utf-8")) == [], page
    for pdf in (out / "sheets").glob("*.pdf"):
        assert pdf.read_bytes()[:5] == b"%PDF-"
