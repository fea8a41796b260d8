"""One job from claim to upload, and the loop that asks for jobs.

A job is built in a fresh folder: the approved recipe and its files downloaded and checked
against their sha256, the sources downloaded by sha256 and checked, the recipe staged to
read them (made per platform when a noarch recipe is built for a subdir), rattler-build
run for the job's target (sandboxed on Linux, `sandbox`), heartbeating the server every
`heartbeat_seconds` with the log written since. Then exactly one of: the outputs and the
build record uploaded (`finish`), a failure with its reason (`fail`), the noarch build's
platform-specific files reported (`native`), or nothing, when the server said stop (the
job was cancelled or given to another agent). The folder is removed afterwards.

A linux-aarch64 job on a linux-64 agent is cross-compiled (conda-forge's cross compiler
from the channels, `target_build.cross_targets`); its tests are skipped, as they need the
target's machine. Each wheel the build made for pip users is repaired for the job's
target within the server's baseline (`wheel_repair`), the libraries it loads from the
build's host environment grafted in; only repaired wheels are uploaded, a refused one is
named in the job's log with the reason, and every wheel as built is kept in the work
folder's `unrepaired/` (for a look: why did it need repair, why was it refused).
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
    CROSS_TARGETS,
    HOST_SUBDIR,
    NOARCH,
    TargetBuildError,
    check_recipe,
    host_lib_dirs,
    platform_specific_output,
    run_build,
    stage_recipe,
    why,
)
from drawbridge.bridge.recipes.wheel_repair import Baseline, Repair, repair_wheel

#: how often a build's child process is looked at (the heartbeat is less often)
POLL_SECONDS = 2.0
#: the folder of the work folder where each wheel is kept as the build made it
UNREPAIRED = "unrepaired"


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
    host: str = HOST_SUBDIR  # the subdir of this machine; other Linux subdirs: cross-built


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


def baseline_of(job: ClaimedJob) -> Baseline:
    """The oldest systems the server's wheels must run on, as its claim said (the default
    baseline if it said none)."""
    said = job.raw.get("baseline") or {}
    macos = {subdir: (int(v[0]), int(v[1])) for subdir, v in (said.get("macos") or {}).items()}
    default = Baseline()
    return Baseline(int(said.get("glibc_minor", default.glibc_minor)), macos or default.macos)


def repair_wheels(
    wheels: Sequence[Path],
    job: ClaimedJob,
    target: str,
    folder: Path,
    kept: Path,
    log: Callable[[str], None],
) -> list[Repair]:
    """Each wheel the build made, repaired for `target` within the job's baseline into
    `folder` (the libraries it loads found in its build's environments), the wheel as
    built moved to `kept`; each outcome a line of the log."""
    baseline = baseline_of(job)
    repairs = []
    for wheel in wheels:
        repair = repair_wheel(wheel, target, folder, baseline, host_lib_dirs(wheel))
        kept.mkdir(parents=True, exist_ok=True)
        shutil.move(wheel, kept / wheel.name)
        log(f"# wheel {wheel.name}: {'' if repair.ok else 'not published to pip: '}{repair.said}")
        repairs.append(repair)
    return repairs


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
        target = options.host if job.subdir == NOARCH else job.subdir
        cross = target != options.host
        if cross and not (options.host == HOST_SUBDIR and target in CROSS_TARGETS):
            reason = (
                f"agent {api.name} is a {options.host} machine and cannot build {target} "
                f"(it cross-compiles only {', '.join(CROSS_TARGETS)} from {HOST_SUBDIR}): run an "
                f"agent on a {target} machine"
            )
            api.fail(job, reason, unsent())
            return Done(job, "failed", reason)
        confined = options.sandboxed and sandbox.bwrap() is not None
        staged = stage_recipe(
            text,
            files,
            folder / "recipe",
            sources,
            native=noarch and job.subdir != NOARCH,
            script_prefix=sandbox.script_prefix() if confined else (),
            cross=cross,
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
            target_platform=target,
            build_platform=options.host,
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
        if cross:
            with log_path.open("a") as handle:
                handle.write(f"\n# cross-compiled for {target} on {options.host}: tests skipped\n")

        def log(line: str) -> None:
            with log_path.open("a") as handle:
                handle.write(f"\n{line}\n")

        repairs = repair_wheels(
            made.wheels, job, target, folder / "repaired", options.work / UNREPAIRED, log
        )
        wheels = [r.wheel for r in repairs if r.wheel is not None]
        repaired = time.monotonic()
        outputs = [*made.packages, *wheels]
        record: dict[str, Any] = {
            "job": job.id,
            "agent": api.name,
            "platform": f"{platform.system()}-{platform.machine()}",
            "target": job.target,
            "build_platform": options.host,
            "recipe_sha256": job.recipe_sha256,
            "tools": _tool_versions(),
            "sandbox": "bubblewrap" if confined else "none",
            "seconds": {
                "download": round(downloaded - began, 3),
                "build": round(built - downloaded, 3),
                "repair": round(repaired - built, 3),
            },
            "inputs": {"sources": sorted(job.sources), "files": job.files},
            "outputs": {path.name: sha256_file(path) for path in outputs},
            # the wheels not published to pip, and why (`wheel_repair`)
            "refused_wheels": {r.original.name: r.said for r in repairs if r.wheel is None},
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
