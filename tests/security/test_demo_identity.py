"""Finding 7: `/demo` signed VIP identities for any caller that looked local, so for every caller behind a reverse
proxy on the same host. Now it signs only for a browser on this machine through no proxy, and in production
mode the page does not exist."""

from __future__ import annotations

from typing import Dict, Iterator

import pytest
import requests

from bot.data_keys import generate_key
from bot.run import Stack
from bot.settings import production_mode
from desk_harness import desk_env, desk_process

VIP = {"customer": "c-vip-1", "tier": "vip", "name": "Mallory"}


def minted(script: str) -> bool:
    """Whether a `/demo/config.js` answer carries a signed identity."""
    return '"identity"' in script


@pytest.mark.stack
def test_demo_signs_for_a_browser_on_this_machine(stack: Stack) -> None:
    """The developer's own browser still gets its demo identity (the page works as before)."""
    answer = requests.get(f"{stack.desk_url}/demo/config.js", params=VIP, timeout=10)
    assert answer.status_code == 200 and minted(answer.text), answer.text


@pytest.mark.stack
@pytest.mark.parametrize("header", [
    {"X-Forwarded-For": "203.0.113.7"},
    {"X-Real-IP": "203.0.113.7"},
    {"Forwarded": "for=203.0.113.7;proto=https"},
    {"X-Forwarded-For": "127.0.0.1"},  # a proxy passing on what the caller claims is no better
], ids=["x-forwarded-for", "x-real-ip", "forwarded", "forged loopback"])
def test_demo_refuses_to_mint_vip_identity_through_a_reverse_proxy(stack: Stack, header: Dict[str, str]) -> None:
    answer = requests.get(f"{stack.desk_url}/demo/config.js", params=VIP, headers=header, timeout=10)
    assert answer.status_code == 200
    assert not minted(answer.text), answer.text
    assert "not through a proxy" in answer.text


@pytest.fixture(scope="module")
def production_desk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The desk process alone, in production mode (`FRONTLINE_ENDPOINTS=endpoints.prod.yml`)."""
    tmp = tmp_path_factory.mktemp("prod-desk")
    env = desk_env(
        tmp,
        FRONTLINE_ENDPOINTS="endpoints.prod.yml",
        FRONTLINE_IDENTITY_SECRET="production-identity-secret-0123456789abcdef",
        FRONTLINE_DESK_SECRET="production-desk-secret",
        RASA_TOKEN="production-rasa-token",
        FRONTLINE_DATA_KEYS=generate_key(),
    )
    with desk_process(env, tmp / "desk.log") as url:
        yield url


@pytest.mark.parametrize("path", ["/demo", "/demo/config.js", "/demo/webchat.js"])
def test_production_desk_has_no_demo_to_mint_identities(production_desk: str, path: str) -> None:
    answer = requests.get(f"{production_desk}{path}", params=VIP, timeout=10)
    assert answer.status_code == 404, answer.text[:200]
    assert not minted(answer.text)
    assert requests.get(f"{production_desk}/console", timeout=10).status_code == 200  # the desk itself serves


@pytest.mark.parametrize("environ, expected", [
    ({}, False),
    ({"FRONTLINE_ENDPOINTS": "endpoints.yml"}, False),
    ({"DATABASE_URL": "sqlite:////tmp/desk.db"}, False),
    ({"FRONTLINE_ENDPOINTS": "endpoints.prod.yml"}, True),
    ({"FRONTLINE_ENDPOINTS": "/etc/frontline/endpoints.company.yml"}, True),
    ({"DATABASE_URL": "postgresql://frontline@db:5432/frontline"}, True),
    ({"DATABASE_URL": "postgresql+psycopg2://frontline@db/frontline"}, True),
    ({"DATABASE_URL": "postgres://frontline@db/frontline"}, True),
])
def test_production_mode_has_one_definition(environ: Dict[str, str], expected: bool) -> None:
    assert production_mode(environ) is expected
