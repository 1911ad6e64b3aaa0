"""Round trips of Frontline's own NLU components: create, train, persist, load, process."""

from __future__ import annotations

import numpy as np
import pytest
from rasa.engine.graph import ExecutionContext
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu import limits
from bot.nlu.classifier import NgramIntentClassifier
from bot.nlu.language import LanguageDetector
from bot.nlu.ngrams import normalize

EXAMPLES = {
    "faq_refund_status": ["退款多久到账", "我的退款还没到", "退款什么时候到账", "how long does a refund take",
                          "my refund has not arrived", "where is my refund"],
    "faq_order_status": ["我的订单到哪了", "查一下物流", "快递到哪里了", "where is my order",
                         "track my parcel", "when will my package arrive"],
    "greet": ["你好", "您好", "在吗", "hello", "hi there", "good morning"],
}


@pytest.fixture
def language_detector(model_storage: LocalModelStorage, execution_context: ExecutionContext) -> LanguageDetector:
    return LanguageDetector.load({}, model_storage, Resource("language"), execution_context)


def training_data() -> TrainingData:
    return TrainingData(
        [Message(data={"text": text, "intent": intent}) for intent, texts in EXAMPLES.items() for text in texts]
    )


def classify(component: NgramIntentClassifier, text: str) -> dict:
    message = Message(data={"text": text})
    component.process([message])
    return message.as_dict(only_output_properties=True)


@pytest.mark.parametrize("config", [{}, {"char_ngram_range": [1, 3], "C": 5.0}, {"word_ngram_range": [1, 1]}])
def test_classifier_round_trip_gives_the_same_output(model_storage, execution_context, config) -> None:
    resource = Resource("classifier")
    full_config = {**NgramIntentClassifier.get_default_config(), **config}
    trained = NgramIntentClassifier.create(full_config, model_storage, resource, execution_context)
    trained.train(training_data())
    loaded = NgramIntentClassifier.load(full_config, model_storage, resource, execution_context)
    for text in ["退款到账要多久", "where's my parcel", "hi", "退款多久到帳"]:
        assert classify(trained, text) == classify(loaded, text)
    ranking = classify(loaded, "how long until my refund arrives")["intent_ranking"]
    assert ranking[0]["name"] == "faq_refund_status"
    assert abs(sum(item["confidence"] for item in ranking) - 1.0) < 1e-4


def test_traditional_chinese_is_understood_like_simplified(model_storage, execution_context) -> None:
    resource = Resource("classifier")
    component = NgramIntentClassifier.create(NgramIntentClassifier.get_default_config(), model_storage, resource, execution_context)
    component.train(training_data())
    assert classify(component, "退款多久到帳")["intent"]["name"] == "faq_refund_status"
    assert classify(component, "我的訂單到哪了")["intent"]["name"] == "faq_order_status"
    assert normalize("我的訂單 到哪了？ ") == normalize("我的订单 到哪了?")


def test_untrained_classifier_loads_and_leaves_messages_alone(model_storage, execution_context) -> None:
    resource = Resource("never-trained")
    component = NgramIntentClassifier.load(NgramIntentClassifier.get_default_config(), model_storage, resource, execution_context)
    assert "intent" not in classify(component, "hello")


@pytest.mark.parametrize(
    "text, expected",
    [("退款多久到账", "zh"), ("退款多久到帳", "zh_hant"), ("常見問題", "zh_hant"), ("Where is my order?", "en"),
     ("我想问一下refund的问题", "zh"), ("please help 我", "en")],
)
def test_language_detector_tags_each_message(language_detector, text, expected) -> None:
    message = Message(data={"text": text})
    language_detector.process([message])
    entities = message.as_dict(only_output_properties=True)["entities"]
    assert [e["value"] for e in entities if e["entity"] == "language"] == [expected]


@pytest.mark.parametrize("text", ["😀😀", "123", "/faq_refund_status"])
def test_language_detector_keeps_the_conversation_language_when_unsure(language_detector, text) -> None:
    message = Message(data={"text": text})
    language_detector.process([message])
    assert not message.get("entities")


def test_one_message_fast_path_scores_like_sklearn(model_storage, execution_context) -> None:
    component = NgramIntentClassifier.create(NgramIntentClassifier.get_default_config(), model_storage, Resource("c"), execution_context)
    component.train(training_data())
    texts = ["退款到账要多久", "where's my parcel", "hi", "退款多久到帳", "zzzz qqqq", "", "😀", "my refund 退款"]
    features, head = component.model.features, component.model.head
    for text in texts:
        fast = features.scores([text], head.transposed, head.intercept)
        slow = np.asarray(features.transform([text]) @ head.coef.T + head.intercept)
        assert fast.shape == slow.shape == (1, len(component.classes))
        assert np.allclose(fast, slow, atol=1e-5), text


def test_components_read_only_the_start_of_a_huge_message(model_storage, execution_context, language_detector) -> None:
    # An English refund question padded past what the NLU reads, then a long Chinese greeting: intent and
    # language come from the start alone, and the message is kept whole.
    start = "   " + "how long does a refund take " * (limits.MAX_CHARS // 28 + 1)
    text = start + "你好" * 100_000
    assert limits.head(text) == start.lstrip()[: limits.MAX_CHARS]
    config = NgramIntentClassifier.get_default_config()
    classifier = NgramIntentClassifier.create(config, model_storage, Resource("classifier"), execution_context)
    classifier.train(training_data())
    message = Message(data={"text": text})
    language_detector.process([message])
    classifier.process([message])
    assert message.get("intent")["name"] == "faq_refund_status"
    assert [e["value"] for e in message.get("entities") if e["entity"] == "language"] == ["en"]
    assert message.get("text") == text
