"""List every option of every allowlisted command from a real Airflow parser, marking those
that may read or write files or load code (the review recorded in data/commands.json).

Run it with the interpreter of the Airflow to review, from the repository root:
    ~/.local/share/mwaa-cli/runtimes/airflow-3.3.1/bin/python scripts/review_flags.py   # Airflow 3
    ~/.local/share/mwaa-cli/runtimes/airflow-2.10.3/bin/python scripts/review_flags.py  # Airflow 2
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

SUSPECT = ("file", "path", "dir", "save", "module", "import", "load", "plugin", "cfg", "export")


def subparser(parser: argparse.ArgumentParser, word: str) -> argparse.ArgumentParser | None:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action.choices.get(word)
    return None


def main() -> None:
    from airflow import __version__
    from airflow.cli import cli_parser

    data = json.loads(Path("src/mwaa_cli/data/commands.json").read_text())
    major = __version__.split(".")[0]
    root = cli_parser.get_parser()
    print(f"Airflow {__version__}: options of MWAA's {major}.x allowlist ('!' = review it)")
    for command in sorted(data[major]["commands"]):
        parser: argparse.ArgumentParser | None = root
        for word in command.split():
            parser = subparser(parser, word) if parser else None
        if parser is None:
            print(f"{command}: not in this Airflow version")
            continue
        for action in parser._actions:
            names = "/".join(action.option_strings) or action.dest
            text = f"{names} {action.dest} {action.help or ''}".lower()
            mark = "!" if any(word in text for word in SUSPECT) else " "
            print(f"{mark} {command:28} {names:32} {(action.help or '')[:60]}")


if __name__ == "__main__":
    main()
