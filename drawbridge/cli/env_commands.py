"""`drawbridge lock`, `drawbridge env create` and `drawbridge image`: prod environments.

Each command imports what it uses when it runs, so `lock` starts the uv runs it guesses
(environments/uv_run.py) before rattler, httpx and the rest are loaded, and what only a
failed lock or an image needs is never loaded by a lock (docs/performance.md, issue 22).
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from drawbridge.environments.defaults import (
    DEFAULT_PREFIX_IN_IMAGE,
    SERVER_VARIABLE,
    SystemBaseline,
    server_url,
)
from drawbridge.environments.errors import EnvironmentFailure, ImageError, Missing, Unresolvable
from drawbridge.cli import common
from drawbridge.cli.common import TokenOption, plain_output, say, table
from drawbridge.cli.startup import resume_collection

if TYPE_CHECKING:
    from rich.table import Table

    from drawbridge.environments.client import DrawbridgeClient
    from drawbridge.environments.image import LockOrigin
    from drawbridge.environments.lock import Lock
    from drawbridge.environments.uv_run import UvRun

env_app = typer.Typer(help="Install locked environments.", no_args_is_help=True)

ServerOption = Annotated[
    Optional[str],
    typer.Option(
        "--server", envvar=SERVER_VARIABLE, help="Drawbridge's URL (default http://127.0.0.1:8080)."
    ),
]
LockOption = Annotated[Path, typer.Option("--lock", help="The lock file `drawbridge lock` wrote.")]


def escape(text: str) -> str:
    """`text` with rich's markup escaped (rich is loaded only by output that needs it)."""
    from rich.markup import escape

    return escape(text)


def missing_table(missing: list[Missing]) -> Table:
    shown = table(
        "platform", "kind", "asked for", "why not", title="What Drawbridge cannot provide"
    )
    for item in missing:
        shown.add_row(item.platform, item.kind, escape(item.spec), escape(item.reason))
    return shown


def file_requests(server: DrawbridgeClient, missing: list[Missing], environment: Path) -> None:
    """One bridging request per missing package, naming the platforms that lack it."""
    by_name: dict[tuple[str, str], list[Missing]] = {}
    for item in missing:
        by_name.setdefault((item.kind, item.name), []).append(item)
    for (kind, name), items in sorted(by_name.items()):
        answer = server.file_request(
            {
                "name": name,
                "kind": kind,
                "spec": items[0].spec,
                "platforms": sorted({i.platform for i in items}),
                "reason": "; ".join(sorted({i.reason for i in items})),
                "source": environment.name,
            }
        )
        common.console.print(
            f"request #{answer['id']} for {name} ({kind}): {answer['state']}, waiting for a "
            "maintainer"
        )


def needs_a_mirror(item: Missing, missing: list[Missing]) -> bool:
    """Whether only a conda mirror can provide `item`: an interpreter or compiler, or pip and
    friends on a platform that lacks python itself (no bridging request can help)."""
    if item.kind != "conda":
        return False
    from drawbridge.bridge.missing.provide import comes_from_a_mirror

    python_missing = any(
        m.kind == "conda" and m.name == "python" and m.platform == item.platform for m in missing
    )
    return comes_from_a_mirror(item.name) or (
        python_missing and item.name in ("pip", "setuptools", "wheel")
    )


def mirror_advice(server: DrawbridgeClient, missing: list[Missing]) -> str:
    """What to do when packages only a conda mirror provides are missing."""
    from drawbridge.bridge.missing.provide import CONNECT_MIRROR

    specs = ", ".join(dict.fromkeys(m.spec for m in missing))
    try:
        mirrors = list(server.channel_list()["upstream"])
    except EnvironmentFailure:
        mirrors = []
    passed_on = (
        f"it passes on the conda mirrors {', '.join(mirrors)}, which lack them"
        if mirrors
        else "it passes on no conda mirror yet"
    )
    return (
        f"{specs}: a Python interpreter (and what comes with it) is provided by a conda "
        f"mirror, never bridged from PyPI, so no --request can help; {server.url} must have "
        f"one that carries them ({passed_on}): on the Drawbridge server, connect a conda "
        f"mirror that has python: `{CONNECT_MIRROR}`"
    )


