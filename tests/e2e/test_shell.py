"""`mwaa shell` driven as a user would, in a pseudo-terminal (pexpect): prompt, commands,
translation, Tab completion of commands, DAG ids and variable keys, history across
sessions, errors, and leaving."""

from __future__ import annotations

import pexpect
import pytest

from .conftest import BIN

PROMPT = "local>"


@pytest.fixture
def shell_env(local_env):
    env = dict(local_env.aws_environ(), PROMPT_TOOLKIT_NO_CPR="1", TERM="xterm")
    assert local_env.mwaa("run", "--", "variables", "set", "shell_var_one", "1").returncode == 0
    return env


def spawn(env) -> pexpect.spawn:
    child = pexpect.spawn(
        str(BIN / "mwaa"), ["shell"], env=env, encoding="utf-8", timeout=60, dimensions=(40, 200)
    )
    child.expect_exact("mwaa shell: local (Airflow ")
    child.expect_exact(PROMPT)
    return child


def completes(child: pexpect.spawn, typed: str, added: str) -> None:
    """Type ``typed`` and Tab, and wait until the completion has added ``added``: on a busy
    machine the prompt redraws only what changed, so the whole word never shows at once."""
    child.send(typed + "\t")
    child.expect_exact(added)


def test_shell_session(shell_env, local_env):
    child = spawn(shell_env)
    child.sendline("version")
    child.expect(r"3\.\d+\.\d+")
    child.expect_exact(PROMPT)

    child.sendline("list_dags -o plain")  # 1.10 syntax, translated
    child.expect_exact("translated Airflow 1.10 syntax 'list_dags'")
    child.expect_exact("hello_mwaa")
    child.expect_exact(PROMPT)

    completes(child, "dags unp", "ause")  # Tab completes the subcommand …
    completes(child, " hello_m", "waa")  # … and a DAG id fetched from the environment
    child.sendline("")
    child.expect_exact(PROMPT)

    completes(child, "variables get shell_var_o", "ne")  # variable keys too
    child.sendline("")
    child.expect_exact("1")
    child.expect_exact(PROMPT)

    child.sendline("variables set shell_var_two 2")  # changes the keys: fetched again
    child.expect_exact("shell_var_two created")
    child.expect_exact(PROMPT)
    completes(child, "variables get shell_var_t", "wo")
    child.sendline("")
    child.expect_exact("2")
    child.expect_exact(PROMPT)

    child.sendline("variables get no_such_var")  # a failing command: its exit code shown
    child.expect_exact("does not exist")
    child.expect_exact("[exit 1]")
    child.expect_exact(PROMPT)

    child.sendline("users list")  # refused before sending, with a reason
    child.expect_exact("is not a command MWAA accepts")
    child.expect_exact(PROMPT)

    child.sendline("exit")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 65  # the last command's code

    history = (local_env.state_dir / "shell_history").read_text()
    assert "+list_dags -o plain" in history and "+dags unpause hello_mwaa" in history

    again = spawn(shell_env)  # history survives the session: Up recalls the last command
    again.send("\x1b[A")
    again.expect_exact("exit")
    again.sendcontrol("u")
    again.sendeof()
    again.expect(pexpect.EOF)


def test_shell_reads_a_script_from_stdin(local_env):
    import subprocess

    out = subprocess.run(
        [str(BIN / "mwaa"), "shell"],
        input=b"# a comment\nversion\nvariables get shell_var_one\n",
        env=local_env.aws_environ(),
        capture_output=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    lines = out.stdout.decode().split()
    assert lines[-1] == "1" and lines[0].startswith("3.")
