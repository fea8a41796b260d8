"""The layers import only downward: channel ← bridge ← {server, environments} ← cli.

Read from the source with `ast` (nothing is imported), so a new upward import, even a
lazy one inside a function, fails here.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "drawbridge"
#: what each layer may import of ours, besides itself
ALLOWED = {
    "channel": set(),
    "bridge": {"channel"},
    "server": {"channel", "bridge"},
    "environments": {"channel", "bridge"},
    "cli": {"channel", "bridge", "server", "environments"},
}


def imports_of_ours(path: Path) -> set[str]:
    """The `drawbridge.<layer>` packages a module imports, anywhere in it."""
    layers = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        layers |= {name.split(".")[1] for name in names if name.startswith("drawbridge.")}
    return layers


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_a_layer_imports_only_the_layers_below_it(layer: str):
    upward = {
        f"{path.relative_to(PACKAGE.parent)} imports drawbridge.{other}"
        for path in (PACKAGE / layer).rglob("*.py")
        for other in imports_of_ours(path) - ALLOWED[layer] - {layer}
    }
    assert not upward, sorted(upward)


def test_every_layer_is_known():
    packages = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists()}
    assert packages == set(ALLOWED)
