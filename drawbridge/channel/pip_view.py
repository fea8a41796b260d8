"""Write a channel's pip view to disk: each project's PEP 503/691 pages and the root list.

Every page is written atomically with a pre-compressed `.gz` twin, so servers (Drawbridge
or a proxy in front of it) send pages as files; a project's HTML and JSON pages (and
their twins) are renamed into place together, after all four are written, so a full disk
never leaves the HTML page without its JSON twin. A stamp beside the pages says which
`simple_pages.PAGES_FORMAT` wrote them, so pages of an older format get rewritten.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from drawbridge.channel import simple_pages
from drawbridge.channel.database import DistributionRow
from drawbridge.channel.storage import with_gzip_twin, write_bytes_atomic, write_files_atomic

FORMAT_STAMP = ".pages-format"


def write_project_pages(folder: Path, files: Sequence[DistributionRow]) -> None:
    """`index.html` and `index.json` (with `.gz` twins) of one project, from its files."""
    name = files[0].display_name
    write_files_atomic(
        with_gzip_twin(folder / "index.html", simple_pages.project_page_html(name, files).encode())
        | with_gzip_twin(
            folder / "index.json", simple_pages.project_page_json(name, files).encode()
        )
    )


def write_root_pages(folder: Path, projects: Sequence[str]) -> None:
    """The channel's list of projects, in both formats."""
    write_files_atomic(
        with_gzip_twin(folder / "index.html", simple_pages.root_page_html(projects).encode())
        | with_gzip_twin(folder / "index.json", simple_pages.root_page_json(projects).encode())
    )


PAGE_FILES = ("index.html", "index.html.gz", "index.json", "index.json.gz")


def page_folders(folder: Path) -> list[str]:
    """The project folders under the pip view's `folder`."""
    return (
        sorted(entry.name for entry in folder.iterdir() if entry.is_dir())
        if folder.is_dir()
        else []
    )


def incomplete_pages(folder: Path) -> list[str]:
    """The projects under `folder` whose pages are not all there (a page without its JSON
    twin, say, as an older Drawbridge could leave after a full disk)."""
    return [
        name
        for name in page_folders(folder)
        if not all((folder / name / page).is_file() for page in PAGE_FILES)
    ]


def pages_are_current(folder: Path) -> bool:
    """Whether the pages under `folder` were all written in today's page format."""
    try:
        return int((folder / FORMAT_STAMP).read_text()) == simple_pages.PAGES_FORMAT
    except (OSError, ValueError):
        return False


def stamp_pages_format(folder: Path) -> None:
    """Record that every page under `folder` is now in today's page format."""
    write_bytes_atomic(folder / FORMAT_STAMP, str(simple_pages.PAGES_FORMAT).encode())
