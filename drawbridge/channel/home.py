"""A Drawbridge home: where a deployment keeps its configuration, database and channels."""

from __future__ import annotations

import json
import math
import os
import re
import tomllib
from typing import TYPE_CHECKING, Any, TypeVar
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import urlsplit

from drawbridge.channel.errors import HomeError, InvalidName
from drawbridge.channel.locations import DEFAULT_HOME, HOME_VARIABLE
from drawbridge.channel.layout import ChannelLayout
from drawbridge.channel.platforms import (
    DEFAULT_MACOS,
    DEFAULT_PYTHONS,
    DEFAULT_SUBDIRS,
    OLDEST_MACOS,
    macos_text,
    macos_baseline,
    macos_baselines,
    toml_inline_table,
    toml_list,
)

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

T = TypeVar("T", bound="DataclassInstance")
CONFIG_NAME = "drawbridge.toml"
#: the longest a proxy may answer anonymous reads from its cache (`[server] proxy_cache_seconds`)
MAX_PROXY_CACHE_SECONDS = 3600
#: the tables drawbridge.toml may have
TABLES = ["bridge", "bundles", "policy", "recipes", "server"]
#: one part of a channel name: a plain name, an owner, or the name after an owner
CHANNEL_PART = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
#: URL segments a channel may not be named after, because the server routes them itself
RESERVED_CHANNEL_NAMES = frozenset(
    {
        *("simple", "t", "ui", "api", "health", "metrics", "static", "upstream", "favicon.ico"),
        *("docs", "redoc", "openapi.json"),  # the API's documentation
    }
)
#: the words that follow a channel in its URLs (`/<channel>/conda/...`, `/<channel>/simple/`)
CHANNEL_VIEWS = frozenset({"conda", "simple", "files", "pypi", "upload", "packages", "docs"})
#: what neither part of `owner/name` may be: `/<owner>/<name>/simple/` must never read as
#: a plain channel's URL (`/<name>/simple/<project>/`), nor a route of the server's own
RESERVED_CHANNEL_PARTS = RESERVED_CHANNEL_NAMES | CHANNEL_VIEWS

