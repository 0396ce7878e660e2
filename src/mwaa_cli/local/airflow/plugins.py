"""A user's plugins (a folder or ``plugins.zip``), put where MWAA puts them: the Airflow
home's ``plugins/`` folder, replaced as a whole at each start."""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path, PurePosixPath


class PluginsError(ValueError):
    """The plugins cannot be used (the message says why)."""


def sync(source: Path, target: Path) -> list[str]:
    """Replace ``target``'s contents with ``source`` (a folder or a zip); warnings to show."""
    warnings: list[str] = []
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    if source.is_dir():
        shutil.copytree(source, target, dirs_exist_ok=True)
        names = [str(p.relative_to(source)) for p in source.rglob("*")]
    elif zipfile.is_zipfile(source):
        with zipfile.ZipFile(source) as archive:
            names = archive.namelist()
            for name in names:
                path = PurePosixPath(name)
                if path.is_absolute() or ".." in path.parts:
                    raise PluginsError(f"{source}: '{name}' would land outside plugins/")
            archive.extractall(target)
    else:
        raise PluginsError(f"{source} is neither a folder nor a zip file")
    tops = {PurePosixPath(n).parts[0] for n in names if n and not n.startswith("__MACOSX")}
    if tops == {"plugins"} and any(n.endswith(".py") for n in names):
        warnings.append(
            f"{source} has everything inside a top-level plugins/ folder: on MWAA its modules "
            "import as plugins.<module> (zip from inside the folder: cd plugins; zip -r "
            "../plugins.zip .)"
        )
    return warnings
