"""A Rasa project on disk as the trainer tools see it: settings, domain, NLU blocks, rules and stories.

Everything is read with ruamel.yaml in round-trip mode so that each item knows its line. Paths in problems are
relative to the project root. Nothing is read before it is asked for.
"""

from __future__ import annotations

import functools
import logging
import os
import pathlib
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Set, Tuple

from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError

from bot.faq import FAQ_FOLDER, FAQ_PREFIX, RESPONSE_PREFIX, answer_variations, split_languages
from bot.settings import SettingsError, repo_root
from bot.trainer import yamlio

logger = logging.getLogger(__name__)

DEFAULT_REVIEW_MIN_CONFIDENCE = 0.6


@dataclass
class Compliance:
    """The `compliance:` section of the settings, validated."""

    banned_phrases: List[str]
    min_examples_per_language: int
    wechat_max_reply_bytes: int
    lint_ignore_unused_intents: List[str] = field(default_factory=list)
    lint_extra_placeholders: List[str] = field(default_factory=list)
    review_min_confidence: float = DEFAULT_REVIEW_MIN_CONFIDENCE


def parse_compliance(settings: Any, source: str = "settings.yml") -> Compliance:
    """Validate the `compliance:` section.

    Args:
        settings: the whole settings mapping.
        source: the settings file name, for messages.

    Raises:
        SettingsError: naming the key that is missing or wrong.
    """
    section = settings.get("compliance") if isinstance(settings, dict) else None
    if not isinstance(section, dict):
        raise SettingsError(f"{source}: section 'compliance' is missing")

    def string_list(key: str, required: bool) -> List[str]:
        value = section.get(key)
        if value is None and not required:
            return []
        if not isinstance(value, list) or not all(isinstance(item, str) and item.strip() for item in value):
            raise SettingsError(f"{source}: compliance.{key} must be a list of non-empty strings")
        return [str(item) for item in value]

    def positive_int(key: str) -> int:
        value = section.get(key)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise SettingsError(f"{source}: compliance.{key} must be a positive integer")
        return int(value)

    confidence = section.get("review_min_confidence", DEFAULT_REVIEW_MIN_CONFIDENCE)
    if isinstance(confidence, bool) or not isinstance(confidence, (int, float)) or not 0 <= confidence <= 1:
        raise SettingsError(f"{source}: compliance.review_min_confidence must be a number from 0 to 1")
    return Compliance(
        banned_phrases=string_list("banned_phrases", required=True),
        min_examples_per_language=positive_int("min_examples_per_language"),
        wechat_max_reply_bytes=positive_int("wechat_max_reply_bytes"),
        lint_ignore_unused_intents=string_list("lint_ignore_unused_intents", required=False),
        lint_extra_placeholders=string_list("lint_extra_placeholders", required=False),
        review_min_confidence=float(confidence),
    )


@dataclass(frozen=True)
class Unreadable:
    """A project file that cannot be read: where and why."""

    path: pathlib.Path
    name: str  # the path relative to the project root, for messages
    line: int
    reason: str  # "not UTF-8: save it as UTF-8", "not valid YAML: …"

    def __str__(self) -> str:
        return f"{self.name}:{self.line}: {self.reason}"


class UnreadableError(ValueError):
    """domain.yml or data files cannot be read; `files` says which, where and why (one line each)."""

    def __init__(self, files: Sequence[Unreadable]) -> None:
        super().__init__("\n".join(str(item) for item in files))
        self.files = list(files)


@dataclass
class Example:
    """One training example where it is written."""

    text: str  # as written after "- "
    intent: str
    path: pathlib.Path
    line: int


@dataclass
class IntentBlock:
    """One `- intent:` block of an NLU file."""

    intent: str
    path: pathlib.Path
    line: int
    examples: List[Example]
    block: Optional[yamlio.ExamplesBlock]  # None when `examples` is not a literal block

    def split(self) -> Tuple[List[Example], List[Example]]:
        """The examples split into (Chinese, English)."""
        chinese, english = split_languages(example.text for example in self.examples)
        pool = list(self.examples)
        zh: List[Example] = []
        en: List[Example] = []
        for target, texts in ((zh, chinese), (en, english)):
            for text in texts:
                for index, example in enumerate(pool):
                    if example.text == text:
                        target.append(pool.pop(index))
                        break
        return zh, en


@dataclass
class StepUse:
    """An intent used in a rule or story step, and the actions that follow it."""

    path: pathlib.Path
    line: int
    next_actions: List[str]


