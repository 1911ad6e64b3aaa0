"""SurveyCommentPolicy: the free-text message right after a rating is the comment; nothing else is."""

from __future__ import annotations

import pathlib
from typing import Any, List

import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot.policies.survey import SurveyAnswerPolicy, SurveyCommentPolicy, SurveyNpsPolicy
from bot.settings import repo_root

DOMAIN = Domain.load(str(repo_root() / "domain.yml"))


@pytest.fixture
def policy(tmp_path: pathlib.Path) -> SurveyCommentPolicy:
    storage = LocalModelStorage.create(tmp_path)
    return SurveyCommentPolicy.create(
        SurveyCommentPolicy.get_default_config(), storage, Resource("survey"), ExecutionContext(GraphSchema({}), "t")
    )


def tracker_after_rating(text: str, intent: str, confidence: float) -> DialogueStateTracker:
    events = [
        ActionExecuted("action_listen"),
        UserUttered('/survey_rating{"rating": 4}', {"name": "survey_rating", "confidence": 1.0}),
        ActionExecuted("action_survey_answer"),
        SlotSet("survey_pending", False),
        SlotSet("survey_rating", "4"),
        BotUttered("感谢您的评价！"),
        ActionExecuted("action_listen"),
        UserUttered(text, {"name": intent, "confidence": confidence}),
    ]
    return DialogueStateTracker.from_events("c", events, DOMAIN.slots)


def predicted(policy: SurveyCommentPolicy, tracker: DialogueStateTracker) -> str | None:
    probabilities = policy.predict_action_probabilities(tracker, DOMAIN).probabilities
    best = max(range(len(probabilities)), key=probabilities.__getitem__)
    return DOMAIN.action_names_or_texts[best] if probabilities[best] > 0 else None


@pytest.mark.parametrize(
    "text, intent, confidence",
    [("客服态度很好，谢谢", "thanks", 0.9), ("等太久了", "nlu_fallback", 0.3), ("meh", "faq_refund_status", 0.4)],
)
def test_free_text_after_a_rating_is_the_comment(policy, text, intent, confidence) -> None:
    assert predicted(policy, tracker_after_rating(text, intent, confidence)) == "action_survey_comment"


@pytest.mark.parametrize(
    "text, intent, confidence",
    [("退款多久到账", "faq_refund_status", 0.9), ("转人工", "request_human", 0.95), ("/greet", "greet", 1.0)],
)
def test_questions_and_requests_after_a_rating_are_not_comments(policy, text, intent, confidence) -> None:
    assert predicted(policy, tracker_after_rating(text, intent, confidence)) is None


def test_only_the_first_message_after_the_rating_counts(policy) -> None:
    tracker = tracker_after_rating("退款多久到账", "faq_refund_status", 0.9)
    tracker.update(ActionExecuted("utter_faq_refund_status"))
    tracker.update(ActionExecuted("action_listen"))
    tracker.update(UserUttered("随便说说", {"name": "nlu_fallback", "confidence": 0.2}))
    assert predicted(policy, tracker) is None


def test_after_the_comment_it_listens(policy) -> None:
    tracker = tracker_after_rating("很好", "thanks", 0.9)
    tracker.update(ActionExecuted("action_survey_comment"))
    assert predicted(policy, tracker) == "action_listen"


def test_no_comment_after_a_rating_that_was_ignored(policy) -> None:
    """A `/survey_rating` typed while no survey was pending is ignored by the action (no `survey_rating` set):
    the next message is not taken as a comment."""
    events = [
        ActionExecuted("action_listen"),
        UserUttered('/survey_rating{"rating": 1}', {"name": "survey_rating", "confidence": 1.0}),
        ActionExecuted("action_survey_answer"),
        SlotSet("survey_rating", None),
        ActionExecuted("action_listen"),
        UserUttered("等太久了", {"name": "nlu_fallback", "confidence": 0.3}),
    ]
    assert predicted(policy, DialogueStateTracker.from_events("c", events, DOMAIN.slots)) is None


# --- the typed rating and the recommendation (NPS) question --------------------------------------------------


def build(cls: type, tmp_path: pathlib.Path) -> Any:
    storage = LocalModelStorage.create(tmp_path / cls.__name__)
    return cls.create(cls.get_default_config(), storage, Resource(cls.__name__), ExecutionContext(GraphSchema({}), "t"))


@pytest.fixture
def policies(tmp_path: pathlib.Path) -> List[Any]:
    return [build(cls, tmp_path) for cls in (SurveyCommentPolicy, SurveyAnswerPolicy, SurveyNpsPolicy)]


