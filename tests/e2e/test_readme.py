"""Every example in README.md and the documentation (docs/**/*.md), run: console transcripts (each `$ command`, its output compared
line by line with digits and `…` as wildcards), bash and Python blocks (they must succeed),
TOML blocks (they must be valid config files). A block preceded by
`<!-- example: skip (reason) -->` is not run; everything else is, against the shared local
environment, in a shell that has sourced its env.sh - as the README tells its readers."""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from mwaa_cli.local.airflow.runtime import RUNTIMES_VAR, runtimes_dir

from .conftest import BIN, free_port, wait_for_dags

ROOT = Path(__file__).parents[2]
README = ROOT / "README.md"
PAGES = [README, *sorted((ROOT / "docs").rglob("*.md"))]
SKIP = re.compile(r"<!--\s*example:\s*skip\b")


@dataclass
class Block:
    kind: str
    text: str
    line: int
    skipped: bool
    page: str = "README.md"

    @property
    def id(self) -> str:
        return f"{self.page}:{self.kind}@{self.line}"


def blocks() -> list[Block]:
    return [block for page in PAGES for block in page_blocks(page)]


def page_blocks(page: Path) -> list[Block]:
    found, lines = [], page.read_text().splitlines()
    name = str(page.relative_to(ROOT))
    index = 0
    while index < len(lines):
        line = lines[index]
        if line.startswith("```") and line.strip() != "```":
            kind = line.strip("`").strip()
            start = index
            body = []
            index += 1
            while not lines[index].startswith("```"):
                body.append(lines[index])
                index += 1
            before = next((ln for ln in reversed(lines[:start]) if ln.strip()), "")
            skipped = bool(SKIP.search(before))
            found.append(Block(kind, "\n".join(body) + "\n", start + 1, skipped, name))
        index += 1
    return found


ALL = blocks()


def _exports(env_sh: Path) -> dict[str, str]:
    return dict(
        shlex.split(line.removeprefix("export "))[0].split("=", 1)
        for line in env_sh.read_text().splitlines()
        if line.startswith("export ")
    )


