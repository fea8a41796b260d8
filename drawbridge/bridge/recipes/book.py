"""Recipes for sdist-only projects: generate, store, review, and record every decision.

A recipe lives in `<home>/recipes/<conda-name>/`: `recipe.yaml` (rattler-build v1),
grayskull's `meta.yaml` beside it for conda-build sites, and `history/<sha256>.yaml`,
every version it had. Its review state is in the database: pending, approved, rejected,
built or failed. An approval is for the exact bytes it saw (their sha256): a recipe
edited afterwards is pending again, and a build refuses anything but approved bytes.
Who may decide is the caller's business (server.auth); this module records who did.
"""

from __future__ import annotations

import difflib
import hashlib
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import Version
from sqlalchemy import select

from drawbridge.channel import repodata_files
from drawbridge.bridge.errors import BridgeError
from drawbridge.bridge.upstream.downloads import DownloadCache
from drawbridge.bridge.recipes.grayskull_offline import command as grayskull_command
from drawbridge.bridge.recipes.grayskull_offline import unresolved_imports
from drawbridge.bridge.translate.names import CURATED_DIR, NameTable
from drawbridge.bridge.recipes.native_needs import Provision, default_table, provisions
from drawbridge.bridge.missing.provide import missing_from
from drawbridge.bridge.upstream.pypi import Upstream, UpstreamFile
from drawbridge.bridge.recipes.compose import Origin, compose_recipe
from drawbridge.bridge.recipes.convert import DEFAULT_PYTHON_MIN
from drawbridge.bridge.recipes.sdist_facts import read_sdist_facts
from drawbridge.bridge.records import AuditRow, RecipeRow, RecipeState
from drawbridge.channel.database import Database, utcnow
from drawbridge.channel.distributions import sha256_file
from drawbridge.channel.events import record_event
from drawbridge.channel.home import Home
from drawbridge.channel.storage import write_text_atomic
from drawbridge.channel.upstream_conda import upstream_locations


class RecipeError(BridgeError):
    """A recipe that cannot be generated, found, decided on or built."""


class UnknownRecipe(RecipeError):
    """No recipe of that name exists in this home."""


@dataclass(frozen=True)
class Recipe:
    """A recipe's review record and where its files are."""

    name: str
    project: NormalizedName
    version: str
    state: RecipeState
    sha256: str
    curated: bool
    approved_sha256: str
    decided_by: str
    comment: str
    needs_builder: str
    folder: Path

    @property
    def path(self) -> Path:
        return self.folder / "recipe.yaml"


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def run_grayskull(sdist: Path, work: Path) -> tuple[str, list[str]]:
    """grayskull's meta.yaml for a local sdist, run sealed off the network
    (`grayskull_offline`), and the modules its setup.py imports that nothing here provides;
    RecipeError with grayskull's words if it fails."""
    out = Path(tempfile.mkdtemp(prefix=".grayskull-", dir=work))
    args = ["pypi", "--no-use-v1-format", "--strict-conda-forge", "-o", str(out)]
    argv, env = grayskull_command([*args, str(sdist.resolve())])
    try:
        result = subprocess.run(argv, capture_output=True, text=True, timeout=600, cwd=out, env=env)
        generated = list(out.glob("*/meta.yaml"))
        if result.returncode != 0 or not generated:
            tail = "\n".join((result.stderr or result.stdout).strip().splitlines()[-5:])
            raise RecipeError(
                f"grayskull could not write a recipe for {sdist.name}: {tail or 'no output'}"
            )
        return generated[0].read_text("utf-8"), unresolved_imports(result.stderr)
    finally:
        shutil.rmtree(out, ignore_errors=True)


def _origin_url(file: UpstreamFile) -> str:
    """The sdist's address upstream: its URL, or a drop folder's file as a file:// URL."""
    return file.url if "://" in file.url else Path(file.url).resolve().as_uri()


