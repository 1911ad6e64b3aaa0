"""The FAQ spreadsheet: byte-identical round trips, local edits, new topics, and refusals with row numbers."""

from __future__ import annotations

import pathlib
from typing import Callable, Dict

import pytest
from openpyxl import load_workbook

from bot.__main__ import main as cli
from bot.faq import load_catalog
from bot.trainer.faq_sheet import COLUMNS
from bot.trainer.lint import lint


def export(root: pathlib.Path, sheet: pathlib.Path) -> None:
    assert cli(["faq", "export", str(sheet), "--root", str(root)]) == 0


def rewrite(sheet: pathlib.Path, change: Callable) -> pathlib.Path:
    """Apply `change(worksheet)` and save the sheet under a new name."""
    workbook = load_workbook(sheet)
    change(workbook.active)
    target = sheet.with_name("edited-" + sheet.name)
    workbook.save(target)
    return target


def row_of(worksheet, intent: str) -> int:  # type: ignore[no-untyped-def]
    for number in range(2, worksheet.max_row + 1):
        if worksheet.cell(number, 1).value == intent:
            return number
    raise AssertionError(intent)


def changed_files(before: Dict[str, bytes], after: Dict[str, bytes]) -> set:
    return {name for name in before.keys() | after.keys() if before.get(name) != after.get(name)}


def test_export_has_every_topic(project_root: pathlib.Path, tmp_path: pathlib.Path) -> None:
    sheet = tmp_path / "faq.xlsx"
    export(project_root, sheet)
    worksheet = load_workbook(sheet).active
    assert [cell.value for cell in worksheet[1]] == list(COLUMNS)
    rows = {row[0]: row for row in worksheet.iter_rows(min_row=2, values_only=True)}
    assert set(rows) == {"faq_refund_status", "faq_delivery_time", "faq_service_hours"}
    catalog = load_catalog(project_root)
    for intent, (_, zh, en, answer_zh, answer_en) in rows.items():
        topic = catalog[intent]
        assert zh.split("\n") == list(topic.examples_zh)
        assert en.split("\n") == list(topic.examples_en)
        assert (answer_zh or None, answer_en or None) == (topic.answer_zh, topic.answer_en)
    assert rows["faq_delivery_time"][3] == "订单 24 小时内发货。\n一般 2–4 天送达。"
    assert rows["faq_service_hours"][3] is None  # answered by code (action_service_hours)


def test_round_trip_is_byte_identical(snapshot, project_root: pathlib.Path, tmp_path: pathlib.Path, capsys) -> None:  # type: ignore[no-untyped-def]
    before = snapshot(project_root)
    sheet = tmp_path / "faq.xlsx"
    export(project_root, sheet)
    assert cli(["faq", "import", str(sheet), "--root", str(project_root)]) == 0
    assert "changed 0 file(s)" in capsys.readouterr().out
    assert snapshot(project_root) == before


def test_round_trip_on_the_real_data_is_byte_identical(snapshot, real_copy: pathlib.Path, tmp_path: pathlib.Path) -> None:
    before = snapshot(real_copy)
    sheet = tmp_path / "real.xlsx"
    export(real_copy, sheet)
    assert load_workbook(sheet, read_only=True).active.max_row >= 2
    assert cli(["faq", "import", str(sheet), "--root", str(real_copy)]) == 0
    assert snapshot(real_copy) == before


