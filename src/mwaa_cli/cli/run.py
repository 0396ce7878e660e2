"""``mwaa run``: one Airflow command on one environment, or on several at once."""

from __future__ import annotations

import json
import shlex
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import click

from ..errors import ConfirmationRequired, ExitStatus, MwaaError
from .options import (
    client_for,
    connection_options,
    note,
    resolve,
    shell_status,
    shown_name,
    without_name,
    write_bytes,
)

if TYPE_CHECKING:
    from ..client import Client, Prepared, Preview, Result
    from ..client.fanout import EnvOutcome
    from ..settings import EnvSettings


@dataclass(frozen=True)
class RunOptions:
    """How a command is prepared, sent and shown."""

    translate: bool = True
    force: bool = False
    filter_noise: bool = False
    inference: str = "default"  # "strict" | "lenient": for replies without an exit code
    as_json: bool = False
    dry_run: bool = False
    yes: bool = False  # confirmed up front (scripts)


def run_options(func: Callable) -> Callable:
    options = [
        click.option("--json", "as_json", is_flag=True, help="print a JSON envelope per command"),
        click.option(
            "--no-translate",
            "no_translate",
            is_flag=True,
            help="send old Airflow syntax (list_dags, dags backfill on 3.x) as typed",
        ),
        click.option(
            "--force",
            is_flag=True,
            help="skip the client-side allowlist check (the server still checks)",
        ),
        click.option(
            "--strict",
            "inference",
            flag_value="strict",
            help="without a reported exit code, an ERROR/CRITICAL log line of the command also "
            "means failure",
        ),
        click.option(
            "--lenient",
            "inference",
            flag_value="lenient",
            help="without a reported exit code, only a traceback or a usage error means failure",
        ),
        click.option(
            "--filter-noise",
            is_flag=True,
            help="drop Python warnings and DEBUG/INFO/WARNING log lines from the output",
        ),
        click.option(
            "--dry-run", is_flag=True, help="print the request that would be sent, token masked"
        ),
        click.option(
            "--yes",
            "-y",
            "yes",
            is_flag=True,
            help="confirm commands Airflow would ask about (dags delete, tasks clear, db clean) "
            "without asking",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def run_opts(opts: dict) -> RunOptions:
    return RunOptions(
        translate=not opts.pop("no_translate", False),
        force=opts.pop("force", False),
        filter_noise=opts.pop("filter_noise", False),
        inference=opts.pop("inference", None) or "default",
        as_json=opts.pop("as_json", False),
        dry_run=opts.pop("dry_run", False),
        yes=opts.pop("yes", False),
    )


# -- one command -------------------------------------------------------------------------


def confirm(client: Client, prepared: Prepared, ro: RunOptions, label: str = "") -> Prepared:
    """``prepared`` with ``--yes`` once the user agreed: asked on a terminal, ``--yes`` given
    up front, or refused (a script must say --yes itself)."""
    if prepared.confirm is None:
        return prepared
    if ro.yes:
        return prepared.confirmed()
    if not (sys.stdin.isatty() and sys.stderr.isatty()):
        raise ConfirmationRequired(
            f"{shlex.join(prepared.argv)} asks for confirmation ({prepared.confirm}); pass "
            "--yes to confirm it without a terminal: mwaa run --yes -- …"
        )
    question = prepared.confirm
    detail = _what_it_affects(client, prepared)
    if detail:
        question = question.replace(" on ", f" ({detail}) on ", 1)
    if not click.confirm(f"mwaa: {label}{question}", default=False, err=True):
        raise click.Abort()
    return prepared.confirmed()


def _what_it_affects(client: Client, prepared: Prepared) -> str:
    """For ``dags delete``: how many runs it deletes (a read-only look first)."""
    argv = list(prepared.argv)
    if argv[:2] != ["dags", "delete"] or len(argv) < 3:
        return ""
    from ..translate import translate

    dag = next((a for a in argv[2:] if not a.startswith("-")), None)
    if dag is None:
        return ""
    listing, _ = translate(["dags", "list-runs", "-d", dag, "-o", "json"], client.allowlist().major)
    try:
        result = client.run(listing)
        lines = result.stdout_text.splitlines()
        runs = json.loads(next((line for line in lines if line.startswith("[")), "[]"))
    except (MwaaError, ValueError):
        return ""
    return f"{len(runs)} run{'s' if len(runs) != 1 else ''}" if isinstance(runs, list) else ""


def execute(
    client: Client,
    args: Sequence[str],
    ro: RunOptions,
    label: str = "",
    spinner: bool = True,
    confirmed: bool = False,
) -> Result | Preview:
    """Prepare and run one command (or describe it, with ``dry_run``)."""
    from .present import Spinner

    prepared = client.prepare(args, translate=ro.translate, force=ro.force)
    for message in prepared.notes:
        note(f"{label}{message}")
    if prepared.confirm is not None:
        prepared = prepared.confirmed() if confirmed else confirm(client, prepared, ro, label)
    if ro.dry_run:
        return client.request_preview(prepared.argv)
    with Spinner(f"{label}{shlex.join(prepared.argv)}", enabled=spinner) as spin:

        def busy(delay: float, error: MwaaError) -> None:
            command = shlex.join(prepared.argv)
            spin.label = f"{label}{command}  (server busy: retrying in {delay:.1f} s)"

        return client.run(prepared.argv, infer=ro.inference, on_busy=busy)


def show(result: Result, ro: RunOptions) -> None:
    """Remote stdout to stdout, stderr to stderr (byte for byte unless --filter-noise)."""
    from .present import filter_noise

    out, err = result.stdout, result.stderr
    if ro.filter_noise:
        out, err = filter_noise(out), filter_noise(err)
    write_bytes(sys.stdout, out)
    write_bytes(sys.stderr, err)
    if result.exit_code < 0:
        import signal

        try:
            name = signal.Signals(-result.exit_code).name
        except ValueError:
            name = f"signal {-result.exit_code}"
        note(f"the remote command was killed by {name} (exit {shell_status(result.exit_code)})")


def json_record(environment: str, command: Sequence[str], outcome, ro: RunOptions) -> dict:
    """The ``--json`` envelope: one shape for a result, a preview and an error."""
    from .present import envelope, filter_noise

    if isinstance(outcome, MwaaError):
        return envelope(environment, command, error=outcome)
    if hasattr(outcome, "stdout"):
        stderr = filter_noise(outcome.stderr) if ro.filter_noise else None
        return envelope(environment, command, result=outcome, stderr=stderr)
    return envelope(environment, command, request=outcome.as_dict())


def show_preview(preview: Preview, ro: RunOptions) -> None:
    if ro.as_json:
        click.echo(json.dumps(preview.as_dict(), indent=2))
        return
    click.echo(f"{preview.method} {preview.url}")
    for key, value in preview.headers.items():
        click.echo(f"{key}: {value}")
    click.echo("")
    click.echo(preview.body)


# -- the command -----------------------------------------------------------------------------

# options of mwaa's that Airflow commands also use, so that after the command they are
# Airflow's: -e (dates), -y/--yes, --json (variables get)
_SHARED_WITH_AIRFLOW = {"-e", "-y", "--yes", "-h", "--help"}
_AIRFLOW_JSON = {"variables get"}


class AirflowCommand(click.Command):
    """A command whose arguments end with an Airflow command line.

    mwaa's own options go before the Airflow command (``mwaa run --json dags list``) or
    before ``--`` (``mwaa run --json -- dags list``); after the command, everything is
    Airflow's - and one of mwaa's own options there is an error with a hint, not something
    silently sent to Airflow.
    """

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        raw = list(args)
        rest = super().parse_args(ctx, args)
        airflow = list(ctx.params.get("args") or ())
        ctx.meta["mwaa.separated"] = len(raw) > len(airflow) and raw[-len(airflow) - 1] == "--"
        if airflow and not ctx.meta["mwaa.separated"]:
            self._check_misplaced(ctx, airflow)
        return rest

    def _check_misplaced(self, ctx: click.Context, airflow: list[str]) -> None:
        ours = {
            name
            for param in self.params
            if isinstance(param, click.Option)
            for name in param.opts + param.secondary_opts
        }
        command = " ".join(airflow[:2])
        for arg in airflow[1:]:
            name = arg.split("=", 1)[0]
            if name not in ours or name in _SHARED_WITH_AIRFLOW:
                continue
            if name == "--json" and command in _AIRFLOW_JSON:
                continue
            raise click.UsageError(
                f"'{name}' comes after the Airflow command, where it belongs to Airflow: put "
                f"mwaa's options first (mwaa {ctx.info_name} {name} -- "
                f"{shlex.join(a for a in airflow if a != arg)}), or write it after "
                "'--' only if Airflow should get it",
                ctx,
            )


def targets(conn: dict, all_envs: bool) -> list[EnvSettings]:
    """The environments a command goes to: --env a,b,c, --all, or the one default."""
    import dataclasses

    selector = conn.get("env")
    if all_envs:
        if selector:
            raise click.UsageError("--all and --env cannot be combined")
        from ..client import Client

        base = resolve(conn)
        names = Client.from_settings(without_name(base)).list_environment_names()
        if not names:
            raise click.UsageError("--all: no environments in this region")
        return [dataclasses.replace(base, name=n, alias=None) for n in names]
    if selector and "," in selector:
        names = [n.strip() for n in selector.split(",") if n.strip()]
        return [resolve(conn, env=n) for n in dict.fromkeys(names)]
    return [resolve(conn)]


def strip_airflow(args: Sequence[str]) -> list[str]:
    """One rule everywhere (run, batch, shell): a leading ``airflow`` is dropped."""
    args = list(args)
    return args[1:] if args and args[0] == "airflow" else args


def complete_airflow(ctx: click.Context, param: click.Parameter, incomplete: str) -> list:
    """Shell completion after ``mwaa run [--]``: the commands the environment's Airflow
    version accepts (from the config file or the cached version; never a network call)."""
    from ..commands import Allowlist

    try:
        words = [w for w in (ctx.params.get("args") or ()) if w != "--"]
        version = _offline_version(ctx.params)
        allowlist = Allowlist.for_version(version)
    except Exception:  # completion must never fail loudly
        return []
    if not words:
        options = sorted({c.split(" ")[0] for c in allowlist.commands})
    elif len(words) == 1 and words[0] in allowlist.groups:
        options = sorted(
            c.split(" ", 1)[1] for c in allowlist.commands if c.startswith(words[0] + " ")
        )
    else:
        return []
    return [click.shell_completion.CompletionItem(o) for o in options if o.startswith(incomplete)]


def _offline_version(params: dict) -> str:
    from ..client import Client
    from ..client.tokens import VersionCache
    from ..paths import state_dir

    settings = resolve(params)
    if settings.airflow_version:
        return settings.airflow_version
    client = Client.from_settings(settings)
    key = client._cache_key()
    cached = VersionCache(state_dir() / "cache").get(key) if key else None
    return cached or "3.99"  # unknown: the newest Airflow 3


@click.command(
    cls=AirflowCommand,
    context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False},
)
@connection_options(many=True)
@run_options
@click.option("--all", "all_envs", is_flag=True, help="run on every environment in the region")
@click.argument(
    "args", nargs=-1, type=click.UNPROCESSED, required=True, shell_complete=complete_airflow
)
def run(args: tuple[str, ...], all_envs: bool, **opts) -> None:
    """Run one Airflow CLI command remotely.

    \b
    mwaa run -- dags list -o json
    mwaa run --env prod,staging -- dags list-import-errors
    mwaa run --yes -- dags delete old_dag

    Remote stdout goes to stdout byte for byte, remote stderr to stderr; the exit code is
    the remote command's. Old syntax (list_dags, trigger_dag, variables -s) is translated
    for the environment's Airflow version, and the command is checked against its allowlist
    before anything is sent. Commands Airflow confirms interactively (dags delete,
    tasks clear, db clean) are confirmed here - on a terminal you are asked, a script
    passes --yes. mwaa's options go before the command (or before --).
    """
    ro = run_opts(opts)
    argv = strip_airflow(args)
    if not argv:
        raise click.UsageError("give an Airflow command, e.g. mwaa run -- dags list")
    envs = targets(opts, all_envs)
    if len(envs) > 1 or all_envs:
        raise SystemExit(run_many_envs(envs, argv, opts, ro))
    settings = envs[0]
    if ro.as_json:
        raise SystemExit(_run_json(settings, argv, opts, ro))
    with client_for(settings, opts) as client:
        outcome = execute(client, argv, ro)
    if not hasattr(outcome, "stdout"):
        show_preview(outcome, ro)  # type: ignore[arg-type]
        return
    show(outcome, ro)  # type: ignore[arg-type]
    raise SystemExit(shell_status(outcome.exit_code))  # type: ignore[union-attr]


def _run_json(settings: EnvSettings, argv: list[str], opts: dict, ro: RunOptions) -> int:
    """--json: the envelope on stdout whatever happened (errors included)."""
    name = settings.alias or settings.name or ""
    try:
        with client_for(settings, opts) as client:
            name = name or client.env
            outcome = execute(client, argv, ro)
    except MwaaError as exc:
        click.echo(json.dumps(json_record(name, argv, exc, ro)))
        click.echo(f"mwaa: error: {exc}", err=True)
        return int(exc.exit_status)
    click.echo(json.dumps(json_record(name, argv, outcome, ro)))
    return shell_status(outcome.exit_code) if hasattr(outcome, "exit_code") else 0


def run_many_envs(envs: list[EnvSettings], args: Sequence[str], conn: dict, ro: RunOptions) -> int:
    """One command on several environments at once; output grouped per environment."""
    from ..client.fanout import run_on
    from .present import Spinner

    confirmed = _confirm_many(envs, args, conn, ro)

    def job(client: Client):
        label = f"[{client.env}] "
        return execute(client, args, ro, label=label, spinner=False, confirmed=confirmed)

    label = f"{shlex.join(args)} on {len(envs)} environments"
    with Spinner(label):
        outcomes = run_on(envs, job, lambda s: client_for(s, conn))
    codes, docs = [], []
    for outcome in outcomes:
        codes.append(_show_outcome(outcome, args, ro, docs))
    if ro.as_json:
        click.echo(json.dumps(docs, indent=2))
    return max(codes)


def _confirm_many(envs: list[EnvSettings], args: Sequence[str], conn: dict, ro: RunOptions) -> bool:
    """A destructive command on several environments: one question naming them all."""
    if ro.yes or ro.dry_run:
        return ro.yes
    first = client_for(envs[0], conn)
    with first:
        prepared = first.prepare(args, translate=ro.translate, force=ro.force)
    if prepared.confirm is None:
        return False
    names = ", ".join(shown_name(s) for s in envs)
    question = prepared.confirm.rsplit(" on ", 1)[0] + f" on {len(envs)} environments: {names}?"
    if not (sys.stdin.isatty() and sys.stderr.isatty()):
        raise ConfirmationRequired(
            f"{shlex.join(args)} asks for confirmation ({question}); pass --yes to confirm it "
            "without a terminal"
        )
    if not click.confirm(f"mwaa: {question}", default=False, err=True):
        raise click.Abort()
    return True


def _show_outcome(outcome: EnvOutcome, args: Sequence[str], ro: RunOptions, docs: list) -> int:
    name = outcome.environment
    if outcome.error is not None:
        docs.append(json_record(name, args, outcome.error, ro))
        if not ro.as_json:
            click.echo(f"==> {name} <==")
        click.echo(f"mwaa: error: [{name}] {outcome.error}", err=True)
        return int(outcome.error.exit_status)
    if outcome.preview is not None:
        docs.append(json_record(name, args, outcome.preview, ro))
        if not ro.as_json:
            click.echo(f"==> {name} <==")
            show_preview(outcome.preview, ro)
        return 0
    result = outcome.result
    assert result is not None
    docs.append(json_record(name, result.command, result, ro))
    if not ro.as_json:
        click.echo(f"==> {name} <== (exit {result.exit_code})")
        show(result, ro)
    return shell_status(result.exit_code)


__all__ = ["ExitStatus", "RunOptions", "execute", "run", "run_options", "run_opts", "show"]
