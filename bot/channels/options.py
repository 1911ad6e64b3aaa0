"""Reading a channel's options from its `credentials.yml` section, with errors that name the key."""

from __future__ import annotations

from typing import Any, Callable, Dict, Optional, TypeVar

N = TypeVar("N", int, float)


def _number(credentials: Dict[str, Any], key: str, parse: Callable[[str], N], kind: str, where: str) -> Optional[N]:
    """The option parsed as a number; None when it is absent or empty.

    Raises:
        SettingsError: the value does not parse (`kind` says what it should be, e.g. "an integer").
    """
    from bot.settings import SettingsError

    value = credentials.get(key)
    if value is None or value == "":
        return None
    try:
        return parse(str(value).strip())
    except ValueError as error:
        raise SettingsError(f"{where}.{key} must be {kind}, not {value!r}") from error


def int_option(credentials: Dict[str, Any], key: str, default: int, minimum: int, where: str) -> int:
    """A whole-number option of a channel's `credentials.yml` section.

    Args:
        credentials: the channel's section.
        key: the option.
        default: the value when the option is absent or empty.
        minimum: the smallest value accepted.
        where: how messages name the section, e.g. `credentials.yml: bot.channels.rest.RestInput`.

    Raises:
        SettingsError: the value is not a whole number of at least `minimum`.
    """
    from bot.settings import SettingsError

    number = _number(credentials, key, int, "an integer", where)
    if number is None:
        return default
    if number < minimum:
        raise SettingsError(f"{where}.{key} must be at least {minimum}, not {number}")
    return number


def seconds_option(credentials: Dict[str, Any], key: str, default: float, limit: float, where: str, why: str) -> float:
    """A duration option in seconds, above 0 and at most `limit`.

    Args:
        credentials, key, default, where: as for `int_option`.
        limit: the largest value accepted.
        why: the reason for the limit, said in the error.

    Raises:
        SettingsError: the value is not a number above 0 and at most `limit`.
    """
    from bot.settings import SettingsError

    seconds = _number(credentials, key, float, "a number", where)
    if seconds is None:
        return default
    if not 0 < seconds <= limit:
        raise SettingsError(f"{where}.{key} must be > 0 and <= {limit} ({why}), not {seconds}")
    return seconds
