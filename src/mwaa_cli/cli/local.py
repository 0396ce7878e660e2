"""``mwaa local serve``: the local MWAA-compatible environment."""

from __future__ import annotations

from pathlib import Path

import click

from .. import paths


@click.group()
def local() -> None:
    """The local MWAA-compatible environment (needs the 'local' extra)."""


@local.command()
@click.option("--name", default="local", show_default=True, help="environment name")
@click.option(
    "--dags",
    type=click.Path(file_okay=False, path_type=Path),
    help="DAGs folder [default: the bundled sample DAGs]",
)
@click.option(
    "--home",
    type=click.Path(file_okay=False, path_type=Path),
    help=f"state folder [default: ${paths.HOME_VAR}/local/NAME]",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="address to bind")
@click.option("--port", default=8780, show_default=True, help="endpoint port (0: any free)")
@click.option("--api-port", default=0, help="Airflow API server/UI port [default: a free one]")
@click.option("--region", default="us-east-1", show_default=True, help="region it reports")
@click.option(
    "--no-scheduler",
    is_flag=True,
    help="CLI only: no scheduler, DAG processor, triggerer or API server",
)
@click.option(
    "--command-timeout",
    default=300.0,
    show_default=True,
    help="seconds a CLI command may run before it is killed",
)
@click.option(
    "--concurrency",
    default=4,
    show_default=True,
    help="CLI commands run at once (MWAA: about 4); more wait in a queue",
)
@click.option(
    "--queue-size",
    default=64,
    show_default=True,
    help="CLI commands that may wait for a slot; more get 503 + Retry-After",
)
@click.option(
    "--queue-wait",
    default=60.0,
    show_default=True,
    help="seconds a CLI command may wait for a slot before it gets 503 + Retry-After",
)
@click.option(
    "--executor",
    type=click.Choice(["warm", "subprocess"]),
    default="warm",
    show_default=True,
    help="warm: fork each command from a pre-imported Airflow (fast); "
    "subprocess: a cold `airflow` process per command",
)
@click.option(
    "--output-limit",
    default=64,
    show_default=True,
    help="MiB a command may write to stdout or stderr; past it, it is stopped and its output "
    "cut with a marker",
)
@click.option(
    "--header-timeout",
    default=10.0,
    show_default=True,
    help="seconds a connection may take to send a request's headers",
)
@click.option(
    "--body-timeout",
    default=30.0,
    show_default=True,
    help="seconds a request's body may take to arrive",
)
@click.option("--token-ttl", default=60.0, show_default=True, help="CLI token lifetime, seconds")
@click.option(
    "--insecure-http",
    is_flag=True,
    help="serve plain HTTP instead of HTTPS with the environment's local CA",
)
@click.option(
    "--write-profile",
    metavar="PROFILE",
    help="the AWS profile that holds the endpoint, key pair and CA (in the AWS config and "
    "credentials files) [default: mwaa-local, or mwaa-local-NAME]",
)
@click.option(
    "--no-profile",
    is_flag=True,
    help="write no AWS profile: env.sh then exports the endpoint and key pair, which apply "
    "to every profile in a shell that sources it",
)
@click.option(
    "--airflow-version",
    metavar="X.Y.Z",
    help="the Apache Airflow version MWAA offers to run (see `mwaa local runtimes`) "
    "[default: the env file's, else the newest]",
)
@click.option(
    "--requirements",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="requirements.txt installed on top of the runtime, with MWAA's rules",
)
@click.option(
    "--plugins",
    type=click.Path(exists=True, path_type=Path),
    help="plugins folder or plugins.zip, unpacked into the Airflow home's plugins/",
)
@click.option(
    "--startup-script",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="startup.sh sourced by bash before the requirements and before each component",
)
@click.option(
    "--airflow-config",
    "airflow_config",
    multiple=True,
    metavar="SECTION.KEY=VALUE",
    help="an Airflow configuration option, as MWAA's AirflowConfigurationOptions "
    "(repeatable; @FILE reads a JSON object or KEY=VALUE lines)",
)
@click.option(
    "--env-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="the environment's definition [default: mwaa-local.toml here or beside --dags]",
)
@click.option(
    "--webserver-access-mode",
    type=click.Choice(["PUBLIC_ONLY", "PRIVATE_ONLY"]),
    default="PUBLIC_ONLY",
    show_default=True,
    help="the access mode GetEnvironment reports (rehearse a private environment)",
)
@click.option(
    "--rest-role",
    type=click.Choice(["Admin", "Op", "User", "Viewer", "Public", "none"]),
    default="Admin",
    show_default=True,
    help="the Airflow role InvokeRestApi calls run as (MWAA: the role the caller's IAM "
    "policy allows); none: AccessDeniedException, as without any role",
)
@click.option(
    "--rest-timeout",
    default=10.0,
    show_default=True,
    help="seconds an InvokeRestApi call may take (MWAA: 10)",
)
@click.option(
    "--rest-max-reply",
    default=6.0,
    show_default=True,
    help="MB an InvokeRestApi reply may hold (MWAA: 6)",
)
@click.option(
    "--ready-timeout",
    default=600.0,
    show_default=True,
    help="seconds every Airflow component gets to answer before the start fails",
)
@click.option(
    "--background",
    is_flag=True,
    help="run detached (output in HOME/serve.log); return once every component answers",
)
@click.option(
    "--backend",
    type=click.Choice(["sqlite", "celery"]),
    help="sqlite: SQLite + LocalExecutor, zero set-up; celery: Postgres + Celery workers "
    "that autoscale, as MWAA [default: the env file's, else sqlite]",
)
@click.option(
    "--environment-class",
    type=click.Choice(["mw1.micro", "mw1.small", "mw1.medium", "mw1.large", "mw1.xlarge",
                       "mw1.2xlarge"]),
    help="celery: tasks per worker as MWAA's class (3/5/10/20/40/80) [default: mw1.small]",
)  # fmt: skip
@click.option("--min-workers", type=click.IntRange(1), help="celery: workers always running [1]")
@click.option("--max-workers", type=click.IntRange(1), help="celery: most workers [10]")
@click.option("--schedulers", type=click.IntRange(1, 5), help="celery: schedulers to run [2]")
@click.option(
    "--db-url",
    help="celery: your Postgres (postgresql+psycopg2://…) instead of one the environment owns",
)
@click.option(
    "--broker-url",
    help="celery: your broker (sqs://, redis://, amqp://) instead of the owned SQS-compatible one",
)
@click.option(
    "--scale-down-after",
    type=click.FloatRange(0),
    help="celery: seconds with fewer tasks than workers before idle workers stop [120]",
)
@click.option("--exit-with-stdin", is_flag=True, hidden=True)  # a region's child
def serve(**opts) -> None:
    """Start a local environment in the foreground (Ctrl-C stops it), or with --background
    detached (`mwaa local stop NAME` stops it)."""
    if opts["background"]:
        _serve_in_background(opts)
        return
    try:
        from ..local.serve import ServeOptions
        from ..local.serve import serve as run_server
    except ImportError as exc:
        raise _needs_local_extra(exc) from exc
    from ..local.airflow.config_options import parse
    from ..local.definition import CELERY_KEYS

    options = ServeOptions(
        name=opts["name"],
        home=opts["home"],
        dags=opts["dags"],
        host=opts["host"],
        port=opts["port"],
        api_port=opts["api_port"],
        region=opts["region"],
        scheduler=not opts["no_scheduler"],
        command_timeout=opts["command_timeout"],
        concurrency=opts["concurrency"],
        queue_size=opts["queue_size"],
        queue_wait=opts["queue_wait"],
        output_limit=opts["output_limit"] * 1024 * 1024,
        header_timeout=opts["header_timeout"],
        body_timeout=opts["body_timeout"],
        token_ttl=opts["token_ttl"],
        executor=opts["executor"],
        tls=not opts["insecure_http"],
        write_profile=opts["write_profile"],
        profile=not opts["no_profile"],
        access_mode=opts["webserver_access_mode"],
        airflow_version=opts["airflow_version"],
        requirements=opts["requirements"],
        plugins=opts["plugins"],
        startup_script=opts["startup_script"],
        airflow_config=parse(opts["airflow_config"]),
        env_file=opts["env_file"],
        rest_role=None if opts["rest_role"] == "none" else opts["rest_role"],
        rest_timeout=opts["rest_timeout"],
        rest_max_reply=int(opts["rest_max_reply"] * 1024 * 1024),
        exit_with_stdin=opts["exit_with_stdin"],
        ready_timeout=opts["ready_timeout"],
        backend=opts["backend"],
        celery={
            key: opts[key] for key in (*CELERY_KEYS, "scale_down_after") if opts[key] is not None
        },
    )
    raise SystemExit(run_server(options, paths.state_dir()))


