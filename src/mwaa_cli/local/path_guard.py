"""Keep path options of CLI commands inside the environment's DAGs folder.

On MWAA a command runs in a throwaway web-server container; here it runs on the user's
machine, so an option that imports Python from a path (``-S/--subdir``) may only name a
path in the DAGs folder. Paths are resolved as Airflow resolves them (``DAGS_FOLDER``
placeholder, ``~``, relative to the command's working directory), then through symlinks.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

from ..commands import Allowlist
from ..errors import CommandNotAllowed


def dags_folder_guard(allowlist: Allowlist, dags: Path) -> Callable[[str, Sequence[str]], None]:
    """A check for :class:`~mwaa_cli.local.api.LocalApp`: raises :class:`CommandNotAllowed`
    when ``argv`` points a path option outside ``dags``."""
    root = os.path.realpath(dags)

    def check(command: str, argv: Sequence[str]) -> None:
        for value in allowlist.dags_folder_paths(command, argv):
            raw = value.replace("DAGS_FOLDER", str(dags))
            path = os.path.realpath(os.path.join(os.getcwd(), os.path.expanduser(raw)))
            if not value or (path != root and not path.startswith(root + os.sep)):
                raise CommandNotAllowed(
                    f"'{command}': -S/--subdir must name a path inside the DAGs folder "
                    f"({dags}); {value!r} is outside it"
                )

    return check
