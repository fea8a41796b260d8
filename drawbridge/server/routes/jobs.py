"""`/api/agent/…`: what build agents ask (claim, download, heartbeat, log, fail, finish),
JSON over HTTP with a builder token; and `/api/jobs`, the jobs for anyone who may review.

Every agent route asks `access.check_builder` (the builder role, and the platforms its
token is limited to) and `JobBook.held` (the job is this agent's, its lease unexpired);
what is uploaded is verified by `farm.outputs.accept` before anything is published.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Header, Request
from fastapi.responses import FileResponse, JSONResponse, PlainTextResponse, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from drawbridge.bridge.farm.inputs import (
    approved_text,
    file_sha256,
    job_source,
    missing_sources,
    recipe_files,
)
from drawbridge.bridge.farm.jobs import HEARTBEAT_SECONDS, MOST_LOG, Job, JobRefused
from drawbridge.bridge.farm.outputs import accept
from drawbridge.bridge.farm.schedule import go_native, record_outcome
from drawbridge.bridge.recipes.target_build import source_hashes
from drawbridge.channel.access import check_builder
from drawbridge.channel.tokens import Identity
from drawbridge.channel.upstream_conda import UPSTREAM_PREFIX
from drawbridge.server.context import Context, context

router = APIRouter()
#: an agent's name: letters, digits and . _ - @ (the host name, say)
AGENT_NAME = r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,199}$"


class Claim(BaseModel):
    agent: str = Field(pattern=AGENT_NAME)
    platforms: list[str] = Field(min_length=1, max_length=20)
    pythons: list[str] = Field(default_factory=list, max_length=20)
    recipes: list[str] = Field(default_factory=list, max_length=1000)


class Beat(BaseModel):
    agent: str = Field(pattern=AGENT_NAME)
    log: str = ""


class Failure(Beat):
    reason: str = Field(max_length=20_000)


class Native(Beat):
    found: list[str] = Field(max_length=100)


def _builder(request: Request, platforms: list[str] = ()) -> tuple[Context, Identity]:  # type: ignore[assignment]
    ctx = context(request)
    identity = ctx.identity(request)
    check_builder(identity, platforms)
    return ctx, identity


def _held(request: Request, job_id: int, agent: str) -> tuple[Context, Identity, Job]:
    ctx, identity = _builder(request)
    job = ctx.jobs.held(job_id, identity.user, agent)
    check_builder(identity, [job.subdir])
    return ctx, identity, job


def job_json(job: Job, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "id": job.id,
        "recipe": job.recipe,
        "recipe_sha256": job.recipe_sha256,
        "channel": job.channel,
        "subdir": job.subdir,
        "python": job.python,
        "state": job.state,
        "agent": job.agent,
        "attempts": job.attempts,
        "seconds": job.seconds,
        "reason": job.reason,
        "note": job.note,
        **(extra or {}),
    }


@router.post("/api/agent/claim", summary="A build agent asks for a job (builder tokens)")
def claim(request: Request, body: Claim) -> Response:
    ctx, identity = _builder(request, body.platforms)
    while True:
        job = ctx.jobs.claim(
            identity.user, body.agent, [*body.platforms, "noarch"], body.pythons, body.recipes
        )
        if job is None:
            return Response(status_code=204)
        text = approved_text(ctx.recipes, job)
        missing = missing_sources(ctx.home.cache_dir, text)
        if not missing:
            break
        ctx.jobs.end(job.id, "failed", reason=missing)  # no agent could build it: the next
        record_outcome(ctx.jobs, ctx.recipes, job.recipe)
    recipe = ctx.recipes.get(job.recipe)
    return JSONResponse(
        job_json(
            job,
            {
                "version": recipe.version,
                "lease_seconds": ctx.jobs.lease.total_seconds(),
                "heartbeat_seconds": min(HEARTBEAT_SECONDS, ctx.jobs.lease.total_seconds() / 4),
                "files": {name: file_sha256(path) for name, path in recipe_files(recipe).items()},
                "sources": source_hashes(text),
                # the oldest systems the repaired wheels must run on (`wheel_repair`)
                "baseline": {
                    "glibc_minor": ctx.home.bridge.manylinux_glibc_minor,
                    "macos": {s: list(v) for s, v in ctx.home.bridge.macos.items()},
                },
                # relative to the server: the agent puts its own URL and token in front
                "channels": [
                    *(f"{UPSTREAM_PREFIX}/{name}" for name in ctx.upstream_mirrors),
                    f"{job.channel}/conda",
                ],
            },
        )
    )


@router.get("/api/agent/jobs/{job_id}/recipe", summary="The approved recipe of a held job")
def recipe_text(
    request: Request, job_id: int, agent: Annotated[str, Header()]
) -> PlainTextResponse:
    ctx, _identity, job = _held(request, job_id, agent)
    return PlainTextResponse(approved_text(ctx.recipes, job), media_type="application/yaml")


@router.get("/api/agent/jobs/{job_id}/files/{path:path}", summary="A file of a held job's recipe")
def recipe_file(
    request: Request, job_id: int, path: str, agent: Annotated[str, Header()]
) -> FileResponse:
    ctx, _identity, job = _held(request, job_id, agent)
    files = recipe_files(ctx.recipes.get(job.recipe))
    if path not in files:
        raise JobRefused(f"the recipe of job {job_id} has no file {path!r}")
    return FileResponse(files[path])


@router.get(
    "/api/agent/jobs/{job_id}/sources/{sha256}", summary="A source of a held job, by sha256"
)
def source(
    request: Request, job_id: int, sha256: str, agent: Annotated[str, Header()]
) -> FileResponse:
    ctx, _identity, job = _held(request, job_id, agent)
    found = job_source(ctx.home.cache_dir, approved_text(ctx.recipes, job), sha256)
    return FileResponse(found, filename=found.name)


@router.post(
    "/api/agent/jobs/{job_id}/heartbeat", summary="Extend a held job's lease; append to its log"
)
def heartbeat(request: Request, job_id: int, body: Beat) -> JSONResponse:
    ctx, identity = _builder(request)
    go_on = ctx.jobs.heartbeat(job_id, identity.user, body.agent, body.log)
    return JSONResponse({"action": "continue" if go_on else "stop"})


@router.post("/api/agent/jobs/{job_id}/fail", summary="A held job's build failed")
def fail(request: Request, job_id: int, body: Failure) -> JSONResponse:
    ctx, identity, _job = _held(request, job_id, body.agent)
    job = ctx.jobs.fail(job_id, identity.user, body.agent, body.reason, body.log)
    record_outcome(ctx.jobs, ctx.recipes, job.recipe)
    return JSONResponse(job_json(job))


@router.post(
    "/api/agent/jobs/{job_id}/native",
    summary="A held noarch job made platform-specific files: build it per platform instead",
)
def native(request: Request, job_id: int, body: Native) -> JSONResponse:
    ctx, _identity, job = _held(request, job_id, body.agent)
    if job.subdir != "noarch":
        raise JobRefused(f"job {job_id} is for {job.subdir} already, not noarch")
    ctx.jobs.heartbeat(job_id, _identity.user, body.agent, body.log)
    settings = ctx.home.bridge
    queued = go_native(ctx.jobs, job, body.found, settings.platforms, settings.python3s)
    return JSONResponse({"queued": [j.id for j in queued]})


@router.post(
    "/api/agent/jobs/{job_id}/finish", summary="Upload a held job's outputs and build record"
)
async def finish(request: Request, job_id: int) -> JSONResponse:
    ctx = context(request)
    identity = ctx.identity(request)
    check_builder(identity)
    folder = Path(tempfile.mkdtemp(prefix=".agent-upload-", dir=ctx.home.cache_dir))
    try:
        # the log's last part and the build record are fields: up to the log a job keeps
        async with request.form(max_files=200, max_fields=10, max_part_size=MOST_LOG * 4) as form:
            agent = str(form.get("agent") or "")
            record = json.loads(str(form.get("record") or "{}"))
            log = str(form.get("log") or "")
            files = []
            for upload in form.getlist("files"):
                name = Path(str(getattr(upload, "filename", "") or "")).name
                if not name or name.startswith("."):
                    raise JobRefused("every uploaded file needs a plain file name")
                path = folder / name
                with path.open("wb") as out:
                    while chunk := await upload.read(1 << 20):  # type: ignore[union-attr]
                        out.write(chunk)
                files.append(path)

        def verify_and_publish() -> dict[str, Any]:
            job = ctx.jobs.held(job_id, identity.user, agent)
            check_builder(identity, [job.subdir])
            if log:
                ctx.jobs.heartbeat(job_id, identity.user, agent, log)
            accepted = accept(
                ctx.home,
                ctx.channels,
                ctx.jobs,
                ctx.recipes,
                job_id,
                identity.user,
                agent,
                record,
                files,
            )
            return job_json(accepted.job, {"published": list(accepted.published)})

        return JSONResponse(await run_in_threadpool(verify_and_publish))
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@router.get("/api/jobs", summary="Build jobs, with what each waits for")
def jobs_list(request: Request, recipe: str | None = None) -> JSONResponse:
    ctx = context(request)
    jobs = ctx.jobs.jobs(recipe)
    present = ctx.jobs.platforms_with_builders()
    return JSONResponse(
        {"jobs": [job_json(j, {"waiting": ctx.jobs.waiting(j, present)}) for j in jobs]}
    )
