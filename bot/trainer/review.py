"""Learn from real conversations: `python -m bot review export|import FILE.xlsx`.

Export reads Rasa's SQL tracker store (`var/rasa.db` by default; any SQLAlchemy URL works) through its own class
(`bot.stores.TunedSQLTrackerStore`, which decrypts the stored events with the data keys) and collects the
customer messages since a date that ended in a fallback (`nlu_fallback`), an `out_of_scope` answer, a
low-confidence guess (below `compliance.review_min_confidence`) or a handoff (`action_handoff` followed), with
the predicted intent and its confidence, the text masked (`bot.handoff.masking`), and after a handoff the topic
of the desk ticket covering that turn (`agent_topic`, read with the desk's own store from the desk's
database). Messages written while a human had the conversation (paused) are left out.

Trainers fill the `label` column with an existing intent; import adds those texts as examples of that intent in
the file that holds it (Chinese after the last Chinese example, English at the end), skipping duplicates and
texts that are already examples of another intent, and reports the counts. A labelled text holding Rasa's entity
markup (`[text](entity)`) is refused rather than rewritten: it is the customer's words.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import logging
import os
import pathlib
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, List, Optional, Tuple

from bot.calendar.schedule import DEFAULT_TIMEZONE, parse_timezone
from bot.faq import split_languages
from bot.handoff.masking import mask
from bot.language import detect
from bot.settings import SettingsError
from bot.trainer import sheets, yamlio
from bot.trainer.lint import normalize_example
from bot.trainer.project import IntentBlock, Project

logger = logging.getLogger(__name__)

FALLBACK_INTENT = "nlu_fallback"
OUT_OF_SCOPE_INTENT = "out_of_scope"
HANDOFF_ACTION = "action_handoff"
FALLBACK_ACTIONS = ("action_default_fallback",)
COLUMNS = (
    "conversation",
    "time",
    "language",
    "text",
    "reason",
    "predicted_intent",
    "confidence",
    "agent_topic",
    "label",
)


@dataclass
class ReviewRow:
    """One customer message worth a trainer's look."""

    conversation: str
    sender_id: str
    timestamp: float
    text: str
    reasons: List[str]
    predicted_intent: str
    confidence: float
    agent_topic: str = ""


@dataclass
class ReviewImport:
    """What a review import did."""

    added: Counter = field(default_factory=Counter)
    duplicates: int = 0
    conflicts: List[str] = field(default_factory=list)
    unlabelled: int = 0
    changed_files: List[str] = field(default_factory=list)


# --- reading the tracker store -----------------------------------------------------------------------------


def database_url(value: os.PathLike | str) -> str:
    """A SQLAlchemy URL for a path (SQLite) or a URL given as is."""
    text = str(value)
    return text if "://" in text else f"sqlite:///{pathlib.Path(text).resolve()}"


def parse_since(value: str, timezone: dt.tzinfo = dt.timezone.utc) -> float:
    """A `--since` value (YYYY-MM-DD or an ISO time) as a Unix timestamp; dates are midnight in `timezone`."""
    try:
        moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"--since {value!r} is not a date like 2025-10-01") from error
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone)
    return moment.timestamp()


def conversation_key(sender_id: str) -> str:
    """A short stable pseudonym for a conversation id (sender ids can be personal, e.g. WeChat openids)."""
    return hashlib.sha256(sender_id.encode("utf-8")).hexdigest()[:12]


def _top_prediction(parse: Dict[str, Any]) -> Tuple[str, float]:
    intent = parse.get("intent") or {}
    name = str(intent.get("name") or "")
    confidence = float(intent.get("confidence") or 0.0)
    if name == FALLBACK_INTENT:
        for candidate in parse.get("intent_ranking") or []:
            if candidate.get("name") and candidate.get("name") != FALLBACK_INTENT:
                return str(candidate["name"]), float(candidate.get("confidence") or 0.0)
    return name, confidence


