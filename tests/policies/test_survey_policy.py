"""SurveyCommentPolicy: the free-text message right after a rating is the comment; nothing else is."""

from __future__ import annotations

import pathlib

import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot.policies.survey import SurveyCommentPolicy
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
