"""Build approved recipes with rattler-build; keep every build's log.

The build runs in a child process so its whole output lands in the log, and so a crash
or hang of the builder cannot take Drawbridge down with it. Only the exact bytes a
maintainer approved are built. A `noarch` recipe builds here for everyone; a native one
builds for this box's subdir, and the others are recorded as needing a builder.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import rattler_build
from ruamel.yaml import YAML

from drawbridge.bridge.recipe_convert import WHEEL_DIR
from drawbridge.bridge.recipes import Recipe, RecipeError, sha256_text

BUILD_SCRIPT = """
import sys

from rattler_build import Stage0Recipe


from rattler_build import ToolConfiguration


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


recipe, output, *channels = sys.argv[1:]
# keep_build: the wheel the build made stays for Drawbridge to collect; tests run natively
tools = ToolConfiguration(keep_build=True, test_strategy="native")
Stage0Recipe.from_file(recipe).run_build(
    output_dir=output, channels=channels, progress_callback=Log(), tool_config=tools
)
"""
HOST_SUBDIR = "linux-64"


@dataclass(frozen=True)
class BuildResult:
    """What one build made, or why it failed."""

    name: str
    ok: bool
    log: Path
    packages: tuple[Path, ...] = ()
    wheels: tuple[Path, ...] = ()  # built from the sdist on the way, for the pip view
    needs_builder: tuple[str, ...] = ()
    message: str = ""


def _keep(path: Path, folder: Path) -> Path:
    target = folder / path.name
    shutil.move(path, target)
    return target


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


def build_recipe(
    recipe: Recipe,
    channels: list[str],
    output_dir: Path,
    log_dir: Path,
    platforms: list[str],
    timeout: int = 3600,
) -> BuildResult:
    """Build `recipe` if its current bytes are the approved ones; log everything."""
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
    needs_builder = () if noarch else tuple(p for p in platforms if p != HOST_SUBDIR)
    work = Path(tempfile.mkdtemp(prefix=f".build-{recipe.name}-", dir=output_dir))
    try:
        with log.open("w") as handle:
            handle.write(
                f"# building {recipe.name} {recipe.version} sha256={recipe.sha256}\n"
                f"# channels: {channels}\n"
            )
            handle.flush()
            try:
                result = subprocess.run(
                    [sys.executable, "-c", BUILD_SCRIPT, str(recipe.path), str(work), *channels],
                    stdout=handle,
                    stderr=subprocess.STDOUT,
                    timeout=timeout,
                    cwd=work,
                )
                ok = result.returncode == 0
            except subprocess.TimeoutExpired:
                handle.write(f"\n# build timed out after {timeout} s\n")
                ok = False
        built = sorted(work.rglob("*.conda")) if ok else []
        if not built:
            tail = "\n".join(log.read_text(errors="replace").strip().splitlines()[-3:])
            return BuildResult(
                recipe.name,
                False,
                log,
                needs_builder=needs_builder,
                message=f"build failed: {tail}",
            )
        kept = [_keep(package, output_dir) for package in built]
        wheels = [_keep(wheel, output_dir) for wheel in sorted(work.rglob(f"{WHEEL_DIR}/*.whl"))]
        return BuildResult(recipe.name, True, log, tuple(kept), tuple(wheels), needs_builder)
    finally:
        shutil.rmtree(work, ignore_errors=True)
