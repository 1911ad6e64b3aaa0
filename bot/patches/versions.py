"""The version check every patch makes at import: an upgrade fails here, saying what to re-check.

A patch module pins its library once, at import (`PIN = pin("sanic", "==21.12.*", __name__, recheck=…)`), and
its installer checks the pin again (`PIN.check()`).
"""

from __future__ import annotations

import dataclasses
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


@dataclasses.dataclass(frozen=True)
class Pin:
    """The versions of a library a patch was written for, and what to re-read there before moving them on.

    Attributes:
        library: the library's name on PyPI, e.g. `sanic`.
        supported: the versions the patch was written for, as a PEP 440 specifier, e.g. `==21.12.*`.
        patch: the patch's module name, for the message.
        recheck: what in the library to read again before moving `supported` on.
    """

    library: str
    supported: str
    patch: str
    recheck: str

    def check(self) -> None:
        """Refuse to run the patch on a library version it was not written for.

        Raises:
            PatchVersionError: the installed version is not in `supported`, or the library is not installed.
        """
        version = installed(self.library)
        if version is not None and version in SpecifierSet(self.supported):
            return
        library, patch = self.library, self.patch
        found = f"{library} {version} is installed" if version else f"{library} is not installed"
        raise PatchVersionError(
            f"{patch} patches {library} internals and was written for {library} {self.supported}, but {found}. "
            f"Re-check {self.recheck}; then update or drop the patch and its version in {patch}."
        )


def pin(library: str, supported: str, patch: str, recheck: str) -> Pin:
    """Check a patch's library version now (a patch module calls this at import) and return the pin.

    Args:
        library: the library's name on PyPI.
        supported: the versions the patch was written for (PEP 440 specifier).
        patch: the patch's module name (`__name__`).
        recheck: what in the library to read again before moving `supported` on.

    Raises:
        PatchVersionError: see `Pin.check`.
    """
    found = Pin(library, supported, patch, recheck)
    found.check()
    return found
