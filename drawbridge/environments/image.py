"""`drawbridge image`: a locked environment as an OCI image archive, or as a Dockerfile.

The environment is installed on this machine into a staging folder laid out for the
image's platform (which may be another architecture), with conda's prefix placeholders
and the scripts' headers pointing at where it will live in the image. Nothing in it is
run: rattler links the conda packages, installer writes the wheels.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from drawbridge.environments.install import create_environment
from drawbridge.environments.lockfile import PlatformLock
from drawbridge.environments.oci import ImageRequest, write_image
from drawbridge.environments.pip_resolve import python_version
from drawbridge.environments.wheel_install import install_wheels

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
        conda_part = PlatformLock(platform=lock.platform, conda=lock.conda, pip=[])
        create_environment(
            conda_part,
            staging,
            cache_dir=cache_dir,
            show_progress=show_progress,
            target_prefix=prefix_in_image,
            token=token,
        )
        if lock.pip:
            install_wheels(
                lock.pip, staging, lock.platform, python_version(lock.conda), prefix_in_image, token
            )
        request = ImageRequest(
            environment=staging,
            prefix_in_image=prefix_in_image,
            platform=lock.platform,
            reference=reference,
            base=base,
            labels=labels or {},
        )
        return write_image(request, output)


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
RUN python -m pip install --no-cache-dir \\
    --index-url "${{DRAWBRIDGE_URL}}/{channel}/simple/" drawbridge
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
        lock_name=lock_name,
        server=server,
        channel=channel,
        base=base,
        builder=builder,
        prefix=prefix,
        reference=reference,
    )
