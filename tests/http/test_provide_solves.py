"""Which package of an environment has no build: asked of a solver over the stand-in
upstream conda channel (solved in-process).

The requirement tables are tested in `unit/test_provide.py`."""

from __future__ import annotations

from pathlib import Path

import pytest

from drawbridge.bridge.missing.provide import (
    unsolvable,
)


#: the machine rattler-build's log describes ("Platform: linux-64 [__unix=0=0, …]")
MACHINE = [("__unix", "0", "0"), ("__glibc", "2.36", "0"), ("__archspec", "1", "x86_64_v4")]


@pytest.mark.parametrize(
    ("specs", "expected"),
    [
        (  # mysqlclient's host on 3.9: the stand-in upstream has setuptools 84 for 3.10+ only
            ["python 3.9.*", "setuptools >=77", "pip", "wheel"],
            ["setuptools >=77 has no build for python 3.9 in any channel (needs python >=3.10"],
        ),
        (["python 3.12.*", "pip", "libmysqlclient"], ["nothing provides libmysqlclient"]),
        (["python 3.12.*", "setuptools >=77", "pip"], []),
    ],
    ids=["no build for 3.9", "in no channel", "solves"],
)
def test_which_package_of_an_environment_has_no_build(
    upstream_39_312: Path, specs: list[str], expected: list[str]
):
    said = unsolvable([upstream_39_312.as_uri()], specs, "linux-64", MACHINE)
    assert len(said) == len(expected)
    assert all(line.startswith(start) for line, start in zip(said, expected)), said
