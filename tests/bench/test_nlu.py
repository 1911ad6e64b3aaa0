"""`python -m bot.bench nlu`: input checks, splits, figures, and one real run through Rasa on a tiny TSV."""

from __future__ import annotations

import json
import pathlib

import pytest

from bot.bench import nlu

ROWS = {
    "refund": ["where is my refund", "refund not received yet", "how long does a refund take", "退款多久到账",
               "我的退款还没到", "refund still missing", "when do I get my money back", "退款什么时候到账"],
    "order": ["where is my order", "track my parcel", "my package has not arrived", "我的订单到哪了",
              "查一下物流", "when will my order arrive", "parcel tracking please", "快递到哪里了"],
    "greet": ["hello", "hi there", "good morning", "你好", "您好", "hey", "good evening", "在吗"],
}
CONFIG = """recipe: default.v1
language: zh
pipeline:
  - name: bot.nlu.classifier.NgramIntentClassifier
  - name: FallbackClassifier
    threshold: 0.4
    ambiguity_threshold: 0.02
policies:
  - name: RulePolicy
"""


def write(path: pathlib.Path, lines: list) -> pathlib.Path:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def tsv(path: pathlib.Path, rows: dict) -> pathlib.Path:
    return write(path, [f"{text}\t{label}" for label, texts in rows.items() for text in texts])


def last_json(out: str) -> dict:
    return json.loads([line for line in out.splitlines() if line.strip()][-1])


@pytest.mark.parametrize(
    "lines, message",
    [(["hello\tgreet", "no tab on this line"], "no tab"), (["hello\tgreet", "hi\tgreet"], "at least two labels"),
     (["hello\tgreet", "\torder"], "empty text or label")],
)
def test_bad_training_file_gives_one_line_error_and_nonzero_exit(tmp_path, capsys, lines, message) -> None:
    train = write(tmp_path / "train.tsv", lines)
    test = tsv(tmp_path / "test.tsv", ROWS)
    code = nlu.main(["--train", str(train), "--test", str(test)])
    err = capsys.readouterr().err.strip()
    assert code != 0
    assert message in err and len(err.splitlines()) == 1 and err.startswith("error:")


@pytest.mark.parametrize(
    "extra, message",
    [(["--test", "MISSING"], "no such file"), ([], "exactly one of"), (["--folds", "1"], "at least 2"),
     (["--holdout", "1.5"], "between 0 and 1"), (["--folds", "3", "--config", "MISSING.yml"], "no such file")],
)
def test_bad_options_give_one_line_error(tmp_path, capsys, extra, message) -> None:
    train = tsv(tmp_path / "train.tsv", ROWS)
    extra = [str(tmp_path / e) if e.startswith("MISSING") else e for e in extra]
    code = nlu.main(["--train", str(train), *extra])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert message in err and len(err.splitlines()) == 1


def test_missing_training_file(tmp_path, capsys) -> None:
    assert nlu.main(["--train", str(tmp_path / "nope.tsv"), "--folds", "3"]) == 2
    assert "no such file" in capsys.readouterr().err


def test_several_files_joined_with_commas_are_read_in_order(tmp_path) -> None:
    a = write(tmp_path / "a.tsv", ["one\tx", "two\ty"])
    b = write(tmp_path / "b.tsv", ["", "three\toos"])
    assert nlu.read_tsv(f"{a},{b}") == [("one", "x"), ("two", "y"), ("three", "oos")]


def test_stratified_folds_partition_the_data_and_keep_labels_balanced() -> None:
    examples = [(f"{label} {i}", label) for label in "abc" for i in range(10)]
    folds = nlu.stratified_folds(examples, 5)
    tests = [e for _, test in folds for e in test]
    assert sorted(tests) == sorted(examples)
    for train, test in folds:
        assert not set(train) & set(test) and len(train) + len(test) == len(examples)
        assert sorted(label for _, label in test) == sorted("abc" * 2)
    assert folds == nlu.stratified_folds(list(reversed(examples)), 5)


def test_holdout_is_deterministic_and_roughly_the_fraction() -> None:
    examples = [(f"text number {i}", "ab"[i % 2]) for i in range(2000)]
    train, test = nlu.holdout_split(examples, 0.2)
    assert len(train) + len(test) == 2000 and 300 < len(test) < 500
    assert nlu.holdout_split(list(reversed(examples)), 0.2)[1] == list(reversed(test))


def test_figures_count_fallback_as_out_of_scope() -> None:
    gold = ["a", "a", "b", "oos", "oos", "oos"]
    predicted = ["a", "nlu_fallback", "b", "nlu_fallback", "oos", "a"]
    result = nlu.figures(gold, predicted, "oos")
    assert result["accuracy"] == pytest.approx(4 / 6)
    assert result["in_scope_accuracy"] == pytest.approx(2 / 3)
    assert result["oos_recall"] == pytest.approx(2 / 3)
    assert result["oos_precision"] == pytest.approx(2 / 3)
    plain = nlu.figures(["a", "b"], ["a", "a"], None)
    assert plain["macro_f1"] == pytest.approx((2 / 3 + 0) / 2) and plain["fallback_rate"] == 0


def test_real_run_through_rasa_reports_the_figures(tmp_path, capsys) -> None:
    config = tmp_path / "config.yml"
    config.write_text(CONFIG, encoding="utf-8")
    train = tsv(tmp_path / "train.tsv", ROWS)
    test = tsv(
        tmp_path / "test.tsv",
        {"refund": ["my refund has not come", "退款到帳要多久"], "order": ["where's my parcel", "我的訂單到哪了"],
         "greet": ["hello there", "你好啊"], "oos": ["what is the capital of peru", "asdf qwerty zxcv"]},
    )
    code = nlu.main(["--train", str(train), "--test", str(test), "--oos-label", "oos", "--config", str(config)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    result = last_json(captured.out)
    for key in ("accuracy", "macro_f1", "train_seconds", "parse_ms_p50", "in_scope_accuracy", "oos_recall",
                "oos_precision"):
        assert key in result
    assert result["n_train"] == 24 and result["n_test"] == 8
    assert result["in_scope_accuracy"] >= 5 / 6
    assert "trained in" in captured.err
