"""One approved recipe built for one target (subdir and Python, or noarch) with rattler-build
in a fresh folder; what it made, read back; why it failed, in a few lines.

This is the part of a build an agent runs, on any machine: it imports neither the recipe
book nor the database (and rattler-build only inside the child process it starts), so
`drawbridge agent` loads no SQLAlchemy and no FastAPI.

The staged copy of the recipe (`stage_recipe`) is the approved text, each source pointed
at a local file of its sha256 (which rattler-build checks again), made per platform when a
noarch recipe is built for a subdir (`make_native`), and its build script wrapped in a
command prefix when one is given (the agent's network-less sandbox, `agent.sandbox`).

A failed build's result says why: the first real error lines of its log
(`build_log.failure_lines`), and, when rattler-build could not make an environment, which
package has no build for that Python (`provide.unsolvable`).
"""

from __future__ import annotations

import io
import json
import re
import shlex
import subprocess
import sys
import tarfile
import time
import zipfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from packaging.utils import InvalidWheelFilename, parse_wheel_filename
from ruamel.yaml import YAML

from drawbridge.bridge.errors import BridgeError
from drawbridge.bridge.missing.provide import missing_from, unsolvable
from drawbridge.bridge.recipes.build_log import failure_lines, unsolved_environment
from drawbridge.bridge.recipes.convert import WHEEL_DIR, make_cross_ready, make_native

BUILD_SCRIPT = """
import json
import sys

from rattler_build import Stage0Recipe, ToolConfiguration, VariantConfig


class Log:
    def on_log(self, event):
        print(f"[{event.level}] {event.message}", flush=True)

    def on_build_step(self, event):
        print(f"== {event.step_name}: {event.message}", flush=True)

    def on_download_start(self, event):
        pass

    def on_download_progress(self, event):
        pass

    def on_download_complete(self, event):
        pass


recipe, output, variants, build_platform, target_platform, *channels = sys.argv[1:]
variants = json.loads(variants)
if target_platform != build_platform:
    # cross-compiled: the build environment for this machine, the host environment for the
    # target. The render API's PlatformConfig makes the host environment for this machine
    # all the same (py-rattler-build 0.73); the command line's entry point does not. Its
    # tests are skipped: rattler-build would run them on this machine's platform.
    import glob
    import os
    import warnings

    from rattler_build.cli_api import build_recipes

    warnings.simplefilter("ignore", DeprecationWarning)
    try:
        build_recipes(
            [recipe],
            build_platform=build_platform,
            target_platform=target_platform,
            host_platform=target_platform,
            channel=channels,
            variant_overrides=variants or None,
            keep_build=True,
            test="skip",
            output_dir=output,
        )
    finally:  # that entry point logs nothing here: the build script's own log, for the reader
        for log in sorted(glob.glob(os.path.join(output, "bld", "*", "work", "conda_build.log"))):
            with open(log, errors="replace") as text:
                print(text.read(), flush=True)
else:
    # keep_build: the wheel the build made stays for Drawbridge to collect; tests run natively
    tools = ToolConfiguration(keep_build=True, test_strategy="native")
    Stage0Recipe.from_file(recipe).run_build(
        variant_config=VariantConfig(variants) if variants else None,
        output_dir=output,
        channels=channels,
        progress_callback=Log(),
        tool_config=tools,
    )
"""
#: the subdir this machine builds without cross-compiling (the tests' and the server's)
HOST_SUBDIR = "linux-64"
NOARCH = "noarch"
#: the subdirs a linux-64 machine builds by cross-compiling, when the channels carry
#: conda-forge's cross compiler and cross-python for them (`cross_targets`)
CROSS_TARGETS = ("linux-aarch64",)
#: the file names of conda packages
CONDA_SUFFIXES = (".conda", ".tar.bz2")
#: files in a package that only one platform (and Python) can load
COMPILED_SUFFIXES = (".so", ".pyd", ".dylib", ".dll")
#: what a recipe folder holds that is not part of the recipe
NOT_RECIPE = {"history", "logs", "meta.yaml"}


