"""Private files: written atomically, readable by their owner only (0600)."""

from __future__ import annotations

import os
from pathlib import Path


def write_private(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data``, 0600 from the first byte, atomically (a reader sees
    the old file or the new one, never half of it). A symlink's target is replaced, not the
    link (dotfiles managers link ~/.aws/config)."""
    if path.is_symlink():
        path = path.resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def make_private_dir(path: Path) -> bool:
    """Create ``path`` and any missing parents as 0700; True if it was created, False if it
    existed (an existing folder is left as its owner set it)."""
    if path.is_dir():
        return False
    missing = []
    while not path.exists():
        missing.append(path)
        if path.parent == path:
            break
        path = path.parent
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=0o700)
        except FileExistsError:  # made meanwhile by someone else: leave it as it is
            continue
        os.chmod(folder, 0o700)  # whatever the umask
    return True
