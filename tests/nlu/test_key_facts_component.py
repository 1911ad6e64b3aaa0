"""The key-fact extractor as a Rasa graph component: create, train, persist, load, process."""

from __future__ import annotations

import pytest
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu.key_facts import KeyFactExtractor

TEXTS = ["我的订单号是20251103123456，昨天付了128.5元", "call me at +86 138-1234-5678 about order A1234567",
         "hello", "/survey_rating{\"rating\": 5}", ""]


def entities(component: KeyFactExtractor, text: str) -> list:
    message = Message(data={"text": text})
    component.process([message])
    return message.as_dict(only_output_properties=True).get("entities", [])


@pytest.mark.parametrize("config", [{}, {"kinds": ["phone", "order_number"]}, {"max_gap": 0}])
def test_round_trip_gives_the_same_entities(model_storage, execution_context, config) -> None:
    resource = Resource("key_facts")
    full = {**KeyFactExtractor.get_default_config(), **config}
    created = KeyFactExtractor.create(full, model_storage, resource, execution_context)
    assert created.train(TrainingData([])) == resource
    loaded = KeyFactExtractor.load(full, model_storage, resource, execution_context)
    for text in TEXTS:
        assert entities(created, text) == entities(loaded, text)


def test_entities_carry_kind_value_and_place(model_storage, execution_context) -> None:
    component = KeyFactExtractor.create({}, model_storage, Resource("k"), execution_context)
    text = TEXTS[0]
    found = entities(component, text)
    assert [(e["entity"], e["value"]) for e in found] == [
        ("order_number", "20251103123456"), ("date", "昨天"), ("amount", "128.5元")]
    assert all(text[e["start"]:e["end"]] == e["value"] and e["extractor"] == "KeyFactExtractor" for e in found)


def test_entities_of_other_components_are_kept_and_commands_skipped(model_storage, execution_context) -> None:
    component = KeyFactExtractor.create({}, model_storage, Resource("k"), execution_context)
    message = Message(data={"text": "退款 299 元", "entities": [{"entity": "language", "value": "zh"}]})
    component.process([message])
    assert [e["entity"] for e in message.get("entities")] == ["language", "amount"]
    assert entities(component, TEXTS[3]) == []


def test_kinds_limit_what_is_extracted_and_unknown_ones_are_warned_about(model_storage, execution_context) -> None:
    with pytest.warns(UserWarning, match="unknown kinds \\['parcel'\\]"):
        component = KeyFactExtractor.create({"kinds": ["phone", "parcel"]}, model_storage, Resource("k"),
                                            execution_context)
    assert [e["entity"] for e in entities(component, TEXTS[1])] == ["phone"]


def test_a_bad_gap_is_warned_about_and_the_default_used(model_storage, execution_context) -> None:
    with pytest.warns(UserWarning, match="'max_gap' must be a whole number"):
        component = KeyFactExtractor.create({"max_gap": -1}, model_storage, Resource("k"), execution_context)
    assert [e["entity"] for e in entities(component, "order number is 88231455")] == ["order_number"]
