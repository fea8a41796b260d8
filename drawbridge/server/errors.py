"""The one table from the layers' errors to HTTP statuses, and the handler that uses it.

The channel and bridge layers raise errors named after what went wrong; only the server
knows HTTP. An error family not in the table is a 400: the request asked for something the
layer refused.
"""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import JSONResponse

from drawbridge.bridge.bridging_requests import UnknownRequest
from drawbridge.bridge.errors import BridgeError
from drawbridge.bridge.recipes import UnknownRecipe
from drawbridge.channel.errors import (
    ChannelError,
    DuplicateFile,
    HomeError,
    IndexFailure,
    InvalidDistribution,
    InvalidName,
    StorageFailure,
    StorageFull,
    UnknownChannel,
    UnknownProject,
)

#: most specific first: the first class an error is an instance of decides its status
STATUS_BY_ERROR: tuple[tuple[type[Exception], int], ...] = (
    (DuplicateFile, 409),
    (UnknownChannel, 404),
    (UnknownProject, 404),
    (UnknownRequest, 404),
    (UnknownRecipe, 404),
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


async def error_response(_request: Request, error: Exception) -> JSONResponse:
    """Answer an error a layer raised on purpose with its status and message."""
    return JSONResponse({"detail": str(error)}, status_code=status_for(error))
