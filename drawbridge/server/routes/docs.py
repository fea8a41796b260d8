"""Hosted documentation: `/<channel>/docs/<project>/<version>/…` (and `latest/`) served
with the channel's read permissions, and uploaded by whoever may upload to the channel
(`POST /<channel>/docs/<project>/<version>/` with the zip as `content`; twine-style tools
use `/<channel>/upload/` with `:action=doc_upload`, `routes.upload`).

Docs are other people's HTML and JavaScript on the server's own origin, so every answer
carries a CSP whose `sandbox` (scripts allowed, `allow-same-origin` not) puts the page in
an opaque origin of its own: its scripts cannot read the UI's cookies or storage, and
what they fetch from the server goes without the user's credentials and cannot be read.
"""

from __future__ import annotations

import mimetypes
from pathlib import Path

from fastapi import APIRouter, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import UploadFile

from drawbridge.channel.storage import copy_stream_to_temporary
from drawbridge.channel.tokens import Role
from drawbridge.server.auth import require
from drawbridge.server.channel_paths import CHANNEL
from drawbridge.server.context import context
from drawbridge.server.responses import file_response

router = APIRouter()
#: what every docs answer says: a sandbox without the server's origin, nothing from outside
DOCS_HEADERS = {
    "Content-Security-Policy": (
        "sandbox allow-scripts allow-popups allow-forms; default-src 'self' 'unsafe-inline' "
        "'unsafe-eval' data:; frame-ancestors 'self'; form-action 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
#: docs change when they are uploaded again: revalidated, not kept for a year
CACHE_DOCS = "no-cache"


@router.api_route(
    CHANNEL + "/docs/{project}/{version}",
    methods=["GET", "HEAD"],
    include_in_schema=False,
)
def docs_root(request: Request, channel: str, project: str, version: str) -> Response:
    context(request).check_read(request, channel)
    return RedirectResponse(request.url.path + "/", status_code=308)


@router.api_route(
    CHANNEL + "/docs/{project}/{version}/{path:path}",
    methods=["GET", "HEAD"],
    summary="A release's hosted documentation (`latest` for the newest documented)",
)
def docs_file(request: Request, channel: str, project: str, version: str, path: str) -> Response:
    ctx = context(request)
    ctx.check_read(request, channel)
    folder = ctx.docs.resolve(channel, project, version)
    if folder is None:
        raise HTTPException(404, f"no docs of {project} {version} in channel {channel!r}")
    found = _inside(folder, path)
    if found is None:
        raise HTTPException(404, f"no {path!r} in the docs of {project} {version}")
    media_type = mimetypes.guess_type(found.name)[0] or "application/octet-stream"
    if media_type.startswith("text/") or media_type.endswith(("javascript", "json")):
        media_type += "; charset=utf-8"
    answer = file_response(request, found, media_type, CACHE_DOCS)
    answer.headers.update(DOCS_HEADERS)
    return answer


def _inside(folder: Path, path: str) -> Path | None:
    """The file `path` names under `folder` (a folder's index.html), never outside it."""
    root = folder.resolve()
    candidate = (root / path).resolve()
    if not candidate.is_relative_to(root):
        return None
    if candidate.is_dir():
        candidate = candidate / "index.html"
    return candidate if candidate.is_file() else None


@router.post(CHANNEL + "/docs/{project}/{version}/", summary="Upload a release's docs (a zip)")
async def upload_docs(request: Request, channel: str, project: str, version: str) -> Response:
    ctx = context(request)
    ctx.check_read(request, channel)
    identity = ctx.identity(request)
    require(identity, Role.uploader, f"uploading docs to {channel!r}")
    ctx.access.check_upload(identity, channel)
    await run_in_threadpool(ctx.access.claim_project, identity, channel, project)
    limit = ctx.home.server.max_upload_bytes
    async with request.form(max_files=1, max_fields=20) as form:
        content = form.get("content")
        if not isinstance(content, UploadFile):
            raise HTTPException(400, "the form has no 'content' file (the docs' zip)")
        try:
            incoming = await run_in_threadpool(
                copy_stream_to_temporary, content.file, ctx.home.incoming_dir, limit
            )
        except ValueError:
            raise HTTPException(413, f"the zip exceeds the upload limit of {limit} bytes") from None
    try:
        kept = await run_in_threadpool(
            ctx.docs.upload, channel, project, version, incoming, identity.user
        )
    finally:
        incoming.unlink(missing_ok=True)
    where = f"/{channel}/docs/{kept.project}/{kept.version}/"
    return Response(f"docs of {kept.project} {kept.version} at {where}\n", media_type="text/plain")
