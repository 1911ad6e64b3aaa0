"""A topic's short names come from its data file: adding a topic is a data change, not a code change."""

from __future__ import annotations

import pathlib
import shutil

import pytest

from bot import escalation
from bot.faq import load_catalog, topic_names
from bot.settings import repo_root

GIFT_CARD = """version: "3.1"
nlu:
- intent: faq_gift_card
  metadata:
    topic_name: {zh: 礼品卡, en: your gift card}
  examples: |
    - 礼品卡怎么用？
    - How do I use a gift card?
"""


@pytest.fixture
def project_copy(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> pathlib.Path:
    """A copy of domain.yml, settings.yml and data/, made the repository root (`bot.settings.repo_root`)."""
    root = tmp_path / "project"
    root.mkdir()
    for name in ("domain.yml", "settings.yml"):
        shutil.copy2(repo_root() / name, root / name)
    shutil.copytree(repo_root() / "data", root / "data")
    monkeypatch.setattr("bot.settings.repo_root", lambda: root)
    return root


def test_a_new_topic_file_names_its_topic_in_the_apology(project_copy: pathlib.Path) -> None:
    assert escalation.apology("zh", "faq_gift_card") == "非常抱歉给您添了这么多麻烦，我完全理解您的心情。"
    (project_copy / "data" / "nlu" / "faq" / "gift_card.yml").write_text(GIFT_CARD, encoding="utf-8")

    assert escalation.topic_name("faq_gift_card", "zh") == "礼品卡"
    assert escalation.topic_name("faq_gift_card", "zh_hant") == "禮品卡"
    assert escalation.apology("zh", "faq_gift_card") == "非常抱歉，礼品卡的事给您添了这么多麻烦，我完全理解您的心情。"
    assert escalation.apology("en", "faq_gift_card") == (
        "I'm really sorry about the trouble with your gift card. I understand how frustrating this is."
    )


def test_renaming_a_topic_in_its_file_renames_it(project_copy: pathlib.Path) -> None:
    path = project_copy / "data" / "nlu" / "faq" / "refund_status.yml"
    assert escalation.topic_name("faq_refund_status", "en") == "your refund"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("en: your refund}", "en: the refund of your order}"), encoding="utf-8")
    assert escalation.topic_name("faq_refund_status", "en") == "the refund of your order"


def test_every_shipped_name_is_complete() -> None:
    catalog = load_catalog()
    named = {intent for intent, topic in catalog.items() if topic.name_zh and topic.name_en}
    half = {intent for intent, topic in catalog.items() if bool(topic.name_zh) != bool(topic.name_en)}
    assert half == set()
    # every shipped topic names itself, so every apology names the problem
    assert named == set(catalog) and len(named) >= 43


@pytest.mark.parametrize(
    ("metadata", "names"),
    [
        ({"topic_name": {"zh": "退款", "en": "your refund"}}, ("退款", "your refund")),
        ({"topic_name": {"zh": " 退款 ", "en": "your refund"}}, ("退款", "your refund")),
        ({"topic_name": {"zh": "退款"}}, None),
        ({"topic_name": {"zh": "", "en": "your refund"}}, None),
        ({"topic_name": "退款"}, None),
        ({"other": 1}, None),
        (None, None),
    ],
)
def test_topic_names_of_metadata(metadata, names) -> None:
    assert topic_names(metadata) == names
