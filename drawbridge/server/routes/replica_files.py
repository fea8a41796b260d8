"""`GET /api/files/sha256/<hex>` on a primary: a recorded file, whatever its channel, for
a replica that shows the primary's `[server] replica_token` (as a bearer token). Files
are immutable and named by their sha256, so the replica checks what it gets against its
own copy of the record."""

from __future__ import annotations

import hmac
import re

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response

from drawbridge.channel.replica_store import stored_file
from drawbridge.server.context import REPLICA_FILES_PREFIX, context
from drawbridge.server.responses import CACHE_IMMUTABLE, file_response

router = APIRouter()
SHA256 = re.compile(r"[0-9a-f]{64}")


@router.api_route(
    REPLICA_FILES_PREFIX + "{sha256}", methods=["GET", "HEAD"], include_in_schema=False
)
def file_by_sha256(request: Request, sha256: str) -> Response:
    ctx = context(request)
    wanted = ctx.home.server.replica_token
    if not wanted:
        raise HTTPException(404, "this server has no replicas: [server] replica_token is not set")
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.encode(), wanted.encode()):
        raise HTTPException(
            403, "fetching files by sha256 needs the primary's [server] replica_token as a bearer"
        )
    path = stored_file(ctx.database, ctx.home, sha256) if SHA256.fullmatch(sha256) else None
    if path is None:
        raise HTTPException(404, f"no recorded file has sha256 {sha256}")
    return file_response(request, path, "application/octet-stream", CACHE_IMMUTABLE)
