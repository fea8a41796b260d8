"""Build approved recipes with rattler-build, for every Python the site serves; keep the logs.

Only the exact bytes a maintainer approved are built. A `noarch` recipe builds once, here,
for everyone; a native one builds here (linux-64) once per Python 3 of drawbridge.toml,
each in its own child process (so a crash or hang of the builder cannot take Drawbridge
down, and one Python's failure names that Python); linux-aarch64 is cross-compiled here
too when the channels carry conda-forge's cross compiler for it (`cross_targets`), and
the other subdirs are recorded as needing a builder. When one Python's build fails, what
the others built is still returned (and published): the result fails and names the
Python, the recipe is retried later.

The build reads the sdist from Drawbridge's download cache: the reviewed recipe names the
upstream URL and sha256, and the copy built from (`stage_recipe`) points its source at the
cached file of that sha256, which rattler-build checks again.

The wheel each build makes on the way (for the pip view) is repaired for its target
(`wheel_repair`: auditwheel to a manylinux tag within `[bridge] manylinux_glibc_minor`,
the libraries it loads from the build's host environment grafted in); one that cannot be
is left out, and the log and the result's notes say why. The conda packages are untouched.

A noarch recipe whose build makes platform-specific files (a wheel tagged for an
interpreter or platform, or compiled extensions in the package) is not a failure: it is
built again per platform and Python from the same recipe made native (`make_native`,
with a C compiler), and the result says so, for the reviewer.

A failed build's result says why: the first real error lines of its part of the log
(`build_log.failure_lines`: the compiler's missing header, pkg-config's missing package,
the build's own exception), and, when rattler-build could not make an environment, which
package has no build for that Python (`provide.unsolvable`).
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO
from urllib.parse import unquote, urlsplit

import rattler_build
import zstandard
from packaging.utils import InvalidWheelFilename, parse_wheel_filename
from ruamel.yaml import YAML

from drawbridge.bridge.recipes.build_log import failure_lines, unsolved_environment
from drawbridge.bridge.missing.provide import unsolvable
from drawbridge.bridge.missing.provide import missing_from
from drawbridge.bridge.recipes.convert import WHEEL_DIR, make_cross_ready, make_native
from drawbridge.bridge.recipes.book import Recipe, RecipeError, sha256_text
from drawbridge.bridge.recipes.wheel_repair import Baseline, Repair, repair_wheel

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
# keep_build: the wheel the build made stays for Drawbridge to collect; tests run natively
# (a cross build's are skipped: rattler-build would try them on this machine's platform)
cross = target_platform != build_platform
tools = ToolConfiguration(keep_build=True, test_strategy="native")
if cross:
    # the build environment for this machine, the host environment for the target. The
    # render API's PlatformConfig makes the host environment for this machine all the same
    # (py-rattler-build 0.73); the command line's entry point does not.
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
    Stage0Recipe.from_file(recipe).run_build(
        variant_config=VariantConfig(variants) if variants else None,
        output_dir=output,
        channels=channels,
        progress_callback=Log(),
        tool_config=tools,
    )
"""
HOST_SUBDIR = "linux-64"
#: the subdirs this machine builds by cross-compiling, when the channels carry conda-forge's
#: cross compiler and cross-python for them (`cross_targets`)
CROSS_TARGETS = ("linux-aarch64",)
#: files in a package that only one platform (and Python) can load
COMPILED_SUFFIXES = (".so", ".pyd", ".dylib", ".dll")
#: what a recipe folder holds that is not part of the recipe
NOT_RECIPE = {"history", "logs", "meta.yaml"}


@dataclass(frozen=True)
class BuildResult:
    """What one build made, or why it failed."""

    name: str
    ok: bool
    log: Path
    packages: tuple[Path, ...] = ()  # with ok False: what the builds that did not fail made
    wheels: tuple[Path, ...] = ()  # built from the sdist on the way, repaired: for the pip view
    refused_wheels: tuple[tuple[str, str], ...] = ()  # (wheel, why it is not for the pip view)
    needs_builder: tuple[str, ...] = ()
    message: str = ""
    notes: tuple[str, ...] = ()  # what the reviewer should know about how it was built
    made_from: str = ""  # the sdist's file name (the packages' provenance)


