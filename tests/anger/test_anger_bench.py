"""`python -m bot.bench anger`: figures on small TSV files, the shipped-model path, and bad input."""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys

import pytest
from anger_helpers import SMALL
from rasa.engine.graph import ExecutionContext, GraphModelConfiguration, GraphSchema, SchemaNode
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.core.domain import Domain
from rasa.shared.data import TrainingType
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.bench import anger as bench
from bot.nlu.anger import AngerDetector
from bot.settings import repo_root

TEST_ROWS = [
    ("I am furious, this is the third time I ask!!!", "mad"),
    ("useless company, I'll report you to the regulator", "mad"),
    ("我要打12315投诉你们！！！垃圾", "rage"),
    ("my refund has not arrived yet", "calm"),
    ("what are your opening hours?", "calm"),
    ("谢谢，问题解决了", "calm"),
]


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str], str]:
    code = bench.main(argv)
    captured = capsys.readouterr()
    return code, captured.out.strip().splitlines(), captured.err


def test_retrained_figures(write_tsv, capsys: pytest.CaptureFixture[str]) -> None:
    train = write_tsv("train.tsv", [(t, "mad" if label == "angry" else label) for t, label in SMALL])
    test = write_tsv("test.tsv", TEST_ROWS)
    code, out, err = _run(["--test", str(test), "--positive", "mad,rage", "--train", str(train)], capsys)
    assert code == 0, err
    figures = json.loads(out[-1])
    assert set(figures) >= {"precision", "recall", "f1", "false_alarm_rate", "n", "ms_per_message"}
    assert figures["n"] == 6 and figures["positives"] == 3 and figures["negatives"] == 3
    assert figures["mode"] == "retrained" and figures["threshold"] == 0.5
    for key in ("precision", "recall", "f1", "false_alarm_rate"):
        assert 0.0 <= figures[key] <= 1.0
    assert figures["recall"] >= 2 / 3
    assert figures["false_alarm_rate"] <= 1 / 3
    assert "training on" in err


def test_measure_counts_exactly() -> None:
    scores = {"a": 0.9, "b": 0.8, "c": 0.2, "d": 0.75, "e": 0.1}
    examples = [("a", "angry"), ("b", "angry"), ("c", "angry"), ("d", "calm"), ("e", "calm")]
    figures = bench.measure(lambda texts: [scores[t] for t in texts], examples, ["angry"], 0.7)
    assert figures["precision"] == round(2 / 3, 4)
    assert figures["recall"] == round(2 / 3, 4)
    assert figures["f1"] == round(2 / 3, 4)
    assert figures["false_alarm_rate"] == 0.5
    assert figures["n"] == 5


def _archive_with_detector(tmp_path: pathlib.Path, training_file: pathlib.Path) -> pathlib.Path:
    storage_dir = tmp_path / "train-storage"
    storage_dir.mkdir()
    storage = LocalModelStorage.create(storage_dir)
    config = {**AngerDetector.get_default_config(), "training_files": str(training_file)}
    resource = Resource("train_AngerDetector0")
    context = ExecutionContext(GraphSchema({}), "test-model")
    AngerDetector.create(config, storage, resource, context).train(TrainingData())
    schema = GraphSchema(
        {
            "run_AngerDetector0": SchemaNode(
                needs={},
                uses=AngerDetector,
                constructor_name="load",
                fn="process",
                config=config,
                resource=resource,
            )
        }
    )
    archive = tmp_path / "models" / "tiny.tar.gz"
    storage.create_model_package(
        archive,
        GraphModelConfiguration(
            train_schema=GraphSchema({}),
            predict_schema=schema,
            training_type=TrainingType.NLU,
            assistant_id="test",
            language="en",
            core_target=None,
            nlu_target="run_AngerDetector0",
        ),
        Domain.empty(),
    )
    return archive


def test_shipped_detector_from_a_model_archive(tmp_path: pathlib.Path, write_tsv, capsys) -> None:
    archive = _archive_with_detector(tmp_path, write_tsv("train.tsv", SMALL))
    test = write_tsv("test.tsv", TEST_ROWS)
    code, out, err = _run(["--test", str(test), "--positive", "mad,rage", "--model", str(archive)], capsys)
    assert code == 0, err
    figures = json.loads(out[-1])
    assert figures["mode"] == "shipped" and figures["n"] == 6
    assert figures["threshold"] == 0.7  # the escalation threshold in settings.yml

    code, out, err = _run(
        ["--test", str(test), "--positive", "mad", "--model", str(archive), "--threshold", "0.2"], capsys
    )
    assert code == 0 and json.loads(out[-1])["threshold"] == 0.2


