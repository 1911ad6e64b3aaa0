"""What Frontline's NLU components share as Rasa graph components (`bot.nlu.language`, `bot.nlu.anger`,
`bot.nlu.classifier`): the config over the defaults, `create`, `load` and `persist` of a trained model, and
adding an entity to a message.
"""

from __future__ import annotations

import logging
import pathlib
from typing import Any, Dict, Text

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.training_data.message import Message

logger = logging.getLogger(__name__)


def add_entity(message: Message, entity: str, value: Any, end: int, extractor: str) -> None:
    """Append an entity that stands for the whole message (from 0 to `end`) to its entities, in the output.

    Args:
        message: the message.
        entity: the entity's name (and so the slot it fills).
        value: its value.
        end: where it ends in the text (0 for an entity that is about the message rather than in it).
        extractor: the component's name.
    """
    entities = list(message.get("entities", []))
    entities.append({"entity": entity, "value": value, "start": 0, "end": end, "extractor": extractor})
    message.set("entities", entities, add_to_output=True)


class FrontlineComponent(GraphComponent):
    """A Frontline NLU component: its config (filled in from `get_default_config()`) and where it is stored.

    Subclasses give `get_default_config()` and `process()`; one with a trained model derives from
    `TrainedComponent`.
    """

    def __init__(
        self,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> None:
        """Creates the component (untrained)."""
        self.component_config = {**self.get_default_config(), **config}
        self._model_storage = model_storage
        self._resource = resource
        self._execution_context = execution_context

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> FrontlineComponent:
        """Creates a new untrained component (see parent class for full docstring)."""
        return cls(config, model_storage, resource, execution_context)


class TrainedComponent(FrontlineComponent):
    """A component whose trained model (`model`, None until trained) is persisted in its resource's folder.

    Subclasses give `train()` (which sets `model` and calls `persist()`), and `read_model()`; `restore_model()`
    when a read model must be checked or completed first. The model writes itself with `save(directory)`.
    """

    model: Any = None

    @classmethod
    def read_model(cls, directory: pathlib.Path) -> Any:
        """Read what `model.save(directory)` wrote.

        Raises:
            FileNotFoundError, ValueError: nothing (usable) was persisted: the component loads untrained.
        """
        raise NotImplementedError

    @classmethod
    def restore_model(cls, persisted: Any, config: Dict[Text, Any]) -> Any:
        """The model of what `read_model` returned, under `config` (as it is, unless a subclass says otherwise).

        An error raised here is not taken for "nothing persisted": it stops the load.
        """
        return persisted

    def loaded_untrained(self, error: Exception) -> None:
        """Say that nothing usable was persisted (called by `load`, which then gives an untrained component)."""
        logger.debug("%s: nothing persisted in '%s' (%s); loading it untrained", type(self).__name__, self._resource.name, error)

    @classmethod
    def load(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> TrainedComponent:
        """Loads the trained component; an untrained one when nothing was persisted (see parent class)."""
        component = cls(config, model_storage, resource, execution_context)
        try:
            with model_storage.read_from(resource) as directory:
                persisted = cls.read_model(directory)
        except (ValueError, FileNotFoundError) as error:
            component.loaded_untrained(error)
            return component
        component.model = cls.restore_model(persisted, component.component_config)
        return component

    def persist(self) -> None:
        """Writes the trained model (if any) to the model storage."""
        with self._model_storage.write_to(self._resource) as directory:
            if self.model is not None:
                self.model.save(directory)