def test_edit_touches_only_what_changed(snapshot, project_root: pathlib.Path, tmp_path: pathlib.Path) -> None:
    sheet = tmp_path / "faq.xlsx"
    export(project_root, sheet)
    before = snapshot(project_root)

    def change(worksheet) -> None:  # type: ignore[no-untyped-def]
        row = row_of(worksheet, "faq_refund_status")
        worksheet.cell(row, 5).value = "Refunds arrive within 5 working days."
        worksheet.cell(row, 2).value += "\n退款会退到哪里"
        row = row_of(worksheet, "faq_delivery_time")
        worksheet.cell(row, 4).value = "订单 24 小时内发货。\n一般 2–3 天送达。"

    assert cli(["faq", "import", str(rewrite(sheet, change)), "--root", str(project_root)]) == 0
    after = snapshot(project_root)
    assert changed_files(before, after) == {"domain.yml", "data/nlu/faq/refund_status.yml"}
    old_domain = before["domain.yml"].decode().splitlines()
    new_domain = after["domain.yml"].decode().splitlines()
    assert len(old_domain) == len(new_domain)
    differing = [(a, b) for a, b in zip(old_domain, new_domain, strict=True) if a != b]
    assert differing == [
        (
            '      text: "Refunds reach your original payment account within 3–5 working days."',
            '      text: "Refunds arrive within 5 working days."',
        ),
        ("        一般 2–4 天送达。", "        一般 2–3 天送达。"),
    ]
    refund = after["data/nlu/faq/refund_status.yml"].decode().splitlines()
    assert refund[refund.index("    - 退款处理中是什么意思") + 1] == "    - 退款会退到哪里"
    assert refund[refund.index("    - 退款会退到哪里") + 1] == "    - where is my refund"
    topic = load_catalog(project_root)["faq_refund_status"]
    assert topic.answer_en == "Refunds arrive within 5 working days."
    assert lint(project_root).problems == []
    # Exporting the result and importing it again changes nothing.
    again = tmp_path / "again.xlsx"
    export(project_root, again)
    assert cli(["faq", "import", str(again), "--root", str(project_root)]) == 0
    assert snapshot(project_root) == after


def test_new_topic_gets_file_intent_response_and_rule(project_root: pathlib.Path, tmp_path: pathlib.Path) -> None:
    sheet = tmp_path / "faq.xlsx"
    export(project_root, sheet)
    chinese = [f"礼品卡第{number}个问题怎么用" for number in "一二三四五六七八九十"] + ["礼品卡能退吗", "礼品卡过期了吗"]
    english = [f"gift card question {word}" for word in "one two three four five six seven eight nine ten".split()]
    english += ["can i return a gift card", "does a gift card expire"]

    def change(worksheet) -> None:  # type: ignore[no-untyped-def]
        worksheet.append(["gift_card", "\n".join(chinese), "\n".join(english), "礼品卡在结算时使用。", "Use gift cards at checkout."])

    assert cli(["faq", "import", str(rewrite(sheet, change)), "--root", str(project_root)]) == 0
    topic = load_catalog(project_root)["faq_gift_card"]
    assert topic.examples_zh == tuple(chinese) and topic.examples_en == tuple(english)
    assert (topic.answer_zh, topic.answer_en) == ("礼品卡在结算时使用。", "Use gift cards at checkout.")
    domain = (project_root / "domain.yml").read_text(encoding="utf-8")
    assert "  - faq_gift_card\n  # --- FAQ topics (end)" in domain
    assert '    - text: "礼品卡在结算时使用。"\n  # --- FAQ answers (end)' in domain
    rules = (project_root / "data" / "rules" / "faq.yml").read_text(encoding="utf-8")
    assert rules.endswith(
        "\n  - rule: Answer faq_gift_card\n    steps:\n      - intent: faq_gift_card\n      - action: utter_faq_gift_card\n"
    )
    new_file = (project_root / "data" / "nlu" / "faq" / "gift_card.yml").read_text(encoding="utf-8")
    assert new_file.startswith('version: "3.1"\nnlu:\n- intent: faq_gift_card\n  examples: |\n    - 礼品卡第一个问题怎么用\n')
    assert lint(project_root).problems == []