#: `platforms.DEFAULT_MACOS` as drawbridge.toml writes it
DEFAULT_MACOS_TEXT = {subdir: macos_text(version) for subdir, version in DEFAULT_MACOS.items()}
DEFAULT_CONFIG = """\
# Drawbridge configuration. Every key is optional; these are the defaults.

[server]
host = "127.0.0.1"
port = 8080
# Empty: SQLite at <home>/drawbridge.db. For several servers, PostgreSQL:
# "postgresql://user:password@host:5432/drawbridge" (psycopg 3; see docs/operating.md).
database_url = ""
# Largest file an upload may carry, in MiB (larger ones are refused with 413).
max_upload_mb = 2048
# Whether reading channels needs a token (reader role or better).
anonymous_read = true
# The channel behind /simple/ and the default of every --channel option.
default_channel = "main"
# Access log (common log format + seconds taken): "-" stderr, a file (from the home), "" off.
access_log = "-"
# Seconds an idle keep-alive connection stays open (behind a load balancer: longer than its
# own idle timeout).
idle_timeout_seconds = 15
# The URL clients reach this server at ("https://pkgs.example.com/"): every URL the server
# writes (install snippets, /api/channels, the JSON API) names it, and a browser may change
# things only from pages of its origin. Empty: each request's own scheme and Host header.
# Set it behind a reverse proxy or a shared cache (docs/operating.md, "Reverse proxies").
public_url = ""
# A replica: the primary's URL. The database_url above is then a PostgreSQL hot standby of
# the primary's database; this server refuses every change and fetches the files it lacks
# from the primary (docs/operating.md, "Replicas").
replica_of = ""
# The secret a replica shows the primary to fetch files (set the same on both).
replica_token = ""
# Behind nginx: an `internal` location aliased to this home ("/_drawbridge_files/"); after
# its access checks the server answers a package file with X-Accel-Redirect and nginx sends
# it (docs/operating.md, "Files sent by nginx"). Empty: the server sends files itself.
accel_redirect_prefix = ""
# Behind nginx with proxy_cache: how many seconds nginx may answer anonymous reads of
# public channels from its cache (X-Accel-Expires; every other answer is marked 0, never
# cached). 0: off (docs/operating.md, "Anonymous reads from nginx's cache").
proxy_cache_seconds = 0
# With proxy_cache_seconds: package files larger than this many MiB are not given to
# nginx's cache (never copied into it); with accel_redirect_prefix nginx sends them from
# the home. 0: every file may be kept.
proxy_cache_max_file_mb = 0
# Days the event outbox keeps an event and a finished webhook delivery (a pending delivery
# stays until it is delivered or expires); older ones are deleted once an hour.
outbox_keep_days = 30

[bridge]
# What `drawbridge bridge` builds for: conda subdirs and Python versions ("2.7" works too).
platforms = {platforms}
pythons = {pythons}
# A PEP 503/691 index URL, or a local folder of wheels and sdists (a drop folder).
upstream_pypi = "https://pypi.org/simple/"
# The company's conda mirror(s), in priority order: python, pip and what else they carry
# come from them (projects they carry are not bridged). `drawbridge upstream add NAME
# URL|FOLDER` checks and adds one: {{ name = "corp", url = "https://mirror.corp/conda" }}.
upstream_conda = []
# Oldest glibc the Linux packages may need, as manylinux_2_<N>.
manylinux_glibc_minor = 17
# Oldest macOS of each Mac subdir: the packages may need no newer. Raise it when the plan
# says a release needs a newer one and no Mac of the company is older.
macos_baseline = {macos}

[recipes]
# Who maintains the recipes Drawbridge generates (written as extra.recipe-maintainers).
# Empty: each generated recipe says none is configured, and its reviewer is told.
maintainers = []
# How long a build agent may go without a heartbeat before its job is queued again
# (agents heartbeat every 20 s; a job fails after 3 attempts).
build_lease_seconds = 120

[bundles]
# This home's ed25519 signing key (`drawbridge bundle keygen` makes it), from the home.
key = "keys/bundle-signing.pem"
# The .pub files of the homes whose bundles and receipts this one trusts (from the home);
# every keys/trusted/*.pub is trusted as well. See docs/operating.md, "Crossing the air gap".
trusted_keys = []

[policy]
# Applied on bundle import and on every bridge run: what would be held is not published.
# PEP 508 requirements a release must match one of (empty: every project is allowed).
allow = []
# PEP 508 requirements no release may match ("evil", "urllib3<2").
block = []
# SPDX licence ids a release's licence must be satisfied by (empty: licences not checked).
licenses = []
# "low", "medium", "high" or "critical": an OSV advisory this severe or worse holds a
# release (empty: advisories hold nothing). `drawbridge osv import all.zip` loads them.
max_severity = ""
# Projects whose first pip miss files a bridging request no maintainer needs to approve.
auto_approve = []
""".format(
    platforms=toml_list(DEFAULT_SUBDIRS),
    pythons=toml_list(DEFAULT_PYTHONS),
    macos=toml_inline_table(DEFAULT_MACOS_TEXT),
)


@dataclass(frozen=True)
class ServerSettings:
    """The `[server]` table of drawbridge.toml."""

    host: str = "127.0.0.1"
    port: int = 8080
    database_url: str = ""
    max_upload_mb: int = 2048
    anonymous_read: bool = True
    default_channel: str = "main"
    access_log: str = "-"
    idle_timeout_seconds: int = 15
    #: the URL clients reach the server at (scheme://host[:port]/), "" for the request's own
    public_url: str = ""
    #: the primary's URL when this server is a read-only replica of it, else ""
    replica_of: str = ""
    #: the secret replicas show the primary to fetch files by sha256 ("": none may)
    replica_token: str = ""
    #: nginx's internal location of the home's files ("": the server sends files itself)
    accel_redirect_prefix: str = ""
    #: seconds nginx may keep an anonymous read of a public channel (0: nothing is cached)
    proxy_cache_seconds: int = 0
    #: MiB above which a package file is not for nginx's cache (0: no limit)
    proxy_cache_max_file_mb: int = 0
    #: days the outbox keeps events and finished webhook deliveries
    outbox_keep_days: int = 30

    @property
    def max_upload_bytes(self) -> int:
        return self.max_upload_mb * 1024 * 1024

    @property
    def proxy_cache_max_file_bytes(self) -> float:
        """The largest package file nginx's cache may keep: none without a cache, every
        one with a cache and no limit."""
        if not self.proxy_cache_seconds:
            return -1
        if not self.proxy_cache_max_file_mb:
            return math.inf
        return self.proxy_cache_max_file_mb * 1024 * 1024


