"""The FAQ catalogue API and the YAML text helpers the import relies on."""

from __future__ import annotations

import os
import pathlib

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.faq import load_catalog, split_languages
from bot.trainer import yamlio


def test_catalog_topics(project_root: pathlib.Path) -> None:
    catalog = load_catalog(project_root)
    assert sorted(catalog) == ["faq_delivery_time", "faq_refund_status", "faq_service_hours"]
    refund = catalog["faq_refund_status"]
    assert (refund.canonical_zh, refund.canonical_en) == ("我的退款到哪了", "where is my refund")
    assert len(refund.examples_zh) == len(refund.examples_en) == 12
    assert refund.answer_en == "Refunds reach your original payment account within 3–5 working days."
    assert refund.answer_zh == "退款会在 3–5 个工作日内退回原支付账户。"
    assert refund.response == "utter_faq_refund_status" and refund.topic == "refund_status"
    assert refund.canonical("zh_hant") == "我的退款到哪了" and refund.canonical("en") == "where is my refund"
    hours = catalog["faq_service_hours"]
    assert hours.answer_zh is None and hours.answer_en is None  # answered by action_service_hours


def test_catalog_follows_file_changes(project_root: pathlib.Path) -> None:
    assert load_catalog(project_root)["faq_refund_status"].canonical_zh == "我的退款到哪了"
    path = project_root / "data" / "nlu" / "faq" / "refund_status.yml"
    path.write_text(path.read_text(encoding="utf-8").replace("我的退款到哪了", "退款到哪里了"), encoding="utf-8")
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10_000_000))
    assert load_catalog(project_root)["faq_refund_status"].canonical_zh == "退款到哪里了"


def test_split_languages_keeps_order_and_attaches_neutral_lines() -> None:
    assert split_languages(["退款", "123", "refund", "456", "VIP会员怎么退款"]) == (
        ["退款", "123", "VIP会员怎么退款"],
        ["refund", "456"],
    )


@settings(max_examples=150, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=60))
def test_rendered_reply_text_reads_back_unchanged(text: str) -> None:
    document = f"responses:\n  utter_x:\n    - text: {yamlio.render_text_value(text, 6)}\n"
    assert yamlio.load(document)["responses"]["utter_x"][0]["text"] == text


def test_splices_touch_only_their_span() -> None:
    text = "a: 1\nb: 2\nc: 3\n"
    assert yamlio.apply_splices(text, [yamlio.Splice(8, 9, "20"), yamlio.Splice(15, 15, "d: 4\n")]) == "a: 1\nb: 20\nc: 3\nd: 4\n"
