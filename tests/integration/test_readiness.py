"""Ready means ready (local/readiness.py) against a real HTTP server on loopback that answers
as Airflow's API server / webserver does while it starts: not listening, 503, then health
JSON whose heartbeats move; a component that never comes up is named with its log."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from mwaa_cli.local.airflow.flavour import for_major
from mwaa_cli.local.backends.sqlite import SqliteBackend
from mwaa_cli.local.readiness import DagsParsed, NotReady, Readiness, wait_until_ready


class FakeAirflow:
    """Answers ``paths`` with their status and ``/health`` with ``health`` (mutable)."""

    def __init__(self) -> None:
        self.status: dict[str, int] = {}
        self.health: dict = {}
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path in ("/health", "/api/v2/monitor/health") and self.path not in (
                    fake.status
                ):
                    body, code = json.dumps(fake.health).encode(), 200
                else:
                    body, code = b"{}", fake.status.get(self.path, 404)
                self.send_response(code)
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def airflow():
    fake = FakeAirflow()
    yield fake
    fake.close()


def beat(when: datetime) -> str:
    return when.isoformat()


def v3_readiness(url: str, since: datetime) -> Readiness:
    flavour = for_major(3)
    return Readiness(url, flavour.health_path, flavour.answers, flavour.heartbeats, since)


def test_pending_until_every_component_answers_and_heartbeats_since_the_start(airflow):
    since = datetime.now(timezone.utc)
    ready = v3_readiness(airflow.url, since)
    with httpx.Client(trust_env=False, timeout=5) as http:
        # the execution API is not served yet: the API server is still starting
        airflow.status = {"/execution/health": 503}
        assert set(ready.pending(http)) == {"api-server", "scheduler", "dag-processor", "triggerer"}
        assert "answered 503" in ready.pending(http)["api-server"]
        airflow.status = {"/execution/health": 200}
        # heartbeats of a previous run (before this start) do not count
        old = beat(since - timedelta(seconds=20))
        airflow.health = {
            "metadatabase": {"status": "healthy"},
            "scheduler": {"status": "healthy", "latest_scheduler_heartbeat": old},
            "dag_processor": {"status": "healthy", "latest_dag_processor_heartbeat": old},
            "triggerer": {"status": "healthy", "latest_triggerer_heartbeat": old},
        }
        assert set(ready.pending(http)) == {"scheduler", "dag-processor", "triggerer"}
        now = beat(since + timedelta(seconds=2))
        airflow.health["scheduler"]["latest_scheduler_heartbeat"] = now
        airflow.health["triggerer"]["latest_triggerer_heartbeat"] = now
        assert ready.pending(http) == {"dag-processor": "no heartbeat yet"}
        airflow.health["dag_processor"]["latest_dag_processor_heartbeat"] = now
        assert ready.pending(http) == {}


def test_not_listening_is_pending_not_an_error():
    ready = v3_readiness("http://127.0.0.1:9", datetime.now(timezone.utc))
    with httpx.Client(trust_env=False, timeout=2) as http:
        waiting = ready.pending(http)
    assert waiting["api-server"].endswith("is not listening yet")


def test_airflow2_waits_for_the_login_page(airflow):
    flavour = for_major(2)
    since = datetime.now(timezone.utc)
    ready = Readiness(airflow.url, flavour.health_path, flavour.answers, flavour.heartbeats, since)
    now = beat(since + timedelta(seconds=1))
    airflow.health = {
        "scheduler": {"latest_scheduler_heartbeat": now},
        "triggerer": {"latest_triggerer_heartbeat": now},
    }
    with httpx.Client(trust_env=False, timeout=5) as http:
        assert "/login/" in ready.pending(http)["webserver"]  # 404: not the page yet
        airflow.status = {"/login/": 200}
        assert ready.pending(http) == {}


def test_a_component_that_never_comes_up_is_named_with_its_log(airflow, tmp_path):
    (tmp_path / "dag-processor.log").write_text("starting\nImportError: no module named x\n")
    since = datetime.now(timezone.utc)
    airflow.status = {"/execution/health": 200}
    now = beat(since + timedelta(seconds=1))
    airflow.health = {
        "scheduler": {"latest_scheduler_heartbeat": now},
        "triggerer": {"latest_triggerer_heartbeat": now},
    }
    started = time.monotonic()
    with pytest.raises(NotReady) as caught:
        wait_until_ready(v3_readiness(airflow.url, since), tmp_path, limit=1.5, interval=0.1)
    assert time.monotonic() - started >= 1.5
    message = str(caught.value)
    assert "Airflow's dag-processor did not come up within 2 s" in message
    assert "ImportError: no module named x" in message
    assert str(tmp_path / "dag-processor.log") in message


def test_a_component_the_supervisor_gave_up_on_fails_at_once(tmp_path):
    (tmp_path / "scheduler.log").write_text("Traceback …\nsqlite3.OperationalError: disk I/O\n")
    started = time.monotonic()
    with pytest.raises(
        NotReady, match=r"(?s)scheduler did not start \(it kept crashing\).*disk I/O"
    ):
        wait_until_ready(
            v3_readiness("http://127.0.0.1:9", datetime.now(timezone.utc)),
            tmp_path,
            limit=60,
            given_up=lambda: {"scheduler": "it kept crashing"},
        )
    assert time.monotonic() - started < 10


def _db(path: Path, filelocs: list[str], import_errors: list[str]) -> None:
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE IF NOT EXISTS dag (fileloc TEXT)")
        db.execute("CREATE TABLE IF NOT EXISTS import_error (filename TEXT)")
        db.executemany("INSERT INTO dag VALUES (?)", [(f,) for f in filelocs])
        db.executemany("INSERT INTO import_error VALUES (?)", [(f,) for f in import_errors])


def test_dag_files_count_as_parsed_once_registered_or_failed(tmp_path):
    dags = tmp_path / "dags"
    (dags / "sub").mkdir(parents=True)
    (dags / "a.py").write_text("from airflow import DAG\n")
    (dags / "sub" / "b.py").write_text("from airflow.sdk import dag\n")
    (dags / "broken.py").write_text("import airflow; DAG(\n")
    (dags / "helper.py").write_text("def add(a, b): return a + b\n")  # not a DAG file
    (dags / ".hidden").mkdir()
    (dags / ".hidden" / "c.py").write_text("from airflow import DAG\n")
    db = tmp_path / "airflow.db"
    parsed = DagsParsed(SqliteBackend(db).dag_files, dags, "dag-processor")
    assert {p.name for p in parsed.unparsed()} == {"a.py", "b.py", "broken.py"}
    _db(db, [str(dags / "a.py")], [])  # Airflow 2: absolute
    _db(db, ["sub/b.py"], ["broken.py"])  # Airflow 3: relative to the bundle
    assert parsed.unparsed() == set()


def test_dag_files_that_never_register_are_given_up_after_the_patience(tmp_path):
    dags = tmp_path / "dags"
    dags.mkdir()
    (dags / "utils.py").write_text("# helpers for airflow dags, no DAG here\n")
    parsed = DagsParsed(
        SqliteBackend(tmp_path / "airflow.db").dag_files, dags, "scheduler", patience=0.3
    )
    assert parsed.unparsed()
    time.sleep(0.4)
    assert parsed.unparsed() == set()
