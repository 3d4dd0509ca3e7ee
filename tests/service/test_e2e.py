"""The service end to end against a real uvicorn process on loopback: upload the demo data, zone
and plan as jobs, fetch a route and a sheet, post visits (retried too), read coverage."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from server import DEMO, TRIESEN, Server, bearer, token, wait_job

G1 = f"{TRIESEN}-G1"
MONTH = "2026-12"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp("service")
    srv = Server(tmp / "zhudian.db", tmp / "server.log").start()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="module")
def admin(server: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, headers=bearer(token(server.db, "city_admin", name="市管理员")),
                      timeout=120) as client:
        yield client


@pytest.fixture(scope="module")
def planned(admin: httpx.Client) -> dict:
    files = {k: (f"{k}.gpkg", (DEMO / f"{k}.gpkg").read_bytes()) for k in ("villages", "areas", "households", "roads")}
    imported = admin.post("/api/v1/imports", files=files)
    assert imported.status_code == 200, imported.text
    roster = admin.post("/api/v1/rosters", files={"file": ("花名册.csv", (DEMO / "roster.csv").read_bytes())})
    assert roster.status_code == 201, roster.text
    submitted = admin.post("/api/v1/jobs/zoning", json={"villages": [TRIESEN], "roster_id": roster.json()["id"],
                                                        "seconds": 2})
    assert submitted.status_code == 202 and submitted.headers["location"] == submitted.json()["url"]
    zoning = wait_job(admin, submitted.json())
    submitted = admin.post("/api/v1/jobs/plan", json={"month": MONTH, "villages": [TRIESEN], "seconds": 1})
    assert submitted.status_code == 202
    plan = wait_job(admin, submitted.json())
    return {"import": imported.json(), "roster": roster.json(), "zoning": zoning, "plan": plan}


def test_upload_reports_like_the_cli(planned: dict, admin: httpx.Client) -> None:
    report = planned["import"]
    assert report["villages"] == 11 and report["households"] + report["households_unplaced"] == 8375
    assert report["saved"]["households"]["added"] == report["households"]
    towns = admin.get("/api/v1/towns").json()
    assert towns == [{"id": 1, "name": "列支敦士登示范镇", "villages": 11, "households": report["households"]}]
    page = admin.get("/api/v1/households", params={"village": TRIESEN, "limit": 100}).json()
    assert page["type"] == "FeatureCollection" and page["numberReturned"] == 100
    nxt = admin.get(page["next"]).json()
    assert {f["id"] for f in page["features"]}.isdisjoint(f["id"] for f in nxt["features"])
    assert page["features"][0]["properties"]["personal_data"] == "full"


def test_zoning_and_plan_jobs_succeed(planned: dict, admin: httpx.Client) -> None:
    zoning, plan = planned["zoning"], planned["plan"]
    assert zoning["status"] == "succeeded" and zoning["percent"] == 100, zoning
    assert zoning["result"]["villages"][0]["status"] in ("optimal", "feasible")
    assert plan["status"] == "succeeded" and plan["result"]["month"] == MONTH, plan
    zones = admin.get(f"/api/v1/villages/{TRIESEN}/zones").json()
    assert [f["properties"]["group"] for f in zones["features"]] == [G1, f"{TRIESEN}-G2"]
    assert sum(f["properties"]["households"] for f in zones["features"]) == 1290
    month = admin.get(f"/api/v1/villages/{TRIESEN}/plans", params={"month": MONTH}).json()
    planned_stops = sum(len(s["stops"]) for g in plan["result"]["groups"] for s in g["sessions"])
    assert sum(g["stops"] for g in month["groups"]) == planned_stops
    jobs = admin.get("/api/v1/jobs").json()
    assert [j["kind"] for j in jobs[:2]] == ["plan", "zoning"]


def test_route_in_three_formats_and_a_pdf_sheet(planned: dict, admin: httpx.Client) -> None:
    params = {"month": MONTH}
    doc = admin.get(f"/api/v1/groups/{G1}/routes", params=params).json()
    stops = [t["household"] for s in doc["sessions"] for t in s["stops"]]
    assert stops and len(stops) == len(set(stops))
    # every session says where it starts: the office, or an outpost the plan chose
    result = next(g for g in planned["plan"]["result"]["groups"] if g["group"] == G1)
    starts = {(s["start_point"]["kind"], s["start_point"]["label"]) for s in doc["sessions"]}
    assert {k for k, _ in starts} <= {"depot", "outpost"} and ("depot", None) in starts
    assert {name for k, name in starts if k == "outpost"} == {o["label"] for o in result["outposts"]}
    gj = admin.get(f"/api/v1/groups/{G1}/routes", params=params | {"format": "geojson"})
    assert gj.headers["content-type"].startswith("application/geo+json")
    assert sum(f["properties"]["kind"] == "stop" for f in gj.json()["features"]) == len(stops)
    gpx = admin.get(f"/api/v1/groups/{G1}/routes", params=params | {"format": "gpx"})
    assert gpx.content.startswith(b"<?xml") and b"<trk>" in gpx.content
    pdf = admin.get(f"/api/v1/groups/{G1}/sheets", params=params)
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    html = admin.get("/api/v1/maps/zones", params={"village": TRIESEN})
    assert html.status_code == 200 and "<html" in html.text[:500].lower()


def _visits(db: Path, client_id: str) -> int:
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return con.execute("SELECT count(*) FROM visits WHERE client_id = ?", (client_id,)).fetchone()[0]
    finally:
        con.close()


def test_visits_are_idempotent_and_coverage_follows(planned: dict, admin: httpx.Client, server: Server) -> None:
    member = httpx.Client(base_url=server.url, headers=bearer(token(server.db, "group_member", group=G1)), timeout=60)
    own = member.get("/api/v1/households", params={"limit": 5000}).json()
    zone = [f["id"] for f in own["features"]]
    assert own["numberMatched"] == len(zone) > 0
    before = admin.get("/api/v1/coverage", params={"level": "zone", "village": TRIESEN}).json()
    body = {"client_id": str(uuid.uuid4()), "household": zone[0], "outcome": "met", "note": "身体好",
            "problem": {"text": "路灯坏了", "category": "基础设施"}}
    first = member.post("/api/v1/visits", json=body)
    again = member.post("/api/v1/visits", json=body)
    assert (first.status_code, again.status_code) == (201, 200) and first.json() == again.json()
    assert first.json()["group"] == G1 and first.json()["problem_id"] is not None
    # a phone retrying on a bad network: the same request eight times at once
    racing = {"client_id": str(uuid.uuid4()), "household": zone[1], "outcome": "not_home"}
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: member.post("/api/v1/visits", json=racing), range(8)))
    assert sorted(a.status_code for a in answers) == [200] * 7 + [201]
    assert len({a.json()["id"] for a in answers}) == 1 and _visits(server.db, racing["client_id"]) == 1
    changed = member.post("/api/v1/visits", json=racing | {"outcome": "met"})
    assert changed.status_code == 409 and "client_id" in changed.json()["detail"][0]["problem"]
    # outside the zone: refused
    other = admin.get("/api/v1/households", params={"village": "990101001001", "limit": 1}).json()["features"][0]
    assert member.post("/api/v1/visits", json=body | {"client_id": str(uuid.uuid4()),
                                                     "household": other["id"]}).status_code == 403
    # bulk CSV from the office: two new, one already stored
    csv = ("client_id,household,date,outcome,note\n"
           f"{body['client_id']},{zone[0]},{first.json()['date']},met,身体好\n"
           f"bulk-0001,{zone[2]},{first.json()['date']},见到,\n"
           f"bulk-0002,{zone[3]},{first.json()['date']},refused,不愿多谈\n")
    bulk = admin.post("/api/v1/visits/bulk", files={"file": ("走访.csv", csv.encode("utf-8"))})
    assert bulk.json() == {"rows": 3, "created": 2, "existing": 1}, bulk.text
    after = admin.get("/api/v1/coverage", params={"level": "zone", "village": TRIESEN}).json()
    g1 = {r["name"]: r for r in after["rows"]}[G1]
    was = {r["name"]: r for r in before["rows"]}[G1]
    assert g1["visited"] == was["visited"] + 3  # met, met, refused; not at home does not count
    assert g1["rate"] == round(g1["visited"] / g1["households"], 4)
    gaps = member.get("/api/v1/coverage/gaps", params={"limit": 5000}).json()
    assert gaps["numberMatched"] == len(zone) - 3 and zone[0] not in {f["id"] for f in gaps["features"]}
    member.close()


def test_scopes_and_masking(planned: dict, admin: httpx.Client, server: Server) -> None:
    inspector = httpx.Client(base_url=server.url, headers=bearer(token(server.db, "inspector")), timeout=60)
    props = inspector.get("/api/v1/households", params={"village": TRIESEN, "limit": 1}).json()["features"][0]["properties"]
    assert props["personal_data"] == "masked" and props["head"].endswith("*") and "****" in props["phone"]
    refused = inspector.post("/api/v1/visits", json={"client_id": "inspector-1", "household": "H04749",
                                                     "outcome": "met"})
    assert refused.status_code == 403 and "只能读取" in refused.json()["detail"][0]["problem"]
    assert inspector.get(f"/api/v1/groups/{G1}/sheets", params={"month": MONTH}).status_code == 403
    inspector.close()
    con = sqlite3.connect(f"file:{server.db}?mode=ro", uri=True)
    actions = [r[0] for r in con.execute("SELECT action FROM audit_log ORDER BY id")]
    who = {r[0] for r in con.execute("SELECT actor FROM audit_log")}
    con.close()
    assert actions[:4] == ["import", "roster.upload", "job.zoning", "job.plan"]
    assert {"visit.create", "visit.bulk"} <= set(actions) and "市管理员 (city_admin)" in who


def test_openapi_is_served(server: Server) -> None:
    schema = httpx.get(f"{server.url}/api/v1/openapi.json").json()
    assert {"/api/v1/imports", "/api/v1/jobs/zoning", "/api/v1/visits", "/api/v1/coverage"} <= set(schema["paths"])
    assert httpx.get(f"{server.url}/api/v1/towns").status_code == 401
