"""`drawbridge init|serve|publish|index|verify` (channels, users, groups and tokens are
`access_commands`)."""

from __future__ import annotations

import multiprocessing
import os
import socket
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.markup import escape

from drawbridge.channel.errors import ChannelError
from drawbridge.channel.home import (
    CONFIG_NAME,
    as_replica_of,
    ServerSettings,
    initialise_home,
    load_home,
    resolve_home_path,
)
from drawbridge.cli.common import ChannelOption, HomeOption, console, errors
from drawbridge.cli.context import CliContext, forget_home, open_home


#: the kernel's queue of connections not yet accepted
LISTEN_BACKLOG = 2048
#: file descriptors a worker keeps for what is not a client connection (the database,
#: files being served, the access log, rattler)
RESERVED_DESCRIPTORS = 256
#: open connections per worker, at most (each is one file descriptor)
MAX_CONNECTIONS_PER_WORKER = 16384


def raise_open_file_limit() -> int:
    """Raise this process's soft limit of open files to its hard limit (workers inherit
    it); the limit now in force."""
    try:
        import resource
    except ImportError:  # Windows: no such limit
        return MAX_CONNECTIONS_PER_WORKER + RESERVED_DESCRIPTORS
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = hard if hard != resource.RLIM_INFINITY else max(soft, 65536)
    if wanted > soft:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
            soft = wanted
        except (ValueError, OSError):
            pass  # a container may refuse: keep the soft limit
    return soft


def connections_per_worker(open_file_limit: int) -> int:
    """How many connections a worker may hold open with `open_file_limit` descriptors."""
    return max(64, min(MAX_CONNECTIONS_PER_WORKER, open_file_limit - RESERVED_DESCRIPTORS))


class PortTaken(ChannelError):
    """The address `drawbridge serve` should listen on is in use."""


def check_port_free(host: str, port: int) -> None:
    """PortTaken, naming the port, if something already listens on `host:port`.

    granian binds with SO_REUSEPORT, so a second server on the same port would start
    silently and share the requests with the first; a socket bound without it fails
    where any other listener already is.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # TIME_WAIT is no owner
        try:
            probe.bind((host, port))
        except OSError as error:
            raise PortTaken(
                f"port {port} on {host} is taken ({error.strerror}): another server, perhaps "
                "another `drawbridge serve`, listens there; stop it, or serve on another port "
                "with --port N (or [server] port in drawbridge.toml)"
            ) from None


def _initialise(home: Path | None, database_url: str = "") -> CliContext:
    """Create the home if needed, with its default channel; return its context."""
    initialise_home(home, database_url)
    forget_home(home)
    context = open_home(home)
    context.channels.create(context.home.server.default_channel)
    return context


def init(
    home: HomeOption = None,
    database_url: Annotated[
        str,
        typer.Option(
            help="A new home's database, e.g. postgresql://user:password@host/drawbridge "
            "(default: SQLite in the home). An existing home keeps its own."
        ),
    ] = "",
) -> None:
    """Create a home (configuration, database, folders) with the default channel; on an
    existing home, upgrade its database to this Drawbridge's schema."""
    context = _initialise(home, database_url)
    console.print(f"Drawbridge home ready at [bold]{context.home.root}[/]")


