import pytest

from mwaa_cli.exit_codes import infer_exit_code


@pytest.mark.parametrize(
    "stderr,code",
    [
        (b"", 0),
        (b"/usr/lib/python3/site.py:1: FutureWarning: x is deprecated\n", 0),
        (b"[2025-01-01 00:00:00,000] {dagbag.py:1} INFO - Filling up the DagBag\n", 0),
        (b"Traceback (most recent call last):\n  File x\nValueError: boom\n", 1),
        (b"airflow.exceptions.AirflowException: Dag id x not found\n", 1),
        (b"airflow.exceptions.DagRunAlreadyExists: run exists\n", 1),
        (b"usage: airflow dags list [-h]\nairflow dags list: error: unrecognized arguments\n", 2),
        (b"usage: airflow [-h]\nairflow: error: invalid choice: 'x'\n", 2),
        (b"Error: Variable k does not exist\n", 1),
        (b"Variable nope does not exist.\n", 1),
        (b"Dag id missing not found in DagModel\n", 1),
    ],
)
def test_infer_exit_code(stderr, code):
    assert infer_exit_code(stderr) == code
