"""`drawbridge agent` takes the subdirs this machine builds: its own, and on linux-64 the
ones it cross-compiles (linux-aarch64); any other `--platform` is refused at start, before
it asks the server for anything, with the machine's subdir named."""

from __future__ import annotations

import subprocess

from clients import BIN, client_env


def test_an_agent_refuses_a_platform_it_cannot_build():
    ran = subprocess.run(
        [str(BIN / "drawbridge"), "agent", "--server", "http://127.0.0.1:9", "--token", "t",
         "--platform", "linux-aarch64", "--platform", "win-64", "--once"],
        capture_output=True, text=True, env=client_env(), timeout=60,
    )  # fmt: skip
    said = " ".join((ran.stdout + ran.stderr).split())
    assert ran.returncode == 1, said
    assert "this machine is linux-64: it builds linux-64 and, cross-compiling," in said
    assert "linux-aarch64, not win-64" in said
    assert "run an agent on a win-64 machine" in said
