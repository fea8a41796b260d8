"""`POST /api/lock`'s refusals, in-process (its locks, made by a real server asking
itself over HTTP: tests/clients/test_lock_on_server.py). Each refusal is an answer the
thin client takes as "lock here"; none does any work first."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from databases import new_home, write_config
from servers import IN_PROCESS_URL, AppClient, serve_in_process

from drawbridge.server.routes import locks

BODY = {
    "environment": "dependencies: [python]\n",
    "server": IN_PROCESS_URL,
    "platforms": ["linux-64"],
}


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppClient]:
    """A server whose `public_url` is the in-process URL: its locks ask that URL."""
    root = tmp_path_factory.mktemp("locks") / "home"
    write_config(new_home(root), f'[server]\npublic_url = "{IN_PROCESS_URL}"\n')
    with serve_in_process(root) as client:
        yield client


@pytest.mark.parametrize(
    "bound, reach",
    [
        (("0.0.0.0", "8080"), "http://127.0.0.1:8080"),  # granian: the port a string
        (("127.0.0.1", 8080), "http://127.0.0.1:8080"),
        (("127.0.0.2", 8080), "http://127.0.0.1:8080"),
        (("::", 8080), "http://[::1]:8080"),
        (("::1", 8080), "http://[::1]:8080"),
        (("192.0.2.2", 8080), "http://192.0.2.2:8080"),
        (("2001:db8::2", 8080), "http://[2001:db8::2]:8080"),
        (("testserver", 80), None),  # a name: not an address it listens on
        (None, None),
        (("0.0.0.0", "port"), None),
    ],
)
def test_the_lock_asks_the_server_s_own_listening_address(bound: object, reach: str | None):
    assert locks._own_address(bound) == reach


def test_a_server_that_cannot_tell_its_address_makes_no_lock(tmp_path: Path):
    """Without `public_url`, the requests of a lock go to the server's own listening
    address; in-process there is none (httpx's transport names the server `testserver`)."""
    with serve_in_process(tmp_path / "home") as client:
        answer = client.post("/api/lock", json=BODY)
        assert answer.status_code == 409 and "its own address" in answer.text


@pytest.mark.parametrize(
    "change, status, said",
    [
        ({"server": "http://elsewhere.example"}, 409, "not http://elsewhere.example"),
        ({"glibc": "2.5"}, 422, "--glibc"),
        ({"macos_arm": "10.15"}, 422, "--macos-arm"),
        ({"platforms": []}, 422, "platforms"),
        ({"environment": "x" * (locks.MAX_ENVIRONMENT_FILE + 1)}, 422, "environment"),
        ({"environment": "dependencies: [python\n"}, 422, "is not valid YAML"),
        ({"platforms": ["nowhere-64"]}, 422, "nowhere-64"),
    ],
)
def test_a_lock_it_cannot_make_is_refused_with_the_reason(
    served: AppClient, change: dict[str, object], status: int, said: str
):
    answer = served.post("/api/lock", json={**BODY, **change})
    assert answer.status_code == status, answer.text
    assert said in answer.text
    assert not (served.home.root / "cache" / locks.UV_CACHE_NAME).exists()  # no uv ran


def test_an_app_without_a_lock_maker_makes_no_locks(tmp_path_factory: pytest.TempPathFactory):
    """`create_app` without one (server/ cannot import the client's lock code itself)."""
    from drawbridge.server.app import create_app

    with serve_in_process(tmp_path_factory.mktemp("no-maker") / "home") as client:
        bare = create_app(client.home)
    transport = httpx.ASGITransport(app=bare)

    async def post() -> httpx.Response:
        async with httpx.AsyncClient(transport=transport, base_url=IN_PROCESS_URL) as http:
            return await http.post("/api/lock", json=BODY)

    answer = asyncio.run(post())
    assert answer.status_code == 404 and "makes no locks" in answer.text


def test_a_token_that_is_not_valid_is_refused_first(served: AppClient):
    answer = served.post("/api/lock", json=BODY, headers={"Authorization": "Bearer not-a-token"})
    assert answer.status_code == 401


def test_locks_beyond_those_running_are_refused_at_once(served: AppClient):
    """Each lock holds a thread and a uv process, and asks the server itself: one more than
    LOCKS_AT_ONCE gets a 503 at once rather than waiting for a thread."""
    taken = 0
    try:
        while locks._running.acquire(blocking=False):
            taken += 1
        assert taken == locks.LOCKS_AT_ONCE
        answer = served.post("/api/lock", json=BODY)
        assert answer.status_code == 503 and "locks are running" in answer.text
    finally:
        for _ in range(taken):
            locks._running.release()


def test_the_route_is_in_the_api_documentation(served: AppClient):
    paths = served.get("/openapi.json").json()["paths"]
    assert "post" in paths["/api/lock"]
