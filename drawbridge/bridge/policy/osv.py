"""An OSV snapshot of PyPI advisories: read from OSV's `all.zip`, kept in the home, matched.

OSV publishes each ecosystem as one zip of JSON documents, one per advisory
(`https://osv-vulnerabilities.storage.googleapis.com/PyPI/all.zip`). Only what matching
needs is kept, by PEP 503 project name, in `<home>/osv/pypi.json` (replaced atomically
by each import). A release is affected when its version is listed in an `affected`
entry's `versions`, or falls in one of its ECOSYSTEM (or SEMVER) `ranges`. The severity is
the advisory's `database_specific.severity` (GHSA's LOW, MODERATE, HIGH, CRITICAL), else
the rating of its CVSS v3 base score computed from the `severity` vector; a CVSS v4
vector alone gives no severity here (and policy holds such a release: see `rules`).
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from drawbridge.bridge.errors import PolicyError
from drawbridge.bridge.policy.rules import Advisory, severity_of_score

SNAPSHOT = Path("osv") / "pypi.json"
#: CVSS v3 base metric weights
WEIGHTS = {
    "AV": {"N": 0.85, "A": 0.62, "L": 0.55, "P": 0.2},
    "AC": {"L": 0.77, "H": 0.44},
    "UI": {"N": 0.85, "R": 0.62},
    "C": {"H": 0.56, "L": 0.22, "N": 0.0},
}
PRIVILEGES = {"U": {"N": 0.85, "L": 0.62, "H": 0.27}, "C": {"N": 0.85, "L": 0.68, "H": 0.5}}


def cvss3_score(vector: str) -> float | None:
    """The CVSS v3.x base score of `vector` (`CVSS:3.1/AV:N/…`); None if it is not one."""
    if not vector.startswith("CVSS:3."):
        return None
    try:
        metrics = dict(part.split(":", 1) for part in vector.split("/")[1:])
        scope = metrics["S"]
        c, i, a = (WEIGHTS["C"][metrics[k]] for k in ("C", "I", "A"))
        exploitability = (
            8.22
            * WEIGHTS["AV"][metrics["AV"]]
            * WEIGHTS["AC"][metrics["AC"]]
            * PRIVILEGES[scope][metrics["PR"]]
            * WEIGHTS["UI"][metrics["UI"]]
        )
    except (KeyError, ValueError):
        return None
    base = 1 - (1 - c) * (1 - i) * (1 - a)
    impact = 6.42 * base if scope == "U" else 7.52 * (base - 0.029) - 3.25 * (base - 0.02) ** 15
    if impact <= 0:
        return 0.0
    total = impact + exploitability if scope == "U" else 1.08 * (impact + exploitability)
    return math.ceil(min(total, 10.0) * 10 - 1e-9) / 10


def severity(document: dict[str, Any]) -> str:
    """The advisory's severity word (see the module), "" if it gives none we can read."""
    word = (document.get("database_specific") or {}).get("severity")
    if isinstance(word, str) and word:
        return word.lower().replace("moderate", "medium")
    scores = [cvss3_score(str(s.get("score", ""))) for s in document.get("severity") or ()]
    known = [s for s in scores if s is not None]
    return severity_of_score(max(known)) if known else ""


def compact(document: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """One advisory's PyPI entries, by project: what matching needs."""
    found: dict[str, list[dict[str, Any]]] = {}
    if document.get("withdrawn"):
        return found
    entry = {
        "id": str(document["id"]),
        "aliases": list(document.get("aliases") or ()),
        "summary": str(document.get("summary") or "")[:300],
        "severity": severity(document),
    }
    for affected in document.get("affected") or ():
        package = affected.get("package") or {}
        if package.get("ecosystem") != "PyPI" or not package.get("name"):
            continue
        ranges = [
            r["events"]
            for r in affected.get("ranges") or ()
            if r.get("type") in ("ECOSYSTEM", "SEMVER")
        ]
        found.setdefault(canonicalize_name(package["name"]), []).append(
            {**entry, "versions": list(affected.get("versions") or ()), "ranges": ranges}
        )
    return found


def read_zip(path: Path) -> dict[str, list[dict[str, Any]]]:
    """The PyPI advisories of an OSV `all.zip`, by project; PolicyError naming a bad member."""
    projects: dict[str, list[dict[str, Any]]] = {}
    try:
        with zipfile.ZipFile(path) as archive:
            for name in archive.namelist():
                if not name.endswith(".json"):
                    continue
                try:
                    document = json.loads(archive.read(name))
                    for project, entries in compact(document).items():
                        projects.setdefault(project, []).extend(entries)
                except (ValueError, KeyError, TypeError, AttributeError) as error:
                    raise PolicyError(
                        f"{path}: {name} is not an OSV advisory ({error!r}); download the "
                        "snapshot again"
                    ) from None
    except (OSError, zipfile.BadZipFile) as error:
        raise PolicyError(f"cannot read the OSV snapshot {path}: {error}") from None
    return projects


def import_snapshot(home_root: Path, path: Path) -> int:
    """Replace the home's OSV snapshot by `path`'s; the number of advisories kept."""
    projects = read_zip(path)
    target = home_root / SNAPSHOT
    target.parent.mkdir(parents=True, exist_ok=True)
    document = {
        "source": path.name,
        "imported": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "projects": projects,
    }
    temporary = target.with_name(f".{target.name}.{os.getpid()}")
    temporary.write_text(json.dumps(document, sort_keys=True), "utf-8")
    temporary.replace(target)
    return len({entry["id"] for entries in projects.values() for entry in entries})


def affects(entry: dict[str, Any], version: str) -> bool:
    """True if the OSV `affected` entry (compacted) covers `version`."""
    if version in entry["versions"]:
        return True
    try:
        wanted = Version(version)
    except InvalidVersion:
        return False
    return any(_in_range(events, wanted) for events in entry["ranges"])


def _in_range(events: Iterable[dict[str, Any]], version: Version) -> bool:
    def at(event: dict[str, Any]) -> Version:
        text = next(iter(event.values()))
        try:
            return Version("0" if text == "0" else text)
        except InvalidVersion:
            return Version("0")

    affected = False
    for event in sorted(events, key=at):
        if "introduced" in event and version >= at(event):
            affected = True
        elif "fixed" in event and version >= at(event):
            affected = False
        elif "last_affected" in event and version > at(event):
            affected = False
    return affected


@dataclass
class Snapshot:
    """The home's OSV snapshot, loaded once."""

    projects: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    source: str = ""

    @classmethod
    def load(cls, home_root: Path) -> Snapshot:
        path = home_root / SNAPSHOT
        if not path.is_file():
            return cls()
        document = json.loads(path.read_text("utf-8"))
        return cls(document["projects"], document.get("source", ""))

    def advisories(self, project: str, version: str) -> list[Advisory]:
        """The advisories affecting `project` at `version`, each once."""
        found: dict[str, Advisory] = {}
        for entry in self.projects.get(canonicalize_name(project), []):
            if affects(entry, version):
                found.setdefault(
                    entry["id"], Advisory(entry["id"], entry["severity"], entry["summary"])
                )
        return list(found.values())
