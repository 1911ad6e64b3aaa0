"""Redis trusted blindly (security review, finding 6), attacked on real Redis servers.

Before: python-socketio's Redis manager unpickled every message on the widget's Redis channel, so anyone who could
publish there ran code in every Rasa replica; and no Redis use (Rasa's lock store, the WeChat/WeCom channel state,
socket.io) could log in with a password or speak TLS.

The pickle test uses the Redis on 127.0.0.1:6379; the password test starts its own `redis-server` with
`requirepass` and TLS only (a test CA made with `openssl`).
"""

from __future__ import annotations

import asyncio
import logging
import pathlib
import pickle
import shutil
import socket
import subprocess
import time
import uuid
from typing import Any, Dict, Iterator, List

import pytest
import redis

from bot.channels import shared_state, webchat

pytestmark = pytest.mark.redis


class TouchesAFile:
    """A pickle that creates a file when it is loaded: what an attacker would replace with a shell command."""

    def __init__(self, path: pathlib.Path) -> None:
        self.path = path

    def __reduce__(self) -> Any:
        return (pathlib.Path.touch, (self.path,))


async def listening(manager: Any, channel: str, client: redis.Redis) -> None:
    """Start the manager's listener (python-socketio starts it on first use) and wait until it has subscribed."""
    import socketio

    from bot.patches import socketio_manager

    socketio_manager.install(socketio.AsyncServer(async_mode="asgi"), manager)
    manager.initialize()
    deadline = time.monotonic() + 5
    while dict(client.pubsub_numsub(channel)).get(channel.encode(), 0) < 1:
        assert time.monotonic() < deadline, "the socket.io manager never subscribed"
        await asyncio.sleep(0.05)


def recorded_emits(manager: Any) -> List[Dict[str, Any]]:
    """The messages the manager's listener hands on as emits (recorded, then handled as usual)."""
    seen: List[Dict[str, Any]] = []
    handle = manager._handle_emit

    async def record(message: Dict[str, Any]) -> None:
        seen.append(message)
        await handle(message)

    manager._handle_emit = record
    return seen