def _needs_local_extra(exc: ImportError) -> click.ClickException:
    return click.ClickException(
        f"the local environment needs the 'local' extra ({exc.name} is missing): "
        "pip install 'mwaa-cli[local]'"
    )


def _serve_in_background(opts: dict) -> None:
    try:
        from ..local import background
    except ImportError as exc:
        raise _needs_local_extra(exc) from exc
    import sys

    args = sys.argv[sys.argv.index("serve") + 1 :] if "serve" in sys.argv else []
    args = [a for a in args if a != "--background"]
    home = (opts["home"] or paths.state_dir() / "local" / opts["name"]).resolve()
    click.echo(
        f"starting '{opts['name']}' in the background (log: {home / 'serve.log'}) …", err=True
    )
    pid, banner = background.start(args, home)
    click.echo(banner)
    click.echo(
        f"\nRunning in the background (pid {pid}): `mwaa local stop {opts['name']}` stops it, "
        f"`mwaa local logs {opts['name']} -f` follows its output."
    )


@local.command()
@click.option(
    "--join",
    "endpoint",
    required=True,
    metavar="ENDPOINT",
    help="the Celery environment's endpoint (https://HOST:PORT, its AWS_ENDPOINT_URL_MWAA)",
)
@click.option("--env", "env_name", required=True, help="the environment's name")
@click.option(
    "--name",
    default=None,
    help="this worker's name in the environment [default: joined-<this host>]",
)
@click.option("--region", default="us-east-1", show_default=True, help="the region it reports")
@click.option("--profile", help="AWS profile with the environment's key pair")
def worker(endpoint: str, env_name: str, name: str | None, region: str, profile: str | None):
    """Run a Celery worker of a Celery environment on another machine: same Airflow,
    requirements, plugins, startup script and DAGs, fetched from ENDPOINT with the
    environment's key pair (SigV4); its tasks run here. Ctrl-C stops it (running tasks
    finish first)."""
    import socket

    try:
        from ..local.joining import Caller, JoinError, run_worker
    except ImportError as exc:
        raise _needs_local_extra(exc) from exc
    name = name or f"joined-{socket.gethostname().split('.')[0]}"
    root = paths.state_dir() / "workers" / env_name / name

    def say(message: str) -> None:
        click.echo(f"[mwaa worker] {message}", err=True)

    try:
        code = run_worker(Caller(endpoint, env_name, region, profile), name, root, say)
    except JoinError as exc:
        click.echo(f"mwaa: error: {exc}", err=True)
        raise SystemExit(exc.exit_status) from None
    raise SystemExit(code)


