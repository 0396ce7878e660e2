"""How AWS tools find a local environment: an AWS profile, and the ``env.sh`` to source.

The environment's region, endpoint (MWAA and STS), host-prefix setting and key pair live in
a named AWS profile (``mwaa-local`` for the environment ``local``, ``mwaa-local-NAME``
otherwise, or ``--write-profile NAME``). ``env.sh`` selects it with ``AWS_PROFILE`` instead of
exporting the endpoint and keys themselves, so a shell that sources it keeps reaching real
AWS with ``aws --profile work …`` or ``mwaa --env prod`` (an explicit profile beats
``AWS_PROFILE``; an endpoint in the environment would beat every profile). It also exports
the CA bundle - this environment's CA followed by the bundle that was in effect (or the
public roots) - for boto3, curl, requests and Python's ssl.

Only the profile's own sections are replaced in the user's AWS config and credentials
files, found as botocore finds them; everything else is kept byte for byte (comments, line
endings), under a lock and atomically (:mod:`mwaa_cli.aws_files`).
 ``--no-profile`` writes nothing there and makes ``env.sh`` export the endpoint and
keys (which then apply to every profile in that shell).
"""

from __future__ import annotations

import os
import shlex
from pathlib import Path

from .._files import write_private
from ..aws_files import check_editable, edit, profile_of, upsert
from ..settings import LOCAL_PROFILE_MARK
from .auth import AccessKey


def default_profile(name: str) -> str:
    return "mwaa-local" if name == "local" else f"mwaa-local-{name}"


def aws_files() -> tuple[Path, Path]:
    """The AWS config and shared credentials files, as botocore finds them."""
    config = os.environ.get("AWS_CONFIG_FILE") or "~/.aws/config"
    credentials = os.environ.get("AWS_SHARED_CREDENTIALS_FILE") or "~/.aws/credentials"
    return Path(config).expanduser(), Path(credentials).expanduser()


def _services_of(header: str) -> str | None:
    try:
        parts = shlex.split(header)
    except ValueError:
        return None
    return parts[1] if len(parts) == 2 and parts[0] == "services" else None


def write_aws_profile(
    name: str,
    endpoint: str,
    region: str,
    key: AccessKey,
    ca_bundle: Path | None,
    environment: str = "local",
) -> tuple[Path, Path]:
    """Make ``--profile NAME`` (boto3, the AWS CLI, mwaa) reach the local environment.

    Only the profile's own sections change (:mod:`mwaa_cli.aws_files`); a file that cannot
    be edited safely raises :class:`~mwaa_cli.aws_files.NotEditable` and is left as it is."""
    config_path, credentials_path = aws_files()
    services = f"{name}-services"
    settings = [
        f"{LOCAL_PROFILE_MARK} '{environment}' (written by mwaa local serve)",
        f"region = {region}",
        f"services = {services}",
        "disable_host_prefix_injection = true",
    ]
    if ca_bundle is not None:
        settings.append(f"ca_bundle = {ca_bundle}")
    header = name if name == "default" else f"profile {name}"
    service_block = [
        f"[services {services}]",
        "mwaa =",
        f"  endpoint_url = {endpoint}",
        "sts =",
        f"  endpoint_url = {endpoint}",
    ]

    def config(text: str) -> str:
        text = upsert(text, lambda h: profile_of(h) == name, [f"[{header}]", *settings])
        return upsert(text, lambda h: _services_of(h) == services, service_block)

    def credentials(text: str) -> str:
        block = [
            f"[{name}]",
            f"aws_access_key_id = {key.access_key_id}",
            f"aws_secret_access_key = {key.secret_access_key}",
        ]
        return upsert(text, lambda h: h == name, block)  # botocore: the header as it is

    # both checked before either is written: a refusal leaves both files as they were
    for path in (config_path, credentials_path):
        check_editable(path)
    edit(config_path, config)
    edit(credentials_path, credentials)
    return config_path, credentials_path


def client_environ(
    endpoint: str,
    region: str,
    key: AccessKey,
    ca_bundle: Path | None,
    profile: str | None,
    environment: str,
) -> dict[str, str]:
    """What ``env.sh`` exports: the profile (or, without one, the endpoint and keys), the
    environment name and the CA bundle."""
    environ: dict[str, str] = {}
    if profile is not None:
        environ["AWS_PROFILE"] = profile
        for var in ("AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
            if os.environ.get(var):  # the profile lives where this server wrote it
                environ[var] = str(Path(os.environ[var]).expanduser().resolve())
    else:
        environ |= {
            "AWS_ENDPOINT_URL_MWAA": endpoint,
            "AWS_ENDPOINT_URL_STS": endpoint,  # GetCallerIdentity answers for the key pair
            "AWS_DISABLE_HOST_PREFIX_INJECTION": "true",
            "AWS_DEFAULT_REGION": region,
            "AWS_ACCESS_KEY_ID": key.access_key_id,
            "AWS_SECRET_ACCESS_KEY": key.secret_access_key,
        }
    environ["MWAA_ENV"] = environment
    if ca_bundle is not None:
        # boto3/the AWS CLI, curl, Python's ssl, requests (which prefers its own variable)
        environ |= dict.fromkeys(
            ("AWS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE"),
            str(ca_bundle),
        )
    return environ


def write_env_file(path: Path, environment: str, exports: dict[str, str]) -> None:
    header = (
        f"# The local MWAA environment '{environment}': source this file "
        "(written by mwaa local serve)\n"
    )
    body = "".join(f"export {k}={shlex.quote(v)}\n" for k, v in exports.items())
    write_private(path, (header + body).encode())
