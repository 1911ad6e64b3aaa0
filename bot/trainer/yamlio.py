"""Read YAML with line numbers and edit it without disturbing anything that did not change.

Reading uses ruamel.yaml in round-trip mode, whose containers carry line information (`.lc`), so every problem
can name `file:line`. Writing never re-dumps a whole document (a dump reflows quotes, indentation and
comments): the tools compute the few spans that change (one examples block, one response, one new list item)
and splice new text into the original, so every other byte of the file stays as it was.
"""

from __future__ import annotations

import json
import logging
import os
import pathlib
import re
import tempfile
from dataclasses import dataclass
from typing import Any, Iterable, Iterator, List, Optional, Sequence, Tuple

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode

logger = logging.getLogger(__name__)

#: Annotated entities inside a training example: `[text](entity)`, `[text]{"entity": …}`.
_ENTITY_ANNOTATION = re.compile(r"\[(?P<text>[^\]]+)\](?:\([^)]*\)|\{[^}]*\})")


class YamlEditError(ValueError):
    """A file cannot be edited safely (unexpected layout); the message names the file and line."""


class NotUtf8Error(ValueError):
    """A text file is not UTF-8; `line` is the 1-based line of the first byte that is not."""

    def __init__(self, path: os.PathLike | str, line: int) -> None:
        super().__init__(f"{path}:{line}: not UTF-8: save it as UTF-8")
        self.path = pathlib.Path(path)
        self.line = line


def read_text(path: os.PathLike | str) -> str:
    """Read a text file exactly as stored (UTF-8, line endings untouched).

    Raises:
        NotUtf8Error: the file is not UTF-8 (saved as GBK, say).
    """
    data = pathlib.Path(path).read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise NotUtf8Error(path, data[: error.start].count(b"\n") + 1) from error


def write_text(path: os.PathLike | str, text: str) -> None:
    """Write a text file atomically (a temp file in the same folder, then a rename)."""
    target = pathlib.Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(prefix=f".{target.name}.", dir=str(target.parent))
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as stream:
            stream.write(text)
        if target.exists():
            os.chmod(temp, target.stat().st_mode & 0o777)
        os.replace(temp, target)
    finally:
        if os.path.exists(temp):  # only when something failed: a replaced temp file is gone
            os.unlink(temp)


def _yaml() -> YAML:
    loader = YAML(typ="rt")
    loader.preserve_quotes = True
    return loader


def load(text: str) -> Any:
    """Parse YAML text in round-trip mode (containers carry `.lc` line information)."""
    return _yaml().load(text)


def load_file(path: os.PathLike | str) -> Any:
    """Parse a YAML file in round-trip mode."""
    return load(read_text(path))


def error_location(error: YAMLError, text: str) -> Tuple[int, str]:
    """The 1-based line and a one-line description of a parse error of `text`.

    Args:
        error: what ruamel.yaml raised.
        text: the text that failed to parse (to keep an end-of-file line inside the file).
    """
    mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
    last = max(len(text.splitlines()), 1)
    line = min(int(mark.line) + 1, last) if mark is not None else 1
    problem = getattr(error, "problem", None)
    if not problem:
        lines = str(error).strip().splitlines()
        problem = lines[0] if lines else type(error).__name__
    return line, str(problem)


def compose(text: str) -> Optional[Node]:
    """Parse YAML text into its node tree, whose nodes carry exact start and end positions."""
    return _yaml().compose(text)


def key_line(container: Any, key: Any) -> int:
    """1-based line of `key` in a round-trip mapping (of item `key` in a sequence); 0 when unknown."""
    return _line(container, key, of_value=False)


def value_line(container: Any, key: Any) -> int:
    """1-based line where the value of `key` starts in a round-trip mapping; 0 when unknown."""
    return _line(container, key, of_value=True)


def _line(container: Any, key: Any, of_value: bool) -> int:
    """ruamel's recorded position of a mapping's key (or its value), or a sequence's item, as a 1-based line."""
    try:
        if isinstance(container, CommentedMap):
            return int((container.lc.value if of_value else container.lc.key)(key)[0]) + 1
        if isinstance(container, CommentedSeq):
            return int(container.lc.item(key)[0]) + 1
    except (KeyError, IndexError, TypeError, AttributeError):
        pass
    return 0


def walk_strings(value: Any, line: int = 0) -> Iterator[Tuple[str, int, Tuple[Any, ...]]]:
    """Yield every string inside a round-trip value with its 1-based line and its key path.

    Args:
        value: a round-trip mapping, sequence or scalar.
        line: the line to report for a bare scalar.
    """
    if isinstance(value, str):
        yield str(value), line, ()
    elif isinstance(value, CommentedMap):
        for key, item in value.items():
            for text, item_line, path in walk_strings(item, value_line(value, key) or line):
                yield text, item_line, (key, *path)
    elif isinstance(value, CommentedSeq):
        for index, item in enumerate(value):
            for text, item_line, path in walk_strings(item, value_line(value, index) or line):
                yield text, item_line, (index, *path)