@dataclass(frozen=True)
class BridgeSettings:
    """The `[bridge]` table of drawbridge.toml."""

    platforms: list[str] = field(default_factory=lambda: list(DEFAULT_SUBDIRS))
    pythons: list[str] = field(default_factory=lambda: list(DEFAULT_PYTHONS))
    upstream_pypi: str = "https://pypi.org/simple/"
    #: mirror locations or `{name, url}` tables: see `channel.upstream_conda`
    upstream_conda: list[Any] = field(default_factory=list)
    manylinux_glibc_minor: int = 17
    #: subdir → "X.Y"; a subdir left out keeps its default (`platforms.DEFAULT_MACOS`)
    macos_baseline: dict[str, Any] = field(default_factory=lambda: dict(DEFAULT_MACOS_TEXT))

    @property
    def macos(self) -> dict[str, tuple[int, int]]:
        """The oldest macOS of each Mac subdir, as (major, minor): `macos_baseline` over the
        defaults (`load_home` checked each entry)."""
        return macos_baselines(self.macos_baseline)

    @property
    def python3s(self) -> list[str]:
        """The Python 3 versions the site builds for, oldest first: recipes build for each."""
        pythons = [p for p in self.pythons if not p.startswith("2")]
        return sorted(pythons, key=lambda v: tuple(map(int, v.split("."))))

    @property
    def oldest_python3(self) -> str | None:
        """The oldest Python 3 the site builds for: noarch recipes build against it."""
        return self.python3s[0] if self.python3s else None


@dataclass(frozen=True)
class RecipeSettings:
    """The `[recipes]` table of drawbridge.toml."""

    maintainers: list[str] = field(default_factory=list)
    #: how long a build agent holds a job without a heartbeat before it is queued again
    build_lease_seconds: int = 120


@dataclass(frozen=True)
class BundleSettings:
    """The `[bundles] table of drawbridge.toml: this home's signing key and the exporters'
    public keys it trusts (paths from the home; `keys/trusted/*.pub` are trusted too)."""

    key: str = "keys/bundle-signing.pem"
    trusted_keys: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class PolicySettings:
    """The `[policy]` table of drawbridge.toml: what may be published from a bundle or a
    bridge run (`bridge.policy`). Empty lists decide nothing."""

    #: PEP 508 requirements a release must match one of (empty: every project)
    allow: list[str] = field(default_factory=list)
    #: PEP 508 requirements no release may match
    block: list[str] = field(default_factory=list)
    #: SPDX licence ids a release's licence expression must be satisfied by (empty: any)
    licenses: list[str] = field(default_factory=list)
    #: "low", "medium", "high" or "critical": an advisory this severe or worse holds a
    #: release (empty: advisories do not hold)
    max_severity: str = ""
    #: projects whose first miss files a bridging request with no maintainer
    auto_approve: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Home:
    """The folder of one deployment, with its parsed configuration."""

    root: Path
    server: ServerSettings = field(default_factory=ServerSettings)
    bridge: BridgeSettings = field(default_factory=BridgeSettings)
    recipes: RecipeSettings = field(default_factory=RecipeSettings)
    bundles: BundleSettings = field(default_factory=BundleSettings)
    policy: PolicySettings = field(default_factory=PolicySettings)

    @property
    def bundles_dir(self) -> Path:
        """Bundle imports' state (verified chunks, staged files) and receipts."""
        return self.root / "bundles"

    @property
    def signing_key_path(self) -> Path:
        return self.root / self.bundles.key

    @property
    def trusted_key_paths(self) -> list[Path]:
        """The public keys this home trusts: `[bundles] trusted_keys`, `keys/trusted/*.pub`."""
        folder = self.root / "keys" / "trusted"
        found = sorted(folder.glob("*.pub")) if folder.is_dir() else []
        return [self.root / path for path in self.bundles.trusted_keys] + found

    @property
    def config_path(self) -> Path:
        return self.root / CONFIG_NAME

    @property
    def database_url(self) -> str:
        return self.server.database_url or f"sqlite:///{(self.root / 'drawbridge.db').resolve()}"

    @property
    def channels_dir(self) -> Path:
        return self.root / "channels"

    @property
    def cache_dir(self) -> Path:
        return self.root / "cache"

    @property
    def incoming_dir(self) -> Path:
        """Where uploads land before they are checked; on the channels' filesystem."""
        return self.root / "incoming"

    def channel(self, name: str) -> ChannelLayout:
        """The layout of channel `name`, at `channels/<name>/` or `channels/<owner>/<name>/`
        (InvalidName if it cannot name a channel)."""
        return ChannelLayout(name, self.channels_dir.joinpath(*check_channel_name(name).split("/")))


