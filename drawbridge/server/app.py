"""Assemble the FastAPI application for one home from explicit parts."""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.types import ASGIApp

from drawbridge import __version__
from drawbridge.channel.changes import Listener, shared
from drawbridge.channel.database import Database
from drawbridge.channel.errors import ChannelError
from drawbridge.channel.home import Home
from drawbridge.channel.service import Channels
from drawbridge.server.accel import AccelRedirect
from drawbridge.server.asgi import (
    AccessLog,
    Admission,
    CrossOriginGuard,
    Gate,
    IndexFastPath,
    MissCounter,
    MissCounting,
    NotForProxyCache,
    PublicUrl,
    ReadOnlyReplica,
    TokenPrefixMiddleware,
    public_origin,
)
from drawbridge.server.context import Context
from drawbridge.server.errors import EXCEPTION_HANDLERS
from drawbridge.server.openapi import install_openapi
from drawbridge.server.wanted import AutoApproval
from drawbridge.server.routes import (
    admin,
    bases,
    conda,
    docs,
    jobs,
    locks,
    pip,
    promote,
    requests,
    replica_files,
    upload,
    upstream,
)
from drawbridge.server.routes.locks import LockMaker
from drawbridge.server.ui import api_docs, browse, held, hooks, review
from drawbridge.server.ui import jobs as job_pages

log = logging.getLogger("drawbridge")
#: how `drawbridge serve --replica-of URL` tells its workers
REPLICA_OF_VARIABLE = "DRAWBRIDGE_REPLICA_OF"


def _recover_in_background(channels: Channels) -> None:
    def run() -> None:
        try:
            outcomes = channels.recover()
        except ChannelError as error:  # a full disk, say: the last complete indexes are served
            log.error("recovery on start failed: %s", error)
            return
        for outcome in outcomes:
            for line in outcome.lines():
                log.warning("%s", line)

    threading.Thread(target=run, name="drawbridge-recover", daemon=True).start()


def create_app(home: Home, lock_maker: LockMaker | None = None) -> ASGIApp:
    """The application serving `home`; re-indexes what a crash left half-done on start.
    `lock_maker` makes the locks of `POST /api/lock` (none: the route answers 404, and
    clients lock themselves): `drawbridge serve` hands it the client's lock code
    (cli/serving.py), which server/ may not import.

    The FastAPI application sits inside plain ASGI layers, outermost first: admission
    (how many requests are worked on at once; the rest wait in line), the
    `/t/<token>/` prefix, the fast path, which answers the hottest anonymous reads before
    any routing happens (and logs them itself; it answers GET and HEAD only), the access
    log, `[server] public_url` put in place of each request's scheme and Host (when it is
    set), the cross-origin guard, which refuses a browser's change from another site's page
    before anything authenticates it, on a replica (`[server] replica_of`) the refusal of
    every change, naming the primary, the read gate, which refuses malformed URLs and
    requests without the token reading needs before a route runs, and the miss counter (a
    404 of a project page, counted for `request list --wanted`; not on a replica, which
    writes nothing). /docs and /openapi.json are routes like the others, behind the gate.
    A replica runs no recovery: its store and indexes are `server.replication`'s, run by
    `drawbridge serve`.
    """
    replica_of = home.server.replica_of
    database = Database(home.database_url, replica_of)
    channels = Channels(home, database)
    misses = MissCounter(database, AutoApproval(home, channels))
    # servers on other machines sharing the database tell their changes through it
    listener = Listener(database) if shared(database) else None

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if listener is not None:
            listener.start()
        if not replica_of:  # a replica's store and indexes are `server.replication`'s
            _recover_in_background(channels)
        yield
        if listener is not None:
            listener.stop()
        misses.flush()
        database.close()

    app = FastAPI(
        title="Drawbridge",
        version=__version__,
        lifespan=lifespan,
        docs_url=None,  # api_docs serves them, without a CDN
        redoc_url=None,
    )
    context = Context(home=home, database=database, channels=channels, misses=misses)
    if listener is not None:
        channels.access.watch(listener.count("permissions"))
        context.inherited.watch_bases(listener.count("bases"))
    app.state.context = context
    app.state.lock_maker = lock_maker
    # files the routes send after their checks go through nginx when it is in front
    app.state.accel = AccelRedirect.for_home(home.server.accel_redirect_prefix, home.root)
    for family, handler in EXCEPTION_HANDLERS:
        app.add_exception_handler(family, handler)
    # routes.upstream before routes.conda: `/upstream/conda/<subdir>/<file>` is a mirror
    # named conda. ui.browse last: its `/{channel}/` must not shadow `/simple/`.
    for module in (
        api_docs,
        bases,
        admin,
        upstream,
        requests,
        promote,
        jobs,
        locks,
        pip,
        conda,
        upload,
        docs,
        review,
        held,
        hooks,
        job_pages,
        replica_files,
        browse,
    ):
        app.include_router(module.router)
    install_openapi(app)
    url = home.server.public_url
    counted: ASGIApp = app if replica_of else MissCounting(app, misses, home.server.default_channel)
    gated: ASGIApp = Gate(counted, context)
    guarded = CrossOriginGuard(
        ReadOnlyReplica(gated, replica_of) if replica_of else gated, public_origin(url)
    )
    routed: ASGIApp = PublicUrl(guarded, url) if url else guarded
    if home.server.proxy_cache_seconds:  # only the fast path's anonymous reads may be kept
        routed = NotForProxyCache(routed)
    log = AccessLog.open(home.server.access_log, home.root)
    fast = IndexFastPath(log.wrap(routed) if log else routed, context, log)
    return Admission(TokenPrefixMiddleware(fast))


def app_from_environment(lock_maker: LockMaker | None = None) -> ASGIApp:
    """What server workers serve: the home named by $DRAWBRIDGE_HOME (a replica of
    $DRAWBRIDGE_REPLICA_OF, `drawbridge serve --replica-of`, when it is set); the
    workers' factory is cli/serving.py's, which passes the lock maker."""
    import os

    from drawbridge.channel.home import as_replica_of, load_home

    home = load_home()
    primary = os.environ.get(REPLICA_OF_VARIABLE, "")
    return create_app(as_replica_of(home, primary) if primary else home, lock_maker)