class TargetBuildError(BridgeError):
    """A recipe that cannot be staged or read for a build."""


@dataclass(frozen=True)
class Made:
    """One rattler-build run: whether it made packages, and its part of the log."""

    ok: bool
    log: str
    packages: tuple[Path, ...] = ()
    wheels: tuple[Path, ...] = ()
    stopped: bool = False  # the tick asked to stop (the job was cancelled or re-queued)


def check_recipe(recipe_text: str) -> bool:
    """Parse the recipe as rattler-build will; return whether it is noarch.

    Raises TargetBuildError with rattler-build's own explanation when it would not parse.
    """
    try:
        document = YAML(typ="safe").load(recipe_text) or {}
    except Exception as error:
        raise TargetBuildError(f"the recipe is not valid YAML: {error}") from error
    try:
        import rattler_build  # here only: the agent's import path stays light

        rattler_build.Stage0Recipe.from_yaml(recipe_text)
    except Exception as error:
        raise TargetBuildError(f"rattler-build cannot read the recipe: {error}") from error
    return bool((document.get("build") or {}).get("noarch"))


def _round_trip() -> YAML:
    yaml = YAML()
    yaml.width = 4096
    yaml.preserve_quotes = True
    return yaml


def _sources(document: Mapping[str, Any]) -> list[Any]:
    sources = document.get("source")
    return sources if isinstance(sources, list) else [sources]


def source_filename(recipe_text: str, version: str) -> str:
    """The file name of the recipe's first URL source (its sdist), `${{ version }}` filled
    in; "" if it has none."""
    for source in _sources(_round_trip().load(recipe_text)):
        if isinstance(source, dict) and source.get("url"):
            url = source["url"][0] if isinstance(source["url"], list) else source["url"]
            name = unquote(urlsplit(str(url)).path.rsplit("/", 1)[-1])
            return re.sub(r"\$?\{\{\s*version\s*\}\}", version, name)
    return ""


def source_hashes(recipe_text: str) -> list[str]:
    """The sha256 of every URL source the recipe names (what a build must fetch); none if
    the recipe does not parse (its build says why)."""
    try:
        document = _round_trip().load(recipe_text)
    except Exception:
        return []
    if not isinstance(document, dict):
        return []
    return [
        str(source["sha256"])
        for source in _sources(document)
        if isinstance(source, dict) and "url" in source and source.get("sha256")
    ]


def stage_recipe(
    text: str,
    files: Mapping[str, bytes],
    folder: Path,
    sources: Mapping[str, Path],
    native: bool = False,
    script_prefix: Sequence[str] = (),
    cross: bool = False,
) -> Path:
    """The recipe folder as rattler-build reads it, written in `folder`: the approved
    `text`, the recipe's other `files` (by relative path), each source whose sha256
    `sources` holds pointed at that local file, if `native` made per platform, if `cross`
    given conda-forge's cross-compiling build requirements (`make_cross_ready`), and if
    `script_prefix` its build script run by that command (`prefix… bash -c SCRIPT`)."""
    folder.mkdir(parents=True)
    for relative, data in files.items():
        path = (folder / relative).resolve()
        if not path.is_relative_to(folder.resolve()) or relative == "recipe.yaml":
            raise TargetBuildError(f"the recipe's file {relative!r} is outside its folder")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    yaml = _round_trip()
    document = yaml.load(text)
    for source in _sources(document):
        if isinstance(source, dict) and "url" in source:
            local = sources.get(str(source.get("sha256") or ""))
            if local:
                source["url"] = local.resolve().as_uri()
    if native:
        make_native(document, ("c",))
    if cross:
        make_cross_ready(document)
    build = document.get("build") or {}
    if script_prefix and isinstance(build.get("script"), str):
        build["script"] = (
            " ".join([*map(shlex.quote, script_prefix), "bash", "-euo", "pipefail", "-c"])
            + " "
            + shlex.quote(build["script"])
        )
    buffer = io.StringIO()
    yaml.dump(document, buffer)
    (folder / "recipe.yaml").write_text(buffer.getvalue(), "utf-8")
    return folder / "recipe.yaml"


