"""`drawbridge agent` builds the subdirs this machine can: its own, and on linux-64 the
ones it cross-compiles (linux-aarch64); for any other `--platform` it says at start that
such jobs fail here (rather than cross-compile for a platform it has no compiler for)."""

from __future__ import annotations


from clients import run_drawbridge


def test_an_agent_says_which_platforms_it_cannot_build():
    ran = run_drawbridge(
        "agent", "--server", "http://127.0.0.1:9", "--token", "t",
        "--platform", "linux-aarch64", "--platform", "win-64", "--once", timeout=60,
    )  # fmt: skip
    said = " ".join((ran.stdout + ran.stderr).split())
    assert "note: this machine is linux-64: it builds linux-64 and, cross-compiling," in said
    assert "linux-aarch64, not win-64; such jobs it claims fail here" in said
    assert "run an agent on a win-64 machine for them" in said
    assert ran.returncode == 1 and "127.0.0.1:9" in said, said  # no server there
