"""`drawbridge image`: a locked environment as an OCI image archive, or as a Dockerfile.

The Dockerfile's build stage needs only the Drawbridge server the lock came from: it runs
`lock_installer.py` (copied beside it), which installs py-rattler from the server's pip
index and then the lock. Drawbridge itself is not installed there: its own wheel is not
in the channels.

The environment is installed on this machine into a staging folder laid out for the
image's platform (which may be another architecture), with conda's prefix placeholders
and the scripts' headers pointing at where it will live in the image. Nothing in it is
run: rattler links the conda packages, installer writes the wheels.

The OCI writer, installer and the YAML reader are imported where they are used:
`drawbridge lock` and `env create` load this module with the CLI and use none of them.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from drawbridge.environments.defaults import DEFAULT_PREFIX_IN_IMAGE
from drawbridge.environments.install import create_environment
from drawbridge.environments.lock import LOCK_ENVIRONMENT
from drawbridge.environments.lockfile import PlatformLock
from drawbridge.environments.pip_resolve import python_version


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
    from drawbridge.environments.oci import ImageRequest, write_image
    from drawbridge.environments.wheel_install import install_wheels

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


#: the file the build stage runs, written beside the Dockerfile
INSTALLER_NAME = "drawbridge-install.py"

DOCKERFILE = """\
# Written by `drawbridge image --dockerfile` for {lock_name} ({platform}).
# Build it in this folder, which holds {lock_name} and {installer}:
#   docker build -t {reference} .
# The build stage needs nothing but the Drawbridge server: it installs py-rattler from
#   {index}
# and the lock's packages from the lock's own URLs, each checked against its sha256.
# A private server: --build-arg DRAWBRIDGE_TOKEN=<reader token> (it stays in the build
# stage). The final stage copies the finished environment onto the base image: no pip
# cache, no py-rattler, no build tool reaches it.
ARG BASE_IMAGE={base}
ARG BUILDER_IMAGE={builder}

FROM ${{BUILDER_IMAGE}} AS build
ARG DRAWBRIDGE_URL={server}
ARG DRAWBRIDGE_CHANNEL={channel}
ARG DRAWBRIDGE_TOKEN=
COPY {lock_name} {installer} /tmp/drawbridge/
RUN python /tmp/drawbridge/{installer} /tmp/drawbridge/{lock_name} {platform} {prefix}

FROM ${{BASE_IMAGE}}
COPY --from=build {prefix} {prefix}
ENV PATH={prefix}/bin:$PATH CONDA_PREFIX={prefix}
CMD ["{prefix}/bin/python"]
"""


@dataclass(frozen=True)
class LockOrigin:
    """Where a lock was made: the server, and the Drawbridge channel first in its list."""

    server: str
    channel: str


def lock_origin(lock_path: Path) -> LockOrigin | None:
    """The server and first Drawbridge channel of the lock's channel URLs, if it names any.

    A channel URL is `<server>/<channel>/conda`; mirrors are `<server>/upstream/<name>`.
    """
    from ruamel.yaml import YAML

    document = YAML(typ="safe").load(lock_path.read_text("utf-8")) or {}
    environment = (document.get("environments") or {}).get(LOCK_ENVIRONMENT) or {}
    urls = [c.get("url", "") for c in environment.get("channels") or [] if isinstance(c, dict)]
    for url in urls:
        parts = urlsplit(url)
        path = parts.path.strip("/")
        if parts.scheme in ("http", "https") and path.endswith("/conda"):
            return LockOrigin(f"{parts.scheme}://{parts.netloc}", path.removesuffix("/conda"))
    return None


def image_name(tag: str) -> str:
    """A reference Docker accepts for `tag`: `name:tag` (a bare tag is not an image name)."""
    return tag if ":" in tag or "/" in tag else f"drawbridge-env:{tag}"


def dockerfile(
    lock_name: str,
    platform: str,
    server: str,
    channel: str,
    base: str,
    builder: str,
    prefix: str,
    reference: str,
) -> str:
    """A two-stage Dockerfile whose build stage installs the lock with `INSTALLER_NAME`."""
    return DOCKERFILE.format(
        lock_name=lock_name,
        platform=platform,
        installer=INSTALLER_NAME,
        index=f"{server}/{channel}/simple/",
        server=server,
        channel=channel,
        base=base,
        builder=builder,
        prefix=prefix,
        reference=image_name(reference),
    )


def write_docker_context(
    lock_path: Path,
    dockerfile_path: Path,
    platform: str,
    origin: LockOrigin,
    base: str,
    builder: str,
    prefix: str,
    reference: str,
) -> list[Path]:
    """The Dockerfile, the installer beside it and the lock (copied there unless it is
    already), so the folder is a build context of its own; the files written."""
    from drawbridge.environments import lock_installer

    folder = dockerfile_path.parent
    folder.mkdir(parents=True, exist_ok=True)
    written = [dockerfile_path, folder / INSTALLER_NAME]
    if lock_path.absolute().parent != folder.absolute():
        shutil.copyfile(lock_path, folder / lock_path.name)
        written.append(folder / lock_path.name)
    text = dockerfile(
        lock_path.name, platform, origin.server, origin.channel, base, builder, prefix, reference
    )
    dockerfile_path.write_text(text, "utf-8")
    (folder / INSTALLER_NAME).write_text(Path(lock_installer.__file__).read_text("utf-8"), "utf-8")
    return written