@local.command()
@click.argument("name", default="local")
@click.option("--home", type=click.Path(file_okay=False, path_type=Path), help="its state folder")
def stop(name: str, home: Path | None) -> None:
    """Stop the environment NAME started with `mwaa local serve` (--background or not)."""
    from ..local import background

    env = background.find(name, home)
    if env is None:
        raise click.ClickException(f"no local environment {name!r} here (mwaa local status)")
    pid = background.stop(env)
    if pid is None:
        click.echo(f"'{name}' is not running")
        return
    click.echo(f"stopped '{name}' (pid {pid})")


# -- runtimes ---------------------------------------------------------------------------------


@local.group(invoke_without_command=True)
@click.pass_context
def runtimes(ctx: click.Context) -> None:
    """The Airflow runtimes: one virtualenv per version, made on first use (list by
    default)."""
    if ctx.invoked_subcommand is None:
        ctx.invoke(runtimes_list)


@runtimes.command("list")
@click.option("--json", "as_json", is_flag=True, help="one JSON document")
def runtimes_list(as_json: bool) -> None:
    """Every version MWAA offers: installed or not, size, Python."""
    import json

    from ..local.airflow import runtime as rt
    from ..local.airflow.versions import VERSIONS

    rows = []
    for version, meta in VERSIONS.items():
        runtime = rt.runtime_for(version)
        ready = runtime.ready()
        rows.append(
            {
                "airflow_version": version,
                "installed": ready,
                "python": runtime.python_version if ready else None,
                "mwaa_python": meta.python,
                "size_bytes": runtime.size() if ready else None,
                "path": str(runtime.root) if ready else None,
            }
        )
    if as_json:
        click.echo(json.dumps({"runtimes_dir": str(rt.runtimes_dir()), "runtimes": rows}))
        return
    click.echo(f"Runtimes in {rt.runtimes_dir()}:")
    click.echo(f"  {'AIRFLOW':9} {'STATE':14} {'PYTHON':8} {'MWAA PYTHON':12} SIZE")
    for row in rows:
        python = row["python"] or "-"
        warn = " (!)" if row["python"] and not python.startswith(row["mwaa_python"]) else ""
        size = f"{row['size_bytes'] / 2**20:.0f} MiB" if row["installed"] else "-"
        state = "installed" if row["installed"] else "available"
        click.echo(
            f"  {row['airflow_version']:9} {state:14} {python + warn:8} "
            f"{row['mwaa_python']:12} {size}"
        )
    if any(r["python"] and not r["python"].startswith(r["mwaa_python"]) for r in rows):
        click.echo("(!) not the Python MWAA runs this version on")


