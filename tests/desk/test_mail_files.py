"""What a customer's e-mails brought, in the desk API: an e-mail ticket lists its kept mails and their attachments
(`GET /api/tickets/{id}`: `mails`), and an agent downloads them (`…/attachments/{id}`, `…/mails/{id}/raw`) as
attachments only, with a safe content type. The attacks on these routes, against a real desk process, are in
`tests/security/test_mail_attachment_attacks.py`."""

from __future__ import annotations

import json
import pathlib
from typing import Any, Dict

import pytest

from mail_kept import NOTES, PAGE, PICTURE, PROGRAM, email_packet, keep_mail, mime_mail


@pytest.fixture
def var(app: Any, tmp_path: pathlib.Path) -> pathlib.Path:
    """The Rasa server's var folder, shared with the desk (as on one machine)."""
    folder = tmp_path / "var"
    folder.mkdir()
    app.ctx.mail_folder = folder
    return folder


async def open_email_ticket(app: Any, internal: Dict[str, str], thread: str) -> str:
    _, response = await app.asgi_client.post("/internal/tickets", headers=internal, json=email_packet(thread))
    assert response.status == 201, response.text
    return response.json["id"]


async def test_an_email_ticket_lists_its_mails_attachments_and_raw_mail(app, internal, agents, var) -> None:
    raw = mime_mail("wang@example.com", "<m1@example.com>", [NOTES, PAGE, PROGRAM])
    thread, listed = keep_mail(var, raw)
    assert [item.get("stored") is not None for item in listed] == [True, True, False]
    code = await open_email_ticket(app, internal, thread)
    _, response = await app.asgi_client.get(f"/api/tickets/{code}", headers=agents["alice"]["headers"])
    assert response.status == 200, response.text
    [mail] = response.json["mails"]
    assert mail["message_id"] == "<m1@example.com>" and mail["size"] == len(raw) == mail["kept_bytes"]
    assert mail["raw_url"] == f"/api/tickets/{code}/mails/{mail['id']}/raw"
    notes, page, program = mail["attachments"]
    assert notes == {"filename": "notes.txt", "content_type": "text/plain", "size": len(NOTES[2]),
                     "id": f"{mail['id']}-0", "url": f"/api/tickets/{code}/attachments/{mail['id']}-0"}
    assert page["id"] == f"{mail['id']}-1" and page["content_type"] == "text/html"
    assert program["filename"] == "setup.exe" and "id" not in program and "url" not in program
    assert "application/x-msdownload" in program["refused"]
    # Where the attachments are stored is the channel's business, never shown.
    assert "stored" not in str(response.json["mails"]) and "email-attachments" not in response.text


async def test_a_ticket_of_another_channel_lists_no_mails_and_serves_none(app, internal, agents, make_packet,
                                                                          var) -> None:
    thread, _ = keep_mail(var, mime_mail("wang@example.com", "<m2@example.com>", [NOTES]))
    # a widget conversation whose id happens to be the thread's: still not an e-mail ticket
    _, created = await app.asgi_client.post("/internal/tickets", headers=internal, json=make_packet(thread))
    code = created.json["id"]
    alice = agents["alice"]["headers"]
    _, response = await app.asgi_client.get(f"/api/tickets/{code}", headers=alice)
    assert response.status == 200 and "mails" not in response.json
    _, response = await app.asgi_client.get(f"/api/tickets/{code}/attachments/1-0", headers=alice)
    assert response.status == 404 and "not an e-mail ticket" in response.json["error"]


