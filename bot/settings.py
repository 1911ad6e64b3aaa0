"""Load `settings.yml`, the one settings file of Frontline.

Each area validates its own section (the calendar, escalation, the desk, compliance) and raises
`SettingsError` with a message naming the key that is wrong.
"""

from __future__ import annotations

import functools
import logging
import os
import pathlib
from typing import Any, Dict, Mapping, Optional

import yaml

logger = logging.getLogger(__name__)


class SettingsError(ValueError):
    """A setting is missing or has a value Frontline cannot use."""


def repo_root() -> pathlib.Path:
    """Return the repository root (the folder holding `settings.yml` and `domain.yml`)."""
    return pathlib.Path(__file__).resolve().parent.parent


def var_dir() -> pathlib.Path:
    """Return the folder for runtime files (databases, reports), creating it when needed."""
    path = pathlib.Path(os.environ.get("FRONTLINE_VAR") or repo_root() / "var")
    path.mkdir(parents=True, exist_ok=True)
    return path


def settings_path() -> pathlib.Path:
    """Return the settings file in use: `FRONTLINE_SETTINGS` or `settings.yml` at the repo root."""
    return pathlib.Path(os.environ.get("FRONTLINE_SETTINGS") or repo_root() / "settings.yml")


@functools.lru_cache(maxsize=8)
def _load_cached(path: str, mtime: float) -> Dict[str, Any]:
    with open(path, encoding="utf-8") as handle:
        data = yaml.safe_load(handle)
    if not isinstance(data, dict):
        raise SettingsError(f"{path}: the settings file must hold a mapping of sections")
    return data


def load_settings(path: Optional[os.PathLike | str] = None) -> Dict[str, Any]:
    """Read the settings file (cached until the file changes).

    Args:
        path: a settings file to read instead of the default one.

    Returns:
        The settings as a dict of sections. Callers must not mutate it.

    Raises:
        SettingsError: the file is missing or is not a YAML mapping.
    """
    target = pathlib.Path(path) if path else settings_path()
    try:
        mtime = target.stat().st_mtime
    except FileNotFoundError as error:
        raise SettingsError(f"settings file not found: {target}") from error
    try:
        return _load_cached(str(target), mtime)
    except yaml.YAMLError as error:
        raise SettingsError(f"{target}: not valid YAML: {error}") from error


def section(name: str, path: Optional[os.PathLike | str] = None) -> Dict[str, Any]:
    """Return one section of the settings, or raise `SettingsError` naming it when it is missing."""
    settings = load_settings(path)
    value = settings.get(name)
    if not isinstance(value, dict):
        raise SettingsError(f"{settings_path() if not path else path}: section '{name}' is missing")
    return value


# The endpoints file of development (`make run`); any other one is a production layout.
DEVELOPMENT_ENDPOINTS = "endpoints.yml"


def production_mode(environ: Optional[Mapping[str, str]] = None) -> bool:
    """Whether this is a production deployment rather than a developer's `make run`.

    The one definition every part uses (the demo page and its identity minting exist only outside it).
    Production mode is either sign of a real deployment:

    - `FRONTLINE_ENDPOINTS` names an endpoints file other than the development `endpoints.yml` (for example
      `endpoints.prod.yml`: PostgreSQL, Redis, RabbitMQ);
    - `DATABASE_URL` points the desk at PostgreSQL.

    Args:
        environ: the environment to read (default: this process's).

    Returns:
        True in production mode.
    """
    env = os.environ if environ is None else environ
    endpoints = (env.get("FRONTLINE_ENDPOINTS") or "").strip()
    if endpoints and pathlib.Path(endpoints).name != DEVELOPMENT_ENDPOINTS:
        return True
    database = (env.get("DATABASE_URL") or "").strip().lower()
    return database.startswith(("postgresql:", "postgresql+", "postgres:"))
