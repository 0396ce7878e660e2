"""What a Ctrl-C interrupts: before anything was sent, nothing happened; once a command (or a
state-changing REST call) has gone out, it may still be running on the environment, and
the message must say so instead of "nothing was sent"."""

from __future__ import annotations

_sent: list[str] = []


def mark_sent(what: str) -> None:
    """``what`` (e.g. ``dags test my_dag``) has been handed to the network."""
    _sent.append(what)


def sent() -> list[str]:
    return list(_sent)


def interrupted_message() -> str:
    """What ``mwaa`` says on Ctrl-C."""
    if not _sent:
        return "mwaa: aborted: nothing was sent"
    return (
        f"mwaa: interrupted: '{_sent[-1]}' was already sent and may still be running on the "
        "environment (a Ctrl-C here cannot stop it there)"
    )