@runtimes.command("install")
@click.argument("versions", nargs=-1, required=True, metavar="VERSION...")
def runtimes_install(versions: tuple[str, ...]) -> None:
    """Create the runtimes of these versions now (`all`: every one)."""
    from ..local.airflow import runtime as rt
    from ..local.airflow.versions import VERSIONS, lookup

    wanted: list[str] = []
    for version in versions:
        for one in VERSIONS if version == "all" else [lookup(version).version]:
            if one not in wanted:
                wanted.append(one)
    for version in wanted:
        runtime = rt.ensure(version, say=lambda line: click.echo(line, err=True))
        click.echo(f"Apache Airflow {version}: {runtime.root} (Python {runtime.python_version})")


@runtimes.command("remove")
@click.argument("versions", nargs=-1, required=True, metavar="VERSION...")
def runtimes_remove(versions: tuple[str, ...]) -> None:
    """Delete the runtimes of these versions (made again on their next use)."""
    from ..local.airflow import runtime as rt
    from ..local.airflow.versions import lookup

    for version in versions:
        lookup(version)
        state = "removed" if rt.remove(version) else "was not installed"
        click.echo(f"Apache Airflow {version}: {state}")


# -- checks, as AWS's local runner offers them -------------------------------------------------

_VERSION_OPTION = click.option(
    "--airflow-version",
    metavar="X.Y.Z",
    help="the Airflow version [default: the env file's, else the newest]",
)
_ENV_FILE_OPTION = click.option(
    "--env-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="the environment's definition [default: mwaa-local.toml here]",
)


def _definition(env_file: Path | None):
    from ..local.definition import find, load

    return load(find(env_file, None))


def _pick(given, definition, attribute: str, label: str):
    value = given or getattr(definition, attribute)
    if value is None:
        raise click.UsageError(f"give {label} (or set it in mwaa-local.toml)")
    return value


