"""The local environment's TLS files, AWS profile writer and metadata DB check."""

from __future__ import annotations

import os
import sqlite3
import ssl
import stat
import threading
import time
from pathlib import Path

import pytest

pytest.importorskip("cryptography")

from cryptography import x509

from mwaa_cli.aws_files import upsert
from mwaa_cli.local.auth import AccessKey
from mwaa_cli.local.client_setup import write_aws_profile
from mwaa_cli.local.metadata_db import MetadataUnavailable, check_sqlite
from mwaa_cli.local.tls import ensure_certificates


def test_certificates_are_made_once_and_reused(tmp_path):
    first = ensure_certificates(tmp_path, "local", ["127.0.0.1"])
    ca, server = first.ca_cert.read_bytes(), first.server_cert.read_bytes()
    again = ensure_certificates(tmp_path, "local", ["127.0.0.1"])
    assert again.ca_cert.read_bytes() == ca and again.server_cert.read_bytes() == server
    for key in ("ca.key", "server.key"):
        assert (tmp_path / key).stat().st_mode & 0o777 == 0o600
    # the server certificate chains to the CA, for the loopback names
    ssl.create_default_context(cafile=str(first.ca_cert))  # loads: a valid CA
    cert = x509.load_pem_x509_certificate(server)
    cert.verify_directly_issued_by(x509.load_pem_x509_certificate(ca))
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    # loopback names, the browsers' per-environment names (NAME-PORT.mwaa.localhost) and
    # the host prefixes SDKs inject (api./env.localhost)
    assert set(san.get_values_for_type(x509.DNSName)) == {
        "localhost", "*.mwaa.localhost", "api.localhost", "env.localhost",
    }  # fmt: skip
    assert {str(ip) for ip in san.get_values_for_type(x509.IPAddress)} == {"127.0.0.1", "::1"}
    assert first.ca_bundle.read_bytes().startswith(ca)  # CA first, then the public roots
    assert first.ca_bundle.stat().st_size > len(ca) * 10


def test_a_new_host_reissues_the_server_certificate_not_the_ca(tmp_path):
    first = ensure_certificates(tmp_path, "local", ["127.0.0.1"])
    ca, server = first.ca_cert.read_bytes(), first.server_cert.read_bytes()
    ensure_certificates(tmp_path, "local", ["devbox.internal"])
    assert first.ca_cert.read_bytes() == ca
    assert first.server_cert.read_bytes() != server
    cert = x509.load_pem_x509_certificate(first.server_cert.read_bytes())
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "devbox.internal" in san.get_values_for_type(x509.DNSName)


def test_a_damaged_key_regenerates(tmp_path):
    files = ensure_certificates(tmp_path, "local", [])
    (tmp_path / "ca.key").write_text("garbage")
    old_ca = files.ca_cert.read_bytes()
    ensure_certificates(tmp_path, "local", [])
    assert files.ca_cert.read_bytes() != old_ca


def test_upsert_section_keeps_everything_else():
    def x(header: str) -> bool:
        return header == "profile x"

    text = "# my settings\n[default]\nregion = eu-west-1\n\n[profile x]\nregion = a\n[z]\nk = v\n"
    out = upsert(text, x, ["[profile x]", "region = b"])
    assert out == text.replace("region = a", "region = b")  # in place, nothing else moved
    assert upsert(out, x, ["[profile x]", "region = b"]) == out  # idempotent
    assert upsert("", x, ["[n]", "a = 1"]) == "[n]\na = 1\n"
    assert upsert("[a]\nk = v", x, ["[n]", "a = 1"]) == "[a]\nk = v\n\n[n]\na = 1\n"