def lock(
    ctx: typer.Context,
    environment: Annotated[Path, typer.Argument(help="The environment file (environment.yml).")],
    server: ServerOption = None,
    platform: Annotated[
        Optional[list[str]],
        typer.Option(
            "--platform",
            "-p",
            help="Conda subdir to lock for (repeatable; default: this machine's).",
        ),
    ] = None,
    output: Annotated[
        Optional[Path],
        typer.Option(
            "--output",
            "-o",
            help="Lock file (default: drawbridge.lock beside the environment file).",
        ),
    ] = None,
    request: Annotated[
        bool, typer.Option("--request", help="File bridging requests for what is missing.")
    ] = False,
    glibc: Annotated[
        str,
        typer.Option(
            help="Oldest glibc of the Linux machines (2.17 to 2.40); sets __glibc and the "
            "manylinux wheels allowed."
        ),
    ] = SystemBaseline.glibc,
    macos_intel: Annotated[
        str,
        typer.Option(
            help="Oldest macOS of the Intel Macs (10.9 on); sets __osx and the macOS wheels "
            "allowed on osx-64."
        ),
    ] = SystemBaseline.macos_x86,
    macos_arm: Annotated[
        str,
        typer.Option(
            help="Oldest macOS of the Apple-silicon Macs (11.0 on); sets __osx and the macOS "
            "wheels allowed on osx-arm64."
        ),
    ] = SystemBaseline.macos_arm,
    token: TokenOption = None,
) -> None:
    """Solve an environment file against Drawbridge into a hash-pinned rattler lock file."""
    target = output or environment.parent / "drawbridge.lock"
    baseline = SystemBaseline(glibc=glibc, macos_x86=macos_intel, macos_arm=macos_arm)
    problem = baseline.problem()
    if problem is not None:
        raise typer.BadParameter(problem[1], param_hint=problem[0])
    from drawbridge.environments.uv_run import GuessedRuns, remember_runs

    # the console script started the runs the last lock of this command line made
    # (drawbridge.cli.entry); typer's own callers (tests) and a --token start none
    guessed = ctx.obj if isinstance(ctx.obj, GuessedRuns) else None
    try:
        from drawbridge.environments.client import DrawbridgeClient

        locked = _lock_or_explain(
            environment,
            target,
            DrawbridgeClient(server_url(server), token),
            platform,
            baseline,
            request,
            guessed.runs if guessed is not None else {},
        )
    finally:
        if guessed is not None:
            guessed.stop()
    if guessed is not None:
        remember_runs(
            guessed.key,
            [(p.uv_request, [w.name for w in p.pip]) for p in locked.platforms if p.uv_request],
        )
    # plain lines: in a pipe they are written without loading rich (cli/common.say)
    for item in locked.platforms:
        say(f"{item.platform}: {len(item.conda)} conda and {len(item.pip)} pip packages")
    say(f"wrote {target}")


