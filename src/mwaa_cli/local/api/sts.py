"""STS GetCallerIdentity (query protocol), so that identity checks work locally."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING
from urllib.parse import parse_qs
from xml.sax.saxutils import escape

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .control_plane import verify_sigv4
from .errors import AwsError, StsError

if TYPE_CHECKING:
    from . import LocalApp

# STS spells some of the codes the airflow service uses differently
_CODES = {
    "UnrecognizedClientException": "InvalidClientTokenId",
    "InvalidSignatureException": "SignatureDoesNotMatch",
}


def _sts_error(status: int, code: str, message: str) -> StsError:
    code = _CODES.get(code, code)
    return StsError(status, code.removesuffix("Exception"), message)


def routes(app: LocalApp) -> list[Route]:
    async def sts(request: Request) -> Response:
        body = await verify_sigv4(request, app, app.sts_verifier, error=_sts_error)
        form = parse_qs(body.decode("utf-8", "replace"))
        action = (form.get("Action") or [""])[0]
        if action not in ("GetCallerIdentity", "AssumeRole"):
            raise StsError(400, "InvalidAction", f"{action[:50]!r} is not supported here")
        try:
            app.authorize(request, "GetCallerIdentity", "*")
        except AwsError as exc:
            raise StsError(403, "AccessDenied", exc.message) from None
        if action == "AssumeRole":
            return _assume_role(app, request, form)
        account = app.env.account
        signed_with = getattr(request.state, "signed_with", "AKIAUNSIGNED")
        session = app.verifier.sessions.get(signed_with) if app.verifier.sessions else None
        if session is not None:
            arn = f"arn:aws:sts::{account}:assumed-role/{session.role_name}/{session.session_name}"
            user_id = f"AROAMWAA{session.parent[-12:]}:{session.session_name}"
        else:
            arn = f"arn:aws:iam::{account}:user/mwaa-local-{app.env.name}"
            user_id = signed_with
        return _xml(
            "GetCallerIdentity",
            f"<Arn>{escape(arn)}</Arn><UserId>{escape(user_id)}</UserId>"
            f"<Account>{account}</Account>",
        )

    return [Route("/", sts, methods=["POST"])]


def _xml(action: str, result: str) -> Response:
    return Response(
        f'<{action}Response xmlns="https://sts.amazonaws.com/doc/2011-06-15/">'
        f"<{action}Result>{result}</{action}Result>"
        f"<ResponseMetadata><RequestId>{uuid.uuid4()}</RequestId></ResponseMetadata>"
        f"</{action}Response>",
        media_type="text/xml",
    )


def _assume_role(app, request: Request, form: dict) -> Response:
    """Temporary credentials (:mod:`..sessions`), as STS's AssumeRole returns them."""
    import datetime as dt

    from ..policies import KEY_NAMES
    from ..sessions import ROLE_ARN, SESSION_NAME, SessionStore

    role_arn = (form.get("RoleArn") or [""])[0]
    name = (form.get("RoleSessionName") or [""])[0]
    duration_text = (form.get("DurationSeconds") or ["3600"])[0]
    if not ROLE_ARN.fullmatch(role_arn):
        raise StsError(400, "ValidationError", f"{role_arn[:100]!r} is not a valid role ARN")
    if not SESSION_NAME.fullmatch(name):
        raise StsError(
            400,
            "ValidationError",
            "1 validation error detected: Value at 'roleSessionName' failed to satisfy "
            "constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]* and "
            "have length between 2 and 64",
        )
    if not duration_text.isdigit() or not 900 <= int(duration_text) <= 43200:
        raise StsError(
            400, "ValidationError", "DurationSeconds must be between 900 and 43200 seconds"
        )
    verifier = app.verifier
    if verifier.sessions is None:
        verifier.sessions = SessionStore()
    if app.sts_verifier is not None:
        app.sts_verifier.sessions = verifier.sessions
    parent = request.state.access_key_id
    session = verifier.sessions.issue(
        parent,
        app.key_names.get(parent),
        role_arn,
        name,
        int(duration_text),
        set(KEY_NAMES),
    )
    expires = dt.datetime.fromtimestamp(session.expires, dt.timezone.utc)
    account = app.env.account
    return _xml(
        "AssumeRole",
        "<Credentials>"
        f"<AccessKeyId>{session.access_key_id}</AccessKeyId>"
        f"<SecretAccessKey>{session.secret_access_key}</SecretAccessKey>"
        f"<SessionToken>{session.token}</SessionToken>"
        f"<Expiration>{expires:%Y-%m-%dT%H:%M:%SZ}</Expiration>"
        "</Credentials>"
        "<AssumedRoleUser>"
        f"<AssumedRoleId>AROAMWAA{parent[-12:]}:{escape(name)}</AssumedRoleId>"
        f"<Arn>arn:aws:sts::{account}:assumed-role/{escape(session.role_name)}/{escape(name)}</Arn>"
        "</AssumedRoleUser>",
    )
