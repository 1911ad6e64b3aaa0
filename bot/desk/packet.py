"""The context packet as the desk takes it: checked against `docs/context-packet.schema.json` (jsonschema).

The schema is the one contract between the action server (which builds packets, `bot/handoff/context.py`)
and the desk, so the desk checks the whole packet with it rather than re-stating its rules. One difference,
by design: the grades the desk accepts are the keys of `escalation.grade_hours` in the settings (the schema
lists the default A, B, C). A refused packet is a 400 whose message names each wrong field, e.g.
`'grade' must be one of "A", "B", "C"` or `'anger_history[0]' must be a number`.

Beyond the schema, the packet's `channel` must be where its conversation lives: the namespace of its
`conversation_id` (`wechat:<OpenID>` is a `wechat` conversation, `bot.conversations`). The desk delivers agent
replies on that channel to that conversation, so a packet naming a WeChat follower's OpenID on another channel
(or a widget session on `wechat`) is refused with a 400 naming both.
"""

from __future__ import annotations

import copy
import functools
import json
import logging
from typing import Any, Callable, Dict, Iterable, List

import jsonschema
from jsonschema.exceptions import ValidationError

from bot.conversations import channel_of
from bot.desk.errors import DeskError
from bot.settings import repo_root

logger = logging.getLogger(__name__)

SCHEMA_FILE = ("docs", "context-packet.schema.json")
NOT_AN_OBJECT = "the body must be a JSON object (the context packet)"
# How many problems one 400 answer lists.
MAX_PROBLEMS = 5

_TYPE_WORDS = {
    "object": "an object",
    "array": "a list",
    "string": "a string",
    "number": "a number",
    "integer": "a whole number",
    "boolean": "true or false",
    "null": "null",
}
# The schema's patterns, in words.
_PATTERN_WORDS = {
    "\\S": "must not be blank",
    "^faq_": "must be an FAQ intent name (faq_…)",
}


@functools.lru_cache(maxsize=1)
def packet_schema() -> Dict[str, Any]:
    """The published schema (`docs/context-packet.schema.json`), read once and checked."""
    schema = json.loads(repo_root().joinpath(*SCHEMA_FILE).read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return schema


def field_name(path: Iterable[Any]) -> str:
    """`customer.language`, `anger_history[0]`: a JSON path as the error messages name it."""
    name = ""
    for part in path:
        if isinstance(part, int):
            name += f"[{part}]"
        else:
            name += f".{part}" if name else str(part)
    return name


def _types(expected: Any) -> str:
    names = expected if isinstance(expected, list) else [expected]
    return " or ".join(_TYPE_WORDS.get(str(n), str(n)) for n in names)


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


# What a field must be, in words, for each schema keyword it can fail (from the keyword's value).
_WORDING: Dict[str, Callable[[Any], str]] = {
    "type": lambda expected: f"must be {_types(expected)}",
    "enum": lambda expected: f"must be one of {', '.join(_json(v) for v in expected)}",
    "const": lambda expected: f"must be {_json(expected)}",
    "minLength": lambda expected: "must not be empty" if expected == 1 else f"must have at least {expected} characters",
    "maxLength": lambda expected: f"must have at most {expected} characters",
    "pattern": lambda expected: _PATTERN_WORDS.get(expected, f"must match {expected}"),
    "minimum": lambda expected: f"must be at least {expected}",
    "maximum": lambda expected: f"must be at most {expected}",
}


def describe(error: ValidationError) -> List[str]:
    """The problems one schema error stands for, each naming its field."""
    path = list(error.absolute_path)
    kind, expected = error.validator, error.validator_value
    if kind == "required":
        present = error.instance if isinstance(error.instance, dict) else {}
        return [f"'{field_name(path + [name])}' is missing" for name in expected if name not in present]
    if not path:
        return [NOT_AN_OBJECT] if kind == "type" else [f"the context packet: {error.message}"]
    field = f"'{field_name(path)}'"
    wording = _WORDING.get(kind)
    return [f"{field} {wording(expected)}" if wording else f"{field}: {error.message}"]


class PacketValidator:
    """Checks context packets against the schema, with the grades of the settings.

    Args:
        grades: the grades the desk accepts (`escalation.grade_hours`).
    """

    def __init__(self, grades: Iterable[str]) -> None:
        schema = copy.deepcopy(packet_schema())
        grade = schema["properties"]["grade"]
        grade["enum"] = sorted(grades)
        self._validator = jsonschema.Draft202012Validator(schema)

    def check(self, packet: Any) -> Dict[str, Any]:
        """Return the packet when it is valid.

        Raises:
            DeskError: 400 naming what is wrong (one problem per field, up to `MAX_PROBLEMS`, by field name).
        """
        if not isinstance(packet, dict):
            raise DeskError(400, NOT_AN_OBJECT)
        errors = sorted(
            self._validator.iter_errors(packet), key=lambda e: ([str(p) for p in e.absolute_path], e.validator)
        )
        problems: List[str] = []
        judged = set()  # one problem per field: "" is both too short and blank, say the first
        for error in errors:
            field = tuple(error.absolute_path)
            if error.validator != "required":
                if field in judged:
                    continue
                judged.add(field)
            # one `required` error comes per missing property, each listing all that are missing
            problems.extend(p for p in describe(error) if p not in problems)
        if problems:
            more = len(problems) - MAX_PROBLEMS
            message = "; ".join(problems[:MAX_PROBLEMS]) + (f" (and {more} more)" if more > 0 else "")
            raise DeskError(400, message)
        check_channel(packet["conversation_id"], packet["channel"])
        return packet


def check_channel(conversation_id: str, channel: str) -> None:
    """Nothing when `conversation_id` lives on `channel` (its namespace, `bot.conversations`).

    Raises:
        DeskError: 400 naming the channel and the conversation id (and where that id lives).
    """
    home = channel_of(conversation_id)
    if home != channel:
        where = f"a {home} conversation" if home else "an id no channel made (ids are <channel>:<id>)"
        raise DeskError(
            400, f"'channel' is {_json(channel)} but 'conversation_id' {_json(conversation_id)} is {where}"
        )
