"""The project linter: clean data passes, and each check catches a planted problem with file and line."""

from __future__ import annotations

import pathlib
from typing import List

import pytest

from bot.__main__ import main as cli
from bot.trainer.lint import bigrams, jaccard, lint, normalize_example, similar_pairs


def line_of(path: pathlib.Path, needle: str) -> int:
    """1-based line of the first line of `path` containing `needle`."""
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if needle in line:
            return number
    raise AssertionError(f"{needle!r} not in {path}")


def edit(path: pathlib.Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def problems(root: pathlib.Path) -> List[str]:
    return [str(problem) for problem in lint(root).problems]


def test_clean_project_passes(project_root: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    result = lint(project_root)
    assert result.problems == []
    assert result.topics == 3
    assert cli(["lint", "--root", str(project_root)]) == 0
    assert capsys.readouterr().out.strip() == "ok: 3 topics checked"


@pytest.mark.parametrize(
    "planted, phrase",
    [
        ("退款会在 3–5 个工作日内绝对保证退回原支付账户。", "绝对保证"),
        ("退款會在 3–5 個工作日內絕對保證退回原支付賬戶。", "绝对保证"),  # Traditional form
        ("退款会在 3–5 个工作日内退回，１００％保证。", "100%保证"),  # full-width
        ("退款会在 3–5 个工作日内绝对 保证退回。", "绝对保证"),  # a space inside
        ("退款 绝 对 保 证 3–5 个工作日内退回。", "绝对保证"),  # spaced out
        ("退款会在 3–5 个工作日内退回，100 % 保证。", "100%保证"),
    ],
)
def test_banned_phrase_in_domain_response(project_root: pathlib.Path, planted: str, phrase: str) -> None:
    domain = project_root / "domain.yml"
    edit(domain, "退款会在 3–5 个工作日内退回原支付账户。", planted)
    line = line_of(domain, planted)
    assert [problem for problem in problems(project_root) if "banned" in problem] == [
        f"domain.yml:{line}: response utter_faq_refund_status contains the banned phrase '{phrase}'"
    ]


def test_traditional_chinese_answer(project_root: pathlib.Path) -> None:
    domain = project_root / "domain.yml"
    edit(domain, "退款会在 3–5 个工作日内退回原支付账户。", "退款會在 3–5 個工作日內退回原支付賬戶。")
    assert problems(project_root) == [
        f"domain.yml:{line_of(domain, '退款會在')}: utter_faq_refund_status: write the Chinese answer in Simplified characters"
    ]


def test_banned_phrase_in_english_response_any_case(project_root: pathlib.Path) -> None:
    domain = project_root / "domain.yml"
    edit(domain, "Hello! How can I help?", "Hello! Our service Never Fails.")
    assert problems(project_root) == [
        f"domain.yml:{line_of(domain, 'Never Fails')}: response utter_greet contains the banned phrase 'never fails'"
    ]


def test_banned_phrase_in_canned_reply(project_root: pathlib.Path) -> None:
    settings = project_root / "settings.yml"
    edit(settings, "Hello, this is Li from customer service.", "Hello, GUARANTEED RETURNS on every plan.")
    line = line_of(settings, "GUARANTEED RETURNS")
    assert problems(project_root) == [
        f"settings.yml:{line}: desk.canned.greeting.en contains the banned phrase 'guaranteed returns'"
    ]


def test_banned_phrase_in_canned_reply_list(project_root: pathlib.Path) -> None:
    """The desk's layout: a list of canned replies in flow style, each with an id."""
    settings = project_root / "settings.yml"
    text = settings.read_text(encoding="utf-8")
    start, end = text.index("  canned:\n"), text.index("\ncompliance:")
    canned = (
        "  canned:\n"
        '    - {id: greet_zh, language: zh, title: 问候, text: "您好，我是人工客服。"}\n'
        '    - {id: wait_zh, language: zh, title: 请稍候, text: "这个理财产品稳赚，收益絕對保證。"}\n'
    )
    settings.write_text(text[:start] + canned + text[end:], encoding="utf-8")
    assert problems(project_root) == [
        f"settings.yml:{line_of(settings, '絕對保證')}: desk.canned[wait_zh].text contains the banned phrase '绝对保证'"
    ]


def test_banned_phrase_in_python_text(project_root: pathlib.Path) -> None:
    module = project_root / "bot" / "desk" / "survey.py"
    edit(module, '"请为本次服务打分：1 很差，5 很好。"', '"请为本次服务打分，优惠券永久有效。"')
    line = line_of(module, "永久有效")
    assert problems(project_root) == [f"bot/desk/survey.py:{line}: text contains the banned phrase '永久有效'"]


def test_banned_phrase_in_python_multiline_and_fstring(project_root: pathlib.Path) -> None:
    module = project_root / "bot" / "desk" / "survey.py"
    with module.open("a", encoding="utf-8") as handle:
        handle.write('\n\nLONG = """第一行\n第二行：绝对保证\n"""\n\n\ndef later(name: str) -> str:\n')
        handle.write('    return f"{name}，本产品 never fails"\n')
    found = problems(project_root)
    assert found == sorted(
        [
            f"bot/desk/survey.py:{line_of(module, '第二行')}: text contains the banned phrase '绝对保证'",
            f"bot/desk/survey.py:{line_of(module, 'never fails')}: text contains the banned phrase 'never fails'",
        ]
    )


def test_missing_english_examples_and_too_few_chinese(project_root: pathlib.Path) -> None:
    path = project_root / "data" / "nlu" / "faq" / "delivery_time.yml"
    lines = path.read_text(encoding="utf-8").splitlines()
    kept = [line for line in lines if not line.startswith("    - ") or "\u4e00" <= line[6] <= "\u9fff"]
    kept = [line for line in kept if line not in ("    - 周末配送吗", "    - 物流一般几天")]
    path.write_text("\n".join(kept) + "\n", encoding="utf-8")
    assert problems(project_root) == [
        "data/nlu/faq/delivery_time.yml:3: faq_delivery_time has 0 English examples, needs at least 12",
        "data/nlu/faq/delivery_time.yml:3: faq_delivery_time has 10 Chinese examples, needs at least 12",
    ]


def test_missing_english_answer(project_root: pathlib.Path) -> None:
    domain = project_root / "domain.yml"
    edit(
        domain,
        '    - condition:\n        - type: slot\n          name: language\n          value: en\n'
        '      text: "Refunds reach your original payment account within 3–5 working days."\n',
        "",
    )
    line = line_of(domain, "utter_faq_refund_status:")
    assert problems(project_root) == [
        f"domain.yml:{line}: utter_faq_refund_status has no English answer (condition: slot language is en)"
    ]


def test_missing_response_and_domain_intent(project_root: pathlib.Path) -> None:
    domain = project_root / "domain.yml"
    edit(domain, "  - faq_refund_status\n", "")
    edit(domain, "  utter_faq_refund_status:", "  utter_faq_refund_status_old:")
    found = problems(project_root)
    assert "data/nlu/faq/refund_status.yml:3: faq_refund_status is not listed under intents in domain.yml" in found
    assert (
        "data/nlu/faq/refund_status.yml:3: faq_refund_status has no answer: response utter_faq_refund_status "
        "is missing in domain.yml" in found
    )


def test_same_example_under_two_intents(project_root: pathlib.Path) -> None:
    path = project_root / "data" / "nlu" / "faq" / "delivery_time.yml"
    edit(path, "    - 周末配送吗\n", "    - 周末配送吗\n    - 退款多久到账？\n")
    refund = project_root / "data" / "nlu" / "faq" / "refund_status.yml"
    assert problems(project_root) == [
        f"data/nlu/faq/refund_status.yml:{line_of(refund, '退款多久到账')}: conflict: '退款多久到账' is under "
        f"faq_refund_status and also under faq_delivery_time ('退款多久到账？', "
        f"data/nlu/faq/delivery_time.yml:{line_of(path, '退款多久到账')})"
    ]


def test_near_duplicate_across_intents(project_root: pathlib.Path) -> None:
    path = project_root / "data" / "nlu" / "faq" / "delivery_time.yml"
    edit(path, "    - 周末配送吗\n", "    - 周末配送吗\n    - 退款处理中是什么意思呀\n")
    refund = project_root / "data" / "nlu" / "faq" / "refund_status.yml"
    found = problems(project_root)
    assert len(found) == 1
    new = f"data/nlu/faq/delivery_time.yml:{line_of(path, '意思呀')}"
    old = f"data/nlu/faq/refund_status.yml:{line_of(refund, '退款处理中是什么意思')}"
    assert "near-duplicate (0.90) across intents" in found[0]
    assert found[0].startswith((new, old)) and new in found[0] and old in found[0]
    assert "'退款处理中是什么意思呀' (faq_delivery_time" in found[0]
    assert "'退款处理中是什么意思' (faq_refund_status" in found[0]


def test_answer_too_long_for_wechat(project_root: pathlib.Path) -> None:
    domain = project_root / "domain.yml"
    long_text = "退款会在三到五个工作日内退回原支付账户。" * 40  # 20 characters x 3 bytes x 40 = 2400 bytes
    edit(domain, "退款会在 3–5 个工作日内退回原支付账户。", long_text)
    assert problems(project_root) == [
        f"domain.yml:{line_of(domain, long_text[:20])}: response utter_faq_refund_status is 2400 bytes; "
        "WeChat shows at most 2048"
    ]


def test_placeholder_without_slot(project_root: pathlib.Path) -> None:
    domain = project_root / "domain.yml"
    edit(domain, "工单 {ticket_id} 已创建。", "工单 {ticket_id} 已创建，订单 {order_number}。")
    assert problems(project_root) == [
        f"domain.yml:{line_of(domain, 'order_number')}: response utter_ticket uses {{order_number}}, which is not a slot"
    ]
    settings = project_root / "settings.yml"
    edit(settings, "  lint_extra_placeholders: []", "  lint_extra_placeholders: [order_number]")
    assert problems(project_root) == []


def test_intent_without_rule_or_story(project_root: pathlib.Path) -> None:
    domain = project_root / "domain.yml"
    edit(domain, "  - greet\n", "  - greet\n  - goodbye\n")
    assert problems(project_root) == [f"domain.yml:{line_of(domain, '- goodbye')}: intent goodbye is used by no rule or story"]
    edit(project_root / "settings.yml", "  lint_extra_placeholders: []", "  lint_ignore_unused_intents: [goodbye]")
    assert problems(project_root) == []


def test_cli_reports_problems_and_exit_status(project_root: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    edit(project_root / "domain.yml", "  - greet\n", "  - greet\n  - goodbye\n")
    assert cli(["lint", "--root", str(project_root)]) == 1
    captured = capsys.readouterr()
    assert captured.out.strip() == "domain.yml:10: intent goodbye is used by no rule or story"
    assert "1 problem(s), 3 topics checked" in captured.err


def test_missing_compliance_settings_names_the_key(project_root: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    edit(project_root / "settings.yml", "  min_examples_per_language: 12\n", "  min_examples_per_language: many\n")
    assert cli(["lint", "--root", str(project_root)]) == 2
    assert "compliance.min_examples_per_language" in capsys.readouterr().err


def test_similarity_helpers() -> None:
    assert normalize_example("How do I get a REFUND?") == "how do i get a refund"
    assert normalize_example("退款進度怎麼查？") == "退款进度怎么查"
    assert jaccard(bigrams("abcd"), bigrams("abcd")) == 1.0
    sets = [bigrams(normalize_example(text)) for text in ("退款处理中是什么意思", "退款处理中是什么意思呀", "你好")]
    assert [(a, b) for a, b, _ in similar_pairs(sets, 0.9)] == [(0, 1)]
    assert list(similar_pairs(sets, 0.95)) == []


@pytest.mark.parametrize("module", ["bot/calendar/messages.py", "bot/texts.py"])
def test_banned_phrase_in_a_copied_real_module(project_root: pathlib.Path, module: str) -> None:
    """A real reply-holding module copied into the project: clean as is, caught once a phrase is planted."""
    import ast

    from bot.settings import repo_root

    source = repo_root() / module
    if not source.exists():
        pytest.skip(f"{module} is not in the repository yet")
    target = project_root / module
    target.parent.mkdir(parents=True, exist_ok=True)
    text = source.read_text(encoding="utf-8")
    target.write_text(text, encoding="utf-8")
    assert problems(project_root) == []
    lines = text.splitlines(keepends=True)
    literals = [
        node
        for node in ast.walk(ast.parse(text))
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and node.lineno == node.end_lineno
        and any("\u4e00" <= char <= "\u9fff" for char in node.value)
        and lines[node.lineno - 1][node.col_offset : node.col_offset + 1] in ("'", '"')
    ]
    assert literals, f"{module} holds no Chinese text"
    node = min(literals, key=lambda item: item.lineno)
    line = lines[node.lineno - 1]
    lines[node.lineno - 1] = line[: node.col_offset + 1] + "永久有效" + line[node.col_offset + 1 :]
    target.write_text("".join(lines), encoding="utf-8")
    assert problems(project_root) == [f"{module}:{node.lineno}: text contains the banned phrase '永久有效'"]


def test_unreadable_nlu_file_is_reported_with_its_line(project_root: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = project_root / "data" / "nlu" / "faq" / "delivery_time.yml"
    edit(path, "    - 周末配送吗\n", "    - 周末配送吗\n bad: x\n")
    expected = (
        f"data/nlu/faq/delivery_time.yml:{line_of(path, ' bad: x')}: not valid YAML: "
        "expected <block end>, but found '<block mapping start>'"
    )
    assert problems(project_root) == [expected]  # and not "faq_delivery_time has no training examples"
    assert cli(["lint", "--root", str(project_root)]) == 1
    assert capsys.readouterr().out.strip() == expected


def test_file_not_in_utf8_is_reported(project_root: pathlib.Path) -> None:
    path = project_root / "data" / "nlu" / "faq" / "refund_status.yml"
    path.write_bytes(path.read_text(encoding="utf-8").encode("gbk"))
    assert problems(project_root) == ["data/nlu/faq/refund_status.yml:5: not UTF-8: save it as UTF-8"]


def test_broken_domain_is_one_problem(project_root: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    domain = project_root / "domain.yml"
    domain.write_text(domain.read_text(encoding="utf-8") + "responses:\n  utter_x: [\n", encoding="utf-8")
    lines = len(domain.read_text(encoding="utf-8").splitlines())
    expected = f"domain.yml:{lines}: not valid YAML: expected the node content, but found '<stream end>'"
    assert problems(project_root) == [expected]
    assert cli(["lint", "--root", str(project_root)]) == 1
    assert capsys.readouterr().out.strip() == expected


@pytest.mark.parametrize(
    "text, banned",
    [
        ("Refunds are 100 % guaranteed.", True),
        ("Refunds are 100% guaranteed.", True),
        ("we are casino risk experts", False),  # a Latin phrase matches whole words only
        ("we promise no risk.", True),
        ("no riskier way", False),
        ("we promise no risk", True),
    ],
)
def test_english_banned_phrases_across_spacing(text: str, banned: bool) -> None:
    from bot.trainer.lint import has_phrase, phrase_form

    needles = [phrase_form(phrase) for phrase in ("100% guaranteed", "no risk")]
    assert any(has_phrase(phrase_form(text), needle) for needle in needles) is banned