def collect(
    events: Iterable[Tuple[str, str, float, Optional[str], Optional[str], Any]],
    min_confidence: float,
) -> List[ReviewRow]:
    """Pick the messages to review from tracker events.

    Args:
        events: (sender_id, type_name, timestamp, intent_name, action_name, data) rows, in store order; `data`
            is the event (a dict, as `read_events` gives it, or its JSON text).
        min_confidence: guesses below this confidence are reviewed.
    """
    rows: List[ReviewRow] = []
    pending: Dict[str, Optional[Dict[str, Any]]] = {}
    paused: Dict[str, bool] = defaultdict(bool)

    def finish(sender: str) -> None:
        item = pending.pop(sender, None)
        if not item:
            return
        reasons: List[str] = []
        if item["intent"] == FALLBACK_INTENT or any(action in FALLBACK_ACTIONS for action in item["actions"]):
            reasons.append("fallback")
        if item["intent"] == OUT_OF_SCOPE_INTENT:
            reasons.append("out_of_scope")
        if item["intent"] != FALLBACK_INTENT and item["confidence"] < min_confidence:
            reasons.append("low_confidence")
        if HANDOFF_ACTION in item["actions"]:
            reasons.append("handoff")
        if reasons:
            rows.append(
                ReviewRow(
                    conversation=conversation_key(sender),
                    sender_id=sender,
                    timestamp=item["timestamp"],
                    text=mask(item["text"]),
                    reasons=reasons,
                    predicted_intent=item["predicted"],
                    confidence=item["predicted_confidence"],
                )
            )

    for sender, type_name, timestamp, _intent, action, data in events:
        if type_name == "user":
            finish(sender)
            if paused[sender]:
                continue
            if isinstance(data, dict):
                payload = data
            else:
                try:
                    payload = json.loads(data or "{}")
                except json.JSONDecodeError:
                    continue
            text = str(payload.get("text") or "").strip()
            if not text or text.startswith("/"):
                continue
            parse = payload.get("parse_data") or {}
            intent = (parse.get("intent") or {}).get("name") or ""
            confidence = float((parse.get("intent") or {}).get("confidence") or 0.0)
            predicted, predicted_confidence = _top_prediction(parse)
            pending[sender] = {
                "timestamp": float(timestamp or payload.get("timestamp") or 0.0),
                "text": text,
                "intent": intent,
                "confidence": confidence,
                "predicted": predicted,
                "predicted_confidence": predicted_confidence,
                "actions": [],
            }
        elif type_name == "action":
            if pending.get(sender) is not None and action:
                pending[sender]["actions"].append(action)  # type: ignore[index]
        elif type_name == "pause":
            paused[sender] = True
        elif type_name in ("resume", "restart", "session_started"):
            if type_name != "resume":
                finish(sender)
            paused[sender] = False
    for sender in list(pending):
        finish(sender)
    rows.sort(key=lambda row: (row.timestamp, row.conversation))
    return rows


def read_events(url: str, since: float) -> List[Tuple[str, str, float, Optional[str], Optional[str], Dict[str, Any]]]:
    """Events of Rasa's SQL tracker store since a timestamp, in store order per sender, read and decrypted by the
    tracker store's own class (`bot.stores.TunedSQLTrackerStore.events_since`: the event data is encrypted)."""
    from bot.stores import TunedSQLTrackerStore

    store = TunedSQLTrackerStore.from_url(url)
    try:
        return store.events_since(since)  # type: ignore[return-value]
    finally:
        store.engine.dispose()


def add_agent_topics(rows: List[ReviewRow], desk_url: Optional[str]) -> None:
    """Fill `agent_topic` of handed-off messages with the topic of the desk ticket that covers their turn
    (`covering_topic`): a conversation handed off twice gets each ticket's own topic.

    The tickets are read with the desk's own store (`bot.desk.store.Store.topic_spans`); a database without the
    desk's tables, or one that cannot be reached, leaves the topics empty.
    """
    targets = [row for row in rows if "handoff" in row.reasons]
    if not targets or not desk_url:
        return
    from sqlalchemy.exc import SQLAlchemyError

    from bot.desk.store import Store

    store = Store(desk_url)
    try:
        spans = store.topic_spans(row.sender_id for row in targets)
    except SQLAlchemyError as error:  # not the desk's database, or it cannot be reached
        logger.info("no desk tickets to read agent topics from (%s)", type(error).__name__)
        logger.debug("desk database", exc_info=True)
        return
    finally:
        store.close()
    for row in targets:
        row.agent_topic = covering_topic(spans.get(row.sender_id, []), row.timestamp) or row.agent_topic


def covering_topic(tickets: List[Tuple[float, Optional[float], str]], turn_at: float) -> str:
    """The topic of the ticket that covers a handed-off turn: the one open at that moment (created before it,
    not closed before it), else the first one created after it (the handoff that turn caused). "" when none.

    Args:
        tickets: the conversation's tickets as (created_at, closed_at or None, topic), oldest first.
        turn_at: the turn's time (Rasa's event timestamp).
    """
    for created_at, closed_at, topic in tickets:
        if created_at <= turn_at and (closed_at is None or closed_at >= turn_at):
            return topic
    for created_at, _closed_at, topic in tickets:
        if created_at >= turn_at:
            return topic
    return ""