async def test_a_pickle_published_on_the_socketio_channel_does_not_run(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    channel = f"frontline:webchat:test-{uuid.uuid4().hex[:8]}"
    monkeypatch.setattr(webchat, "SOCKETIO_REDIS_CHANNEL", channel)
    manager = webchat.socketio_manager({"FRONTLINE_REDIS_HOST": "127.0.0.1", "FRONTLINE_REDIS_PORT": "6379"})
    client = redis.Redis(host="127.0.0.1", port=6379, db=1)
    emits = recorded_emits(manager)
    await listening(manager, channel, client)
    try:
        evidence = tmp_path / "pwned"
        caplog.set_level(logging.WARNING)
        client.publish(channel, pickle.dumps(TouchesAFile(evidence)))
        # then a message of the manager's own, so we know the listener went past the pickle
        await manager.emit("bot_uttered", {"text": "after the pickle"}, room="nobody")
        deadline = time.monotonic() + 5
        while not emits and not evidence.exists() and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert not evidence.exists(), "a pickle published on the Redis channel ran in the Rasa process"
        assert [m["data"] for m in emits] == [{"text": "after the pickle"}]
        assert "not ours was dropped" in caplog.text
    finally:
        manager.thread.cancel()
        await asyncio.gather(manager.thread, return_exceptions=True)
        client.close()


# --- a Redis that needs its password, over TLS only --------------------------------------------------------

PASSWORD = "s3cret/with:odd@chars"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def openssl(*args: str, cwd: pathlib.Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


@pytest.fixture(scope="module")
def tls_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dict[str, Any]]:
    """`redis-server` on a free port: TLS only, a password required; its CA file."""
    server, tool = shutil.which("redis-server"), shutil.which("openssl")
    if not server or not tool:
        pytest.skip("needs the redis-server and openssl programs")
    folder = tmp_path_factory.mktemp("redis-tls")
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "1",
            "-subj", "/CN=Frontline test CA", cwd=folder)
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr",
            "-subj", "/CN=127.0.0.1", cwd=folder)
    (folder / "san.cnf").write_text("subjectAltName=IP:127.0.0.1\n", encoding="ascii")
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", "server.pem", "-days", "1", "-extfile", "san.cnf", cwd=folder)
    port = free_port()
    config = folder / "redis.conf"  # the password in a file, not on a command line
    config.write_text(
        f"port 0\ntls-port {port}\ntls-cert-file {folder / 'server.pem'}\ntls-key-file {folder / 'server.key'}\n"
        f"tls-ca-cert-file {folder / 'ca.pem'}\ntls-auth-clients no\nrequirepass \"{PASSWORD}\"\nsave \"\"\n"
        f"appendonly no\nbind 127.0.0.1\n",
        encoding="utf-8",
    )
    process = subprocess.Popen([server, str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                assert process.poll() is None and time.monotonic() < deadline, "redis-server did not start"
                time.sleep(0.1)
        yield {"port": port, "ca": str(folder / "ca.pem")}
    finally:
        process.terminate()
        process.wait(timeout=10)


def tls_env(server: Dict[str, Any], password: str = PASSWORD) -> Dict[str, str]:
    from urllib.parse import quote

    login = f":{quote(password, safe='')}@" if password else ""
    return {"FRONTLINE_REDIS_URL": f"rediss://{login}127.0.0.1:{server['port']}/2?ssl_ca_certs={server['ca']}"}


def test_the_tls_redis_refuses_strangers(tls_redis: Dict[str, Any]) -> None:
    """The server the next test uses: no password, or no TLS, gets nothing."""
    with pytest.raises(redis.AuthenticationError):
        redis.Redis(host="127.0.0.1", port=tls_redis["port"], ssl=True, ssl_ca_certs=tls_redis["ca"]).ping()
    with pytest.raises(redis.ConnectionError):
        redis.Redis(host="127.0.0.1", port=tls_redis["port"], password=PASSWORD, socket_timeout=2).ping()


async def test_every_redis_use_logs_in_with_its_password_over_tls(
    tls_redis: Dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    env = tls_env(tls_redis)
    for name in ("FRONTLINE_REDIS_HOST", "FRONTLINE_REDIS_PORT", "FRONTLINE_REDIS_DB", "FRONTLINE_REDIS_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    admin = redis.Redis(host="127.0.0.1", port=tls_redis["port"], db=2, password=PASSWORD, ssl=True,
                        ssl_ca_certs=tls_redis["ca"])

    # the WeChat/WeCom channels' retry claims: the second claim of a message is lost, so they are in Redis
    state = shared_state.from_env(env)
    key = f"msg-{uuid.uuid4().hex[:8]}"
    assert (state.claim(key, 60), state.claim(key, 60)) == (True, False)
    assert admin.exists(f"{shared_state.KEY_PREFIX}:claim:{key}") == 1

    # Rasa's lock store, as endpoints.prod.yml configures it
    import yaml
    from rasa.core.lock_store import LockStore
    from rasa.utils.endpoints import EndpointConfig

    from bot.settings import repo_root

    section = yaml.safe_load((repo_root() / "endpoints.prod.yml").read_text(encoding="utf-8"))["lock_store"]
    store = LockStore.create(EndpointConfig.from_dict(section))
    conversation = f"rest:lock-{uuid.uuid4().hex[:6]}"
    async with store.lock(conversation):
        assert admin.keys(f"frontline:*{conversation}") != []

    # socket.io pushes between replicas: one publishes, the other's listener hands the emit on
    channel = f"frontline:webchat:test-{uuid.uuid4().hex[:8]}"
    monkeypatch.setattr(webchat, "SOCKETIO_REDIS_CHANNEL", channel)
    sender, receiver = webchat.socketio_manager(env), webchat.socketio_manager(env)
    emits = recorded_emits(receiver)
    await listening(receiver, channel, admin)
    try:
        await sender.emit("bot_uttered", {"text": "您好，我是客服小李"}, room="socketio-room")
        deadline = time.monotonic() + 5
        while not emits and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert [(m["data"], m["room"]) for m in emits] == [({"text": "您好，我是客服小李"}, "socketio-room")]
    finally:
        receiver.thread.cancel()
        await asyncio.gather(receiver.thread, return_exceptions=True)
        admin.close()
