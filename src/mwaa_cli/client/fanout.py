"""One command on several environments at once."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..errors import MwaaError

if TYPE_CHECKING:
    from ..settings import EnvSettings
    from . import Client
    from .results import Preview, Result


@dataclass(frozen=True)
class EnvOutcome:
    """What one environment gave: a result, a preview (dry run) or an error."""

    environment: str  # as the user named it (the config file's alias, else the MWAA name)
    result: Result | None = None
    preview: Preview | None = None
    error: MwaaError | None = None


def run_on(
    environments: Sequence[EnvSettings],
    job: Callable[[Client], Result | Preview],
    make_client: Callable[[EnvSettings], Client],
) -> list[EnvOutcome]:
    """``job`` on a client for each environment, concurrently; outcomes in the given order.
    A failing environment does not stop the others."""
    from .results import Preview

    def one(settings: EnvSettings) -> EnvOutcome:
        name = settings.alias or settings.name or "?"
        try:
            with make_client(settings) as client:
                done = job(client)
        except MwaaError as exc:
            return EnvOutcome(name, error=exc)
        if isinstance(done, Preview):
            return EnvOutcome(name, preview=done)
        return EnvOutcome(name, result=done)

    if not environments:
        return []
    with ThreadPoolExecutor(max_workers=min(8, len(environments))) as pool:
        return list(pool.map(one, environments))