@pytest.mark.parametrize("content", [b"not a tar archive", b""])
def test_a_file_that_is_no_model_archive_is_an_error(tmp_path: pathlib.Path, write_tsv, capsys, content: bytes) -> None:
    archive = tmp_path / "broken.tar.gz"
    archive.write_bytes(content)
    test = write_tsv("test.tsv", TEST_ROWS)
    code, out, err = _run(["--test", str(test), "--positive", "mad", "--model", str(archive)], capsys)
    assert code == 2 and out == []
    assert err.strip().startswith(f"error: {archive}: cannot unpack the model")
    assert len(err.strip().splitlines()) == 1


def test_model_without_detector_is_an_error(tmp_path: pathlib.Path, write_tsv, capsys) -> None:
    storage_dir = tmp_path / "s"
    storage_dir.mkdir()
    archive = tmp_path / "empty.tar.gz"
    LocalModelStorage.create(storage_dir).create_model_package(
        archive,
        GraphModelConfiguration(GraphSchema({}), GraphSchema({}), TrainingType.NLU, "x", "en", None, None),
        Domain.empty(),
    )
    test = write_tsv("test.tsv", TEST_ROWS)
    code, out, err = _run(["--test", str(test), "--positive", "mad", "--model", str(archive)], capsys)
    assert code == 2 and out == []
    assert err.strip().startswith("error:") and "no AngerDetector" in err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    "rows_or_content, extra, message",
    [
        (None, [], "file not found"),
        ("no tab on this line\n", [], "found no tab"),
        ("text\t\n", [], "empty text or label"),
        (TEST_ROWS, ["--train", "TRAIN_NO_POSITIVES"], "needs examples labelled"),
        (TEST_ROWS, ["--model", "MISSING_MODEL"], "no such model archive"),
        (TEST_ROWS, ["--threshold", "1.5"], "--threshold must be between 0 and 1"),
        (TEST_ROWS, ["--limit", "0"], "--limit must be at least 1"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    tmp_path: pathlib.Path, write_tsv, capsys, rows_or_content, extra: list[str], message: str
) -> None:
    if rows_or_content is None:
        test = tmp_path / "missing.tsv"
    elif isinstance(rows_or_content, str):
        test = tmp_path / "bad.tsv"
        test.write_text(rows_or_content, encoding="utf-8")
    else:
        test = write_tsv("test.tsv", rows_or_content)
    extra = [
        str(write_tsv("calm.tsv", [("hello", "calm"), ("thanks", "calm")]))
        if arg == "TRAIN_NO_POSITIVES"
        else str(tmp_path / "nope.tar.gz")
        if arg == "MISSING_MODEL"
        else arg
        for arg in extra
    ]
    code, out, err = _run(["--test", str(test), "--positive", "mad", *extra], capsys)
    assert code == 2
    assert out == []
    assert message in err
    assert len(err.strip().splitlines()) == 1


def test_missing_required_option_is_a_usage_error(capsys) -> None:
    code, out, err = _run(["--test", "x.tsv"], capsys)
    assert code == 2 and "--positive" in err


def test_module_entry_point(tmp_path: pathlib.Path, write_tsv) -> None:
    train = write_tsv("train.tsv", SMALL)
    test = write_tsv("test.tsv", [("I'm furious!!! third time!!!", "angry"), ("thanks", "happy")])
    process = subprocess.run(
        [
            sys.executable,
            "-m",
            "bot.bench.anger",
            "--test",
            str(test),
            "--positive",
            "angry",
            "--train",
            str(train),
        ],
        capture_output=True,
        text=True,
        cwd=repo_root(),
        timeout=300,
    )
    assert process.returncode == 0, process.stderr
    figures = json.loads(process.stdout.strip().splitlines()[-1])
    assert figures["n"] == 2


def test_only_keeps_the_named_labels(write_tsv, capsys) -> None:
    train = write_tsv("train.tsv", SMALL)
    test = write_tsv(
        "test.tsv", [*TEST_ROWS, ("the food was cold", "negative"), ("slow delivery", "negative")]
    )
    code, out, err = _run(
        ["--test", str(test), "--positive", "angry", "--train", str(train), "--only", "negative"], capsys
    )
    assert code == 0, err
    figures = json.loads(out[-1])
    assert figures["n"] == 2 and figures["positives"] == 0 and figures["negatives"] == 2
    code, out, err = _run(["--test", str(test), "--positive", "angry", "--only", "nothing"], capsys)
    assert code == 2 and "no examples labelled" in err


def test_reading_keeps_hash_texts_and_skips_comments(tmp_path: pathlib.Path) -> None:
    from bot.anger.data import read_tsv

    path = tmp_path / "data.tsv"
    path.write_text("# a comment\n#话题# 气死了\tangry\n\nfine\tneutral\n", encoding="utf-8")
    assert read_tsv(path) == [("#话题# 气死了", "angry"), ("fine", "neutral")]
