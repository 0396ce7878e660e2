"""DAG runs and task logs through Airflow's REST API (InvokeRestApi): trigger, follow a run's
task states, read a task's log - the same calls on Airflow 2 (``/api/v1``) and 3
(``/api/v2``), whose payloads differ in small ways handled here."""

from __future__ import annotations

import ast
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from ..errors import ConnectError, RequestTimeout, ServerBusy, ServerError
from .rest import RestReply, RestServerError

Api = Callable[..., RestReply]  # Client.api
FINISHED_RUN = ("success", "failed")
# what a poll may meet while the run goes on: a 5xx or 504 from Airflow or InvokeRestApi, a
# busy or restarting web server, a dropped connection - read again, do not give up
TRANSIENT = (RestServerError, RequestTimeout, ConnectError, ServerBusy, ServerError)
PATIENCE = 600.0  # seconds of failed reads in a row tolerated without --wait-timeout
FINISHED_TASK = ("success", "failed", "skipped", "upstream_failed", "removed")


def _q(part: str) -> str:
    return quote(part, safe="")


def trigger_body(
    major: int, conf: dict | None, logical_date: str | None, run_id: str | None, note: str | None
) -> dict:
    """The trigger endpoint's body: Airflow 3 requires ``logical_date`` (null: now)."""
    body: dict[str, Any] = {"conf": conf or {}}
    if major >= 3 or logical_date is not None:
        body["logical_date"] = logical_date
    if run_id is not None:
        body["dag_run_id"] = run_id
    if note is not None:
        body["note"] = note
    return body


def trigger(
    api: Api,
    major: int,
    dag_id: str,
    conf: dict | None = None,
    logical_date: str | None = None,
    run_id: str | None = None,
    note: str | None = None,
) -> dict:
    """Create a DAG run; its record (``dag_run_id``, ``state``…)."""
    body = trigger_body(major, conf, logical_date, run_id, note)
    return api("POST", f"/dags/{_q(dag_id)}/dagRuns", body=body).body


def dag(api: Api, dag_id: str) -> dict:
    return api("GET", f"/dags/{_q(dag_id)}").body


def dag_run(api: Api, dag_id: str, run_id: str) -> dict:
    return api("GET", f"/dags/{_q(dag_id)}/dagRuns/{_q(run_id)}").body


def task_instances(api: Api, dag_id: str, run_id: str) -> list[dict]:
    reply = api("GET", f"/dags/{_q(dag_id)}/dagRuns/{_q(run_id)}/taskInstances", paginate=True).body
    return list(reply.get("task_instances", []))


@dataclass(frozen=True)
class TaskChange:
    """A task instance seen in a new state (``state`` None: not scheduled yet)."""

    task_id: str
    map_index: int
    state: str | None
    try_number: int


def follow(
    api: Api,
    dag_id: str,
    run_id: str,
    *,
    poll: float = 2.0,
    timeout: float | None = None,
    sleep: Callable[[float], None] = time.sleep,
    on_transient: Callable[[Exception], None] = lambda exc: None,
) -> Iterator[TaskChange | dict]:
    """Task state changes of a run as they happen, then the finished run's record (a dict).
    A read that fails transiently (:data:`TRANSIENT`) is reported to ``on_transient`` and
    tried again at the next poll; raises TimeoutError after ``timeout`` seconds, and the last
    transient error once reads have failed for ``PATIENCE`` seconds in a row."""
    seen: dict[tuple[str, int], tuple[str | None, int]] = {}
    deadline = None if timeout is None else time.monotonic() + timeout
    failing_since: float | None = None
    while True:
        try:
            run = dag_run(api, dag_id, run_id)
            instances = task_instances(api, dag_id, run_id)
        except TRANSIENT as exc:
            now = time.monotonic()
            failing_since = failing_since or now
            if deadline is not None and now >= deadline:
                raise TimeoutError(f"run {run_id}: no answer before {timeout:g} s ({exc})") from exc
            if deadline is None and now - failing_since >= PATIENCE:
                raise
            on_transient(exc)
            sleep(poll)
            continue
        failing_since = None
        for ti in instances:
            key = (ti["task_id"], int(ti.get("map_index", -1)))
            state = (ti.get("state"), int(ti.get("try_number") or 0))
            if seen.get(key) != state:
                seen[key] = state
                yield TaskChange(key[0], key[1], state[0], state[1])
        if run.get("state") in FINISHED_RUN:
            yield run
            return
        if deadline is not None and time.monotonic() >= deadline:
            raise TimeoutError(f"run {run_id} still {run.get('state')} after {timeout:g} s")
        sleep(poll)


