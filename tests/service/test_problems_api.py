"""The problem ledger over HTTP: list (scoped, overdue), update status (audited, validated, refused
to inspectors and other towns), export XLSX read back with openpyxl."""

from __future__ import annotations

import datetime as dt
import io
import sqlite3
import uuid
from collections.abc import Iterator

import httpx
import pytest
from openpyxl import load_workbook

from api import store
from api.service.security import create_token
from api.store import _write_session
from api.store.models import Town
from server import SECRET, TRIESEN, Server, bearer, import_demo

pytestmark = pytest.mark.slow

TOWN = "列支敦士登示范镇"


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    tmp = tmp_path_factory.mktemp("problems")
    db = tmp / "zhudian.db"
    import_demo(db)
    engine = store.open_store(db)
    with _write_session(engine) as session:
        session.add(Town(name="别的镇"))
    tokens = {role: create_token(engine, SECRET, role=role, name=f"测试{role}", town=town)[0]
              for role, town in (("city_admin", None), ("inspector", None))}
    tokens["town_admin"] = create_token(engine, SECRET, role="town_admin", name="本镇", town=TOWN)[0]
    tokens["other_town"] = create_token(engine, SECRET, role="town_admin", name="别镇", town="别的镇")[0]
    engine.dispose()
    srv = Server(db, tmp / "server.log").start()
    clients = {k: httpx.Client(base_url=f"{srv.url}/api/v1", headers=bearer(t), timeout=60) for k, t in tokens.items()}
    try:
        yield {"server": srv, **clients}
    finally:
        for c in clients.values():
            c.close()
        srv.stop()


@pytest.fixture(scope="module")
def problem(env: dict) -> dict:
    admin = env["town_admin"]
    hid = admin.get("/households", params={"village": TRIESEN, "limit": 1}).json()["features"][0]["id"]
    visit = admin.post("/visits", json={"client_id": str(uuid.uuid4()), "household": hid, "outcome": "met",
                                        "date": "2026-03-02",
                                        "problem": {"text": "路灯坏了", "category": "基础设施",
                                                    "department": "镇规划建设办", "deadline": "2026-04-01"}})
    assert visit.status_code == 201, visit.text
    return {"id": visit.json()["problem_id"], "household": hid}


def test_list_and_overdue(env: dict, problem: dict) -> None:
    items = env["city_admin"].get("/problems", params={"village": TRIESEN}).json()
    item = next(i for i in items if i["id"] == problem["id"])
    assert item["household"] == problem["household"] and item["village"] == TRIESEN
    assert item["status"] == "open" and item["deadline"] == "2026-04-01" and item["category"] == "基础设施"
    assert "head" not in item and "phone" not in item
    late = env["town_admin"].get("/problems", params={"overdue": "true", "as_of": "2026-05-01"}).json()
    assert [i["id"] for i in late] == [problem["id"]] and late[0]["overdue"] and late[0]["overdue_days"] == 30
    assert env["town_admin"].get("/problems", params={"overdue": "true", "as_of": "2026-03-15"}).json() == []
    assert env["other_town"].get("/problems").json() == []  # out of scope: not listed
    assert [i["id"] for i in env["inspector"].get("/problems").json()] == [problem["id"]]
    assert env["city_admin"].get("/problems", params={"status": "bogus"}).status_code == 422


def test_update_is_validated_scoped_and_audited(env: dict, problem: dict) -> None:
    url = f"/problems/{problem['id']}"
    no_reason = env["town_admin"].patch(url, json={"status": "cannot_resolve"})
    assert no_reason.status_code == 422 and "原因" in no_reason.json()["detail"][0]["problem"]
    assert env["town_admin"].patch(url, json={"status": "done"}).status_code == 422
    assert env["town_admin"].patch("/problems/999999", json={"status": "resolved"}).status_code == 404
    refused = env["inspector"].patch(url, json={"status": "resolved", "note": "x"})
    assert refused.status_code == 403 and "只能读取" in refused.json()["detail"][0]["problem"]
    assert env["other_town"].patch(url, json={"status": "resolved", "note": "x"}).status_code == 403
    done = env["town_admin"].patch(url, json={"status": "resolved", "note": "已修好", "date": "2026-03-20"})
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "resolved" and done.json()["resolved_date"] == "2026-03-20"
    assert done.json()["resolution_note"] == "已修好" and not done.json()["overdue"]
    listed = env["city_admin"].get("/problems", params={"status": "resolved"}).json()
    assert [i["id"] for i in listed] == [problem["id"]]
    con = sqlite3.connect(f"file:{env['server'].db}?mode=ro", uri=True)
    rows = con.execute("SELECT actor, path, status FROM audit_log WHERE action = 'problem.update'").fetchall()
    con.close()
    assert rows == [("本镇 (town_admin)", f"/api/v1{url}", 200)]


def test_export_xlsx_and_csv(env: dict, problem: dict) -> None:
    got = env["town_admin"].get("/problems/export", params={"format": "xlsx"})
    assert got.status_code == 200 and got.headers["content-type"].startswith("application/vnd.openxmlformats")
    ws = load_workbook(io.BytesIO(got.content)).active
    rows = list(ws.iter_rows(values_only=True))
    assert rows[0][0] == "编号" and len(rows) == 2
    row = dict(zip(rows[0], rows[1]))
    assert row["编号"] == problem["id"] and row["户编号"] == problem["household"] and row["问题"] == "路灯坏了"
    assert row["办结期限"].date() == dt.date(2026, 4, 1)
    csv = env["inspector"].get("/problems/export", params={"format": "csv", "village": TRIESEN})
    assert csv.headers["content-type"].startswith("text/csv") and "路灯坏了" in csv.content.decode("utf-8-sig")
    empty = env["other_town"].get("/problems/export", params={"format": "csv"})
    assert empty.status_code == 200 and empty.content.decode("utf-8-sig").count("\n") == 1
