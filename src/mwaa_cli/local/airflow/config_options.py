"""AirflowConfigurationOptions: ``section.key=value`` as MWAA takes them, and refuses them."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from pathlib import Path

from ...errors import ConfigError

KEY = re.compile(r"[a-z]+([a-z0-9._]*[a-z0-9_]+)?")  # MWAA's ConfigKey pattern
VALUE = re.compile(r"[ -~]+")  # printable ASCII, as MWAA's ConfigValue
# options MWAA sets itself and does not let users change (its essential settings)
BLOCKED = frozenset(
    {
        "core.executor", "core.sql_alchemy_conn", "database.sql_alchemy_conn",
        "core.load_examples", "core.fernet_key", "webserver.secret_key", "api.secret_key",
        "core.dags_folder", "core.plugins_folder", "core.auth_manager", "core.multi_team",
        "logging.logging_config_class", "logging.colored_console_log",
        "scheduler.standalone_dag_processor", "triggerer.queues_enabled",
        "execution_api.jwt_expiration_time", "api_auth.jwt_secret", "api.host", "api.port",
        "webserver.web_server_host", "webserver.web_server_port", "celery.broker_url",
        "celery.result_backend", "core.execution_api_server_url",
    }
)  # fmt: skip


def parse(items: Iterable[str]) -> dict[str, str]:
    """``section.key=value`` strings to options (the later of two wins); ``@FILE`` reads a
    JSON object (as ``aws mwaa create-environment --airflow-configuration-options
    file://…`` takes) or ``section.key=value`` lines (``#`` comments)."""
    options: dict[str, str] = {}
    for item in items:
        if item.startswith("@"):
            options.update(_read(Path(item[1:]).expanduser()))
            continue
        key, sep, value = item.partition("=")
        if not sep:
            raise ConfigError(f"--airflow-config {item!r}: give section.key=value")
        options[key.strip()] = value
    return options


def _read(path: Path) -> dict[str, str]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"--airflow-config @{path}: {exc.strerror}") from None
    if text.lstrip().startswith("{"):
        try:
            doc = json.loads(text)
        except ValueError as exc:
            raise ConfigError(f"--airflow-config @{path}: not valid JSON ({exc})") from None
        if not isinstance(doc, dict):
            raise ConfigError(f"--airflow-config @{path}: give a JSON object")
        return {str(k): str(v) for k, v in doc.items()}
    lines = [line.strip() for line in text.splitlines()]
    items = [line for line in lines if line and not line.startswith("#")]
    bad = [line for line in items if "=" not in line]
    if bad:
        raise ConfigError(f"--airflow-config @{path}: {bad[0]!r}: give section.key=value")
    return {k.strip(): v.strip() for k, _, v in (line.partition("=") for line in items)}


def to_environ(options: Mapping[str, str]) -> dict[str, str]:
    """Validated options as Airflow's ``AIRFLOW__SECTION__KEY`` variables."""
    env = {}
    for key, value in options.items():
        value = str(value)
        if not KEY.fullmatch(key) or "." not in key or len(key) > 64:
            raise ConfigError(
                f"Airflow configuration option {key!r}: MWAA takes section.key in lower case "
                "(e.g. core.default_timezone), at most 64 characters"
            )
        if key in BLOCKED:
            raise ConfigError(
                f"Airflow configuration option {key!r} is set by MWAA itself and cannot be "
                "changed (on MWAA as here)"
            )
        if not VALUE.fullmatch(value) or len(value) > 65536:
            raise ConfigError(
                f"Airflow configuration option {key!r}: the value must be 1 to 65536 printable "
                "ASCII characters"
            )
        section, _, name = key.partition(".")
        env[f"AIRFLOW__{section.upper()}__{name.upper().replace('.', '__')}"] = value
    return env
