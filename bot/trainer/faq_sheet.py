"""The FAQ spreadsheet round trip behind `python -m bot faq export|import FILE.xlsx`.

One row per topic, columns `id` (the intent, `faq_<topic>`), `examples_zh` and `examples_en` (one example per
line in the cell), `answer_zh`, `answer_en`. Topics answered by code (such as `faq_service_hours`) have empty
answer cells, with a cell comment naming the action.

Import writes only what changed: an examples block, a response text, or, for a new topic, a new
`data/nlu/faq/<topic>.yml`, an intent, a response and a rule. Importing what was exported changes no byte.
Before anything is written the sheet is checked row by row, the result is built in a temporary copy of the
project and linted there; the import is refused (nothing written, exit 1) when the sheet or the result has a
problem.
"""

from __future__ import annotations

import argparse
import logging
import pathlib
import re
import shutil
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Set, Tuple

from bot.faq import FAQ_PREFIX, RESPONSE_PREFIX, answer_variations, faq_files, is_english
from bot.trainer import edits, sheets, yamlio
from bot.trainer.lint import Linter, Problem, has_phrase, phrase_form
from bot.trainer.project import Project

logger = logging.getLogger(__name__)

COLUMNS = ("id", "examples_zh", "examples_en", "answer_zh", "answer_en")
RULES_FILE = pathlib.Path("data") / "rules" / "faq.yml"
_ID = re.compile(r"^[a-z][a-z0-9_]*$")
_BULLET = re.compile(r"^\s*(?:[-•·*]\s+)")


@dataclass
class SheetRow:
    """One topic row of the sheet."""

    row: int
    intent: str
    examples_zh: List[str]
    examples_en: List[str]
    answer_zh: str
    answer_en: str


@dataclass
class ImportReport:
    """What an import changed."""

    changed_files: List[str] = field(default_factory=list)
    new_topics: List[str] = field(default_factory=list)
    updated_topics: List[str] = field(default_factory=list)
    unchanged_topics: int = 0
    existing_problems: int = 0


# --- export ------------------------------------------------------------------------------------------------


def topic_rows(project: Project) -> List[Tuple[str, List[str], List[str], str, str, Optional[str]]]:
    """(intent, zh examples, en examples, zh answer, en answer, answering action) per FAQ topic."""
    blocks = project.blocks_by_intent()
    rows = []
    for intent in project.faq_intents():
        zh: List[str] = []
        en: List[str] = []
        for block in blocks.get(intent, []):
            block_zh, block_en = block.split()
            zh.extend(example.text for example in block_zh)
            en.extend(example.text for example in block_en)
        answer_zh, answer_en = project.answers(intent)
        rows.append((intent, zh, en, answer_zh or "", answer_en or "", project.answered_by_code(intent)))
    return rows


def export_sheet(project: Project, path: pathlib.Path) -> int:
    """Write every FAQ topic to an .xlsx file.

    Args:
        project: the project to read.
        path: the spreadsheet to write.

    Returns:
        The number of topic rows written.

    Raises:
        OutputError: `path` is not an `.xlsx` file name or cannot be written.
        UnreadableError: domain.yml or a data file cannot be read (its topics would be exported empty).
    """
    from openpyxl.comments import Comment
    from openpyxl.styles import Alignment

    sheets.check_output(path)
    project.check_readable()
    workbook, sheet = sheets.new_workbook("faq", COLUMNS)
    rows = topic_rows(project)
    for number, (intent, zh, en, answer_zh, answer_en, action) in enumerate(rows, start=2):
        for column, value in enumerate((intent, "\n".join(zh), "\n".join(en), answer_zh, answer_en), start=1):
            cell = sheet.cell(row=number, column=column)
            cell.value = value
            cell.data_type = "s"  # never a formula, even when a text starts with "="
            cell.alignment = Alignment(wrap_text=True, vertical="top")
        if action:
            for column in (4, 5):
                sheet.cell(row=number, column=column).comment = Comment(
                    f"Answered by code ({action}): leave empty.", "frontline"
                )
    for letter, width in zip("ABCDE", (28, 50, 50, 60, 60), strict=True):
        sheet.column_dimensions[letter].width = width
    sheet.freeze_panes = "B2"
    sheets.save(workbook, path)
    return len(rows)


