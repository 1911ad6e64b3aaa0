"""The AngerDetector as a Rasa graph component: create, train, persist, load, process."""

from __future__ import annotations

import pathlib
import time

import pytest
from anger_helpers import SMALL
from rasa.engine.graph import ExecutionContext
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu import limits
from bot.nlu.anger import AngerDetector

TEXTS = [
    "this is the third time I ask where my refund is!!!",
    "my parcel is late, when will it arrive?",
    "退款还没到账",
    "你們這甚麼垃圾服務，我要投訴你們！！！",
    "thanks a lot",
    "",
]


def _messages() -> list[Message]:
    return [Message({"text": text}) for text in TEXTS]


@pytest.mark.parametrize(
    "options", [{}, {"C": 8.0, "cue_weight": 1.0}, {"cue_weight_zh": None}, {"label_threshold": 0.3}]
)
def test_round_trip_gives_the_same_output(
    options: dict,
    write_tsv,
    model_storage: LocalModelStorage,
    execution_context: ExecutionContext,
) -> None:
    path = write_tsv("train.tsv", SMALL)
    config = {**AngerDetector.get_default_config(), **options, "training_files": str(path)}
    resource = Resource("anger")
    detector = AngerDetector.create(config, model_storage, resource, execution_context)
    assert detector.train(TrainingData()) == resource

    loaded = AngerDetector.load(config, model_storage, resource, execution_context)
    original_out = detector.process(_messages())
    loaded_out = loaded.process(_messages())
    for first, second in zip(original_out, loaded_out):
        assert first.get("anger") == second.get("anger")
        assert first.get("entities") == second.get("entities")
    angry = original_out[0].get("anger")
    assert angry["label"] == "angry" and 0.5 <= angry["score"] <= 1
    assert original_out[1].get("anger")["score"] < angry["score"]


def test_output_shape_and_other_entities_are_kept(shipped_detector: AngerDetector) -> None:
    message = Message({"text": "WHERE IS MY ORDER??? third time I ask!!!"})
    language = {"entity": "language", "value": "en", "start": 0, "end": 10, "extractor": "LanguageDetector"}
    message.set("entities", [language], add_to_output=True)
    shipped_detector.process([message])

    anger = message.get("anger")
    assert set(anger) == {"score", "label"}
    assert isinstance(anger["score"], float) and 0.0 <= anger["score"] <= 1.0
    assert anger["label"] in ("angry", "unhappy", "neutral", "happy")
    entities = message.get("entities")
    assert entities[0] == language
    assert entities[1] == {
        "entity": "sentiment",
        "value": anger["label"],
        "start": 0,
        "end": 0,
        "extractor": "AngerDetector",
    }
    assert "anger" in message.as_dict(only_output_properties=True)


def test_empty_text_is_neutral(shipped_detector: AngerDetector) -> None:
    message = Message({"text": "   "})
    shipped_detector.process([message])
    assert message.get("anger") == {"score": 0.0, "label": "neutral"}


