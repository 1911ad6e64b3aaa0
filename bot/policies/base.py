"""A base for policies that learn nothing from stories: they decide from the tracker and the settings.

Subclasses give `get_default_config()` (with `priority`) and `predict_action_probabilities`; they may override
`check()` to validate their settings at training time.
"""

from __future__ import annotations

import logging
from typing import Any, Dict, List, Optional, Text

from rasa.core.policies.policy import Policy
from rasa.engine.graph import ExecutionContext
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.core.domain import Domain
from rasa.shared.core.generator import TrackerWithCachedStates

logger = logging.getLogger(__name__)


class StatelessPolicy(Policy):
    """A policy with nothing to train: its config is merged over its defaults, and it persists nothing."""

    def __init__(
        self,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        featurizer: Optional[Any] = None,
    ) -> None:
        """Creates the policy with its default config filled in."""
        config = {**self.get_default_config(), **config}
        super().__init__(config, model_storage, resource, execution_context, featurizer)

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
