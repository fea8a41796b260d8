"""`drawbridge image`: a locked environment as an OCI image archive, or as a Dockerfile.

The environment is installed on this machine into a staging folder, with conda's prefix
placeholders and pip's script headers pointing at where it will live in the image.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import tempfile
from pathlib import Path

from drawbridge.environments.install import create_environment
from drawbridge.environments.lockfile import PlatformLock
from drawbridge.environments.oci import ImageRequest, write_image

DEFAULT_PREFIX_IN_IMAGE = "/opt/env"


def build_image(
    lock: PlatformLock,
    output: Path,
    prefix_in_image: str = DEFAULT_PREFIX_IN_IMAGE,
    base: Path | None = None,
    reference: str = "latest",
    labels: dict[str, str] | None = None,
    cache_dir: Path | None = None,
    show_progress: bool = True,
    token: str | None = None,
) -> str:
    """Install `lock` and write it as an image to `output`; return the manifest digest."""
    output = output.absolute()
    with tempfile.TemporaryDirectory(prefix="drawbridge-stage-", dir=output.parent) as scratch:
        staging = Path(scratch) / "env"
        create_environment(
            lock, staging, cache_dir=cache_dir, show_progress=show_progress,
            target_prefix=prefix_in_image, compile_bytecode=False, token=token,
        )  # fmt: skip
        relocate_pip_scripts(staging, prefix_in_image)
        request = ImageRequest(
            environment=staging, prefix_in_image=prefix_in_image, platform=lock.platform,
            reference=reference, base=base, labels=labels or {},
        )  # fmt: skip
        return write_image(request, output)


def relocate_pip_scripts(prefix: Path, target: str) -> None:
    """Point the `#!` lines pip wrote at the image's Python, and fix their RECORD rows."""
    old = f"#!{prefix}/".encode()
    new = f"#!{target.rstrip('/')}/".encode()
    for record in prefix.glob("lib/python*/site-packages/*.dist-info/RECORD"):
        installer = record.parent / "INSTALLER"
        if not installer.is_file() or installer.read_text().strip() != "pip":
            continue
        rows = list(csv.reader(io.StringIO(record.read_text("utf-8"))))
        changed = False
        for row in rows:
            path = (record.parent.parent / row[0]).resolve() if row else None
            if path is None or not path.is_file() or not path.is_relative_to(prefix / "bin"):
                continue
            data = path.read_bytes()
            if data.startswith(old):
                data = new + data[len(old):]
                path.write_bytes(data)
                digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
                row[1:3] = [f"sha256={digest}", str(len(data))]
                changed = True
        if changed:
            text = io.StringIO()
            csv.writer(text, lineterminator="\n").writerows(rows)
            record.write_text(text.getvalue(), "utf-8")


DOCKERFILE = """\
# syntax=docker/dockerfile:1
# Written by `drawbridge image --dockerfile` for {lock_name}.
# Build it in a folder holding {lock_name}: docker build -t {reference} .
# The build stage installs the lock from Drawbridge only; the final stage copies the
# finished environment onto the base image, so nothing else (no compiler, no pip cache,
# no Drawbridge) reaches it.
ARG BASE_IMAGE={base}
ARG BUILDER_IMAGE={builder}

FROM ${{BUILDER_IMAGE}} AS build
ARG DRAWBRIDGE_URL={server}
RUN python -m pip install --no-cache-dir --index-url "${{DRAWBRIDGE_URL}}/{channel}/simple/" drawbridge
COPY {lock_name} /tmp/drawbridge.lock
RUN drawbridge env create --lock /tmp/drawbridge.lock --prefix {prefix}

FROM ${{BASE_IMAGE}}
COPY --from=build {prefix} {prefix}
ENV PATH={prefix}/bin:$PATH CONDA_PREFIX={prefix}
CMD ["{prefix}/bin/python"]
"""


def dockerfile(
    lock_name: str, server: str, channel: str, base: str, builder: str, prefix: str, reference: str
) -> str:
    """A two-stage Dockerfile that installs the lock the way `drawbridge env create` does."""
    return DOCKERFILE.format(
        lock_name=lock_name, server=server, channel=channel, base=base, builder=builder,
        prefix=prefix, reference=reference,
    )  # fmt: skip