def test_written_profile_is_what_botocore_reads(tmp_path, monkeypatch):
    import botocore.session

    config, creds = tmp_path / "config", tmp_path / "credentials"
    config.write_text("[default]\nregion = eu-west-1\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(creds))
    for var in ("AWS_CA_BUNDLE", "AWS_PROFILE", "AWS_DEFAULT_REGION", "AWS_REGION"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL_MWAA", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    key = AccessKey("AKIALOCALTEST0000000", "s3cret")
    write_aws_profile("loc", "https://127.0.0.1:9", "us-east-2", key, tmp_path / "ca.pem")
    session = botocore.session.Session(profile="loc")
    assert session.get_config_variable("region") == "us-east-2"
    assert session.get_config_variable("ca_bundle") == str(tmp_path / "ca.pem")
    assert session.get_credentials().secret_key == "s3cret"
    assert session.create_client("mwaa").meta.endpoint_url == "https://127.0.0.1:9"
    assert "[default]\nregion = eu-west-1" in config.read_text()
    assert creds.stat().st_mode & 0o777 == 0o600


def _migrated(path):
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")  # as Airflow's SQLite runs
    conn.execute("CREATE TABLE alembic_version (version_num TEXT)")
    conn.commit()
    conn.close()


def test_metadata_check_missing_is_not_created(tmp_path):
    with pytest.raises(MetadataUnavailable, match="is missing"):
        check_sqlite(tmp_path / "airflow.db")
    assert not (tmp_path / "airflow.db").exists()


def test_metadata_check_unmigrated_and_damaged(tmp_path):
    db = tmp_path / "airflow.db"
    sqlite3.connect(db).close()
    with pytest.raises(MetadataUnavailable, match="not usable"):
        check_sqlite(db)
    db.write_bytes(b"not a database at all" * 100)
    with pytest.raises(MetadataUnavailable, match=r"damaged|not usable"):
        check_sqlite(db)


def test_metadata_check_locked(tmp_path):
    db = tmp_path / "airflow.db"
    _migrated(db)
    check_sqlite(db, "variables set")
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another writer holds the DB
    try:
        with pytest.raises(MetadataUnavailable, match="locked"):
            check_sqlite(db, "variables set", timeout=0.1)
        started = time.monotonic()
        check_sqlite(db, "variables get", timeout=5)  # readers never wait in WAL mode
        check_sqlite(db, "version", timeout=5)  # never opens the DB
        check_sqlite(db, "providers list", timeout=5)
        assert time.monotonic() - started < 1
    finally:
        holder.execute("ROLLBACK")
    check_sqlite(db, "variables set")


def test_a_short_lived_writer_only_delays_a_writing_command(tmp_path):
    db = tmp_path / "airflow.db"
    _migrated(db)
    holder = sqlite3.connect(db, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")
    release = threading.Timer(1.0, lambda: holder.execute("ROLLBACK"))
    release.start()
    started = time.monotonic()
    check_sqlite(db, "variables set")  # waits for the lock instead of failing at once
    assert 0.8 < time.monotonic() - started < 4
    release.join()


def test_commands_without_the_db_pass_even_when_it_is_missing(tmp_path):
    check_sqlite(tmp_path / "airflow.db", "version")
    check_sqlite(tmp_path / "airflow.db", "cheat-sheet")
    with pytest.raises(MetadataUnavailable, match="is missing"):
        check_sqlite(tmp_path / "airflow.db", "dags list")


def test_an_existing_home_keeps_its_permissions_with_a_warning(tmp_path, monkeypatch):
    from mwaa_cli.local.airflow import home as airflow_home
    from mwaa_cli.local.airflow.flavour import Flavour
    from mwaa_cli.local.airflow.runtime import Runtime
    from mwaa_cli.local.airflow.versions import lookup

    # no Airflow here: what prepare() asks of it is skipped, the files it makes are checked
    monkeypatch.setattr(airflow_home.AirflowHome, "migrate", lambda self: None)
    monkeypatch.setattr(Flavour, "prepare_users", lambda self, home, passwords: None)
    monkeypatch.setattr(airflow_home, "install_plugin", lambda site: None)
    runtime = Runtime(lookup("3.3.1"), tmp_path / "runtime")
    (tmp_path / "runtime").mkdir()
    (tmp_path / "runtime" / "mwaa-runtime.json").write_text('{"site_packages": "/nowhere"}')
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o755)
    os.chmod(shared, 0o755)
    said: list[str] = []
    airflow_home.AirflowHome(shared, tmp_path, runtime).prepare(log=said.append)
    assert stat.S_IMODE(shared.stat().st_mode) == 0o755  # not changed behind the user's back
    assert any("readable by other users" in line for line in said)
    fresh = tmp_path / "fresh" / "home"
    airflow_home.AirflowHome(fresh, tmp_path, runtime).prepare(log=said.append)
    assert stat.S_IMODE(fresh.stat().st_mode) == 0o700
    assert stat.S_IMODE((fresh / "ui-passwords.json").stat().st_mode) == 0o600


def test_a_local_ca_is_trusted_for_its_own_endpoint_only(tmp_path, monkeypatch):
    """Trust by identity: the endpoint a running local environment recorded, never 'any
    loopback endpoint', and never instead of a bundle the user set."""
    import json as json_module

    from mwaa_cli.client.trust import trust_for

    monkeypatch.setenv("MWAA_CLI_HOME", str(tmp_path / "home"))
    home = tmp_path / "home" / "local" / "dev"
    files = ensure_certificates(home / "tls", "dev", [])
    (home / "serve.lock").write_text(json_module.dumps({"endpoint": "https://127.0.0.1:8780"}))
    ours = trust_for("https://127.0.0.1:8780", None)
    assert ours.verify == str(files.ca_bundle) and ours.web_ca == str(files.ca_cert)
    # another loopback endpoint (a second environment elsewhere): the user's settings rule
    other = trust_for("https://127.0.0.1:9999", "/etc/ssl/certs/ca-certificates.crt")
    assert other.verify is None and other.web_ca == "/etc/ssl/certs/ca-certificates.crt"
    assert trust_for("https://localhost:8780", None).verify is None  # another origin
    # a bundle the user set is kept, and the local CA added to it
    user = tmp_path / "corporate.pem"
    user.write_bytes(ensure_certificates(tmp_path / "corp", "corp", []).ca_cert.read_bytes())
    both = trust_for("https://127.0.0.1:8780", str(user))
    combined = Path(both.verify).read_bytes()
    assert combined.startswith(user.read_bytes()) and files.ca_cert.read_bytes() in combined
    assert stat.S_IMODE(Path(both.verify).stat().st_mode) == 0o600
    # the environment's own bundle (what env.sh exports) is used as it is
    assert trust_for("https://127.0.0.1:8780", str(files.ca_bundle)).verify == str(files.ca_bundle)


def test_the_bundle_keeps_what_the_shell_trusted(tmp_path, monkeypatch):
    """env.sh points SSL_CERT_FILE & co. at ca-bundle.pem: it must go on trusting what those
    tools trusted before - the bundle set in the shell, else the system's store (where a
    corporate proxy's CA lives), not only certifi's public roots."""
    import ssl

    from mwaa_cli.local.tls import bundle_in_effect

    for var in ("AWS_CA_BUNDLE", "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.delenv(var, raising=False)
    system = ssl.get_default_verify_paths().cafile
    if system and Path(system).is_file():
        assert bundle_in_effect() == Path(system)
        files = ensure_certificates(tmp_path / "a", "local", ["127.0.0.1"], bundle_in_effect())
        assert files.ca_bundle.read_bytes().endswith(Path(system).read_bytes())
    corporate = tmp_path / "corporate.pem"
    corporate.write_bytes(b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
    monkeypatch.setenv("SSL_CERT_FILE", str(corporate))
    assert bundle_in_effect() == corporate
    monkeypatch.setenv("AWS_CA_BUNDLE", str(tmp_path / "missing.pem"))  # not a file: skipped
    assert bundle_in_effect() == corporate