def _compiled_members(package: Path) -> list[str]:
    """Compiled extension files inside a .conda package."""
    import zstandard

    found = []
    with zipfile.ZipFile(package) as archive:
        for member in archive.namelist():
            if not member.startswith("pkg-"):
                continue
            reader = zstandard.ZstdDecompressor().stream_reader(archive.open(member))
            with tarfile.open(fileobj=reader, mode="r|") as tf:
                found += [m.name for m in tf if m.name.endswith(COMPILED_SUFFIXES)]
    return found


def package_index(package: Path) -> dict[str, Any]:
    """The info/index.json of a conda package (.conda or .tar.bz2: its name, subdir,
    depends); TargetBuildError if it is not a conda package that has one."""
    import zstandard

    def read(tf: tarfile.TarFile) -> dict[str, Any] | None:
        for entry in tf:
            if entry.name == "info/index.json":
                handle = tf.extractfile(entry)
                return json.loads(handle.read()) if handle else None
        return None

    try:
        if package.name.endswith(".tar.bz2"):
            with tarfile.open(package, "r:bz2") as tf:
                found = read(tf)
        else:
            with zipfile.ZipFile(package) as archive:
                member = next(m for m in archive.namelist() if m.startswith("info-"))
                reader = zstandard.ZstdDecompressor().stream_reader(archive.open(member))
                with tarfile.open(fileobj=reader, mode="r|") as tf:
                    found = read(tf)
    except (zipfile.BadZipFile, StopIteration, tarfile.TarError, ValueError, OSError) as error:
        raise TargetBuildError(f"{package.name} is not a readable conda package: {error}")
    if found is None:
        raise TargetBuildError(f"{package.name} has no info/index.json")
    return found


def platform_specific_output(out: Path) -> list[str]:
    """What a noarch build in `out` made that only one platform can use: wheels tagged for
    an interpreter ABI or platform, compiled files in the packages."""
    found = []
    for wheel in sorted(out.rglob(f"{WHEEL_DIR}/*.whl")):
        try:
            tags = parse_wheel_filename(wheel.name)[3]
        except InvalidWheelFilename:
            continue
        if any(tag.platform != "any" or tag.abi != "none" for tag in tags):
            found.append(wheel.name)
    for package in sorted(out.rglob("*.conda")):
        found += [f"{package.name}: {member}" for member in _compiled_members(package)[:3]]
    return found


def run_build(
    recipe_path: Path,
    out: Path,
    variants: dict[str, list[str]],
    channels: Sequence[str],
    log_path: Path,
    timeout: float = 3600,
    tick: Callable[[], bool] | None = None,
    every: float = 5.0,
    prefix: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
    target_platform: str = HOST_SUBDIR,
    build_platform: str = HOST_SUBDIR,
) -> Made:
    """One rattler-build run in a child process (under the command `prefix`, e.g. a
    sandbox) for `target_platform`, cross-compiled on `build_platform` when they differ,
    its output appended to `log_path`; `tick` is called every `every` seconds while it
    runs and stops it by returning False. What it made, and its part of the log."""
    out.mkdir(parents=True)
    cross = target_platform != build_platform
    with open(log_path, "a", encoding="utf-8") as handle:
        handle.write(
            f"\n# rattler-build {recipe_path.name} variants={json.dumps(variants)}"
            + (
                f" target_platform={target_platform} (cross-compiled on {build_platform})"
                if cross
                else ""
            )
            + "\n"
        )
        handle.flush()
        start = handle.tell()
        command = [*prefix, sys.executable, "-c", BUILD_SCRIPT, str(recipe_path), str(out)]
        child = subprocess.Popen(
            [*command, json.dumps(variants), build_platform, target_platform, *channels],
            stdout=handle,
            stderr=subprocess.STDOUT,
            cwd=out,
            env=dict(env) if env is not None else None,
        )
        began, stopped, timed_out = time.monotonic(), False, False
        while True:
            try:
                child.wait(timeout=every)
                break
            except subprocess.TimeoutExpired:
                if time.monotonic() - began > timeout:
                    timed_out = True
                elif tick is None or tick():
                    continue
                else:
                    stopped = True
                child.kill()
                child.wait()
                break
        if timed_out:
            handle.write(f"\n# build timed out after {timeout:.0f} s\n")
        if stopped:
            handle.write("\n# build stopped: the server took the job back\n")
    with open(log_path, "rb") as log:
        log.seek(start)
        part = log.read().decode("utf-8", "replace")
    made = child.returncode == 0 and not stopped and any(out.rglob("*.conda"))
    packages = tuple(sorted(out.rglob("*.conda"))) if made else ()
    wheels = tuple(sorted(out.rglob(f"{WHEEL_DIR}/*.whl"))) if made else ()
    return Made(made, part, packages, wheels, stopped)


