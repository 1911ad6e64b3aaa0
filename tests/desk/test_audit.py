"""The audit log: every view and action recorded with who, when, what and from where; read and exported by
supervisors only; append-only (no code path changes a row; on PostgreSQL a trigger refuses it)."""

from __future__ import annotations

import csv
import io
import pathlib
import re
import uuid
from typing import Any, Dict

import pytest
import sqlalchemy as sa

from bot.desk.store import Store
from bot.settings import repo_root
from conftest import PG_URL, pg_available


async def create(app: Any, internal: Dict[str, str], packet: Dict[str, Any]) -> str:
    _, response = await app.asgi_client.post("/internal/tickets", headers=internal, json=packet)
    assert response.status == 201
    return response.json["id"]


async def test_every_view_and_action_is_recorded_with_who_what_and_where(
    app, internal, make_packet, agents, staff
) -> None:
    alice, sam = agents["alice"]["headers"], staff["sam"]["headers"]
    code = await create(app, internal, make_packet("audit-1", topic="faq_order_status"))
    other = await create(app, internal, make_packet("audit-2", topic="faq_order_status"))
    _, response = await app.asgi_client.post("/api/login", json={"name": "alice", "password": "nope"},
                                             headers={"X-Forwarded-For": "203.0.113.9"})
    assert response.status == 401
    _, response = await app.asgi_client.post("/api/login", json={"name": "alice", "password": "pw-alice-123"})
    assert response.status == 200
    await app.asgi_client.get(f"/api/tickets/{code}", headers=alice)
    await app.asgi_client.post(f"/api/tickets/{code}/claim", headers=alice)
    await app.asgi_client.post(f"/api/tickets/{code}/messages", headers=alice, json={"text": "您好 13812345678"})
    await app.asgi_client.post(f"/api/tickets/{code}/transfer", headers=alice, json={"agent": "carol"})
    await app.asgi_client.post(f"/api/tickets/{code}/reassign", headers=sam, json={"agent": "alice"})
    await app.asgi_client.post(f"/api/tickets/{code}/grade", headers=sam, json={"grade": "B"})
    await app.asgi_client.post(f"/api/tickets/{code}/resolve", headers=alice)
    await app.asgi_client.post(f"/api/tickets/{other}/handback", headers=alice)
    await app.asgi_client.post("/api/agents/bob/disable", headers=sam)
    # Refused and repeated actions are not actions: a 403 claim, and the replay of an Idempotency-Key.
    await app.asgi_client.post(f"/api/tickets/{code}/claim", headers=agents["dave"]["headers"])
    _, response = await app.asgi_client.get("/api/audit", headers=sam)
    assert response.status == 200
    entries = response.json
    assert [(e["actor"], e["action"], e["ticket"], e["target"]) for e in entries] == [
        ("alice", "login_failed", None, None),
        ("alice", "login", None, None),
        ("alice", "view", code, None),
        ("alice", "claim", code, None),
        ("alice", "reply", code, None),
        ("alice", "transfer", code, "carol"),
        ("sam", "reassign", code, "alice"),
        ("sam", "grade", code, None),
        ("alice", "resolve", code, None),
        ("alice", "handback", other, None),
        ("sam", "disable", None, "bob"),
    ]
    # The caller's address as the desk sees it: sanic-testing's ASGI client calls itself `mockserver` (a forged
    # X-Forwarded-For would not count: no proxy is trusted, `bot.ratelimit`).
    assert all(e["address"] == "mockserver" and e["at"].endswith("+00:00") for e in entries), entries
    assert entries[7]["detail"] == {"grade": "B"}
    assert "13812345678" not in response.text and "您好" not in response.text  # never customer or agent words


