"""The recipe a reviewer reads: grayskull's, converted, corrected by what the sdist says, with
the upstream's URL and sha256, the site's maintainers and notes for the reviewer (pure).

grayskull guesses from metadata; the sdist itself is the truth for three things it gets
wrong: what builds it (`[build-system] requires`, or setuptools + wheel for a setup.py),
whether a compiler runs (C, C++, Cython, Fortran or Rust sources: then the recipe is built
per platform and Python, never noarch), and whether a licence file ships. What the
reviewer must decide is written at the top of the recipe as `# REVIEW:` comments, which
`recipe show` and the review page show with the recipe: among them each C library the
build looks for that no host requirement provides (`native_needs`), with the conda package
that would, and whether a conda channel here carries it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from drawbridge.bridge.translate.deps import conda_version_spec
from drawbridge.bridge.errors import BridgeError
from drawbridge.bridge.translate.markers import applies
from drawbridge.bridge.translate.names import NameTable
from drawbridge.bridge.recipes.native_needs import TABLE_FILE, Provision
from drawbridge.bridge.recipes.convert import (
    convert,
    dump,
    make_native,
    merge_requirements,
    requirement_name,
)
from drawbridge.bridge.recipes.sdist_facts import SdistFacts
from drawbridge.bridge.translate.targets import Target

#: the backends that are setuptools; before setuptools 70.1 they need `wheel` for bdist_wheel
SETUPTOOLS_BACKENDS = ("setuptools.build_meta", "setuptools.build_meta:__legacy__", "")
#: build requirements conda-forge spells otherwise than their PyPI names
BUILD_REQUIREMENT_NAMES = {"oldest-supported-numpy": "numpy"}
NOTE_PREFIX = "# REVIEW: "
#: the subdir builds run on (markers in build requirements are decided for it)
BUILD_SUBDIR = "linux-64"


class BuildRequirementError(BridgeError):
    """A `[build-system] requires` entry that cannot become a conda requirement."""


@dataclass(frozen=True)
class Origin:
    """Where the sdist came from: what the reviewer sees as the recipe's source."""

    url: str
    sha256: str


def _condition(pythons: list[str]) -> str:
    return " or ".join(f'match(python, "{python}.*")' for python in pythons)


def build_requirements(facts: SdistFacts, names: NameTable, pythons: list[str]) -> list[Any]:
    """Host requirements that build the sdist without isolation, decided for `pythons`.

    A marker that holds for some of them only becomes an `if:` item on those Pythons.
    """
    requires = list(facts.build_requires) if facts.build_requires is not None else []
    if facts.build_requires is None or (not requires and not facts.build_backend):
        requires = ["setuptools"]  # pip's fallback: setup.py with setuptools' legacy backend
    parsed = []
    for text in requires:
        try:
            parsed.append(Requirement(text))
        except InvalidRequirement as error:
            raise BuildRequirementError(
                f"{facts.filename}: [build-system] requires {text!r} is not PEP 508 ({error})"
            ) from error
    if facts.build_backend in SETUPTOOLS_BACKENDS and "wheel" not in {
        canonicalize_name(r.name) for r in parsed
    }:
        parsed.append(Requirement("wheel"))
    items: list[Any] = []
    for requirement in parsed:
        name = canonicalize_name(requirement.name)
        conda = BUILD_REQUIREMENT_NAMES.get(name) or names.mapping.get(name) or name
        spec = f"{conda} {conda_version_spec(requirement.specifier, str(requirement))}".strip()
        holds = [p for p in pythons if applies(requirement, Target(BUILD_SUBDIR, p))]
        if holds == pythons:
            items.append(spec)
        elif holds:
            items.append({"if": _condition(holds), "then": spec})
    return items


def rename_requirements(recipe: dict[str, Any], names: NameTable) -> dict[str, Any]:
    """Map requirement names through Drawbridge's table (its overrides beat grayskull's)."""

    def rename(item: Any) -> Any:
        if isinstance(item, dict) and "then" in item:
            return {**item, "then": rename(item["then"])}
        if not isinstance(item, str) or item.startswith("$"):
            return item
        name, _, rest = item.partition(" ")
        return f"{names.conda_name(name)} {rest}".strip()

    for section, items in (recipe.get("requirements") or {}).items():
        recipe["requirements"][section] = [rename(i) for i in items]
    return recipe


