"""The layers import only downward: channel ← bridge ← {server, environments} ← cli; and
inside bridge/, its rooms import only the rooms below them.

Read from the source with `ast` (nothing is imported), so a new upward import, even a
lazy one inside a function, fails here.
"""

from __future__ import annotations

import ast
from itertools import permutations
from pathlib import Path

import pytest
from tiers import TESTS

PACKAGE = TESTS.parent / "drawbridge"
BRIDGE = PACKAGE / "bridge"
#: what each layer may import of ours, besides itself
ALLOWED = {
    "channel": set(),
    "bridge": {"channel"},
    "server": {"channel", "bridge"},
    "environments": {"channel", "bridge"},
    # the build agent: a client like environments/, on builder machines without a home
    "agent": {"bridge"},
    "cli": {"channel", "bridge", "server", "environments", "agent"},
}
#: bridge/'s rooms (one idea per folder) and the rooms each may import, besides itself
#: and BASE; no room imports bridge/'s top, where the rooms meet
ROOMS = {
    "translate": set(),
    "missing": set(),
    "upstream": {"translate"},
    "resolve": {"translate", "upstream"},
    "wheels": {"translate", "upstream"},
    "installable": {"translate", "missing"},
    "recipes": {"translate", "upstream", "missing"},
    # the build farm (jobs, leases, verification: issue 19) builds what the recipes room
    # approved, and gates what agents upload with the installability check
    "farm": {"translate", "upstream", "missing", "recipes", "installable"},
    # what crosses the air gap may be held: policy decides (pure), bundles carry
    "policy": set(),  # its rules are pure; holding keeps files through channel/
    "bundles": {"policy", "recipes", "translate", "upstream", "missing"},
}
#: the ways from a plan to published packages: siblings, none imports another
ROUTES = ("resolve", "wheels", "installable", "recipes")
#: the modules at bridge/'s top every room may import: the error family, the bridge's tables
BASE = {"errors", "records"}
#: bridge/'s top: BASE, and where the rooms meet (a run, its plan, carrying it out) and the
#: maintainers' books that need no room
TOP = BASE | {"run", "plan", "execute", "bridging_requests", "promotion"}


def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text("utf-8"))


def imports_of_ours(path: Path) -> set[str]:
    """The `drawbridge.<layer>` packages a module imports, anywhere in it."""
    layers = set()
    for node in ast.walk(_tree(path)):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        layers |= {name.split(".")[1] for name in names if name.startswith("drawbridge.")}
    return layers


def bridge_imports(path: Path) -> set[str]:
    """The dotted names of bridge/ a module imports, anywhere in it (`from a import b`: `a.b`)."""
    found = set()
    for node in ast.walk(_tree(path)):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return {name for name in found if name.startswith("drawbridge.bridge.")}


def bridge_parts(path: Path) -> set[tuple[str, str]]:
    """The parts of bridge/ a module imports: (room, module) for a room's module, (module,
    "") for one at bridge/'s top. A name imported from a module is not a part."""
    parts = set()
    for name in bridge_imports(path):
        first, *rest = name.removeprefix("drawbridge.bridge.").split(".")
        parts.add((first, rest[0]) if (BRIDGE / first).is_dir() and rest else (first, ""))
    return parts


def offered(room: str) -> list[str]:
    """The `__all__` of a room's `__init__`."""
    for node in _tree(BRIDGE / room / "__init__.py").body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets
        ):
            return ast.literal_eval(node.value)
    return []


def rooms_on_disk() -> list[str]:
    return sorted(p.name for p in BRIDGE.iterdir() if (p / "__init__.py").exists())


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


def test_no_module_imports_relatively():
    """The rules here read absolute imports only, so there are no others."""
    relative = {
        str(path.relative_to(PACKAGE.parent))
        for path in PACKAGE.rglob("*.py")
        for node in ast.walk(_tree(path))
        if isinstance(node, ast.ImportFrom) and node.level
    }
    assert not relative, sorted(relative)


@pytest.mark.parametrize("room", sorted(ROOMS))
def test_a_room_imports_only_the_rooms_below_it(room: str):
    beside = {
        f"{path.relative_to(PACKAGE.parent)} imports bridge.{'.'.join(filter(None, part))}"
        for path in (BRIDGE / room).rglob("*.py")
        for part in bridge_parts(path)
        if part[0] not in {room, *ROOMS[room], *BASE}
    }
    assert not beside, sorted(beside)


def test_the_base_imports_no_room():
    above = {
        f"bridge/{module}.py imports bridge.{'.'.join(filter(None, part))}"
        for module in sorted(BASE)
        for part in bridge_parts(BRIDGE / f"{module}.py")
        if part[0] not in BASE
    }
    assert not above, sorted(above)


def test_the_routes_never_import_each_other_and_the_rooms_make_no_cycle():
    assert not [(a, b) for a, b in permutations(ROUTES, 2) if b in ROOMS[a]]

    def below(room: str, seen: tuple[str, ...]) -> None:
        assert room not in seen, f"the rooms make a cycle: {' → '.join([*seen, room])}"
        for lower in ROOMS[room]:
            below(lower, (*seen, room))

    for room in ROOMS:
        below(room, ())


def test_a_room_is_entered_only_through_what_it_offers():
    """Outside a room, Drawbridge imports only the modules its `__init__` offers."""
    inside = {
        f"{path.relative_to(PACKAGE.parent)} imports bridge.{room}.{module}"
        for path in PACKAGE.rglob("*.py")
        for room, module in bridge_parts(path)
        if module and BRIDGE / room not in path.parents and module not in offered(room)
    }
    assert not inside, sorted(inside)


def test_every_room_and_top_module_of_the_bridge_is_known():
    assert set(rooms_on_disk()) <= set(ROOMS), "add the new room to ROOMS, with its rules"
    top = {p.stem for p in BRIDGE.glob("*.py")} - {"__init__"}
    assert top == TOP, "a module at bridge/'s top belongs in a room, or in TOP with a reason"


@pytest.mark.parametrize("room", rooms_on_disk())
def test_a_room_says_its_idea_and_offers_modules_without_importing_them(room: str):
    """A room's `__init__` imports nothing, so importing one of its modules (the client
    commands' `schemes`, `python -m …grayskull_offline`) loads only that module's imports."""
    init = _tree(BRIDGE / room / "__init__.py")
    assert ast.get_docstring(init), f"bridge/{room}/__init__.py: say the room's idea"
    assert not [n for n in ast.walk(init) if isinstance(n, (ast.Import, ast.ImportFrom))]
    modules = {p.stem for p in (BRIDGE / room).glob("*.py")} - {"__init__"}
    assert offered(room) and set(offered(room)) <= modules


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
