"""`drawbridge agent`: a build agent on this machine, for a Drawbridge server it reaches
over HTTP(S) (light: no FastAPI, no SQLAlchemy; see `drawbridge.agent`)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Annotated, Optional

import httpx
import typer

from drawbridge.agent.api import AgentApi
from drawbridge.agent.errors import AgentError
from drawbridge.agent.work import Done, Options, default_name, run
from drawbridge.bridge.recipes.target_build import CROSS_TARGETS, HOST_SUBDIR
from drawbridge.cli.common import console

#: the subdir this machine is, as conda names it
HOST_PLATFORMS = {
    ("linux", "x86_64"): "linux-64",
    ("linux", "aarch64"): "linux-aarch64",
    ("darwin", "x86_64"): "osx-64",
    ("darwin", "arm64"): "osx-arm64",
    ("win32", "amd64"): "win-64",
}


def host_platform() -> str:
    import platform
    import sys

    key = ("win32" if sys.platform == "win32" else sys.platform, platform.machine().lower())
    return HOST_PLATFORMS.get(key, "linux-64")


def agent(
    server: Annotated[
        str, typer.Option(envvar="DRAWBRIDGE_SERVER", help="The Drawbridge server's URL.")
    ],
    token: Annotated[
        Optional[str],
        typer.Option(envvar="DRAWBRIDGE_TOKEN", help="A builder token (or --token-file)."),
    ] = None,
    token_file: Annotated[
        Optional[Path],
        typer.Option(help="A file holding the builder token; its folder is hidden from builds."),
    ] = None,
    platform: Annotated[
        Optional[list[str]],
        typer.Option(
            "--platform",
            help="Build jobs for this subdir (repeat; default: this machine's; on linux-64 "
            "also linux-aarch64, cross-compiled with the mirror's cross compiler).",
        ),
    ] = None,
    python: Annotated[
        Optional[list[str]],
        typer.Option("--python", help="Build jobs for this Python (repeat; default: any)."),
    ] = None,
    work: Annotated[
        Optional[Path], typer.Option(help="Where builds run, each in a fresh folder.")
    ] = None,
    name: Annotated[
        Optional[str], typer.Option(help="This agent's name (default: the host's).")
    ] = None,
    once: Annotated[
        bool, typer.Option("--once", help="Build one job (or none), then stop.")
    ] = False,
    poll: Annotated[float, typer.Option(help="Seconds between asks when there is no job.")] = 10.0,
    no_sandbox: Annotated[
        bool, typer.Option("--no-sandbox", help="Build without bubblewrap even on Linux.")
    ] = False,
) -> None:
    """Ask the server for build jobs, build them with rattler-build, upload the outputs."""
    hide: list[Path] = []
    if token_file is not None:
        token = token_file.read_text("utf-8").strip()
        hide.append(token_file.resolve().parent)
    if not token:
        raise AgentError(
            "the agent needs a builder token: --token, --token-file or $DRAWBRIDGE_TOKEN"
        )
    host = host_platform()
    cross = CROSS_TARGETS if host == HOST_SUBDIR else ()
    foreign = [p for p in platform or [] if p != host and p not in cross]
    if foreign:  # said, not refused: the jobs it claims of those fail with the same reason
        also = f" and, cross-compiling, {', '.join(cross)}" if cross else ""
        console.print(
            f"note: this machine is {host}: it builds {host}{also}, not {', '.join(foreign)}; "
            f"such jobs it claims fail here: run an agent on a {foreign[0]} machine for them",
            soft_wrap=True,
            markup=False,
        )
    options = Options(
        server=server.rstrip("/"),
        token=token,
        platforms=tuple(platform or [host]),
        host=host,
        pythons=tuple(python or ()),
        work=work or Path(tempfile.gettempdir()) / f"drawbridge-agent-{os.getpid()}",
        hide=tuple(hide),
        sandboxed=not no_sandbox,
    )
    who = name or default_name()
    pythons = f" for python {', '.join(options.pythons)}" if options.pythons else ""
    console.print(f"agent {who}: building {', '.join(options.platforms)}{pythons} for {server}")

    def said(done: Done) -> None:
        console.print(
            f"job {done.job.id} ({done.job.recipe} {done.job.target}): {done.outcome}"
            + (f": {done.detail}" if done.detail else ""),
            soft_wrap=True,
            markup=False,
        )

    with httpx.Client(
        base_url=options.server, headers={"authorization": f"Bearer {token}"}, timeout=120
    ) as http:
        done = run(AgentApi(http, who), options, once=once, poll=poll, on_done=said)
    if once and not done:
        console.print("no job to build")


agent_app = typer.Typer(no_args_is_help=True, pretty_exceptions_enable=False, add_completion=False)


@agent_app.callback()
def _group() -> None:
    """The agent's light application: `drawbridge agent …` (a group, so the name is kept)."""


agent_app.command("agent")(agent)
