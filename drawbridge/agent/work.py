"""One job from claim to upload, and the loop that asks for jobs.

A job is built in a fresh folder: the approved recipe and its files downloaded and checked
against their sha256, the sources downloaded by sha256 and checked, the recipe staged to
read them (made per platform when a noarch recipe is built for a subdir), rattler-build
run for the job's target (sandboxed on Linux, `sandbox`), heartbeating the server every
`heartbeat_seconds` with the log written since. Then exactly one of: the outputs and the
build record uploaded (`finish`), a failure with its reason (`fail`), the noarch build's
platform-specific files reported (`native`), or nothing, when the server said stop (the
job was cancelled or given to another agent). The folder is removed afterwards.
"""

from __future__ import annotations

import platform
import shutil
import socket
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from drawbridge.agent import sandbox
from drawbridge.agent.api import AgentApi, ClaimedJob, sha256_file
from drawbridge.agent.errors import AgentError, ServerRefused
from drawbridge.bridge.recipes.target_build import (
    NOARCH,
    TargetBuildError,
    check_recipe,
    platform_specific_output,
    run_build,
    stage_recipe,
    why,
)

#: how often a build's child process is looked at (the heartbeat is less often)
POLL_SECONDS = 2.0


def default_name() -> str:
    """This agent's name: the host's, which is what a maintainer recognises."""
    return (socket.gethostname() or "agent").split(".")[0][:100] or "agent"


@dataclass(frozen=True)
class Options:
    """How this agent builds."""

    server: str  # the server's URL, for the channels the build reads
    token: str
    platforms: tuple[str, ...]
    pythons: tuple[str, ...] = ()
    work: Path = field(default_factory=lambda: Path(tempfile.gettempdir()) / "drawbridge-agent")
    channels: tuple[str, ...] = ()  # instead of the server's (the local agent's folders)
    hide: tuple[Path, ...] = ()  # what the build may not see (the token file's folder, …)
    sandboxed: bool = True  # on Linux with bubblewrap
    timeout: float = 3600
    recipes: tuple[str, ...] = ()  # only these recipes' jobs (the local agent's)


@dataclass(frozen=True)
class Done:
    """What became of one job here."""

    job: ClaimedJob
    outcome: str  # "published", "failed", "native", "stopped", "refused"
    detail: str = ""
    published: tuple[str, ...] = ()


def channels_for(job: ClaimedJob, options: Options) -> list[str]:
    """The channels the build reads: the local agent's own, else the server's, each with
    the token in its URL (rattler-build sends no other credentials)."""
    if options.channels:
        return list(options.channels)
    base = options.server.rstrip("/")
    return [f"{base}/t/{options.token}/{path}" for path in job.channels]


def _tool_versions() -> dict[str, str]:
    found = {"python": sys.version.split()[0]}
    for name in ("rattler-build", "py-rattler"):
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            pass
    return found


def repair_wheels(
    wheels: Sequence[Path], job: ClaimedJob, log: Callable[[str], None]
) -> list[Path]:
    """The wheels to publish for pip users: each repaired for the job's target.

    Call site of the wheel repair (issue 19, item 5, `bridge/recipes/repair.py`): until it
    lands, a wheel is published as built.
    """
    return list(wheels)


def build_job(api: AgentApi, job: ClaimedJob, options: Options) -> Done:
    """Build one claimed job and report it to the server (see the module's docstring). A
    refusal of the server's (the job taken back, the outputs refused) is the job's outcome;
    anything else that goes wrong here fails the job, with the error as its reason."""
    try:
        return _build_job(api, job, options)
    except ServerRefused as error:
        return Done(job, "refused", str(error))
    except Exception as error:  # the agent's own failure fails the job, not the agent
        reason = f"the agent failed: {type(error).__name__}: {error}"
        try:
            api.fail(job, reason)
        except AgentError:
            pass
        return Done(job, "failed", reason)


