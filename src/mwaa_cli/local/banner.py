"""What ``mwaa local serve`` prints once it is up."""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Banner:
    opts: Any  # ServeOptions
    info: Any  # EnvironmentInfo
    endpoint: str
    dags: Path
    root: Path
    env_file: Path
    exports: dict[str, str]
    profile: str | None
    home: Any  # AirflowHome
    built: Any = None  # environment.Assembled


def _browser_url(endpoint: str, name: str) -> str:
    from urllib.parse import urlsplit

    from ..wire import ui_host

    parts = urlsplit(endpoint)
    if parts.scheme != "https" or not parts.port:
        return f"{endpoint}/"
    return f"https://{ui_host(name, parts.port)}:{parts.port}/"


def render_banner(b: Banner, components: list[str]) -> str:
    opts, info = b.opts, b.info
    lines = [
        f"mwaa local environment '{info.name}' is up - Apache Airflow {info.airflow_version}",
        f"  endpoint      {b.endpoint}  (control plane + {b.endpoint}/aws_mwaa/cli)",
    ]
    if components:
        lines += [
            f"  Airflow UI    {b.endpoint}/  (REST API {b.home.flavour.rest_prefix}, also through "
            "InvokeRestApi; Airflow itself on "
            f"http://{info.airflow_ui_url}, loopback only)",
            f"                log in with `mwaa ui`, or as 'admin' with the password in "
            f"{b.home.passwords_path} (0600)",
            f"                in a browser: {_browser_url(b.endpoint, info.name)}  (a host name of "
            "its own: its login cookies stay its own)",
            f"  components    {', '.join(components)}",
            f"  backend       {b.home.backend.describe()}",
        ]
    else:
        lines.append("  components    none (--no-scheduler): CLI only, triggered runs stay queued")
    runtime = b.home.runtime
    python = runtime.python_version
    differs = (
        ""
        if python.startswith(runtime.version.python + ".")
        else (f"; MWAA runs Python {runtime.version.python}")
    )
    lines.append(f"  runtime       {runtime.root} (Python {python}{differs})")
    if b.built is not None:
        for note in b.built.notes:
            lines.append(f"  environment   {note}")
        for problem in b.built.problems:
            lines.append(f"  FAILED        {problem}")
    lines += [
        f"  executor      {opts.executor} (--executor), at most {opts.concurrency} commands "
        f"at once, {opts.command_timeout:.0f} s each; up to {opts.queue_size} more wait "
        f"{opts.queue_wait:.0f} s for a slot",
        f"  DAGs folder   {b.dags}",
        f"  home          {b.root}",
        "",
        f"Point any AWS tool at it: source {b.env_file}  (0600; it sets these)",
        *(
            f"  export {k}={shlex.quote(v) if k != 'AWS_SECRET_ACCESS_KEY' else '…'}"
            for k, v in b.exports.items()
        ),
    ]
    if b.profile is not None:
        lines += [
            f"  (AWS profile '{b.profile}' holds the region, endpoint and key pair: in that shell",
            "   `aws --profile OTHER` and `mwaa --env OTHER` still reach real AWS; without it,",
            f"   use --profile {b.profile})",
        ]
    else:
        lines += [
            "  (--no-profile: these variables send every AWS profile's MWAA calls from that",
            "   shell here)",
        ]
    lines += [
        "  (requests are checked with AWS SigV4 against this environment's own key pair,",
        f"   kept in {b.root / 'credentials.json'}; delete it and restart to rotate)",
        *(
            [
                f"  (HTTPS with a local CA: {b.root / 'tls' / 'ca.pem'}; the bundle above adds",
                "   it to the CA bundle in effect - or the public roots - so real AWS keeps",
                "   working in that shell)",
            ]
            if opts.tls
            else ["  WARNING: plain HTTP (--insecure-http): tokens travel unencrypted"]
        ),
        "",
        f"  mwaa run --env {info.name} -- dags list",
        f"  aws mwaa create-cli-token --name {info.name}",
        "",
        "Press Ctrl-C to stop.",
    ]
    return "\n".join(lines)
