"""The routes of the package views and the JSON APIs, one module per family, each with its
`router`: the pip view and PyPI JSON API (`pip`), the conda view (`conda`), uploads
(`upload`), the upstream mirrors and the channel list (`upstream`), bridging requests
(`requests`), the admin API (`admin`), a channel's bases (`bases`), promotion, deletion and
mutability (`promote`), files by sha256 for replicas (`replica_files`), hosted docs
(`docs`), the build agents' API (`jobs`). A route module imports the server's shared
modules, never another route module nor a page (`app` sets the order they are routed in).
"""

from drawbridge.server.routes import (
    admin,
    bases,
    conda,
    docs,
    jobs,
    pip,
    promote,
    replica_files,
    requests,
    upload,
    upstream,
)

__all__ = [
    "admin",
    "bases",
    "conda",
    "docs",
    "jobs",
    "pip",
    "promote",
    "replica_files",
    "requests",
    "upload",
    "upstream",
]