async def test_attachments_download_as_attachments_with_a_safe_type(app, internal, agents, staff, var) -> None:
    raw = mime_mail("wang@example.com", "<m3@example.com>", [NOTES, PAGE, PICTURE])
    thread, _ = keep_mail(var, raw)
    code = await open_email_ticket(app, internal, thread)
    alice = agents["alice"]["headers"]
    _, detail = await app.asgi_client.get(f"/api/tickets/{code}", headers=alice)
    [mail] = detail.json["mails"]
    served = {}
    for item in mail["attachments"]:
        _, response = await app.asgi_client.get(item["url"], headers=alice)
        assert response.status == 200, response.text
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["content-disposition"].startswith("attachment;")
        assert "sandbox" in response.headers["content-security-policy"]
        served[item["filename"]] = (response.headers["content-type"], response.body)
    assert served["notes.txt"] == ("text/plain", NOTES[2])  # allow-listed: its own type, still a download
    assert served["page.html"] == ("application/octet-stream", PAGE[2])  # never text/html
    assert served["photo.svg"] == ("application/octet-stream", PICTURE[2])  # an SVG can run scripts
    _, response = await app.asgi_client.get(mail["raw_url"], headers=alice)
    assert response.status == 200 and response.body == raw
    assert response.headers["content-type"] == "application/octet-stream"
    assert response.headers["content-disposition"] == f'attachment; filename="mail-{mail["id"]}.eml"; ' \
        f"filename*=UTF-8''mail-{mail['id']}.eml"
    # Each download is in the audit log, by id (never the customer's file name).
    _, log = await app.asgi_client.get("/api/audit", headers=staff["sam"]["headers"])
    downloads = [e["detail"] for e in log.json if e["actor"] == "alice" and e["ticket"] == code
                 and ("attachment" in e["detail"] or "raw_mail" in e["detail"])]
    expected = [{"attachment": f"{mail['id']}-{i}"} for i in range(3)] + [{"raw_mail": str(mail["id"])}]
    assert sorted(downloads, key=json.dumps) == sorted(expected, key=json.dumps)
    assert "notes.txt" not in log.text


async def test_a_chinese_file_name_survives_the_download(app, internal, agents, var) -> None:
    thread, _ = keep_mail(var, mime_mail("li@example.com", "<m4@example.com>", [("发票.pdf", "application/pdf", b"%PDF-1.4")]))
    code = await open_email_ticket(app, internal, thread)
    alice = agents["alice"]["headers"]
    _, detail = await app.asgi_client.get(f"/api/tickets/{code}", headers=alice)
    [item] = detail.json["mails"][0]["attachments"]
    _, response = await app.asgi_client.get(item["url"], headers=alice)
    assert response.headers["content-type"] == "application/pdf"
    assert "filename*=UTF-8''%E5%8F%91%E7%A5%A8.pdf" in response.headers["content-disposition"]


async def test_a_purged_file_is_a_clear_404(app, internal, agents, var) -> None:
    thread, listed = keep_mail(var, mime_mail("wang@example.com", "<m5@example.com>", [NOTES]))
    code = await open_email_ticket(app, internal, thread)
    (var / listed[0]["stored"]).unlink()
    _, detail = await app.asgi_client.get(f"/api/tickets/{code}", headers=agents["alice"]["headers"])
    url = detail.json["mails"][0]["attachments"][0]["url"]
    _, response = await app.asgi_client.get(url, headers=agents["alice"]["headers"])
    assert response.status == 404 and "gone" in response.json["error"]


async def test_an_unreadable_mail_store_still_opens_the_ticket_and_says_why(app, internal, agents, var) -> None:
    thread, _ = keep_mail(var, mime_mail("wang@example.com", "<m6@example.com>", [NOTES]))
    code = await open_email_ticket(app, internal, thread)
    for name in ("email.db", "email.db-wal", "email.db-shm"):
        if (var / name).exists():
            (var / name).unlink()
    (var / "email.db").write_bytes(b"not a database at all" * 100)
    alice = agents["alice"]["headers"]
    _, response = await app.asgi_client.get(f"/api/tickets/{code}", headers=alice)
    assert response.status == 200 and response.json["mails"] == []
    assert "cannot be read" in response.json["mails_error"]
    _, response = await app.asgi_client.get(f"/api/tickets/{code}/attachments/1-0", headers=alice)
    assert response.status == 503 and "cannot be read" in response.json["error"]
