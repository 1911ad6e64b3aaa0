"""Attacks on the desk's downloads of what customers mailed (`GET /api/tickets/{id}/attachments/{attachment_id}`,
`…/mails/{mail_id}/raw`), against a real desk process over real HTTP (so the path reaches sanic as a client
sends it, percent-encoding and all) sharing the Rasa server's var folder:

- another ticket's attachment id, asked through a ticket the agent may see: 404, never the other file;
- path traversal in the id (`../`, percent-encoded, doubly encoded, backslashes): 400 or 404, never a file;
- an agent without reach to the ticket: 403, never the file;
- a listing tampered to point outside the attachments folder: 404 (the desk checks the path it was given);
- an HTML attachment: served as an `application/octet-stream` attachment, never as a page.
"""

from __future__ import annotations

import http.client
import json
import pathlib
import sqlite3
from typing import Any, Dict, Iterator

import pytest
import requests

from bot import data_keys
from desk_harness import desk_cli, desk_env, desk_process
from tests.desk.mail_kept import NOTES, PAGE, email_packet, keep_mail, mime_mail

SECRET = "mail-attack-secret"
PASSWORD = "Mail-attack-pass-1"


def login(url: str, name: str) -> Dict[str, str]:
    """Sign in and change the one-time password (to the same words): the session may then use the API."""
    token = requests.post(f"{url}/api/login", json={"name": name, "password": PASSWORD}, timeout=10).json()["token"]
    headers = {"Authorization": f"Bearer {token}"}
    changed = requests.post(f"{url}/api/me/password", json={"old_password": PASSWORD, "password": PASSWORD},
                            headers=headers, timeout=10)
    assert changed.status_code == 204, changed.text
    token = requests.post(f"{url}/api/login", json={"name": name, "password": PASSWORD}, timeout=10).json()["token"]
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dict[str, Any]]:
    """A desk process; alice (orders) and bob (general only), and two e-mail tickets of alice's skill, each with
    a text and an HTML attachment kept in the var folder the desk shares."""
    folder = tmp_path_factory.mktemp("mail-attacks")
    key = data_keys.generate_key()  # the Rasa server's and the desk's data key (the kept mails are encrypted)
    env = desk_env(folder, FRONTLINE_DESK_SECRET=SECRET, **{data_keys.ENV_KEYS: key})
    var = pathlib.Path(env["FRONTLINE_VAR"])
    var.mkdir(parents=True, exist_ok=True)
    desk_cli(env, "add-agent", "alice", "--skills", "general,orders", "--password", PASSWORD)
    desk_cli(env, "add-agent", "bob", "--skills", "general", "--password", PASSWORD)
    with pytest.MonkeyPatch.context() as patch:  # the channel's side: the same key
        patch.setenv(data_keys.ENV_KEYS, key)
        mine, _ = keep_mail(var, mime_mail("wang@example.com", "<a1@example.com>", [NOTES, PAGE]))
        other, _ = keep_mail(var, mime_mail("li@example.com", "<b1@example.com>",
                                            [("secret.txt", "text/plain", b"li's")]))
    with desk_process(env, folder / "desk.log") as url:
        tickets = {}
        for thread in (mine, other):
            response = requests.post(f"{url}/internal/tickets", json=email_packet(thread),
                                     headers={"X-Frontline-Secret": SECRET}, timeout=5)
            assert response.status_code == 201, response.text
            tickets[thread] = response.json()["id"]
        alice, bob = login(url, "alice"), login(url, "bob")
        mails = {thread: requests.get(f"{url}/api/tickets/{code}", headers=alice, timeout=5).json()["mails"]
                 for thread, code in tickets.items()}
        yield {"url": url, "var": var, "key": key, "alice": alice, "bob": bob, "mine": tickets[mine], "other": tickets[other],
               "my_mails": mails[mine], "other_mails": mails[other], "my_thread": mine}


class Answer:
    """A desk's answer to a path sent exactly as written."""

    def __init__(self, status: int, headers: Dict[str, str], content: bytes) -> None:
        self.status_code, self.headers, self.content = status, headers, content
        self.text = content.decode("utf-8", "replace")

    def json(self) -> Any:
        return json.loads(self.content)


def get(desk: Dict[str, Any], path: str, who: str = "alice") -> Answer:
    """GET `path` with http.client, which sends it byte for byte (urllib3 would remove `../` segments first)."""
    host, port = desk["url"].removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=5)
    try:
        connection.request("GET", path, headers=desk[who])
        response = connection.getresponse()
        return Answer(response.status, {k.lower(): v for k, v in response.getheaders()}, response.read())
    finally:
        connection.close()