# --- reading a sheet ---------------------------------------------------------------------------------------


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).replace("\r\n", "\n").replace("\r", "\n")


def _examples(cell: str) -> List[str]:
    examples = []
    for line in cell.split("\n"):
        line = _BULLET.sub("", line).strip()
        if line:
            examples.append(line)
    return examples


def read_sheet(path: pathlib.Path) -> List[SheetRow]:
    """Read the topic rows of a sheet (the first worksheet, header on row 1).

    Raises:
        SheetRefused: a column is missing or the file is not a readable spreadsheet.
    """
    result: List[SheetRow] = []
    for number, values in sheets.read_columns(path, COLUMNS):
        cells = [_cell_text(value) for value in values]
        if not any(cell.strip() for cell in cells):
            continue
        result.append(
            SheetRow(
                row=number,
                intent=cells[0].strip(),
                examples_zh=_examples(cells[1]),
                examples_en=_examples(cells[2]),
                answer_zh=cells[3],
                answer_en=cells[4],
            )
        )
    return result


def check_rows(project: Project, rows: Sequence[SheetRow]) -> List[str]:
    """`row N: problem` for each problem of the sheet itself."""
    compliance = project.compliance
    phrases = [(phrase, phrase_form(phrase)) for phrase in compliance.banned_phrases]
    minimum = compliance.min_examples_per_language
    problems: List[str] = []
    first_row: Dict[str, int] = {}
    for row in rows:
        problem = lambda message, row=row: problems.append(f"row {row.row}: {message}")  # noqa: E731
        intent = row.intent if row.intent.startswith(FAQ_PREFIX) else FAQ_PREFIX + row.intent
        if not row.intent or not _ID.match(row.intent):
            problem(f"id '{row.intent}' must be lowercase letters, digits and _ (like faq_refund_status)")
            continue
        row.intent = intent
        if intent in first_row:
            problem(f"{intent} is already on row {first_row[intent]}")
            continue
        first_row[intent] = row.row
        action = project.answered_by_code(intent)
        for language, answer in (("answer_zh", row.answer_zh), ("answer_en", row.answer_en)):
            if action:
                if answer.strip():
                    problem(f"{language}: {intent} is answered by code ({action}); leave it empty")
            elif not answer.strip():
                problem(f"{language} is empty")
            for phrase, needle in phrases:
                if needle and has_phrase(phrase_form(answer), needle):
                    problem(f"{language} contains the banned phrase '{phrase}'")
        if row.answer_zh.strip() and not action and is_english(row.answer_zh):
            problem("answer_zh is not in Chinese")
        if row.answer_en.strip() and not action and is_english(row.answer_en) is False:
            problem("answer_en is not in English")
        for language, examples, english in (
            ("examples_zh", row.examples_zh, False),
            ("examples_en", row.examples_en, True),
        ):
            if len(examples) < minimum:
                problem(f"{language} has {len(examples)} examples, needs at least {minimum}")
            for example in examples:
                if is_english(example) is (not english):
                    problem(f"{language}: '{example}' is not in {'English' if english else 'Chinese'}")
            for example, count in Counter(examples).items():
                if count > 1:
                    problem(f"{language}: '{example}' appears {count} times")
    return problems


# --- import ------------------------------------------------------------------------------------------------


class _Workspace:
    """New texts of the files an import changes, keyed by absolute path."""

    def __init__(self, project: Project) -> None:
        self.project = project
        self.texts: Dict[pathlib.Path, str] = {}
        self.created: List[pathlib.Path] = []

    def get(self, path: pathlib.Path) -> Optional[str]:
        if path in self.texts:
            return self.texts[path]
        return yamlio.read_text(path) if path.exists() else None

    def set(self, path: pathlib.Path, text: str) -> None:
        if not path.exists() and path not in self.texts:
            self.created.append(path)
        self.texts[path] = text

    def changed(self) -> Dict[pathlib.Path, str]:
        return {
            path: text
            for path, text in self.texts.items()
            if not path.exists() or yamlio.read_text(path) != text
        }


