"""Putting a user's environment together, in MWAA's order: the Airflow runtime of the
version, the plugins, the startup script (before the requirements and before each
component), the requirements, the configuration options - then the Airflow home.

Failures of the user's parts are MWAA's kind of failure: logged, said loudly, and the
environment still starts (without the requirements that did not install; with what the
startup script exported before it failed).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ConfigError
from .airflow import config_options, plugins, requirements, startup
from .airflow.home import AirflowHome
from .airflow.runtime import Runtime, ensure
from .backends.celery import CeleryOptions

# what a failed requirements install adds to its message when the environment goes on
STARTED_WITHOUT = "; the environment started without them, as MWAA does"


@dataclass
class Spec:
    """What makes an environment the user's (the parts CreateEnvironment carries)."""

    airflow_version: str
    dags: Path
    requirements: Path | None = None
    plugins: Path | None = None
    startup_script: Path | None = None
    airflow_config: dict[str, str] = field(default_factory=dict)  # section.key -> value
    backend: str = "sqlite"  # or "celery" (local/backends)
    celery: CeleryOptions = field(default_factory=CeleryOptions)  # used when backend=celery


@dataclass
class Assembled:
    home: AirflowHome
    runtime: Runtime
    requirements: requirements.InstallResult | None = None
    startup: dict[str, startup.StartupResult] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # said in the banner
    problems: list[str] = field(default_factory=list)  # said loudly: what failed

    @property
    def error(self) -> str | None:
        return "; ".join(self.problems) if self.problems else None


def assemble(
    spec: Spec,
    root: Path,
    api_port: int,
    say: Callable[[str], None],
    components: list[str],
    backend: object = None,
) -> Assembled:
    """The Airflow home of ``spec`` at ``root``, ready for ``prepare()``; ``components``: the
    Airflow processes that will run (each gets the startup script's environment for its
    MWAA component name)."""
    env_options = config_options.to_environ(spec.airflow_config)  # refuses before any work
    runtime = ensure(spec.airflow_version, say=say)
    home = AirflowHome(
        root, spec.dags, runtime, api_port=api_port, config_options=env_options, backend=backend
    )
    done = Assembled(home, runtime)
    logs = root / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    if spec.plugins is not None:
        try:
            warnings = plugins.sync(spec.plugins, home.plugins_folder)
        except (plugins.PluginsError, OSError) as exc:
            raise ConfigError(str(exc)) from None
        done.notes.append(f"plugins from {spec.plugins}")
        for warning in warnings:
            say(f"WARNING: {warning}")
            done.notes.append(f"WARNING: {warning}")
    if spec.startup_script is not None:
        base = home.environ("cli")  # before its exports
        wanted = sorted({home.flavour.mwaa_component(c) for c in ["cli", *components]})
        for component in wanted:
            result = startup.run(spec.startup_script, component, base, logs / "startup.log")
            done.startup[component] = result
            home.startup_env[component] = result.exports
            if result.restored:
                say(
                    f"startup script ({component}): restored MWAA's reserved "
                    f"{', '.join(result.restored)}"
                )
            if not result.ok:
                done.problems.append(
                    f"the startup script {result.describe()} for {component} (see "
                    f"{logs / 'startup.log'})"
                )
        exported = sorted({k for r in done.startup.values() for k in r.exports})
        done.notes.append(
            f"startup script {spec.startup_script.name} ran for {', '.join(wanted)}"
            + (f"; exported {', '.join(exported)}" if exported else "")
        )
    if spec.requirements is not None:
        say(f"Installing {spec.requirements} on top of the runtime …")
        result = requirements.install(
            spec.requirements,
            runtime,
            root / "venv",
            logs / "requirements.log",
            extra_env=home.startup_env.get("webserver", {}),
        )
        done.requirements = result
        if result.ok and result.layer is not None:
            home.installation = result.layer
            done.notes.append(
                f"requirements {spec.requirements.name}: "
                + ("unchanged since the last start" if result.reused else result.summary)
            )
        else:
            done.problems.append(
                f"the requirements did not install: {result.summary}{STARTED_WITHOUT}"
            )
    if env_options:
        done.notes.append(
            "configuration " + ", ".join(f"{k}={v}" for k, v in spec.airflow_config.items())
        )
    for problem in done.problems:
        say(f"ERROR: {problem}")
    return done
