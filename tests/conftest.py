import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

# a busy machine on demand: MWAA_TEST_LOAD=N runs N CPU-bound processes beside the whole
# session (`make test-load`), so that timeouts which assume an idle machine show up here
LOAD_VAR = "MWAA_TEST_LOAD"


@contextmanager
def cpu_hogs(count: int) -> Iterator[list[subprocess.Popen]]:
    """``count`` processes spinning on a core each, for as long as the block runs."""
    hogs = [
        subprocess.Popen([sys.executable, "-c", "while True: pass"], stdin=subprocess.DEVNULL)
        for _ in range(count)
    ]
    try:
        yield hogs
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()


@pytest.fixture(scope="session", autouse=True)
def _session_load() -> Iterator[None]:
    count = int(os.environ.get(LOAD_VAR) or 0)
    if count <= 0:
        yield
        return
    with cpu_hogs(count):
        yield


@pytest.fixture(autouse=True)
def _hermetic_state(tmp_path, monkeypatch):
    """Every test gets its own mwaa-cli state folder (token cache, local homes)."""
    monkeypatch.setenv("MWAA_CLI_HOME", str(tmp_path / "mwaa-cli-home"))