def _lock_or_explain(
    environment: Path,
    target: Path,
    drawbridge: DrawbridgeClient,
    platform: list[str] | None,
    baseline: SystemBaseline,
    request: bool,
    started: Mapping[str, UvRun],
) -> Lock:
    """Lock `environment` into `target`; if it cannot be, say what is missing and what to do
    (filing bridging requests with `request`), and exit with 1."""
    from drawbridge.environments.envfile import read_environment_file
    from drawbridge.environments.install import host_platform
    from drawbridge.environments.lock import lock_environment, write_lock
    from drawbridge.bridge.resolve.uv_process import uv_binary

    resume_collection()  # the modules a lock needs are loaded (cli/startup.py)
    try:
        parsed = read_environment_file(environment)
        # the spinner shows on a terminal only; elsewhere rich's live display (and in a
        # pipe rich itself) is not loaded
        status = (
            common.console.status("solving…")
            if not plain_output(sys.stdout) and common.console.is_terminal
            else None
        )
        with status or contextlib.nullcontext():
            locked = lock_environment(
                parsed,
                drawbridge,
                platform or [host_platform()],
                uv_binary(),
                baseline,
                on_step=lambda label: status.update(f"solving {label}…") if status else None,
                started=started,
            )
        write_lock(locked, target)
    except Unresolvable as error:
        if error.missing:
            common.errors.print(missing_table(error.missing))
        if error.detail:
            common.errors.print(error.detail, markup=False, highlight=False)
        from_mirror = [m for m in error.missing if needs_a_mirror(m, error.missing)]
        if from_mirror:
            common.errors.print(f"[yellow]{escape(mirror_advice(drawbridge, from_mirror))}[/]")
        requestable = [m for m in error.missing if m not in from_mirror]
        if request and requestable:
            file_requests(drawbridge, requestable, environment)
        elif requestable:
            names = ", ".join(sorted({m.name for m in requestable}))
            common.errors.print(f"ask the maintainers to bridge {escape(names)} with --request")
        common.errors.print(
            f"[bold red]error:[/] {escape(str(environment))} cannot be locked; nothing was written"
        )
        raise typer.Exit(1) from None
    return locked


@env_app.command("create")
def env_create(
    lock_path: LockOption,
    prefix: Annotated[
        Path, typer.Option("--prefix", help="Where to create (or update) the environment.")
    ],
    cache_dir: Annotated[Optional[Path], typer.Option(help="rattler's package cache.")] = None,
    token: TokenOption = None,
) -> None:
    """Install a lock file's packages for this machine's platform into a prefix."""
    from drawbridge.environments.install import create_environment, host_platform
    from drawbridge.environments.lockfile import read_lock

    platform_lock = read_lock(lock_path, host_platform())
    create_environment(platform_lock, prefix, cache_dir=cache_dir, token=token)
    common.console.print(
        f"{prefix}: {len(platform_lock.conda)} conda and {len(platform_lock.pip)} pip packages "
        f"from {lock_path}"
    )


def dockerfile_origin(
    lock_path: Path, server: str | None, channel: str | None, token: str | None
) -> LockOrigin:
    """The server and channel the Dockerfile's build stage installs py-rattler from: the
    options, else the lock's; ImageError if that pip index lacks py-rattler."""
    from drawbridge.environments.client import DrawbridgeClient
    from drawbridge.environments.image import LockOrigin, lock_origin

    found = lock_origin(lock_path)
    if found is not None:
        origin = LockOrigin(
            server_url(server) if server else found.server, channel or found.channel
        )
    elif server and channel:
        origin = LockOrigin(server_url(server), channel)
    else:
        raise ImageError(
            f"{lock_path} names no Drawbridge channel URL; say where the build stage installs "
            "from: --server URL --channel NAME"
        )
    index = f"{origin.server}/{origin.channel}/simple/"
    try:
        listed = DrawbridgeClient(origin.server, token).get_json(
            f"/{origin.channel}/simple/py-rattler/", accept="application/vnd.pypi.simple.v1+json"
        )
    except EnvironmentFailure as error:
        common.errors.print(
            f"[yellow]could not check that {index} has py-rattler:[/] {escape(str(error))}"
        )
        return origin
    if listed is None or not listed.get("files"):
        raise ImageError(
            f"the Dockerfile's build stage installs py-rattler from {index}, which lacks it: on "
            "the Drawbridge server, bridge it first (`drawbridge bridge py-rattler`) or publish "
            "its wheels there, or name another channel with --channel"
        )
    return origin


