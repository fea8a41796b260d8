"""What an agent downloads for a job: the recipe's approved bytes, its other files, and the
sources it names, each from the home (the recipe store and the download cache), by sha256."""

from __future__ import annotations

import hashlib
from pathlib import Path

from drawbridge.bridge.farm.jobs import Job, JobRefused
from drawbridge.bridge.recipes.book import Recipe, RecipeBook
from drawbridge.bridge.recipes.target_build import NOT_RECIPE, source_hashes


def approved_text(book: RecipeBook, job: Job) -> str:
    """The recipe text the job builds: the bytes of its sha256 from the recipe's history."""
    recipe = book.get(job.recipe)
    path = recipe.folder / "history" / f"{job.recipe_sha256}.yaml"
    text = path.read_text("utf-8") if path.is_file() else ""
    if hashlib.sha256(text.encode("utf-8")).hexdigest() != job.recipe_sha256:
        raise JobRefused(f"job {job.id}: the approved bytes of {job.recipe} are not in its history")
    return text


def recipe_files(recipe: Recipe) -> dict[str, Path]:
    """The recipe folder's other files (patches, scripts), by path relative to it."""
    return {
        path.relative_to(recipe.folder).as_posix(): path
        for path in sorted(recipe.folder.rglob("*"))
        if path.is_file()
        and path.relative_to(recipe.folder).parts[0] not in NOT_RECIPE
        and path.name != "recipe.yaml"
    }


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def cached_source(cache_dir: Path | None, sha256: str) -> Path | None:
    """The file of `sha256` in Drawbridge's download cache, if it holds one."""
    folder = cache_dir / "sha256" / sha256[:2] / sha256 if cache_dir and sha256 else None
    files = sorted(p for p in folder.iterdir() if p.is_file()) if folder and folder.is_dir() else []
    return files[0] if files else None


def missing_sources(cache_dir: Path, text: str) -> str:
    """Why a job of this recipe cannot be built here, if a source it names is not in the
    download cache (agents fetch sources from the server only); "" if every one is."""
    missing = [sha for sha in source_hashes(text) if cached_source(cache_dir, sha) is None]
    if not missing:
        return ""
    return (
        f"the recipe's source of sha256 {missing[0]} is not in Drawbridge's download cache: "
        "no file fetched has that sha256 (a wrong sha256 in the recipe, or a source never "
        "fetched); correct the sha256, or fetch the sdist with `drawbridge recipe generate`"
    )


def job_source(cache_dir: Path, text: str, sha256: str) -> Path:
    """The cached source of `sha256`, if the recipe names it; JobRefused otherwise."""
    found = cached_source(cache_dir, sha256) if sha256 in source_hashes(text) else None
    if found is None:
        raise JobRefused(
            f"no source of sha256 {sha256[:12]} for this recipe in the download cache; the "
            "recipe names " + (", ".join(h[:12] for h in source_hashes(text)) or "none")
        )
    return found
