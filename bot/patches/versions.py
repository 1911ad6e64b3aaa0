"""The version check every patch makes at import: an upgrade fails here, saying what to re-check."""

from __future__ import annotations

import importlib.metadata
import logging
from typing import Optional

from packaging.specifiers import SpecifierSet

logger = logging.getLogger(__name__)


class PatchVersionError(RuntimeError):
    """A patch meets a version of its library it was not written for.

    A RuntimeError, not an ImportError: Rasa loads configured classes (tracker stores, channels) catching
    ImportError and falls back to a default with a warning; this must stop the process instead.
    """


def installed(distribution: str) -> Optional[str]:
    """The installed version of a distribution (its name on PyPI), or None when it is not installed."""
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def require(distribution: str, supported: str, patch: str, recheck: str) -> None:
    """Refuse to run a patch on a library version it was not written for.

    Args:
        distribution: the library's name on PyPI, e.g. `sanic`.
        supported: the versions the patch was written for, as a PEP 440 specifier, e.g. `==21.12.*`.
        patch: the patch's module name, for the message.
        recheck: what in the library to read again before moving `supported` on.

    Raises:
        PatchVersionError: the installed version is not in `supported`, or the library is not installed.
    """
    version = installed(distribution)
    if version is not None and version in SpecifierSet(supported):
        return
    found = f"{distribution} {version} is installed" if version else f"{distribution} is not installed"
    raise PatchVersionError(
        f"{patch} patches {distribution} internals and was written for {distribution} {supported}, but {found}. "
        f"Re-check {recheck}; then update or drop the patch and its version in {patch}."
    )
