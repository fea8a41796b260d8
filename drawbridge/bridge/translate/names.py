"""Map PyPI project names to conda package names, one table for names and dependencies alike.

A project has one conda name per PEP 503 name, whichever spelling a release or a
Requires-Dist line uses, decided in this order:
1. the real renames: Drawbridge's curated `recipes/pypi-to-conda.toml` (torch → pytorch),
   then grayskull's PyPI→conda-forge table; grayskull's dependency *aliases*
   (`pywin32-on-windows`, conda-forge's way for a noarch package to need pywin32 on
   Windows only) are not renames and are left out: pywin32 is `pywin32`;
2. the upstream conda mirror's own name for the project, matched by PEP 503
   normalisation (`zope.interface` upstream is PyPI's `zope-interface`);
3. the name the target channel already publishes the project under (of its newest
   version, should it hold two), so a later run never adds a second package for it;
4. the spelling of the newest release a run resolved (its METADATA `Name:`) lowercased,
   dots and underscores kept: `zope.interface`, `ruamel.yaml`, `typing_extensions`
   (importlib-resources 3.3.1 says `importlib-resources`, 6.5.2 `importlib_resources`:
   6.5.2 decides);
5. the name as written, lowercased.
A table learns 2 to 4 per bridge run (`with_spellings`, first learnt wins); 1 ships with
Drawbridge.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache, cached_property
from pathlib import Path

from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import InvalidVersion, Version

from drawbridge.channel.locations import user_cache_dir

#: curated data shipped with Drawbridge (DESIGN.md: recipes/)
CURATED_DIR = Path(__file__).resolve().parents[3] / "recipes"
OVERRIDES_FILE = CURATED_DIR / "pypi-to-conda.toml"
#: grayskull's entries that name a conda-forge dependency alias, not the project's package
ALIAS = re.compile(r"-on-(windows|win|linux|osx|mac|unix)$")


@dataclass(frozen=True)
class NameTable:
    """PyPI name -> conda name: the real renames, then the spellings a run has learnt."""

    mapping: Mapping[NormalizedName, str] = field(default_factory=dict)  # -> conda name
    spellings: Mapping[NormalizedName, str] = field(default_factory=dict)  # -> conda name

    def conda_name(self, pypi_name: str) -> str:
        """The conda package name for a PyPI project name."""
        key = canonicalize_name(pypi_name)
        return self.mapping.get(key) or self.spellings.get(key) or pypi_name.lower()

    @cached_property
    def _conda_to_pypi(self) -> dict[str, NormalizedName]:
        return {conda: pypi for pypi, conda in self.mapping.items()}

    def pypi_name(self, conda_name: str) -> NormalizedName:
        """The PyPI project a conda package carries: the table read backwards, else the name."""
        return self._conda_to_pypi.get(conda_name, canonicalize_name(conda_name))

    def with_overrides(self, overrides: Mapping[str, str]) -> NameTable:
        """A table whose renames include `overrides` (PyPI name -> conda name), which win."""
        merged = dict(self.mapping)
        merged.update({canonicalize_name(k): v.lower() for k, v in overrides.items()})
        return NameTable(merged, self.spellings)

    def with_spellings(self, names: Iterable[str]) -> NameTable:
        """A table that also knows these names as spelt (upstream conda names, a channel's,
        or projects' METADATA names); a spelling already known wins over a later one."""
        learnt = dict(self.spellings)
        for name in names:
            learnt.setdefault(canonicalize_name(name), name.lower())
        return NameTable(self.mapping, learnt)


def newest_spellings(named: Iterable[tuple[str, str]]) -> dict[NormalizedName, str]:
    """Each project's spelling (lowercased) at its newest version, from (name, version)
    pairs: conda packages a channel holds, or releases a run resolved."""
    newest: dict[NormalizedName, tuple[tuple[int, Version | str], str]] = {}
    for name, version in named:
        key, rank = canonicalize_name(name), (_version_rank(version), name.lower())
        if key not in newest or rank > newest[key]:
            newest[key] = rank
    return {key: spelling for key, (_version, spelling) in newest.items()}


def spelt_twice(named: Iterable[tuple[str, str]]) -> dict[NormalizedName, list[str]]:
    """The projects spelt more than one way among (name, version) pairs, with their
    spellings (lowercased, sorted): a channel holding `foo-bar` and `foo_bar`."""
    spellings: dict[NormalizedName, set[str]] = {}
    for name, _version in named:
        spellings.setdefault(canonicalize_name(name), set()).add(name.lower())
    return {key: sorted(found) for key, found in sorted(spellings.items()) if len(found) > 1}


def _version_rank(version: str) -> tuple[int, Version | str]:
    """A version to compare by: PEP 440 order, a version it cannot parse below every other."""
    try:
        return 1, Version(version)
    except InvalidVersion:
        return 0, version


#: bump when the rule below (what of grayskull's table is kept) changes, to drop cached copies
_MAPPING_REVISION = "1"


def grayskull_mapping(cache_dir: Path | None = None) -> dict[NormalizedName, str]:
    """grayskull's PyPI→conda-forge names, for the entries that rename (aliases left out).

    The table is grayskull's `strategy/config.yaml`, found without importing grayskull's
    PyPI strategy (which pulls in setuptools and takes a third of a second). Reading its
    YAML takes a tenth of a second more, most of `drawbridge lock`'s own time, so what is
    kept of it is cached as JSON in `cache_dir` (default: the user's cache folder), named
    after the file's sha256; a cache that cannot be read or written is not used.
    """
    spec = importlib.util.find_spec("grayskull")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("grayskull is missing: Drawbridge needs its PyPI→conda name table")
    config = Path(next(iter(spec.submodule_search_locations))) / "strategy" / "config.yaml"
    data = config.read_bytes()
    digest = hashlib.sha256(data + _MAPPING_REVISION.encode()).hexdigest()[:24]
    cached = (cache_dir or user_cache_dir()) / f"grayskull-names-{digest}.json"
    try:
        return {canonicalize_name(k): v for k, v in json.loads(cached.read_bytes()).items()}
    except (OSError, ValueError):
        pass
    mapping = _renames(data.decode("utf-8"))
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        partial = cached.with_name(f".{cached.name}.{os.getpid()}.part")
        partial.write_text(json.dumps(mapping, sort_keys=True), "utf-8")
        os.replace(partial, cached)
    except OSError:
        pass
    return mapping


def _renames(config_text: str) -> dict[NormalizedName, str]:
    """The renaming entries of grayskull's config.yaml."""
    from ruamel.yaml import YAML

    document = YAML(typ="safe").load(config_text) or {}
    mapping = {}
    for pypi_name, entry in document.items():
        conda = (entry or {}).get("conda_forge")
        if conda and canonicalize_name(pypi_name) != conda and not ALIAS.search(conda):
            mapping[canonicalize_name(pypi_name)] = conda.lower()
    return mapping


def curated_overrides(path: Path = OVERRIDES_FILE) -> dict[str, str]:
    if not path.is_file():
        return {}
    import tomllib  # here: drawbridge lock's early uv run comes before it (environments/uv_run.py)

    return dict(tomllib.loads(path.read_text("utf-8")).get("names", {}))


@cache
def default_table() -> NameTable:
    """grayskull's table overridden by Drawbridge's curated `recipes/pypi-to-conda.toml`."""
    return NameTable(grayskull_mapping()).with_overrides(curated_overrides())