@local.command("test-requirements")
@click.argument(
    "requirements", required=False, type=click.Path(dir_okay=False, exists=True, path_type=Path)
)
@_VERSION_OPTION
@_ENV_FILE_OPTION
def test_requirements(requirements, airflow_version, env_file) -> None:
    """Install REQUIREMENTS as MWAA would, into a throwaway layer: exit 0 if it installs."""
    import tempfile

    from ..local.airflow import requirements as reqs
    from ..local.airflow.runtime import ensure
    from ..local.airflow.versions import DEFAULT

    definition = _definition(env_file)
    path = _pick(requirements, definition, "requirements", "REQUIREMENTS")
    version = airflow_version or definition.airflow_version or DEFAULT
    runtime = ensure(version, say=lambda line: click.echo(line, err=True))
    click.echo(f"Installing {path} on Apache Airflow {version} (Python {runtime.python_version}) …")
    with tempfile.TemporaryDirectory(prefix="mwaa-test-requirements-") as tmp:
        log = Path(tmp) / "requirements.log"
        result = reqs.install(path, runtime, Path(tmp) / "layer", log)
        text = log.read_text()
    for line in text.splitlines():
        if line.startswith("WARNING"):
            click.echo(line)
    if not result.ok:
        click.echo(_tail(text), err=True)
        click.echo(
            f"FAILED in {result.seconds:.0f} s: on MWAA the environment would start without "
            "these requirements (the error is in its requirements log)",
            err=True,
        )
        raise SystemExit(1)
    click.echo(f"OK: installed in {result.seconds:.1f} s")


@local.command("test-startup-script")
@click.argument(
    "script", required=False, type=click.Path(dir_okay=False, exists=True, path_type=Path)
)
@_VERSION_OPTION
@_ENV_FILE_OPTION
def test_startup_script(script, airflow_version, env_file) -> None:
    """Source SCRIPT as MWAA does for each component: its output, what it exports, what MWAA
    would restore; exit 1 if it fails for any component."""
    import shutil
    import tempfile

    from ..local.airflow import startup
    from ..local.airflow.home import AirflowHome, sample_dags_folder
    from ..local.airflow.runtime import runtime_for
    from ..local.airflow.versions import DEFAULT

    definition = _definition(env_file)
    path = _pick(script, definition, "startup_script", "SCRIPT")
    version = airflow_version or definition.airflow_version or DEFAULT
    failed = False
    tmp = Path(tempfile.mkdtemp(prefix="mwaa-test-startup-"))
    try:
        home = AirflowHome(tmp, sample_dags_folder(), runtime_for(version))
        base = home.environ("cli")
        for component in ("webserver", "scheduler", "worker"):
            log = tmp / f"{component}.log"
            result = startup.run(path, component, base, log)
            click.echo(f"--- {component}: {result.describe()} in {result.seconds:.1f} s")
            body = log.read_text().splitlines()[1:-1]
            for line in body:
                click.echo(f"  | {line}")
            for key, value in sorted(result.exports.items()):
                click.echo(f"  exports {key}={_masked(key, value)}")
            for key in result.restored:
                click.echo(f"  WARNING: {key} is reserved by MWAA: its value is restored")
            failed = failed or not result.ok
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if failed:
        click.echo(
            "FAILED: on MWAA the components would start anyway, with what the script "
            "exported before it failed",
            err=True,
        )
        raise SystemExit(1)
    click.echo("OK")


@local.command("package-requirements")
@click.argument(
    "requirements", required=False, type=click.Path(dir_okay=False, exists=True, path_type=Path)
)
@_VERSION_OPTION
@_ENV_FILE_OPTION
@click.option(
    "--arch",
    type=click.Choice(["x86_64", "aarch64"]),
    default="x86_64",
    show_default=True,
    help="the platform of the wheels (MWAA's workers)",
)
@click.option(
    "--plugins",
    type=click.Path(exists=True, path_type=Path),
    help="plugins folder or zip to include beside the wheels",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("mwaa-package"),
    show_default=True,
    help="where plugins.zip and requirements.txt go",
)
def package_requirements(requirements, airflow_version, env_file, arch, plugins, out) -> None:
    """Download REQUIREMENTS' wheels for MWAA's platform into plugins.zip, with a
    requirements.txt that installs them offline (for private web servers)."""
    from ..local.airflow.packaging import package
    from ..local.airflow.versions import DEFAULT, lookup

    definition = _definition(env_file)
    path = _pick(requirements, definition, "requirements", "REQUIREMENTS")
    version = airflow_version or definition.airflow_version or DEFAULT
    meta = lookup(version)
    click.echo(f"Downloading wheels for Python {meta.python}, manylinux {arch} …", err=True)
    done = package(path, version, out, arch=arch, plugins=plugins or definition.plugins)
    click.echo(f"{done.plugins_zip}: {len(done.wheels)} wheels")
    for name in done.wheels:
        click.echo(f"  {name}")
    click.echo(f"{done.requirements}: installs them from {out / 'plugins.zip'} offline")