def _licence_notes(recipe: dict[str, Any], facts: SdistFacts) -> list[str]:
    about = recipe.get("about") or {}
    licence = about.get("license", "")
    said = (
        f"its metadata says {facts.licence_metadata!r}"
        if facts.licence_metadata
        else ("its metadata names none")
    )
    notes = []
    if licence in ("", "LicenseRef-Unknown"):
        notes.append(
            f"licence unknown: grayskull could not name it ({said}); set about.license "
            "to the project's SPDX licence before approving."
        )
    if not about.get("license_file"):
        notes.append(
            f"licence file missing: the sdist ships none ({said}; the recipe says "
            f"license: {licence or 'nothing'}), and nothing was looked up on the internet. "
            "Check the licence at the project's home and add about.license_file (a file in "
            "the sdist, or one beside this recipe) before approving."
        )
    return notes


def library_notes(
    found: Sequence[Provision], host: list[Any], carried: frozenset[str] | None
) -> list[str]:
    """A note for each library of `found` that no requirement of `host` provides, naming
    the conda packages that would; `carried` are those a conda channel here has (None: not
    known, the channels were not asked)."""
    in_host = {requirement_name(item) for item in host}
    notes = []
    for provision in found:
        if in_host & set(provision.conda):
            continue
        tool = " and pkg-config to requirements.build" if provision.runs_pkg_config else ""
        if provision.library is None:
            notes.append(
                f"C library: the build looks for {provision.what} "
                f"({', '.join(provision.files)}), which the sdist does not ship and "
                f"Drawbridge's table of C libraries ({TABLE_FILE.name}) does not know: add "
                f"the conda package that provides it to requirements.host{tool}."
            )
            continue
        said = f"C library: the build looks for {provision.what} ({provision.evidence()})"
        packages = ", ".join(provision.conda)
        here = [name for name in provision.conda if carried and name in carried]
        if here:
            notes.append(
                f"{said}. A conda channel here carries {', '.join(here)}: add {here[0]} to "
                f"requirements.host{tool}."
            )
        elif carried is not None:
            tool = ", with pkg-config in requirements.build" if tool else ""
            notes.append(
                f"{said}, and no conda channel here carries a package that provides it "
                f"(conda-forge's: {packages}): the build fails until one is in the conda "
                f"mirror and in requirements.host{tool}."
            )
        else:
            notes.append(
                f"{said}: add the conda package that provides it to requirements.host{tool} "
                f"(conda-forge's: {packages})."
            )
    return notes


def compose_recipe(
    meta_yaml: str,
    facts: SdistFacts,
    origin: Origin,
    names: NameTable,
    python_min: str | None,
    pythons: list[str],
    maintainers: list[str],
    unresolved_imports: tuple[str, ...] | list[str] = (),
    libraries: Sequence[Provision] = (),
    carried: frozenset[str] | None = None,
) -> str:
    """The recipe text for grayskull's `meta_yaml` of the sdist `facts` describe;
    `unresolved_imports` are modules its setup.py imports that nothing here provides;
    `libraries` the C libraries its build looks for (`native_needs.provisions`), of whose
    conda packages a conda channel here carries `carried` (None: not asked)."""
    notes: list[str] = [
        f"setup.py imports {module}, which is not installed here: if the build needs it, "
        "add the conda package that provides it to requirements.host."
        for module in unresolved_imports
    ]
    # host's build requirements come from the sdist below, not from convert's fallback
    recipe = convert(meta_yaml, python_min=python_min, build_requirements=[])
    noarch = bool((recipe.get("build") or {}).get("noarch"))
    if facts.compilers and noarch:
        make_native(recipe, facts.compilers)
        shown = ", ".join(facts.compiled_sources[:3]) + (
            ", …" if len(facts.compiled_sources) > 3 else ""
        )
        notes.append(
            f"built per platform and Python: grayskull wrote noarch: python, but the sdist "
            f"has compiled sources ({shown})."
        )
        noarch = False
    elif facts.compilers:
        make_native(recipe, facts.compilers)
    host_pythons = [python_min] if noarch and python_min else pythons
    extra = build_requirements(facts, names, host_pythons)
    if facts.uses_cython:
        extra.append("cython")
    requirements = recipe.setdefault("requirements", {})
    requirements["host"] = merge_requirements(requirements.get("host") or [], extra)
    notes.extend(library_notes(libraries, requirements["host"], carried))
    recipe["source"] = {"url": origin.url, "sha256": origin.sha256}
    recipe["extra"] = {"recipe-maintainers": list(maintainers)}
    if not maintainers:
        notes.append(
            "no maintainers: none are configured; set [recipes] maintainers in "
            "drawbridge.toml to have them written here."
        )
    notes.extend(_licence_notes(recipe, facts))
    text = dump(rename_requirements(recipe, names))
    return "".join(f"{NOTE_PREFIX}{note}\n" for note in notes) + text


def review_notes(recipe_text: str) -> list[str]:
    """The `# REVIEW:` notes at the top of a recipe."""
    return [
        line[len(NOTE_PREFIX) :].strip()
        for line in recipe_text.splitlines()
        if line.startswith(NOTE_PREFIX)
    ]
