"""Uploads: twine's legacy upload API at `/<channel>/upload/`, for wheels, sdists and conda
packages, and a release's docs (`:action=doc_upload`, as devpi's `upload --with-docs`).
Who may upload, and add to which project, is `channel.access`'s decision: 404 for a
channel the token may not read, 401 without a token, 403 for a token that may not upload
there or a project another group owns."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile

from drawbridge.channel.distributions import ExpectedDigests
from drawbridge.channel.storage import copy_stream_to_temporary
from drawbridge.channel.tokens import Role
from drawbridge.server.channel_paths import CHANNEL
from drawbridge.server.auth import require
from drawbridge.server.context import context

router = APIRouter()


@router.post(CHANNEL + "/upload/", summary="Upload a file (twine's API)")
@router.post(CHANNEL + "/upload", include_in_schema=False)
async def upload(request: Request, channel: str) -> Response:
    ctx = context(request)
    ctx.check_read(request, channel)
    identity = ctx.identity(request)
    require(identity, Role.uploader, f"uploading to {channel!r}")
    ctx.access.check_upload(identity, channel)
    limit = ctx.home.server.max_upload_bytes
    length = request.headers.get("content-length")
    if length is None:
        raise HTTPException(411, "send a Content-Length header")
    if not (length.isascii() and length.isdigit()):
        raise HTTPException(400, f"Content-Length {length!r} is not a number of bytes")
    if int(length) > limit + 64 * 1024:
        raise HTTPException(413, f"upload of {length} bytes exceeds the limit of {limit} bytes")
    # closed on the way out: a parsed upload is a SpooledTemporaryFile (on disk past 1 MiB)
    async with request.form(max_files=1, max_fields=200) as form:
        content = form.get("content")
        if not isinstance(content, UploadFile) or not content.filename:
            raise HTTPException(400, "the form has no 'content' file")
        action = form.get(":action", "file_upload")
        if action not in ("file_upload", "doc_upload"):
            raise HTTPException(400, f"unsupported :action {action!r}; file_upload or doc_upload")
        expected = ExpectedDigests(
            sha256=_field(form, "sha256_digest"),
            md5=_field(form, "md5_digest"),
            blake2b_256=_field(form, "blake2_256_digest"),
        )
        filename = content.filename
        release = (_field(form, "name"), _field(form, "version"))  # a doc_upload's
        try:
            incoming = await run_in_threadpool(
                copy_stream_to_temporary, content.file, ctx.home.incoming_dir, limit
            )
        except ValueError:
            raise HTTPException(
                413, f"the file exceeds the upload limit of {limit} bytes"
            ) from None
    if action == "doc_upload":  # devpi's `upload --with-docs`: the release's docs' zip
        return await _doc_upload(ctx, channel, identity, incoming, *release)
    try:
        published = await run_in_threadpool(
            ctx.channels.publish,
            channel,
            incoming,
            filename,
            identity.user,
            expected,
            True,
            identity,
        )
    finally:
        incoming.unlink(missing_ok=True)
    done = "already published" if published.already_published else "published"
    return Response(f"{done} {published.filename}\n", media_type="text/plain")


async def _doc_upload(  # type: ignore[no-untyped-def]
    ctx, channel: str, identity, incoming, project: str | None, version: str | None
) -> Response:
    try:
        if not project or not version:
            raise HTTPException(400, "a doc_upload names the release: 'name' and 'version'")
        await run_in_threadpool(ctx.access.claim_project, identity, channel, project)
        kept = await run_in_threadpool(
            ctx.docs.upload, channel, project, version, incoming, identity.user
        )
    finally:
        incoming.unlink(missing_ok=True)
    where = f"/{channel}/docs/{kept.project}/{kept.version}/"
    return Response(f"docs of {kept.project} {kept.version} at {where}\n", media_type="text/plain")


def _field(form: FormData, name: str) -> str | None:
    value = form.get(name)
    return value if isinstance(value, str) and value else None