def retrying(
    call: Callable[[], Any],
    *,
    poll: float,
    sleep: Callable[[float], None] = time.sleep,
    on_transient: Callable[[Exception], None] = lambda exc: None,
    patience: float = PATIENCE,
) -> Any:
    """``call()``, tried again after ``poll`` seconds while it fails transiently, for up to
    ``patience`` seconds (then its last error)."""
    started = time.monotonic()
    while True:
        try:
            return call()
        except TRANSIENT as exc:
            if time.monotonic() - started >= patience:
                raise
            on_transient(exc)
            sleep(poll)


def log_chunk(
    api: Api,
    dag_id: str,
    run_id: str,
    task_id: str,
    try_number: int,
    token: str | None = None,
    map_index: int = -1,
) -> tuple[list[str], str | None]:
    """The next lines of a task's log, and the token to ask for the ones after them."""
    query: dict[str, Any] = {}
    if token:
        query["token"] = token
    if map_index != -1:
        query["map_index"] = map_index
    path = (
        f"/dags/{_q(dag_id)}/dagRuns/{_q(run_id)}/taskInstances/{_q(task_id)}"
        f"/logs/{int(try_number)}"
    )
    body = api("GET", path, query).body
    if not isinstance(body, dict):
        return [str(body)], None
    return render_log(body.get("content")), body.get("continuation_token")


def render_log(content: Any) -> list[str]:
    """Log lines from either major's ``content``: Airflow 3's structured events, or Airflow
    2's text (a Python repr of ``[(host, text)]``)."""
    if content is None:
        return []
    if isinstance(content, str):
        text = content
        if content.startswith("[("):
            try:
                text = "".join(part[1] for part in ast.literal_eval(content))
            except (ValueError, SyntaxError, IndexError, TypeError):
                text = content
        return text.splitlines()
    lines = []
    for event in content:
        if isinstance(event, str):
            lines.append(event)
            continue
        text = str(event.get("event", ""))
        stamp, level = event.get("timestamp"), event.get("level")
        prefix = " ".join(
            p for p in (str(stamp) if stamp else "", f"[{level}]" if level else "") if p
        )
        lines.append(f"{prefix} {text}".strip())
        for detail in event.get("error_detail") or []:
            if isinstance(detail, dict):
                lines.append(f"  {detail.get('exc_type', '')}: {detail.get('exc_value', '')}")
    return lines


_FRAME = re.compile(r'^\s*File "(?P<path>[^"]+)", line \d+')


def task_tail(lines: list[str], count: int) -> list[str]:
    """The end of a failed task's log as its author wants it: traceback frames inside
    installed packages (Airflow's own machinery, which fills a failed task's last lines)
    left out with their source and caret lines; the task's own frames, output and the
    exception kept."""
    kept: list[str] = []
    index = 0
    while index < len(lines):
        line = lines[index]
        frame = _FRAME.match(line)
        index += 1
        if frame and ("site-packages" in frame["path"] or "dist-packages" in frame["path"]):
            indent = len(line) - len(line.lstrip())
            while (
                index < len(lines)
                and lines[index].strip()
                and len(lines[index]) - len(lines[index].lstrip()) > indent
                and not _FRAME.match(lines[index])
            ):
                index += 1  # the frame's source line and its ^~~ markers
            continue
        kept.append(line)
    return kept[-count:]