def default_desk_url() -> Optional[str]:
    """The desk's database as the desk finds it (`bot.desk.config.database_url()`), or None when that is a
    SQLite file that does not exist (no desk has run here)."""
    import sqlalchemy as sa

    from bot.desk.config import database_url as desk_database_url

    url = desk_database_url()
    parsed = sa.engine.make_url(url)
    if parsed.get_backend_name() == "sqlite" and not (parsed.database and pathlib.Path(parsed.database).exists()):
        return None
    return url


def export_review(
    project: Project,
    path: pathlib.Path,
    since: float,
    tracker_url: str,
    desk_url: Optional[str] = None,
) -> int:
    """Write the messages to review to a spreadsheet; returns the number of rows.

    Raises:
        OutputError: `path` is not an `.xlsx` file name or cannot be written.
        SettingsError: `calendar.timezone` or the compliance settings are wrong.
    """
    from openpyxl.styles import Alignment

    sheets.check_output(path)
    zone = _timezone(project)
    rows = collect(read_events(tracker_url, since), project.compliance.review_min_confidence)
    add_agent_topics(rows, desk_url)
    workbook, sheet = sheets.new_workbook("review", COLUMNS)
    for row in rows:
        values = [
            row.conversation,
            dt.datetime.fromtimestamp(row.timestamp, zone).strftime("%Y-%m-%d %H:%M:%S"),
            detect(row.text) or "",
            row.text,
            ", ".join(row.reasons),
            row.predicted_intent,
            round(row.confidence, 3),
            row.agent_topic,
            "",
        ]
        sheet.append(values)
        sheet.cell(row=sheet.max_row, column=COLUMNS.index("text") + 1).data_type = "s"
    for letter, width in zip("ABCDEFGHI", (14, 20, 9, 60, 24, 26, 11, 24, 26), strict=True):
        sheet.column_dimensions[letter].width = width
    for cells in sheet.iter_rows(min_row=2):
        for cell in cells:
            cell.alignment = Alignment(wrap_text=True, vertical="top")
    sheet.freeze_panes = "A2"
    sheets.save(workbook, path)
    return len(rows)


def _timezone(project: Project) -> dt.tzinfo:
    """The calendar's time zone (`calendar.timezone`, parsed as the calendar does; its default when not set).

    Raises:
        SettingsError: naming `calendar.timezone` when it is no time zone.
    """
    try:
        calendar = project.settings.get("calendar") or {}
    except SettingsError:
        return dt.timezone.utc
    value = calendar.get("timezone") if isinstance(calendar, dict) else None
    return parse_timezone(
        value if value is not None else DEFAULT_TIMEZONE, f"{project.rel(project.settings_path)}: calendar.timezone"
    )


# --- import ------------------------------------------------------------------------------------------------


def read_labels(path: pathlib.Path) -> List[Tuple[int, str, str]]:
    """(row, text, label) for each row of a review sheet with a label.

    Raises:
        SheetRefused: the sheet cannot be read or lacks the `text` or `label` column.
    """
    result = []
    for number, (text, label) in sheets.read_columns(path, ("text", "label")):
        # One example is one line: collapse the line breaks and runs of spaces a customer message may hold.
        flat = " ".join(str(text).split()) if text is not None else ""
        result.append((number, flat, "" if label is None else str(label).strip()))
    return result


def _target_block(project: Project, blocks: List[IntentBlock]) -> Optional[IntentBlock]:
    usable = [block for block in blocks if block.block is not None]
    if not usable:
        return None
    preferred = [block for block in usable if block.path == project.faq_file(block.intent)]
    return (preferred or usable)[0]


