"""Small, local edits of NLU files, `domain.yml` and rule files, as text splices.

Each function returns the new text of one file; bytes outside the edited span are never touched, so a file
nobody changed stays byte-identical and a changed one keeps its comments, quotes and layout elsewhere.
"""

from __future__ import annotations

import logging
import re
from typing import List, Optional, Sequence, Tuple

from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from bot.faq import RESPONSE_PREFIX
from bot.trainer import yamlio
from bot.trainer.yamlio import Splice, YamlEditError

logger = logging.getLogger(__name__)

NLU_HEADER = 'version: "3.1"\n\nnlu:\n'
RULES_HEADER = 'version: "3.1"\n\nrules:\n'


def _offset(text: str, line: int) -> int:
    offsets = yamlio.line_offsets(text)
    return offsets[min(line, len(offsets) - 1)]


def _last_content_end(text: str, start: int, end: int) -> int:
    """Offset just after the last line in text[start:end] that holds content (not blank, not a comment)."""
    chunk = text[start:end]
    lines = chunk.splitlines(keepends=True)
    position = start
    last = start
    for line in lines:
        position += len(line)
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            last = position
    if last < len(text) and text[last - 1 : last] != "\n":
        newline = text.find("\n", last)
        last = len(text) if newline < 0 else newline + 1
    return last


# --- NLU examples ------------------------------------------------------------------------------------------


def replace_examples(text: str, block: yamlio.ExamplesBlock, examples: Sequence[str]) -> str:
    """Replace every `- example` line of one examples block."""
    newline = yamlio.newline_of(text)
    start = _offset(text, block.start)
    end = _offset(text, block.end)
    rendered = yamlio.render_examples(examples, block.indent, newline)
    if end == len(text) and text and not text.endswith("\n"):
        rendered = rendered.rstrip("\r\n")
    return yamlio.apply_splices(text, [Splice(start, end, rendered)])


def _skip_metadata(lines: Sequence[str], index: int) -> int:
    """The index of the first line at or after `index` that is not part of a `metadata:` block."""
    if index < len(lines) and re.match(r"^\s*metadata:\s*$", lines[index]):
        column = yamlio.indent_of(lines[index])
        index += 1
        while index < len(lines) and (not lines[index].strip() or yamlio.indent_of(lines[index]) > column):
            index += 1
    return index


def new_nlu_file(intent: str, examples: Sequence[str], template: Optional[str] = None) -> str:
    """The text of a new one-intent NLU file, laid out like `template` (another topic file) when given.

    The template's intent metadata (its topic's names) is not copied: the new topic has none until a trainer
    adds its own.
    """
    if template:
        lines = template.splitlines()
        for index, line in enumerate(lines[:-1]):
            match = re.match(r"^(\s*-\s+intent:\s*)\S+\s*$", line)
            header = _skip_metadata(lines, index + 1)
            if match and header < len(lines) and re.match(r"^\s*examples:\s*\|\s*$", lines[header]):
                following = lines[header + 1] if header + 1 < len(lines) else ""
                indent = yamlio.indent_of(following) if following.strip() else yamlio.indent_of(lines[header]) + 2
                head = [*lines[:index], match.group(1) + intent, lines[header]]
                return "\n".join(head) + "\n" + yamlio.render_examples(examples, indent)
    return NLU_HEADER + f"  - intent: {intent}\n    examples: |\n" + yamlio.render_examples(examples, 6)


# --- domain ------------------------------------------------------------------------------------------------


def _top_level(root: Optional[Node], key: str) -> Optional[Tuple[ScalarNode, Node]]:
    return yamlio.mapping_get(root, key)


def _section_marker(text: str, start: int, end: int, pattern: str) -> Optional[int]:
    """Offset of the start of the first comment line matching `pattern` in text[start:end]."""
    regex = re.compile(r"^[ \t]*#.*" + pattern, re.MULTILINE | re.IGNORECASE)
    match = regex.search(text, start, end)
    return match.start() if match else None


def _section_span(text: str, root: Node, key: str) -> Tuple[int, int]:
    """Offsets from the line after a top-level key to the start of the next top-level key (or the end)."""
    pairs = root.value if isinstance(root, MappingNode) else []
    for index, (key_node, _value) in enumerate(pairs):
        if key_node.value == key:
            start = _offset(text, key_node.start_mark.line + 1)
            end = _offset(text, pairs[index + 1][0].start_mark.line) if index + 1 < len(pairs) else len(text)
            return start, end
    raise YamlEditError(f"domain.yml has no '{key}:' section")


def insert_intent(text: str, intent: str) -> str:
    """Add an intent to the domain's intent list (before the `FAQ topics (end)` marker when there is one)."""
    root = yamlio.compose(text)
    found = _top_level(root, "intents")
    if found is None or not isinstance(found[1], SequenceNode):
        raise YamlEditError("domain.yml has no 'intents:' list")
    items = found[1].value
    newline = yamlio.newline_of(text)
    start, end = _section_span(text, root, "intents")
    marker = _section_marker(text, start, end, r"faq.*\(end\)")
    column = found[1].start_mark.column if items else 2
    if marker is not None:
        line_start = marker
        column = yamlio.indent_of(text[marker : text.find("\n", marker)])
        return yamlio.apply_splices(text, [Splice(line_start, line_start, f"{' ' * column}- {intent}{newline}")])
    position = _last_content_end(text, items[-1].start_mark.index, found[1].end_mark.index) if items else start
    return yamlio.apply_splices(text, [Splice(position, position, f"{' ' * column}- {intent}{newline}")])


