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


# -- inside server/: shared modules below, three folders above them, `app` on top ----------

SERVER = PACKAGE / "server"
#: the server's folders; a module at server/'s top (but `app`) is shared by them
FOLDERS = ("asgi", "routes", "ui")
#: what a module of each part of server/ may import of server/, besides its own module
SERVER_ALLOWED = {
    "shared": {"shared"},
    "asgi": {"shared", "asgi"},  # an ASGI layer: never a route nor a page
    "routes": {"shared"},  # a route module: never another one, nor a page
    "ui": {"shared", "ui"},  # a page: never a route module
    "app": {"shared", *FOLDERS},  # the assembler
}


def server_modules_imported(path: Path) -> set[str]:
    """The `drawbridge.server…` modules (or packages) a module imports, anywhere in it;
    `from drawbridge.server.routes import pip` imports `drawbridge.server.routes.pip`."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                child = f"{node.module}.{alias.name}"
                relative = Path(*child.split(".")[1:])
                is_module = (PACKAGE / relative).with_suffix(".py").exists()
                found.add(child if is_module or (PACKAGE / relative).is_dir() else node.module)
    return {name for name in found if name.startswith("drawbridge.server")}


def part_of(module: str) -> str:
    """Which part of server/ the module `drawbridge.server.…` is: a folder, `app` or
    `shared`."""
    parts = module.split(".")[2:]
    if not parts:
        return "shared"  # the package itself says nothing it imports
    if parts[0] in FOLDERS:
        return parts[0]
    return "app" if parts[0] == "app" else "shared"


def module_name(path: Path) -> str:
    relative = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = relative.parts[:-1] if relative.name == "__init__" else relative.parts
    return ".".join(parts)


@pytest.mark.parametrize(
    "path", sorted(SERVER.rglob("*.py")), ids=lambda p: str(p.relative_to(SERVER))
)
def test_server_modules_import_only_what_their_part_may(path: Path):
    """Route modules never import each other nor a page; pages never a route module; ASGI
    layers neither; the shared modules none of the folders; a folder's `__init__` offers
    its own modules."""
    module = module_name(path)
    part = part_of(module)
    allowed = SERVER_ALLOWED[part] | ({part} if path.name == "__init__.py" else set())
    wrong = {
        imported
        for imported in server_modules_imported(path) - {module}
        if part_of(imported) not in allowed
        or (part == "routes" and path.name != "__init__.py" and part_of(imported) == "routes")
    }
    assert not wrong, f"{module} ({part}) imports {sorted(wrong)}"


def test_the_server_parts_are_known():
    """Every folder of server/ with modules is one of FOLDERS (a new one gets its rule)."""
    folders = {p.name for p in SERVER.iterdir() if (p / "__init__.py").exists()}
    assert folders == set(FOLDERS)
