"""PEP 740 provenance carried with the files: where the index serves an Integrity API
document for a wheel or sdist (`/integrity/<project>/<version>/<filename>/provenance`,
PyPI's attestations of who built and published it), the export fetches it and the bundle
carries it beside the file; where there is none (404, most files today) or the index
cannot be reached, nothing is carried and the export says so.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import quote

import httpx
from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    parse_sdist_filename,
    parse_wheel_filename,
)

from drawbridge.bridge.bundles.export import Carried

ACCEPT = "application/vnd.pypi.integrity.v1+json"
SUFFIX = ".provenance.json"


def integrity_url(base: str, filename: str) -> str | None:
    """The Integrity API URL of a wheel or sdist on the index at `base`; None for others."""
    try:
        if filename.endswith(".whl"):
            name, version, _, _ = parse_wheel_filename(filename)
        else:
            name, version = parse_sdist_filename(filename)
    except (InvalidWheelFilename, InvalidSdistFilename):
        return None
    parts = (quote(str(name)), quote(str(version)), quote(filename))
    return f"{base.rstrip('/')}/integrity/{parts[0]}/{parts[1]}/{parts[2]}/provenance"


def fetch_provenance(
    base: str, carried: Sequence[Carried], folder: Path, timeout: float = 10.0
) -> tuple[list[Carried], list[str]]:
    """The provenance documents of `carried`'s wheels and sdists, written into `folder` as
    files to carry (role "provenance", `subject` the file it vouches for), and a note for
    each that could not be asked for (the index unreachable, an answer that is no JSON)."""
    found: list[Carried] = []
    notes: list[str] = []
    with httpx.Client(timeout=timeout, headers={"Accept": ACCEPT}) as client:
        for item in carried:
            if item.role not in ("wheel", "sdist"):
                continue
            url = integrity_url(base, item.path.name)
            if url is None:
                continue
            try:
                answer = client.get(url)
            except httpx.HTTPError as error:
                notes.append(f"no provenance asked for: {base} cannot be reached ({error})")
                break  # one note, not one per file
            if answer.status_code == 404:
                continue
            try:
                answer.raise_for_status()
                document = answer.json()
            except (httpx.HTTPError, ValueError) as error:
                notes.append(f"{item.path.name}: the provenance at {url} is unusable ({error})")
                continue
            path = folder / f"{item.path.name}{SUFFIX}"
            path.write_text(json.dumps(document, sort_keys=True), "utf-8")
            found.append(Carried(path, "provenance", item.channel, subject=item.path.name))
    return found, notes