def plan_import(project: Project, rows: Sequence[SheetRow]) -> Tuple[Dict[pathlib.Path, str], ImportReport]:
    """Compute the new text of every file the sheet changes (nothing is written).

    Raises:
        SheetRefused: a topic cannot be edited safely (with its row).
    """
    work = _Workspace(project)
    report = ImportReport()
    blocks = project.blocks_by_intent()
    domain = project.domain_path
    problems: List[str] = []
    for row in rows:
        intent = row.intent
        wanted = row.examples_zh + row.examples_en
        own = blocks.get(intent, [])
        changed = False
        if own:
            current_zh: List[str] = []
            current_en: List[str] = []
            for block in own:
                zh, en = block.split()
                current_zh.extend(example.text for example in zh)
                current_en.extend(example.text for example in en)
            if (current_zh, current_en) != (row.examples_zh, row.examples_en):
                if len(own) > 1 or own[0].block is None:
                    problems.append(
                        f"row {row.row}: {intent} has its examples in several blocks or not in an "
                        f"`examples: |` block ({project.rel(own[0].path)}:{own[0].line}); merge them first"
                    )
                    continue
                text = work.get(own[0].path) or ""
                work.set(own[0].path, edits.replace_examples(text, own[0].block, wanted))
                changed = True
        else:
            path = project.faq_file(intent)
            if path.exists():
                problems.append(f"row {row.row}: {project.rel(path)} exists but holds no {intent} block")
                continue
            template = next((yamlio.read_text(other) for other in faq_files(project.root)), None)
            work.set(path, edits.new_nlu_file(intent, wanted, template))
            changed = True
        if intent not in project.intents:
            work.set(domain, edits.insert_intent(work.get(domain) or "", intent))
            changed = True
        name = RESPONSE_PREFIX + intent
        if project.answered_by_code(intent) is None:
            if name not in project.responses:
                work.set(domain, edits.insert_response(work.get(domain) or "", name, row.answer_zh, row.answer_en))
                changed = True
            else:
                changed |= _update_answers(project, work, name, row)
        if intent not in project.intent_uses:
            rules = project.root / RULES_FILE
            work.set(rules, edits.append_rule(work.get(rules), intent, edits.faq_rule_action(intent)))
            changed = True
        if not own:
            report.new_topics.append(intent)
        elif changed:
            report.updated_topics.append(intent)
        else:
            report.unchanged_topics += 1
    if problems:
        raise sheets.SheetRefused(problems)
    changes = work.changed()
    report.changed_files = sorted(project.rel(path) for path in changes)
    return changes, report


def _update_answers(project: Project, work: _Workspace, name: str, row: SheetRow) -> bool:
    domain = project.domain_path
    variations = project.responses[name]
    zh_index, en_index = answer_variations(variations)
    changed = False
    # Edit text in place first (indexes stay valid), then add missing variations.
    for index, value in ((zh_index, row.answer_zh), (en_index, row.answer_en)):
        if index is not None and str(variations[index].get("text") or "") != value:
            work.set(domain, edits.set_response_text(work.get(domain) or "", name, index, value))
            changed = True
    if en_index is None:
        work.set(domain, edits.add_variation(work.get(domain) or "", name, row.answer_en, english=True))
        changed = True
    if zh_index is None:
        work.set(domain, edits.add_variation(work.get(domain) or "", name, row.answer_zh, english=False))
        changed = True
    return changed


def _problem_key(problem: Problem) -> Tuple[str, str]:
    return problem.path, re.sub(r":\d+\b", "", problem.message)


def lint_changes(project: Project, changes: Dict[pathlib.Path, str]) -> Tuple[List[Problem], int]:
    """Lint a temporary copy of the project with `changes` applied.

    Returns:
        The problems the changes would introduce, and how many problems exist already.
    """
    before = Linter(Project(project.root)).run().problems
    with tempfile.TemporaryDirectory(prefix="frontline-import-") as temp:
        copy = pathlib.Path(temp)
        for name in ("domain.yml", "settings.yml"):
            if (project.root / name).exists():
                shutil.copy2(project.root / name, copy / name)
        if project.data_path.is_dir():
            shutil.copytree(project.data_path, copy / "data")
        for path, text in changes.items():
            yamlio.write_text(copy / path.relative_to(project.root), text)
        trial = Project(copy)
        linter = Linter(trial)
        linter.python_files = lambda: []  # type: ignore[method-assign] # code is not part of an import
        after = linter.run().problems
    remaining = Counter(_problem_key(problem) for problem in before)
    new: List[Problem] = []
    for problem in after:
        key = _problem_key(problem)
        if remaining[key] > 0:
            remaining[key] -= 1
        else:
            new.append(problem)
    return new, len(before)


