"""The Celery broker an environment owns: an SQS-compatible server, as MWAA's broker is SQS.

It is moto's server (a dependency of ``mwaa-cli[local]``), run by the warden beside
Airflow's components; Celery talks to it with kombu's SQS transport, exactly as MWAA's
workers talk to SQS. Its queues live in memory: a restart of the environment starts with
empty queues (Airflow re-queues what was lost: ``scheduler.task_queued_timeout``). A broker
the user runs (ElasticMQ, LocalStack, real SQS, Redis, RabbitMQ) is given by URL instead.
"""

from __future__ import annotations

import socket
import sys
import time
from dataclasses import dataclass
from urllib.parse import quote

# kombu signs its SQS calls; moto accepts any key, so these only make the URL well-formed
ACCESS_KEY = "mwaalocal"
SECRET_KEY = "mwaalocal"


class BrokerError(Exception):
    """The broker did not answer."""


@dataclass
class OwnedBroker:
    port: int
    host: str = "127.0.0.1"  # the address it listens on

    def argv(self) -> list[str]:
        return [sys.executable, "-m", "moto.server", "-H", self.host, "-p", str(self.port)]

    def url(self, host: str | None = None) -> str:
        """kombu's URL for it (plain HTTP: ``is_secure`` is off in the transport options)."""
        return f"sqs://{quote(ACCESS_KEY)}:{quote(SECRET_KEY)}@{host or self.host}:{self.port}"

    def wait(self, timeout: float = 60.0, alive=lambda: True) -> None:
        deadline = time.monotonic() + timeout
        target = "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host
        while time.monotonic() < deadline and alive():
            try:
                with socket.create_connection((target, self.port), timeout=2):
                    return
            except OSError:
                time.sleep(0.2)
        raise BrokerError(f"the SQS-compatible broker on port {self.port} did not answer")


def transport_options(url: str, region: str, secure: bool) -> dict[str, str]:
    """``AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__*`` for a broker URL (MWAA sets the
    region and visibility timeout of its SQS queue); ``secure``: HTTPS to an SQS endpoint
    named in the URL (the owned broker speaks plain HTTP)."""
    if not url.startswith("sqs://"):
        return {}
    options = {
        "AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__REGION": region,
        # seconds before a message a lost worker took is delivered again (MWAA: 12 h;
        # locally Airflow's own heartbeat timeout finds the lost task long before)
        "AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__VISIBILITY_TIMEOUT": "43200",
        "AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__WAIT_TIME_SECONDS": "1",
        "AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__POLLING_INTERVAL": "0.2",
    }
    if not secure:
        options["AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__IS_SECURE"] = "False"
    return options
