"""Conversation review: export from a real Rasa SQL tracker store, label, import as examples."""

from __future__ import annotations

import datetime as dt
import os
import pathlib
import re
import uuid
from typing import Any, Dict, Iterator, List

import pytest
import sqlalchemy as sa
from openpyxl import load_workbook
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, ConversationPaused, ConversationResumed, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot.__main__ import main as cli
from bot.desk.store import Store
from bot.faq import load_catalog
from bot.trainer import review
from bot.trainer.review import COLUMNS, conversation_key

DAY = dt.datetime(2025, 10, 3, 10, 0, tzinfo=dt.timezone(dt.timedelta(hours=8))).timestamp()


def user(text: str, intent: str, confidence: float, at: float, ranking: List[Dict[str, Any]] | None = None) -> UserUttered:
    parse = {
        "text": text,
        "intent": {"name": intent, "confidence": confidence},
        "intent_ranking": ranking or [{"name": intent, "confidence": confidence}],
        "entities": [],
    }
    return UserUttered(text, intent=parse["intent"], parse_data=parse, timestamp=at)


def action(name: str, at: float) -> ActionExecuted:
    return ActionExecuted(name, timestamp=at)


CONVERSATIONS = {
    "wx-openid-fallback": [
        user("昨天在三十一号店买的东西", "greet", 0.9, DAY - 86400 * 5),  # before --since: not exported
        action("utter_greet", DAY - 86400 * 5),
        user(
            "我的手机13812345678退的钱还没到",
            "nlu_fallback",
            0.4,
            DAY,
            [{"name": "nlu_fallback", "confidence": 0.4}, {"name": "faq_refund_status", "confidence": 0.31}],
        ),
        action("action_clarify", DAY + 1),
        BotUttered("您是想问退款进度吗？", timestamp=DAY + 1),
        user("你好", "greet", 0.97, DAY + 60),
        action("utter_greet", DAY + 61),
    ],
    "web-handoff": [
        user("I need a person, my card 6222 0212 3456 7890 was charged twice", "request_human", 0.93, DAY + 100),
        action("action_handoff", DAY + 101),
        ConversationPaused(timestamp=DAY + 101),
        user("hello? anyone there", "greet", 0.2, DAY + 200),  # to the agent while paused: not exported
        ConversationResumed(timestamp=DAY + 900),
        user("/affirm", "affirm", 1.0, DAY + 901),  # a button payload: not exported
    ],
    "web-low": [
        user("how long till it ships", "faq_delivery_time", 0.45, DAY + 300),
        action("utter_faq_delivery_time", DAY + 301),
        user("do you sell insurance", "out_of_scope", 0.88, DAY + 400),
        action("utter_out_of_scope", DAY + 401),
    ],
}


@pytest.fixture
async def tracker_db(tmp_path: pathlib.Path) -> pathlib.Path:
    """A SQLite tracker store written by Rasa's own SQLTrackerStore."""
    path = tmp_path / "rasa.db"
    store = SQLTrackerStore(Domain.empty(), dialect="sqlite", db=str(path))
    for sender, events in CONVERSATIONS.items():
        tracker = DialogueStateTracker.from_events(sender, events)
        await store.save(tracker)
    store.engine.dispose()
    return path


