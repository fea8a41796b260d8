"""The build jobs' pages: a recipe's jobs (one row per target: state or what it waits for,
agent, attempts, duration, log), every job, and one job's log."""

from __future__ import annotations

import html

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, PlainTextResponse

from drawbridge.bridge.farm.jobs import Job, JobBook, UnknownJob
from drawbridge.bridge.recipes.book import RecipeError
from drawbridge.server.context import context
from drawbridge.server.pages import UI_TAG, page_response

router = APIRouter(tags=[UI_TAG])


def _duration(job: Job) -> str:
    seconds = job.seconds
    if seconds is None:
        return ""
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def jobs_table(jobs: JobBook, shown: list[Job]) -> str:
    """The jobs as an HTML table (pure but for asking which platforms have builders)."""
    present = jobs.platforms_with_builders()
    rows = "".join(
        f"<tr><td>{j.id}</td><td><a href='/ui/recipes/{html.escape(j.recipe)}/jobs'>"
        f"{html.escape(j.recipe)}</a></td><td>{html.escape(j.target)}</td>"
        f"<td class='{j.state}'>{html.escape(jobs.waiting(j, present) or j.state)}</td>"
        f"<td>{html.escape(j.agent)}</td><td>{j.attempts}</td><td>{_duration(j)}</td>"
        f"<td>{html.escape(j.reason)}</td>"
        f"<td><a href='/ui/jobs/{j.id}/log'>log</a></td></tr>"
        for j in shown
    )
    return (
        "<table><tr><th>job</th><th>recipe</th><th>target</th><th>state</th><th>agent</th>"
        f"<th>attempts</th><th>duration</th><th>reason</th><th>log</th></tr>{rows}</table>"
    )


@router.get("/ui/jobs", response_class=HTMLResponse, summary="Every build job")
def all_jobs(request: Request) -> HTMLResponse:
    jobs = context(request).jobs
    shown = jobs.jobs()
    body = f"<h1>Build jobs</h1><p>{len(shown)} jobs.</p>{jobs_table(jobs, shown)}"
    return page_response("Drawbridge: build jobs", body)


@router.get("/ui/recipes/{name}/jobs", response_class=HTMLResponse, summary="A recipe's build jobs")
def recipe_jobs(request: Request, name: str) -> HTMLResponse:
    ctx = context(request)
    try:
        recipe = ctx.recipes.get(name)
    except RecipeError as error:
        raise HTTPException(404, str(error)) from None
    shown = [j for j in ctx.jobs.jobs(name) if j.recipe_sha256 == recipe.approved_sha256]
    body = (
        f"<h1>Build jobs of <a href='/ui/recipes/{html.escape(name)}'>{html.escape(name)}</a> "
        f"{html.escape(recipe.version)}</h1><p>approved bytes "
        f"<code>{html.escape(recipe.approved_sha256[:12]) or 'none'}</code>: one row per "
        f"target.</p>{jobs_table(ctx.jobs, shown)}"
    )
    return page_response(f"Drawbridge: jobs of {name}", body)


@router.get("/ui/jobs/{job_id}/log", response_class=PlainTextResponse, summary="A job's log")
def job_log(request: Request, job_id: int) -> PlainTextResponse:
    try:
        job = context(request).jobs.get(job_id)
    except UnknownJob as error:
        raise HTTPException(404, str(error)) from None
    return PlainTextResponse(job.log)
