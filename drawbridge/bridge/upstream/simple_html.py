"""The links of a PEP 503 (HTML) simple page, with their attributes and text.

Apart from pypi.py because only a server without PEP 691 JSON needs it: `drawbridge lock`
reads JSON pages and does not load html.parser (docs/performance.md).
"""

from __future__ import annotations

import html.parser


class _LinkParser(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[dict[str, str | None]] = []
        self._current: dict[str, str | None] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self._current = dict(attrs)
            self._current["_text"] = ""

    def handle_data(self, data: str) -> None:
        if self._current is not None:
            self._current["_text"] = (self._current["_text"] or "") + data

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._current is not None:
            self.links.append(self._current)
            self._current = None


def page_links(text: str) -> list[dict[str, str | None]]:
    """Each `<a>` of `text`: its attributes, and its text under `_text`."""
    parser = _LinkParser()
    parser.feed(text)
    return parser.links
