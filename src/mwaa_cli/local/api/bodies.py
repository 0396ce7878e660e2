"""Reading request bodies with a size cap and a deadline, before anything else looks at them.

Nothing is buffered past the cap: a declared ``Content-Length`` over it is refused before a
byte is read, a chunked body as soon as it passes it. A client that stops sending gets a
408 after the deadline instead of holding the connection.
"""

from __future__ import annotations

from collections.abc import Callable

import anyio
from starlette.requests import ClientDisconnect, Request

from .errors import ApiError, Disconnected

ErrorFactory = Callable[[int, str, str], ApiError]


async def read_body(request: Request, *, limit: int, timeout: float, error: ErrorFactory) -> bytes:
    """The whole body of ``request``; raises ``error(413|408, code, message)`` or
    :class:`Disconnected`."""
    declared = request.headers.get("content-length", "")
    if declared.isascii() and declared.isdigit() and int(declared) > limit:
        raise _closing(error(413, "RequestEntityTooLarge", _too_large(limit)))
    chunks: list[bytes] = []
    size = 0
    try:
        with anyio.fail_after(timeout):
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise _closing(error(413, "RequestEntityTooLarge", _too_large(limit)))
                chunks.append(chunk)
    except TimeoutError:
        raise _closing(
            error(408, "RequestTimeout", f"the request body did not arrive within {timeout:g} s")
        ) from None
    except ClientDisconnect:
        raise Disconnected() from None
    return b"".join(chunks)


def _closing(exc: ApiError) -> ApiError:
    """The rest of the body is never read: the connection closes after the reply."""
    exc.headers["connection"] = "close"
    return exc


def _too_large(limit: int) -> str:
    return f"the request body exceeds {limit} bytes"