PG_URL = os.environ.get("FRONTLINE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


def ticket(conversation_id: str, topic: str | None, at: float) -> Dict[str, Any]:
    """The values the desk gives a ticket (see `bot.desk.service`)."""
    return dict(
        conversation_id=conversation_id, channel="socketio", grade="B", reason="requested", topic=topic,
        skill="general", context={"version": "1.0"}, created_at=at, created_real=at, skill_since=at,
        due_first_response=at + 120, warn_first_response=at + 90, due_resolution=at + 3600,
        warn_resolution=at + 2700,
    )


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def desk_db(request: pytest.FixtureRequest, tmp_path: pathlib.Path) -> Iterator[str]:
    """A database the desk created itself (`Store.migrate`, `create_ticket`): SQLite, or a PostgreSQL schema."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'desk.db'}"
        store = Store(url)
    else:
        schema = f"review_test_{uuid.uuid4().hex[:12]}"
        store = Store(PG_URL, schema=schema)
        try:
            store.migrate()
        except sa.exc.OperationalError:
            pytest.skip("PostgreSQL is not reachable on 127.0.0.1:5432")
        url = f"{PG_URL}?options=-csearch_path%3D{schema}"
    store.migrate()
    earlier, _ = store.create_ticket(ticket("web-handoff", "faq_fees", DAY - 86400))
    assert store.close_ticket(earlier.id, "resolved", DAY - 86000, None)
    store.create_ticket(ticket("web-handoff", "faq_payment_failed", DAY + 101))
    store.create_ticket(ticket("someone-else", "faq_fees", DAY + 101))
    yield url
    store.drop_schema()


def read_sheet(path: pathlib.Path) -> List[Dict[str, Any]]:
    rows = list(load_workbook(path).active.iter_rows(values_only=True))
    assert list(rows[0]) == list(COLUMNS)
    return [dict(zip(COLUMNS, row, strict=True)) for row in rows[1:]]


def export_args(
    sheet: pathlib.Path, tracker_db: pathlib.Path, root: pathlib.Path, since: str = "2025-10-01"
) -> List[str]:
    return ["review", "export", str(sheet), "--since", since, "--tracker-db", str(tracker_db), "--root", str(root)]


def test_export_collects_fallbacks_handoffs_low_confidence_and_out_of_scope(
    project_root: pathlib.Path, tracker_db: pathlib.Path, desk_db: str, tmp_path: pathlib.Path
) -> None:
    sheet = tmp_path / "review.xlsx"
    assert cli([*export_args(sheet, tracker_db, project_root), "--desk-db", desk_db]) == 0
    rows = read_sheet(sheet)
    assert [(row["text"], row["reason"], row["predicted_intent"], row["confidence"], row["agent_topic"]) for row in rows] == [
        ("我的手机138****5678退的钱还没到", "fallback", "faq_refund_status", 0.31, None),
        ("I need a person, my card ************7890 was charged twice", "handoff", "request_human", 0.93, "faq_payment_failed"),
        ("how long till it ships", "low_confidence", "faq_delivery_time", 0.45, None),
        ("do you sell insurance", "out_of_scope", "out_of_scope", 0.88, None),
    ]
    assert rows[0]["conversation"] == conversation_key("wx-openid-fallback") != "wx-openid-fallback"
    assert rows[0]["time"] == "2025-10-03 10:00:00"  # in the calendar's time zone (Asia/Shanghai)
    assert [row["language"] for row in rows] == ["zh", "en", "en", "en"]
    assert all(row["label"] is None for row in rows)


def test_a_database_without_the_desk_tables_leaves_the_topics_empty(
    project_root: pathlib.Path, tracker_db: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    other = tmp_path / "not-the-desk.db"
    engine = sa.create_engine(f"sqlite:///{other}")
    with engine.begin() as connection:  # what the review used to read: a table the desk does not have
        connection.execute(sa.text("CREATE TABLE tickets (conversation_id TEXT, topic TEXT)"))
        connection.execute(sa.text("INSERT INTO tickets VALUES ('web-handoff', 'faq_fees')"))
    engine.dispose()
    sheet = tmp_path / "review.xlsx"
    assert cli([*export_args(sheet, tracker_db, project_root), "--desk-db", str(other)]) == 0
    handoff = [row for row in read_sheet(sheet) if row["reason"] == "handoff"]
    assert len(handoff) == 1 and handoff[0]["agent_topic"] is None


def test_the_default_desk_database_is_the_one_the_desk_uses(
    monkeypatch: pytest.MonkeyPatch, tmp_path: pathlib.Path
) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://desk@db.example:5432/frontline")
    assert review.default_desk_url() == "postgresql://desk@db.example:5432/frontline"
    monkeypatch.delenv("DATABASE_URL")
    monkeypatch.setenv("FRONTLINE_VAR", str(tmp_path))
    assert review.default_desk_url() is None  # no desk has run here, and none is created
    assert not (tmp_path / "desk.db").exists()
    store = Store(f"sqlite:///{tmp_path / 'desk.db'}")
    store.migrate()
    store.close()
    assert review.default_desk_url() == f"sqlite:///{tmp_path / 'desk.db'}"


def test_export_later_since_and_missing_store(
    project_root: pathlib.Path, tracker_db: pathlib.Path, tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sheet = tmp_path / "review.xlsx"
    assert cli(export_args(sheet, tracker_db, project_root, since="2025-10-04")) == 0
    assert read_sheet(sheet) == []
    assert cli(export_args(sheet, tmp_path / "none.db", project_root)) == 2
    assert "tracker store not found" in capsys.readouterr().err


def label(sheet: pathlib.Path, labels: Dict[int, str], extra: List[List[Any]] | None = None) -> pathlib.Path:
    workbook = load_workbook(sheet)
    worksheet = workbook.active
    column = COLUMNS.index("label") + 1
    for row, value in labels.items():
        worksheet.cell(row, column).value = value
    for values in extra or []:
        worksheet.append(values)
    target = sheet.with_name("labelled.xlsx")
    workbook.save(target)
    return target


def added_row(text: str, intent: str) -> List[Any]:
    """A row a trainer adds to the sheet by hand: only `text` and `label` filled in."""
    values: List[Any] = len(COLUMNS) * [None]
    values[COLUMNS.index("text")], values[COLUMNS.index("label")] = text, intent
    return values


def test_import_adds_labelled_rows_as_examples(
    project_root: pathlib.Path, tracker_db: pathlib.Path, tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sheet = tmp_path / "review.xlsx"
    assert cli(export_args(sheet, tracker_db, project_root)) == 0
    duplicate = added_row("Refund status?", "faq_refund_status")
    conflict = added_row("退款多久到账", "faq_delivery_time")
    multiline = added_row("ship to\n tibet  how long", "faq_delivery_time")
    labelled = label(sheet, {2: "faq_refund_status", 4: "faq_delivery_time"}, [duplicate, conflict, multiline])
    capsys.readouterr()
    assert cli(["review", "import", str(labelled), "--root", str(project_root)]) == 0
    out = capsys.readouterr().out
    assert "added 3 example(s), skipped 1 duplicate(s) and 1 conflict(s); 2 row(s) without a label" in out
    assert "row 7: '退款多久到账' is already an example of faq_refund_status; skipped" in out
    refund = (project_root / "data" / "nlu" / "faq" / "refund_status.yml").read_text(encoding="utf-8").splitlines()
    assert refund[refund.index("    - 退款处理中是什么意思") + 1] == "    - 我的手机138****5678退的钱还没到"
    assert refund[refund.index("    - 我的手机138****5678退的钱还没到") + 1] == "    - where is my refund"
    delivery = (project_root / "data" / "nlu" / "faq" / "delivery_time.yml").read_text(encoding="utf-8")
    assert delivery.endswith("    - next day delivery\n    - how long till it ships\n    - ship to tibet how long\n")
    catalog = load_catalog(project_root)
    assert "how long till it ships" in catalog["faq_delivery_time"].examples_en
    # Importing the same sheet again adds nothing.
    assert cli(["review", "import", str(labelled), "--root", str(project_root)]) == 0
    assert "added 0 example(s), skipped 4 duplicate(s) and 1 conflict(s)" in capsys.readouterr().out


def assert_import_refused(
    labelled: pathlib.Path, root: pathlib.Path, capsys: pytest.CaptureFixture[str], problems: List[str]
) -> None:
    """`review import` exits 1 printing exactly `problems`, and writes nothing to data/ or domain.yml."""
    files = [root / "domain.yml", *sorted((root / "data").rglob("*.yml"))]
    before = [path.read_bytes() for path in files]
    capsys.readouterr()
    assert cli(["review", "import", str(labelled), "--root", str(root)]) == 1
    captured = capsys.readouterr()
    assert captured.out.splitlines() == problems
    assert captured.err.splitlines() == [f"refused: {len(problems)} problem(s); nothing was written"]
    assert [path.read_bytes() for path in files] == before


def test_import_refuses_unknown_label(
    project_root: pathlib.Path, tracker_db: pathlib.Path, tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sheet = tmp_path / "review.xlsx"
    assert cli(export_args(sheet, tracker_db, project_root)) == 0
    labelled = label(sheet, {2: "faq_refund_status", 3: "faq_insurance"})
    assert_import_refused(
        labelled, project_root, capsys, ["row 3: label 'faq_insurance' is not an intent of domain.yml"]
    )


def test_import_refuses_a_sheet_without_the_label_column(
    project_root: pathlib.Path, tracker_db: pathlib.Path, tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sheet = tmp_path / "review.xlsx"
    assert cli(export_args(sheet, tracker_db, project_root)) == 0
    workbook = load_workbook(sheet)
    workbook.active.delete_cols(COLUMNS.index("label") + 1)
    workbook.save(sheet)
    assert_import_refused(sheet, project_root, capsys, ["row 1: missing column 'label'"])


def set_timezone(root: pathlib.Path, value: str) -> None:
    settings = root / "settings.yml"
    text, count = re.subn(r"(?m)^  timezone: .*$", f"  timezone: {value}", settings.read_text(encoding="utf-8"))
    assert count == 1
    settings.write_text(text, encoding="utf-8")


def test_export_with_a_fixed_offset_time_zone(project_root: pathlib.Path, tracker_db: pathlib.Path, tmp_path: pathlib.Path) -> None:
    set_timezone(project_root, '"+08:00"')
    sheet = tmp_path / "review.xlsx"
    assert cli(export_args(sheet, tracker_db, project_root)) == 0
    assert read_sheet(sheet)[0]["time"] == "2025-10-03 10:00:00"
    set_timezone(project_root, "UTC-5")
    assert cli(export_args(sheet, tracker_db, project_root)) == 0
    assert read_sheet(sheet)[0]["time"] == "2025-10-02 21:00:00"


def test_export_with_an_unknown_time_zone_names_the_key(
    project_root: pathlib.Path, tracker_db: pathlib.Path, tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    set_timezone(project_root, "Asia/Shanghia")
    sheet = tmp_path / "review.xlsx"
    assert cli(export_args(sheet, tracker_db, project_root)) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1
    assert err[0].startswith("error: settings.yml: calendar.timezone: unknown time zone 'Asia/Shanghia'")
    assert not sheet.exists()


@pytest.mark.parametrize(
    "name, expected",
    [
        ("", "error: {target} is a folder; give a file name such as {target}/sheet.xlsx"),
        ("review.csv", "error: {target}: the spreadsheet must be an .xlsx file (the import reads only .xlsx)"),
        ("notes.txt/review.xlsx", "error: cannot write {target}: {parent} is a file, not a folder"),
    ],
    ids=["folder", "csv", "under-a-file"],
)
def test_export_refuses_a_bad_output_path(
    project_root: pathlib.Path, tracker_db: pathlib.Path, tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str],
    name: str, expected: str,
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("not a folder", encoding="utf-8")
    target = out / name if name else out
    assert cli(export_args(target, tracker_db, project_root)) == 2
    assert capsys.readouterr().err.splitlines() == [expected.format(target=target, parent=out / "notes.txt")]
    assert sorted(path.name for path in out.iterdir()) == ["notes.txt"]


def test_import_refuses_entity_markup(
    project_root: pathlib.Path, tracker_db: pathlib.Path, tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sheet = tmp_path / "review.xlsx"
    assert cli(export_args(sheet, tracker_db, project_root)) == 0
    labelled = label(sheet, {2: "faq_refund_status"}, [added_row("订单[12345](急)怎么还没到", "faq_delivery_time")])
    assert_import_refused(labelled, project_root, capsys, [
        "row 6: '订单[12345](急)怎么还没到' holds Rasa's entity markup [text](entity), which would change the example; "
        "edit the text or clear the label"
    ])


def test_import_refuses_a_data_file_not_in_utf8(
    project_root: pathlib.Path, tracker_db: pathlib.Path, tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sheet = tmp_path / "review.xlsx"
    assert cli(export_args(sheet, tracker_db, project_root)) == 0
    labelled = label(sheet, {2: "faq_refund_status"})
    path = project_root / "data" / "nlu" / "faq" / "delivery_time.yml"
    path.write_bytes(path.read_text(encoding="utf-8").encode("gbk"))
    before = path.read_bytes(), (project_root / "data" / "nlu" / "faq" / "refund_status.yml").read_bytes()
    capsys.readouterr()
    assert cli(["review", "import", str(labelled), "--root", str(project_root)]) == 2
    assert capsys.readouterr().err.splitlines()[-1] == "error: data/nlu/faq/delivery_time.yml:5: not UTF-8: save it as UTF-8"
    assert (path.read_bytes(), (project_root / "data" / "nlu" / "faq" / "refund_status.yml").read_bytes()) == before


def test_each_handoff_of_a_conversation_gets_the_topic_of_the_ticket_covering_its_turn(tmp_path: pathlib.Path) -> None:
    """Two tickets on one conversation: the first handoff's turn is labelled with the first ticket's topic,
    the second's with the second's (not both with the latest ticket's)."""
    url = f"sqlite:///{tmp_path / 'desk.db'}"
    store = Store(url)
    store.migrate()
    first, _ = store.create_ticket(ticket("web-twice", "faq_fees", DAY + 101))
    assert store.close_ticket(first.id, "resolved", DAY + 900, None)
    store.create_ticket(ticket("web-twice", "faq_lost_card", DAY + 2001))
    store.close()

    def handed_off(at: float) -> review.ReviewRow:
        return review.ReviewRow(
            conversation=conversation_key("web-twice"), sender_id="web-twice", timestamp=at, text="a person please",
            reasons=["handoff"], predicted_intent="request_human", confidence=0.9,
        )

    rows = [handed_off(DAY + 100), handed_off(DAY + 500), handed_off(DAY + 2000), handed_off(DAY + 3000)]
    review.add_agent_topics(rows, url)
    assert [row.agent_topic for row in rows] == ["faq_fees", "faq_fees", "faq_lost_card", "faq_lost_card"]
