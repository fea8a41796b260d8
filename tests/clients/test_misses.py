"""Requests that start from a miss: real pip asks a real server for projects it lacks."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import httpx
from builders import make_wheel
from clients import client_env, pip_install, run_with_path
from clients import run_drawbridge
from databases import new_home, set_config
from servers import start_server

from drawbridge.bridge.bridging_requests import RequestBook
from drawbridge.channel.database import Database
from drawbridge.channel.misses import most_wanted
from drawbridge.channel.service import Channels


def pip_process(url: str, target: Path, project: str) -> subprocess.Popen:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--no-cache-dir",
            "--target",
            str(target),
            "--index-url",
            f"{url}/main/simple/",
            project,
        ],
        env=client_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def wait_for(condition, seconds: float = 120) -> None:  # type: ignore[no-untyped-def]
    """Poll `condition` until it holds or `seconds` pass (the server writes counts every 2 s
    and bridges in the background)."""
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.3)


def test_five_pip_misses_make_one_request_and_the_project_installable(tmp_path: Path):
    drop = tmp_path / "drop"
    make_wheel(drop, "wanted-thing", "1.0")
    make_wheel(drop, "blocked-thing", "1.0")
    home = set_config(new_home(tmp_path / "home"), "bridge", upstream_pypi=str(drop))
    home = set_config(
        home, "policy", block=["blocked-thing"], auto_approve=["wanted-thing", "blocked-thing"]
    )
    database = Database(home.database_url)
    Channels(home, database).create("main")
    server = start_server(home.root)
    try:
        # at once: all five ask before the first count is written (2 s) and bridging starts
        asking = [pip_process(server.url, tmp_path / f"t{n}", "wanted-thing") for n in range(5)]
        assert all(p.wait(120) != 0 for p in asking), "pip found it before all five asked"
        for n in range(5):
            assert pip_process(server.url, tmp_path / "b", "blocked-thing").wait(120) != 0
        wait_for(
            lambda: [r.state for r in RequestBook(database).all()] in (["bridged"], ["failed"])
        )
        requests = RequestBook(database).all()
        assert [(r.name, r.state, r.requested_by) for r in requests] == [
            ("wanted-thing", "bridged", "(auto-approve)")
        ], requests
        counts = lambda: {(m.project, m.count) for m in most_wanted(database)}  # noqa: E731
        wait_for(lambda: counts() == {("wanted-thing", 5), ("blocked-thing", 5)})  # written
        assert counts() == {("wanted-thing", 5), ("blocked-thing", 5)}
        page = httpx.get(f"{server.url}/ui/requests").text
        assert "<td>blocked-thing</td><td>main</td><td>5</td>" in page
        installed = pip_install(f"{server.url}/main/simple/", tmp_path / "ok", "wanted-thing")
        assert installed.returncode == 0, installed.stderr
        assert (
            run_with_path(tmp_path / "ok", "import wanted_thing; print(wanted_thing.VALUE)")
            == "1.0"
        )
    finally:
        server.stop()
        database.close()
    listed = run_drawbridge("request", "list", "--wanted", home=home.root)
    assert listed.returncode == 0, listed.stderr
    lines = [line for line in listed.stdout.splitlines() if "thing" in line]
    assert "blocked-thing" in lines[0] and "5" in lines[0] and "blocked by policy" in lines[0]
    assert "wanted-thing" in lines[1] and "published now" in lines[1]
