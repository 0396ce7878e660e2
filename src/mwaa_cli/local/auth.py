"""AWS Signature Version 4 verification for the control plane, with botocore's own signer.

The server recomputes the signature of each request with botocore's ``SigV4Auth`` (the code
that signed it on the client side) from the headers the client says it signed, and compares
in constant time. Errors carry the codes real AWS uses, so boto3 raises what users expect.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import re
import secrets
import string
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from .._files import write_private

MAX_SKEW = dt.timedelta(minutes=5)  # AWS's limit
_AUTH_RE = re.compile(
    r"AWS4-HMAC-SHA256 Credential=(?P<cred>[^,\s]+),\s*SignedHeaders=(?P<signed>[^,\s]+),"
    r"\s*Signature=(?P<sig>[0-9a-f]{64})$"
)


class AuthFailure(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


@dataclass(frozen=True)
class AccessKey:
    access_key_id: str
    secret_access_key: str

    def __repr__(self) -> str:
        return f"AccessKey({self.access_key_id!r}, secret='***')"


def _new_key() -> AccessKey:
    alphabet = string.ascii_uppercase + string.digits
    return AccessKey(
        "AKIAMWAA" + "".join(secrets.choice(alphabet) for _ in range(12)),
        secrets.token_urlsafe(30)[:40],
    )


def load_or_create_key(path: Path) -> AccessKey:
    """The environment's access key pair, generated on first start and kept 0600."""
    try:
        doc = json.loads(path.read_text())
        return AccessKey(doc["AccessKeyId"], doc["SecretAccessKey"])
    except (OSError, ValueError, KeyError):
        pass
    key = _new_key()
    doc = {"AccessKeyId": key.access_key_id, "SecretAccessKey": key.secret_access_key}
    write_private(path, json.dumps(doc).encode())
    return key


def load_or_create_role_keys(path: Path, roles: list[str]) -> dict[str, AccessKey]:
    """One more key pair per Airflow role (role -> key; ``none``: a caller without
    airflow:InvokeRestApi), generated on first start and kept 0600: MWAA picks the role
    from the caller's IAM policy, a local environment from the caller's key."""
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError):
        doc = {}
    keys = {}
    for role in roles:
        entry = doc.get(role)
        if not isinstance(entry, dict) or not {"AccessKeyId", "SecretAccessKey"} <= entry.keys():
            key = _new_key()
            entry = doc[role] = {
                "AccessKeyId": key.access_key_id,
                "SecretAccessKey": key.secret_access_key,
            }
        keys[role] = AccessKey(entry["AccessKeyId"], entry["SecretAccessKey"])
    write_private(path, json.dumps(doc, indent=1).encode())
    return keys


class SigV4Verifier:
    """Checks that a request was signed (service ``airflow``) with a known key."""

    def __init__(
        self, keys: list[AccessKey], region: str, service: str = "airflow", sessions=None
    ) -> None:
        self.keys = tuple(keys)
        self._secrets = {k.access_key_id: k.secret_access_key for k in keys}
        self.region = region
        self.service = service
        self.sessions = sessions  # a SessionStore: AssumeRole's temporary credentials

    def secret_of(self, key_id: str) -> str | None:
        return self._secrets.get(key_id)

    def verify(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        body: bytes,
        now: dt.datetime | None = None,
    ) -> str:
        """Return the access key id of a validly signed request; raise :class:`AuthFailure`.

        ``url`` is the request's URL with its path and query exactly as sent; ``headers``
        maps lower-case names to values.
        """
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest
        from botocore.credentials import Credentials

        auth = headers.get("authorization")
        if not auth:
            raise AuthFailure(
                403, "MissingAuthenticationTokenException", "Missing Authentication Token"
            )
        match = _AUTH_RE.match(auth.strip())
        if not match:
            raise AuthFailure(
                400,
                "IncompleteSignatureException",
                "Authorization header requires AWS4-HMAC-SHA256 Credential, "
                "SignedHeaders and Signature",
            )
        parts = match["cred"].split("/")
        if len(parts) != 5 or parts[4] != "aws4_request":
            raise AuthFailure(400, "IncompleteSignatureException", "malformed Credential scope")
        key_id, day, region, service, _ = parts
        secret = self._secrets.get(key_id)
        session = self.sessions.get(key_id) if secret is None and self.sessions else None
        if session is not None:
            if "x-amz-security-token" not in match["signed"].split(";") or not (
                session.token_matches(headers.get("x-amz-security-token"))
            ):
                raise AuthFailure(
                    403,
                    "UnrecognizedClientException",
                    "The security token included in the request is invalid.",
                )
            secret = session.secret_access_key
        if secret is None:
            raise AuthFailure(
                403,
                "UnrecognizedClientException",
                "The security token included in the request is invalid.",
            )
        amz_date = headers.get("x-amz-date", "")
        try:
            when = dt.datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.timezone.utc)
        except ValueError:
            raise AuthFailure(
                400, "IncompleteSignatureException", "missing or malformed X-Amz-Date"
            ) from None
        now = now or dt.datetime.now(dt.timezone.utc)
        if abs(now - when) > MAX_SKEW:
            raise AuthFailure(
                403,
                "InvalidSignatureException",
                f"Signature expired: {amz_date} is now earlier than "
                f"{(now - MAX_SKEW):%Y%m%dT%H%M%SZ} ({now:%Y%m%dT%H%M%SZ} - 5 min.)"
                if when < now
                else f"Signature not yet current: {amz_date} is still later than "
                f"{(now + MAX_SKEW):%Y%m%dT%H%M%SZ}",
            )
        if day != amz_date[:8] or service != self.service:
            raise AuthFailure(
                403,
                "InvalidSignatureException",
                f"Credential should be scoped to a valid date and service '{self.service}'",
            )
        if region != self.region:
            raise AuthFailure(
                403,
                "InvalidSignatureException",
                f"Credential should be scoped to a valid region: '{self.region}'",
            )
        signed = match["signed"].split(";")
        if "host" not in signed:
            raise AuthFailure(403, "InvalidSignatureException", "the host header must be signed")
        declared = headers.get("x-amz-content-sha256")
        if (
            declared
            and "x-amz-content-sha256" in signed
            and declared not in (hashlib.sha256(body).hexdigest(), "UNSIGNED-PAYLOAD")
        ):
            raise AuthFailure(
                400,
                "XAmzContentSHA256Mismatch",
                "The provided 'x-amz-content-sha256' header does not match",
            )
        try:
            request = AWSRequest(
                method=method, url=url, data=body, headers={h: headers.get(h, "") for h in signed}
            )
            request.context["timestamp"] = amz_date
            signer = SigV4Auth(Credentials(key_id, secret), service, region)
            expected = signer.signature(
                signer.string_to_sign(request, signer.canonical_request(request)), request
            )
        except Exception:  # a request botocore cannot canonicalise is not validly signed
            expected = ""
        if not hmac.compare_digest(expected, match["sig"]):
            raise AuthFailure(
                403,
                "InvalidSignatureException",
                "The request signature we calculated does not match the "
                "signature you provided. Check your AWS Secret Access Key and "
                "signing method.",
            )
        return key_id