def import_review(project: Project, path: pathlib.Path, dry_run: bool = False) -> ReviewImport:
    """Add the labelled texts of a review sheet as training examples.

    Raises:
        SheetRefused: a label is no intent of the domain, its intent has no examples block to add to, or a
            labelled text holds Rasa's entity markup (nothing is written).
        UnreadableError: domain.yml or a data file cannot be read (nothing is written).
    """
    from rasa.shared.nlu.training_data.entities_parser import ENTITY_REGEX

    project.check_readable()
    report = ReviewImport()
    labelled = read_labels(path)
    intents = set(project.intents)
    blocks = project.blocks_by_intent()
    problems: List[str] = []
    for number, text, label in labelled:
        if not label:
            report.unlabelled += 1 if text else 0
            continue
        if label not in intents:
            problems.append(f"row {number}: label '{label}' is not an intent of domain.yml")
        elif _target_block(project, blocks.get(label, [])) is None:
            problems.append(f"row {number}: {label} has no `examples: |` block to add to")
        elif not text:
            problems.append(f"row {number}: the text is empty")
        elif ENTITY_REGEX.search(text):
            problems.append(
                f"row {number}: '{text}' holds Rasa's entity markup [text](entity), which would change the example; "
                "edit the text or clear the label"
            )
    if problems:
        raise sheets.SheetRefused(problems)
    known: Dict[str, str] = {}
    for block in project.intent_blocks:
        for example in block.examples:
            known.setdefault(normalize_example(example.text), example.intent)
    additions: Dict[str, List[str]] = defaultdict(list)
    for number, text, label in labelled:
        if not label:
            continue
        key = normalize_example(text)
        owner = known.get(key)
        if owner == label:
            report.duplicates += 1
            continue
        if owner is not None:
            report.conflicts.append(f"row {number}: '{text}' is already an example of {owner}; skipped")
            continue
        known[key] = label
        additions[label].append(text)
        report.added[label] += 1
    splices: Dict[pathlib.Path, List[yamlio.Splice]] = defaultdict(list)
    texts: Dict[pathlib.Path, str] = {}
    for label, new_examples in additions.items():
        target = _target_block(project, blocks[label])
        assert target is not None and target.block is not None
        text = texts.setdefault(target.path, yamlio.read_text(target.path))
        offsets = yamlio.line_offsets(text)
        newline = yamlio.newline_of(text)
        chinese_new, english_new = split_languages(new_examples)
        chinese_old, _ = target.split()
        last_line = target.block.end  # 0-based exclusive == 1-based line of the last content line
        zh_after = chinese_old[-1].line if chinese_old else target.block.start
        en_after = last_line
        for after, items in ((zh_after, chinese_new), (en_after, english_new)):
            if not items:
                continue
            position = offsets[min(after, len(offsets) - 1)]
            prefix = newline if position == len(text) and text and not text.endswith("\n") else ""
            rendered = prefix + yamlio.render_examples(items, target.block.indent, newline)
            splices[target.path].append(yamlio.Splice(position, position, rendered))
    for target_path, items in splices.items():
        new_text = yamlio.apply_splices(texts[target_path], items)
        report.changed_files.append(project.rel(target_path))
        if not dry_run:
            yamlio.write_text(target_path, new_text)
    report.changed_files.sort()
    return report


# --- command line ------------------------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of `python -m bot review export|import`."""
    export, _ = sheets.add_round_trip(
        parser,
        "review_command",
        "Messages the assistant did not handle well, for trainers to label and learn from.",
        export_help="write messages to review to a spreadsheet",
        import_help="add the labelled rows as training examples",
        dry_run_help="check and count only, write nothing",
    )
    export.add_argument("--since", required=True, help="first day to include, YYYY-MM-DD (or an ISO time)")
    export.add_argument("--tracker-db", default=None, help="tracker store: SQLite path or SQLAlchemy URL (default var/rasa.db)")
    export.add_argument("--desk-db", default=None, help="desk database for agent topics (default: the desk's, DATABASE_URL or var/desk.db)")


def main(args: argparse.Namespace) -> int:
    """Run `review export` or `review import`."""
    project = Project(args.root)
    run = _export if args.review_command == "export" else _import
    return sheets.run_reporting(lambda: run(project, args), also=(argparse.ArgumentTypeError,))


def _export(project: Project, args: argparse.Namespace) -> int:
    since = parse_since(args.since, _timezone(project))
    var = pathlib.Path(os.environ.get("FRONTLINE_VAR") or project.root / "var")
    tracker = args.tracker_db or var / "rasa.db"
    if "://" not in str(tracker) and not pathlib.Path(tracker).exists():
        print(f"error: tracker store not found: {tracker}", file=sys.stderr)
        return 2
    desk = database_url(args.desk_db) if args.desk_db else default_desk_url()
    from sqlalchemy.exc import SQLAlchemyError

    try:
        count = export_review(project, args.file, since, database_url(tracker), desk)
    except SQLAlchemyError as error:  # no such table, cannot connect
        print(f"error: cannot read the tracker store {tracker}: {error}".splitlines()[0], file=sys.stderr)
        logger.debug("tracker store", exc_info=True)
        return 2
    print(f"exported {count} message(s) to review to {args.file}")
    return 0


def _import(project: Project, args: argparse.Namespace) -> int:
    report = import_review(project, args.file, dry_run=bool(args.dry_run))
    total = sum(report.added.values())
    print(
        f"added {total} example(s), skipped {report.duplicates} duplicate(s) and {len(report.conflicts)} conflict(s); "
        f"{report.unlabelled} row(s) without a label"
    )
    for label, count in sorted(report.added.items()):
        print(f"  {label}: +{count}")
    for line in report.conflicts:
        print(f"  {line}")
    for name in report.changed_files:
        print(f"  changed {name}")
    return 0