def check_channel_name(name: str) -> str:
    """Return `name` if it can name a channel (`name` or `owner/name`); raise InvalidName
    saying why not."""
    owner, slash, rest = name.partition("/")
    if not slash and CHANNEL_PART.match(name) and name not in RESERVED_CHANNEL_NAMES:
        return name
    if slash and all(
        CHANNEL_PART.match(part) and part not in RESERVED_CHANNEL_PARTS for part in (owner, rest)
    ):
        return name
    raise InvalidName(
        f"{name!r} is not a valid channel name: write `name` or `owner/name`, each part of "
        "lowercase letters, digits, '.', '_' and '-' (at most 64, starting with a letter or a "
        f"digit); a plain name may not be one of {sorted(RESERVED_CHANNEL_NAMES)}, and the "
        f"parts of `owner/name` none of {sorted(RESERVED_CHANNEL_PARTS)}"
    )


def resolve_home_path(home: Path | str | None) -> Path:
    """The home folder: the argument, else $DRAWBRIDGE_HOME, else ./drawbridge-home."""
    if home:
        return Path(home)
    return Path(os.environ.get(HOME_VARIABLE) or DEFAULT_HOME)


def no_home_message(home: Path | str | None) -> str:
    """Why `home` (as a command was given it) names no home: where it looked, and the fix."""
    root = resolve_home_path(home)
    where = root.absolute()
    from_environment = os.environ.get(HOME_VARIABLE)  # the CLI passes it on as `home`
    if home and not (from_environment and Path(from_environment) == Path(home)):
        looked = f"{where} (from --home) is not a Drawbridge home: it has no {CONFIG_NAME}"
    elif from_environment:
        looked = (
            f"{where} (from ${HOME_VARIABLE}) is not a Drawbridge home: it has no {CONFIG_NAME}"
        )
    else:
        looked = (
            f"no Drawbridge home here: looked for ./{DEFAULT_HOME} in {Path.cwd()}, since "
            f"neither --home nor ${HOME_VARIABLE} was given"
        )
    return (
        f"{looked}. Point to your home with --home PATH or `export {HOME_VARIABLE}=PATH` "
        f"(`make serve` creates it as drawbridge-home in the checkout), or create one with "
        f"`drawbridge init --home {root}`"
    )