async def test_the_log_is_filtered_paged_and_exported_and_the_export_is_recorded(
    app, internal, make_packet, agents, staff
) -> None:
    alice, sam = agents["alice"]["headers"], staff["sam"]["headers"]
    first = await create(app, internal, make_packet("audit-f1", topic=None))
    second = await create(app, internal, make_packet("audit-f2", topic=None))
    for code in (first, second):
        await app.asgi_client.get(f"/api/tickets/{code}", headers=alice)
        await app.asgi_client.get(f"/api/tickets/{code}", headers=agents["bob"]["headers"])
    _, response = await app.asgi_client.get(f"/api/audit?ticket={second.lower()}&agent=bob", headers=sam)
    assert [(e["actor"], e["ticket"]) for e in response.json] == [("bob", second)]
    _, everything = await app.asgi_client.get("/api/audit", headers=sam)
    assert len(everything.json) == 4
    _, page = await app.asgi_client.get(f"/api/audit?limit=2&after={everything.json[1]['id']}", headers=sam)
    assert [e["id"] for e in page.json] == [e["id"] for e in everything.json[2:4]]
    _, response = await app.asgi_client.get("/api/audit?from=2000-01-01&to=2000-01-02", headers=sam)
    assert response.json == []
    _, response = await app.asgi_client.get("/api/audit?from=2000-01-01T00:00:00Z", headers=sam)
    assert len(response.json) == 4
    for bad in ("from=yesterday", "to=13/11/2026", "limit=0", "limit=x", "after=-1"):
        _, response = await app.asgi_client.get(f"/api/audit?{bad}", headers=sam)
        assert response.status == 400 and bad.split("=")[0] in response.json["error"], bad
    _, exported = await app.asgi_client.get(f"/api/audit/export?ticket={first}", headers=sam)
    assert exported.status == 200 and exported.headers["content-type"].startswith("text/csv")
    assert "attachment" in exported.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert [(r["actor"], r["action"], r["ticket"]) for r in rows] == [("alice", "view", first), ("bob", "view", first)]
    _, response = await app.asgi_client.get("/api/audit?agent=sam", headers=sam)
    [export] = response.json
    assert export["action"] == "export" and export["detail"] == {"count": 2, "query": {"ticket": first}}


async def test_a_csv_export_cannot_smuggle_a_spreadsheet_formula(app, internal, agents, staff) -> None:
    _, response = await app.asgi_client.post("/api/login", json={"name": "=HYPERLINK(\"x\")", "password": "p"})
    assert response.status == 401
    _, exported = await app.asgi_client.get("/api/audit/export", headers=staff["sam"]["headers"])
    [row] = list(csv.DictReader(io.StringIO(exported.text)))
    assert row["actor"] == "'=HYPERLINK(\"x\")" and row["action"] == "login_failed"


def test_no_code_path_updates_or_deletes_audit_rows() -> None:
    """SQLite cannot restrict the desk's own user: the guarantee is that no code changes the table."""
    table_names = {"audit", "desk_audit"}
    offenders = []
    for path in pathlib.Path(repo_root(), "bot").rglob("*.py"):
        source = path.read_text(encoding="utf-8")
        for name in table_names:
            if re.search(rf"\b{name}\.(update|delete)\(", source) or re.search(
                rf"(UPDATE|DELETE FROM)\s+{name}\b", source, re.IGNORECASE
            ):
                offenders.append(f"{path}: {name}")
    assert offenders == []


@pytest.mark.postgres
def test_postgresql_refuses_to_update_or_delete_an_audit_row() -> None:
    if not pg_available():
        pytest.skip("PostgreSQL is not reachable on 127.0.0.1:5432")
    store = Store(PG_URL, schema=f"desk_test_{uuid.uuid4().hex[:12]}")
    try:
        store.migrate()
        store.migrate()  # the trigger is installed again without error
        entry = store.append_audit(1.0, "mallory", "claim", "10.0.0.1", "T-000001")
        for statement in ("UPDATE desk_audit SET actor = 'someone' WHERE id = :id",
                          "DELETE FROM desk_audit WHERE id = :id"):
            with pytest.raises(sa.exc.DBAPIError, match="append-only"):
                with store.engine.begin() as conn:
                    conn.execute(sa.text(statement), {"id": entry})
        [kept] = store.audit_entries()
        assert (kept.actor, kept.action, kept.address) == ("mallory", "claim", "10.0.0.1")
    finally:
        store.drop_schema()
