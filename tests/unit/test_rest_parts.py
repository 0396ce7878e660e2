"""The REST helpers that need no server: Airflow's log payloads, trigger bodies, error lines,
`mwaa api`'s query and body options, InvokeRestApi's request validation."""

from __future__ import annotations

import click
import pytest

from mwaa_cli.cli.api import _body, _query
from mwaa_cli.client.rest import describe, list_key
from mwaa_cli.client.runs import render_log, trigger_body
from mwaa_cli.local.airflow_rest import InvalidRequest, encode_query, parse_call


def test_airflow_2_log_content_is_a_repr_of_host_text_pairs():
    content = "[('vm', '*** Found local files:\\n[2026-01-01] {x.py:1} INFO - hello\\n')]"
    assert render_log(content) == ["*** Found local files:", "[2026-01-01] {x.py:1} INFO - hello"]
    assert render_log("plain text\nsecond") == ["plain text", "second"]
    assert render_log("[(broken") == ["[(broken"]


def test_airflow_3_log_content_is_structured_events():
    content = [
        {"event": "::group::Log message source details", "sources": ["/x.log"]},
        {"timestamp": "2026-01-01T00:00:00Z", "level": "info", "event": "hello"},
        {
            "timestamp": "2026-01-01T00:00:01Z",
            "level": "error",
            "event": "Task failed with exception",
            "error_detail": [{"exc_type": "ValueError", "exc_value": "bad"}],
        },
        "a line that did not parse",
    ]
    assert render_log(content) == [
        "::group::Log message source details",
        "2026-01-01T00:00:00Z [info] hello",
        "2026-01-01T00:00:01Z [error] Task failed with exception",
        "  ValueError: bad",
        "a line that did not parse",
    ]


def test_trigger_body_per_major():
    assert trigger_body(3, None, None, None, None) == {"conf": {}, "logical_date": None}
    assert trigger_body(2, {"k": 1}, None, None, None) == {"conf": {"k": 1}}
    assert trigger_body(2, None, "2026-01-01T00:00:00Z", "r1", "n") == {
        "conf": {},
        "logical_date": "2026-01-01T00:00:00Z",
        "dag_run_id": "r1",
        "note": "n",
    }


def test_error_lines_from_airflow_bodies():
    assert describe({"title": "DAG not found", "detail": "no x"}) == "DAG not found: no x"
    assert describe({"detail": [{"loc": ["body"], "msg": "m"}]}) == '[{"loc":["body"],"msg":"m"}]'
    assert describe("<html>") == "<html>"
    assert list_key({"dags": [], "total_entries": 0}) == "dags"
    assert list_key({"dag_id": "x", "tags": []}) is None


def test_mwaa_api_query_and_body_options(tmp_path):
    assert _query(("limit=5", "state=a", "state=b", "x=")) == {
        "limit": "5",
        "state": ["a", "b"],
        "x": "",
    }
    with pytest.raises(click.UsageError):
        _query(("novalue",))
    assert _body('{"a": 1}') == {"a": 1}
    path = tmp_path / "b.json"
    path.write_text('{"b": 2}')
    assert _body(f"@{path}") == {"b": 2}
    for bad in ("[1]", "not json", "@/nonexistent/x.json"):
        with pytest.raises(click.UsageError):
            _body(bad)


def test_invoke_rest_api_request_validation():
    call = parse_call({"Path": "/dags", "Method": "GET", "Body": {"ignored": True}})
    assert call.body is None  # a GET carries no body
    assert parse_call({"Path": "/variables", "Method": "POST"}).body == {}
    assert encode_query({"a": [1, True, None], "b": 2.5}) == (
        ("a", "1"),
        ("a", "true"),
        ("b", "2.5"),
    )
    for doc in ([], {"Path": "/x"}, {"Method": "GET"}, {"Path": "", "Method": "GET"}):
        with pytest.raises(InvalidRequest):
            parse_call(doc)


def test_a_failed_tasks_tail_is_the_tasks_own_output_not_airflows_frames():
    from mwaa_cli.client.runs import task_tail

    log = [
        "[2025-01-01T00:00:00] {logging_mixin.py:190} INFO - loading 3 rows",
        "[2025-01-01T00:00:01] {taskinstance.py:3311} ERROR - Task failed with exception",
        "Traceback (most recent call last):",
        '  File "/usr/local/lib/python3.11/site-packages/airflow/models/taskinstance.py", line 767, in _execute_task',
        "    result = _execute_callable(context=context, **execute_callable_kwargs)",
        "             ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^",
        '  File "/usr/local/lib/python3.11/site-packages/airflow/operators/python.py", line 240, in execute',
        "    return_value = self.execute_callable()",
        '  File "/usr/local/airflow/dags/etl.py", line 12, in load',
        '    raise ValueError("row 3 is empty")',
        "ValueError: row 3 is empty",
    ]
    tail = task_tail(log, 20)
    assert not [line for line in tail if "site-packages" in line or "_execute_callable" in line]
    assert tail[-3:] == [
        '  File "/usr/local/airflow/dags/etl.py", line 12, in load',
        '    raise ValueError("row 3 is empty")',
        "ValueError: row 3 is empty",
    ]
    assert "loading 3 rows" in tail[0]
    assert task_tail(log, 2) == tail[-2:]
