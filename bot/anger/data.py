"""Read labelled anger examples: TSV files with one `text<TAB>label` per line.

Blank lines are skipped, and so are comment lines: lines that start with `#` and hold no tab (a line with a tab
is always an example, so Weibo-style `#topic#` texts are kept). A line without a tab, with an empty text or an
empty label is an error that names the file and the line.
"""

from __future__ import annotations

import logging
import os
import pathlib
from typing import Iterable, List, Optional, Sequence, Tuple

logger = logging.getLogger(__name__)

Example = Tuple[str, str]


class DataError(ValueError):
    """A training or test file is missing or malformed."""


def read_tsv(path: os.PathLike | str, allowed_labels: Optional[Iterable[str]] = None) -> List[Example]:
    """Read one TSV file of `text<TAB>label` lines.

    Args:
        path: the file.
        allowed_labels: when given, any other label is an error.

    Returns:
        The examples in file order.

    Raises:
        DataError: the file is missing, not UTF-8, or a line is malformed.
    """
    target = pathlib.Path(path)
    allowed = set(allowed_labels) if allowed_labels is not None else None
    try:
        lines = target.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError as error:
        raise DataError(f"{target}: file not found") from error
    except IsADirectoryError as error:
        raise DataError(f"{target}: is a directory, expected a TSV file") from error
    except UnicodeDecodeError as error:
        raise DataError(f"{target}: not UTF-8 text") from error
    examples: List[Example] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip() or (line.startswith("#") and "\t" not in line):
            continue
        if "\t" not in line:
            raise DataError(f"{target}:{number}: expected 'text<TAB>label', found no tab")
        text, label = line.rsplit("\t", 1)
        text, label = text.strip(), label.strip()
        if not text or not label:
            raise DataError(f"{target}:{number}: empty text or label")
        if allowed is not None and label not in allowed:
            raise DataError(f"{target}:{number}: unknown label '{label}' (expected one of {sorted(allowed)})")
        examples.append((text, label))
    return examples


def read_training_files(
    location: os.PathLike | str, allowed_labels: Optional[Sequence[str]] = None
) -> List[Example]:
    """Read every `*.tsv` file under `location` (a folder, searched recursively, or one file).

    Raises:
        DataError: nothing to read, or a file is malformed.
    """
    target = pathlib.Path(location)
    if target.is_file():
        files = [target]
    elif target.is_dir():
        files = sorted(target.rglob("*.tsv"))
    else:
        raise DataError(f"{target}: no such file or folder of anger training data")
    if not files:
        raise DataError(f"{target}: no *.tsv files of anger training data")
    examples: List[Example] = []
    for file in files:
        examples.extend(read_tsv(file, allowed_labels))
    if not examples:
        raise DataError(f"{target}: the anger training files hold no examples")
    return examples
