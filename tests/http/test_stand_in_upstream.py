"""The stand-in upstream behaves like conda-forge: python_abi and python constrain each other,
and the build tools carry their real Python bounds, several versions where one cannot
serve every Python (DESIGN.md, "Test upstream")."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
import rattler
from rattler.exceptions import SolverError


@pytest.fixture
def upstream(upstream_39_312: Path) -> Path:
    return upstream_39_312


def solve(upstream: Path, specs: list[str]) -> dict[str, str]:
    records = asyncio.run(
        rattler.solve([rattler.Channel(upstream.as_uri())], specs, platforms=["linux-64", "noarch"])
    )
    return {r.name.normalized: str(r.version) for r in records}


def test_python_abi_and_python_go_together(upstream: Path):
    assert solve(upstream, ["python 3.12.*"])["python_abi"] == "3.12"
    with pytest.raises(SolverError):
        solve(upstream, ["python 3.12.*", "python_abi 3.9.*"])  # sgmllib3k's test env, once


@pytest.mark.parametrize(
    ("python", "pip", "setuptools"),
    [("3.9", "24.2", "67.6.1"), ("3.11", "26.2.1", "84.0.0"), ("3.12", "26.2.1", "84.0.0")],
)
def test_each_python_gets_build_tools_that_support_it(
    upstream: Path, python: str, pip: str, setuptools: str
):
    solved = solve(upstream, [f"python {python}.*", "pip", "setuptools", "wheel", "flit-core"])
    assert (solved["pip"], solved["setuptools"]) == (pip, setuptools)
    assert {"wheel", "packaging", "flit-core"} <= set(solved)


def test_the_tools_carry_their_requires_python(upstream: Path):
    """pip 26 and setuptools 84 say Requires-Python >=3.10: so do their packages."""
    packages = json.loads((upstream / "noarch" / "repodata.json").read_text())["packages.conda"]
    for record in packages.values():
        if (record["name"], record["version"]) in (("pip", "26.2.1"), ("setuptools", "84.0.0")):
            assert any(">=3.10" in d for d in record["depends"] if d.startswith("python ")), record
