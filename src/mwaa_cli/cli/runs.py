"""``mwaa trigger`` and ``mwaa logs``: DAG runs and task logs through the REST API."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import click

from ..errors import ExitStatus, MwaaError, RequestTimeout
from .options import client_for, connection_options, one_env
from .present import Spinner

TAIL = 20  # log lines shown for each failed task


def _conf(text: str | None) -> dict | None:
    """``--conf JSON`` or ``--conf @FILE``: a JSON object."""
    if text is None:
        return None
    if text.startswith("@"):
        try:
            text = Path(text[1:]).read_text()
        except OSError as exc:
            raise click.UsageError(f"--conf {text}: {exc.strerror}") from None
    try:
        conf = json.loads(text)
    except ValueError as exc:
        raise click.UsageError(f"--conf: not JSON ({exc})") from None
    if not isinstance(conf, dict):
        raise click.UsageError("--conf: give a JSON object")
    return conf


def _major(client) -> int:
    return int(client.airflow_version().split(".")[0])


def _stamp() -> str:
    return time.strftime("%H:%M:%S")


@click.command()
@click.argument("dag_id")
@click.option("--conf", metavar="JSON|@FILE", help="the run's conf, a JSON object")
@click.option("--logical-date", metavar="ISO8601", help="the run's logical date [default: now]")
@click.option("--run-id", metavar="ID", help="the run's id [default: Airflow's]")
@click.option("--note", metavar="TEXT", help="a note on the run")
@click.option("--unpause", is_flag=True, help="unpause the DAG first (a paused DAG's run waits)")
@click.option("--wait", is_flag=True, help="follow the run until it ends; exit 1 if it failed")
@click.option("--poll", default=2.0, show_default=True, help="seconds between checks (--wait)")
@click.option("--wait-timeout", type=float, help="give up waiting after this many seconds")
@click.option("--json", "as_json", is_flag=True, help="print the run's record as JSON")
@connection_options
def trigger(
    dag_id: str,
    conf: str | None,
    logical_date: str | None,
    run_id: str | None,
    note: str | None,
    unpause: bool,
    wait: bool,
    poll: float,
    wait_timeout: float | None,
    as_json: bool,
    **connection,
) -> None:
    """Trigger DAG_ID through the REST API; with --wait, follow it live.

    \b
      mwaa trigger hello_mwaa --wait
      mwaa trigger etl_with_params --conf '{"rows": 5}' --wait --json

    With --wait: one line per task state change, the run's final state, and the log tail of
    each failed task; exit status 0 when the run succeeded, 1 when it failed, 75 when
    --wait-timeout passed first."""
    from ..client import runs

    settings = one_env(connection)
    with client_for(settings, connection) as client:
        with Spinner("triggering", stream=None):
            major = _major(client)
            if unpause:
                client.api("PATCH", f"/dags/{runs._q(dag_id)}", body={"is_paused": False})
            elif wait and runs.dag(client.api, dag_id).get("is_paused"):
                click.echo(
                    f"mwaa: warning: DAG {dag_id} is paused: its run waits until it is unpaused "
                    "(--unpause)",
                    err=True,
                )
            record = runs.trigger(
                client.api, major, dag_id, _conf(conf), logical_date, run_id, note
            )
        run = record["dag_run_id"]
        if not wait:
            click.echo(json.dumps(record, indent=2) if as_json else run)
            return
        click.echo(f"{_stamp()}  triggered {dag_id} run {run}", err=as_json)
        _follow_run(client, dag_id, run, poll, wait_timeout, as_json)


@click.command()
@click.argument("dag_id")
@click.argument("run_id")
@click.option("--poll", default=2.0, show_default=True, help="seconds between checks")
@click.option("--wait-timeout", type=float, help="give up waiting after this many seconds")
@click.option("--json", "as_json", is_flag=True, help="print the run's final record as JSON")
@connection_options
def wait(
    dag_id: str, run_id: str, poll: float, wait_timeout: float | None, as_json: bool, **connection
) -> None:
    """Follow run RUN_ID of DAG_ID until it ends, as `mwaa trigger --wait` does.

    \b
      mwaa wait hello_mwaa manual__2025-01-01T00:00:00+00:00

    Exit status 0 when the run succeeded, 1 when it failed, 75 when --wait-timeout passed
    first. A check that fails on the way (a 504, a restarting web server) is tried again."""
    settings = one_env(connection)
    with client_for(settings, connection) as client:
        _follow_run(client, dag_id, run_id, poll, wait_timeout, as_json)


def _transient(as_json: bool):
    def say(exc: Exception) -> None:
        click.echo(f"{_stamp()}  (no answer this time: {exc}; checking again)", err=True)

    return say


def _follow_run(
    client, dag_id: str, run: str, poll: float, wait_timeout: float | None, as_json: bool
) -> None:
    """Task state changes until the run ends, its final state, failed tasks' log tails; the
    exit status from the run's state."""
    from ..client import runs

    started = time.monotonic()
    final: dict[str, Any] = {}
    try:
        for change in runs.follow(
            client.api,
            dag_id,
            run,
            poll=poll,
            timeout=wait_timeout,
            on_transient=_transient(as_json),
        ):
            if isinstance(change, dict):
                final = change
                break
            where = change.task_id + (f"[{change.map_index}]" if change.map_index >= 0 else "")
            state = change.state or "none"
            attempt = f" (try {change.try_number})" if change.try_number > 1 else ""
            click.echo(f"{_stamp()}  {where:<30} {state}{attempt}", err=as_json)
    except TimeoutError as exc:
        raise RequestTimeout(
            f"{exc}; it goes on running (mwaa wait {dag_id} {run}, mwaa logs {dag_id} {run})"
        ) from None
    state = final.get("state")
    elapsed = time.monotonic() - started
    click.echo(f"{_stamp()}  run {run}: {state} ({elapsed:.0f} s)", err=as_json)
    if state != "success":
        _failed_tails(client, dag_id, run)
    if as_json:
        click.echo(json.dumps(final, indent=2))
    if state != "success":
        raise SystemExit(ExitStatus.COMMAND_FAILED)


