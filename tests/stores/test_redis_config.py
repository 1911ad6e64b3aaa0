"""The one reader of the Redis settings (`bot.redis_config`): URL or host form, password, TLS, clear errors."""

from __future__ import annotations

from typing import Dict

import pytest

from bot.redis_config import RedisSettings, redis_settings
from bot.settings import SettingsError


def test_no_redis_on_one_machine() -> None:
    assert redis_settings({}) is None
    assert redis_settings({"FRONTLINE_REDIS_HOST": "  ", "FRONTLINE_REDIS_URL": ""}) is None


def test_the_host_form_keeps_its_defaults_and_takes_a_password() -> None:
    assert redis_settings({"FRONTLINE_REDIS_HOST": "redis.internal"}) == RedisSettings("redis.internal", 6379, 1)
    settings = redis_settings({"FRONTLINE_REDIS_HOST": "10.0.0.5", "FRONTLINE_REDIS_PORT": "6380",
                               "FRONTLINE_REDIS_DB": "3", "FRONTLINE_REDIS_PASSWORD": "p@ss:word/1"})
    assert (settings.host, settings.port, settings.db, settings.password, settings.tls) == (
        "10.0.0.5", 6380, 3, "p@ss:word/1", False)
    assert settings.url == "redis://:p%40ss%3Aword%2F1@10.0.0.5:6380/3"


def test_the_url_form_with_password_user_database_and_tls() -> None:
    settings = redis_settings({
        "FRONTLINE_REDIS_URL": "rediss://frontline:s%40cret@redis.internal:6390/4?ssl_ca_certs=/etc/ca.pem",
        "FRONTLINE_REDIS_HOST": "ignored",
    })
    assert (settings.host, settings.port, settings.db, settings.username, settings.password, settings.tls) == (
        "redis.internal", 6390, 4, "frontline", "s@cret", True)
    assert settings.options() == {"ssl_ca_certs": "/etc/ca.pem"}
    assert settings.url == "rediss://frontline:s%40cret@redis.internal:6390/4"
    client = settings.client(socket_timeout=1)
    kwargs = client.connection_pool.connection_kwargs
    assert (kwargs["password"], kwargs["username"], kwargs["db"], kwargs["ssl_ca_certs"]) == (
        "s@cret", "frontline", 4, "/etc/ca.pem")
    assert client.connection_pool.connection_class.__name__ == "SSLConnection"


def test_a_url_without_port_or_database_and_the_password_variable() -> None:
    settings = redis_settings({"FRONTLINE_REDIS_URL": "redis://redis.internal", "FRONTLINE_REDIS_PASSWORD": "pw"})
    assert (settings.port, settings.db, settings.password) == (6379, 1, "pw")


def test_logs_never_see_the_password() -> None:
    settings = redis_settings({"FRONTLINE_REDIS_URL": "rediss://:topsecret@redis.internal:6390/4"})
    assert settings.describe() == "redis.internal:6390/4 (TLS, password)"
    assert "topsecret" not in repr(settings) and "topsecret" not in settings.describe()


@pytest.mark.parametrize(
    "env, says",
    [
        ({"FRONTLINE_REDIS_URL": "http://redis.internal"}, "must start with redis:// or rediss://"),
        ({"FRONTLINE_REDIS_URL": "redis.internal:6379"}, "must start with redis:// or rediss://"),
        ({"FRONTLINE_REDIS_URL": "redis://:pw@/1"}, "names no host"),
        ({"FRONTLINE_REDIS_URL": "redis://:topsecret@h:99999/1"}, "not a URL"),
        ({"FRONTLINE_REDIS_URL": "redis://:topsecret@h/x"}, "the database of FRONTLINE_REDIS_URL"),
        ({"FRONTLINE_REDIS_URL": "redis://h/1?db=2"}, "unknown option(s) db"),
        ({"FRONTLINE_REDIS_URL": "redis://:a@h/1", "FRONTLINE_REDIS_PASSWORD": "b"}, "two different passwords"),
        ({"FRONTLINE_REDIS_HOST": "h", "FRONTLINE_REDIS_PORT": "63 79"}, "FRONTLINE_REDIS_PORT must be a whole number"),
        ({"FRONTLINE_REDIS_HOST": "h", "FRONTLINE_REDIS_DB": "-1"}, "FRONTLINE_REDIS_DB must be a whole number"),
    ],
)
def test_unusable_settings_are_named_without_the_password(env: Dict[str, str], says: str) -> None:
    with pytest.raises(SettingsError) as caught:
        redis_settings(env)
    assert says in str(caught.value) and "topsecret" not in str(caught.value)
