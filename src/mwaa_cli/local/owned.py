"""Child processes that never outlive the server that started them.

What a start runs before Airflow's components - uv making a runtime or installing the
requirements, the startup script, ``airflow db migrate`` - used to go on after ``mwaa local
down`` or a kill -9 of the region. Each now runs in a process group of its own, gets
SIGKILL from the kernel when the server dies (``PR_SET_PDEATHSIG``, Linux), and has its
whole group killed when the wait for it ends any other way than by its exit (Ctrl-C,
SIGTERM - which ``mwaa local serve`` turns into KeyboardInterrupt - or a time limit).
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import signal
import subprocess
import sys
from collections.abc import Iterator, Sequence
from typing import Any

_PR_SET_PDEATHSIG = 1
_libc = (
    ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
    if sys.platform.startswith("linux")
    else None
)


def _die_with_parent() -> None:  # between fork and exec: async-signal-safe calls only
    if _libc is not None:
        _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def popen(argv: Sequence[str], **kwargs: Any) -> subprocess.Popen:
    """``subprocess.Popen`` in a session of its own that dies with this process."""
    return subprocess.Popen(argv, start_new_session=True, preexec_fn=_die_with_parent, **kwargs)


def kill_group(proc: subprocess.Popen) -> None:
    """SIGKILL ``proc``'s whole process group (it leads one), then reap it."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(Exception):
        proc.wait(10)


@contextlib.contextmanager
def owned(proc: subprocess.Popen) -> Iterator[subprocess.Popen]:
    """Kill ``proc``'s group if the block ends by an exception (its normal exit stays)."""
    try:
        yield proc
    except BaseException:
        kill_group(proc)
        raise


def run(
    argv: Sequence[str], *, timeout: float | None = None, input: str | bytes | None = None,
    **kwargs: Any,
) -> subprocess.CompletedProcess:  # fmt: skip
    """``subprocess.run`` for an owned process: on a timeout or an interrupt its whole
    group is killed (subprocess.run kills the leader only) and the exception goes on."""
    if input is not None:
        kwargs["stdin"] = subprocess.PIPE
    with popen(argv, **kwargs) as proc, owned(proc):
        out, err = proc.communicate(input, timeout=timeout)
        return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
