"""Output helpers on real Airflow output: noise filtering, JSON envelopes, the spinner, and
the exit-code rule for replies without an exit code."""

from __future__ import annotations

import base64
import io
import json
import time

import pytest

from mwaa_cli.cli.present import Spinner, envelope, filter_noise
from mwaa_cli.client import Result
from mwaa_cli.exit_codes import infer_exit_code

# stderr as Airflow 2.x on MWAA writes it, and stdout as Airflow 3.3.1 writes it
WARNING = (
    b"/usr/local/airflow/.local/lib/python3.11/site-packages/airflow/configuration.py:859: "
    b"DeprecationWarning: The sql_alchemy_conn option in [core] has been moved to the "
    b"sql_alchemy_conn option in [database]\n"
    b"  option = self._get_environment_variables(deprecated_key, deprecated_section, key)\n"
)
CLASSIC_INFO = b"[2024-05-01T10:00:00.000+0000] {dagbag.py:545} INFO - Filling up the DagBag from /usr/local/airflow/dags\n"
STRUCTLOG_INFO = b"2026-11-25T19:30:45.633826Z [info     ] DAG bundles loaded: dags-folder [airflow.dag_processing.bundles.manager.DagBundlesManager] loc=manager.py:304\n"
CLASSIC_ERROR = b"[2024-05-01T10:00:01.000+0000] {cli.py:12} ERROR - could not load plugin\n"
STRUCTLOG_ERROR = b"2026-11-25T19:30:45.633826Z [error    ] Failed to import: /dags/x.py [airflow.models.dagbag.DagBag]\n"
TRACEBACK = b'Traceback (most recent call last):\n  File "/usr/bin/airflow", line 8, in <module>\nairflow.exceptions.AirflowException: boom\n'


def test_filter_noise_keeps_errors_and_output():
    stderr = (
        WARNING + CLASSIC_INFO + b"Variable k does not exist.\n" + STRUCTLOG_INFO + CLASSIC_ERROR
    )
    assert filter_noise(stderr) == b"Variable k does not exist.\n" + CLASSIC_ERROR
    stdout = STRUCTLOG_INFO + b'[{"dag_id": "x"}]\n'
    assert json.loads(filter_noise(stdout)) == [{"dag_id": "x"}]
    assert filter_noise(TRACEBACK) == TRACEBACK


@pytest.mark.parametrize(
    ("stderr", "default", "strict", "lenient"),
    [
        (b"", 0, 0, 0),
        (WARNING + CLASSIC_INFO, 0, 0, 0),
        (STRUCTLOG_INFO, 0, 0, 0),
        (TRACEBACK, 1, 1, 1),
        (b"Variable nope does not exist.\n", 1, 1, 0),
        (b"DAG: nope does not exist in 'dag' table\n", 1, 1, 0),
        (b"airflow dags: error: argument GROUP_NAME: invalid choice: 'lst'\n", 2, 2, 2),
        (
            b"\nairflow command error: unrecognized arguments: --bogus-flag, see help above.\n",
            2,
            2,
            2,
        ),
        (CLASSIC_ERROR, 0, 1, 0),
        (STRUCTLOG_ERROR, 0, 1, 0),
    ],
)
def test_exit_code_rule(stderr, default, strict, lenient):
    assert infer_exit_code(stderr) == default
    assert infer_exit_code(stderr, "strict") == strict
    assert infer_exit_code(stderr, "lenient") == lenient


def test_envelope_is_lossless():
    result = Result("prod", ("dags", "list"), b"out\n", b"\xff\xfe", 1, False, 0.25)
    doc = envelope("prod", ["dags", "list"], result=result)
    assert doc["environment"] == "prod" and doc["command"] == ["dags", "list"]
    assert (doc["exit_code"], doc["duration_ms"], doc["stdout"]) == (1, 250, "out\n")
    assert doc["encoding"]["stderr"] == "base64"
    assert base64.b64decode(doc["stderr"]) == b"\xff\xfe"
    assert doc["error"] is None
    plain = envelope("p", ["v"], result=Result("p", ("v",), b"a", b"b", 0, True, 0))
    assert "encoding" not in plain


def test_one_envelope_shape_for_results_errors_and_previews():
    from mwaa_cli.errors import ConnectError, ExitStatus

    ran = envelope("p", ["v"], result=Result("p", ("v",), b"a", b"b", 0, True, 0))
    failed = envelope("p", ["v"], error=ConnectError("cannot reach it"))
    preview = envelope("p", ["v"], request={"method": "POST"})
    assert set(ran) == set(failed) == set(preview)
    assert failed["exit_code"] == ExitStatus.UNREACHABLE
    assert failed["error"] == "ConnectError: cannot reach it"
    assert preview["request"] == {"method": "POST"} and preview["exit_code"] == 0


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_spinner_shows_on_a_terminal_after_the_delay_and_clears():
    stream = Tty()
    with Spinner("dags list", stream, delay=0.05) as spinner:
        time.sleep(0.4)
    text = stream.getvalue()
    assert spinner.shown and "dags list" in text and text.endswith("\r\x1b[2K")
    quick = Tty()
    with Spinner("x", quick, delay=0.5):
        pass
    assert quick.getvalue() == ""  # fast commands: no spinner
    plain = io.StringIO()
    with Spinner("x", plain, delay=0):
        time.sleep(0.2)
    assert plain.getvalue() == ""  # not a terminal: never


def test_spinner_can_be_disabled():
    stream = Tty()
    with Spinner("x", stream, delay=0, enabled=False):
        time.sleep(0.2)
    assert stream.getvalue() == ""
