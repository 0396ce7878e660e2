"""Which Airflow commands MWAA accepts: the allowlist as data plus small pure functions."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache

from .errors import CommandNotAllowed


@cache
def _data() -> dict:
    import os

    path = os.path.join(os.path.dirname(__file__), "data", "commands.json")
    try:
        with open(path, encoding="utf-8") as fh:  # a plain file when installed (~10 ms less)
            return json.load(fh)
    except OSError:  # imported from a zip: ask importlib
        from importlib import resources

        text = resources.files("mwaa_cli").joinpath("data/commands.json").read_text()
        return json.loads(text)


def _version_tuple(version: str) -> tuple[int, ...]:
    parts = []
    for piece in version.split(".")[:3]:
        digits = "".join(ch for ch in piece if ch.isdigit())
        parts.append(int(digits) if digits else 0)
    return tuple(parts)


@dataclass(frozen=True)
class Allowlist:
    """The commands (``"dags list"``, ``"version"``) one environment accepts."""

    commands: frozenset[str]
    forbidden_flags: dict[str, tuple[str, ...]] = field(default_factory=dict)
    major: int = 3  # the Airflow major version it is for
    dags_folder_flags: tuple[str, ...] = ()  # their value must be a path in the DAGs folder

    @classmethod
    def for_version(cls, airflow_version: str) -> Allowlist:
        """MWAA's documented list for an Airflow version such as ``"3.3.1"`` or ``"2.10.3"``."""
        data = _data()
        wanted = _version_tuple(airflow_version)
        major = str(wanted[0]) if wanted else "3"
        table = data.get(major) or data["3"]
        allowed = frozenset(
            name
            for name, min_version in table["commands"].items()
            if _version_tuple(min_version) <= wanted
        )
        flags = {k: tuple(v) for k, v in data["forbidden_flags"].items()}
        return cls(
            allowed,
            flags,
            int(major) if major in data else 3,
            tuple(data.get("dags_folder_flags", ())),
        )

    def with_overrides(self, allow: Sequence[str] = (), deny: Sequence[str] = ()) -> Allowlist:
        """This list plus ``allow`` minus ``deny`` (a config file's per-environment overrides)."""
        return Allowlist(
            (self.commands | set(allow)) - set(deny),
            self.forbidden_flags,
            self.major,
            self.dags_folder_flags,
        )

    def did_you_mean(self, argv: Sequence[str]) -> list[str]:
        """Allowed commands ``argv`` may have meant: its spelling in this Airflow version
        (``list_dags`` -> ``dags list``), then near misses (``dags lst``, ``dag list``,
        ``verison``) - the group word must be close too, so ``users list`` suggests nothing."""
        from difflib import SequenceMatcher

        from .translate import translate

        def like(a: str, b: str) -> float:
            return SequenceMatcher(None, a, b).ratio()

        hints = []
        translated, _ = translate(argv, self.major)
        if translated != list(argv):
            hints.append(" ".join(translated))
        head = argv[0].replace("_", "-")
        sub = argv[1] if len(argv) > 1 and not argv[1].startswith("-") else ""
        scored = []
        for command in self.commands:
            group, _, name = command.partition(" ")
            if not name:
                score = like(head, group)
            elif like(head, group) >= 0.8:
                # no subcommand given: any of the group's, its `list` first
                score = like(sub.replace("_", "-"), name) if sub else 0.6 + 0.1 * (name == "list")
            else:
                continue
            if score >= 0.6:
                scored.append((-score, command))
        hints += [c for _, c in sorted(scored) if c not in hints]
        return hints[:3]

    @property
    def groups(self) -> frozenset[str]:
        return frozenset(c.split(" ", 1)[0] for c in self.commands if " " in c)

    def command_of(self, argv: Sequence[str]) -> str:
        """The allowlist entry ``argv`` invokes; raise :class:`CommandNotAllowed` otherwise."""
        if not argv:
            raise CommandNotAllowed("empty command: give an Airflow command such as 'dags list'")
        head = argv[0]
        if head.startswith("-"):
            raise CommandNotAllowed(
                f"options before the command are not accepted: {head!r} (put the command first)"
            )
        if head in self.groups:
            if len(argv) < 2 or argv[1].startswith("-"):
                hint = self.did_you_mean(argv)[0]  # never empty: the group has subcommands
                raise CommandNotAllowed(f"'{head}' needs a subcommand; did you mean '{hint}'?")
            key = f"{head} {argv[1]}"
        else:
            key = head
        if key not in self.commands:
            hints = self.did_you_mean(argv)
            hint = f"; did you mean {' or '.join(repr(h) for h in hints)}?" if hints else ""
            raise CommandNotAllowed(f"'{key}' is not a command MWAA accepts{hint}")
        self._check_flags(key, argv[len(key.split(" ")) :])
        return key

    def _check_flags(self, key: str, rest: Sequence[str]) -> None:
        forbidden = self.forbidden_flags.get(key, ())
        if not forbidden:
            return
        for arg in rest:
            if arg == "--":
                break
            if arg.startswith("--"):
                name = arg.split("=", 1)[0]
                # argparse accepts unambiguous prefixes of long options (--sav for --save)
                hit = [f for f in forbidden if f.startswith("--") and f.startswith(name)]
                hit = hit if len(name) > 2 else []
            elif arg.startswith("-") and len(arg) > 1:
                # a cluster of short options: -vs FILE is -v -s FILE
                hit = [f for f in forbidden if len(f) == 2 and f[1] in arg[1:]]
            else:
                hit = []
            if hit:
                raise CommandNotAllowed(f"'{key} {hit[0]}' is not accepted by MWAA")

    def dags_folder_paths(self, key: str, argv: Sequence[str]) -> list[str]:
        """The values ``argv`` (a command ``key``) gives to options that load code from a
        path (``-S/--subdir``): the caller checks that each lies in the DAGs folder.
        Abbreviations, ``--opt=value``, ``-Svalue`` and short clusters (``-vS v``) count."""
        longs = [f for f in self.dags_folder_flags if f.startswith("--")]
        shorts = [f[1] for f in self.dags_folder_flags if len(f) == 2]
        rest = list(argv[len(key.split(" ")) :])
        values = []
        index = 0
        while index < len(rest):
            arg = rest[index]
            index += 1
            if arg == "--":
                break
            if arg.startswith("--"):
                name, eq, value = arg.partition("=")
                if len(name) > 2 and any(f.startswith(name) for f in longs):
                    if eq:
                        values.append(value)
                    elif index < len(rest):
                        values.append(rest[index])
                        index += 1
                    else:
                        values.append("")
            elif arg.startswith("-") and len(arg) > 1:
                for pos, letter in enumerate(arg[1:], 1):
                    if letter in shorts:
                        attached = arg[pos + 1 :]
                        if attached:
                            values.append(attached)
                        elif index < len(rest):
                            values.append(rest[index])
                            index += 1
                        else:
                            values.append("")
                        break
        return values
