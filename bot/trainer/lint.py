"""The project linter behind `python -m bot lint`: every problem as `file:line: problem`.

Checks:
- domain.yml and every data file can be read (UTF-8, valid YAML); an unreadable domain stops the rest;
- compliance: no banned phrase (settings `compliance.banned_phrases`, case-insensitive, Simplified or
  Traditional, full- or half-width) in any reply: domain responses, the settings file (canned agent replies under
  `desk.canned`, emergency contacts), and the string literals of `bot/**/*.py` and `actions/**/*.py` (survey,
  off-hours and greeting texts; docstrings are skipped);
- every FAQ topic has Chinese and English examples (at least `min_examples_per_language` each) and a Chinese and
  an English answer (topics answered by a custom action are exempt from the answer check);
- the same example under two intents, and near-duplicates across intents (normalised text, character-bigram
  Jaccard similarity of at least 0.9), naming both places;
- replies longer than `wechat_max_reply_bytes`, `{placeholders}` naming no slot, intents no rule or story uses
  (except those in `compliance.lint_ignore_unused_intents`).
"""

from __future__ import annotations

import argparse
import ast
import logging
import math
import pathlib
import re
import sys
import unicodedata
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Dict, Iterable, Iterator, List, Optional, Sequence, Set, Tuple

from bot.compliance import BannedPhrases, fold, has_phrase, phrase_form
from bot.faq import RESPONSE_PREFIX, answer_variations, is_english
from bot.language import is_traditional
from bot.settings import SettingsError
from bot.trainer import yamlio
from bot.trainer.project import Compliance, Example, IntentBlock, Project, UnreadableError

logger = logging.getLogger(__name__)

NEAR_DUPLICATE_THRESHOLD = 0.9
PYTHON_FOLDERS = ("bot", "actions")
_PLACEHOLDER = re.compile(r"(?<!\{)\{([^{}\s]*)\}(?!\})")
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True, order=True)
class Problem:
    """One problem found in the project."""

    path: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


@dataclass
class LintResult:
    """What the linter found."""

    problems: List[Problem]
    topics: int

    @property
    def ok(self) -> bool:
        """True when there is no problem."""
        return not self.problems


# --- text folding ------------------------------------------------------------------------------------------
# `fold`, `phrase_form` and `has_phrase` live in `bot.compliance` (the desk checks live replies with them); they
# are imported here for the lint's callers.


def normalize_example(text: str) -> str:
    """Normalise an example for comparison: folded, punctuation and symbols stripped, single spaces."""
    folded = fold(yamlio.example_text(text))
    kept = "".join(" " if unicodedata.category(char)[0] in "PSZ" else char for char in folded)
    return _SPACES.sub(" ", kept).strip()


def bigrams(text: str) -> Set[str]:
    """Character bigrams of a normalised text (the text itself when it is shorter than two characters)."""
    if len(text) < 2:
        return {text} if text else set()
    return {text[index : index + 2] for index in range(len(text) - 1)}


def jaccard(first: Set[str], second: Set[str]) -> float:
    """Jaccard similarity of two sets (0 for two empty sets)."""
    union = len(first | second)
    return len(first & second) / union if union else 0.0


def similar_pairs(sets: Sequence[Set[str]], threshold: float) -> Iterator[Tuple[int, int, float]]:
    """Pairs (i, j, similarity), i < j, whose Jaccard similarity is at least `threshold`.

    Uses prefix filtering (tokens ordered rarest first): two sets with similarity >= t must share a token
    among the first |A| - ceil(t·|A|) + 1 tokens of each, so only those pairs are compared.
    """
    frequency = Counter(token for tokens in sets for token in tokens)
    index: Dict[str, List[int]] = defaultdict(list)
    for current, tokens in enumerate(sets):
        if not tokens:
            continue
        ordered = sorted(tokens, key=lambda token: (frequency[token], token))
        prefix = ordered[: len(ordered) - math.ceil(threshold * len(ordered)) + 1]
        candidates: Set[int] = set()
        for token in prefix:
            candidates.update(index[token])
        for other in sorted(candidates):
            small, large = sorted((len(tokens), len(sets[other])))
            if small < threshold * large:
                continue
            similarity = jaccard(tokens, sets[other])
            if similarity >= threshold:
                yield other, current, similarity
        for token in prefix:
            index[token].append(current)


