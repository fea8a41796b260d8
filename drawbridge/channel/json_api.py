"""Render PyPI's JSON API documents (`/pypi/<project>/json`) from a channel's files.

The fields are the ones grayskull, pip-audit and other tools read, shaped as warehouse
shapes them; `base_url` makes file URLs absolute, since those tools download from them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from packaging.version import InvalidVersion, Version

from drawbridge.channel.database import DistributionRow
from drawbridge.channel.errors import UnknownProject
from drawbridge.channel.simple_pages import sorted_files
from drawbridge.channel.versions import version_key


def _file_document(row: DistributionRow, base_url: str) -> dict[str, Any]:
    return {
        "comment_text": "",
        "digests": {"blake2b_256": row.blake2b_256, "md5": row.md5, "sha256": row.sha256},
        "downloads": -1,
        "filename": row.filename,
        "has_sig": False,
        "md5_digest": row.md5,
        "packagetype": row.packagetype,
        "python_version": row.python_version,
        "requires_python": row.requires_python,
        "size": row.size,
        "upload_time": row.upload_time.strftime("%Y-%m-%dT%H:%M:%S"),
        "upload_time_iso_8601": row.upload_time.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "url": f"{base_url}/files/{row.filename}",
        "yanked": row.yanked,
        "yanked_reason": row.yanked_reason or None,
    }


def _is_final_release(version: str) -> bool:
    try:
        return not Version(version).is_prerelease
    except InvalidVersion:
        return False


def latest_version(files: Sequence[DistributionRow]) -> str:
    """The version `/pypi/<project>/json` describes: newest unyanked final release, else newest."""
    versions = sorted({row.version for row in files}, key=version_key)
    unyanked = {row.version for row in files if not row.yanked}
    for candidates in (
        [v for v in versions if v in unyanked and _is_final_release(v)],
        [v for v in versions if v in unyanked],
        versions,
    ):
        if candidates:
            return candidates[-1]
    raise UnknownProject("no files")


def _info(
    row: DistributionRow, base_url: str, version_files: Sequence[DistributionRow]
) -> dict[str, Any]:
    meta = row.core_metadata
    project_urls = meta.get("project_urls") or {}
    return {
        "author": meta.get("author", ""),
        "author_email": meta.get("author_email", ""),
        "bugtrack_url": None,
        "classifiers": meta.get("classifiers", []),
        "description": meta.get("description", ""),
        "description_content_type": meta.get("description_content_type"),
        "docs_url": None,
        "download_url": meta.get("download_url", ""),
        "home_page": meta.get("home_page", ""),
        "keywords": ",".join(meta.get("keywords", []) or []),
        "license": meta.get("license", ""),
        "license_expression": meta.get("license_expression"),
        "license_files": meta.get("license_files"),
        "maintainer": meta.get("maintainer", ""),
        "maintainer_email": meta.get("maintainer_email", ""),
        "name": row.display_name,
        "package_url": f"{base_url}/pypi/{row.project}/",
        "platform": ",".join(meta.get("platforms", []) or []) or None,
        "project_url": f"{base_url}/pypi/{row.project}/",
        "project_urls": project_urls or None,
        "provides_extra": meta.get("provides_extra"),
        "release_url": f"{base_url}/pypi/{row.project}/{row.version}/",
        "requires_dist": meta.get("requires_dist") or None,
        "requires_python": row.requires_python or "",
        "summary": meta.get("summary", ""),
        "version": row.version,
        "yanked": all(f.yanked for f in version_files),
        "yanked_reason": next((f.yanked_reason for f in version_files if f.yanked), None),
    }


def _metadata_source(version_files: Sequence[DistributionRow]) -> DistributionRow:
    """Prefer a wheel's metadata (it has the resolved Requires-Dist) over an sdist's."""
    wheels = [row for row in version_files if row.packagetype == "bdist_wheel"]
    return (wheels or list(version_files))[0]


def project_document(
    files: Sequence[DistributionRow], base_url: str, version: str | None = None
) -> dict[str, Any]:
    """The JSON API document for a project, or for one `version` of it."""
    if not files:
        raise UnknownProject("no files")
    by_version: dict[str, list[DistributionRow]] = defaultdict(list)
    for row in sorted_files(files):
        by_version[row.version].append(row)
    whole_project = version is None
    version = latest_version(files) if version is None else _match_version(version, by_version)
    version_files = by_version[version]
    document = {
        "info": _info(_metadata_source(version_files), base_url, version_files),
        "last_serial": max(row.id for row in files),
        "urls": [_file_document(row, base_url) for row in version_files],
        "vulnerabilities": [],
    }
    if not whole_project:  # warehouse leaves releases out of /<project>/<version>/json
        return document
    document["releases"] = {
        v: [_file_document(row, base_url) for row in rows] for v, rows in by_version.items()
    }
    return document


def _match_version(requested: str, by_version: dict[str, list[DistributionRow]]) -> str:
    if requested in by_version:
        return requested
    for candidate in by_version:
        try:
            if Version(candidate) == Version(requested):
                return candidate
        except InvalidVersion:
            continue
    raise UnknownProject(f"version {requested} is not published")
