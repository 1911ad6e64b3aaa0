"""Files: a folder copied file by file with its modes kept private, and the SHA-256 of every file a backup holds.

The e-mail attachments (`var/email-attachments/<thread>/<name>.bin`, encrypted) are files, not rows: their
backup is a copy of the folder, each file listed in the manifest with its SHA-256, so a restore finds a file
missing, changed or added before it writes anything. Folders are made 0700 and files 0600, as the channel makes
them (`bot.channels.email_threads`): the copy is as private as the original. Symbolic links and dot files (a
`rekey` in progress writes `.rekey-…` files) are not attachments and are left out.
"""

from __future__ import annotations

import hashlib
import os
import pathlib
import shutil
from typing import Dict, Iterator

CHUNK = 1024 * 1024
FOLDER_MODE, FILE_MODE = 0o700, 0o600


def sha256(path: pathlib.Path) -> str:
    """The hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _walk(folder: pathlib.Path) -> Iterator[pathlib.Path]:
    """The regular files under `folder` (sorted; no links, no dot files or folders)."""
    for path in sorted(folder.iterdir()):
        if path.name.startswith(".") or path.is_symlink():
            continue
        if path.is_dir():
            yield from _walk(path)
        elif path.is_file():
            yield path


def listing(folder: pathlib.Path) -> Dict[str, str]:
    """Each file under `folder` (its path relative to it, `/`-separated) and its SHA-256."""
    return {path.relative_to(folder).as_posix(): sha256(path) for path in _walk(folder)}


def _private_copy(source: pathlib.Path, target: pathlib.Path) -> None:
    target.parent.mkdir(mode=FOLDER_MODE, parents=True, exist_ok=True)
    descriptor = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    with os.fdopen(descriptor, "wb") as out, open(source, "rb") as handle:
        shutil.copyfileobj(handle, out, CHUNK)


def copy_folder(source: pathlib.Path, target: pathlib.Path) -> Dict[str, str]:
    """Copy the files under `source` into the new folder `target` (0700, files 0600); return the copies' listing
    (a file the channel is writing meanwhile is listed as copied: the listing is of the copy)."""
    target.mkdir(mode=FOLDER_MODE, parents=True)
    os.chmod(target, FOLDER_MODE)  # the umask may have narrowed it; never widened
    for path in _walk(source):
        copy = target / path.relative_to(source)
        _private_copy(path, copy)
        for folder in copy.relative_to(target).parents:
            os.chmod(target / folder, FOLDER_MODE)
    return listing(target)


def differences(folder: pathlib.Path, expected: Dict[str, str]) -> Dict[str, str]:
    """What differs between the files under `folder` and `expected` (path: SHA-256): each path and what is wrong
    (`missing`, `changed`, `not in the manifest`); empty when they are the same."""
    found = listing(folder) if folder.is_dir() else {}
    wrong = {name: "missing" for name in expected if name not in found}
    wrong.update({name: "changed" for name in expected if name in found and found[name] != expected[name]})
    wrong.update({name: "not in the manifest" for name in found if name not in expected})
    return dict(sorted(wrong.items()))


def restore_folder(source: pathlib.Path, target: pathlib.Path) -> Dict[str, str]:
    """Put the folder `source` in place of `target` (Frontline stopped): copied beside it, then swapped in, the old
    folder removed last; return the restored listing."""
    temporary = target.with_name(target.name + ".restoring")
    old = target.with_name(target.name + ".replaced")
    for leftover in (temporary, old):
        if leftover.exists():
            shutil.rmtree(leftover)
    target.parent.mkdir(parents=True, exist_ok=True)
    copy_folder(source, temporary)
    if target.exists():
        os.replace(target, old)
    os.replace(temporary, target)
    if old.exists():
        shutil.rmtree(old)
    return listing(target)