def _problem_intent(project: Project, problem: Problem, rows: Dict[str, int], edited: Set[str]) -> Optional[str]:
    """The sheet topic a problem of the import belongs to, or None.

    Candidates are the topic whose file the problem is in, then the topics the message names (`faq_x` or its
    response `utter_faq_x`, not a longer name), in message order; the first one the sheet edited wins, else the
    first candidate.
    """
    located = [intent for intent in rows if project.rel(project.faq_file(intent)) == problem.path]
    found = []
    for intent in rows:
        match = re.search(rf"(?<!\w)(?:{RESPONSE_PREFIX})?{re.escape(intent)}(?!\w)", problem.message)
        if match:
            found.append((match.start(), intent))
    candidates = located + [intent for _, intent in sorted(found)]
    return next((intent for intent in candidates if intent in edited), candidates[0] if candidates else None)


def import_sheet(project: Project, path: pathlib.Path, dry_run: bool = False) -> ImportReport:
    """Check a sheet, lint the result in a temporary copy, then write the changed files.

    Args:
        project: the project to write into.
        path: the spreadsheet to read.
        dry_run: check everything but write nothing.

    Raises:
        SheetRefused: the sheet or its result has problems (nothing was written).
        UnreadableError: domain.yml or a data file cannot be read (nothing was written).
    """
    project.check_readable()
    rows = read_sheet(path)
    problems = check_rows(project, rows)
    if problems:
        raise sheets.SheetRefused(problems)
    changes, report = plan_import(project, rows)
    if changes:
        introduced, report.existing_problems = lint_changes(project, changes)
        if introduced:
            rows_by_intent = {row.intent: row.row for row in rows}
            edited = set(report.new_topics) | set(report.updated_topics)
            changed_files = {project.rel(target) for target in changes}
            lines = []
            for problem in introduced:
                intent = _problem_intent(project, problem, rows_by_intent, edited)
                # A line in a file the import changes is a line of the refused result: name the file only.
                place = problem.path if problem.path in changed_files else f"{problem.path}:{problem.line}"
                where = f"row {rows_by_intent[intent]}" if intent else "sheet"
                lines.append(f"{where}: {place}: {problem.message}")
            raise sheets.SheetRefused(lines)
    if not dry_run:
        for target, text in changes.items():
            yamlio.write_text(target, text)
    return report


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of `python -m bot faq export|import FILE.xlsx`."""
    sheets.add_round_trip(
        parser,
        "faq_command",
        "FAQ spreadsheet round trip: export every topic, import an edited sheet.",
        export_help="write every FAQ topic to a spreadsheet",
        import_help="write a spreadsheet back into data/ and domain.yml",
        dry_run_help="check only, write nothing",
    )


def main(args: argparse.Namespace) -> int:
    """Run `faq export` or `faq import`.

    Exit 1 when a sheet is refused (with `row N: problem` lines), 2 with an `error:` line when the settings are
    wrong, a project file cannot be read or the sheet cannot be written.
    """
    project = Project(args.root)
    run = _export if args.faq_command == "export" else _import
    return sheets.run_reporting(lambda: run(project, args))


def _export(project: Project, args: argparse.Namespace) -> int:
    count = export_sheet(project, args.file)
    print(f"exported {count} topics to {args.file}")
    return 0


def _import(project: Project, args: argparse.Namespace) -> int:
    dry_run = bool(args.dry_run)
    report = import_sheet(project, args.file, dry_run=dry_run)
    verb = "would change" if dry_run else "changed"
    print(
        f"{len(report.new_topics)} new, {len(report.updated_topics)} updated, "
        f"{report.unchanged_topics} unchanged topics; {verb} {len(report.changed_files)} file(s)"
    )
    for name in report.changed_files:
        print(f"  {name}")
    if report.existing_problems:
        print(
            f"note: {report.existing_problems} problem(s) were there before; see `python -m bot lint`",
            file=sys.stderr,
        )
    return 0