def test_another_tickets_attachment_id_is_not_found_through_this_ticket(desk: Dict[str, Any]) -> None:
    foreign = desk["other_mails"][0]["attachments"][0]
    assert get(desk, foreign["url"]).content == b"li's"  # alice may see it through its own ticket
    response = get(desk, f"/api/tickets/{desk['mine']}/attachments/{foreign['id']}")
    assert response.status_code == 404 and b"li's" not in response.content
    response = get(desk, f"/api/tickets/{desk['mine']}/mails/{desk['other_mails'][0]['id']}/raw")
    assert response.status_code == 404 and b"li@example.com" not in response.content


@pytest.mark.parametrize("attachment_id", [
    "../email.db", "..%2Femail.db", "..%2F..%2F..%2Fetc%2Fpasswd", "%2e%2e%2femail.db", "%252e%252e%252femail.db",
    "1-0%2F..%2F..%2Femail.db", "..%5Cemail.db", "1-0%00", "-1-0", "1-", "1--0", "%31-0x",
])
def test_path_traversal_in_the_id_serves_no_file(desk: Dict[str, Any], attachment_id: str) -> None:
    response = get(desk, f"/api/tickets/{desk['mine']}/attachments/{attachment_id}")
    assert response.status_code in (400, 404), (attachment_id, response.status_code)
    assert b"SQLite format" not in response.content and b"root:" not in response.content
    assert response.headers["content-type"].startswith("application/json")
    raw = get(desk, f"/api/tickets/{desk['mine']}/mails/{attachment_id}/raw")
    assert raw.status_code in (400, 404) and b"SQLite format" not in raw.content


def test_a_dot_dot_path_outside_the_route_serves_no_file(desk: Dict[str, Any]) -> None:
    for path in (f"/api/tickets/{desk['mine']}/attachments/../../../../email.db",
                 f"/api/tickets/{desk['mine']}/attachments/%2e%2e/%2e%2e/email.db"):
        response = get(desk, path)
        assert response.status_code in (400, 404) and b"SQLite format" not in response.content, path


def test_an_agent_without_reach_is_refused(desk: Dict[str, Any]) -> None:
    item = desk["my_mails"][0]["attachments"][0]
    response = get(desk, item["url"], who="bob")  # bob has no `orders` skill: the ticket is outside his reach
    assert response.status_code == 403 and "outside your reach" in response.json()["error"]
    assert NOTES[2] not in response.content
    raw = get(desk, desk["my_mails"][0]["raw_url"], who="bob")
    assert raw.status_code == 403 and b"wang@example.com" not in raw.content
    assert get(desk, item["url"], who="alice").status_code == 200  # the same URL works for an agent in reach


@pytest.mark.parametrize("stored", ["email.db", "../desk.db", "email-attachments/../email.db", "/etc/passwd"])
def test_a_listing_pointing_outside_the_attachments_folder_serves_nothing(desk: Dict[str, Any], stored: str) -> None:
    # What if the channel's table were tampered with (or a bug wrote a bad path)? The desk checks the path itself:
    # each of these files exists, and would be served without that check. The listing is encrypted, but one in
    # clear (as kept before encryption) is still read: someone without the key can write one.
    mail = desk["my_mails"][0]
    db = sqlite3.connect(str(desk["var"] / "email.db"))
    try:
        (listed,) = db.execute("SELECT attachments FROM inbound WHERE id=?", (mail["id"],)).fetchone()
        tampered = data_keys.DataCipher([desk["key"]]).loads(listed)
        tampered[0]["stored"] = stored
        db.execute("UPDATE inbound SET attachments=? WHERE id=?", (json.dumps(tampered), mail["id"]))
        db.commit()
        response = get(desk, mail["attachments"][0]["url"])
        assert response.status_code == 404, response.text
        assert b"SQLite format" not in response.content and b"root:" not in response.content
    finally:
        db.execute("UPDATE inbound SET attachments=? WHERE id=?", (listed, mail["id"]))
        db.commit()
        db.close()
    assert get(desk, mail["attachments"][0]["url"]).content == NOTES[2]


def test_an_html_attachment_is_served_as_an_octet_stream_download(desk: Dict[str, Any]) -> None:
    page = next(a for a in desk["my_mails"][0]["attachments"] if a["filename"] == "page.html")
    response = get(desk, page["url"])
    assert response.status_code == 200 and response.content == PAGE[2]
    assert response.headers["content-type"] == "application/octet-stream"
    assert response.headers["content-disposition"].startswith('attachment; filename="page.html"')
    assert response.headers["x-content-type-options"] == "nosniff"