def ensemble(policies: List[Any], tracker: DialogueStateTracker) -> str | None:
    """What the three survey policies predict together (at most one of them predicts anything)."""
    answers = {predicted(p, tracker) for p in policies} - {None}
    assert len(answers) <= 1, answers
    return answers.pop() if answers else None


def survey_sent() -> List[Any]:
    return [
        BotUttered("请为本次服务打分（1–5）"), SlotSet("survey_pending", True), SlotSet("ticket_id", "T-000001"),
        ActionExecuted("action_listen"),
    ]


@pytest.mark.parametrize("text", ["5", "5 非常满意", "1 太差了!!!"])
def test_a_typed_number_while_the_survey_is_pending_is_the_rating(policies, text: str) -> None:
    events = survey_sent() + [UserUttered(text, {"name": "nlu_fallback", "confidence": 0.2})]
    assert ensemble(policies, DialogueStateTracker.from_events("c", events, DOMAIN.slots)) == "action_survey_answer"


@pytest.mark.parametrize("text, pending", [
    ("5", False), ("很好", True), ("/survey_rating", True), ("3天前下的订单还没到", True),
])
def test_no_typed_rating_without_a_survey_or_a_number(policies, text: str, pending: bool) -> None:
    events = survey_sent() + [SlotSet("survey_pending", pending), UserUttered(text, {"name": "greet", "confidence": 0.9})]
    assert ensemble(policies, DialogueStateTracker.from_events("c", events, DOMAIN.slots)) is None


def nps_asked(after: str = "action_survey_answer") -> List[Any]:
    return survey_sent() + [
        UserUttered("4", {"name": "nlu_fallback", "confidence": 0.2}),
        ActionExecuted(after), SlotSet("survey_pending", False), SlotSet("survey_rating", "4"),
        SlotSet("nps_pending", True), BotUttered("您有多大可能向朋友或同事推荐我们？"), ActionExecuted("action_listen"),
    ]


@pytest.mark.parametrize("text, intent, confidence", [
    ("9", "nlu_fallback", 0.2), ("ten", "nlu_fallback", 0.3), ("11", "faq_order_status", 0.9), ("", "greet", 0.1),
    ("挺好的", "thanks", 0.9), ('/survey_nps{"nps_score": 9}', "survey_nps", 1.0), ("我等了很久很生气", "complain", 0.95),
])
def test_the_message_right_after_the_question_is_its_answer(policies, text, intent, confidence) -> None:
    for after in ("action_survey_answer", "action_nps_answer"):  # after the question, and after asking again
        events = nps_asked(after) + [UserUttered(text, {"name": intent, "confidence": confidence})]
        assert ensemble(policies, DialogueStateTracker.from_events("c", events, DOMAIN.slots)) == "action_nps_answer"


@pytest.mark.parametrize("text, intent, confidence", [
    ("转人工", "request_human", 0.95), ("退款多久到账", "faq_refund_status", 0.9), ("/request_human", "request_human", 1.0),
])
def test_a_question_or_a_request_for_a_human_is_not_an_answer(policies, text, intent, confidence) -> None:
    events = nps_asked() + [UserUttered(text, {"name": intent, "confidence": confidence})]
    assert ensemble(policies, DialogueStateTracker.from_events("c", events, DOMAIN.slots)) is None


def test_after_the_answer_the_next_message_is_the_comment_and_later_ones_are_not_answers(policies) -> None:
    events = nps_asked() + [
        UserUttered("9", {"name": "nlu_fallback", "confidence": 0.2}), ActionExecuted("action_nps_answer"),
        SlotSet("nps_pending", False), ActionExecuted("action_listen"),
        UserUttered("客服很耐心", {"name": "thanks", "confidence": 0.8}),
    ]
    tracker = DialogueStateTracker.from_events("c", events, DOMAIN.slots)
    assert ensemble(policies, tracker) == "action_survey_comment"
    tracker.update(ActionExecuted("action_survey_comment"))
    tracker.update(ActionExecuted("action_listen"))
    tracker.update(UserUttered("7", {"name": "nlu_fallback", "confidence": 0.2}))
    assert ensemble(policies, tracker) is None


def test_while_the_question_waits_no_comment_is_taken(policies) -> None:
    events = nps_asked() + [UserUttered("服务不错", {"name": "thanks", "confidence": 0.9})]
    tracker = DialogueStateTracker.from_events("c", events, DOMAIN.slots)
    assert predicted(policies[0], tracker) is None  # the comment policy alone
