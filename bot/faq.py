"""The FAQ catalogue: every `faq_<topic>` intent with its examples, canonical questions, names and answers.

Where a topic lives:
- `data/nlu/faq/<topic>.yml`: one `- intent: faq_<topic>` block, Chinese examples first (the first Chinese line is
  the canonical Chinese question), then English examples (the first English line is the canonical English one);
  its short names, as the apology before a handoff says them ("非常抱歉，退款的事…" / "…the trouble with your
  refund"), in the intent's metadata, which Rasa accepts and ignores:

      - intent: faq_refund_status
        metadata:
          topic_name: {zh: 退款, en: your refund}
        examples: |
          - 退款什么时候到账？
- `domain.yml`, `responses: utter_faq_<topic>`: an English variation (condition: slot `language` is `en`) and an
  unconditioned Chinese (Simplified) variation. Topics answered by code (`faq_service_hours`) have none.

`load_catalog()` is cheap to call often: the parsed catalogue is cached until one of the files changes.
"""

from __future__ import annotations

import functools
import logging
import os
import pathlib
from dataclasses import dataclass
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

import yaml

from bot.i18n import EN, localise
from bot.language import detect

logger = logging.getLogger(__name__)

FAQ_PREFIX = "faq_"
RESPONSE_PREFIX = "utter_"
FAQ_FOLDER = pathlib.Path("data") / "nlu" / "faq"
# The key of an FAQ intent's metadata that holds the topic's short names: {zh: …, en: …}.
TOPIC_NAME_KEY = "topic_name"

try:  # the C loader is several times faster; PyYAML without libyaml falls back to the Python one
    _Loader: Any = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - depends on how PyYAML was built
    _Loader = yaml.SafeLoader


@dataclass(frozen=True)
class Topic:
    """One FAQ topic.

    Attributes:
        intent: the intent name, `faq_<topic>`.
        examples_zh: Chinese examples (Simplified or Traditional), in file order.
        examples_en: English examples, in file order.
        answer_zh: the unconditioned (Chinese) answer, or None when the topic is answered by code.
        answer_en: the English answer, or None when the topic is answered by code.
        canonical_zh: the canonical Chinese question (the first Chinese example), or None.
        canonical_en: the canonical English question (the first English example), or None.
        name_zh: the topic's short Chinese name (Simplified; "退款"), or None when the data file gives none.
        name_en: the topic's short English name ("your refund"), or None when the data file gives none.
    """

    intent: str
    examples_zh: Tuple[str, ...]
    examples_en: Tuple[str, ...]
    answer_zh: Optional[str]
    answer_en: Optional[str]
    canonical_zh: Optional[str]
    canonical_en: Optional[str]
    name_zh: Optional[str] = None
    name_en: Optional[str] = None

    @property
    def topic(self) -> str:
        """The topic name without the `faq_` prefix."""
        return self.intent[len(FAQ_PREFIX) :] if self.intent.startswith(FAQ_PREFIX) else self.intent

    @property
    def response(self) -> str:
        """The name of the answer response, `utter_faq_<topic>`."""
        return RESPONSE_PREFIX + self.intent

    def answer(self, language: Optional[str]) -> Optional[str]:
        """The answer in the customer's language (`zh`, `zh_hant` or `en`), as the assistant sends it: the
        English variation, or the Chinese one (converted to Traditional for `zh_hant`, `bot.i18n.localise`);
        None when the topic is answered by code."""
        if self.answer_zh is None or self.answer_en is None:
            return None
        return localise(language, zh=self.answer_zh, en=self.answer_en)

    def name(self, language: Optional[str]) -> Optional[str]:
        """The topic's short name in the customer's language, or None when the data file gives none."""
        if self.name_zh is None or self.name_en is None:
            return None
        return localise(language, zh=self.name_zh, en=self.name_en)

    def canonical(self, language: str) -> Optional[str]:
        """The canonical question in the customer's language (`zh`, `zh_hant` or `en`)."""
        if language == EN:
            return self.canonical_en or self.canonical_zh
        return self.canonical_zh or self.canonical_en


def is_english(text: str) -> Optional[bool]:
    """True for English text, False for Chinese, None when the text has no letters of either."""
    language = detect(text, default=None)
    return None if language is None else language == EN


def split_languages(examples: Iterable[str]) -> Tuple[List[str], List[str]]:
    """Split examples into (Chinese, English), keeping their order.

    A line with no letters of either script (digits, emoji) goes with the language of the line before it
    (Chinese at the start).
    """
    chinese: List[str] = []
    english: List[str] = []
    previous_english = False
    for example in examples:
        english_line = is_english(example)
        if english_line is None:
            english_line = previous_english
        (english if english_line else chinese).append(example)
        previous_english = english_line
    return chinese, english


def is_english_condition(condition: Any) -> bool:
    """True when a response variation's condition is exactly "slot `language` is `en`"."""
    if not isinstance(condition, list) or len(condition) != 1 or not isinstance(condition[0], dict):
        return False
    item = condition[0]
    return item.get("type") == "slot" and item.get("name") == "language" and item.get("value") == EN


