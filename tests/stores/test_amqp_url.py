"""Broker credentials are percent-encoded where the RabbitMQ URL is built (`bot.amqp`), for Rasa's broker and the
desk's consumer alike: a password with `@ : / %` logs in."""

from __future__ import annotations

import shutil
import subprocess
import uuid

import pytest

from bot.amqp import amqp_url
from tests.desk.test_events import rabbit_available

PASSWORD = "p@ss:w/rd%41 #?"


def test_user_and_password_are_encoded() -> None:
    assert amqp_url("rabbit.local", 5672, "front line", PASSWORD) == (
        "amqp://front%20line:p%40ss%3Aw%2Frd%2541%20%23%3F@rabbit.local:5672/"
    )
    assert amqp_url("amqp://rabbit.local/vh", 5671, "u", "a@b") == "amqp://u:a%40b@rabbit.local:5671/vh"
    assert amqp_url("amqp://x:y@rabbit.local:5672/", 1, "u", "p") == "amqp://x:y@rabbit.local:5672/"


def test_the_desk_reads_the_endpoints_password_encoded(tmp_path, monkeypatch) -> None:
    from bot.desk import config

    endpoints = tmp_path / "endpoints.yml"
    endpoints.write_text('event_broker:\n  type: bot.pika_broker.ConfirmedPikaBroker\n  url: "${RMQ_HOST}"\n'
                         '  username: guest\n  password: "${RMQ_PW}"\n  queues:\n    - frontline_events\n')
    monkeypatch.delenv("FRONTLINE_BROKER", raising=False)
    monkeypatch.setenv("RMQ_HOST", "rabbit.local")
    monkeypatch.setenv("RMQ_PW", "a@b:c/d%")
    monkeypatch.setenv("FRONTLINE_ENDPOINTS", str(endpoints))
    assert config.broker_url() == "amqp://guest:a%40b%3Ac%2Fd%25@rabbit.local:5672/?queue=frontline_events"


@pytest.mark.skipif(not (rabbit_available() and shutil.which("rabbitmqctl")), reason="needs RabbitMQ and rabbitmqctl")
async def test_a_password_with_url_characters_logs_in_to_rabbitmq() -> None:
    from bot.pika_broker import ConfirmedPikaBroker

    user = f"frontline_{uuid.uuid4().hex[:8]}"
    queue = f"frontline_url_{uuid.uuid4().hex[:8]}"
    subprocess.run(["rabbitmqctl", "add_user", user, PASSWORD], check=True, capture_output=True)
    subprocess.run(["rabbitmqctl", "set_permissions", "-p", "/", user, ".*", ".*", ".*"], check=True,
                   capture_output=True)
    broker = ConfirmedPikaBroker("127.0.0.1", 5672, user, PASSWORD, queues=[queue])
    try:
        await broker.publish_confirmed([{"event": "user", "sender_id": "rest:x", "sequence": 1}])
        channel = await broker._connection.channel()
        declared = await channel.declare_queue(queue, durable=True, passive=True)
        assert declared.declaration_result.message_count == 1
        await channel.queue_delete(queue)
    finally:
        await broker.close()
        subprocess.run(["rabbitmqctl", "delete_user", user], capture_output=True)
