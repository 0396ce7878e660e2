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


# Real Airflow 3.3.1 output (captured from a cold `airflow` with a plugin that fails to
# import): the error record and its traceback come with *every* command that loads plugins.
PLUGIN_TRACEBACK_3 = (
    b"2026-11-26T03:54:53.531958Z [error    ] Failed to import plugin /home/plugins/broken.py "
    b"[airflow._shared.plugins_manager.plugins_manager] loc=plugins_manager.py:261\n"
    b"Traceback (most recent call last):\n"
    b'  File "/x/airflow/_shared/plugins_manager/plugins_manager.py", line 254, in _load\n'
    b"    loader.exec_module(mod)\n"
    b'  File "<frozen importlib._bootstrap_external>", line 940, in exec_module\n'
    b'  File "/home/plugins/broken.py", line 1, in <module>\n'
    b"    import no_such_module_xyz\n"
    b"ModuleNotFoundError: No module named 'no_such_module_xyz'\n"
)
# Airflow 2.x (classic log layout), the same situation
PLUGIN_TRACEBACK_2 = (
    b"[2026-11-26T03:58:00.000+0000] {plugins_manager.py:264} ERROR - Failed to import plugin "
    b"/usr/local/airflow/plugins/broken.py\n"
    b"Traceback (most recent call last):\n"
    b'  File "/x/airflow/plugins_manager.py", line 256, in load_plugins_from_plugin_directory\n'
    b"    loader.exec_module(mod)\n"
    b"ModuleNotFoundError: No module named 'no_such_module_xyz'\n"
)
UNCAUGHT = (
    b"Traceback (most recent call last):\n"
    b'  File "/usr/bin/airflow", line 8, in <module>\n'
    b"    sys.exit(main())\n"
    b"airflow.exceptions.AirflowException: boom\n"
)


@pytest.mark.parametrize("logged", [PLUGIN_TRACEBACK_3, PLUGIN_TRACEBACK_2])
def test_a_logged_traceback_never_turns_a_success_into_a_failure(logged):
    for mode in ("default", "strict", "lenient"):
        assert infer_exit_code(logged, mode) == 0, mode
    # ... while a real failure after it is still seen
    assert infer_exit_code(logged + b"Variable nope does not exist.\n") == 1
    assert infer_exit_code(logged + UNCAUGHT, "lenient") == 1
    chained = logged.replace(
        b"ModuleNotFoundError",
        b"KeyError: 'x'\n\nDuring handling of the above exception, another exception occurred:"
        b'\n\nTraceback (most recent call last):\n  File "y", line 1, in z\nModuleNotFoundError',
    )
    assert infer_exit_code(chained) == 0


@pytest.mark.parametrize(
    "stderr",
    [
        b"Expecting value: line 1 column 1 (char 0)\n",  # variables get K -j, not JSON (3.3.1)
        b"A connection with `conn_id`=c1 already exists.\n",  # connections add, twice (3.3.1)
        b"Must supply either conn-uri or conn-json if not supplying conn-type\n",  # (3.3.1)
    ],
)
def test_the_three_failures_the_rule_used_to_miss(stderr):
    assert infer_exit_code(stderr) == 1


def test_strict_reads_stdout_where_airflow_3_logs_and_ignores_environment_records():
    error_on_stdout = (
        b"2026-11-26T03:54:49.764012Z [error    ] Task failed to import "
        b"[airflow.models.dagbag.DagBag] loc=dagbag.py:1\n"
    )
    assert infer_exit_code(b"", "strict", stdout=error_on_stdout) == 1
    assert infer_exit_code(b"", "default", stdout=error_on_stdout) == 0
    assert infer_exit_code(PLUGIN_TRACEBACK_3, "strict", stdout=b"[]\n") == 0
