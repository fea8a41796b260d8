"""The console script: exit statuses and output survive ending without finalization."""

from __future__ import annotations

import subprocess
import sys

from clients import client_env

PROBE = """
import atexit, sys
atexit.register(lambda: print("finalized"))
sys.argv = ["drawbridge", *sys.argv[1:]]
from drawbridge.cli.entry import main
main()
"""


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", PROBE, *args],
        capture_output=True,
        text=True,
        env=client_env(),
        timeout=120,
    )


def test_success_keeps_status_and_output_and_skips_finalization():
    result = run("--help")
    assert result.returncode == 0 and "Usage: drawbridge" in result.stdout
    assert "finalized" not in result.stdout, (
        "rattler's runtime threads must not meet a finalizing interpreter"
    )


def test_failures_keep_their_status_and_message(tmp_path):
    result = run(
        "env", "create", "--lock", str(tmp_path / "missing.lock"), "--prefix", str(tmp_path / "env")
    )
    assert (
        result.returncode == 1
        and "no lock file" in result.stderr
        and "finalized" not in result.stdout
    )
    usage = run("lock", "--platform")
    assert usage.returncode == 2 and "requires an argument" in usage.stderr


def test_client_commands_start_without_the_server_stack():
    """`lock`, `env` and `image` run on build hosts in loops: their import path must not
    pull in the web stack, the database or rattler-build (seconds of imports each time)."""
    probe = (
        "import sys; import drawbridge.cli.entry, drawbridge.cli.env_commands; "
        "print(sorted(m for m in ('fastapi', 'starlette', 'sqlalchemy', 'rattler_build', "
        "'granian') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, env=client_env(), timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_lock_starts_without_what_only_images_and_failures_use():
    """`drawbridge lock` is measured against `uv pip compile` (issue 22): the OCI writer,
    installer (the image's wheel installer) and the missing-package advice are imported by
    the commands that use them, not by every client command."""
    image_only = (
        "drawbridge.environments.oci",
        "drawbridge.environments.wheel_install",
        "installer",
        "drawbridge.bridge.missing.provide",
    )
    probe = (
        "import sys; import drawbridge.cli.entry, drawbridge.cli.env_commands; "
        f"print(sorted(m for m in {image_only!r} if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, env=client_env(), timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_the_agent_starts_without_the_server_stack():
    """`drawbridge agent` runs on builder machines that have no home: its import path loads
    neither the web stack nor the database (rattler-build only in the build's child)."""
    probe = (
        "import sys; import drawbridge.cli.entry, drawbridge.cli.agent_command, "
        "drawbridge.agent.work; "
        "print(sorted(m for m in ('fastapi', 'starlette', 'sqlalchemy', 'rattler_build', "
        "'granian', 'alembic') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, env=client_env(), timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
    usage = run("agent", "--help")
    assert (
        usage.returncode == 0 and "--platform" in usage.stdout and "finalized" not in usage.stdout
    )


def test_lock_reads_its_options_without_pydantic(tmp_path):
    """Typer builds a pydantic TypeAdapter per option (importing pydantic and building them
    took a quarter of `drawbridge lock`); the plain values of `lock`'s options are coerced
    without (drawbridge/cli/coercion.py), and a bad one still gets typer's message."""
    probe = """
import os, sys
sys.argv = ["drawbridge", *sys.argv[1:]]
exit_ = os._exit
def report(code):
    print(sorted(m for m in ("pydantic", "annotated_types") if m in sys.modules), flush=True)
    exit_(code)
os._exit = report
from drawbridge.cli.entry import main
main()
"""
    every_option = [
        "lock",
        str(tmp_path / "missing.yml"),
        "--server",
        "http://127.0.0.1:9",
        "-p",
        "linux-64",
        "-p",
        "osx-arm64",
        "-o",
        str(tmp_path / "out.lock"),
        "--request",
        "--glibc",
        "2.28",
        "--macos-intel",
        "10.15",
        "--macos-arm",
        "12.0",
        "--token",
        "t",
    ]
    result = subprocess.run(
        [sys.executable, "-c", probe, *every_option],
        capture_output=True,
        text=True,
        env=client_env(),
        timeout=120,
    )
    assert result.returncode == 1 and "cannot read" in result.stderr, result.stderr
    assert result.stdout.strip() == "[]"
