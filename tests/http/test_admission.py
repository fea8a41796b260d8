"""Admission bounds requests, not connections (issue 16, item 0): these drive
`server.asgi.admission.Admission` around a small ASGI app to check its rules exactly.

The real sockets against a real `drawbridge serve` are in
`clients/test_admission_clients.py`.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from databases import new_home, write_config

from drawbridge.server.asgi.admission import Admission, AdmissionLimits


class Blocking:
    """An ASGI app whose answers wait for `release`; counts how many it works on at once."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.working = 0
        self.most = 0

    async def __call__(self, scope, receive, send) -> None:  # type: ignore[no-untyped-def]
        self.working += 1
        self.most = max(self.most, self.working)
        try:
            await self.release.wait()
        finally:
            self.working -= 1
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


async def _call(app, method: str, path: str = "/") -> int:  # type: ignore[no-untyped-def]
    statuses: list[int] = []

    async def receive() -> dict:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    await app({"type": "http", "method": method, "path": path}, receive, send)
    return statuses[0]


def test_admission_bounds_requests_and_keeps_reads_apart_from_writes():
    async def scenario() -> tuple[int, list[int], int]:
        inner = Blocking()
        app = Admission(inner, AdmissionLimits(reads=3, writes=1, waiting=100))
        reads = [asyncio.create_task(_call(app, "GET")) for _ in range(10)]
        writes = [asyncio.create_task(_call(app, "POST")) for _ in range(4)]
        await asyncio.sleep(0.05)
        working = inner.working  # 3 reads + 1 write, the rest in line
        inner.release.set()
        statuses = await asyncio.gather(*reads, *writes)
        return working, statuses, inner.most

    working, statuses, most = asyncio.run(scenario())
    assert working == 4
    assert most == 4
    assert statuses == [200] * 14


def test_a_lock_takes_a_reader_s_place_not_an_upload_s():
    """`POST /api/lock` changes nothing: a burst of locks waits among the reads, and the
    one upload place is still free."""

    async def scenario() -> tuple[int, int]:
        inner = Blocking()
        app = Admission(inner, AdmissionLimits(reads=2, writes=1, waiting=100))
        locks = [asyncio.create_task(_call(app, "POST", "/api/lock")) for _ in range(5)]
        upload = asyncio.create_task(_call(app, "POST", "/main/upload/"))
        await asyncio.sleep(0.05)
        working = inner.working  # 2 locks (the reads' places) + the upload
        inner.release.set()
        await asyncio.gather(*locks, upload)
        return working, inner.most

    assert asyncio.run(scenario()) == (3, 3)


def test_a_full_line_is_answered_503_at_once():
    async def scenario() -> list[int]:
        inner = Blocking()
        app = Admission(inner, AdmissionLimits(reads=1, writes=1, waiting=2))
        tasks = [asyncio.create_task(_call(app, "GET")) for _ in range(5)]
        await asyncio.sleep(0.05)
        done = [task.result() for task in tasks if task.done()]  # refused without waiting
        inner.release.set()
        await asyncio.gather(*tasks)
        return done

    assert asyncio.run(scenario()) == [503, 503]


def test_a_place_is_given_back_when_the_answer_starts():
    """A slow download keeps no place: the next request is worked on while its body leaves."""

    async def scenario() -> list[str]:
        events: list[str] = []
        body_sent = asyncio.Event()

        async def slow_body(scope, receive, send) -> None:  # type: ignore[no-untyped-def]
            await send({"type": "http.response.start", "status": 200, "headers": []})
            if scope["path"] == "/slow":
                events.append("slow started")
                await body_sent.wait()
            events.append(f"{scope['path']} done")
            await send({"type": "http.response.body", "body": b""})

        app = Admission(slow_body, AdmissionLimits(reads=1, writes=1, waiting=10))

        async def request(path: str) -> None:
            async def receive() -> dict:
                return {"type": "http.request", "body": b""}

            async def send(message: dict) -> None:
                pass

            await app({"type": "http", "method": "GET", "path": path}, receive, send)

        slow = asyncio.create_task(request("/slow"))
        await asyncio.sleep(0.01)
        await asyncio.wait_for(request("/fast"), 1)  # not stuck behind /slow's body
        body_sent.set()
        await slow
        return events

    assert asyncio.run(scenario()) == ["slow started", "/fast done", "/slow done"]


def test_idle_timeout_must_be_positive(tmp_path: Path):
    from drawbridge.channel.home import HomeError, load_home

    home = new_home(tmp_path / "home")
    write_config(home, "[server]\nidle_timeout_seconds = 0\n")
    with pytest.raises(HomeError, match="idle_timeout_seconds must be 1 or more"):
        load_home(home.root)
    write_config(home, "[server]\noutbox_keep_days = 0\n")
    with pytest.raises(HomeError, match="outbox_keep_days must be 1 or more"):
        load_home(home.root)
