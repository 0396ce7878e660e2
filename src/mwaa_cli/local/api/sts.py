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
        if action != "GetCallerIdentity":
            raise StsError(400, "InvalidAction", f"{action[:50]!r} is not supported here")
        try:
            app.authorize(request, "GetCallerIdentity", "*")
        except AwsError as exc:
            raise StsError(403, "AccessDenied", exc.message) from None
        key_id = getattr(request.state, "access_key_id", "AKIAUNSIGNED")
        account = app.env.account
        reply = (
            '<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">'
            "<GetCallerIdentityResult>"
            f"<Arn>arn:aws:iam::{account}:user/mwaa-local-{escape(app.env.name)}</Arn>"
            f"<UserId>{escape(key_id)}</UserId><Account>{account}</Account>"
            "</GetCallerIdentityResult>"
            f"<ResponseMetadata><RequestId>{uuid.uuid4()}</RequestId></ResponseMetadata>"
            "</GetCallerIdentityResponse>"
        )
        return Response(reply, media_type="text/xml")

    return [Route("/", sts, methods=["POST"])]
