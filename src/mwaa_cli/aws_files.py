"""The user's AWS config and credentials files, read as botocore reads them and edited in
our own sections only.

botocore parses these files with :class:`configparser.RawConfigParser`: a header is any
line that, stripped, *starts* with ``[…]`` (``[profile prod] # main account`` is the section
``profile prod``), full-line comments start with ``#`` or ``;``, an indented line under an
option continues it (``s3 =`` blocks), and two sections of one name make every call fail
(``ConfigParseError``). :func:`sections` finds sections by the same rules, so an edit
replaces exactly the lines of our own sections - from the header to its last setting,
leaving a comment that introduces the next section where it is - and keeps every other byte
(line endings, comments, spacing, order). :func:`edit` does it under a lock, atomically, on
the file a symlink points to, and refuses - saying why - files it cannot edit safely:
unparseable, read-only, not a regular file.
"""

from __future__ import annotations

import configparser
import fcntl
import os
import re
import shlex
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from .errors import ConfigError

# configparser's own header pattern (RawConfigParser.SECTCRE), matched at the start only
_HEADER = re.compile(r"\[(?P<header>.+)\]")


class NotEditable(ConfigError):
    """An AWS file that cannot be edited safely; nothing was written."""


@dataclass(frozen=True)
class Section:
    header: str  # as configparser reads it: "profile prod", " spaced "
    start: int  # index of the header line
    end: int  # one past its last setting (trailing comments and blank lines are not its)


def split_lines(text: str) -> list[str]:
    """``text``'s lines, each with its own line ending (CRLF or LF kept as they are)."""
    lines = text.split("\n")
    last = lines.pop()
    return [line + "\n" for line in lines] + ([last] if last else [])


def sections(lines: list[str]) -> list[Section]:
    """The sections of an INI file's ``lines``, found as configparser finds them."""
    found: list[Section] = []
    header: str | None = None
    start = end = 0
    in_option = False
    indent_level = 0
    for index, line in enumerate(lines):
        value = line.strip()
        if not value or value[0] in "#;":
            continue  # a comment or a blank line: it belongs to no setting
        indent = len(line) - len(line.lstrip())
        if header is not None and in_option and indent > indent_level:
            end = index + 1  # a continuation line (a nested "s3 =" block, say)
            continue
        indent_level = indent
        match = _HEADER.match(value)
        if match:
            if header is not None:
                found.append(Section(header, start, end))
            header, start, end, in_option = match.group("header"), index, index + 1, False
        else:
            in_option = True
            end = index + 1
    if header is not None:
        found.append(Section(header, start, end))
    return found


def profile_of(header: str) -> str | None:
    """The profile a config file section configures, as botocore names it (``default``,
    ``profile NAME``), else None."""
    if header == "default":
        return "default"
    try:
        parts = shlex.split(header)
    except ValueError:
        return None
    return parts[1] if len(parts) == 2 and parts[0] == "profile" else None


def section_lines(lines: list[str], wanted: Callable[[str], bool]) -> list[str] | None:
    """The lines of the first section whose header ``wanted`` accepts (None: no such one)."""
    for section in sections(lines):
        if wanted(section.header):
            return lines[section.start : section.end]
    return None


def upsert(text: str, wanted: Callable[[str], bool], block: list[str]) -> str:
    """``text`` with the sections ``wanted`` accepts replaced by ``block`` (header first, no
    line endings), in place of the first of them, or appended; nothing else changes."""
    lines = split_lines(text)
    newline = "\r\n" if lines and lines[0].endswith("\r\n") else "\n"
    ours = [s for s in sections(lines) if wanted(s.header)]
    new = [line + newline for line in block]
    for section in reversed(ours[1:]):
        del lines[section.start : section.end]
    if ours:
        lines[ours[0].start : ours[0].end] = new
        return "".join(lines)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += newline
    if lines and lines[-1].strip():
        lines.append(newline)
    return "".join(lines + new)


def check_parses(text: str, path: Path) -> configparser.RawConfigParser:
    """``text`` parsed as botocore parses it; :class:`NotEditable` naming the problem."""
    parser = configparser.RawConfigParser()
    try:
        parser.read_string(text, source=str(path))
    except configparser.Error as exc:
        first = str(exc).splitlines()[0]
        raise NotEditable(
            f"{path} cannot be read as the AWS CLI and boto3 read it ({first}); mwaa-cli "
            "leaves it alone: fix it (or start with --no-profile)"
        ) from None
    return parser


@contextmanager
def _locked(folder: Path) -> Iterator[None]:
    """Every writer of this folder's AWS files, one at a time (the folder itself is the
    lock: nothing is left behind in ~/.aws)."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def check_editable(path: Path) -> Path:
    """The file to write for ``path`` - a symlink's target (dotfiles managers link
    ~/.aws/config) - or :class:`NotEditable` when an existing one is not a regular file,
    is read-only or cannot be parsed."""
    target = path.resolve() if path.is_symlink() else path
    if not target.exists():
        return target
    if not target.is_file():
        raise NotEditable(f"{path} is not a regular file; mwaa-cli leaves it alone")
    if not os.access(target, os.W_OK) or not target.stat().st_mode & 0o200:
        raise NotEditable(f"{path} is read-only; mwaa-cli leaves it alone")
    check_parses(target.read_bytes().decode("utf-8", "surrogateescape"), path)
    return target


def edit(path: Path, change: Callable[[str], str]) -> bool:
    """Apply ``change`` to the text of ``path`` (empty if missing) under a lock, and replace
    the file atomically if the text changed; True if it was written. The file keeps its
    mode (a new one is 0600)."""
    target = path.resolve() if path.is_symlink() else path
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    with _locked(target.parent):
        check_editable(path)  # again, under the lock
        try:
            raw = target.read_bytes()
        except FileNotFoundError:
            raw, mode = None, 0o600
        else:
            mode = target.stat().st_mode & 0o7777
        text = "" if raw is None else raw.decode("utf-8", "surrogateescape")
        new = change(text)
        check_parses(new, path)  # never write what botocore could not read
        if raw is not None and new == text:
            return False
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(new.encode("utf-8", "surrogateescape"))
                out.flush()
                os.fsync(out.fileno())
            os.chmod(tmp, mode)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    return True
