"""`python -m bot run --production` checks everything it can before it starts anything, naming what is wrong.

Uses the real services on 127.0.0.1 (PostgreSQL 5432, Redis 6379, RabbitMQ 5672) for the case that passes.
"""

from __future__ import annotations

import os
import pathlib
import socket
import subprocess
import sys
from typing import Dict

import pytest

from bot.data_keys import generate_key
from bot.devtools import free_port
from bot.settings import repo_root
from bot.topology.launcher import preflight
from tests.topology.ports import free_layout

ROOT = repo_root()
PRODUCTION_ENV: Dict[str, str] = {
    "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
    "FRONTLINE_ENDPOINTS": "endpoints.prod.yml",
    "FRONTLINE_PG_HOST": "127.0.0.1",
    "FRONTLINE_PG_PORT": "5432",
    "FRONTLINE_PG_DB": "test",
    "FRONTLINE_PG_USER": "postgres",
    "FRONTLINE_PG_PASSWORD": "",
    "FRONTLINE_REDIS_HOST": "127.0.0.1",
    "FRONTLINE_REDIS_PORT": "6379",
    "FRONTLINE_RABBITMQ_HOST": "127.0.0.1",
    "FRONTLINE_RABBITMQ_USER": "guest",
    "FRONTLINE_RABBITMQ_PASSWORD": "guest",
    "DATABASE_URL": "postgresql://postgres@127.0.0.1:5432/test",
    "FRONTLINE_DATA_KEYS": generate_key(),
}


@pytest.mark.postgres
@pytest.mark.redis
def test_a_complete_production_environment_passes() -> None:
    assert preflight(ROOT, free_layout(), PRODUCTION_ENV) == []


@pytest.mark.parametrize("database_url", [None, "sqlite:///var/desk.db"])
def test_the_desks_need_a_shared_postgresql(database_url) -> None:
    env = {k: v for k, v in PRODUCTION_ENV.items() if k != "DATABASE_URL"}
    if database_url:
        env["DATABASE_URL"] = database_url
    assert "the desks share one database: set DATABASE_URL=postgresql://user@host:5432/db" in preflight(
        ROOT, free_layout(), env
    )


def test_the_default_sqlite_endpoints_are_refused() -> None:
    problems = preflight(ROOT, free_layout(), {**PRODUCTION_ENV, "FRONTLINE_ENDPOINTS": "endpoints.yml"})
    assert any(p.startswith("endpoints.yml keeps the tracker_store in SQLite") for p in problems), problems
    assert any(p.startswith("endpoints.yml keeps the event_broker in SQLite") for p in problems), problems
    assert any(p.startswith("endpoints.yml has no shared lock store") for p in problems), problems


def test_unset_variables_are_named() -> None:
    env = {k: v for k, v in PRODUCTION_ENV.items() if k not in ("FRONTLINE_PG_HOST", "FRONTLINE_RABBITMQ_USER")}
    problems = preflight(ROOT, free_layout(), env)
    assert (
        "endpoints.prod.yml needs these variables, unset: FRONTLINE_PG_HOST, FRONTLINE_RABBITMQ_USER "
        "(README: Environment variables)"
    ) in problems


def test_an_unreachable_service_is_named() -> None:
    closed = free_port()
    problems = preflight(ROOT, free_layout(), {**PRODUCTION_ENV, "FRONTLINE_REDIS_PORT": str(closed)})
    assert f"cannot reach the lock store's Redis at 127.0.0.1:{closed}" in problems


def test_a_busy_port_is_named() -> None:
    layout = free_layout()
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", layout.ports.desk))
        busy.listen()
        problems = preflight(ROOT, layout, PRODUCTION_ENV)
    assert any(p.startswith(f"port {layout.ports.desk} (HAProxy (desk)) is already in use") for p in problems)


def test_nothing_starts_when_a_check_fails(tmp_path: pathlib.Path) -> None:
    env = {k: v for k, v in PRODUCTION_ENV.items() if k != "DATABASE_URL"}
    env["FRONTLINE_VAR"] = str(tmp_path)
    layout = free_layout()
    result = subprocess.run(
        [sys.executable, "-m", "bot", "run", "--production", "--assistant-port", str(layout.ports.assistant),
         "--desk-port", str(layout.ports.desk), "--actions-port", str(layout.ports.actions),
         "--stats-port", str(layout.ports.stats), "--replica-ports", str(layout.ports.replica_base)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 1
    assert "error: the desks share one database: set DATABASE_URL" in result.stderr
    assert not (tmp_path / "run").exists() and not (tmp_path / "logs").exists()


def test_replicas_without_production_is_a_usage_error() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bot", "run", "--replicas", "2"], cwd=ROOT, capture_output=True, text=True,
        timeout=120, env={"PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 2
    assert "--replicas and --print-haproxy go with --production" in result.stderr


def test_a_missing_data_key_is_named() -> None:
    env = {k: v for k, v in PRODUCTION_ENV.items() if k != "FRONTLINE_DATA_KEYS"}
    problems = preflight(ROOT, free_layout(), env)
    assert "production mode encrypts stored conversations: set FRONTLINE_DATA_KEYS (docs/security/data.md)" in problems


def test_the_shared_redis_must_be_named() -> None:
    env = {k: v for k, v in PRODUCTION_ENV.items() if not k.startswith("FRONTLINE_REDIS_")}
    problems = preflight(ROOT, free_layout(), env)
    assert (
        "the Rasa servers share a lock store in Redis: set FRONTLINE_REDIS_URL or FRONTLINE_REDIS_HOST" in problems
    )
