"""X-Accel-Redirect: once Drawbridge has checked a read, a proxy in front sends the file.

With `[server] accel_redirect_prefix` set (e.g. "/_drawbridge_files/"), a package file is
answered with no body and `X-Accel-Redirect: <prefix><its path inside the home>`; nginx
then serves that file itself (sendfile, its own Range and conditional requests) from an
`internal;` location aliased to the home, which no client can ask for directly. Every
access check runs before the header is written, in the fast path and in the routes alike,
so a file the client may not read is refused exactly as without a proxy. Off (""), the
server sends the file itself (docs/operating.md, "Files sent by nginx").
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

#: the header nginx acts on (and never passes on to the client)
HEADER = b"x-accel-redirect"


@dataclass(frozen=True)
class AccelRedirect:
    """Where a proxy finds the home's files: `prefix` + a path relative to `root`."""

    prefix: str  # starts and ends with "/"
    root: str  # the home, absolute, ending with the separator

    @classmethod
    def for_home(cls, prefix: str, home: Path) -> AccelRedirect | None:
        """The redirect for a home's setting, or None when the setting is empty (off)."""
        if not prefix:
            return None
        return cls(prefix, os.path.join(os.path.abspath(home), ""))

    def location(self, path: str | Path) -> bytes | None:
        """The internal URI of the file at `path`, or None when it lies outside the home
        (the server then sends it itself)."""
        full = os.path.abspath(path)
        if not full.startswith(self.root):
            return None
        relative = full[len(self.root) :].replace(os.sep, "/")
        return (self.prefix + quote(relative)).encode("latin-1")
