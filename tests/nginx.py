"""A real nginx (Debian's) in front of a real `drawbridge serve`, for the proxy set-ups
docs/operating.md shows: files sent by nginx (X-Accel-Redirect) and its proxy cache."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import httpx
import pytest
import tiers
from commands import invoke_drawbridge
from databases import new_home, write_config
from servers import free_port

from drawbridge.channel.home import Home

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


def require_nginx() -> None:
    """Skip, saying how to get it, where nginx is not installed (`make nginx` installs it)."""
    if not Path(NGINX).exists():
        pytest.skip("nginx is not installed (apt-get install nginx)")


#: `[server] accel_redirect_prefix` as docs/operating.md, "Files sent by nginx", sets it
ACCEL_PREFIX = "/_drawbridge_files/"


def accel_location(home: Path) -> str:
    """nginx's internal location of the home's files that X-Accel-Redirect names, as
    docs/operating.md writes it (`^~`: no regex location may take its redirects)."""
    return f"location ^~ {ACCEL_PREFIX} {{ internal; alias {home}/; }}"


def home_with_a_private_channel(root: Path, config: str, *channels: str) -> Home:
    """A home with `config` as its drawbridge.toml, the user alice, the channel `secret`
    only she may read, and public `channels`: what a proxy must not leak, and what it may."""
    home = new_home(root)
    write_config(home, config)
    commands = [
        ("user", "create", "alice"),
        ("channel", "create", "secret", "--read", "user:alice"),
    ]
    for args in (*commands, *(("channel", "create", name) for name in channels)):
        done = invoke_drawbridge(*args, home=home.root)
        assert done.returncode == 0, done.stdout + done.stderr
    return home


def start_nginx(
    folder: Path, upstream: str, locations: str = "", http: str = "", proxy: str = ""
) -> tuple[subprocess.Popen[bytes], str]:
    """nginx in `folder` proxying every location to `upstream`, with `proxy` directives in
    that location, `locations` beside it and `http` in its http block; (process, its URL)."""
    tiers.require("server")
    port = free_port()
    folder.mkdir()
    conf = folder / "nginx.conf"
    conf.write_text(f"""
worker_processes 1;
daemon off;
pid {folder}/nginx.pid;
error_log {folder}/error.log;
user root;
events {{ worker_connections 64; }}
http {{
  access_log off;
  client_body_temp_path {folder}/body;
  proxy_temp_path {folder}/proxy;
  fastcgi_temp_path {folder}/fastcgi;
  uwsgi_temp_path {folder}/uwsgi;
  scgi_temp_path {folder}/scgi;
  sendfile on;
  {http}
  server {{
    listen 127.0.0.1:{port};
    location / {{ proxy_pass {upstream}; proxy_set_header Host $http_host; {proxy} }}
    {locations}
  }}
}}
""")
    process = subprocess.Popen(
        [NGINX, "-c", str(conf), "-p", str(folder)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(url + "/health", timeout=1)
            return process, url
        except httpx.HTTPError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"nginx did not start: {(folder / 'error.log').read_text()}")


def stop_nginx(process: subprocess.Popen[bytes] | None) -> None:
    if process is not None:
        process.terminate()
        process.wait(10)