def cross_packages(target: str) -> tuple[str, ...]:
    """What cross-building a C extension for `target` needs from the channels for this
    machine: conda-forge's cross compiler and the package that makes its Python build for
    the target."""
    return (f"gcc_{target}", f"cross-python_{target}")


def cross_targets(
    platforms: Sequence[str], channels: Sequence[str], build_platform: str = HOST_SUBDIR
) -> list[str]:
    """The subdirs of `platforms` a `build_platform` machine can cross-build for from
    `channels`: `CROSS_TARGETS` (from linux-64) whose cross packages (for the build
    machine) and `python` (for the target) the channels carry."""
    if build_platform != HOST_SUBDIR:
        return []
    return [
        target
        for target in CROSS_TARGETS
        if target in platforms
        and not missing_from(channels, cross_packages(target), [build_platform])
        and not missing_from(channels, ["python"], [target])
    ]


def host_lib_dirs(wheel: Path) -> list[Path]:
    """The library folders of the build environments of the rattler-build run that made
    `wheel` (`<bld>/rattler-build_<name>_<time>/work/drawbridge-wheels/x.whl`): host first,
    where the libraries an extension links come from, then build; `lib/` on Linux and
    macOS, `Library/bin/` (the DLLs) on Windows."""
    run = wheel.parent.parent.parent
    prefixes = sorted(run.glob("host_env*")) + sorted(run.glob("build_env*"))
    folders = [p / sub for p in prefixes for sub in ("lib", "Library/bin")]
    return [folder for folder in folders if folder.is_dir()]


def why(part: str, channels: Sequence[str]) -> list[str]:
    """Why the build whose part of the log is `part` failed, in a few lines."""
    lines = failure_lines(part)
    environment = unsolved_environment(part)
    if environment:
        try:
            reasons = unsolvable(
                list(channels), environment.specs, environment.subdir, environment.virtual_packages
            )
        except Exception:  # rattler cannot read a channel: the log's own words stand
            reasons = []
        if reasons:
            lines = [f"cannot make the build's environment: {'; '.join(reasons)}"]
    return lines or [tail(part)]


def failure_message(failed: Mapping[str, str], succeeded: Sequence[str]) -> str:
    """A recipe's message: "build failed for python 3.9 (built for python 3.12): why", with
    each target's own reason when they differ (`failed`: label → reason)."""
    message = f"build failed for {', '.join(failed)}" + (
        f" (built for {', '.join(succeeded)})" if succeeded else ""
    )
    reasons = set(failed.values())
    if len(reasons) == 1:
        return f"{message}: {reasons.pop()}"
    return f"{message}: " + " | ".join(f"{label}: {reason}" for label, reason in failed.items())


def tail(text: str, lines: int = 3) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])