def _build_job(api: AgentApi, job: ClaimedJob, options: Options) -> Done:
    options.work.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix=f"job-{job.id}-", dir=options.work))
    log_path = folder / "build.log"
    log_path.write_text(
        f"# agent {api.name} builds job {job.id}: {job.recipe} {job.version} for {job.target}\n"
    )
    sent = 0
    began = time.monotonic()

    def unsent() -> str:
        nonlocal sent
        data = log_path.read_bytes()
        text, sent = data[sent:].decode("utf-8", "replace"), len(data)
        return text

    last_beat = time.monotonic()

    def tick() -> bool:
        nonlocal last_beat
        if time.monotonic() - last_beat < job.heartbeat_seconds:
            return True
        last_beat = time.monotonic()
        return api.heartbeat(job, unsent())

    try:
        try:
            text = api.recipe_text(job)
            files = api.recipe_files(job)
            (folder / "sources").mkdir()
            sources = {sha: api.source(job, sha, folder / "sources") for sha in job.sources}
            noarch = check_recipe(text)
        except ServerRefused:
            raise
        except (AgentError, TargetBuildError) as error:
            api.fail(job, str(error), unsent())
            return Done(job, "failed", str(error))
        downloaded = time.monotonic()
        channels = channels_for(job, options)
        confined = options.sandboxed and sandbox.bwrap() is not None
        staged = stage_recipe(
            text,
            files,
            folder / "recipe",
            sources,
            native=noarch and job.subdir != NOARCH,
            script_prefix=sandbox.script_prefix() if confined else (),
        )
        prefix = (
            sandbox.outer(
                folder,
                channels,
                options.hide,
                network=not all(sandbox.local_folders([c]) for c in channels),
            )
            if confined
            else []
        )
        with log_path.open("a") as handle:
            handle.write(f"# sandbox: {'bubblewrap' if confined else 'none'}\n")
        made = run_build(
            staged,
            folder / "out",
            {"python": [job.python]} if job.python else {},
            channels,
            log_path,
            timeout=options.timeout,
            tick=tick,
            every=POLL_SECONDS,
            prefix=prefix,
        )
        built = time.monotonic()
        if made.stopped:
            return Done(job, "stopped", "the server took the job back")
        if job.subdir == NOARCH:
            specific = platform_specific_output(folder / "out")
            if specific:
                api.native(job, specific, unsent())
                return Done(job, "native", ", ".join(specific[:3]))
        if not made.ok:
            reason = "; ".join(why(made.log, channels))
            api.fail(job, reason, unsent())
            return Done(job, "failed", reason)
        wheels = repair_wheels(made.wheels, job, lambda line: log_path.open("a").write(line + "\n"))
        outputs = [*made.packages, *wheels]
        record: dict[str, Any] = {
            "job": job.id,
            "agent": api.name,
            "platform": f"{platform.system()}-{platform.machine()}",
            "target": job.target,
            "recipe_sha256": job.recipe_sha256,
            "tools": _tool_versions(),
            "sandbox": "bubblewrap" if confined else "none",
            "seconds": {
                "download": round(downloaded - began, 3),
                "build": round(built - downloaded, 3),
            },
            "inputs": {"sources": sorted(job.sources), "files": job.files},
            "outputs": {path.name: sha256_file(path) for path in outputs},
        }
        answer = api.finish(job, outputs, record, unsent())  # refused: the job's log says why
        return Done(job, "published", published=tuple(answer.get("published", ())))
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def run(
    api: AgentApi,
    options: Options,
    once: bool = False,
    poll: float = 10.0,
    on_done: Callable[[Done], None] | None = None,
    until_idle: bool = False,
) -> list[Done]:
    """Ask for jobs and build them: with `once` one job (or none), with `until_idle` until
    the server has none, else forever, asking again every `poll` seconds when idle."""
    done: list[Done] = []
    while True:
        job = api.claim(options.platforms, options.pythons, options.recipes)
        if job is None:
            if once or until_idle:
                return done
            time.sleep(poll)
            continue
        result = build_job(api, job, options)
        done.append(result)
        if on_done:
            on_done(result)
        if once:
            return done
