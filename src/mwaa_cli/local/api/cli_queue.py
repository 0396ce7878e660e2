"""A bounded FIFO wait queue in front of the CLI command slots.

MWAA refuses a fifth concurrent CLI command with 503. Locally at most ``concurrency``
commands still run at once, but the ones behind them wait their turn - first come, first
served - instead of being turned away: up to ``max_waiting`` of them, each for at most
``max_wait`` seconds. Only then is a command refused with 503 and ``Retry-After``; it never
started, so the caller may simply send it again.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field


class QueueRefused(Exception):
    """The command was not started: the queue is full or the wait expired."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass
class QueueStats:
    """What ``GET /health`` and the audit log report."""

    running: int = 0
    waiting: int = 0
    served: int = 0
    refused_full: int = 0
    refused_wait: int = 0
    max_waited: float = 0.0
    recent_waits: deque = field(default_factory=lambda: deque(maxlen=200))

    def wait_p50(self) -> float:
        waits = sorted(self.recent_waits)
        return waits[len(waits) // 2] if waits else 0.0


class CommandQueue:
    """At most ``concurrency`` holders at once; up to ``max_waiting`` more wait in order."""

    def __init__(self, concurrency: int = 4, max_waiting: int = 64, max_wait: float = 60.0):
        self.concurrency = concurrency
        self.max_waiting = max_waiting
        self.max_wait = max_wait
        self.stats = QueueStats()
        self._waiters: deque[asyncio.Future] = deque()

    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[float]:
        """Hold a slot for the body of the ``async with``; yields the seconds waited."""
        started = time.monotonic()
        await self._acquire()
        waited = time.monotonic() - started
        self.stats.served += 1
        self.stats.recent_waits.append(waited)
        self.stats.max_waited = max(self.stats.max_waited, waited)
        try:
            yield waited
        finally:
            self._release()

    async def _acquire(self) -> None:
        if self.stats.running < self.concurrency and not self._waiters:
            self.stats.running += 1
            return
        if len(self._waiters) >= self.max_waiting:
            self.stats.refused_full += 1
            raise QueueRefused(
                f"{self.stats.running} commands are running and {len(self._waiters)} are "
                "waiting (the queue is full)",
                retry_after=max(1, round(self.stats.wait_p50() or 1)),
            )
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        self.stats.waiting = len(self._waiters)
        try:
            await asyncio.wait_for(asyncio.shield(waiter), self.max_wait)
        except asyncio.TimeoutError:
            if waiter.done() and not waiter.cancelled():
                return  # the slot arrived just as the wait ran out: keep it
            waiter.cancel()
            self.stats.refused_wait += 1
            raise QueueRefused(
                f"waited {self.max_wait:g} s for one of {self.concurrency} command slots",
                retry_after=1,
            ) from None
        except BaseException:  # the caller went away: give back a slot handed to us
            if waiter.done() and not waiter.cancelled():
                self._release()
            else:
                waiter.cancel()
            raise
        finally:
            with contextlib.suppress(ValueError):
                self._waiters.remove(waiter)
            self.stats.waiting = len(self._waiters)

    def _release(self) -> None:
        """Hand the slot to the first live waiter, or free it."""
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)  # the slot passes on: running stays the same
                self.stats.waiting = len(self._waiters)
                return
        self.stats.waiting = 0
        self.stats.running -= 1

    def status(self) -> dict:
        return {
            "running": self.stats.running,
            "waiting": len(self._waiters),
            "concurrency": self.concurrency,
            "max_waiting": self.max_waiting,
            "max_wait_seconds": self.max_wait,
            "served": self.stats.served,
            "refused_queue_full": self.stats.refused_full,
            "refused_wait_expired": self.stats.refused_wait,
            "wait_p50_ms": round(self.stats.wait_p50() * 1000, 1),
            "max_wait_ms": round(self.stats.max_waited * 1000, 1),
        }