def answer_variations(variations: Any) -> Tuple[Optional[int], Optional[int]]:
    """Indexes of the (Chinese, English) variations of a response: unconditioned, and `language: en`."""
    chinese: Optional[int] = None
    english: Optional[int] = None
    for index, variation in enumerate(variations if isinstance(variations, list) else []):
        if not isinstance(variation, dict):
            continue
        condition = variation.get("condition")
        if not condition and chinese is None:
            chinese = index
        elif is_english_condition(condition) and english is None:
            english = index
    return chinese, english


def parse_examples(block: Any) -> List[str]:
    """The examples of a Rasa `examples: |` value (lines starting with `-`), stripped."""
    if not isinstance(block, str):
        return []
    return [line[1:].strip() for line in (raw.strip() for raw in block.splitlines()) if line.startswith("-")]


def faq_files(root: pathlib.Path) -> List[pathlib.Path]:
    """The topic files under `data/nlu/faq/`, sorted."""
    folder = root / FAQ_FOLDER
    return sorted([*folder.glob("*.yml"), *folder.glob("*.yaml")]) if folder.is_dir() else []


def _read_yaml(path: pathlib.Path) -> Any:
    with open(path, encoding="utf-8") as handle:
        return yaml.load(handle, Loader=_Loader)  # a safe loader (yaml.SafeLoader subclass)


def topic_names(metadata: Any) -> Optional[Tuple[str, str]]:
    """The (Chinese, English) short names in an intent's metadata (`topic_name: {zh: …, en: …}`), or None.

    Both names must be non-empty strings; anything else counts as no names.
    """
    names = metadata.get(TOPIC_NAME_KEY) if isinstance(metadata, dict) else None
    if not isinstance(names, dict):
        return None
    zh, en = names.get("zh"), names.get("en")
    if not (isinstance(zh, str) and zh.strip() and isinstance(en, str) and en.strip()):
        return None
    return zh.strip(), en.strip()


def _faq_blocks(files: Sequence[pathlib.Path]) -> Tuple[Dict[str, List[str]], Dict[str, Tuple[str, str]]]:
    """(intent -> examples, intent -> (Chinese, English) names) from the topic files."""
    examples: Dict[str, List[str]] = {}
    names: Dict[str, Tuple[str, str]] = {}
    for path in files:
        try:
            document = _read_yaml(path) or {}
        except yaml.YAMLError as error:
            logger.error("FAQ file %s is not valid YAML", path)
            logger.debug("parse error", exc_info=error)
            continue
        blocks = (document.get("nlu") if isinstance(document, dict) else None) or []
        for block in blocks:
            if isinstance(block, dict) and isinstance(block.get("intent"), str):
                examples.setdefault(block["intent"], []).extend(parse_examples(block.get("examples")))
                found = topic_names(block.get("metadata"))
                if found is not None:
                    names.setdefault(block["intent"], found)
                elif block.get("metadata") is not None:
                    logger.warning("%s: %s has metadata but no topic_name {zh, en}", path, block["intent"])
    return examples, names


@functools.lru_cache(maxsize=4)
def _catalog(root: str, stamp: Tuple[Tuple[str, float], ...]) -> Dict[str, Topic]:
    base = pathlib.Path(root)
    files = [pathlib.Path(name) for name, _ in stamp if pathlib.Path(name).parent == base / FAQ_FOLDER]
    examples, names = _faq_blocks(files)
    domain_path = base / "domain.yml"
    domain = (_read_yaml(domain_path) if domain_path.exists() else None) or {}
    responses = domain.get("responses") or {}
    intents = [
        next(iter(item)) if isinstance(item, dict) else item for item in domain.get("intents") or []
    ]
    listed = sorted({*examples, *(name for name in intents if isinstance(name, str) and name.startswith(FAQ_PREFIX))})
    catalog: Dict[str, Topic] = {}
    for intent in listed:
        chinese, english = split_languages(examples.get(intent, []))
        name_zh, name_en = names.get(intent, (None, None))
        variations = responses.get(RESPONSE_PREFIX + intent) or []
        zh_index, en_index = answer_variations(variations)
        answer_zh = variations[zh_index].get("text") if zh_index is not None else None
        answer_en = variations[en_index].get("text") if en_index is not None else None
        catalog[intent] = Topic(
            intent=intent,
            examples_zh=tuple(chinese),
            examples_en=tuple(english),
            answer_zh=answer_zh,
            answer_en=answer_en,
            canonical_zh=chinese[0] if chinese else None,
            canonical_en=english[0] if english else None,
            name_zh=name_zh,
            name_en=name_en,
        )
    return catalog


def _stamp(root: pathlib.Path) -> Tuple[Tuple[str, float], ...]:
    paths = [root / "domain.yml", *faq_files(root)]
    return tuple((str(path), path.stat().st_mtime) for path in paths if path.exists())


def load_catalog(root: Optional[os.PathLike | str] = None) -> Dict[str, Topic]:
    """Return the FAQ catalogue, intent -> Topic (cached until `domain.yml` or a topic file changes).

    Args:
        root: the project root; the repository by default.

    Returns:
        A new dict (safe to modify) of frozen Topic objects, sorted by intent.
    """
    from bot.settings import repo_root

    base = pathlib.Path(root).resolve() if root else repo_root()
    return dict(_catalog(str(base), _stamp(base)))
