"""The local environment's TLS files, AWS profile writer and metadata DB check."""

from __future__ import annotations

import sqlite3
import ssl

import pytest

pytest.importorskip("cryptography")

from cryptography import x509

from mwaa_cli.local.auth import AccessKey
from mwaa_cli.local.metadata_db import MetadataUnavailable, check_sqlite
from mwaa_cli.local.profile import upsert_section, write_aws_profile
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
    assert set(san.get_values_for_type(x509.DNSName)) == {"localhost"}
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
    text = "# my settings\n[default]\nregion = eu-west-1\n\n[profile x]\nregion = a\n[z]\nk = v\n"
    out = upsert_section(text, "profile x", ["region = b"])
    assert out.startswith("# my settings\n[default]\nregion = eu-west-1\n")
    assert "[z]\nk = v" in out and "region = a" not in out
    assert out.endswith("[profile x]\nregion = b\n")
    assert upsert_section(out, "profile x", ["region = b"]) == out  # idempotent
    assert upsert_section("", "n", ["a = 1"]) == "[n]\na = 1\n"


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
    check_sqlite(db)
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(MetadataUnavailable, match="locked"):
            check_sqlite(db, timeout=0.1)
    finally:
        holder.execute("ROLLBACK")
    check_sqlite(db)


def test_local_ca_only_for_our_own_bundles(tmp_path, monkeypatch):
    from mwaa_cli.config import local_ca_only

    monkeypatch.setenv("MWAA_CLI_HOME", str(tmp_path / "home"))
    files = ensure_certificates(tmp_path / "home" / "local" / "dev" / "tls", "dev", [])
    assert local_ca_only(str(files.ca_bundle)) == str(files.ca_cert)
    elsewhere = ensure_certificates(tmp_path / "elsewhere", "x", [])
    assert local_ca_only(str(elsewhere.ca_bundle)) == str(elsewhere.ca_bundle)
    assert (
        local_ca_only("/etc/ssl/certs/ca-certificates.crt") == "/etc/ssl/certs/ca-certificates.crt"
    )