def _tail(text: str, lines: int = 15) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def _masked(key: str, value: str) -> str:
    from ..masking import looks_secret

    return "***" if looks_secret(key) else value


# -- the region: many environments behind one endpoint, in the background ---------------------


def _bucket_option(values: tuple[str, ...]) -> dict[str, Path]:
    out = {}
    for value in values:
        name, sep, folder = value.partition("=")
        if not sep or not name or not folder:
            raise click.BadParameter(f"{value!r}: give NAME=DIR", param_hint="--bucket")
        if not Path(folder).expanduser().is_dir():
            raise click.BadParameter(f"{folder}: no such folder", param_hint="--bucket")
        out[name] = Path(folder).expanduser().resolve()
    return out


@local.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="address to bind")
@click.option("--port", default=8790, show_default=True, help="the region's endpoint port")
@click.option("--region", default="us-east-1", show_default=True, help="region it reports")
@click.option(
    "--bucket",
    "bucket",
    multiple=True,
    metavar="NAME=DIR",
    help="serve bucket NAME (SourceBucketArn arn:aws:s3:::NAME) from a local folder "
    "(repeatable); other buckets are read from S3 (AWS_ENDPOINT_URL_S3 for moto, MinIO …)",
)
@click.option(
    "--buckets",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    help="a folder whose subfolders are buckets",
)
@click.option(
    "--dag-sync-interval",
    default=30.0,
    show_default=True,
    help="seconds between syncs of each environment's DAGs from its bucket",
)
@click.option(
    "--write-profile",
    metavar="PROFILE",
    default="mwaa-local-region",
    show_default=True,
    help="the AWS profile that reaches the region",
)
@click.option("--no-profile", is_flag=True, help="write no AWS profile (source env.sh instead)")
@click.option(
    "--backend",
    type=click.Choice(["sqlite", "celery"]),
    default="sqlite",
    show_default=True,
    help="environments' backend: celery runs Postgres + Celery workers sized by "
    "EnvironmentClass/MinWorkers/MaxWorkers/Schedulers (the tag mwaa-local:backend picks "
    "per environment)",
)
@click.option("--foreground", is_flag=True, help="run in this terminal (Ctrl-C stops it)")
def up(
    host,
    port,
    region,
    bucket,
    buckets,
    dag_sync_interval,
    write_profile,
    no_profile,
    backend,
    foreground,
):
    """Start the local region in the background: CreateEnvironment, UpdateEnvironment,
    DeleteEnvironment and tags for any number of environments on one endpoint (environments
    that were running come back)."""
    from ..local.region import server

    options = server.RegionOptions(
        host=host,
        port=port,
        region=region,
        buckets=_bucket_option(bucket),
        buckets_root=buckets.resolve() if buckets else None,
        dag_sync_interval=dag_sync_interval,
        write_profile=None if no_profile else write_profile,
        backend=backend,
    )
    if foreground:
        raise SystemExit(server.run(options))
    click.echo("starting the local region …", err=True)
    started = server.start_background(options)
    _print_status(started, server.environments())


@local.command()
def down() -> None:
    """Stop the local region and every environment's processes (their state is kept)."""
    from ..local.region import server

    stopped = server.stop_background()
    if stopped is None:
        click.echo("the local region is not running")
        return
    click.echo(f"stopped the local region (pid {stopped.pid}, {stopped.endpoint})")


