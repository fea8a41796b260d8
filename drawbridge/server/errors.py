"""The one table from the layers' errors to HTTP statuses, and how an error is answered.

The channel and bridge layers raise errors named after what went wrong; only the server
knows HTTP. An error family not in the table is a 400: the request asked for something the
layer refused.

Every error (the layers', FastAPI's and Starlette's HTTP exceptions, a failed validation, an
unexpected exception) is answered by `error_answer`: an HTML page for the web UI and for a
browser (a client whose first choice is `text/html`), `{"detail": ...}` JSON for tools.
"""

from __future__ import annotations

from collections.abc import Mapping

from fastapi import Request
from fastapi.exception_handlers import request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from drawbridge.bridge.bridging_requests import UnknownRequest
from drawbridge.bridge.errors import BridgeError
from drawbridge.bridge.farm.jobs import JobRefused, UnknownJob
from drawbridge.bridge.farm.outputs import OutputsRefused
from drawbridge.bridge.recipes.book import UnknownRecipe
from drawbridge.channel.errors import (
    BaseCycle,
    AccountExists,
    ChannelError,
    DuplicateFile,
    HomeError,
    IndexFailure,
    InvalidDistribution,
    InvalidName,
    InvalidPermission,
    PermissionDenied,
    ReadOnlyReplica,
    StorageFailure,
    StorageFull,
    UnknownAccount,
    UnknownChannel,
    UnknownProject,
)
from drawbridge.channel.mutability import RemovalRefused
from drawbridge.server.pages import UI_TAG, error_page, prefers_html

#: most specific first: the first class an error is an instance of decides its status
STATUS_BY_ERROR: tuple[tuple[type[Exception], int], ...] = (
    (DuplicateFile, 409),
    (RemovalRefused, 409),  # the channel's mutability keeps its files
    (BaseCycle, 409),
    (AccountExists, 409),
    (PermissionDenied, 403),
    (ReadOnlyReplica, 403),  # a replica: changes are made on its primary
    (UnknownAccount, 404),
    (InvalidPermission, 400),
    (UnknownChannel, 404),
    (UnknownProject, 404),
    (UnknownRequest, 404),
    (UnknownRecipe, 404),
    (UnknownJob, 404),
    (OutputsRefused, 422),  # verified and refused: nothing was published
    (JobRefused, 409),  # a job this agent does not hold (any more)
    (InvalidDistribution, 400),
    (InvalidName, 400),
    (HomeError, 500),
    (StorageFull, 507),  # Insufficient Storage: the disk or quota is full, nothing was published
    (StorageFailure, 500),
    (IndexFailure, 500),
    (ChannelError, 400),
    (BridgeError, 400),
)
HANDLED_ERRORS = (ChannelError, BridgeError)


def status_for(error: Exception) -> int:
    """The HTTP status that answers `error`."""
    return next((status for kind, status in STATUS_BY_ERROR if isinstance(error, kind)), 500)


def wants_html(request: Request) -> bool:
    """Whether an error should be a page: for a route of the web UI (tagged `UI_TAG`), for
    `/` and `/ui/...` when no route matched, and for a client that prefers HTML."""
    route = request.scope.get("route")
    if UI_TAG in (getattr(route, "tags", None) or ()):
        return True
    path = request.scope.get("path", "")
    return path == "/" or path.startswith("/ui/") or prefers_html(request.headers.get("accept"))


def error_answer(
    request: Request,
    status: int,
    detail: str,
    headers: Mapping[str, str] | None = None,
    page: bool = False,
) -> Response:
    """The answer to a failed request: an HTML page or `{"detail": ...}` (see `wants_html`;
    `page` for a request that a web UI route would have answered)."""
    if page or wants_html(request):
        return error_page(status, detail, request.scope.get("root_path", "") + "/", headers)
    return JSONResponse({"detail": detail}, status_code=status, headers=headers)


async def error_response(request: Request, error: Exception) -> Response:
    """Answer an error a layer raised on purpose with its status and message."""
    return error_answer(request, status_for(error), str(error))


async def http_error_response(request: Request, error: Exception) -> Response:
    """Answer an HTTPException a route raised, or a 404/405 from the router."""
    assert isinstance(error, StarletteHTTPException)
    if error.status_code in (204, 304):
        return Response(status_code=error.status_code, headers=error.headers)
    # starlette types it str; FastAPI's HTTPException (a subclass) carries any JSON value
    detail: object = error.detail
    if not isinstance(detail, str):  # structured details are for tools
        return JSONResponse(
            {"detail": detail}, status_code=error.status_code, headers=error.headers
        )
    return error_answer(request, error.status_code, detail, error.headers)


async def validation_error_response(request: Request, error: Exception) -> Response:
    """A request FastAPI could not parse: FastAPI's own 422 for tools, a page for browsers."""
    assert isinstance(error, RequestValidationError)
    if not wants_html(request):
        return await request_validation_exception_handler(request, error)
    problems = "; ".join(
        f"{'.'.join(str(part) for part in problem.get('loc', ()))}: {problem.get('msg', '')}"
        for problem in error.errors()
    )
    return error_answer(request, 422, f"the request is not valid: {problems}")


async def internal_error_response(request: Request, _error: Exception) -> Response:
    """An exception nothing expected: a 500 naming no detail (the server's log has the
    traceback), as a page or JSON like every other error."""
    return error_answer(request, 500, "internal server error: the server's log names the cause")


#: (error class, handler) for `app.add_exception_handler`, most specific first
EXCEPTION_HANDLERS = (
    *((family, error_response) for family in HANDLED_ERRORS),
    (StarletteHTTPException, http_error_response),
    (RequestValidationError, validation_error_response),
    (Exception, internal_error_response),
)
