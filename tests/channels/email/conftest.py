"""Fixtures of the e-mail stack tests: the SMTP relay the desk sends through, and the running system (Rasa with
the trained model, action server, desk) with the mail channel's SMTP listener in front of it.

A test module changes settings.yml for its own stack by overriding `mail_settings`, and its pinned clock by
overriding `mail_now`."""

from __future__ import annotations

import pathlib
import socket
import tempfile
import time
from typing import Any, Dict, Iterator

import pytest
import yaml

from bot.devtools import free_port
from bot.run import Ports, Stack, latest_model, start
from bot.settings import repo_root
from tests.channels.email.mail_helpers import SUPPORT, Relay
from tests.conftest import STACK_NOW, TEST_CHANNEL_ENV


@pytest.fixture(scope="module")
def relay() -> Iterator[Relay]:
    """The relay the desk's mail goes out through (each mail kept)."""
    started = Relay().start()
    yield started
    started.stop()


@pytest.fixture(scope="module")
def mail_settings() -> Dict[str, Any]:
    """Top-level sections of settings.yml replaced for this module's stack: none (override it in a module)."""
    return {}


@pytest.fixture(scope="module")
def mail_now() -> str:
    """The moment the module's stack is pinned at (`FRONTLINE_NOW`): `STACK_NOW` (override it in a module)."""
    return STACK_NOW


@pytest.fixture(scope="module")
def mail_stack(relay: Relay, mail_settings: Dict[str, Any], mail_now: str) -> Iterator[Dict[str, Any]]:
    """The running system with the mail channel on, its clock pinned (`mail_now`); yields the `stack`, the SMTP
    listener's port (`listen`) and its `var` folder. Its logs' ends are printed when it stops."""
    model = latest_model(repo_root())
    assert model is not None, "no trained model under models/"
    listen = free_port()
    env = {
        "FRONTLINE_NOW": mail_now, **TEST_CHANNEL_ENV,
        "FRONTLINE_EMAIL_ADDRESS": SUPPORT,
        "FRONTLINE_EMAIL_SMTP_LISTEN": f"127.0.0.1:{listen}",
        "FRONTLINE_SMTP_URL": f"smtp://127.0.0.1:{relay.port}",
    }
    with tempfile.TemporaryDirectory(prefix="frontline-email-") as tmp:
        var = pathlib.Path(tmp)
        if mail_settings:
            settings = yaml.safe_load((repo_root() / "settings.yml").read_text(encoding="utf-8"))
            settings.update(mail_settings)
            (var / "settings.yml").write_text(yaml.safe_dump(settings, allow_unicode=True), encoding="utf-8")
            env["FRONTLINE_SETTINGS"] = str(var / "settings.yml")
        stack: Stack = start(
            root=repo_root(), var=var, ports=Ports(rasa=free_port(), actions=free_port(), desk=free_port()),
            model=model, extra_env=env, log_dir=var / "logs",
        )
        try:
            _wait_for_listener(listen)
            yield {"stack": stack, "listen": listen, "var": var}
        finally:
            stack.stop()
            for log in sorted((var / "logs").glob("*.log")):
                print(f"--- {log.name}\n{log.read_text(errors='replace')[-3000:]}")


def _wait_for_listener(port: int, seconds: float = 60.0) -> None:
    """Wait until the SMTP listener accepts connections: Rasa answers its health check before its
    `after_server_start` listeners (where the e-mail readers start) have run, and on a loaded machine the gap
    is long enough for a first mail to be refused."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=2).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
