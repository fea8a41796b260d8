"""Render the PEP 503 (HTML) and PEP 691 (JSON) simple-index pages of a channel.

Pages carry PEP 592 yanks, PEP 658/714 core-metadata hashes and PEP 700 versions, size and
upload-time, the way warehouse writes them. The JSON pages never carry the pre-PEP 714 key
`dist-info-metadata`: pip 22.3 to 23.0.1 (the pip of Python 3.8 to 3.10) crash on it. File links are
relative (`../../files/NAME`), so
a page works under `/<channel>/simple/`, the `/simple/` alias and `/t/<token>/` alike.
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterable, Sequence
from typing import Any

from drawbridge.channel.database import DistributionRow
from drawbridge.channel.versions import version_key

API_VERSION = "1.1"
#: Bump when the bytes of a page change for the same files: pages written by an older
#: Drawbridge are then rewritten when the server starts (see `Channels.recover`).
PAGES_FORMAT = 2
HTML_TYPE = "application/vnd.pypi.simple.v1+html"
JSON_TYPE = "application/vnd.pypi.simple.v1+json"


def file_url(filename: str) -> str:
    return f"../../files/{filename}"


def sorted_files(files: Iterable[DistributionRow]) -> list[DistributionRow]:
    return sorted(files, key=lambda row: (version_key(row.version), row.filename))


def project_page_html(name: str, files: Sequence[DistributionRow]) -> str:
    """The PEP 503 page of one project."""
    return page_html_from_entries(name, [_file_json(row) for row in sorted_files(files)])


def page_html_from_entries(name: str, entries: Sequence[dict[str, Any]]) -> str:
    """The PEP 503 page of one project from its PEP 691 file entries, in their order (the
    one HTML renderer: a flat channel's pages and an inheriting channel's merged ones)."""
    lines = [
        "<!DOCTYPE html>",
        "<html>",
        "  <head>",
        f'    <meta name="pypi:repository-version" content="{API_VERSION}">',
        f"    <title>Links for {html.escape(name)}</title>",
        "  </head>",
        "  <body>",
        f"    <h1>Links for {html.escape(name)}</h1>",
    ]
    for entry in entries:
        attributes = [f'href="{html.escape(entry["url"])}#sha256={entry["hashes"]["sha256"]}"']
        if entry.get("requires-python"):
            attributes.append(f'data-requires-python="{html.escape(entry["requires-python"])}"')
        metadata = entry.get("core-metadata")
        if isinstance(metadata, dict) and metadata.get("sha256"):
            attributes.append(f'data-dist-info-metadata="sha256={metadata["sha256"]}"')
            attributes.append(f'data-core-metadata="sha256={metadata["sha256"]}"')
        yanked = entry.get("yanked")
        if yanked:
            reason = yanked if isinstance(yanked, str) else ""
            attributes.append(f'data-yanked="{html.escape(reason)}"')
        lines.append(f"    <a {' '.join(attributes)}>{html.escape(entry['filename'])}</a><br />")
    lines += ["  </body>", "</html>", ""]
    return "\n".join(lines)


def _file_json(row: DistributionRow) -> dict[str, Any]:
    metadata: dict[str, Any] | bool = (
        {"sha256": row.metadata_sha256} if row.metadata_sha256 else False
    )
    return {
        "filename": row.filename,
        "url": file_url(row.filename),
        "hashes": {"sha256": row.sha256},
        "requires-python": row.requires_python,
        "core-metadata": metadata,
        "yanked": row.yanked_reason or True if row.yanked else False,
        "size": row.size,
        "upload-time": row.upload_time.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
    }


def project_page_json(name: str, files: Sequence[DistributionRow]) -> str:
    """The PEP 691 JSON page of one project."""
    ordered = sorted_files(files)
    versions = {row.version for row in ordered}
    return page_json_from_entries(name, [_file_json(row) for row in ordered], versions)


def page_json_from_entries(
    name: str, entries: Sequence[dict[str, Any]], versions: Iterable[str]
) -> str:
    """The PEP 691 page of one project from its file entries, in their order."""
    document = {
        "meta": {"api-version": API_VERSION},
        "name": name,
        "files": list(entries),
        "versions": sorted(set(versions), key=version_key),
    }
    return json.dumps(document, separators=(",", ":"))


def root_page_html(projects: Sequence[str]) -> str:
    """The PEP 503 list of every project in a channel."""
    links = [f'    <a href="{html.escape(p)}/">{html.escape(p)}</a><br />' for p in projects]
    return "\n".join(
        [
            "<!DOCTYPE html>",
            "<html>",
            "  <head>",
            f'    <meta name="pypi:repository-version" content="{API_VERSION}">',
            "    <title>Simple index</title>",
            "  </head>",
            "  <body>",
            *links,
            "  </body>",
            "</html>",
            "",
        ]
    )


def root_page_json(projects: Sequence[str]) -> str:
    """The PEP 691 list of every project in a channel."""
    document = {"meta": {"api-version": API_VERSION}, "projects": [{"name": p} for p in projects]}
    return json.dumps(document, separators=(",", ":"))