class Project:
    """The files of one Rasa project (a repository checkout or a copy of one).

    Args:
        root: the project root; the repository by default.
    """

    def __init__(self, root: Optional[os.PathLike | str] = None) -> None:
        self.root = pathlib.Path(root).resolve() if root else repo_root()
        self.settings_path = self.root / "settings.yml"
        self.domain_path = self.root / "domain.yml"
        self.data_path = self.root / "data"

    # --- paths ----------------------------------------------------------------------------------------------

    def rel(self, path: os.PathLike | str) -> str:
        """A path relative to the root when inside it (for messages)."""
        target = pathlib.Path(path)
        try:
            return target.resolve().relative_to(self.root).as_posix()
        except ValueError:
            return str(target)

    def faq_file(self, intent: str) -> pathlib.Path:
        """The conventional file of a FAQ topic: `data/nlu/faq/<topic>.yml`."""
        topic = intent[len(FAQ_PREFIX) :] if intent.startswith(FAQ_PREFIX) else intent
        return self.root / FAQ_FOLDER / f"{topic}.yml"

    # --- raw documents --------------------------------------------------------------------------------------

    @functools.cached_property
    def settings(self) -> CommentedMap:
        """settings.yml, round-trip."""
        if not self.settings_path.exists():
            raise SettingsError(f"settings file not found: {self.settings_path}")
        try:
            data = yamlio.load_file(self.settings_path)
        except yamlio.NotUtf8Error as error:
            raise SettingsError(str(error)) from error
        except YAMLError as error:
            raise SettingsError(f"{self.settings_path}: not valid YAML: {error}") from error
        if not isinstance(data, dict):
            raise SettingsError(f"{self.settings_path}: the settings file must hold a mapping of sections")
        return data

    @functools.cached_property
    def compliance(self) -> Compliance:
        """The validated `compliance:` settings."""
        return parse_compliance(self.settings, self.rel(self.settings_path))

    def _read(self, path: pathlib.Path) -> Tuple[Any, Optional[Unreadable]]:
        """The round-trip content of a YAML file, or None and why it cannot be read."""
        try:
            text = yamlio.read_text(path)
        except yamlio.NotUtf8Error as error:
            return None, Unreadable(path, self.rel(path), error.line, "not UTF-8: save it as UTF-8")
        try:
            return yamlio.load(text), None
        except YAMLError as error:
            logger.debug("parse error in %s", self.rel(path), exc_info=error)
            line, problem = yamlio.error_location(error, text)
            return None, Unreadable(path, self.rel(path), line, f"not valid YAML: {problem}")

    @functools.cached_property
    def domain(self) -> CommentedMap:
        """domain.yml, round-trip (empty mapping when missing).

        Raises:
            UnreadableError: domain.yml is not UTF-8 or not valid YAML.
        """
        if not self.domain_path.exists():
            return CommentedMap()
        data, problem = self._read(self.domain_path)
        if problem is not None:
            raise UnreadableError([problem])
        return data if isinstance(data, CommentedMap) else CommentedMap()

    @functools.cached_property
    def data_files(self) -> List[pathlib.Path]:
        """Every YAML file under data/, sorted."""
        if not self.data_path.is_dir():
            return []
        return sorted(path for path in self.data_path.rglob("*") if path.suffix in (".yml", ".yaml"))

    @functools.cached_property
    def _loaded(self) -> Tuple[Dict[pathlib.Path, Any], List[Unreadable]]:
        documents: Dict[pathlib.Path, Any] = {}
        unreadable: List[Unreadable] = []
        for path in self.data_files:
            document, problem = self._read(path)
            if problem is None:
                documents[path] = document
            else:
                logger.error("%s cannot be read", self.rel(path))
                unreadable.append(problem)
        return documents, unreadable

    @property
    def documents(self) -> Dict[pathlib.Path, Any]:
        """The round-trip content of each data file (files that cannot be read are left out, see `unreadable`)."""
        return self._loaded[0]

    @property
    def unreadable(self) -> List[Unreadable]:
        """Data files that cannot be read (not UTF-8, not valid YAML), in path order."""
        return self._loaded[1]

    def check_readable(self) -> None:
        """Make sure domain.yml and every data file can be read.

        Raises:
            SettingsError: the root holds no domain.yml (not a Rasa project: a wrong `--root`).
            UnreadableError: naming each file that cannot be read, with the line and the reason.
        """
        if not self.domain_path.is_file():
            raise SettingsError(f"{self.root}: no domain.yml here, so not a Rasa project (check --root)")
        files: List[Unreadable] = []
        try:
            self.domain  # noqa: B018 - reading it is the check
        except UnreadableError as error:
            files.extend(error.files)
        files.extend(self.unreadable)
        if files:
            raise UnreadableError(files)

    # --- domain ---------------------------------------------------------------------------------------------

    @property
    def intents(self) -> List[str]:
        """Intent names listed in the domain, in order."""
        return [name for name, _ in self.intent_lines()]

    def intent_lines(self) -> List[Tuple[str, int]]:
        """(intent, line) for each intent listed in the domain."""
        items = self.domain.get("intents")
        result: List[Tuple[str, int]] = []
        if isinstance(items, CommentedSeq):
            for index, item in enumerate(items):
                name = next(iter(item)) if isinstance(item, dict) and item else item
                if isinstance(name, str):
                    result.append((str(name), yamlio.value_line(items, index)))
        return result

    @property
    def slots(self) -> Set[str]:
        """Slot names of the domain."""
        slots = self.domain.get("slots")
        return {str(name) for name in slots} if isinstance(slots, dict) else set()

    @property
    def responses(self) -> CommentedMap:
        """The responses mapping of the domain (empty when missing)."""
        responses = self.domain.get("responses")
        return responses if isinstance(responses, CommentedMap) else CommentedMap()

    def answers(self, intent: str) -> Tuple[Optional[str], Optional[str]]:
        """The (Chinese, English) answer texts of a FAQ intent, None where missing."""
        variations = self.responses.get(RESPONSE_PREFIX + intent)
        zh_index, en_index = answer_variations(variations)
        zh = variations[zh_index].get("text") if zh_index is not None else None
        en = variations[en_index].get("text") if en_index is not None else None
        return (str(zh) if zh is not None else None, str(en) if en is not None else None)

    # --- NLU ------------------------------------------------------------------------------------------------

    @functools.cached_property
    def intent_blocks(self) -> List[IntentBlock]:
        """Every `- intent:` block of the NLU data, in file order."""
        blocks: List[IntentBlock] = []
        for path, document in self.documents.items():
            items = document.get("nlu") if isinstance(document, dict) else None
            if not isinstance(items, CommentedSeq):
                continue
            lines: Optional[List[str]] = None
            for index, item in enumerate(items):
                if not isinstance(item, CommentedMap) or not isinstance(item.get("intent"), str):
                    continue
                intent = str(item["intent"])
                line = yamlio.value_line(item, "intent") or yamlio.value_line(items, index)
                raw = item.get("examples")
                block: Optional[yamlio.ExamplesBlock] = None
                examples: List[Example] = []
                if isinstance(raw, str) and "\n" in raw and yamlio.value_line(item, "examples"):
                    if lines is None:
                        lines = yamlio.read_text(path).splitlines()
                    header = yamlio.value_line(item, "examples") - 1
                    key_column = int(item.lc.key("examples")[1])
                    block = yamlio.examples_block(lines, header, key_column)
                    examples = [Example(entry.text, intent, path, entry.line) for entry in block.examples]
                elif isinstance(raw, str):
                    from bot.faq import parse_examples

                    examples = [Example(text, intent, path, line) for text in parse_examples(raw)]
                blocks.append(IntentBlock(intent, path, line, examples, block))
        return blocks

    def blocks_by_intent(self) -> Dict[str, List[IntentBlock]]:
        """intent -> its NLU blocks."""
        result: Dict[str, List[IntentBlock]] = {}
        for block in self.intent_blocks:
            result.setdefault(block.intent, []).append(block)
        return result

    def faq_intents(self) -> List[str]:
        """FAQ intents: from the NLU data and from the domain's intent list, sorted."""
        names = {block.intent for block in self.intent_blocks if block.intent.startswith(FAQ_PREFIX)}
        names.update(name for name in self.intents if name.startswith(FAQ_PREFIX))
        return sorted(names)

    # --- rules and stories ----------------------------------------------------------------------------------

    @functools.cached_property
    def intent_uses(self) -> Dict[str, List[StepUse]]:
        """intent -> where rules and stories use it (with the actions that follow)."""
        uses: Dict[str, List[StepUse]] = {}
        for path, document in self.documents.items():
            if not isinstance(document, dict):
                continue
            for kind in ("rules", "stories"):
                flows = document.get(kind)
                if not isinstance(flows, list):
                    continue
                for flow in flows:
                    steps = flow.get("steps") if isinstance(flow, dict) else None
                    if isinstance(steps, CommentedSeq):
                        self._collect_steps(path, steps, uses)
        return uses

    def _collect_steps(self, path: pathlib.Path, steps: CommentedSeq, uses: Dict[str, List[StepUse]]) -> None:
        for index, step in enumerate(steps):
            if not isinstance(step, dict):
                continue
            found: List[Tuple[str, int]] = []
            if isinstance(step.get("intent"), str):
                found.append((str(step["intent"]), yamlio.value_line(step, "intent")))
            alternatives = step.get("or")
            if isinstance(alternatives, CommentedSeq):
                for position, alternative in enumerate(alternatives):
                    if isinstance(alternative, dict) and isinstance(alternative.get("intent"), str):
                        line = yamlio.value_line(alternative, "intent") or yamlio.value_line(alternatives, position)
                        found.append((str(alternative["intent"]), line))
            if not found:
                continue
            following: List[str] = []
            for later in steps[index + 1 :]:
                if not isinstance(later, dict) or not isinstance(later.get("action"), str):
                    break
                following.append(str(later["action"]))
            for intent, line in found:
                uses.setdefault(intent, []).append(StepUse(path, line or yamlio.value_line(steps, index), following))

    def answered_by_code(self, intent: str) -> Optional[str]:
        """The custom action that answers a FAQ intent (no `utter_` response), or None."""
        if RESPONSE_PREFIX + intent in self.responses:
            return None
        for use in self.intent_uses.get(intent, []):
            for action in use.next_actions:
                if not action.startswith(RESPONSE_PREFIX) and action.startswith("action_"):
                    return action
        return None