def test_only_the_start_of_a_huge_message_is_read(shipped_detector: AngerDetector) -> None:
    # A calm question, padded past what the NLU reads, then a rant: the score is that of the start alone
    # (reading all 200,000 characters would take about a second and hold up every other conversation).
    calm = "my parcel is late, when will it arrive? " * (limits.MAX_CHARS // 40 + 1)
    rant = "你們這甚麼垃圾服務，我要投訴你們！！！" * 10_000
    whole, start = Message({"text": calm + rant}), Message({"text": limits.head(calm + rant)})
    shipped_detector.process([whole, start])
    assert whole.get("anger") == start.get("anger")
    assert whole.get("anger")["label"] != "angry"
    assert whole.get("text") == calm + rant  # the message itself is kept whole


def test_missing_training_data_warns_and_stays_neutral(
    tmp_path: pathlib.Path, model_storage: LocalModelStorage, execution_context: ExecutionContext
) -> None:
    config = {**AngerDetector.get_default_config(), "training_files": str(tmp_path / "nothing-here")}
    resource = Resource("anger")
    detector = AngerDetector.create(config, model_storage, resource, execution_context)
    with pytest.warns(UserWarning, match="could not read its training data"):
        detector.train(TrainingData())
    loaded = AngerDetector.load(config, model_storage, resource, execution_context)
    message = Message({"text": "I'm furious!!!"})
    loaded.process([message])
    assert message.get("anger") == {"score": 0.0, "label": "neutral"}


def test_bad_label_in_training_data_is_reported(
    write_tsv, model_storage: LocalModelStorage, execution_context: ExecutionContext
) -> None:
    path = write_tsv("bad.tsv", [*SMALL, ("hello", "furious")])
    config = {**AngerDetector.get_default_config(), "training_files": str(path)}
    detector = AngerDetector.create(config, model_storage, Resource("anger"), execution_context)
    with pytest.warns(UserWarning, match="unknown label 'furious'"):
        detector.train(TrainingData())
    assert detector.model is None


def test_fingerprint_follows_the_training_files(write_tsv) -> None:
    path = write_tsv("train.tsv", SMALL)
    config = {"training_files": str(path.parent)}
    before = AngerDetector.fingerprint_addon(config)
    assert before == AngerDetector.fingerprint_addon(config)
    write_tsv("train.tsv", [*SMALL, ("one more", "neutral")])
    assert AngerDetector.fingerprint_addon(config) != before


def test_it_is_fast_enough(shipped_detector: AngerDetector) -> None:
    texts = [f"{text} {index}" for index in range(60) for text in TEXTS[:5]]
    shipped_detector.process([Message({"text": "warm up"})])
    started = time.perf_counter()
    for text in texts:
        shipped_detector.process([Message({"text": text})])
    per_message_ms = (time.perf_counter() - started) * 1000 / len(texts)
    assert per_message_ms <= 3.0


# Short, one-word and off-topic chat messages: once Weibo-style posts made `angry` the largest class, a message
# with few known n-grams used to fall back towards it ("tell me a joke about cats" scored 0.79, 钱 0.75). Some of
# these are training examples (钱, 人工, 退款还没到账); the others are not.
SHORT_AND_OFF_TOPIC = [
    "tell me a joke about cats",
    "钱",
    "人工",
    "会员有什么权益",
    "my parcel is late, when will it arrive?",
    "退款还没到账",
    "测试",
    "help",
]


# Calm questions to and about the assistant (who made it, its teachers, its name, a kind word or a mild
# suggestion for its developers). After the Weibo-style posts, whose rhetorical 谁… questions are mostly angry,
# "who created you" scored 0.97 and the assistant would have apologised and handed a calm customer over. None of
# these is a training example.
CALM_QUESTIONS_ABOUT_THE_BOT = [
    "请问是哪位工程师把你做出来的",
    "你的老师们平时怎么教你",
    "谁给你编的程序呀",
    "你们的创办人是哪一位",
    "你是真的人还是机器呀",
    "请帮我跟开发你的人说，我很喜欢你",
    "转告你的工程师，这个界面有点不好找",
    "你叫啥名字呀",
    "我好爱你呀，小助手",
    "誰是你的設計者呢",
    "寫你程式的工程師是哪裡人",
    "who are the people that trained you?",
    "please tell your makers i think you're lovely",
]


@pytest.mark.parametrize(
    "text, ceiling",
    [(text, 0.4) for text in SHORT_AND_OFF_TOPIC] + [(text, 0.5) for text in CALM_QUESTIONS_ABOUT_THE_BOT],
)
def test_calm_chat_is_not_angry(shipped_detector: AngerDetector, text: str, ceiling: float) -> None:
    message = Message({"text": text})
    shipped_detector.process([message])
    assert message.get("anger")["score"] < ceiling
    assert message.get("anger")["label"] != "angry"
