"""NgramIntentClassifier: calibration helpers, binary data, and the confidence that feeds FallbackClassifier."""

from __future__ import annotations

import numpy as np
import pytest
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu.classifier import NgramIntentClassifier
from bot.nlu.linear import fit_temperature, fold_ids, softmax
from bot.nlu.ngrams import normalize

EXAMPLES = {
    "refund": ["where is my refund", "refund not received yet", "how long does a refund take", "退款多久到账",
               "我的退款还没到", "refund still missing", "when do I get my money back", "退款什么时候到账"],
    "order": ["where is my order", "track my parcel", "my package has not arrived", "我的订单到哪了",
              "查一下物流", "when will my order arrive", "parcel tracking please", "快递到哪里了"],
    "greet": ["hello", "hi there", "good morning", "你好", "您好", "hey", "good evening", "在吗"],
    "password": ["I forgot my password", "reset my password", "cannot log in", "忘记密码了", "密码怎么重置",
                 "login fails", "how to change my password", "登录不了"],
}


def train(model_storage, execution_context, examples, **config) -> NgramIntentClassifier:
    full = {**NgramIntentClassifier.get_default_config(), **config}
    component = NgramIntentClassifier.create(full, model_storage, Resource("c"), execution_context)
    component.train(
        TrainingData([Message(data={"text": t, "intent": i}) for i, texts in examples.items() for t in texts])
    )
    return component


def test_fit_temperature_recovers_the_temperature_that_generated_the_labels() -> None:
    rng = np.random.default_rng(0)
    scores = rng.normal(size=(4000, 6))
    for true_temperature in (0.1, 0.5, 2.0):
        probabilities = softmax(scores, true_temperature)
        truth = np.array([rng.choice(6, p=row) for row in probabilities])
        assert fit_temperature(scores, truth) == pytest.approx(true_temperature, rel=0.15)


def test_fold_ids_deal_each_class_across_the_folds() -> None:
    labels = [0] * 6 + [1] * 3 + [2]
    ids = fold_ids(labels, 3)
    assert sorted(ids[:6].tolist()) == [0, 0, 1, 1, 2, 2]
    assert sorted(ids[6:9].tolist()) == [0, 1, 2]


def test_temperature_is_fitted_and_survives_a_round_trip(model_storage, execution_context) -> None:
    component = train(model_storage, execution_context, EXAMPLES)
    assert component.temperature != NgramIntentClassifier.get_default_config()["temperature"]
    loaded = NgramIntentClassifier.load(component.component_config, model_storage, Resource("c"), execution_context)
    assert loaded.temperature == pytest.approx(component.temperature)
    texts = ["refund please", "忘記密碼", "yo"]
    assert np.allclose(component.predict_proba(texts), loaded.predict_proba(texts), atol=1e-6)


def test_without_calibration_the_configured_temperature_is_used(model_storage, execution_context) -> None:
    component = train(model_storage, execution_context, EXAMPLES, calibration_folds=0, temperature=0.25)
    assert component.temperature == 0.25


def test_two_intents_give_a_two_column_ranking(model_storage, execution_context) -> None:
    component = train(model_storage, execution_context, {k: EXAMPLES[k] for k in ("refund", "greet")})
    probabilities = component.predict_proba(["where is my refund", "hello there"])
    assert probabilities.shape == (2, 2)
    assert [component.classes[i] for i in probabilities.argmax(axis=1)] == ["refund", "greet"]


def test_clear_messages_pass_the_fallback_threshold_and_unrelated_ones_score_lower(model_storage, execution_context) -> None:
    component = train(model_storage, execution_context, EXAMPLES)
    clear = component.predict_proba(["my refund has not arrived", "我忘記密碼了", "track my order please"])
    unrelated = component.predict_proba(["the weather in lisbon tomorrow", "xyzzy"])
    assert clear.max(axis=1).min() > 0.4
    assert unrelated.max(axis=1).max() < clear.max(axis=1).min()


def test_normalize_folds_width_case_and_script() -> None:
    assert normalize("ＲＥＦＵＮＤ  退款到帳") == "refund 退款到账"
    assert normalize("Plain English") == "plain english"
