"""Hostile URLs against a real `drawbridge serve`: granian's HTTP parser meets them first,
and no answer is a server error or shows a traceback.

The in-process half, the same targets sent to the app, is `http/test_server_hardening.py`."""

from __future__ import annotations

from pathlib import Path

from builders import make_conda_tar_bz2, make_wheel
from servers import start_server

from hostile_urls import assert_no_server_error, fuzzed_targets, hostile_targets


WHEEL = "demo-1.0-py3-none-any.whl"


RECIPE = "sdist-demo"


def test_hostile_urls_against_a_real_server(tmp_path: Path):
    """The same table over TCP to `drawbridge serve` (granian decoding the URLs, the fast
    path streaming files): no 5xx, and no traceback in the server's log."""
    server = start_server(tmp_path / "home")
    try:
        drop = tmp_path / "drop"
        server.publish(
            make_wheel(drop, "demo", "1.0"), make_conda_tar_bz2(drop, "democonda", "1.0")
        )
        for method, target in hostile_targets() + fuzzed_targets(150, seed=12):
            assert_no_server_error(server.raw_request(method, target), method, target)
        assert server.raw_request("GET", f"/main/files/{WHEEL}".encode()).status == 200
    finally:
        server.stop()
    log = (tmp_path / f"server-{server.url.rsplit(':', 1)[1]}.log").read_text()
    assert "Traceback" not in log and " 500 " not in log