# --- the checks --------------------------------------------------------------------------------------------


class Linter:
    """Runs every check on one project.

    Args:
        project: the project to check.
    """

    def __init__(self, project: Project) -> None:
        self.project = project
        self.problems: List[Problem] = []

    def add(self, path: pathlib.Path | str, line: int, message: str) -> None:
        """Record a problem."""
        self.problems.append(Problem(self.project.rel(path), max(int(line), 1), message))

    def run(self) -> LintResult:
        """Run every check and return the problems, sorted by file and line."""
        compliance = self.project.compliance
        try:
            self.project.check_readable()
        except UnreadableError as error:
            for item in error.files:
                self.add(item.path, item.line, item.reason)
            if any(item.path == self.project.domain_path for item in error.files):
                # Every other check needs the domain.
                return LintResult(problems=sorted(set(self.problems)), topics=0)
        topics = self.project.faq_intents()
        self.check_banned_phrases(compliance)
        self.check_topics(topics, compliance)
        self.check_examples()
        self.check_responses(compliance)
        self.check_unused_intents(compliance)
        unique = sorted(set(self.problems))
        return LintResult(problems=unique, topics=len(topics))

    # --- compliance -----------------------------------------------------------------------------------------

    def check_banned_phrases(self, compliance: Compliance) -> None:
        """Banned phrases in domain responses, the settings file and Python-held texts."""
        phrases = BannedPhrases(compliance.banned_phrases)
        if not phrases:
            return
        domain = self.project.domain_path
        for name, variations in self.project.responses.items():
            for text, line, path in yamlio.walk_strings(variations, yamlio.key_line(self.project.responses, name)):
                if path and path[-1] in ("type", "name") and "condition" in path:
                    continue
                for phrase in phrases.found_in(text):
                    self.add(domain, line, f"response {name} contains the banned phrase '{phrase}'")
        settings = self.project.settings
        for key, value in settings.items():
            if key == "compliance":
                continue
            for text, line, path in yamlio.walk_strings(value, yamlio.value_line(settings, key)):
                where = _settings_path(key, value, path)
                for phrase in phrases.found_in(text):
                    self.add(self.project.settings_path, line, f"{where} contains the banned phrase '{phrase}'")
        for path in self.python_files():
            for text, line in python_strings(path):
                for phrase in phrases.found_in(text):
                    # the line within a multi-line string: the first of its lines that holds the phrase
                    needle = phrases.needle(phrase)
                    extra = next((i for i, part in enumerate(text.split("\n")) if has_phrase(phrase_form(part), needle)), 0)
                    self.add(path, line + extra, f"text contains the banned phrase '{phrase}'")

    def python_files(self) -> List[pathlib.Path]:
        """The Python modules whose string literals are replies: `bot/**/*.py` and `actions/**/*.py`."""
        files: List[pathlib.Path] = []
        for folder in PYTHON_FOLDERS:
            base = self.project.root / folder
            if base.is_dir():
                files.extend(path for path in base.rglob("*.py") if "__pycache__" not in path.parts)
        return sorted(files)

    # --- FAQ topics -----------------------------------------------------------------------------------------

    def check_topics(self, topics: Sequence[str], compliance: Compliance) -> None:
        """Both languages in examples and answers, and enough examples per language."""
        blocks = self.project.blocks_by_intent()
        domain_intents = dict(self.project.intent_lines())
        domain = self.project.domain_path
        minimum = compliance.min_examples_per_language
        unreadable = {item.path for item in self.project.unreadable}
        for intent in topics:
            own = blocks.get(intent, [])
            if not own:
                if self.project.faq_file(intent) not in unreadable:  # else reported as unreadable
                    self.add(domain, domain_intents.get(intent, 1), f"{intent} has no training examples")
                continue
            first = own[0]
            expected = self.project.faq_file(intent)
            if all(block.path != expected for block in own):
                self.add(first.path, first.line, f"{intent} should live in {self.project.rel(expected)}")
            if intent not in domain_intents:
                self.add(first.path, first.line, f"{intent} is not listed under intents in domain.yml")
            chinese = sum(len(block.split()[0]) for block in own)
            english = sum(len(block.split()[1]) for block in own)
            for count, language in ((chinese, "Chinese"), (english, "English")):
                if count < minimum:
                    self.add(first.path, first.line, f"{intent} has {count} {language} examples, needs at least {minimum}")
            self._check_answer(intent, first)

    def _check_answer(self, intent: str, first: IntentBlock) -> None:
        responses = self.project.responses
        name = RESPONSE_PREFIX + intent
        block_path, block_line = first.path, first.line
        if name not in responses:
            if self.project.answered_by_code(intent) is None:
                self.add(block_path, block_line, f"{intent} has no answer: response {name} is missing in domain.yml")
            return
        variations = responses[name]
        line = yamlio.key_line(responses, name)
        zh_index, en_index = answer_variations(variations)
        domain = self.project.domain_path
        if zh_index is None or not str(variations[zh_index].get("text") or "").strip():
            self.add(domain, line, f"{name} has no Chinese answer (a variation without condition)")
        else:
            text = str(variations[zh_index]["text"])
            text_line = yamlio.value_line(variations[zh_index], "text") or line
            if is_english(text):
                self.add(domain, text_line, f"{name}: the answer without condition must be Chinese")
            elif is_traditional(text):
                self.add(domain, text_line, f"{name}: write the Chinese answer in Simplified characters")
        if en_index is None or not str(variations[en_index].get("text") or "").strip():
            self.add(domain, line, f"{name} has no English answer (condition: slot language is en)")
        elif is_english(str(variations[en_index]["text"])) is False:
            text_line = yamlio.value_line(variations[en_index], "text") or line
            self.add(domain, text_line, f"{name}: the English answer is not in English")

    # --- examples -------------------------------------------------------------------------------------------

    def check_examples(self) -> None:
        """Conflicting examples (same text, two intents) and near-duplicates across intents."""
        examples = [example for block in self.project.intent_blocks for example in block.examples]
        by_text: Dict[str, List[Example]] = defaultdict(list)
        for example in examples:
            normalised = normalize_example(example.text)
            if normalised:
                by_text[normalised].append(example)
        for group in by_text.values():
            seen: Dict[str, Example] = {}
            raw_seen: Dict[Tuple[str, str], Example] = {}
            for example in group:
                earlier = raw_seen.get((example.intent, example.text))
                if earlier is not None:
                    self.add(
                        example.path,
                        example.line,
                        f"duplicate example '{example.text}' (also {self._where(earlier)})",
                    )
                raw_seen.setdefault((example.intent, example.text), example)
                seen.setdefault(example.intent, example)
            if len(seen) > 1:
                ordered = list(seen.values())
                for other in ordered[1:]:
                    self.add(
                        other.path,
                        other.line,
                        f"conflict: '{other.text}' is under {other.intent} and also under "
                        f"{ordered[0].intent} ('{ordered[0].text}', {self._where(ordered[0])})",
                    )
        representatives = [group[0] for group in by_text.values()]
        keys = list(by_text)
        sets = [bigrams(key) for key in keys]
        for first_index, second_index, similarity in similar_pairs(sets, NEAR_DUPLICATE_THRESHOLD):
            first_intents = {example.intent for example in by_text[keys[first_index]]}
            second_intents = {example.intent for example in by_text[keys[second_index]]}
            if first_intents == second_intents and len(first_intents) == 1:
                continue
            first, second = representatives[first_index], representatives[second_index]
            if first.intent == second.intent:
                continue
            self.add(
                second.path,
                second.line,
                f"near-duplicate ({similarity:.2f}) across intents: '{second.text}' ({second.intent}) and "
                f"'{first.text}' ({first.intent}, {self._where(first)})",
            )

    def _where(self, example: Example) -> str:
        return f"{self.project.rel(example.path)}:{example.line}"

    # --- responses ------------------------------------------------------------------------------------------

    def check_responses(self, compliance: Compliance) -> None:
        """Replies too long for WeChat, placeholders naming no slot, conditions on unknown slots."""
        responses = self.project.responses
        slots = self.project.slots
        allowed = slots | set(compliance.lint_extra_placeholders)
        domain = self.project.domain_path
        limit = compliance.wechat_max_reply_bytes
        for name, variations in responses.items():
            if not isinstance(variations, list):
                self.add(domain, yamlio.key_line(responses, name), f"response {name} must be a list of variations")
                continue
            for index, variation in enumerate(variations):
                if not isinstance(variation, dict):
                    continue
                line = yamlio.value_line(variation, "text") or yamlio.value_line(variations, index)
                text = variation.get("text")
                if isinstance(text, str):
                    size = len(text.encode("utf-8"))
                    if size > limit:
                        self.add(domain, line, f"response {name} is {size} bytes; WeChat shows at most {limit}")
                    for placeholder in sorted(set(_PLACEHOLDER.findall(text))):
                        if placeholder not in allowed:
                            self.add(domain, line, f"response {name} uses {{{placeholder}}}, which is not a slot")
                for condition in variation.get("condition") or []:
                    if isinstance(condition, dict) and condition.get("type") == "slot":
                        if condition.get("name") not in slots:
                            self.add(
                                domain,
                                yamlio.value_line(variations, index),
                                f"response {name} has a condition on slot '{condition.get('name')}', which does not exist",
                            )

    def check_unused_intents(self, compliance: Compliance) -> None:
        """Intents of the domain that no rule or story uses."""
        uses = self.project.intent_uses
        ignored = set(compliance.lint_ignore_unused_intents)
        for intent, line in self.project.intent_lines():
            if intent not in uses and intent not in ignored:
                self.add(self.project.domain_path, line, f"intent {intent} is used by no rule or story")


