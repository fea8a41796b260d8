"""Read a conda `environment.yml`: its channels, conda dependencies and `pip:` section."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import rattler
from packaging.requirements import InvalidRequirement, Requirement
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from drawbridge.environments.errors import EnvironmentFileError

KNOWN_KEYS = {"name", "channels", "dependencies", "prefix", "variables"}


@dataclass(frozen=True)
class EnvironmentFile:
    """What an environment file asks for."""

    path: Path
    name: str
    channels: list[str]
    conda: list[str]
    pip: list[str] = field(default_factory=list)

    def conda_names(self) -> set[str]:
        return {rattler.MatchSpec(spec).name.normalized for spec in self.conda}


def read_environment_file(path: Path) -> EnvironmentFile:
    """Parse and check `path`; every problem is an EnvironmentFileError naming the line."""
    try:
        text = path.read_text("utf-8")
    except OSError as error:
        raise EnvironmentFileError(f"cannot read {path}: {error.strerror or error}") from None
    except UnicodeDecodeError as error:
        raise EnvironmentFileError(f"{path} is not UTF-8 text: {error}") from None
    return parse_environment_file(text, path)


def parse_environment_file(text: str, path: Path) -> EnvironmentFile:
    """Parse and check the text of the environment file at `path` (named in every error,
    and the environment's name when it gives none)."""
    try:
        document = YAML(typ="safe", pure=True).load(text)
    except YAMLError as error:
        raise EnvironmentFileError(f"{path} is not valid YAML: {error}") from None
    if not isinstance(document, dict):
        raise EnvironmentFileError(
            f"{path}: expected a mapping with 'dependencies', got {type(document).__name__}"
        )
    unknown = sorted(set(document) - KNOWN_KEYS)
    if unknown:
        raise EnvironmentFileError(f"{path}: unknown keys {unknown}; known: {sorted(KNOWN_KEYS)}")
    channels = _string_list(path, document.get("channels") or [], "channels")
    conda, pip = _dependencies(path, document.get("dependencies"))
    if not conda and not pip:
        raise EnvironmentFileError(f"{path}: 'dependencies' lists nothing to install")
    name = document.get("name") or path.stem
    return EnvironmentFile(path=path, name=str(name), channels=channels, conda=conda, pip=pip)


def _string_list(path: Path, value: object, key: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise EnvironmentFileError(f"{path}: '{key}' must be a list of strings")
    return [item.strip() for item in value]


def _dependencies(path: Path, value: object) -> tuple[list[str], list[str]]:
    if not isinstance(value, list):
        raise EnvironmentFileError(f"{path}: 'dependencies' must be a list")
    conda: list[str] = []
    pip: list[str] = []
    for item in value:
        if isinstance(item, dict) and set(item) == {"pip"}:
            pip += [
                _pip_requirement(path, line)
                for line in _string_list(path, item["pip"] or [], "pip")
            ]
        elif isinstance(item, str):
            conda.append(_conda_spec(path, item))
        else:
            raise EnvironmentFileError(
                f"{path}: dependency {item!r} is neither a conda spec nor a 'pip:' list"
            )
    return conda, pip


def _conda_spec(path: Path, spec: str) -> str:
    try:
        rattler.MatchSpec(spec)
    except Exception as error:  # py-rattler raises its own exception types
        raise EnvironmentFileError(f"{path}: {spec!r} is not a conda match spec: {error}") from None
    return spec.strip()


def _pip_requirement(path: Path, line: str) -> str:
    if line.startswith("-"):
        raise EnvironmentFileError(
            f"{path}: pip option {line!r} is not supported: Drawbridge locks the pip section "
            "against its own index, so list requirements only"
        )
    try:
        requirement = Requirement(line)
    except InvalidRequirement as error:
        raise EnvironmentFileError(
            f"{path}: pip requirement {line!r} is invalid: {error}"
        ) from None
    if requirement.url:
        raise EnvironmentFileError(
            f"{path}: pip requirement {line!r} names a URL; inside the air gap everything "
            "comes from Drawbridge's index"
        )
    return str(requirement)
