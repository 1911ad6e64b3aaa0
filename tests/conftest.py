"""Fixtures shared by the whole suite.

`stack`: the real system, started once per test session: the Rasa server (with the trained model in
`models/`), the action server and the desk, on free loopback ports, with a temporary `var/` folder, the clock
pinned to a Monday morning in business hours, and test credentials for the WeChat channels. Its Rasa and action
tokens are the kind that broke start-up once (a leading `-`, spaces, `$`, quotes): any token a user sets must
work. Tests that use it are marked `@pytest.mark.stack`.

`model_storage` and `execution_context`: what a Rasa graph component needs outside a graph run (component
round trips in `tests/anger`, `tests/nlu`, `tests/policies`).
"""

from __future__ import annotations

import os
import pathlib
import tempfile
from typing import Dict, Iterator

import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage

from bot.devtools import free_port
from bot.run import Ports, Stack, latest_model, start
from bot.settings import repo_root

ROOT = repo_root()
# A Monday morning, inside business hours: queue replies and SLA times never depend on when tests run.
STACK_NOW = "2025-12-01T10:00:00+08:00"
# Test-only WeChat / WeCom credentials (the EncodingAESKey is 43 characters, as WeChat requires).
TEST_CHANNEL_ENV: Dict[str, str] = {
    "WECHAT_TOKEN": "frontline-test-token",
    "WECHAT_ENCODING_AES_KEY": "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG",
    "WECHAT_APP_ID": "wx0123456789abcdef",
    "WECHAT_APP_SECRET": "frontline-test-secret",
    "WECOM_TOKEN": "frontline-wecom-token",
    "WECOM_ENCODING_AES_KEY": "0123456789abcdefghijklmnopqrstuvwxyzABCDEFG",
    "WECOM_CORP_ID": "ww0123456789abcdef",
    "WECOM_CORP_SECRET": "frontline-wecom-secret",
    "WECOM_AGENT_ID": "1000002",
    "WECHAT_KF_TOKEN": "frontline-kf-token",
    "WECHAT_KF_ENCODING_AES_KEY": "kfabcdefghijklmnopqrstuvwxyz0123456789ABCDE",
    "WECHAT_KF_CORP_ID": "ww0123456789abcdef",
    "WECHAT_KF_SECRET": "frontline-kf-secret",
    "WECHAT_KF_OPEN_KFID": "wkTESTKF0001",
    "FRONTLINE_IDENTITY_SECRET": "frontline-test-identity-secret-0123456789abcdef",
    # read as an option by `rasa run --auth-token …` (a leading `-` and no space), expanded by a shell, split by a
    # careless command line
    "RASA_TOKEN": "-frontline-test-rasa-token-$HOME-\"quoted\"-'single'",
    "FRONTLINE_ACTION_TOKEN": "-frontline test action token $PATH \"quoted\" 'single'",
    "FRONTLINE_DESK_SECRET": "frontline-test-desk-secret",
    # the REST channel open, as the tests call it without a token, whatever the developer's shell has set
    "FRONTLINE_REST_TOKEN": "",
}


@pytest.fixture(scope="session")
def stack_extra_env() -> Dict[str, str]:
    """Environment added to every process of the `stack` (override in a conftest to add more)."""
    return {"FRONTLINE_NOW": STACK_NOW, **TEST_CHANNEL_ENV}


@pytest.fixture(scope="session")
def stack(stack_extra_env: Dict[str, str]) -> Iterator[Stack]:
    """The running Frontline: Rasa server, action server and desk on free loopback ports."""
    model = latest_model(ROOT)
    if model is None:
        pytest.fail("no trained model under models/: run `make train` (make test does it) first")
    with tempfile.TemporaryDirectory(prefix="frontline-stack-") as tmp:
        var = pathlib.Path(tmp)
        started = start(
            root=ROOT,
            var=var,
            ports=Ports(rasa=free_port(), actions=free_port(), desk=free_port()),
            model=model,
            extra_env=stack_extra_env,
            log_dir=var / "logs",
        )
        try:
            yield started
        finally:
            started.stop()
            if os.environ.get("FRONTLINE_KEEP_LOGS"):
                for log in (var / "logs").glob("*.log"):
                    print(f"--- {log.name}\n{log.read_text(errors='replace')[-5000:]}")


@pytest.fixture()
def model_storage(tmp_path: pathlib.Path) -> LocalModelStorage:
    """A fresh model storage in a temporary folder."""
    storage = tmp_path / "storage"
    storage.mkdir()
    return LocalModelStorage.create(storage)


@pytest.fixture()
def execution_context() -> ExecutionContext:
    """An execution context for a component outside a graph run."""
    return ExecutionContext(GraphSchema({}), "test-model")
