"""A local certificate authority and server certificate, so the endpoint speaks HTTPS.

Like mkcert: the CA is made once per environment home and reused, the server certificate
is re-issued when it nears expiry or the set of host names changes. ``ca-bundle.pem`` is
the CA followed by the bundle already in effect (``AWS_CA_BUNDLE``) or certifi's public
roots, so exporting it as ``AWS_CA_BUNDLE`` / ``SSL_CERT_FILE`` trusts the local
environment without breaking calls to real AWS (or through a corporate proxy's CA).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from .._files import write_private

CA_DAYS = 3650
SERVER_DAYS = 397  # what browsers accept for a leaf certificate
RENEW_BEFORE = dt.timedelta(days=30)
# api. and env.: the host prefixes SDKs put before the endpoint (botocore, Go SDK v2,
# terraform) when it is https://localhost:PORT
DEFAULT_HOSTS = (
    "localhost", "127.0.0.1", "::1", "*.mwaa.localhost", "api.localhost", "env.localhost",
)  # fmt: skip


@dataclass(frozen=True)
class TlsFiles:
    ca_cert: Path
    ca_bundle: Path  # the CA + public roots: what to point AWS_CA_BUNDLE etc. at
    server_cert: Path
    server_key: Path


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    write_private(
        path,
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
    )


def _load(cert: Path, key: Path) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey] | None:
    try:
        loaded_key = serialization.load_pem_private_key(key.read_bytes(), None)
        return x509.load_pem_x509_certificate(cert.read_bytes()), loaded_key  # type: ignore[return-value]
    except (OSError, ValueError):
        return None


def _san(host: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        return x509.DNSName(host)


def _make_ca(name: str) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "mwaa-cli local environment"),
            x509.NameAttribute(NameOID.COMMON_NAME, f"mwaa-cli local CA ({name})"),
        ]
    )
    now = _now()
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return cert, key


def _make_server(
    hosts: list[str], ca: x509.Certificate, ca_key: ec.EllipticCurvePrivateKey
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = _now()
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0])]))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=SERVER_DAYS))
        .add_extension(x509.SubjectAlternativeName([_san(h) for h in hosts]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    return cert, key


def _covers(cert: x509.Certificate, hosts: list[str]) -> bool:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return False
    return all(_san(h) in san for h in hosts)


def _issued_by(cert: x509.Certificate, ca: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(ca)
    except (ValueError, TypeError, Exception):  # InvalidSignature is not a ValueError
        return False
    return True


def ensure_certificates(
    directory: Path, name: str, hosts: list[str], in_effect: Path | None = None
) -> TlsFiles:
    """Create (or reuse) the CA and a server certificate for ``hosts`` in ``directory``;
    ``ca-bundle.pem`` is the CA followed by ``in_effect`` (the bundle the user's tools
    already trust) or, without one, certifi's public roots."""
    hosts = list(dict.fromkeys([*hosts, *DEFAULT_HOSTS]))
    files = TlsFiles(
        directory / "ca.pem",
        directory / "ca-bundle.pem",
        directory / "server.pem",
        directory / "server.key",
    )
    ca_key_path = directory / "ca.key"
    ca = _load(files.ca_cert, ca_key_path)
    if ca is None or ca[0].not_valid_after_utc - _now() < RENEW_BEFORE:
        ca = _make_ca(name)
        _write_key(ca_key_path, ca[1])
        files.ca_cert.write_bytes(ca[0].public_bytes(serialization.Encoding.PEM))
    server = _load(files.server_cert, files.server_key)
    if (
        server is None
        or not _covers(server[0], hosts)
        or not _issued_by(server[0], ca[0])
        or server[0].not_valid_after_utc - _now() < RENEW_BEFORE
    ):
        server = _make_server(hosts, *ca)
        _write_key(files.server_key, server[1])
        files.server_cert.write_bytes(server[0].public_bytes(serialization.Encoding.PEM))
    _write_bundle(files, in_effect)
    return files


def bundle_in_effect() -> Path | None:
    """The CA bundle this shell's tools trust now, to keep trusting it next to the local CA
    once env.sh points them at ``ca-bundle.pem`` (a corporate proxy's CA, say): boto3's
    ``AWS_CA_BUNDLE``, else OpenSSL's ``SSL_CERT_FILE`` / requests' / curl's bundle, else
    the system's store (what pip, curl and Python use by default); None: certifi's."""
    import ssl

    for var in ("AWS_CA_BUNDLE", "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        value = os.environ.get(var)
        if value and Path(value).is_file():
            return Path(value)
    system = ssl.get_default_verify_paths().cafile
    return Path(system) if system and Path(system).is_file() else None


def _write_bundle(files: TlsFiles, in_effect: Path | None) -> None:
    import certifi

    ca = files.ca_cert.read_bytes()
    others = Path(certifi.where())
    if in_effect is not None and in_effect.resolve() != files.ca_bundle.resolve():
        others = in_effect
    try:
        public = others.read_bytes()
    except OSError:
        public = Path(certifi.where()).read_bytes()
    if public.startswith(ca):  # an earlier bundle of ours: do not nest it
        public = public[len(ca) :].lstrip(b"\n")
    bundle = ca + b"\n" + public
    if not files.ca_bundle.exists() or files.ca_bundle.read_bytes() != bundle:
        files.ca_bundle.write_bytes(bundle)
