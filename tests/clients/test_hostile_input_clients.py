"""Decompression bombs published by a real `drawbridge publish` process stay under the
stated memory bound (measured as the process's own high-water mark).

The refusals themselves are tested in-process in `http/test_hostile_input.py`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import bombs
import pytest

from drawbridge.channel.home import Home
from drawbridge.channel.limits import MiB


@pytest.fixture(scope="module")
def bomb_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return bombs.build_every_bomb(tmp_path_factory.mktemp("bombs"))


#: docs/operating.md: a publish's peak memory is at most this, plus twice the size of a
#: conda package it indexes (rattler's indexer holds the file while reading it)
PUBLISH_PEAK_BOUND = 256 * MiB


#: `drawbridge publish ARGS…` in a fresh process that prints its own peak RSS (VmHWM) last.
#: Not ru_maxrss from wait4: Linux carries the parent's high-water mark into a child across
#: vfork+exec, so a child of a large pytest would seem as large as pytest.
_MEASURED_PUBLISH = """
import os, sys
from drawbridge.cli.app import app
try:
    app(prog_name="drawbridge", args=["publish", *sys.argv[1:]])
except BaseException:
    pass
with open("/proc/self/status") as status:
    peak = next(line.split()[1] for line in status if line.startswith("VmHWM:"))
print("peak-kib", peak, flush=True)
os._exit(0)
"""


def test_publishing_bombs_stays_under_the_stated_memory_bound(
    home: Home, bomb_files: dict[str, Path]
):
    """One `drawbridge publish` of every bomb, measured in its own process. The issue's
    wheel took 4.5 GiB and its .tar.bz2 3.6 GiB."""
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            _MEASURED_PUBLISH,
            "--home",
            str(home.root),
            *map(str, bomb_files.values()),
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "1000"},
        timeout=300,
        check=False,
    )
    output = result.stdout + result.stderr
    refused = [line for line in output.splitlines() if line.startswith("refused ")]
    assert len(refused) == len(bomb_files), output
    peak = int(output.split("peak-kib")[-1].split()[0]) * 1024
    assert peak < PUBLISH_PEAK_BOUND, f"peak RSS {peak / MiB:.0f} MiB"
