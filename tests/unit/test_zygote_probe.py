"""The fork-server's idle-time probe (mwaa_cli.local.zygote.probe): a real forked child whose
output is captured; its verdict is "silent" only when the work printed nothing and raised
nothing, and its result comes back whole however large."""

from __future__ import annotations

import json
import os
import sys

from mwaa_cli.local import zygote


def verdict(work) -> dict:
    pid, read = zygote.probe(work)
    chunks = []
    while chunk := os.read(read, 65536):
        chunks.append(chunk)
    os.close(read)
    os.waitpid(pid, 0)
    return json.loads(b"".join(chunks))


def test_silent_work_is_kept_with_its_result():
    names = [f"module_{i}" for i in range(20000)]  # bigger than a pipe's buffer
    assert verdict(lambda: names) == {"ok": True, "result": names}


def test_work_that_prints_or_logs_is_refused():
    assert verdict(lambda: print("hello"))["ok"] is False
    assert verdict(lambda: sys.stderr.write("a warning\n"))["ok"] is False
    assert verdict(lambda: os.write(2, b"straight to the fd\n"))["ok"] is False


def test_a_flood_of_output_cannot_hang_the_probe():
    def flood() -> None:
        for _ in range(1000):
            print("x" * 1000)

    assert verdict(flood)["ok"] is False


def test_work_that_fails_is_refused():
    def fail() -> None:
        raise RuntimeError("no")

    assert verdict(fail) == {"ok": False, "result": None}
    assert verdict(lambda: sys.exit(3))["ok"] is False


def test_import_steps_skip_what_is_missing():
    steps = list(zygote.import_steps(["json", "no_such_module_here", "csv"]))
    assert len(steps) == 3 and "csv" in sys.modules