def mapping_get(node: Optional[Node], key: str) -> Optional[Tuple[ScalarNode, Node]]:
    """Return the (key node, value node) pair for `key` in a mapping node, or None."""
    if not isinstance(node, MappingNode):
        return None
    for key_node, value_node in node.value:
        if isinstance(key_node, ScalarNode) and key_node.value == key:
            return key_node, value_node
    return None


# --- text positions and splices ---------------------------------------------------------------------------


def line_offsets(text: str) -> List[int]:
    """Offsets where each line of `text` starts (plus one past the end)."""
    offsets = [0]
    for match in re.finditer(r"\n", text):
        offsets.append(match.end())
    if offsets[-1] != len(text):
        offsets.append(len(text))
    return offsets


def newline_of(text: str) -> str:
    """The line ending a file uses ("\\r\\n" or "\\n")."""
    return "\r\n" if "\r\n" in text else "\n"


@dataclass(frozen=True)
class Splice:
    """Replace text[start:end] with `text`."""

    start: int
    end: int
    text: str


def apply_splices(text: str, splices: Iterable[Splice]) -> str:
    """Apply non-overlapping splices to `text` (insertions at one offset keep their given order)."""
    ordered = sorted(enumerate(splices), key=lambda pair: (pair[1].start, pair[1].end, pair[0]))
    out: List[str] = []
    position = 0
    for _, splice in ordered:
        if splice.start < position:
            raise YamlEditError(f"overlapping edits at offset {splice.start}")
        out.append(text[position : splice.start])
        out.append(splice.text)
        position = splice.end
    out.append(text[position:])
    return "".join(out)


def indent_of(line: str) -> int:
    """Number of leading spaces of a line."""
    return len(line) - len(line.lstrip(" "))


# --- scalars -----------------------------------------------------------------------------------------------

_PLAIN_SAFE = re.compile(r"^[^\s\-?:,\[\]{}#&*!|>'\"%@`][^\n]*$")


# Characters a YAML file may not hold raw, or that YAML reads as line breaks: always escaped.
_UNSAFE = re.compile("[\x7f-\x9f\u2028\u2029\ufeff\ud800-\udfff\ufffe\uffff]")


def quote(text: str) -> str:
    """A YAML double-quoted scalar for `text` (JSON escaping is valid YAML; non-ASCII stays readable)."""
    return _UNSAFE.sub(lambda match: f"\\u{ord(match.group()):04x}", json.dumps(text, ensure_ascii=False))


def render_text_value(text: str, indent: int) -> str:
    """Render a reply text as the value after `key: ` (a double-quoted line, or a literal block).

    Args:
        text: the reply text.
        indent: the column of the key; block content goes two spaces deeper.

    Returns:
        The value text, starting right after `key: ` and without the final newline.
    """
    lines = text.split("\n")
    body = lines[:-1] if text.endswith("\n") else lines
    blockable = (
        "\n" in text.rstrip("\n")
        and not text.endswith("\n\n")
        and not text.startswith((" ", "\n"))
        and all(line == line.rstrip() for line in body)
        and "\r" not in text
        and "\t" not in text
        and not _UNSAFE.search(text)
        and all(char >= " " for char in text.replace("\n", ""))
    )
    if not blockable:
        return quote(text)
    pad = " " * (indent + 2)
    header = "|" if text.endswith("\n") else "|-"
    return header + "".join("\n" + (pad + line if line else "") for line in body)


def example_text(raw: str) -> str:
    """The plain text of a training example (entity annotations replaced by their text)."""
    return _ENTITY_ANNOTATION.sub(lambda match: match.group("text"), raw)


# --- `examples: |` blocks of NLU files ---------------------------------------------------------------------


@dataclass
class ExampleLine:
    """One `- example` line of an examples block."""

    text: str
    line: int  # 1-based


@dataclass
class ExamplesBlock:
    """Where the lines of one `examples: |` block are in a file.

    `start` and `end` are 0-based line indexes of the content (end exclusive, trailing blank lines excluded);
    `indent` is the indentation of the `- ` lines.
    """

    header: int
    start: int
    end: int
    indent: int
    examples: List[ExampleLine]


def examples_block(lines: Sequence[str], header: int, key_column: int) -> ExamplesBlock:
    """Locate the content of a literal `examples: |` block.

    Args:
        lines: the file's lines (without line endings).
        header: 0-based index of the line holding `examples: |`.
        key_column: the column of the `examples` key; content lines are indented deeper.
    """
    index = header + 1
    last = header  # last non-blank content line
    while index < len(lines):
        line = lines[index]
        if line.strip() and indent_of(line) <= key_column:
            break
        if line.strip():
            last = index
        index += 1
    examples: List[ExampleLine] = []
    indent = key_column + 2
    for number in range(header + 1, last + 1):
        stripped = lines[number].strip()
        if not stripped:
            continue
        if not examples:
            indent = indent_of(lines[number])
        if stripped.startswith("-"):
            examples.append(ExampleLine(stripped[1:].strip(" \r\n"), number + 1))
    return ExamplesBlock(header=header, start=header + 1, end=last + 1, indent=indent, examples=examples)


def render_examples(examples: Sequence[str], indent: int, newline: str = "\n") -> str:
    """Render `- example` lines (each ending with `newline`)."""
    pad = " " * indent
    return "".join(f"{pad}- {example}{newline}" for example in examples)
