"""The tree stays formatted, lint-clean and type-checked (ruff and mypy, with the settings in
pyproject.toml)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from tiers import TESTS

ROOT = TESTS.parent
RUFF = Path(sys.executable).parent / "ruff"


def ruff(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(RUFF), *args], cwd=ROOT, capture_output=True, text=True, timeout=120)


def test_the_tree_is_formatted():
    result = ruff("format", "--check", ".")
    assert result.returncode == 0, "run `ruff format .`:\n" + result.stdout + result.stderr


def test_the_tree_is_lint_clean():
    result = ruff("check", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_package_type_checks():
    # `python -m mypy` reads [tool.mypy] (files = drawbridge, the strict modules); its
    # incremental cache in .mypy_cache makes a second run take a few seconds
    result = subprocess.run(
        [sys.executable, "-m", "mypy"], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, (
        "mypy (see docs/architecture.md, Types):\n" + result.stdout + result.stderr
    )
