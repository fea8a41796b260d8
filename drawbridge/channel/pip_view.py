"""Write a channel's pip view to disk: each project's PEP 503/691 pages and the root list.

Every page is written atomically with a pre-compressed `.gz` twin, so servers (Drawbridge
or a proxy in front of it) send pages as files. A stamp beside the pages says which
`simple_pages.PAGES_FORMAT` wrote them, so pages of an older format get rewritten.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from drawbridge.channel import simple_pages
from drawbridge.channel.database import DistributionRow
from drawbridge.channel.storage import write_bytes_atomic, write_with_gzip_atomic

FORMAT_STAMP = ".pages-format"


def write_project_pages(folder: Path, files: Sequence[DistributionRow]) -> None:
    """`index.html` and `index.json` (with `.gz` twins) of one project, from its files."""
    name = files[0].display_name
    write_with_gzip_atomic(folder / "index.html", simple_pages.project_page_html(name, files).encode())
    write_with_gzip_atomic(folder / "index.json", simple_pages.project_page_json(name, files).encode())


def write_root_pages(folder: Path, projects: Sequence[str]) -> None:
    """The channel's list of projects, in both formats."""
    write_with_gzip_atomic(folder / "index.html", simple_pages.root_page_html(projects).encode())
    write_with_gzip_atomic(folder / "index.json", simple_pages.root_page_json(projects).encode())


def pages_are_current(folder: Path) -> bool:
    """Whether the pages under `folder` were all written in today's page format."""
    try:
        return int((folder / FORMAT_STAMP).read_text()) == simple_pages.PAGES_FORMAT
    except (OSError, ValueError):
        return False


def stamp_pages_format(folder: Path) -> None:
    """Record that every page under `folder` is now in today's page format."""
    write_bytes_atomic(folder / FORMAT_STAMP, str(simple_pages.PAGES_FORMAT).encode())
