"""The console blueprint: pages, static files, headers; and the real desk accepts the context packet."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any, Dict

import pytest
from rasa_sdk import Tracker

from bot.desk.app import create_app
from bot.desk.console import STATIC_DIR
from bot.desk.rasa_client import RasaClient
from bot.desk.store import Store
from bot.handoff import context
from bot.settings import load_settings

SECRET = "console-test-secret"


@pytest.fixture
def app(tmp_path: Any) -> Any:
    store = Store(f"sqlite:///{tmp_path / 'desk.db'}")
    store.migrate()
    yield create_app(
        load_settings(), store=store, rasa=RasaClient("http://127.0.0.1:9", token="t", timeout=1), broker=None,
        secret=SECRET, notify_positions=False,
    )
    store.close()


async def test_root_redirects_to_the_console(app: Any) -> None:
    _, response = await app.asgi_client.get("/", follow_redirects=False)
    assert response.status in (301, 302, 303, 307)
    assert response.headers["location"] == "/console"


@pytest.mark.parametrize(("path", "script"), [("/console", "/static/console.js"), ("/dashboard", "/static/dashboard.js")])
async def test_pages_are_served_with_a_strict_policy(app: Any, path: str, script: str) -> None:
    _, response = await app.asgi_client.get(path)
    assert response.status == 200
    assert response.headers["content-type"].startswith("text/html")
    policy = response.headers["content-security-policy"]
    assert "default-src 'self'" in policy and "script-src 'self'" in policy
    assert f'src="{script}"' in response.text
    assert "<script>" not in response.text  # no inline script: the policy would block it


async def test_static_files_are_local_only(app: Any) -> None:
    for name in ("console.js", "dashboard.js", "common.js", "console.css", "console.html", "dashboard.html"):
        _, response = await app.asgi_client.get(f"/static/{name}")
        assert response.status == 200, name
        assert not re.search(r"https?://(?!www\.w3\.org/2000/svg)", response.text), f"{name} loads something remote"
    _, response = await app.asgi_client.get("/static/../console.py")
    assert response.status == 404


def test_every_static_file_is_referenced() -> None:
    pages = "".join(page.read_text() for page in STATIC_DIR.glob("*.html"))  # console, dashboard, follow-ups
    for path in STATIC_DIR.iterdir():
        if path.suffix in (".js", ".css"):
            assert f"/static/{path.name}" in pages, path.name


async def test_the_desk_accepts_the_packet(app: Any, angry_state: Dict[str, Any]) -> None:
    packet = context.build_packet(
        Tracker.from_dict(angry_state), reason="anger", grade="A",
        created_at=dt.datetime(2025, 12, 1, 10, 0, tzinfo=dt.timezone(dt.timedelta(hours=8))),
    )
    headers = {"X-Frontline-Secret": SECRET}
    _, response = await app.asgi_client.post("/internal/tickets", headers=headers, json=packet)
    assert response.status == 201, response.text
    answer = response.json
    assert re.fullmatch(r"T-\d{6}", answer["id"])
    assert answer["position"] == 1
    assert answer["skill"] == "after_sales"  # topic faq_refund_status -> settings desk.skills
    _, again = await app.asgi_client.post("/internal/tickets", headers=headers, json=packet)
    assert again.status == 200 and again.json["id"] == answer["id"]
    _, stored = await app.asgi_client.get(f"/internal/tickets/{answer['id']}", headers=headers)
    assert stored.json["customer"]["tier"] == "vip"
    assert stored.json["anger"] == 0.86