def render_response(name: str, answer_zh: str, answer_en: str, key_column: int, newline: str = "\n") -> str:
    """A new FAQ response: the English variation (condition on slot language) and the Chinese one."""
    key = " " * key_column
    item = " " * (key_column + 2)
    inner = " " * (key_column + 4)
    lines = [
        f"{key}{name}:",
        f"{item}- condition:",
        f"{inner}  - type: slot",
        f"{inner}    name: language",
        f"{inner}    value: en",
        f"{inner}text: {yamlio.render_text_value(answer_en, key_column + 4)}",
        f"{item}- text: {yamlio.render_text_value(answer_zh, key_column + 4)}",
    ]
    return newline.join(lines).replace("\n", newline) + newline


def insert_response(text: str, name: str, answer_zh: str, answer_en: str) -> str:
    """Add a FAQ response (before the `FAQ answers (end)` marker when there is one)."""
    root = yamlio.compose(text)
    found = _top_level(root, "responses")
    newline = yamlio.newline_of(text)
    if found is None:
        raise YamlEditError("domain.yml has no 'responses:' section")
    start, end = _section_span(text, root, "responses")
    pairs = found[1].value if isinstance(found[1], MappingNode) else []
    column = pairs[0][0].start_mark.column if pairs else 2
    marker = _section_marker(text, start, end, r"faq.*\(end\)")
    if marker is not None:
        column = yamlio.indent_of(text[marker : text.find("\n", marker)])
        position = marker
    elif pairs:
        position = _last_content_end(text, pairs[-1][0].start_mark.index, found[1].end_mark.index)
    else:
        position = start
    block = render_response(name, answer_zh, answer_en, column, newline)
    return yamlio.apply_splices(text, [Splice(position, position, block)])


def _response_node(root: Optional[Node], name: str) -> SequenceNode:
    found = _top_level(root, "responses")
    response = yamlio.mapping_get(found[1], name) if found else None
    if response is None or not isinstance(response[1], SequenceNode):
        raise YamlEditError(f"domain.yml: response {name} is not a list of variations")
    return response[1]


def set_response_text(text: str, name: str, index: int, value: str) -> str:
    """Replace the `text:` of variation `index` of a response, touching nothing else."""
    root = yamlio.compose(text)
    variations = _response_node(root, name)
    variation = variations.value[index]
    pair = yamlio.mapping_get(variation, "text")
    if pair is None:
        raise YamlEditError(f"domain.yml:{variation.start_mark.line + 1}: variation of {name} has no text")
    key_node, value_node = pair
    start, end = value_node.start_mark.index, value_node.end_mark.index
    if getattr(value_node, "style", None) in ("|", ">"):
        end = start + len(text[start:end].rstrip())
    rendered = yamlio.render_text_value(value, key_node.start_mark.column)
    rendered = rendered.replace("\n", yamlio.newline_of(text))
    return yamlio.apply_splices(text, [Splice(start, end, rendered)])


def add_variation(text: str, name: str, value: str, english: bool) -> str:
    """Add the English (first) or the Chinese (last) variation to an existing response."""
    root = yamlio.compose(text)
    variations = _response_node(root, name)
    newline = yamlio.newline_of(text)
    if not variations.value:
        raise YamlEditError(f"domain.yml: response {name} has no variations")
    dash = variations.start_mark.column
    inner = " " * (dash + 2)
    if english:
        lines = [
            f"{' ' * dash}- condition:",
            f"{inner}  - type: slot",
            f"{inner}    name: language",
            f"{inner}    value: en",
            f"{inner}text: {yamlio.render_text_value(value, dash + 2)}",
        ]
        first = variations.value[0]
        position = _offset(text, first.start_mark.line)
    else:
        lines = [f"{' ' * dash}- text: {yamlio.render_text_value(value, dash + 2)}"]
        position = _last_content_end(text, variations.value[-1].start_mark.index, variations.end_mark.index)
    block = newline.join(lines).replace("\n", newline) + newline
    return yamlio.apply_splices(text, [Splice(position, position, block)])


# --- rules -------------------------------------------------------------------------------------------------


def append_rule(text: Optional[str], intent: str, action: str) -> str:
    """Add `intent -> action` as a rule at the end of a rules file (a new file when `text` is None)."""
    if not text:
        text = RULES_HEADER
    newline = yamlio.newline_of(text)
    match = re.search(r"^([ \t]*)- rule:", text, re.MULTILINE)
    column = len(match.group(1)) if match else 2
    pad = " " * column
    lines: List[str] = [
        f"{pad}- rule: Answer {intent}",
        f"{pad}  steps:",
        f"{pad}    - intent: {intent}",
        f"{pad}    - action: {action}",
    ]
    body = newline.join(lines) + newline
    if not text.endswith("\n"):
        text += newline
    separator = newline if match else ""
    return text + separator + body


def faq_rule_action(intent: str) -> str:
    """The response that answers a FAQ intent."""
    return RESPONSE_PREFIX + intent
