"""The abuse-limit policy itself (`bot.ratelimit`): settings, counting, and which address a request counts under.

The attacks on the running servers are in the other `test_*_limit*` / `test_*flood*` modules of this folder.
"""

from __future__ import annotations

import ipaddress
import uuid

import pytest

from bot import ratelimit
from bot.settings import SettingsError, load_settings

TRUSTED = [ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("::1/128")]


def test_the_settings_file_holds_the_documented_defaults() -> None:
    settings = ratelimit.validate(load_settings())
    defaults = ratelimit.validate({})
    assert settings == defaults
    assert [str(i) for i in settings.policies[ratelimit.CONVERSATION]] == ["20 per 10 second", "60 per 1 minute"]
    assert settings.trusted_proxies == ()


@pytest.mark.parametrize(
    ("section", "named"),
    [
        ({"conversation_messages": "lots"}, "limits.conversation_messages"),
        ({"conversation_messages": 20}, "limits.conversation_messages"),
        ({"login_failures_per_name": "0 per minute"}, "limits.login_failures_per_name"),
        ({"trusted_proxies": ["10.0.0.0/33"]}, "limits.trusted_proxies"),
        ({"trusted_proxies": "10.0.0.1"}, "limits.trusted_proxies"),
        ({"conversation_message": "1 per second"}, "conversation_message"),
    ],
)
def test_a_wrong_setting_names_its_key(section: dict, named: str) -> None:
    with pytest.raises(SettingsError, match=named.replace(".", r"\.")):
        ratelimit.validate({"limits": section})


def test_a_burst_passes_and_the_next_message_waits_for_its_window() -> None:
    limiter = ratelimit.Limiter(ratelimit.validate({"limits": {"conversation_messages": "3 per 10 seconds"}}))
    assert [limiter.hit(ratelimit.CONVERSATION, "rest", "a") for _ in range(3)] == [None, None, None]
    wait = limiter.hit(ratelimit.CONVERSATION, "rest", "a")
    assert wait is not None and 1 <= wait <= 10
    assert limiter.hit(ratelimit.CONVERSATION, "rest", "b") is None  # another conversation is not affected
    assert limiter.test(ratelimit.CONVERSATION, "rest", "a") is not None


def test_every_limit_of_a_policy_applies() -> None:
    limiter = ratelimit.Limiter(
        ratelimit.validate({"limits": {"conversation_messages": "10 per 10 seconds; 2 per minute"}})
    )
    assert limiter.hit(ratelimit.CONVERSATION, "x") is None
    assert limiter.hit(ratelimit.CONVERSATION, "x") is None
    wait = limiter.hit(ratelimit.CONVERSATION, "x")
    assert wait is not None and 10 < wait <= 60  # the minute's window, not the 10 seconds'


def test_a_failing_redis_lets_messages_through() -> None:
    limiter = ratelimit.Limiter(ratelimit.validate({}), "redis://127.0.0.1:1/0")  # nothing listens on port 1
    assert all(limiter.hit(ratelimit.CONVERSATION, "rest", "a") is None for _ in range(30))


@pytest.mark.parametrize(
    ("peer", "forwarded", "counted"),
    [
        ("203.0.113.9", [], "203.0.113.9"),
        # an untrusted peer's X-Forwarded-For is its own invention
        ("203.0.113.9", ["198.51.100.1"], "203.0.113.9"),
        # a trusted proxy: the rightmost hop it did not add itself
        ("10.0.0.2", ["198.51.100.1"], "198.51.100.1"),
        ("10.0.0.2", ["6.6.6.6, 198.51.100.1"], "198.51.100.1"),
        ("10.0.0.2", ["6.6.6.6, 198.51.100.1, 10.0.0.7"], "198.51.100.1"),
        ("10.0.0.2", ["6.6.6.6", "198.51.100.1"], "198.51.100.1"),  # two headers are one list
        # garbage after the last trusted hop stops the walk at that hop
        ("10.0.0.2", ["198.51.100.1, not-an-address"], "10.0.0.2"),
        ("10.0.0.2", ["10.0.0.3"], "10.0.0.3"),
        ("10.0.0.2", [], "10.0.0.2"),
        ("::1", ["2001:db8::5"], "2001:db8::5"),
    ],
)
def test_the_address_counted(peer: str, forwarded: list, counted: str) -> None:
    assert ratelimit.client_address(peer, forwarded, TRUSTED) == counted


@pytest.mark.redis
def test_replicas_share_their_counts_in_redis() -> None:
    """Production mode: two processes' limiters (two Rasa replicas) count the same conversation together."""
    redis = pytest.importorskip("redis")
    try:
        redis.Redis(host="127.0.0.1", port=6379, socket_connect_timeout=1).ping()
    except redis.exceptions.RedisError:
        pytest.skip("Redis is not reachable on 127.0.0.1:6379")
    environ = {"FRONTLINE_REDIS_HOST": "127.0.0.1", "FRONTLINE_REDIS_PORT": "6379", "FRONTLINE_REDIS_DB": "1"}
    settings = {"limits": {"conversation_messages": "4 per minute"}}
    first, second = (ratelimit.Limiter.from_settings(settings, environ) for _ in range(2))
    assert first.uri == "redis://127.0.0.1:6379/1"
    conversation = f"shared-{uuid.uuid4().hex}"
    assert [first.hit(ratelimit.CONVERSATION, "rest", conversation) for _ in range(2)] == [None, None]
    assert [second.hit(ratelimit.CONVERSATION, "rest", conversation) for _ in range(2)] == [None, None]
    wait = first.hit(ratelimit.CONVERSATION, "rest", conversation)
    assert wait is not None and 1 <= wait <= 60
