"""`drawbridge build`'s own agent: the same agent as on a builder machine, talking to the
home's app in this process (httpx's ASGI transport: no port) with a builder token made
for the run and revoked after it, so its outputs pass the same verification.

It builds what this machine can (linux-64, noarch, and the subdirs it cross-builds for
when the channels carry the cross compiler, `target_build.cross_targets`) from local
folders: the home's channel and the upstream conda mirrors that are folders, under the
same sandbox, with the server's home hidden from the build. The wheels as built stay in
`work/unrepaired/` (the agent's), the repaired ones are published.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import replace
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import httpx

from drawbridge.agent.api import AgentApi
from drawbridge.agent.work import Done, Options, run
from drawbridge.bridge.recipes.target_build import HOST_SUBDIR
from drawbridge.channel.database import utcnow
from drawbridge.channel.home import Home
from drawbridge.channel.tokens import Role, create_token, revoke_token
from drawbridge.server.app import create_app

#: the user the local agent's tokens belong to
LOCAL_AGENT = "local-agent"
#: the origin in-process requests name (never resolved)
IN_PROCESS = "http://drawbridge.in-process"


class InProcessHttp:
    """Synchronous requests to an ASGI app in this process, each answered in full."""

    def __init__(self, app: Any, token: str) -> None:
        self._runner = asyncio.Runner()
        self._client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url=IN_PROCESS,
            headers={"authorization": f"Bearer {token}"},
            timeout=None,
        )

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        kwargs.pop("timeout", None)

        async def send() -> httpx.Response:
            response = await self._client.request(method, url, **kwargs)
            await response.aread()
            return response

        return self._runner.run(send())

    def close(self) -> None:
        self._runner.run(self._client.aclose())
        self._runner.close()


def build_locally(
    home: Home,
    database: Any,
    channels: Sequence[str],
    recipes: Sequence[str],
    pythons: Sequence[str],
    work: Path,
    on_done: Callable[[Done], None] | None = None,
    cross: Sequence[str] = (),
) -> list[Done]:
    """Build the queued jobs of `recipes` this machine can build (and those of the subdirs
    of `cross`, cross-compiled), until none is left."""
    platforms = (HOST_SUBDIR, *cross)
    token = create_token(
        database,
        LOCAL_AGENT,
        Role.builder,
        platforms=list(platforms),
        expires=utcnow() + dt.timedelta(days=1),
    )
    # the same app as `serve`, without an access log: the agent's requests are no one's visit
    quiet = replace(home, server=replace(home.server, access_log=""))
    http = InProcessHttp(create_app(quiet), token)
    try:
        options = Options(
            server=IN_PROCESS,
            token=token,
            platforms=platforms,
            pythons=tuple(pythons),
            work=work,
            channels=tuple(channels),
            hide=(home.root,),
            recipes=tuple(recipes),
        )
        return run(AgentApi(http, LOCAL_AGENT), options, until_idle=True, on_done=on_done)
    finally:
        http.close()
        revoke_token(database, token)