@pytest.fixture(scope="module")
def world(local_env, tmp_path_factory):
    """The README reader's machine: a shell with the local environment's env.sh sourced, the
    AWS files the server wrote its profile into, and the README's own config file (its
    local entry pointed at this environment's real port)."""
    tmp = tmp_path_factory.mktemp("readme")
    toml = next(b.text for b in ALL if b.kind == "toml" and "[envs.laptop]" in b.text)
    (tmp / "config.toml").write_text(toml.replace("https://127.0.0.1:8780", local_env.endpoint))
    aws = local_env.state_dir.parent / "aws"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "MWAA_"))}
    env |= _exports(local_env.home / "env.sh")
    env |= {
        "AWS_CONFIG_FILE": str(aws / "config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(aws / "credentials"),
        "MWAA_CLI_HOME": str(local_env.state_dir),
        "MWAA_CLI_CONFIG": str(tmp / "config.toml"),
        "AWS_EC2_METADATA_DISABLED": "true",
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    if os.environ.get(RUNTIMES_VAR):  # a store of its own, when the run set one
        env[RUNTIMES_VAR] = os.environ[RUNTIMES_VAR]
    wait_for_dags(local_env, {"hello_mwaa", "etl_with_params", "daily_report"})
    return env, tmp, local_env


def _normal(text: str) -> str:
    return " ".join(re.sub(r"\d+", "0", text).split())


def _matches(expected: str, actual: str) -> bool:
    pieces = [_normal(p) for p in expected.split("…")]
    position = 0
    norm = _normal(actual)
    for piece in pieces:
        if not piece:
            continue
        found = norm.find(piece, position)
        if found < 0:
            return False
        position = found + len(piece)
    return True


def assert_transcript(expected: list[str], actual: str, command: str) -> None:
    """Every expected line appears, in order, among the actual output's lines."""
    lines = actual.splitlines()
    cursor = 0
    for want in expected:
        if not want.strip() or want.strip() == "…":
            continue
        hit = next((i for i in range(cursor, len(lines)) if _matches(want, lines[i])), None)
        assert hit is not None, f"$ {command}\nexpected line: {want!r}\nactual output:\n{actual}"
        cursor = hit + 1


def transcript(block: Block) -> list[tuple[str, list[str]]]:
    """(command, expected output lines) of a console block."""
    steps: list[tuple[str, list[str]]] = []
    for line in block.text.splitlines():
        if line.startswith("$ "):
            steps.append((line[2:], []))
        elif steps:
            steps[-1][1].append(line)
    return steps


def run_serve(expected: list[str], env: dict, tmp: Path) -> None:
    """`mwaa local serve`: a fresh environment of its own, on a free port; the banner is
    compared with the README's, then Ctrl-C."""
    state = tmp / "serve-state"
    home_path = state / "local" / "local"
    env = {k: v for k, v in env.items() if not k.startswith(("AWS_", "MWAA_ENV"))}
    env |= {
        "MWAA_CLI_HOME": str(state),
        "AWS_CONFIG_FILE": str(tmp / "serve-aws" / "config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp / "serve-aws" / "credentials"),
    }
    proc = subprocess.Popen(
        [str(BIN / "mwaa"), "local", "serve", "--port", str(free_port())],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output = []
    deadline = time.monotonic() + 180
    try:
        for line in proc.stdout:
            output.append(line)
            if "Press Ctrl-C" in line or time.monotonic() > deadline:
                break
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(60)
    text = "".join(output).replace(str(home_path), "~/.local/share/mwaa-cli/local/local")
    text = text.replace(str(runtimes_dir()), "~/.local/share/mwaa-cli/runtimes")
    assert_transcript(expected, text, "mwaa local serve")


@pytest.mark.parametrize("block", [b for b in ALL if b.kind == "console"], ids=lambda b: b.id)
def test_console_examples(block, world):
    env, tmp, _ = world
    if block.skipped:
        pytest.skip(f"{block.id}: marked 'example: skip'")
    for command, expected in transcript(block):
        if command == "mwaa local serve":
            run_serve(expected, env, tmp)
            continue
        done = subprocess.run(
            ["bash", "-c", command + " 2>&1"], env=env, capture_output=True, text=True, timeout=300
        )
        failing = any("mwaa: error" in e or "does not exist" in e for e in expected)
        if not failing:
            assert done.returncode == 0, f"$ {command}\n{done.stdout}{done.stderr}"
        assert_transcript(expected, done.stdout, command)


@pytest.mark.parametrize("block", [b for b in ALL if b.kind == "bash"], ids=lambda b: b.id)
def test_bash_examples(block, world):
    env, tmp, _ = world
    if block.skipped:
        pytest.skip(f"{block.id}: marked 'example: skip'")
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", block.text],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp,
    )
    assert done.returncode == 0, f"{block.id}:\n{done.stdout}\n{done.stderr}"


@pytest.mark.parametrize("block", [b for b in ALL if b.kind == "python"], ids=lambda b: b.id)
def test_python_examples(block, world):
    env, _, _ = world
    if block.skipped:
        pytest.skip(f"{block.id}: marked 'example: skip'")
    done = subprocess.run(
        [sys.executable, "-c", block.text], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, f"{block.id}:\n{done.stdout}\n{done.stderr}"


@pytest.mark.parametrize("block", [b for b in ALL if b.kind == "toml"], ids=lambda b: b.id)
def test_toml_examples_are_valid_files(block, tmp_path):
    """mwaa's config file, or a local environment's mwaa-local.toml (loaded beside the files
    it names)."""
    if "[envs." not in block.text:
        from mwaa_cli.local.airflow.versions import lookup
        from mwaa_cli.local.definition import FILE_NAME, load

        (tmp_path / "dags").mkdir()
        (tmp_path / "plugins").mkdir()
        for name in ("requirements.txt", "startup.sh"):
            (tmp_path / name).write_text("")
        path = tmp_path / FILE_NAME
        path.write_text(block.text)
        definition = load(path)
        lookup(definition.airflow_version)
        if "dags" in block.text:
            assert definition.dags == tmp_path / "dags"
        return
    from mwaa_cli.settings import load_file

    path = tmp_path / "config.toml"
    path.write_text(block.text)
    assert load_file(path)["envs"]


def test_every_example_is_run_or_says_why_not():
    assert len(ALL) >= 15
    kinds = {b.kind for b in ALL}
    assert kinds <= {"console", "bash", "python", "toml"}, kinds
    skipped = [b for b in ALL if b.skipped]
    assert len(skipped) <= len(ALL) * 0.4, [b.id for b in skipped]  # most examples run


def test_the_demo_command_runs_on_a_fresh_home(tmp_path):
    """`make demo` (scripts/demo.sh): the README's first command does what it says."""
    root = Path(__file__).parents[2]
    env = dict(os.environ, MWAA_CLI_HOME=str(tmp_path / "demo-state"))
    done = subprocess.run(
        ["bash", str(root / "scripts" / "demo.sh")],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        cwd=root,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "demo: done - the triggered run reached 'success'." in done.stdout


def test_the_readme_is_a_quick_start():
    """≤ 200 lines in a newcomer's order; the reference lives in docs/."""
    text = README.read_text()
    assert len(text.splitlines()) <= 200
    order = ["## Install", "## The two commands", "locally", "with Amazon MWAA", "## Read more"]
    positions = [text.index(heading) for heading in order]
    assert positions == sorted(positions)
    for link in ("docs/client.md", "docs/local.md", "docs/reference/security.md"):
        assert f"]({link})" in text and (ROOT / link).is_file()
