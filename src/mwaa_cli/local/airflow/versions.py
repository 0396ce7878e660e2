"""The Airflow versions MWAA offers, and what a local runtime of each is made of.

Pins (``pins/airflow-X.Y.Z.txt``) are Apache Airflow's own constraints for the version
where they were published, and otherwise resolved the same way - Airflow plus the
providers MWAA preinstalls - against PyPI as it was a few days after the release
(``uv pip compile --exclude-newer``; ``scripts/pin_runtime.sh``). Python is MWAA's for the
version: 3.11 up to 2.10.x, 3.12 after.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from ...errors import ConfigError

# what MWAA installs beside Airflow in every environment (at the pinned versions)
PREINSTALLED = (
    "apache-airflow-providers-amazon[aiobotocore]",
    "apache-airflow-providers-http",
    "apache-airflow-providers-postgres",
    "apache-airflow-providers-celery",  # MWAA runs CeleryExecutor on SQS
    "celery[sqs]",
    "pycurl==7.49.0",  # kombu's SQS transport; not in Airflow's constraints
    "graphviz",  # without it Airflow prints a warning on stdout: -o json would not parse
)


@dataclass(frozen=True)
class AirflowVersion:
    version: str
    python: str  # MWAA's Python for it
    pins_source: str  # "constraints" (Airflow's own) or "resolved"

    @property
    def major(self) -> int:
        return int(self.version.split(".")[0])

    @property
    def key(self) -> tuple[int, ...]:
        return tuple(int(p) for p in self.version.split("."))

    @property
    def pins(self) -> Path:
        return Path(str(resources.files(__package__).joinpath(f"pins/airflow-{self.version}.txt")))


# newest first: MWAA's user guide, "Apache Airflow versions on Amazon MWAA"
VERSIONS = {
    v.version: v
    for v in (
        AirflowVersion("3.3.1", "3.12", "constraints"),
        AirflowVersion("3.2.1", "3.12", "resolved"),
        AirflowVersion("3.0.6", "3.12", "constraints"),
        AirflowVersion("2.11.2", "3.12", "constraints"),
        AirflowVersion("2.11.0", "3.12", "resolved"),
        AirflowVersion("2.10.3", "3.11", "constraints"),
        AirflowVersion("2.10.1", "3.11", "resolved"),
        AirflowVersion("2.9.2", "3.11", "resolved"),
    )
}
DEFAULT = "3.3.1"
LATEST_2 = "2.11.2"  # MWAA upgrades 2.x to 3.x only from the latest 2.11


def lookup(version: str) -> AirflowVersion:
    """The version MWAA offers, or a clear error listing the ones it does."""
    try:
        return VERSIONS[version]
    except KeyError:
        raise ConfigError(
            f"Apache Airflow {version!r} is not a version MWAA offers; choose one of "
            f"{', '.join(VERSIONS)}"
        ) from None


def upgrade_problem(old: str, new: str) -> str | None:
    """Why an environment's DB migrated for ``old`` cannot move to ``new`` (MWAA's rules),
    or None: minor upgrades in place, 2.x to 3.x only from the latest 2.11, no downgrades."""
    before, after = lookup(old), lookup(new)
    if after.key < before.key:
        return (
            f"the metadata DB of this environment was migrated for Airflow {old}; going back "
            f"to {new} is a downgrade, which needs a new home (--home DIR or another --name) "
            f"or the old version (--airflow-version {old})"
        )
    if before.major == 2 and after.major == 3 and old != LATEST_2:
        return (
            f"MWAA moves environments to Airflow 3 only from {LATEST_2}: upgrade this one to "
            f"{LATEST_2} first (--airflow-version {LATEST_2}), or start {new} in a new home"
        )
    return None
