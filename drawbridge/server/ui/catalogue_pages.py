"""The browsable web UI's HTML: the channel tree, a channel's projects, a project's releases
and the install snippets, rendered from `channel.catalogue` records (pure: no database,
no request).

Every value from the database or the URL is escaped here. Links are absolute paths under
`root` (the `/t/<token>` prefix a request came with, else ""); snippets hold full URLs from
`origin`, with `$DRAWBRIDGE_TOKEN` where a channel needs a token to be read.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from html import escape
from urllib.parse import quote, urlencode

from drawbridge.bridge.policy.rules import Advisory
from drawbridge.channel.bases import UPSTREAM_BASE
from drawbridge.channel.catalogue import (
    ChannelEntry,
    CondaFile,
    OwnerGroup,
    PipFile,
    ProjectDetail,
    ProjectEntry,
    Release,
)

#: the script the pages load (copy buttons), served by `ui.browse` from `ui/static/`
SCRIPT_PATH = "/static/ui.js"
#: projects listed on one page of a channel (5,000 made a 0.7 MB page)
PAGE_SIZE = 500
#: what a snippet says in place of a token
TOKEN_PLACEHOLDER = "$DRAWBRIDGE_TOKEN"
#: what a channel page's snippets say in place of a project's name
PLACEHOLDER_NAME = "NAME"


def attr(value: str) -> str:
    """`value` for a quoted attribute."""
    return escape(value, quote=True)


def path_of(*segments: str) -> str:
    """`/a/b/` from segments, each %-escaped (a channel's `/` kept)."""
    return "".join("/" + quote(segment, safe="/") for segment in segments) + "/"


# -- snippets -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Urls:
    """Where a channel is served, as its install snippets name it."""

    origin: str  # http://host:port
    channel: str
    public: bool  # readable without a token
    mirrors: tuple[str, ...]  # served names of the upstream conda mirrors

    def _with_token_prefix(self, path: str) -> str:
        return f"{self.origin}{'' if self.public else '/t/' + TOKEN_PLACEHOLDER}{path}"

    @property
    def simple(self) -> str:
        if self.public:
            return f"{self.origin}/{self.channel}/simple/"
        scheme, _, rest = self.origin.partition("://")
        return f"{scheme}://__token__:{TOKEN_PLACEHOLDER}@{rest}/{self.channel}/simple/"

    @property
    def conda_channels(self) -> list[str]:
        """The channel's conda URL, then each upstream mirror's (python and friends)."""
        return [self._with_token_prefix(f"/{self.channel}/conda")] + [
            self._with_token_prefix(f"/upstream/{mirror}") for mirror in self.mirrors
        ]


def snippets(
    urls: Urls, pip_name: str | None, conda_name: str | None, version: str | None = None
) -> list[tuple[str, str]]:
    """(tool, command) for each client that can install the project from this channel:
    pip and uv if it has pip files, conda and pixi if it has conda packages."""
    found: list[tuple[str, str]] = []
    if pip_name:
        spec = f"{pip_name}=={version}" if version else pip_name
        quoted = f'"{urls.simple}"' if not urls.public else urls.simple
        found.append(("pip", f"pip install --index-url {quoted} {spec}"))
        found.append(("uv", f"uv pip install --index-url {quoted} {spec}"))
    if conda_name:
        spec = f"{conda_name}={version}" if version else conda_name
        channels = [f'"{c}"' if not urls.public else c for c in urls.conda_channels]
        conda_flags = " ".join(f"-c {c}" for c in channels)
        found.append(("conda", f"conda install --override-channels {conda_flags} {spec}"))
        pixi_flags = " ".join(f"--channel {c}" for c in channels)
        found.append(("pixi", f"pixi init {pixi_flags}\npixi add {spec}"))
    return found


def snippet_section(items: Sequence[tuple[str, str]], public: bool) -> str:
    """The snippets, each in a `<pre>` with a copy button (shown by the script)."""
    if not items:
        return ""
    note = (
        ""
        if public
        else "<p>Reading this channel needs a token: set <code>DRAWBRIDGE_TOKEN</code> to "
        "yours first.</p>"
    )
    blocks = "".join(
        f"<div class='snippet'><h3 id='tool-{tool}'>{tool}</h3>"
        f"<pre id='snippet-{tool}' aria-labelledby='tool-{tool}'><code>{escape(command)}</code>"
        f"</pre><button type='button' class='copy' data-copy='snippet-{tool}' "
        f"aria-label='Copy the {tool} command' hidden>Copy</button></div>"
        for tool, command in items
    )
    return (
        f"<section aria-labelledby='install'><h2 id='install'>Install</h2>{note}{blocks}"
        "<p class='copied' role='status' aria-live='polite'></p></section>"
    )


# -- the channel tree -----------------------------------------------------------------------


def tree_body(groups: Iterable[OwnerGroup], root: str) -> str:
    sections = []
    for group in groups:
        items = "".join(_tree_item(entry, root) for entry in group.channels)
        heading = f"<h2>{escape(group.owner)}/</h2>" if group.owner else "<h2>Channels</h2>"
        sections.append(f"<section>{heading}<ul class='tree'>{items}</ul></section>")
    return (
        "<h1>Drawbridge</h1><p>Approved PyPI packages for conda and pip, inside the air gap."
        f"</p><nav><a href='{root}/ui/recipes'>Recipes and review</a> · "
        f"<a href='{root}/ui/requests'>Bridging requests</a></nav>"
        + ("".join(sections) or "<p>No channel you may read.</p>")
    )


def _tree_item(entry: ChannelEntry, root: str) -> str:
    bases = f" <span class='muted'>{_inherits(entry, root)}</span>" if entry.bases else ""
    description = (
        f" <span class='muted'>{escape(entry.description)}</span>" if entry.description else ""
    )
    shown = entry.name.partition("/")[2] or entry.name
    return (
        f"<li><a href='{attr(root + path_of(entry.name))}'>{escape(shown)}</a>"
        f"{bases}{description}</li>"
    )


# -- a channel ------------------------------------------------------------------------------


def _inherits(entry: ChannelEntry, root: str) -> str:
    """ "inherits from" and the channel's bases, linked, nearest first (the tree and the
    channel's page say it alike)."""
    return "inherits from " + ", ".join(_base_link(base, root) for base in entry.bases)


def _base_link(base: str, root: str) -> str:
    """A base as a link to its page; an upstream mirror (no page of ours) as its name."""
    if base.startswith(UPSTREAM_BASE):
        return escape(base)
    return f"<a href='{attr(root + path_of(base))}'>{escape(base)}</a>"


def channel_body(
    entry: ChannelEntry,
    projects: Sequence[ProjectEntry],
    query: str,
    urls: Urls,
    root: str,
    page: int = 1,
) -> str:
    """A channel's page: its indexes, the snippets, and page `page` (PAGE_SIZE names) of
    `projects`, with links to the pages around it."""
    here = root + path_of(entry.name)
    description = f"<p>{escape(entry.description)}</p>" if entry.description else ""
    bases = (
        f"<p>{escape(entry.name)} {_inherits(entry, root)}: its indexes serve their projects "
        "too, the nearest file of a name winning.</p>"
        if entry.bases
        else ""
    )
    index = (
        f"<dl><dt>pip index</dt><dd><code>{escape(urls.simple)}</code></dd>"
        f"<dt>conda channel</dt><dd><code>{escape(urls.conda_channels[0])}</code></dd></dl>"
        + snippet_section(snippets(urls, PLACEHOLDER_NAME, PLACEHOLDER_NAME), urls.public)
    )
    search = (
        f"<form role='search' method='get' action='{attr(here)}'>"
        "<label for='q'>Search projects</label> "
        f"<input type='search' id='q' name='q' value='{attr(query)}'> "
        "<button type='submit'>Search</button></form>"
    )
    if query:
        found = (
            "1 project matches " if len(projects) == 1 else f"{len(projects)} projects match "
        ) + f"<q>{escape(query)}</q> · <a href='{attr(here)}'>all projects</a>"
    else:
        found = f"{len(projects)} project{'' if len(projects) == 1 else 's'}"
    first = (page - 1) * PAGE_SIZE
    listed = projects[first : first + PAGE_SIZE]
    if len(projects) > PAGE_SIZE:
        found += f" · {first + 1}–{first + len(listed)} shown"
    rows = "".join(
        f"<li data-name='{attr(p.name)}'>"
        f"<a href='{attr(root + path_of(p.source or entry.name))}pypi/{attr(quote(p.name))}/'>"
        f"{escape(p.display_name)}</a> "
        f"<span class='muted'>{escape(p.latest)} · "
        f"{' + '.join(v for v, has in (('pip', p.pip), ('conda', p.conda)) if has)}"
        f"{f' · from {escape(p.source)}' if p.source else ''}</span></li>"
        for p in listed
    )
    return (
        f"<p><a href='{root}/'>Channels</a> / {escape(entry.name)}</p>"
        f"<h1>Channel {escape(entry.name)}</h1>{description}{bases}{index}"
        f"<h2 id='projects'>Projects</h2>{search}<p id='found' role='status'>{found}</p>"
        f"<ul class='projects' aria-labelledby='projects'>{rows}</ul>"
        + _page_links(here, query, page, len(projects))
    )


def page_count(total: int) -> int:
    """How many pages of PAGE_SIZE names `total` projects fill (one, even when none)."""
    return max(1, -(-total // PAGE_SIZE))


def _page_links(here: str, query: str, page: int, total: int) -> str:
    """Links to the previous and next pages of a channel's projects, the search kept."""
    last = page_count(total)
    if last == 1:
        return ""

    def link(number: int, text: str, rel: str) -> str:
        asked = urlencode({**({"q": query} if query else {}), "page": number})
        return f"<a href='{attr(here + '?' + asked)}' rel='{rel}'>{text}</a>"

    links = [
        *([link(page - 1, "← previous page", "prev")] if page > 1 else []),
        f"<span>page {page} of {last}</span>",
        *([link(page + 1, "next page →", "next")] if page < last else []),
    ]
    return f"<nav aria-label='pages of projects'><p>{' · '.join(links)}</p></nav>"


# -- a project --------------------------------------------------------------------------------


def project_body(
    channel: str,
    detail: ProjectDetail,
    urls: Urls,
    root: str,
    only: Release | None = None,
    docs: Sequence[str] = (),
    advisories: Sequence[tuple[str, Advisory]] = (),
) -> str:
    """A project's page, or (`only`) one release's; `docs`, the versions with hosted
    documentation, newest first, are linked; with the `advisories` (version, advisory) of
    the home's OSV snapshot that apply to its releases."""
    here = root + path_of(channel)
    project_url = f"{here}pypi/{quote(detail.name)}/"
    docs_url = f"{here}docs/{quote(detail.name)}/"
    crumbs = f"<a href='{root}/'>Channels</a> / <a href='{attr(here)}'>{escape(channel)}</a>"
    has_pip = any(r.files for r in detail.releases)
    conda_name = detail.conda_names[0] if detail.conda_names else None
    version = only.version if only else None
    install = snippet_section(
        snippets(urls, detail.display_name if has_pip else None, conda_name, version),
        urls.public,
    )
    summary = f"<p>{escape(detail.summary)}</p>" if detail.summary else ""
    if docs:
        shown = [v for v in docs if only is None or v == only.version]
        summary += (
            "<p class='docs'>Documentation: "
            + ", ".join(
                f"<a href='{attr(docs_url + quote(v) + '/')}'>{escape(v)}</a>" for v in shown
            )
            + (f" (<a href='{attr(docs_url)}latest/'>latest</a>)" if only is None else "")
            + "</p>"
            if shown
            else ""
        )
    if only is not None:
        crumbs += f" / <a href='{attr(project_url)}'>{escape(detail.display_name)}</a>"
        title = f"{escape(detail.display_name)} {escape(only.version)}"
        releases = _release(only, project_url, heading="h2", channel=channel, root=root)
        others = "".join(
            f"<li><a href='{attr(project_url + quote(r.version) + '/')}'>{escape(r.version)}</a>"
            f"{' (yanked)' if r.yanked else ''}</li>"
            for r in detail.releases
            if r is not only
        )
        listing = f"<h2>Other versions</h2><ul>{others}</ul>" if others else ""
        return f"<p>{crumbs}</p><h1>{title}</h1>{summary}{install}{releases}{listing}"
    versions = "".join(
        _release(r, project_url, heading="h3", channel=channel, root=root) for r in detail.releases
    )
    return (
        f"<p>{crumbs}</p><h1>{escape(detail.display_name)}</h1>{summary}{install}"
        f"{advisory_section(advisories)}<h2>Versions</h2>{versions}"
    )


#: how an advisory without a severity is shown
NO_SEVERITY = "severity not given"


def advisory_section(advisories: Sequence[tuple[str, Advisory]]) -> str:
    """The known advisories of published releases, one item each ("" if none)."""
    if not advisories:
        return ""
    items = "".join(
        f"<li><strong>{escape(advisory.id)}</strong> "
        f"({escape(advisory.severity or NO_SEVERITY)}) affects {escape(version)}"
        f"{': ' + escape(advisory.summary) if advisory.summary else ''}</li>"
        for version, advisory in advisories
    )
    return f"<h2 id='advisories'>Known advisories</h2><ul class='advisories'>{items}</ul>"


def _release(release: Release, project_url: str, heading: str, channel: str, root: str) -> str:
    anchor = "v-" + "".join(c if c.isalnum() or c in "._-" else "_" for c in release.version)
    link = f"{project_url}{quote(release.version)}/"
    yanked = " <span class='yanked'>yanked</span>" if release.yanked else ""
    files = _pip_table(release.files, root + path_of(channel)) if release.files else ""
    conda = _conda_table(release.conda, root + path_of(channel)) if release.conda else ""
    return (
        f"<section id='{anchor}'><{heading}><a href='{attr(link)}'>{escape(release.version)}</a>"
        f"{yanked}</{heading}>{files}{conda}</section>"
    )


def size_text(size: int) -> str:
    """1234567 → "1.2 MB" (powers of 1000, as pip and PyPI show sizes)."""
    value = float(size)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{size} B"


def _when(moment: dt.datetime) -> str:
    text = moment.strftime("%Y-%m-%d %H:%M UTC")
    return f"<time datetime='{attr(moment.isoformat())}'>{text}</time>"


def _who(user: str) -> str:
    return escape(user) if user else "<span class='muted'>unknown</span>"


def _pip_table(files: Sequence[PipFile], channel_url: str) -> str:
    rows = "".join(
        f"<tr><td><a href='{attr(channel_url)}files/{attr(quote(f.filename))}'>"
        f"{escape(f.filename)}</a></td><td>{f.kind}</td><td>{size_text(f.size)}</td>"
        f"<td><code class='hash'>{escape(f.sha256)}</code></td><td>{_who(f.uploaded_by)}</td>"
        f"<td>{_when(f.upload_time)}</td><td>{_pip_state(f)}</td></tr>"
        for f in files
    )
    return (
        "<div class='scroll'><table><caption>pip files</caption><tr><th scope='col'>file</th>"
        "<th scope='col'>kind</th><th scope='col'>size</th><th scope='col'>sha256</th>"
        "<th scope='col'>uploaded by</th><th scope='col'>when</th><th scope='col'>state</th>"
        f"</tr>{rows}</table></div>"
    )


def _pip_state(f: PipFile) -> str:
    if not f.yanked:
        return "available"
    reason = f": {escape(f.yanked_reason)}" if f.yanked_reason else ""
    return f"<span class='yanked'>yanked</span>{reason}"


def _conda_table(files: Sequence[CondaFile], channel_url: str) -> str:
    rows = "".join(
        f"<tr><td><a href='{attr(channel_url)}conda/{attr(f.subdir)}/{attr(quote(f.filename))}'>"
        f"{escape(f.filename)}</a></td><td>{escape(f.subdir)}</td><td>{size_text(f.size)}</td>"
        f"<td><code class='hash'>{escape(f.sha256)}</code></td><td>{_who(f.uploaded_by)}</td>"
        f"<td>{_when(f.upload_time)}</td><td>{escape(f.origin.route)}"
        + (f" of <code>{escape(f.origin.source)}</code>" if f.origin.source else "")
        + "</td></tr>"
        for f in files
    )
    return (
        "<div class='scroll'><table><caption>conda packages</caption><tr>"
        "<th scope='col'>file</th><th scope='col'>subdir</th><th scope='col'>size</th>"
        "<th scope='col'>sha256</th><th scope='col'>uploaded by</th><th scope='col'>when</th>"
        f"<th scope='col'>made by</th></tr>{rows}</table></div>"
    )
