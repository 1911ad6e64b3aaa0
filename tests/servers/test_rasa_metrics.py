"""The Rasa server's `GET /metrics`: turns and their latency, handoffs by reason, delivery failures, the outbox;
counted from what the tracker store saves (a real store here) and scraped from the running Rasa server."""

from __future__ import annotations

import time
import uuid
from typing import Dict, Tuple

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families
from rasa.shared.core.events import ActionExecuted, BotUttered, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot.servers.rasa_metrics import RasaMeters

Samples = Dict[Tuple[str, Tuple[Tuple[str, str], ...]], float]


def samples(text: str) -> Samples:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def registry_samples(meters: RasaMeters) -> Samples:
    from prometheus_client import generate_latest

    return samples(generate_latest(meters.registry).decode())


def test_a_turn_counts_once_with_its_latency_and_a_handoff_with_its_reason() -> None:
    meters = RasaMeters()
    asked = time.time() - 1.5
    meters.observe_turn("wechat:oAbc", [
        UserUttered("转人工", timestamp=asked), ActionExecuted("action_handoff"),
        SlotSet("handoff_reason", "asked_for_human"), BotUttered("正在为您转接"),
    ], saved_at=asked + 1.5)
    meters.observe_turn("rest:bob", [UserUttered("hi", timestamp=asked), BotUttered("hello")], saved_at=asked + 0.2)
    meters.observe_turn("rest:bob", [SlotSet("language", "zh")])  # no customer message: no turn
    # a reason that is not a code, a channel that is not one: never a label of their own
    meters.observe_turn("13812345678", [UserUttered("x", timestamp=asked), ActionExecuted("action_handoff"),
                                        SlotSet("handoff_reason", "Call 13812345678")], saved_at=asked)
    found = registry_samples(meters)
    assert found[("frontline_rasa_turns_total", (("channel", "wechat"),))] == 1
    assert found[("frontline_rasa_turns_total", (("channel", "rest"),))] == 1
    assert found[("frontline_rasa_turns_total", (("channel", "other"),))] == 1
    assert found[("frontline_rasa_turn_seconds_count", (("channel", "wechat"),))] == 1
    assert found[("frontline_rasa_turn_seconds_sum", (("channel", "wechat"),))] == pytest.approx(1.5)
    assert found[("frontline_rasa_turn_seconds_bucket", (("channel", "rest"), ("le", "0.25")))] == 1
    assert found[("frontline_rasa_turn_seconds_bucket", (("channel", "wechat"), ("le", "1.0")))] == 0
    assert found[("frontline_rasa_handoffs_total", (("reason", "asked_for_human"),))] == 1
    assert found[("frontline_rasa_handoffs_total", (("reason", "other"),))] == 1
    assert "13812345678" not in str(found)


async def test_the_tracker_store_counts_each_saved_turn_once(tmp_path, monkeypatch) -> None:
    from bot.servers import rasa_metrics
    from bot.stores import TunedSQLTrackerStore

    meters = RasaMeters()
    monkeypatch.setattr(rasa_metrics, "rasa_meters", lambda: meters)
    monkeypatch.setattr("bot.stores.rasa_meters", lambda: meters)
    store = TunedSQLTrackerStore.from_url(f"sqlite:///{tmp_path / 'rasa.db'}")
    tracker = DialogueStateTracker.from_events("socketio:s1", [UserUttered("你好", timestamp=time.time())])
    await store.save(tracker)
    await store.save(tracker)  # nothing new: no second turn
    tracker.update(BotUttered("您好"))
    await store.save(tracker)
    found = registry_samples(meters)
    assert found[("frontline_rasa_turns_total", (("channel", "socketio"),))] == 1
    assert found[("frontline_rasa_turn_seconds_count", (("channel", "socketio"),))] == 1


@pytest.mark.stack
def test_the_running_rasa_server_serves_its_figures(stack) -> None:
    sender = f"metrics-{uuid.uuid4().hex[:8]}"
    before = samples(requests.get(f"{stack.rasa_url}/metrics", timeout=10).text)
    for text in ("退款多久能到账啊", "转人工"):
        answer = requests.post(f"{stack.rasa_url}/webhooks/rest/webhook", json={"sender": sender, "message": text},
                               timeout=30)
        assert answer.status_code == 200, answer.text
    response = requests.get(f"{stack.rasa_url}/metrics", timeout=10)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    after = samples(response.text)
    rest = (("channel", "rest"),)
    assert after[("frontline_rasa_turns_total", rest)] - before.get(("frontline_rasa_turns_total", rest), 0) == 2
    assert after[("frontline_rasa_turn_seconds_count", rest)] \
        - before.get(("frontline_rasa_turn_seconds_count", rest), 0) == 2
    handoff = ("frontline_rasa_handoffs_total", (("reason", "asked_for_human"),))
    assert after[handoff] - before.get(handoff, 0) == 1
    assert ("frontline_rasa_outbox_pending_events", ()) in after
    assert sender not in response.text
    # the channels' webhooks are where they were
    assert requests.get(f"{stack.rasa_url}/webhooks/rest/", timeout=10).status_code == 200