@pytest.mark.parametrize(
    "change, expected",
    [
        (lambda ws: ws.delete_cols(5), ["row 1: missing column 'answer_en'"]),
        (lambda ws: setattr(ws.cell(row_of(ws, "faq_refund_status"), 5), "value", " "), ["row {row}: answer_en is empty"]),
        (
            lambda ws: setattr(ws.cell(row_of(ws, "faq_refund_status"), 4), "value", "退款百分之百到账，絕對保證。"),
            ["row {row}: answer_zh contains the banned phrase '绝对保证'"],
        ),
        (
            lambda ws: setattr(ws.cell(row_of(ws, "faq_refund_status"), 3), "value", "where is my refund\nrefund status"),
            ["row {row}: examples_en has 2 examples, needs at least 12"],
        ),
        (
            lambda ws: setattr(ws.cell(row_of(ws, "faq_service_hours"), 4), "value", "我们 9 点上班"),
            ["row {row}: answer_zh: faq_service_hours is answered by code (action_service_hours); leave it empty"],
        ),
        (
            lambda ws: setattr(ws.cell(row_of(ws, "faq_refund_status"), 1), "value", "Refund Status"),
            ["row {row}: id 'Refund Status' must be lowercase letters, digits and _ (like faq_refund_status)"],
        ),
    ],
    ids=["missing-column", "empty-answer", "banned-phrase", "too-few-examples", "code-answered", "bad-id"],
)
def test_bad_sheet_is_refused_with_row_numbers(
    snapshot, project_root: pathlib.Path, tmp_path: pathlib.Path, capsys, change, expected  # type: ignore[no-untyped-def]
) -> None:
    sheet = tmp_path / "faq.xlsx"
    export(project_root, sheet)
    worksheet = load_workbook(sheet).active
    row = row_of(worksheet, "faq_service_hours" if "service_hours" in expected[0] else "faq_refund_status")
    before = snapshot(project_root)
    capsys.readouterr()
    assert cli(["faq", "import", str(rewrite(sheet, change)), "--root", str(project_root)]) == 1
    captured = capsys.readouterr()
    assert captured.out.splitlines() == [line.format(row=row) for line in expected]
    assert "nothing was written" in captured.err
    assert snapshot(project_root) == before