def image(
    lock_path: LockOption,
    output: Annotated[
        Optional[Path],
        typer.Option("--output", "-o", help="The OCI archive (or Dockerfile) to write."),
    ] = None,
    dockerfile: Annotated[
        bool, typer.Option("--dockerfile", help="Write a Dockerfile instead of an image.")
    ] = False,
    base: Annotated[
        Optional[Path],
        typer.Option(
            help="Base image as an OCI archive (skopeo copy docker://debian:12-slim "
            "oci-archive:base.tar); default: none, the environment alone."
        ),
    ] = None,
    prefix: Annotated[
        str, typer.Option("--prefix-in-image", help="Where the environment lives in the image.")
    ] = DEFAULT_PREFIX_IN_IMAGE,
    tag: Annotated[
        str, typer.Option(help="The image's tag (a bare tag means drawbridge-env:TAG).")
    ] = "latest",
    base_image: Annotated[
        str, typer.Option(help="--dockerfile: the final stage's FROM.")
    ] = "debian:12-slim",
    builder_image: Annotated[
        str, typer.Option(help="--dockerfile: the build stage's FROM (Python 3.10+ and pip).")
    ] = "python:3.12-slim",
    server: Annotated[
        Optional[str],
        typer.Option(
            "--server",
            envvar=SERVER_VARIABLE,
            help="--dockerfile: the Drawbridge the build stage installs from (default: the "
            "lock's).",
        ),
    ] = None,
    channel: Annotated[
        Optional[str],
        typer.Option(
            "--channel",
            "-c",
            help="--dockerfile: the channel whose pip index has py-rattler (default: the "
            "lock's first).",
        ),
    ] = None,
    platform: Annotated[
        str,
        typer.Option(
            "--platform", "-p", help="linux-64 or linux-aarch64 (default: this machine's)."
        ),
    ] = "",
    cache_dir: Annotated[Optional[Path], typer.Option(help="rattler's package cache.")] = None,
    token: TokenOption = None,
) -> None:
    """Write an OCI image archive of the locked environment (no Docker needed), or a Dockerfile."""
    from drawbridge.environments.image import build_image, image_name, write_docker_context
    from drawbridge.environments.install import host_platform
    from drawbridge.environments.lockfile import read_lock

    platform_lock = read_lock(lock_path, platform or host_platform())
    if dockerfile:
        target = output or Path("Dockerfile")
        origin = dockerfile_origin(lock_path, server, channel, token)
        written = write_docker_context(
            lock_path,
            target,
            platform_lock.platform,
            origin,
            base_image,
            builder_image,
            prefix,
            tag,
        )
        common.console.print(f"wrote {', '.join(str(p) for p in written)}")
        common.console.print(
            f"build it with: docker build -t {image_name(tag)} {target.parent}  (the build "
            f"stage reaches {origin.server} only)"
        )
        return
    if output is None:
        raise ImageError("say where to write the image: -o image.tar")
    if base is not None and not base.is_file():
        raise ImageError(
            f"no base image archive at {base}: make one on a machine that reaches a registry, "
            f"e.g. `skopeo copy docker://debian:12-slim oci-archive:{base.name}`, and bring it "
            "here; or leave --base out (the image is then the environment alone)"
        )
    from drawbridge.channel.distributions import sha256_file

    labels = {
        "org.opencontainers.image.description": f"environment from {lock_path.name}",
        "io.drawbridge.lock.sha256": sha256_file(lock_path),
    }
    digest = build_image(platform_lock, output, prefix, base, tag, labels, cache_dir, token=token)
    common.console.print(
        f"wrote {output} ({output.stat().st_size / 1e6:.1f} MB), manifest {digest}"
    )
    common.console.print(
        f"load it with: skopeo copy oci-archive:{output} docker-daemon:{image_name(tag)}  (or "
        f"podman load -i {output})"
    )


#: the client commands alone, for drawbridge.cli.entry (the full CLI registers them too)
client_app = typer.Typer(no_args_is_help=True, pretty_exceptions_enable=False, add_completion=False)
client_app.command("lock")(lock)
client_app.add_typer(env_app, name="env")
client_app.command("image")(image)
