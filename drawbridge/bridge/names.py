"""Map PyPI project names to conda package names, one table for names and dependencies alike.

Conda names are lowercase with dashes (PEP 503 normalisation), then mapped through
grayskull's PyPI→conda table, then through Drawbridge's curated overrides, which win.
"""

from __future__ import annotations

import importlib.util
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache, cached_property
from pathlib import Path

from packaging.utils import canonicalize_name

#: curated data shipped with Drawbridge (DESIGN.md: recipes/)
CURATED_DIR = Path(__file__).resolve().parents[2] / "recipes"
OVERRIDES_FILE = CURATED_DIR / "pypi-to-conda.toml"


@dataclass(frozen=True)
class NameTable:
    """PEP 503 PyPI name -> conda name, for the names that differ."""

    mapping: Mapping[str, str] = field(default_factory=dict)

    def conda_name(self, pypi_name: str) -> str:
        """The conda package name for a PyPI project name."""
        normalised = canonicalize_name(pypi_name)
        return self.mapping.get(normalised, normalised)

    @cached_property
    def _conda_to_pypi(self) -> dict[str, str]:
        return {conda: pypi for pypi, conda in self.mapping.items()}

    def pypi_name(self, conda_name: str) -> str:
        """The PyPI project a conda package carries: the table read backwards, else the name."""
        return self._conda_to_pypi.get(conda_name, canonicalize_name(conda_name))

    def with_overrides(self, overrides: Mapping[str, str]) -> NameTable:
        merged = dict(self.mapping)
        merged.update({canonicalize_name(k): v.lower() for k, v in overrides.items()})
        return NameTable(merged)


def grayskull_mapping() -> dict[str, str]:
    """grayskull's PyPI→conda-forge names, for the entries that rename.

    The table is grayskull's `strategy/config.yaml`, found without importing grayskull's
    PyPI strategy (which pulls in setuptools and takes a third of a second).
    """
    from ruamel.yaml import YAML

    spec = importlib.util.find_spec("grayskull")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("grayskull is not installed; Drawbridge needs its PyPI→conda name table")
    config = Path(next(iter(spec.submodule_search_locations))) / "strategy" / "config.yaml"
    document = YAML(typ="safe").load(config.read_text("utf-8")) or {}
    mapping = {}
    for pypi_name, entry in document.items():
        conda = (entry or {}).get("conda_forge")
        if conda and canonicalize_name(pypi_name) != conda:
            mapping[canonicalize_name(pypi_name)] = conda.lower()
    return mapping


def curated_overrides(path: Path = OVERRIDES_FILE) -> dict[str, str]:
    if not path.is_file():
        return {}
    return dict(tomllib.loads(path.read_text("utf-8")).get("names", {}))


@cache
def default_table() -> NameTable:
    """grayskull's table overridden by Drawbridge's curated `recipes/pypi-to-conda.toml`."""
    return NameTable(grayskull_mapping()).with_overrides(curated_overrides())
