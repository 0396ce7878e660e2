"""What each key pair may call, as the IAM policy behind such a caller on MWAA would allow.

The environment's (or region's) own key pair is its administrator: every operation. The
extra key pairs of ``role-keys.json`` exist to rehearse Airflow roles, so each gets what
MWAA's documented policies give such a user - and nothing else:

- ``Admin``, ``Op``, ``User``, ``Viewer``, ``Public``: read-only access
  (AmazonMWAAReadOnlyAccess: GetEnvironment, ListEnvironments, ListTagsForResource) plus
  the web server access and REST API policies for that role (CreateWebLoginToken and
  InvokeRestApi on ``role/ENV/ROLE``);
- ``web-login``: read-only plus web server access as Admin, no InvokeRestApi (the caller
  Amazon's provider falls back to the web login for);
- ``none``: read-only access alone.

No role key may create, update, delete or tag environments, or get a CLI token (MWAA's CLI
policy is its own, and a CLI token is an administrator's Airflow CLI).
"""

from __future__ import annotations

from collections.abc import Mapping

from .airflow_rest import ROLES

WEB_LOGIN = "web-login"
NONE = "none"
KEY_NAMES = [*ROLES, NONE, WEB_LOGIN]  # the key pairs of role-keys.json

READ_ONLY = frozenset(
    {"GetEnvironment", "ListEnvironments", "ListTagsForResource", "GetCallerIdentity"}
)
_ALLOWED: dict[str, frozenset[str]] = {
    **{role: READ_ONLY | {"CreateWebLoginToken", "InvokeRestApi"} for role in ROLES},
    WEB_LOGIN: READ_ONLY | {"CreateWebLoginToken"},
    NONE: READ_ONLY,
}


def web_login_role(key_name: str | None) -> str:
    """The Airflow role a web login by this key gets (the administrator's: Admin)."""
    return key_name if key_name in ROLES else "Admin"


def authorize(
    key_names: Mapping[str, str],
    access_key_id: str | None,
    operation: str,
    resource: str,
    account: str,
) -> None:
    """Raise AccessDeniedException unless the key may call ``operation`` on ``resource``."""
    name = key_names.get(access_key_id or "")
    if name is None or operation in _ALLOWED.get(name, frozenset()):
        return
    from .api.errors import AwsError  # (the api package imports this module)

    # for InvokeRestApi, MWAA's message names the Airflow role: Amazon's provider looks
    # for "Airflow role" in it before it falls back to the web login
    scope = " as any Airflow role" if operation == "InvokeRestApi" else ""
    raise AwsError(
        403,
        "AccessDeniedException",
        f"User: arn:aws:iam::{account}:user/{access_key_id} is not authorized to perform: "
        f"airflow:{operation} on resource: {resource} because no identity-based policy "
        f"allows the airflow:{operation} action{scope} (the '{name}' key of role-keys.json)",
    )
