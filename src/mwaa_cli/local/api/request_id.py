"""``x-amzn-RequestId`` on every answer, as AWS sends it (errors included): botocore puts it
in ``ResponseMetadata.RequestId`` and users quote it. Each request gets a fresh UUID (kept
in ``scope["state"]["request_id"]`` for the handlers' logs); a reply that already carries
one - the environment's own, forwarded by a region - keeps it. Error replies are logged
with it in the audit log (``HOME/logs/audit.log``), so a quoted id finds its line."""

from __future__ import annotations

import logging
import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

HEADER = b"x-amzn-requestid"
log = logging.getLogger("mwaa_cli.local.audit")


class RequestId:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = str(uuid.uuid4())
        scope.setdefault("state", {})["request_id"] = request_id

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                found = next((v for k, v in headers if k.lower() == HEADER), None)
                if found is None:
                    headers.append((b"x-amzn-RequestId", request_id.encode()))
                status = message["status"]
                if status >= 400:
                    log.info(
                        "request_id=%s %s %s status=%d",
                        found.decode() if found else request_id,
                        scope.get("method"),
                        scope.get("path"),
                        status,
                    )
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_id)
