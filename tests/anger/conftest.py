"""Fixtures for the anger detector (`model_storage` and `execution_context` come from tests/conftest.py)."""

from __future__ import annotations

import pathlib
from typing import Callable, List, Tuple

import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu.anger import AngerDetector
from bot.settings import repo_root

DATA = repo_root() / "data" / "anger"


@pytest.fixture(scope="session")
def shipped_detector(tmp_path_factory: pytest.TempPathFactory) -> AngerDetector:
    """The detector trained once on the project's data (`data/anger`), as `rasa train` would."""
    storage = LocalModelStorage.create(tmp_path_factory.mktemp("shipped"))
    context = ExecutionContext(GraphSchema({}), "test-model")
    config = {**AngerDetector.get_default_config(), "training_files": str(DATA)}
    resource = Resource("anger_detector")
    detector = AngerDetector.create(config, storage, resource, context)
    detector.train(TrainingData())
    return AngerDetector.load(config, storage, resource, context)


@pytest.fixture()
def write_tsv(tmp_path: pathlib.Path) -> Callable[[str, List[Tuple[str, str]]], pathlib.Path]:
    """Write `(text, label)` rows to a TSV file under tmp_path and return its path."""

    def write(name: str, rows: List[Tuple[str, str]]) -> pathlib.Path:
        path = tmp_path / name
        path.write_text("".join(f"{text}\t{label}\n" for text, label in rows), encoding="utf-8")
        return path

    return write