def load_home(home: Path | str | None = None) -> Home:
    """Read an initialised home; raise HomeError (saying where it looked and how to point to
    a home, or make one) if absent."""
    root = resolve_home_path(home)
    config_path = root / CONFIG_NAME
    if not config_path.is_file():
        raise HomeError(no_home_message(home))
    try:
        document = tomllib.loads(config_path.read_text("utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise HomeError(f"cannot read {config_path}: {error}") from error
    unknown_tables = sorted(set(document) - set(TABLES))
    if unknown_tables:
        raise HomeError(f"{config_path}: unknown tables {unknown_tables}; known: {TABLES}")
    server = _parse_table(config_path, "server", document.get("server", {}), ServerSettings)
    check_channel_name(server.default_channel)
    for key in ("idle_timeout_seconds", "outbox_keep_days"):
        check_at_least_one(config_path, "server", key, getattr(server, key))
    check_public_url(config_path, server.public_url)
    check_accel_redirect_prefix(config_path, server.accel_redirect_prefix)
    if not 0 <= server.proxy_cache_seconds <= MAX_PROXY_CACHE_SECONDS:
        raise HomeError(
            f"{config_path}: [server] proxy_cache_seconds must be 0 (off) to "
            f"{MAX_PROXY_CACHE_SECONDS} (it is {server.proxy_cache_seconds}): it is how long a "
            "permission change or a publish may take to reach anonymous readers through nginx"
        )
    if server.proxy_cache_max_file_mb < 0:
        raise HomeError(
            f"{config_path}: [server] proxy_cache_max_file_mb must be 0 (no limit) or more "
            f"(it is {server.proxy_cache_max_file_mb})"
        )
    check_replica(config_path, server)
    bridge = _parse_table(config_path, "bridge", document.get("bridge", {}), BridgeSettings)
    from drawbridge.channel.upstream_conda import upstream_channels

    upstream_channels(bridge.upstream_conda)  # a malformed entry or a name clash, said now
    check_macos_baseline(config_path, bridge.macos_baseline)
    recipes = _parse_table(config_path, "recipes", document.get("recipes", {}), RecipeSettings)
    if not all(_is_name(name) for name in recipes.maintainers):
        raise HomeError(f"{config_path}: [recipes] maintainers must be a list of names")
    bundles = _parse_table(config_path, "bundles", document.get("bundles", {}), BundleSettings)
    policy = _parse_table(config_path, "policy", document.get("policy", {}), PolicySettings)
    return Home(
        root=root.resolve(),
        server=server,
        bridge=bridge,
        recipes=recipes,
        bundles=bundles,
        policy=policy,
    )


def check_at_least_one(config_path: Path, table: str, key: str, value: int) -> None:
    """HomeError unless the setting `[table] key` is 1 or more."""
    if value < 1:
        raise HomeError(f"{config_path}: [{table}] {key} must be 1 or more (it is {value})")


def check_replica(config_path: Path, server: ServerSettings) -> None:
    """HomeError unless `[server] replica_of` is empty, or the http(s) URL of the primary
    on a PostgreSQL database (the primary's hot standby) with a replica_token."""
    if not server.replica_of:
        return
    parts = urlsplit(server.replica_of)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise HomeError(
            f"{config_path}: [server] replica_of {server.replica_of!r} is not an http:// or "
            'https:// URL; write the primary\'s URL, as "https://pkgs.example.com/"'
        )
    if not server.database_url.startswith(("postgresql", "postgres:")):
        raise HomeError(
            f"{config_path}: [server] replica_of needs a PostgreSQL database_url: a replica's "
            "database is a hot standby of the primary's, and SQLite homes cannot have "
            'replicas; move the primary to PostgreSQL first (docs/operating.md, "Replicas")'
        )
    if not server.replica_token:
        raise HomeError(
            f"{config_path}: [server] replica_of needs replica_token, the secret the primary's "
            "[server] replica_token holds, to fetch files from it"
        )


def as_replica_of(home: Home, url: str) -> Home:
    """`home` served as a replica of the primary at `url` (`drawbridge serve
    --replica-of`), checked as `[server] replica_of` is."""
    server = replace(home.server, replica_of=url)
    check_replica(home.config_path, server)
    return replace(home, server=server)


def _is_name(value: object) -> bool:
    """True for a non-empty string: what TOML gives may be anything, whatever the type says."""
    return isinstance(value, str) and bool(value)


def check_public_url(config_path: Path, url: str) -> None:
    """HomeError unless `[server] public_url` is empty or an http(s) URL of an origin alone:
    a scheme, a host and an optional port, with at most a `/` after them."""
    if not url:
        return
    problem = None
    try:
        parts = urlsplit(url)
        port = parts.port  # ValueError for a port that is not a number from 0 to 65535
    except ValueError as error:
        problem = str(error)
    else:
        if port == 0:
            problem = "port 0 is no port a client can reach"
        elif parts.scheme not in ("http", "https") or not parts.hostname:
            problem = "it is not an absolute http:// or https:// URL"
        elif parts.username is not None or parts.password is not None:
            problem = "it holds a user name or password"
        elif parts.path not in ("", "/") or parts.query or parts.fragment:
            problem = (
                "it has a path, query or fragment: Drawbridge is served at the root of its "
                "origin, not under a path"
            )
        elif any(char.isspace() for char in url):
            problem = "it holds white space"
    if problem:
        raise HomeError(
            f"{config_path}: [server] public_url {url!r} is not the URL of a server ({problem});"
            ' write the URL clients reach Drawbridge at, as "https://pkgs.example.com/" or '
            '"http://10.0.0.5:8080/", or "" to use each request\'s Host header'
        )


def check_accel_redirect_prefix(config_path: Path, prefix: str) -> None:
    """HomeError unless `[server] accel_redirect_prefix` is empty or a URL path that starts
    and ends with `/` (an nginx location), with nothing a URL path cannot hold plainly."""
    if not prefix:
        return
    plain = all(char.isascii() and char.isprintable() and char not in " ?#%" for char in prefix)
    if len(prefix) < 3 or not prefix.startswith("/") or not prefix.endswith("/") or not plain:
        raise HomeError(
            f"{config_path}: [server] accel_redirect_prefix {prefix!r} is not an nginx location;"
            ' write a path that starts and ends with "/", as "/_drawbridge_files/" (the '
            'location in nginx must be `internal;` and aliased to this home), or "" to have the '
            "server send files itself"
        )


def check_macos_baseline(config_path: Path, baseline: dict[str, Any]) -> None:
    """HomeError unless every entry of `[bridge] macos_baseline` is a Mac subdir with a
    macOS version ("12.0") no older than that subdir's first."""
    for subdir, text in baseline.items():
        if subdir not in OLDEST_MACOS:
            raise HomeError(
                f"{config_path}: [bridge] macos_baseline has {subdir!r}; its keys are the Mac "
                f"subdirs {', '.join(OLDEST_MACOS)}"
            )
        oldest = OLDEST_MACOS[subdir]
        if not isinstance(text, str) or macos_baseline(subdir, text) is None:
            raise HomeError(
                f"{config_path}: [bridge] macos_baseline {subdir} must be a macOS version "
                f'from {oldest[0]}.{oldest[1]} on, as a string ("12.0"), not {text!r}'
            )


def _parse_table(config_path: Path, name: str, table: dict[str, Any], settings_type: type[T]) -> T:
    """Build `settings_type` from a TOML table; unknown keys and wrong types are errors."""
    known = settings_type.__dataclass_fields__
    unknown = sorted(set(table) - set(known))
    if unknown:
        raise HomeError(f"{config_path}: unknown [{name}] keys {unknown}; known: {sorted(known)}")
    defaults = settings_type()
    for key, value in table.items():
        expected = type(getattr(defaults, key))
        if type(value) is not expected:
            raise HomeError(f"{config_path}: [{name}] {key} must be a {expected.__name__}")
    return settings_type(**table)


def initialise_home(home: Path | str | None = None, database_url: str = "") -> Home:
    """Create the home's folders and a default drawbridge.toml (kept if it exists), whose
    `database_url` is `database_url` (empty: SQLite in the home)."""
    root = resolve_home_path(home)
    for folder in (root, root / "channels", root / "cache", root / "incoming", root / "recipes"):
        folder.mkdir(parents=True, exist_ok=True)
    config_path = root / CONFIG_NAME
    if config_path.exists() and database_url:
        kept = load_home(root).server.database_url
        if kept != database_url:
            raise HomeError(
                f"{root} is a home already, on {'its own SQLite' if not kept else 'another'} "
                f"database; to move it, edit database_url in {config_path} (docs/operating.md)"
            )
    if not config_path.exists():
        config_path.write_text(
            DEFAULT_CONFIG.replace(
                'database_url = ""', f"database_url = {json.dumps(database_url)}"
            ),
            "utf-8",
        )
    return load_home(root)