def serve(
    home: HomeOption = None,
    host: Annotated[
        Optional[str], typer.Option(help="Address to bind (default from config).")
    ] = None,
    port: Annotated[Optional[int], typer.Option(help="Port (default from config).")] = None,
    workers: Annotated[
        Optional[int],
        typer.Option(help="Worker processes (default: one per CPU).", show_default=False),
    ] = None,
    init_home: Annotated[
        bool, typer.Option("--init/--no-init", help="Create the home first if it is missing.")
    ] = True,
    replica_of: Annotated[
        Optional[str],
        typer.Option(
            "--replica-of",
            help="Serve as a read-only replica of the primary at this URL (the home's "
            "database a hot standby of the primary's: docs/operating.md, Replicas).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Serve the home's channels over HTTP (conda, pip, JSON API, uploads, web UI)."""
    from granian import Granian
    from granian.constants import Interfaces
    from granian.http import HTTP1Settings
    from granian.log import LogLevels

    from drawbridge.server.app import REPLICA_OF_VARIABLE
    from drawbridge.server.replication import ReplicaSync
    from drawbridge.server.webhooks import DeliveryWorker

    # the port is checked before anything is created: a refused serve leaves no home behind
    existing = resolve_home_path(home) / CONFIG_NAME
    settings = load_home(home).server if existing.is_file() else ServerSettings()
    bind_host, bind_port = host or settings.host, port or settings.port
    check_port_free(bind_host, bind_port)
    primary = replica_of or settings.replica_of
    if primary:  # a replica changes nothing in its database: the primary made the home's
        loaded = as_replica_of(load_home(home), primary)
        os.environ[REPLICA_OF_VARIABLE] = primary
    else:
        loaded = (_initialise(home) if init_home else open_home(home)).home
    settings = loaded.server
    os.environ["DRAWBRIDGE_HOME"] = str(loaded.root)
    console.print(f"Serving {loaded.root} on [bold]http://{bind_host}:{bind_port}/[/]")
    # Workers start as fresh interpreters: a forked worker would inherit the tokio runtime
    # that rattler started in this process (init indexes), without its threads, and hang.
    multiprocessing.set_start_method("spawn", force=True)
    # webhooks are delivered (a replica kept up) by this process, once per server, not by
    # each worker; a replica delivers nothing: its primary does
    background = (ReplicaSync if primary else DeliveryWorker)(loaded).start()
    # granian, not uvicorn: bench/serve measured 1.5-1.8x the requests per second.
    Granian(
        "drawbridge.cli.serving:app_from_environment",
        address=bind_host,
        port=bind_port,
        interface=Interfaces.ASGI,
        factory=True,
        workers=workers or os.cpu_count() or 1,
        websockets=False,
        backlog=LISTEN_BACKLOG,
        # granian's backpressure bounds *open connections* (a permit is taken before
        # accept() and given back when the connection closes): 32 let 64 idle keep-alive
        # connections lock every other client out. It is set as high as the worker's file
        # descriptors allow; requests are bounded by `server.asgi.admission` instead.
        # So no client waits in the kernel's accept queue, where wrk's p99 would not count
        # it (`ss` showed Recv-Q 0 at 256 busy connections: docs/performance.md, "Files at
        # nginx speed"), and a fresh client's wait is the admission line's, first come
        # first served.
        backpressure=connections_per_worker(raise_open_file_limit()),
        # idle keep-alive connections (and clients that never finish their headers) are
        # closed after [server] idle_timeout_seconds: hyper's header-read timeout starts
        # when the connection waits for a request
        http1_settings=HTTP1Settings(header_read_timeout=settings.idle_timeout_seconds * 1000),
        log_level=LogLevels.warning,
        respawn_failed_workers=True,
    ).serve()
    background.stop()


def publish(
    files: Annotated[list[Path], typer.Argument(help="Wheels, sdists, .conda or .tar.bz2 files.")],
    home: HomeOption = None,
    channel: ChannelOption = None,
) -> None:
    """Check and publish files into a channel, then index it once."""
    context = open_home(home)
    target = context.channel(channel)
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        raise ChannelError(f"no such file: {', '.join(missing)}")
    with console.status(f"publishing {len(files)} file(s) into {target}…"):
        published, refused = context.channels.publish_many(target, files, uploaded_by="cli")
    for item in published:
        where = f"conda/{item.subdir}" if item.kind == "conda" else "simple"
        done = "already published" if item.already_published else "published"
        console.print(f"[green]{done}[/] {item.filename} → {target}/{where}")
    for path, reason in refused:
        errors.print(f"[red]refused[/] {escape(str(path))}: {escape(reason)}")
    if refused:
        raise typer.Exit(1)


def index(
    home: HomeOption = None,
    channel: ChannelOption = None,
    force: Annotated[bool, typer.Option(help="Re-read every conda package.")] = False,
) -> None:
    """Reconcile and rebuild a channel's indexes (all channels unless --channel).

    Files a crashed publish left are indexed or removed; packages rattler refuses are
    quarantined and named, and the rest of the channel is indexed.
    """
    channels = open_home(home).channels
    for name in [channel] if channel else channels.names():
        with console.status(f"indexing {name}…"):
            outcome = channels.reindex(name, force=force)
        for line in outcome.lines():
            errors.print(f"[yellow]{escape(line)}[/]")
        console.print(f"[green]indexed[/] {name}")
    for line in channels.finish_promotions():
        errors.print(f"[yellow]{escape(line)}[/]")


def verify(home: HomeOption = None, channel: ChannelOption = None) -> None:
    """Re-hash every stored file against the database; quarantine and name each that differs.

    Exits with 1 if any file was quarantined (see docs/operating.md, "Quarantine").
    """
    channels = open_home(home).channels
    broken = 0
    for name in [channel] if channel else channels.names():
        with console.status(f"verifying {name}…"):
            report = channels.verify(name)
        for item in report.quarantined:
            errors.print(f"[red]quarantined[/] {escape(str(item))}")
        for repaired in report.repaired:
            errors.print(f"[yellow]rewrote[/] {escape(repaired)} from its wheel")
        broken += len(report.quarantined)
        console.print(
            f"[green]verified[/] {name}: {report.checked} file(s), {len(report.quarantined)} "
            "quarantined"
        )
    if broken:
        raise typer.Exit(1)
