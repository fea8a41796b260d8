"""`drawbridge jobs list|show|retry|cancel`: the build jobs of the home's recipes."""

from __future__ import annotations

from typing import Annotated, Optional

import typer
from rich.markup import escape

from drawbridge.bridge.farm.jobs import Job
from drawbridge.bridge.farm.schedule import record_outcome
from drawbridge.cli.common import HomeOption, console, table
from drawbridge.cli.context import open_home

jobs_app = typer.Typer(help="Build jobs and the agents building them.", no_args_is_help=True)


def _seconds(job: Job) -> str:
    return "" if job.seconds is None else f"{job.seconds:.0f} s"


@jobs_app.command("list")
def jobs_list(
    recipe: Annotated[Optional[str], typer.Option(help="Only this recipe's jobs.")] = None,
    every: Annotated[bool, typer.Option("--all", help="Ended jobs too.")] = False,
    home: HomeOption = None,
) -> None:
    """The jobs not ended yet (with --all, every one): state, or what it waits for."""
    book = open_home(home).jobs
    present = book.platforms_with_builders()
    shown = table("job", "recipe", "target", "state", "agent", "attempts", "duration", "reason")
    for job in book.jobs(recipe):
        if job.ended and not every:
            continue
        shown.add_row(
            str(job.id),
            job.recipe,
            job.target,
            book.waiting(job, present) or job.state,
            job.agent,
            str(job.attempts),
            _seconds(job),
            escape(job.reason),
        )
    console.print(shown)


@jobs_app.command("show")
def jobs_show(job_id: int, home: HomeOption = None) -> None:
    """One job and its log."""
    book = open_home(home).jobs
    job = book.get(job_id)
    facts = [f"recipe sha256 {job.recipe_sha256[:12]}", f"channel {job.channel}"]
    facts += [f"attempts {job.attempts}", *([f"agent {job.agent}"] if job.agent else [])]
    facts += [_seconds(job)] if job.seconds is not None else []
    state = book.waiting(job) or job.state
    console.print(f"job {job.id}: {job.recipe} {job.target} [bold]{state}[/] ({', '.join(facts)})")
    if job.reason:
        console.print(f"reason: {escape(job.reason)}", soft_wrap=True)
    console.print(job.log, markup=False, highlight=False)


@jobs_app.command("retry")
def jobs_retry(job_id: int, home: HomeOption = None) -> None:
    """Queue a failed or cancelled job again."""
    job = open_home(home).jobs.retry(job_id)
    console.print(f"job {job.id} ({job.recipe} {job.target}): {job.state}")


@jobs_app.command("cancel")
def jobs_cancel(job_id: int, home: HomeOption = None) -> None:
    """Cancel a job; its agent stops at its next heartbeat."""
    context = open_home(home)
    job = context.jobs.cancel(job_id)
    record_outcome(context.jobs, context.recipes, job.recipe)
    console.print(f"job {job.id} ({job.recipe} {job.target}): {job.state}")