class RecipeBook:
    """The recipes of one home."""

    def __init__(self, home: Home, database: Database, curated_dir: Path = CURATED_DIR) -> None:
        self.root = home.root / "recipes"
        self.settings = home
        self.cache_dir = home.cache_dir
        self.work = home.cache_dir / "work"
        self.db = database
        self.curated_dir = curated_dir

    # -- generating -------------------------------------------------------------------------

    def generate(
        self,
        requirement_name: str,
        version: str | None,
        upstream: Upstream,
        names: NameTable,
        user: str,
        python_min: str | None = None,
    ) -> Recipe:
        """Write a recipe for a project's sdist: the curated one if Drawbridge ships one.

        A generated recipe names the upstream URL and sha256 of the sdist (the build reads the
        copy in Drawbridge's cache), the maintainers of `[recipes]`, and is built for the
        Pythons of `[bridge]` (`python_min`, default the oldest, for noarch ones)."""
        project = canonicalize_name(requirement_name)
        conda_name = names.conda_name(project)
        curated = self.curated_dir / conda_name / "recipe.yaml"
        if curated.is_file():
            text, meta, chosen = curated.read_text("utf-8"), None, version or ""
        else:
            file, sdist = self._fetch_sdist(project, version, upstream)
            chosen = file.version
            facts = read_sdist_facts(sdist)
            self.work.mkdir(parents=True, exist_ok=True)
            meta, unresolved = run_grayskull(sdist, self.work)
            python_min = python_min or self.settings.bridge.oldest_python3
            libraries = provisions(facts.native_needs, default_table())
            text = compose_recipe(
                meta,
                facts,
                Origin(_origin_url(file), sha256_file(sdist)),
                names,
                python_min,
                self.settings.bridge.python3s or [python_min or DEFAULT_PYTHON_MIN],
                self.settings.recipes.maintainers,
                unresolved,
                libraries,
                self._carried(libraries),
            )
        folder = self.root / conda_name
        if meta is not None:
            write_text_atomic(folder / "meta.yaml", meta)
        return self._store(
            conda_name, project, chosen, text, user, "generate", curated=curated.is_file()
        )

    def _carried(self, libraries: list[Provision]) -> frozenset[str] | None:
        """Which conda packages providing `libraries` the channels a build uses (the conda
        mirrors, the default channel) carry for linux-64; None if they cannot be asked."""
        wanted = sorted({name for library in libraries for name in library.conda})
        if not wanted:
            return frozenset()
        default = self.settings.channel(self.settings.server.default_channel).conda_dir
        repodata_files.ensure_channel(default)  # made from the shards if a publish left it stale
        channels = [
            *upstream_locations(self.settings.bridge.upstream_conda),
            *([default.resolve().as_uri()] if (default / "noarch").is_dir() else []),
        ]
        try:
            return frozenset(wanted) - set(missing_from(channels, wanted, ["linux-64"]))
        except Exception:  # an unreachable mirror: the note says what would provide it
            return None

    def _fetch_sdist(
        self, project: str, version: str | None, upstream: Upstream
    ) -> tuple[UpstreamFile, Path]:
        sdists = [f for f in upstream.files(project) if not f.is_wheel and not f.yanked]
        if version:
            sdists = [f for f in sdists if Version(f.version) == Version(version)]
        if not sdists:
            wanted = f"{project}=={version}" if version else project
            raise RecipeError(f"the upstream has no sdist for {wanted}")
        newest = max(sdists, key=lambda f: Version(f.version))
        return newest, self._cached(upstream.fetch(newest))

    def _cached(self, sdist: Path) -> Path:
        """The sdist inside Drawbridge's download cache (a drop folder may be emptied later)."""
        cache = DownloadCache(self.cache_dir)
        digest = sha256_file(sdist)
        kept = cache.get(digest, sdist.name)
        if kept:
            return kept
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        temporary = self.cache_dir / f".copy-{digest}"
        shutil.copyfile(sdist, temporary)
        return cache.put(temporary, digest, sdist.name)

    # -- the store --------------------------------------------------------------------------

    def _store(
        self,
        name: str,
        project: NormalizedName,
        version: str,
        text: str,
        user: str,
        action: str,
        curated: bool = False,
    ) -> Recipe:
        folder = self.root / name
        digest = sha256_text(text)
        write_text_atomic(folder / "history" / f"{digest}.yaml", text)
        write_text_atomic(folder / "recipe.yaml", text)
        with self.db.session() as session:
            row = session.get(RecipeRow, name)
            if row is None:
                row = RecipeRow(name=name, project=project, version=version, sha256=digest)
                session.add(row)
            row.project, row.version, row.sha256, row.curated = project, version, digest, curated
            row.state, row.updated = "pending", utcnow()
            session.add(
                AuditRow(
                    user=user, action=action, subject=name, detail=f"{version} sha256={digest}"
                )
            )
        return self.get(name)

    def get(self, name: str) -> Recipe:
        """The recipe's record, made pending again if its file changed since it was recorded."""
        self._notice_edits(name)
        with self.db.session() as session:
            row = session.get(RecipeRow, name)
            if row is None:
                raise UnknownRecipe(
                    f"no recipe {name!r}; create one with `drawbridge recipe generate`"
                )
            return _recipe(row, self.root / name)

    def names(self) -> list[str]:
        with self.db.session() as session:
            return sorted(session.scalars(select(RecipeRow.name)))  # by code point

    def all(self) -> list[Recipe]:
        return [self.get(name) for name in self.names()]

    def text(self, name: str) -> str:
        return (self.root / name / "recipe.yaml").read_text("utf-8")

    def _notice_edits(self, name: str) -> None:
        path = self.root / name / "recipe.yaml"
        if not path.is_file():
            return
        text = path.read_text("utf-8")
        digest = sha256_text(text)
        with self.db.session() as session:
            row = session.get(RecipeRow, name)
            if row is None or row.sha256 == digest:
                return
            write_text_atomic(self.root / name / "history" / f"{digest}.yaml", text)
            previous = row.state
            row.sha256, row.updated = digest, utcnow()
            row.state = "pending"
            session.add(
                AuditRow(
                    user="(file)",
                    action="edited",
                    subject=name,
                    detail=f"sha256={digest}; was {previous}, now pending",
                )
            )

    def diff(self, name: str) -> str:
        """The recipe against the version last approved (or, if none, the one before it)."""
        recipe = self.get(name)
        history = self.root / name / "history"
        base_digest = recipe.approved_sha256 if recipe.approved_sha256 != recipe.sha256 else ""
        if not base_digest:
            versions = sorted(history.glob("*.yaml"), key=lambda p: p.stat().st_mtime)
            older = [p for p in versions if p.stem != recipe.sha256]
            base_digest = older[-1].stem if older else ""
        base = (history / f"{base_digest}.yaml").read_text("utf-8") if base_digest else ""
        return "".join(
            difflib.unified_diff(
                base.splitlines(True),
                self.text(name).splitlines(True),
                f"{name}/recipe.yaml@{base_digest[:12] or 'nothing'}",
                f"{name}/recipe.yaml@{recipe.sha256[:12]}",
            )
        )

    # -- review -----------------------------------------------------------------------------

    def decide(self, name: str, approve: bool, user: str, comment: str) -> Recipe:
        """Approve or reject the recipe's current bytes, recording who, when and why."""
        recipe = self.get(name)
        with self.db.session() as session:
            row = session.get(RecipeRow, name)
            assert row is not None
            row.state = "approved" if approve else "rejected"
            row.approved_sha256 = recipe.sha256 if approve else ""
            row.decided_by, row.decided_at, row.comment = user, utcnow(), comment
            record_event(
                session,
                "recipe-approved" if approve else "recipe-rejected",
                subject=name,
                payload={
                    "recipe": name,
                    "project": row.project,
                    "version": row.version,
                    "sha256": recipe.sha256,
                    "user": user,
                    "comment": comment,
                },
            )
            session.add(
                AuditRow(
                    user=user,
                    action="approve" if approve else "reject",
                    subject=name,
                    detail=f"sha256={recipe.sha256} comment={comment!r}",
                )
            )
        return self.get(name)

    def record_build(
        self, name: str, ok: bool, log: Path, needs_builder: str = "", message: str = ""
    ) -> None:
        """Record a build's outcome; the audit row keeps its `message` (why it failed)."""
        with self.db.session() as session:
            row = session.get(RecipeRow, name)
            assert row is not None
            row.state, row.last_log, row.needs_builder, row.updated = (
                ("built" if ok else "failed"),
                str(log),
                needs_builder,
                utcnow(),
            )
            session.add(
                AuditRow(
                    user="(build)",
                    action="built" if ok else "build-failed",
                    subject=name,
                    detail=f"{message} (log {log})" if message else str(log),
                )
            )

    def review_record(self, name: str) -> dict[str, Any]:
        """The recipe's review and last build as plain data, to carry across the gap."""
        recipe = self.get(name)
        build = self.last_build(name)
        with self.db.session() as session:
            row = session.get(RecipeRow, name)
            assert row is not None
            decided_at = row.decided_at.isoformat() if row.decided_at else ""
        return {
            "name": recipe.name,
            "project": recipe.project,
            "version": recipe.version,
            "state": recipe.state,
            "sha256": recipe.sha256,
            "approved_sha256": recipe.approved_sha256,
            "decided_by": recipe.decided_by,
            "decided_at": decided_at,
            "comment": recipe.comment,
            "curated": recipe.curated,
            "build": (
                {"time": build.time.isoformat(), "action": build.action, "detail": build.detail}
                if build is not None
                else None
            ),
        }

    def adopt(self, text: str, review: dict[str, Any], source: str) -> Recipe:
        """Keep a recipe reviewed (and built) elsewhere, with its review as it was there:
        its bytes must be the ones reviewed; audited as coming from `source`."""
        name = str(review["name"])
        digest = sha256_text(text)
        if digest != review.get("sha256"):
            raise RecipeError(
                f"the recipe {name!r} from {source} is not the one its review names "
                f"(sha256 {digest}, review {review.get('sha256')}); export it again"
            )
        folder = self.root / name
        write_text_atomic(folder / "history" / f"{digest}.yaml", text)
        write_text_atomic(folder / "recipe.yaml", text)
        with self.db.session() as session:
            row = session.get(RecipeRow, name)
            if row is None:
                row = RecipeRow(name=name, project=review["project"], version=review["version"])
                session.add(row)
            row.project, row.version, row.sha256 = review["project"], review["version"], digest
            row.state, row.approved_sha256 = review["state"], review["approved_sha256"]
            row.decided_by, row.comment = review["decided_by"], review["comment"]
            row.curated, row.updated = bool(review.get("curated")), utcnow()
            session.add(
                AuditRow(
                    user="(bundle)",
                    action="adopted",
                    subject=name,
                    detail=f"from {source}: {review['state']}, decided by "
                    f"{review['decided_by'] or 'nobody'} sha256={digest}",
                )
            )
        return self.get(name)

    def last_build(self, name: str) -> AuditRow | None:
        """The audit row of the recipe's last build, if it was built."""
        with self.db.session() as session:
            return session.scalars(
                select(AuditRow)
                .where(AuditRow.subject == name, AuditRow.action.in_(("built", "build-failed")))
                .order_by(AuditRow.id.desc())
                .limit(1)
            ).first()

    def audit(self) -> list[AuditRow]:
        with self.db.session() as session:
            return list(session.scalars(select(AuditRow).order_by(AuditRow.id)))


def _recipe(row: RecipeRow, folder: Path) -> Recipe:
    return Recipe(
        name=row.name,
        project=row.project,
        version=row.version,
        state=row.state,
        sha256=row.sha256,
        curated=row.curated,
        approved_sha256=row.approved_sha256,
        decided_by=row.decided_by,
        comment=row.comment,
        needs_builder=row.needs_builder,
        folder=folder,
    )
