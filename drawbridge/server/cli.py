"""The `drawbridge` command: set up a home, serve it, publish into it, manage tokens."""

from __future__ import annotations

import multiprocessing
import os
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from drawbridge.channel.database import Database
from drawbridge.channel.errors import ChannelError
from drawbridge.channel.home import Home, initialise_home, load_home
from drawbridge.channel.service import Channels
from drawbridge.server import bridge_command, env_command, recipe_command, request_command
from drawbridge.server.cli_common import ChannelOption, HomeOption, console, errors, fail
from drawbridge.server.auth import Role, create_token, revoke_tokens

app = typer.Typer(
    help="Drawbridge: conda channels and a pip index of approved PyPI packages.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
channel_app = typer.Typer(help="Create and list channels.", no_args_is_help=True)
token_app = typer.Typer(help="Create and revoke API tokens.", no_args_is_help=True)
app.add_typer(channel_app, name="channel")
app.add_typer(token_app, name="token")
app.command("bridge")(bridge_command.bridge)
app.add_typer(recipe_command.recipe_app, name="recipe")
app.command("build")(recipe_command.build)
app.command("audit")(recipe_command.audit)
app.command("lock")(env_command.lock)
app.add_typer(env_command.env_app, name="env")
app.command("image")(env_command.image)
app.add_typer(request_command.request_app, name="request")

class RoleChoice(str, Enum):
    """Role names as the command line spells them."""

    reader = "reader"
    uploader = "uploader"
    maintainer = "maintainer"
    admin = "admin"


def _open(home: Path | None) -> tuple[Home, Channels]:
    loaded = load_home(home)
    return loaded, Channels(loaded, Database(loaded.database_url))


@app.command()
def init(home: HomeOption = None) -> None:
    """Create a home (configuration, database, folders) with the default channel."""
    try:
        loaded = initialise_home(home)
        channels = Channels(loaded, Database(loaded.database_url))
        channels.create(loaded.server.default_channel)
    except ChannelError as error:
        fail(error)
    console.print(f"Drawbridge home ready at [bold]{loaded.root.resolve()}[/]")


@app.command()
def serve(
    home: HomeOption = None,
    host: Annotated[Optional[str], typer.Option(help="Address to bind (default from config).")] = None,
    port: Annotated[Optional[int], typer.Option(help="Port (default from config).")] = None,
    workers: Annotated[
        int, typer.Option(help="Worker processes (default: one per CPU).")
    ] = os.cpu_count() or 1,
    init_home: Annotated[
        bool, typer.Option("--init/--no-init", help="Create the home first if it is missing.")
    ] = True,
) -> None:
    """Serve the home's channels over HTTP (conda, pip, JSON API, uploads, web UI)."""
    from granian import Granian
    from granian.constants import Interfaces
    from granian.log import LogLevels

    try:
        if init_home:
            init(home)
        loaded = load_home(home)
    except ChannelError as error:
        fail(error)
    os.environ["DRAWBRIDGE_HOME"] = str(loaded.root.resolve())
    bind_host, bind_port = host or loaded.server.host, port or loaded.server.port
    console.print(f"Serving {loaded.root.resolve()} on [bold]http://{bind_host}:{bind_port}/[/]")
    # Workers start as fresh interpreters: a forked worker would inherit the tokio runtime
    # that rattler started in this process (init indexes), without its threads, and hang.
    multiprocessing.set_start_method("spawn", force=True)
    # granian, not uvicorn: bench/serve measured 1.5-1.8x the requests per second.
    Granian(
        "drawbridge.server.app:app_from_environment",
        address=bind_host,
        port=bind_port,
        interface=Interfaces.ASGI,
        factory=True,
        workers=workers,
        websockets=False,
        # At most 32 requests in each worker's event loop, the rest wait in granian's queue:
        # the default (backlog/workers = 512) gave p99 of 60-170 ms at 256 connections on
        # bench/serve, 32 gives under 10 ms for the same requests per second.
        backpressure=32,
        log_level=LogLevels.warning,
        respawn_failed_workers=True,
    ).serve()


@app.command()
def publish(
    files: Annotated[list[Path], typer.Argument(help="Wheels, sdists, .conda or .tar.bz2 files.")],
    home: HomeOption = None,
    channel: ChannelOption = None,
) -> None:
    """Check and publish files into a channel, then index it once."""
    try:
        loaded, channels = _open(home)
        target = channel or loaded.server.default_channel
        channels.require(target)
        missing = [str(f) for f in files if not f.is_file()]
        if missing:
            raise ChannelError(f"no such file: {', '.join(missing)}")
        with console.status(f"publishing {len(files)} file(s) into {target}…"):
            published, refused = channels.publish_many(target, files, uploaded_by="cli")
    except ChannelError as error:
        fail(error)
    for item in published:
        where = f"conda/{item.subdir}" if item.kind == "conda" else "simple"
        console.print(f"[green]published[/] {item.filename} → {target}/{where}")
    for path, reason in refused:
        errors.print(f"[red]refused[/] {path}: {reason}")
    if refused:
        raise typer.Exit(1)


@app.command()
def index(
    home: HomeOption = None,
    channel: ChannelOption = None,
    force: Annotated[bool, typer.Option(help="Re-read every conda package.")] = False,
) -> None:
    """Rebuild a channel's indexes (all channels unless --channel)."""
    try:
        _loaded, channels = _open(home)
        targets = [channel] if channel else channels.names()
        for name in targets:
            with console.status(f"indexing {name}…"):
                channels.reindex(name, force=force)
            console.print(f"[green]indexed[/] {name}")
    except ChannelError as error:
        fail(error)


@channel_app.command("create")
def channel_create(
    name: str,
    home: HomeOption = None,
    description: Annotated[str, typer.Option(help="What the channel is for.")] = "",
) -> None:
    """Create a channel (a conda channel and a pip index of the same name)."""
    try:
        _loaded, channels = _open(home)
        channels.create(name, description)
    except ChannelError as error:
        fail(error)
    console.print(f"[green]channel[/] {name} ready")


@channel_app.command("list")
def channel_list(home: HomeOption = None) -> None:
    """List the channels with their Python projects and conda packages."""
    try:
        _loaded, channels = _open(home)
        table = Table("channel", "python projects", "conda packages")
        for name in channels.names():
            table.add_row(name, str(len(channels.projects(name))), str(len(channels.conda_packages(name))))
    except ChannelError as error:
        fail(error)
    console.print(table)


@token_app.command("create")
def token_create(
    user: Annotated[str, typer.Option(help="Who the token is for.")],
    role: Annotated[RoleChoice, typer.Option(help="What the token may do.")] = RoleChoice.reader,
    home: HomeOption = None,
) -> None:
    """Create a token and print it (it is shown only this once)."""
    try:
        loaded = load_home(home)
        token = create_token(Database(loaded.database_url), user, Role[role.value])
    except ChannelError as error:
        fail(error)
    errors.print(f"token for {user} ({role.value}); store it now, it is not shown again:")
    print(token)


@token_app.command("revoke")
def token_revoke(user: Annotated[str, typer.Option(help="Whose tokens to revoke.")], home: HomeOption = None) -> None:
    """Revoke every token of a user."""
    try:
        loaded = load_home(home)
        count = revoke_tokens(Database(loaded.database_url), user)
    except ChannelError as error:
        fail(error)
    console.print(f"revoked {count} token(s) of {user}")
