"""The evaluation report, on a tiny data set trained with the shipped NLU pipeline (about 20 s)."""

from __future__ import annotations

import base64
import pathlib
import re
import shutil

import pytest

from bot.__main__ import main as cli
from bot.trainer.evaluate import FALLBACK_INTENT, Evaluation, Prediction, compute_metrics

REPO = pathlib.Path(__file__).resolve().parents[2]


def test_metrics_from_known_predictions() -> None:
    predictions = [
        Prediction("a1", "a", "a", 0.9, 1),
        Prediction("a2", "a", "b", 0.6, 1),
        Prediction("a3", "a", FALLBACK_INTENT, 0.3, 1),
        Prediction("b1", "b", "b", 0.8, 1),
        Prediction("b2", "b", "a", 0.5, 1),
        Prediction("b3", "b", "a", 0.5, 1),
    ]
    metrics = compute_metrics(Evaluation(predictions=predictions))
    by_intent = {row[0]: row for row in metrics.per_intent}
    assert by_intent["a"][1:] == pytest.approx((1 / 3, 1 / 3, 1 / 3, 3, 1))
    assert by_intent["b"][1:] == pytest.approx((1 / 2, 1 / 3, 0.4, 3, 0))
    assert metrics.accuracy == pytest.approx(2 / 6)
    assert metrics.fallback_rate == pytest.approx(1 / 6)
    assert [(a, b, count, [item.text for item in items]) for a, b, count, items in metrics.confused] == [
        ("b", "a", 2, ["b2", "b3"]),
        ("a", "b", 1, ["a2"]),
    ]
    assert metrics.labels == ["a", "b", FALLBACK_INTENT]
    assert metrics.matrix.tolist() == [[1, 1, 1], [2, 1, 0]]


def test_evaluate_writes_the_html_report(
    project_root: pathlib.Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.copy2(REPO / "config.yml", project_root / "config.yml")
    monkeypatch.setenv("FRONTLINE_NOW", "2025-10-03T20:15:00+08:00")
    assert cli(["evaluate", "--root", str(project_root)]) == 0
    captured = capsys.readouterr()
    assert "[1/1] training split on" in captured.err
    assert "[1/1] testing split on" in captured.err
    reports = project_root / "var" / "reports"
    report = reports / "evaluation-20251003-201500.html"
    assert f"report: {report}" in captured.out
    document = report.read_text(encoding="utf-8")
    assert (reports / "latest.html").read_text(encoding="utf-8") == document
    for intent in ("faq_refund_status", "faq_delivery_time", "faq_service_hours", "greet"):
        assert f"<tr class='bad'><td>{intent}</td>" in document or f"<tr class=''><td>{intent}</td>" in document
    assert re.search(r'<td id="fallback-rate">\d+\.\d%</td>', document)
    assert "bot.nlu.classifier.NgramIntentClassifier" in document
    picture = re.search(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', document)
    assert picture is not None
    assert base64.b64decode(picture.group(1)).startswith(b"\x89PNG\r\n\x1a\n")
    # 80 examples, 20 per intent: a stratified 20% tests 4 of each.
    assert "80 (16 tested)" in document


@pytest.mark.parametrize("folds", ["0", "-1"])
def test_folds_below_one_are_an_error(folds: str, capsys: pytest.CaptureFixture[str]) -> None:
    # they used to fall back to one 80/20 split without a word
    assert cli(["evaluate", "--folds", folds]) == 2
    assert "--folds must be 1" in capsys.readouterr().err
