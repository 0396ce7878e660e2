"""Write the local environment's settings as a named AWS profile (``--write-profile``).

Only the profile's own sections are replaced; everything else in the user's AWS config and
credentials files is kept byte for byte (comments included), which configparser would not do.
"""

from __future__ import annotations

import os
from pathlib import Path

from .._files import write_private
from .auth import AccessKey


def aws_files() -> tuple[Path, Path]:
    """The AWS config and shared credentials files, as botocore finds them."""
    config = os.environ.get("AWS_CONFIG_FILE") or "~/.aws/config"
    credentials = os.environ.get("AWS_SHARED_CREDENTIALS_FILE") or "~/.aws/credentials"
    return Path(config).expanduser(), Path(credentials).expanduser()


def upsert_section(text: str, header: str, body: list[str]) -> str:
    """``text`` (INI) with section ``[header]`` replaced by (or extended with) ``body``."""
    kept: list[str] = []
    skipping = False
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("[") and stripped.endswith("]"):
            skipping = stripped[1:-1].strip() == header
        if not skipping:
            kept.append(line)
    while kept and not kept[-1].strip():
        kept.pop()
    block = [f"[{header}]", *body]
    return "\n".join([*kept, "", *block] if kept else block) + "\n"


def write_aws_profile(
    name: str, endpoint: str, region: str, key: AccessKey, ca_bundle: Path | None
) -> tuple[Path, Path]:
    """Make ``--profile NAME`` (boto3, the AWS CLI, mwaa) reach the local environment."""
    config_path, credentials_path = aws_files()
    services = f"{name}-services"
    settings = [f"region = {region}", f"services = {services}"]
    settings.append("disable_host_prefix_injection = true")
    if ca_bundle is not None:
        settings.append(f"ca_bundle = {ca_bundle}")
    header = name if name == "default" else f"profile {name}"
    text = config_path.read_text() if config_path.exists() else ""
    text = upsert_section(text, header, settings)
    text = upsert_section(
        text,
        f"services {services}",
        [
            "mwaa =",
            f"  endpoint_url = {endpoint}",
            "sts =",
            f"  endpoint_url = {endpoint}",
        ],
    )
    config_path.parent.mkdir(parents=True, exist_ok=True)
    write_private(config_path, text.encode())
    creds = credentials_path.read_text() if credentials_path.exists() else ""
    creds = upsert_section(
        creds,
        name,
        [
            f"aws_access_key_id = {key.access_key_id}",
            f"aws_secret_access_key = {key.secret_access_key}",
        ],
    )
    write_private(credentials_path, creds.encode())
    return config_path, credentials_path