@local.command()
@click.option("--json", "as_json", is_flag=True, help="one JSON document")
def status(as_json: bool) -> None:
    """The local region: its endpoint and every environment's status."""
    import json

    from ..local import background
    from ..local.region import server

    current = server.state()
    envs = server.environments()
    served = background.serve_envs()
    if as_json:
        click.echo(
            json.dumps(
                {
                    "running": current.running,
                    "pid": current.pid,
                    "endpoint": current.endpoint,
                    "profile": current.profile,
                    "home": str(current.root),
                    "environments": envs,
                    "serve": [e.describe() for e in served],
                }
            )
        )
        return
    _print_status(current, envs)
    if served:
        click.echo("\nEnvironments of `mwaa local serve`:")
        click.echo(f"  {'NAME':20} {'STATE':10} {'PID':8} ENDPOINT")
        for env in served:
            state = "serving" if env.ready else ("starting" if env.running else "stopped")
            click.echo(
                f"  {env.name:20} {state:10} {env.pid or '-'!s:8} "
                f"{env.endpoint if env.running else '-'}"
            )
            described = env.describe()
            if env.running and (line := _workers_line(described["workers"])):
                click.echo(f"  {'':20} {line}")
            for worker, seen in (described["joined"] if env.running else {}).items():
                click.echo(f"  {'':20} joined worker {worker} from {seen['address']}")


def _print_status(current, envs: list[dict]) -> None:
    if current.running:
        click.echo(f"Local region: {current.endpoint} (pid {current.pid})")
        if current.profile:
            click.echo(f"  AWS profile: {current.profile}   or: source {current.root / 'env.sh'}")
    else:
        click.echo(
            f"Local region: not running ('mwaa local up' starts it; state in {current.root})"
        )
    if not envs:
        click.echo("  no environments (aws mwaa create-environment … creates one)")
        return
    click.echo(f"  {'NAME':20} {'STATUS':14} {'AIRFLOW':8} {'WEB SERVER':16} LAST UPDATE")
    for env in envs:
        last = env["last_update"]
        error = (last.get("Error") or {}).get("ErrorMessage", "")
        summary = last.get("Status", "-") + (f": {error.splitlines()[0][:60]}" if error else "")
        click.echo(
            f"  {env['name']:20} {env['status']:14} {env['airflow_version'] or '-':8} "
            f"{env['webserver']:16} {summary}"
        )
        if line := _workers_line(env.get("workers")):
            click.echo(f"  {'':20} {line}")


def _workers_line(status: dict | None) -> str:
    """A Celery environment's workers, as its autoscaler last wrote them."""
    if not status:
        return ""
    return (
        f"celery: workers {status['count']} ({status['min_workers']}-{status['max_workers']}, "
        f"{status['tasks_per_worker']} tasks each); {status['queued']} queued, "
        f"{status['running']} running"
    )


@local.command()
@click.argument("env", required=False)
@click.option("-n", "--lines", default=40, show_default=True, help="lines from the end")
@click.option("-f", "--follow", is_flag=True, help="keep printing what is appended")
def logs(env: str | None, lines: int, follow: bool) -> None:
    """The region's log, or environment ENV's (a region environment's, or one started with
    `mwaa local serve --background`: its server and Airflow components' output)."""
    import time

    from ..local.region import server

    root = server.region_root()
    path = root / "region.log" if env is None else root / "envs" / env / "serve.log"
    if env is not None and not path.is_file():  # an environment of `mwaa local serve`
        home = paths.state_dir() / "local" / env
        path = home / "serve.log"
        if home.is_dir() and not path.is_file():
            raise click.ClickException(
                f"'{env}' was started in a terminal: its output is there (Airflow's "
                f"components log to {home / 'logs'}); `mwaa local serve --background` keeps "
                "it in a file"
            )
    if not path.is_file():
        what = "the region has no log yet" if env is None else f"no environment {env!r}"
        raise click.ClickException(f"{what} ({path})")
    with open(path, errors="replace") as fh:
        for line in fh.readlines()[-lines:]:
            click.echo(line, nl=False)
        while follow:
            line = fh.readline()
            if line:
                click.echo(line, nl=False)
            else:
                time.sleep(0.5)