def test_result_that_fails_the_checks_is_refused(snapshot, project_root: pathlib.Path, tmp_path: pathlib.Path, capsys) -> None:  # type: ignore[no-untyped-def]
    sheet = tmp_path / "faq.xlsx"
    export(project_root, sheet)

    def change(worksheet) -> None:  # type: ignore[no-untyped-def]
        worksheet.cell(row_of(worksheet, "faq_delivery_time"), 2).value += "\n退款多久到账"

    before = snapshot(project_root)
    capsys.readouterr()
    assert cli(["faq", "import", str(rewrite(sheet, change)), "--root", str(project_root)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 1
    assert out[0].startswith(f"row {row_of(load_workbook(sheet).active, 'faq_delivery_time')}: data/nlu/faq/")
    assert "conflict: '退款多久到账'" in out[0]
    assert snapshot(project_root) == before


def test_missing_variation_is_added(project_root: pathlib.Path, tmp_path: pathlib.Path) -> None:
    domain = project_root / "domain.yml"
    english = (
        '    - condition:\n        - type: slot\n          name: language\n          value: en\n'
        '      text: "Refunds reach your original payment account within 3–5 working days."\n'
    )
    full = domain.read_text(encoding="utf-8")
    domain.write_text(full.replace(english, ""), encoding="utf-8")
    sheet = tmp_path / "faq.xlsx"
    export(project_root, sheet)

    def change(worksheet) -> None:  # type: ignore[no-untyped-def]
        worksheet.cell(row_of(worksheet, "faq_refund_status"), 5).value = (
            "Refunds reach your original payment account within 3–5 working days."
        )

    assert cli(["faq", "import", str(rewrite(sheet, change)), "--root", str(project_root)]) == 0
    assert domain.read_text(encoding="utf-8") == full
    assert lint(project_root).problems == []


def test_new_topic_without_section_markers(project_root: pathlib.Path, tmp_path: pathlib.Path) -> None:
    domain = project_root / "domain.yml"
    text = domain.read_text(encoding="utf-8")
    for marker in ("  # --- FAQ topics (end)\n", "  # --- FAQ answers (end)\n"):
        text = text.replace(marker, "")
    domain.write_text(text, encoding="utf-8")
    sheet = tmp_path / "faq.xlsx"
    export(project_root, sheet)
    chinese = [f"发票第{number}个问题" for number in "一二三四五六七八九十"] + ["怎么开发票", "发票抬头写错了"]
    english = [f"invoice question {number}" for number in range(1, 11)] + ["how do i get an invoice", "wrong invoice title"]

    def change(worksheet) -> None:  # type: ignore[no-untyped-def]
        worksheet.append(["faq_invoice", "\n".join(chinese), "\n".join(english), "在订单详情页申请发票。", "Request an invoice on the order page."])

    assert cli(["faq", "import", str(rewrite(sheet, change)), "--root", str(project_root)]) == 0
    new = domain.read_text(encoding="utf-8")
    assert "  - faq_service_hours\n  - faq_invoice\n\nslots:" in new
    assert '        一般 2–4 天送达。\n  utter_faq_invoice:\n' in new
    assert '    - text: "在订单详情页申请发票。"\n\nactions:' in new
    assert lint(project_root).problems == []
    assert load_catalog(project_root)["faq_invoice"].answer_en == "Request an invoice on the order page."


def _gbk(root: pathlib.Path) -> str:
    path = root / "data" / "nlu" / "faq" / "refund_status.yml"
    path.write_bytes(path.read_text(encoding="utf-8").encode("gbk"))
    return "error: data/nlu/faq/refund_status.yml:5: not UTF-8: save it as UTF-8"


def _bad_nlu_yaml(root: pathlib.Path) -> str:
    path = root / "data" / "nlu" / "faq" / "refund_status.yml"
    path.write_text(path.read_text(encoding="utf-8") + " bad: x\n", encoding="utf-8")
    line = len(path.read_text(encoding="utf-8").splitlines())
    return f"error: data/nlu/faq/refund_status.yml:{line}: not valid YAML: expected <block end>, but found '<block mapping start>'"


def _bad_domain(root: pathlib.Path) -> str:
    path = root / "domain.yml"
    path.write_text(path.read_text(encoding="utf-8") + "responses:\n  utter_x: [\n", encoding="utf-8")
    line = len(path.read_text(encoding="utf-8").splitlines())
    return f"error: domain.yml:{line}: not valid YAML: expected the node content, but found '<stream end>'"


@pytest.mark.parametrize("spoil", [_gbk, _bad_nlu_yaml, _bad_domain], ids=["not-utf8", "nlu-not-yaml", "domain-not-yaml"])
def test_unreadable_project_file_refuses_export_and_import(
    snapshot, project_root: pathlib.Path, tmp_path: pathlib.Path, capsys, spoil  # type: ignore[no-untyped-def]
) -> None:
    good = tmp_path / "good.xlsx"
    export(project_root, good)
    expected = spoil(project_root)
    before = snapshot(project_root)
    capsys.readouterr()
    sheet = tmp_path / "faq.xlsx"
    assert cli(["faq", "export", str(sheet), "--root", str(project_root)]) == 2
    assert capsys.readouterr().err.splitlines()[-1] == expected
    assert not sheet.exists()
    assert cli(["faq", "import", str(good), "--root", str(project_root)]) == 2
    assert capsys.readouterr().err.splitlines()[-1] == expected
    assert snapshot(project_root) == before


def test_conflict_names_the_row_that_was_edited(snapshot, project_root: pathlib.Path, tmp_path: pathlib.Path, capsys) -> None:  # type: ignore[no-untyped-def]
    sheet = tmp_path / "faq.xlsx"
    export(project_root, sheet)
    worksheet = load_workbook(sheet).active
    refund_row, delivery_row = row_of(worksheet, "faq_refund_status"), row_of(worksheet, "faq_delivery_time")
    assert delivery_row < refund_row  # the other intent comes first in the sheet

    def change(worksheet) -> None:  # type: ignore[no-untyped-def]
        worksheet.cell(row_of(worksheet, "faq_refund_status"), 2).value += "\n多久能发货？"

    before = snapshot(project_root)
    capsys.readouterr()
    assert cli(["faq", "import", str(rewrite(sheet, change)), "--root", str(project_root)]) == 1
    delivery = (project_root / "data" / "nlu" / "faq" / "delivery_time.yml").read_text(encoding="utf-8")
    line = delivery.splitlines().index("    - 多久能发货") + 1
    # The file the sheet changed is named without a line: that line exists only in the refused result.
    assert capsys.readouterr().out.splitlines() == [
        f"row {refund_row}: data/nlu/faq/refund_status.yml: conflict: '多久能发货？' is under faq_refund_status and "
        f"also under faq_delivery_time ('多久能发货', data/nlu/faq/delivery_time.yml:{line})"
    ]
    assert snapshot(project_root) == before


@pytest.mark.parametrize(
    "column, answer, message",
    [
        (4, "退款会在三到五个工作日内退回原支付账户。" * 40, "response utter_faq_refund_status is 2400 bytes; WeChat shows at most 2048"),
        (5, "Refund {order_id} arrives in 3 days.", "response utter_faq_refund_status uses {order_id}, which is not a slot"),
        (4, "退款會在 3–5 個工作日內退回原支付賬戶。", "utter_faq_refund_status: write the Chinese answer in Simplified characters"),
    ],
    ids=["too-long", "unknown-placeholder", "traditional"],
)
def test_answer_problem_names_the_row(
    snapshot, project_root: pathlib.Path, tmp_path: pathlib.Path, capsys, column, answer, message  # type: ignore[no-untyped-def]
) -> None:
    sheet = tmp_path / "faq.xlsx"
    export(project_root, sheet)
    row = row_of(load_workbook(sheet).active, "faq_refund_status")
    before = snapshot(project_root)
    capsys.readouterr()
    edited = rewrite(sheet, lambda worksheet: setattr(worksheet.cell(row, column), "value", answer))
    assert cli(["faq", "import", str(edited), "--root", str(project_root)]) == 1
    assert capsys.readouterr().out.splitlines() == [f"row {row}: domain.yml: {message}"]
    assert snapshot(project_root) == before


@pytest.mark.parametrize(
    "name, expected",
    [
        ("", "error: {target} is a folder; give a file name such as {target}/sheet.xlsx"),
        ("faq.csv", "error: {target}: the spreadsheet must be an .xlsx file (the import reads only .xlsx)"),
        ("notes.txt/faq.xlsx", "error: cannot write {target}: {parent} is a file, not a folder"),
    ],
    ids=["folder", "csv", "under-a-file"],
)
def test_export_refuses_a_bad_output_path(
    project_root: pathlib.Path, tmp_path: pathlib.Path, capsys, name: str, expected: str  # type: ignore[no-untyped-def]
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("not a folder", encoding="utf-8")
    target = out / name if name else out
    assert cli(["faq", "export", str(target), "--root", str(project_root)]) == 2
    assert capsys.readouterr().err.splitlines() == [expected.format(target=target, parent=out / "notes.txt")]
    assert sorted(path.name for path in out.iterdir()) == ["notes.txt"]


def test_a_root_that_is_no_project_is_an_error(tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    # it used to export 0 topics and exit 0
    assert cli(["faq", "export", str(tmp_path / "faq.xlsx"), "--root", str(tmp_path / "nowhere")]) == 2
    assert "no domain.yml here, so not a Rasa project" in capsys.readouterr().err
    assert not (tmp_path / "faq.xlsx").exists()


def test_topic_names_survive_an_import_and_are_not_copied_to_a_new_topic(
    real_copy: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    """Topic files carry their names as intent metadata; an import edits examples around them."""
    sheet = tmp_path / "faq.xlsx"
    export(real_copy, sheet)
    refund = real_copy / "data" / "nlu" / "faq" / "refund_status.yml"
    assert "  metadata:\n    topic_name: {zh: 退款, en: your refund}\n  examples: |\n" in refund.read_text(encoding="utf-8")
    chinese = [f"礼品卡第{number}个问题怎么用" for number in "一二三四五六七八九十"] + ["礼品卡能退吗", "礼品卡过期了吗"]
    english = [f"gift card question {word}" for word in "one two three four five six seven eight nine ten".split()]
    english += ["can i return a gift card", "does a gift card expire"]

    def change(worksheet) -> None:  # type: ignore[no-untyped-def]
        row = row_of(worksheet, "faq_refund_status")
        worksheet.cell(row, 2).value = worksheet.cell(row, 2).value + "\n退款卡住了"
        worksheet.append(["gift_card", "\n".join(chinese), "\n".join(english), "礼品卡在结算时使用。", "Use gift cards at checkout."])

    assert cli(["faq", "import", str(rewrite(sheet, change)), "--root", str(real_copy)]) == 0
    catalog = load_catalog(real_copy)
    assert catalog["faq_refund_status"].examples_zh[-1] == "退款卡住了"
    assert (catalog["faq_refund_status"].name_zh, catalog["faq_refund_status"].name_en) == ("退款", "your refund")
    new_file = (real_copy / "data" / "nlu" / "faq" / "gift_card.yml").read_text(encoding="utf-8")
    assert new_file.startswith('version: "3.1"\nnlu:\n- intent: faq_gift_card\n  examples: |\n    - 礼品卡第一个问题怎么用\n')
    assert (catalog["faq_gift_card"].name_zh, catalog["faq_gift_card"].name_en) == (None, None)
    assert lint(real_copy).problems == []
