"""The bad-input battery against a real server: each bad request gets its documented 4xx with a
clear message (file, where, problem, fix) and leaves the store exactly as it was."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
import shapefile  # pyshp: writes a .dbf with no code page and no .cpg, like old Chinese GIS tools

from server import TRIESEN, Server, bearer, import_demo, row_counts, token, zhudian

pytestmark = pytest.mark.slow

OTHER_TOWN, OTHER_VILLAGE = "邻镇", "990201001001"
LON, LAT = 10.20, 47.60  # far from the demo villages
UPLOAD_MB, UNZIPPED_MB = 20, 50


def _square(lon: float, lat: float, d: float) -> list:
    return [[lon, lat], [lon + d, lat], [lon + d, lat + d], [lon, lat + d], [lon, lat]]


def _fc(features: list[dict]) -> bytes:
    return json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False).encode("utf-8")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp("battery")
    db = tmp / "zhudian.db"
    import_demo(db)
    other = tmp / "邻镇.geojson"
    other.write_bytes(_fc([{"type": "Feature", "properties": {"village_id": OTHER_VILLAGE, "name": "东岭村",
                                                              "town": OTHER_TOWN},
                            "geometry": {"type": "Polygon", "coordinates": [_square(LON, LAT, 0.02)]}}]))
    zhudian("import", db, "--villages", other, "--quiet")
    srv = Server(db, tmp / "server.log", ZHUDIAN_MAX_UPLOAD_MB=str(UPLOAD_MB),
                 ZHUDIAN_MAX_UNZIPPED_MB=str(UNZIPPED_MB)).start()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="module")
def tokens(server: Server) -> dict[str, str]:
    return {"admin": token(server.db, "city_admin"), "other_town": token(server.db, "town_admin", town=OTHER_TOWN),
            "triesen_town": token(server.db, "town_admin", town="列支敦士登示范镇")}


def _zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def _households(*ids: str) -> bytes:
    return _fc([{"type": "Feature", "properties": {"household_id": h, "village_id": TRIESEN, "户主姓名": "王五"},
                 "geometry": {"type": "Point", "coordinates": [9.5271, 47.1094]}} for h in ids])


def _stream(total: int, chunk: int = 1 << 20) -> Iterator[bytes]:
    """A multipart body of ``total`` bytes: one CSV file part, generated as it is sent."""
    head = (b'--xyz\r\nContent-Disposition: form-data; name="households"; filename="big.csv"\r\n'
            b"Content-Type: text/csv\r\n\r\nhousehold_id,lon,lat\r\n")
    yield head
    block = b"H000001,9.52,47.10\r\n" * (chunk // 20)
    sent = len(head)
    while sent + len(block) <= total:
        yield block
        sent += len(block)
    yield b"\r\n--xyz--\r\n"


def _size(total: int) -> int:
    return sum(len(b) for b in _stream(total))


Case = Callable[[httpx.Client, dict[str, str]], httpx.Response]

CASES: dict[str, tuple[Case, int, str]] = {
    "broken_geojson": (lambda c, t: c.post("/api/v1/imports", headers=bearer(t["admin"]), files={
        "villages": ("村界.geojson", b'{"type": "FeatureCollection", "features": [{"type": "Feature",')}),
        422, "无法作为地理数据文件读取"),
    "wrong_geometry_type": (lambda c, t: c.post("/api/v1/imports", headers=bearer(t["admin"]), files={
        "areas": ("片区.geojson", _fc([{"type": "Feature", "properties": {"area_id": "A1", "name": "甲", "kind": "自然村",
                                                                         "village_id": TRIESEN},
                                        "geometry": {"type": "Point", "coordinates": [9.52, 47.1]}}]))}),
        422, "几何类型不对"),
    "duplicate_ids": (lambda c, t: c.post("/api/v1/imports", headers=bearer(t["admin"]), files={
        "households": ("住户.geojson", _households("H900001", "H900001"))}), 422, "住户编号重复"),
    "zip_with_parent_paths": (lambda c, t: c.post("/api/v1/imports", headers=bearer(t["admin"]), files={
        "areas": ("片区.zip", _zip({"../../etc/evil.geojson": b"{}", "ok.geojson": b"{}"}))}), 422, "不安全"),
    "zip_with_absolute_path": (lambda c, t: c.post("/api/v1/imports", headers=bearer(t["admin"]), files={
        "areas": ("片区.zip", _zip({"/tmp/evil.shp": b"x"}))}), 422, "不安全"),
    "zip_bomb": (lambda c, t: c.post("/api/v1/imports", headers=bearer(t["admin"]), files={
        "areas": ("片区.zip", _zip({"a.geojson": b"\0" * ((UNZIPPED_MB + 10) << 20)}))}), 413, "解压后超过"),
    "upload_100mb_streamed": (lambda c, t: c.post(
        "/api/v1/imports", headers=bearer(t["admin"]) | {"content-type": "multipart/form-data; boundary=xyz"},
        content=_stream(100 << 20)), 413, "请求体超过"),
    "upload_100mb_announced": (lambda c, t: c.post(
        "/api/v1/imports", headers=bearer(t["admin"]) | {"content-type": "multipart/form-data; boundary=xyz",
                                                         "content-length": str(_size(100 << 20))},
        content=_stream(100 << 20)), 413, "请求体超过"),
    "unsupported_file_type": (lambda c, t: c.post("/api/v1/imports", headers=bearer(t["admin"]), files={
        "roads": ("道路.exe", b"MZ\x90\x00")}), 422, "不支持的文件类型"),
    "no_token": (lambda c, t: c.get("/api/v1/households"), 401, "缺少访问令牌"),
    "wrong_token": (lambda c, t: c.get("/api/v1/households", headers=bearer("zd_" + "x" * 43)), 401, "令牌无效"),
    "other_town_reads": (lambda c, t: c.get("/api/v1/households", params={"village": TRIESEN},
                                            headers=bearer(t["other_town"])), 403, "不在你的范围内"),
    "other_town_visits": (lambda c, t: c.post("/api/v1/visits", headers=bearer(t["other_town"]), json={
        "client_id": "other-town-0001", "household": "H04749", "outcome": "met"}), 403, "不在你的范围内"),
    "other_town_imports": (lambda c, t: c.post("/api/v1/imports", headers=bearer(t["other_town"]), files={
        "households": ("住户.geojson", _households("H900002"))}), 403, "不在 邻镇"),
    "other_town_zoning": (lambda c, t: c.post("/api/v1/jobs/zoning", headers=bearer(t["other_town"]),
                                              json={"villages": [TRIESEN], "groups": 2}), 403, "不在你的范围内"),
    "bad_job_parameters": (lambda c, t: c.post("/api/v1/jobs/plan", headers=bearer(t["admin"]),
                                               json={"month": "2026-13"}), 422, "month"),
    "unknown_village": (lambda c, t: c.get("/api/v1/villages/999/zones", headers=bearer(t["admin"])), 404,
                        "找不到行政村"),
}


@pytest.mark.parametrize("name", list(CASES))
def test_bad_request_is_refused_and_changes_nothing(name: str, server: Server, tokens: dict[str, str]) -> None:
    call, status, text = CASES[name]
    before = row_counts(server.db)
    with httpx.Client(base_url=server.url, timeout=120) as client:
        answer = call(client, tokens)
    assert answer.status_code == status, answer.text
    detail = answer.json()["detail"]
    assert detail and all(set(p) == {"file", "where", "problem", "fix"} for p in detail)
    assert any(text in p["problem"] or text in p["where"] for p in detail), detail
    assert all(p["fix"] for p in detail), detail
    assert row_counts(server.db) == before


def test_bad_upload_names_the_users_file(server: Server, tokens: dict[str, str]) -> None:
    with httpx.Client(base_url=server.url, timeout=60) as client:
        answer = CASES["duplicate_ids"][0](client, tokens)
    assert answer.json()["detail"][0]["file"] == "住户.geojson"


def test_gbk_shapefile_without_cpg_is_read_as_chinese(server: Server, tokens: dict[str, str], tmp_path: Path) -> None:
    base = tmp_path / "片区"
    with shapefile.Writer(str(base), shapeType=shapefile.POLYGON, encoding="gbk") as w:
        for field in ("area_id", "name", "kind", "village_id"):
            w.field(field, "C", size=20)
        w.poly([[tuple(p) for p in _square(LON + 0.005, LAT + 0.005, 0.005)]])
        w.record("GBK1", "王堃家村", "自然村", OTHER_VILLAGE)
    assert not base.with_suffix(".cpg").exists()
    data = _zip({p.name: p.read_bytes() for p in tmp_path.iterdir()})
    with httpx.Client(base_url=server.url, timeout=60) as client:
        # the town admin of the other town may load its own village's areas
        answer = client.post("/api/v1/imports", headers=bearer(tokens["other_town"]), files={"areas": ("片区.zip", data)})
        assert answer.status_code == 200, answer.text
        assert any("GB18030" in w for w in answer.json()["warnings"])
        areas = client.get("/api/v1/areas", params={"village": OTHER_VILLAGE}, headers=bearer(tokens["other_town"]))
    assert [f["properties"]["name"] for f in areas.json()["features"]] == ["王堃家村"]


def test_default_secret_is_refused_outside_development(tmp_path: Path) -> None:
    import subprocess

    from server import EXE, env

    base = env()
    base.pop("ZHUDIAN_SECRET")
    proc = subprocess.run([str(EXE), "serve", str(tmp_path / "x.db"), "--port", "1"], capture_output=True, text=True,
                          env=base, timeout=60)
    assert proc.returncode == 2 and "ZHUDIAN_SECRET" in proc.stderr
    assert not (tmp_path / "x.db").exists()