def _settings_path(key: str, value: object, path: Sequence[object]) -> str:
    """A readable settings key path: `desk.canned[wait_zh].text` (list items by their `id` when they have one)."""
    parts = [str(key)]
    node = value
    for part in path:
        child = node[part] if isinstance(node, (dict, list)) else None  # type: ignore[index]
        if isinstance(part, int):
            label = child.get("id") if isinstance(child, dict) else None
            parts[-1] += f"[{label if label is not None else part}]"
        else:
            parts.append(str(part))
        node = child
    return ".".join(parts)


def _docstring_nodes(tree: ast.AST) -> Set[int]:
    nodes: Set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = getattr(node, "body", [])
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                if isinstance(body[0].value.value, str):
                    nodes.add(id(body[0].value))
    return nodes


def python_strings(path: pathlib.Path) -> Iterator[Tuple[str, int]]:
    """Yield (text, line) for each string literal of a module, docstrings excepted."""
    try:
        tree = ast.parse(yamlio.read_text(path), filename=str(path))
    except (SyntaxError, UnicodeDecodeError, ValueError) as error:
        logger.error("cannot parse %s", path)
        logger.debug("parse error", exc_info=error)
        return
    skip = _docstring_nodes(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip:
            yield node.value, int(getattr(node, "lineno", 1) or 1)


def lint(root: Optional[pathlib.Path | str] = None) -> LintResult:
    """Check a project.

    Args:
        root: the project root; the repository by default.

    Returns:
        The problems found and the number of FAQ topics checked.

    Raises:
        SettingsError: the compliance settings are missing or wrong.
    """
    return Linter(Project(root)).run()


def format_problems(problems: Iterable[Problem]) -> str:
    """One `file:line: problem` line per problem."""
    return "\n".join(str(problem) for problem in problems)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of `python -m bot lint`."""
    parser.description = "Check the training data and every reply; print file:line: problem."
    parser.add_argument("--root", help="project root (default: the repository)")


def main(args: argparse.Namespace) -> int:
    """`python -m bot lint [--root DIR]`: exit 0 when clean, 1 on problems, 2 on bad settings."""
    try:
        result = lint(args.root)
    except SettingsError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if result.problems:
        print(format_problems(result.problems))
        print(f"{len(result.problems)} problem(s), {result.topics} topics checked", file=sys.stderr)
        return 1
    print(f"ok: {result.topics} topics checked")
    return 0