def _keep(path: Path, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / path.name
    shutil.move(path, target)
    return target


#: where the wheels a build made are kept as built, beside the repaired ones (for a look)
UNREPAIRED = "unrepaired"


def host_lib_dirs(wheel: Path) -> list[Path]:
    """The library folders of the build environments of the rattler-build run that made
    `wheel` (`<bld>/rattler-build_<name>_<time>/work/drawbridge-wheels/x.whl`): host first,
    where the libraries an extension links come from, then build; `lib/` on Linux and
    macOS, `Library/bin/` (the DLLs) on Windows."""
    run = wheel.parent.parent.parent
    prefixes = sorted(run.glob("host_env*")) + sorted(run.glob("build_env*"))
    folders = [p / sub for p in prefixes for sub in ("lib", "Library/bin")]
    return [folder for folder in folders if folder.is_dir()]


def repair_wheels(
    out: Path, subdir: str, output_dir: Path, baseline: Baseline, handle: IO[str]
) -> list[Repair]:
    """Every wheel one build in `out` made, repaired for `subdir` into `output_dir` (the
    libraries found in that build's environments), the original kept in `UNREPAIRED`;
    each outcome in the log."""
    repairs = []
    for wheel in sorted(out.rglob(f"{WHEEL_DIR}/*.whl")):
        repair = repair_wheel(wheel, subdir, output_dir, baseline, host_lib_dirs(wheel))
        _keep(wheel, output_dir / UNREPAIRED)
        verdict = "" if repair.ok else "not published to pip: "
        handle.write(f"\n# wheel {wheel.name}: {verdict}{repair.said}\n")
        repairs.append(repair)
    handle.flush()
    return repairs


def check_recipe(recipe_text: str) -> bool:
    """Parse the recipe as rattler-build will; return whether it is noarch.

    Raises RecipeError with rattler-build's own explanation when it would not parse.
    """
    try:
        document = YAML(typ="safe").load(recipe_text) or {}
    except Exception as error:
        raise RecipeError(f"the recipe is not valid YAML: {error}") from error
    try:
        rattler_build.Stage0Recipe.from_yaml(recipe_text)
    except Exception as error:
        raise RecipeError(f"rattler-build cannot read the recipe: {error}") from error
    return bool((document.get("build") or {}).get("noarch"))


def source_filename(recipe_text: str, version: str) -> str:
    """The file name of the recipe's first URL source (its sdist), `${{ version }}` filled
    in; "" if it has none."""
    sources = _round_trip().load(recipe_text).get("source")
    for source in sources if isinstance(sources, list) else [sources]:
        if isinstance(source, dict) and source.get("url"):
            url = source["url"][0] if isinstance(source["url"], list) else source["url"]
            name = unquote(urlsplit(str(url)).path.rsplit("/", 1)[-1])
            return re.sub(r"\$?\{\{\s*version\s*\}\}", version, name)
    return ""


def cached_source(cache_dir: Path | None, sha256: str) -> Path | None:
    """The file of `sha256` in Drawbridge's download cache, if it holds one."""
    folder = cache_dir / "sha256" / sha256[:2] / sha256 if cache_dir and sha256 else None
    files = sorted(p for p in folder.iterdir() if p.is_file()) if folder and folder.is_dir() else []
    return files[0] if files else None


def _round_trip() -> YAML:
    yaml = YAML()
    yaml.width = 4096
    yaml.preserve_quotes = True
    return yaml


def cross_packages(target: str) -> tuple[str, ...]:
    """What cross-building a C extension for `target` needs from the channels for this
    machine: conda-forge's cross compiler and the package that makes its Python build for
    the target."""
    return (f"gcc_{target}", f"cross-python_{target}")


def cross_targets(platforms: Sequence[str], channels: Sequence[str]) -> list[str]:
    """The subdirs of `platforms` this machine can cross-build for: `CROSS_TARGETS` whose
    cross packages (for this machine) and `python` (for the target) the channels carry."""
    return [
        target
        for target in CROSS_TARGETS
        if target in platforms
        and not missing_from(channels, cross_packages(target), [HOST_SUBDIR])
        and not missing_from(channels, ["python"], [target])
    ]


def stage_recipe(
    recipe: Recipe,
    text: str,
    folder: Path,
    cache_dir: Path | None,
    native: bool = False,
    cross: bool = False,
) -> Path:
    """The recipe folder as rattler-build reads it: the approved `text`, each source whose
    sha256 the cache holds pointed at the cached file, and, if `native`, made per platform;
    if `cross`, with conda-forge's cross-compiling build requirements."""
    shutil.copytree(
        recipe.folder, folder, ignore=lambda _d, names: [n for n in names if n in NOT_RECIPE]
    )
    yaml = _round_trip()
    document = yaml.load(text)
    sources = document.get("source")
    for source in sources if isinstance(sources, list) else [sources]:
        if isinstance(source, dict) and "url" in source:
            local = cached_source(cache_dir, str(source.get("sha256") or ""))
            if local:
                source["url"] = local.resolve().as_uri()
    if native:
        make_native(document, ("c",))
    if cross:
        make_cross_ready(document)
    buffer = io.StringIO()
    yaml.dump(document, buffer)
    (folder / "recipe.yaml").write_text(buffer.getvalue(), "utf-8")
    return folder / "recipe.yaml"


def _compiled_members(package: Path) -> list[str]:
    """Compiled extension files inside a .conda package."""
    found = []
    with zipfile.ZipFile(package) as archive:
        for member in archive.namelist():
            if not member.startswith("pkg-"):
                continue
            reader = zstandard.ZstdDecompressor().stream_reader(archive.open(member))
            with tarfile.open(fileobj=reader, mode="r|") as tf:
                found += [m.name for m in tf if m.name.endswith(COMPILED_SUFFIXES)]
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


def _run(
    recipe_path: Path,
    out: Path,
    variants: dict[str, list[str]],
    channels: list[str],
    handle: IO[str],
    timeout: int,
    subdir: str = HOST_SUBDIR,
) -> tuple[bool, str]:
    """One rattler-build run in a child process for `subdir` (cross-compiled if it is not
    this machine's), its output in the log; whether it made packages, and its part of the
    log."""
    out.mkdir(parents=True)
    handle.write(
        f"\n# rattler-build {recipe_path.name} variants={json.dumps(variants)}"
        + (
            f" target_platform={subdir} (cross-compiled on {HOST_SUBDIR})"
            if subdir != HOST_SUBDIR
            else ""
        )
        + "\n"
    )
    handle.flush()
    start = os.fstat(handle.fileno()).st_size
    command = [sys.executable, "-c", BUILD_SCRIPT, str(recipe_path), str(out)]
    try:
        result = subprocess.run(
            [*command, json.dumps(variants), HOST_SUBDIR, subdir, *channels],
            stdout=handle,
            stderr=subprocess.STDOUT,
            timeout=timeout,
            cwd=out,
        )
        made = result.returncode == 0 and any(out.rglob("*.conda"))
    except subprocess.TimeoutExpired:
        handle.write(f"\n# build timed out after {timeout} s\n")
        made = False
    handle.flush()
    with open(handle.name, "rb") as log:
        log.seek(start)
        return made, log.read().decode("utf-8", "replace")


def _why(part: str, channels: list[str]) -> list[str]:
    """Why the build whose part of the log is `part` failed, in a few lines."""
    lines = failure_lines(part)
    environment = unsolved_environment(part)
    if environment:
        try:
            reasons = unsolvable(
                channels, environment.specs, environment.subdir, environment.virtual_packages
            )
        except Exception:  # rattler cannot read a channel: the log's own words stand
            reasons = []
        if reasons:
            lines = [f"cannot make the build's environment: {'; '.join(reasons)}"]
    return lines or [_tail(part)]


def _failure_message(failed: dict[str, list[str]], succeeded: list[str]) -> str:
    """The result's message: "build failed for python 3.9 (built for python 3.12): why",
    with each Python's own reason when they differ."""
    message = f"build failed for {', '.join(failed)}" + (
        f" (built for {', '.join(succeeded)})" if succeeded else ""
    )
    reasons = {"; ".join(lines) for lines in failed.values()}
    if len(reasons) == 1:
        return f"{message}: {reasons.pop()}"
    return f"{message}: " + " | ".join(f"{label}: {'; '.join(w)}" for label, w in failed.items())


def _tail(text: str, lines: int = 3) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def build_recipe(
    recipe: Recipe,
    channels: list[str],
    output_dir: Path,
    log_dir: Path,
    platforms: Sequence[str],
    pythons: Sequence[str] = (),
    cache_dir: Path | None = None,
    timeout: int = 3600,
    baseline: Baseline | None = None,
    cross: Sequence[str] = (),
) -> BuildResult:
    """Build `recipe` if its current bytes are the approved ones: once if noarch, else once
    for each of `pythons` (Python 3 versions; none: the channels' newest); log everything.
    The wheels built on the way are repaired for `baseline` (`wheel_repair`); those that
    cannot be are left out of `wheels`, and said why. A native recipe is also built for
    each subdir of `cross` (`cross_targets`) by cross-compiling; their tests, which cannot
    run here, are skipped, and the result's notes say so."""
    baseline = baseline or Baseline()
    text = recipe.path.read_text("utf-8")
    if (
        recipe.state not in ("approved", "built", "failed")
        or sha256_text(text) != recipe.approved_sha256
    ):
        raise RecipeError(
            f"{recipe.name}: the recipe is {recipe.state} and its bytes are not the approved ones; "
            "a maintainer must approve it first (`drawbridge recipe approve`)"
        )
    log_dir.mkdir(parents=True, exist_ok=True)
    log = log_dir / f"{recipe.name}-{recipe.sha256[:12]}.log"
    try:
        noarch = check_recipe(text)
    except RecipeError as error:
        log.write_text(f"{error}\n")
        return BuildResult(recipe.name, False, log, message=str(error))
    work = Path(tempfile.mkdtemp(prefix=f".build-{recipe.name}-", dir=output_dir))
    notes: list[str] = []
    try:
        with log.open("w") as handle:
            handle.write(
                f"# building {recipe.name} {recipe.version} sha256={recipe.sha256}\n"
                f"# channels: {channels}\n"
            )
            recipe_path = stage_recipe(recipe, text, work / "recipe", cache_dir)
            outs: dict[str, Path] = {}
            built_native = False  # a noarch recipe made native on the way
            failed: dict[str, list[str]] = {}  # label -> why
            if noarch:
                outs["noarch"] = work / "out-noarch"
                made, part = _run(recipe_path, outs["noarch"], {}, channels, handle, timeout)
                specific = platform_specific_output(outs["noarch"])
                if specific:
                    notes.append(
                        f"built per platform and Python: the noarch recipe's build made "
                        f"platform-specific files ({', '.join(specific[:3])}); "
                        "make the recipe native (no noarch, a compiler in build) to say so"
                    )
                    handle.write(f"\n# {notes[-1]}\n")
                    shutil.rmtree(outs.pop("noarch"))
                    recipe_path = stage_recipe(recipe, text, work / "native", cache_dir, True)
                    noarch = False
                    built_native = True
                elif not made:
                    failed["noarch"] = _why(part, channels)
            subdirs: dict[str, str] = {}  # label -> the subdir it built for
            if not noarch:
                targets = [(HOST_SUBDIR, recipe_path)]
                if cross:
                    cross_path = stage_recipe(
                        recipe, text, work / "cross", cache_dir, native=built_native, cross=True
                    )
                    targets += [(subdir, cross_path) for subdir in cross]
                for subdir, path in targets:
                    for python in pythons or [""]:
                        label = f"python {python}" if python else "python"
                        if subdir != HOST_SUBDIR:
                            label = f"{subdir} {label}"
                        outs[label] = work / f"out-{subdir}-{python or 'newest'}"
                        subdirs[label] = subdir
                        variants = {"python": [python]} if python else {}
                        made, part = _run(
                            path, outs[label], variants, channels, handle, timeout, subdir
                        )
                        if not made:
                            failed[label] = _why(part, channels)
                for subdir in [
                    s for s in cross if any(subdirs[f] == s for f in outs if f not in failed)
                ]:
                    notes.append(
                        f"cross-compiled for {subdir} on {HOST_SUBDIR}: its tests were not run "
                        "(they need the target's machine)"
                    )
            for label, lines in failed.items():
                handle.write(f"\n# {label} failed: {'; '.join(lines)}\n")
            # what built is kept even when another Python's build failed: its users need not wait
            succeeded = [label for label in outs if label not in failed]
            repairs = [
                r
                for label in succeeded
                for r in repair_wheels(
                    outs[label], subdirs.get(label, HOST_SUBDIR), output_dir, baseline, handle
                )
            ]
        built_here = {HOST_SUBDIR, *cross}
        needs_builder = () if noarch else tuple(p for p in platforms if p not in built_here)
        built = [outs[label] for label in succeeded]
        kept = [_keep(p, output_dir) for out in built for p in sorted(out.rglob("*.conda"))]
        wheels = [r.wheel for r in repairs if r.wheel is not None]
        refused = [(r.original.name, r.said) for r in repairs if r.wheel is None]
        notes += [f"{name} is not published to pip: {why}" for name, why in refused]
        message = _failure_message(failed, succeeded) if failed else ""
        return BuildResult(
            recipe.name,
            not failed,
            log,
            tuple(kept),
            tuple(wheels),
            tuple(refused),
            needs_builder,
            message=message,
            notes=tuple(notes),
            made_from=source_filename(text, recipe.version),
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)