def _failed_tails(client, dag_id: str, run: str) -> None:
    from ..client import runs

    for ti in runs.task_instances(client.api, dag_id, run):
        if ti.get("state") != "failed":
            continue
        try:
            lines, _ = runs.log_chunk(
                client.api,
                dag_id,
                run,
                ti["task_id"],
                int(ti.get("try_number") or 1),
                map_index=int(ti.get("map_index", -1)),
            )
        except MwaaError as exc:
            lines = [f"(its log could not be read: {exc})"]
        click.echo(f"--- {ti['task_id']} failed; the end of its log:", err=True)
        for line in runs.task_tail(lines, TAIL):
            click.echo(f"    {line}", err=True)


@click.command()
@click.argument("dag_id")
@click.argument("run_id")
@click.argument("task_id", required=False)
@click.option("--try", "try_number", type=int, help="the attempt [default: the latest]")
@click.option("--map-index", type=int, default=-1, help="a mapped task's index")
@click.option("--follow", "-f", is_flag=True, help="keep printing until the task ends")
@click.option("--poll", default=2.0, show_default=True, help="seconds between reads (--follow)")
@click.option("--json", "as_json", is_flag=True, help="print JSON: task, try and lines")
@connection_options
def logs(
    dag_id: str,
    run_id: str,
    task_id: str | None,
    try_number: int | None,
    map_index: int,
    follow: bool,
    poll: float,
    as_json: bool,
    **connection,
) -> None:
    """Print the logs of a run's tasks (TASK_ID: just that one) through the REST API - what
    you would otherwise dig out of CloudWatch."""
    from ..client import runs

    if follow and task_id is None:
        raise click.UsageError("--follow: name the task to follow")
    settings = one_env(connection)
    with client_for(settings, connection) as client:
        with Spinner("reading", stream=None):
            instances = runs.task_instances(client.api, dag_id, run_id)
        chosen = [
            ti
            for ti in instances
            if (task_id is None or ti["task_id"] == task_id)
            and (task_id is None or int(ti.get("map_index", -1)) == map_index)
        ]
        if task_id is not None and not chosen:
            have = ", ".join(sorted({ti["task_id"] for ti in instances})) or "none"
            click.echo(
                f"mwaa: error: run {run_id} of {dag_id} has no task {task_id} (its tasks: {have})",
                err=True,
            )
            raise SystemExit(ExitStatus.COMMAND_FAILED)
        documents = []
        for ti in chosen:
            if follow and not try_number and not int(ti.get("try_number") or 0):
                ti = _started(client, dag_id, run_id, ti, poll)
            attempt = try_number or int(ti.get("try_number") or 0)
            header = f"=== {ti['task_id']} (try {attempt}, {ti.get('state') or 'not run'})"
            if attempt == 0:
                documents.append({"task_id": ti["task_id"], "try_number": 0, "lines": []})
                if not as_json:
                    click.echo(f"{header}: not started, no log yet")
                continue
            if not as_json:
                click.echo(header)
            lines, token = runs.log_chunk(
                client.api,
                dag_id,
                run_id,
                ti["task_id"],
                attempt,
                map_index=ti.get("map_index", -1),
            )
            _emit(lines, as_json)
            while follow and token:  # no token: Airflow has sent the whole log
                state = runs.retrying(
                    lambda: runs.task_instances(client.api, dag_id, run_id),
                    poll=poll,
                    on_transient=_transient(as_json),
                )
                done = next((t.get("state") for t in state if t["task_id"] == ti["task_id"]), None)
                time.sleep(poll)
                more, token = runs.retrying(
                    lambda ti=ti, token=token, attempt=attempt: runs.log_chunk(
                        client.api,
                        dag_id,
                        run_id,
                        ti["task_id"],
                        attempt,
                        token,
                        ti.get("map_index", -1),
                    ),
                    poll=poll,
                    on_transient=_transient(as_json),
                )
                _emit(more, as_json)
                lines += more
                if done in runs.FINISHED_TASK and not more:
                    break
            documents.append({"task_id": ti["task_id"], "try_number": attempt, "lines": lines})
        if as_json:
            click.echo(json.dumps(documents, indent=2))


def _started(client, dag_id: str, run_id: str, ti: dict, poll: float) -> dict:
    """``ti`` once its first try has started (--follow of a task not run yet)."""
    from ..client import runs

    click.echo(f"mwaa: waiting for {ti['task_id']} to start …", err=True)
    while True:
        time.sleep(poll)
        found = runs.retrying(
            lambda: runs.task_instances(client.api, dag_id, run_id),
            poll=poll,
            on_transient=_transient(False),
        )
        for now in found:
            same = now["task_id"] == ti["task_id"] and int(now.get("map_index", -1)) == int(
                ti.get("map_index", -1)
            )
            if same and (int(now.get("try_number") or 0) or now.get("state") in runs.FINISHED_TASK):
                return now


def _emit(lines: list[str], as_json: bool) -> None:
    if as_json:
        return
    for line in lines:
        click.echo(line)
    sys.stdout.flush()
