"""Reading a channel's options from its `credentials.yml` section, with errors that name the key."""

from __future__ import annotations

from typing import Any, Dict


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

    value = credentials.get(key)
    if value is None or value == "":
        return default
    try:
        number = int(str(value).strip())
    except ValueError as error:
        raise SettingsError(f"{where}.{key} must be an integer, not {value!r}") from error
    if number < minimum:
        raise SettingsError(f"{where}.{key} must be at least {minimum}, not {number}")
    return number
