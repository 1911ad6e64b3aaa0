"""The one door (`bot.patches`): each patch refuses, at import and at install, a library version it was not
written for, with a message naming the library, both versions and what to re-check; nothing outside the door
touches those internals."""

from __future__ import annotations

import ast
import importlib
import pathlib
import pkgutil
import re
from typing import Any, List, Tuple

import pytest

import bot.patches
from bot.patches import PatchVersionError, versions

REPO = pathlib.Path(__file__).resolve().parents[2]

# module -> the distribution whose internals it patches
PATCHES = {
    "bot.patches.sanic_framing": "sanic",
    "bot.patches.socketio_manager": "python-socketio",
    "bot.patches.rasa_events": "rasa",
    "bot.patches.rasa_stores": "rasa",
    "bot.patches.rasa_rest": "rasa",
    "bot.patches.wechatpy_crypto": "wechatpy",
}

# Installers, called the way their call sites call them.
INSTALLERS = {
    "bot.patches.sanic_framing": lambda module: module.install(),
    "bot.patches.rasa_events": lambda module: module.install(),
    "bot.patches.socketio_manager": lambda module: module.install(_server(), _manager()),
}


def _server() -> Any:
    import socketio

    return socketio.AsyncServer(async_mode="sanic")


def _manager() -> Any:
    import socketio

    return socketio.AsyncManager()


def _pretend(monkeypatch: pytest.MonkeyPatch, distribution: str, version: Any) -> None:
    real = versions.installed
    monkeypatch.setattr(versions, "installed", lambda name: version if name == distribution else real(name))


def test_every_module_of_the_door_is_listed_here_and_says_why() -> None:
    found = {f"bot.patches.{info.name}" for info in pkgutil.iter_modules(bot.patches.__path__)} - {
        "bot.patches.versions"
    }
    assert found == set(PATCHES)
    for name, distribution in PATCHES.items():
        module = importlib.import_module(name)
        assert module.PIN.library == distribution and module.PIN.patch == name
        assert "Why not the public API:" in (module.__doc__ or "")
        assert f"`{name.rsplit('.', 1)[1]}`" in bot.patches.__doc__  # listed in the door's table


@pytest.mark.parametrize("name, distribution", sorted(PATCHES.items()))
def test_import_fails_on_another_version_saying_what_to_recheck(
    name: str, distribution: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = importlib.import_module(name)
    module.PIN.check()  # the installed version is the one it was written for
    _pretend(monkeypatch, distribution, "99.1.0")
    with pytest.raises(PatchVersionError) as caught:
        importlib.reload(module)
    message = str(caught.value)
    assert f"{distribution} 99.1.0 is installed" in message
    assert f"written for {distribution} {module.PIN.supported}" in message
    assert f"Re-check {module.PIN.recheck}" in message and name in message


@pytest.mark.parametrize("name", sorted(INSTALLERS))
def test_installer_fails_on_another_version(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    module = importlib.import_module(name)
    _pretend(monkeypatch, PATCHES[name], "0.1")
    with pytest.raises(PatchVersionError, match=rf"{re.escape(PATCHES[name])} 0\.1 is installed"):
        INSTALLERS[name](module)


def test_a_missing_library_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    module = importlib.import_module("bot.patches.wechatpy_crypto")
    _pretend(monkeypatch, "wechatpy", None)
    with pytest.raises(PatchVersionError, match="wechatpy is not installed"):
        module.PIN.check()


def test_version_error_is_not_an_import_error() -> None:
    # Rasa loads a configured tracker store catching ImportError and silently falls back to memory.
    assert not issubclass(PatchVersionError, ImportError)


def test_the_socketio_redis_manager_speaks_json_only() -> None:
    import pickle

    from bot.patches import socketio_manager

    message = {"method": "emit", "event": "bot_uttered", "data": {"text": "您好"}, "room": "s1", "callback": None}
    assert socketio_manager.decode(json_bytes(message)) == message
    for foreign in (pickle.dumps(message), b"[1, 2]", b'{"no": "method"}', b"\xff\xfe", "not bytes", None):
        assert socketio_manager.decode(foreign) is None


def json_bytes(message: Any) -> bytes:
    import json

    return json.dumps(message, ensure_ascii=False).encode("utf-8")


def test_socketio_manager_swap_is_idempotent() -> None:
    from bot.patches import socketio_manager

    sio, manager = _server(), _manager()
    socketio_manager.install(sio, manager)
    socketio_manager.install(sio, manager)
    assert sio.manager is manager and manager.server is sio


# Names of library internals that only the door may use, override or import.
PRIVATE_NAMES = {
    "_additional_events", "_stream_new_events", "_retrieve", "_event_query", "resolve_by_type", "_extract_sender",
    "_extract_message", "_extract_input_channel", "_encrypt", "get_random_string", "http1_request_header",
    "_publish", "_listen", "_redis_connect",
}
PRIVATE_IMPORTS = {"Http", "http_protocol", "BasePrpCrypto"}


def _uses_of_internals(tree: ast.AST) -> List[Tuple[int, str]]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in PRIVATE_NAMES:
            found.append((node.lineno, node.attr))
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name in PRIVATE_NAMES:
            found.append((node.lineno, f"def {node.name}"))
        elif isinstance(node, ast.ImportFrom) and {alias.name for alias in node.names} & PRIVATE_IMPORTS:
            found.append((node.lineno, f"from {node.module} import"))
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Attribute) and target.attr == "manager":
                    found.append((node.lineno, ".manager ="))
    return found


def test_nothing_outside_the_door_touches_the_patched_internals() -> None:
    offenders = []
    for folder in ("bot", "actions"):
        for path in sorted((REPO / folder).rglob("*.py")):
            if path.parent == REPO / "bot" / "patches":
                continue
            tree = ast.parse(path.read_text(encoding="utf-8"))
            offenders += [f"{path.relative_to(REPO)}:{line}: {what}" for line, what in _uses_of_internals(tree)]
    assert offenders == []


def test_the_door_check_finds_a_patch_outside_the_door() -> None:
    source = "from sanic.server.protocols import http_protocol\nsio.manager = m\nx = Event.resolve_by_type('user')\n"
    assert [what for _, what in _uses_of_internals(ast.parse(source))] == [
        "from sanic.server.protocols import", ".manager =", "resolve_by_type"
    ]
