"""Which certificates to trust: the user's, plus a local environment's CA for its own endpoint.

A CA bundle the user set (``AWS_CA_BUNDLE``, a profile's ``ca_bundle``) is never replaced.
A local environment's CA is added only for an endpoint that *is* a local environment of
ours, recognised by identity: the endpoint recorded by the server running on a home under
``$MWAA_CLI_HOME/local`` (or by the local region, ``$MWAA_CLI_HOME/region``) - not "any
loopback endpoint", so a second environment elsewhere, or another local service, is
verified as the user configured.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from .._files import make_private_dir, write_private
from ..paths import LocalLayout, local_homes, state_dir
from .transport import _origin


@dataclass(frozen=True)
class Trust:
    """``verify``: the file boto3 verifies the control plane with (None: its default);
    ``web_ca``: the file the web server is verified with ("" = the default roots)."""

    verify: str | None
    web_ca: str


def local_environment_of(endpoint_url: str) -> LocalLayout | None:
    """The home of the local environment serving ``endpoint_url``, if it is one of ours."""
    if not endpoint_url.startswith("https://"):
        return None
    wanted = _origin(endpoint_url)
    try:
        homes = sorted(local_homes().iterdir())
    except OSError:
        homes = []
    for home in [*homes, state_dir() / "region"]:  # environments of `serve`, the region
        layout = LocalLayout(home)
        try:
            owner = json.loads(layout.owner.read_text() or "{}")
        except (OSError, ValueError):
            continue
        recorded = owner.get("endpoint")
        if recorded and _origin(recorded) == wanted and layout.ca_cert.is_file():
            return layout
    return None


def trust_for(endpoint_url: str, user_bundle: str | None) -> Trust:
    """What to verify ``endpoint_url`` (and the web server it hands out) with."""
    layout = local_environment_of(endpoint_url)
    if layout is None:
        return Trust(None, user_bundle or "")
    # its own server certificate is signed by its CA alone, which loads in well under a
    # millisecond (the bundle with the public roots takes ~18 ms)
    web_ca = str(layout.ca_cert)
    if not user_bundle or Path(user_bundle).resolve() == layout.ca_bundle.resolve():
        return Trust(str(layout.ca_bundle), web_ca)
    return Trust(combined_bundle(user_bundle, layout.ca_cert), web_ca)


def combined_bundle(user_bundle: str, ca_cert: Path) -> str:
    """A file holding the user's bundle followed by ``ca_cert`` (cached, 0600)."""
    try:
        data = Path(user_bundle).read_bytes() + b"\n" + ca_cert.read_bytes()
    except OSError:
        return user_bundle  # unreadable: let botocore report it as the user configured it
    digest = hashlib.sha256(data).hexdigest()[:24]
    path = state_dir() / "cache" / f"ca-{digest}.pem"
    if not path.exists():
        make_private_dir(path.parent)
        write_private(path, data)
    return str(path)
