"""A base for policies that learn nothing from stories and predict one action of their own: they decide from the
tracker and the settings.

Subclasses give `get_default_config()` (with `priority` and the action, named by `action_key`) and `decide()`;
they may override `check()` to validate their settings at training time.
"""

from __future__ import annotations

import logging
from typing import Any, Dict, List, Optional, Text

from rasa.core.policies.policy import Policy, PolicyPrediction
from rasa.engine.storage.resource import Resource
from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.domain import Domain
from rasa.shared.core.generator import TrackerWithCachedStates
from rasa.shared.core.trackers import DialogueStateTracker

logger = logging.getLogger(__name__)


class StatelessPolicy(Policy):
    """A policy with nothing to train: its config is merged over its defaults, and it persists nothing.

    It predicts nothing when the domain lacks its action (`config[action_key]`), listening right after the
    action, and otherwise what `decide()` says.
    """

    action_key: str = ""
    """The config key whose value is the policy's action."""

    def __init__(self, config: Dict[Text, Any], *args: Any, **kwargs: Any) -> None:
        """Creates the policy with its default config filled in (the other arguments: see `Policy`)."""
        super().__init__({**self.get_default_config(), **config}, *args, **kwargs)

    def check(self) -> None:
        """Validates what the policy needs (called at training time, so mistakes stop `rasa train`)."""

    def train(self, training_trackers: List[TrackerWithCachedStates], domain: Domain, **kwargs: Any) -> Resource:
        """Learns nothing; checks the policy's settings and persists an empty resource."""
        self.check()
        self.persist()
        return self._resource

    def persist(self) -> None:
        """Persists nothing but the (empty) resource folder."""
        with self._model_storage.write_to(self._resource):
            pass

    def predict_action_probabilities(
        self,
        tracker: DialogueStateTracker,
        domain: Domain,
        rule_only_data: Optional[Dict[Text, Any]] = None,
        **kwargs: Any,
    ) -> PolicyPrediction:
        """Nothing (all zeros) when the domain lacks the policy's action; `action_listen` (1.0) right after it;
        otherwise what `decide()` predicts."""
        action = self.config[self.action_key]
        probabilities = self._default_predictions(domain)
        if action not in domain.action_names_or_texts:
            return self._prediction(probabilities)
        if tracker.latest_action_name == action:
            probabilities[domain.index_for_action(ACTION_LISTEN_NAME)] = 1.0
            return self._prediction(probabilities)
        return self.decide(action, tracker, domain, probabilities)

    def decide(
        self, action: str, tracker: DialogueStateTracker, domain: Domain, probabilities: List[float]
    ) -> PolicyPrediction:
        """Predict, unless `predict_action_probabilities` already has.

        Args:
            action: the policy's action (the config value named by `action_key`), which the domain has.
            tracker: the conversation; its latest action is not `action`.
            domain: the domain.
            probabilities: all zeros, one per action of the domain, to fill in.

        Returns:
            The prediction (`self._prediction(probabilities, ...)`).
        """
        raise NotImplementedError
