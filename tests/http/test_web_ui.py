"""The browsable web UI in-process: the channel tree, a channel's search, project and release
pages (versions, files, hashes, uploaders, yanks, where conda packages came from), install
snippets, escaping, the `/t/<token>/` prefix, and the read rule. The same pages in a real
browser are `test_browser_ui.py`."""

from __future__ import annotations

import datetime as dt
import html
import re
from collections.abc import Iterator
from pathlib import Path

import html5lib
import pytest
from builders import make_conda_tar_bz2, make_sdist, make_wheel
from databases import write_config
from servers import AppClient, serve_in_process

from drawbridge.channel import catalogue
from drawbridge.channel.database import Database
from drawbridge.channel.home import load_home
from drawbridge.channel.principals import ChannelPermissions
from drawbridge.channel.tokens import Role
from drawbridge.channel.versions import version_key
from drawbridge.server.ui import catalogue_pages
from drawbridge.server.pages import render_page

HOSTILE = '<script>alert("x")</script>'
OWNED = "company/dev"


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppClient]:
    """`main` with several projects (versions out of order, a yanked wheel, conda packages
    from the bridge, a build and an upload), `company/base` and `company/dev` (a hostile
    description), and a local upstream mirror."""
    root = tmp_path_factory.mktemp("ui")
    with serve_in_process(root / "home") as client:
        client.channels.create("company/base")
        client.channels.create(OWNED, f"dev packages {HOSTILE}")
        drop = root / "drop"
        pip_files = [
            *(make_wheel(drop, "Zope.Interface", v) for v in ("1.0", "1.10", "1.9", "2.0rc1")),
            make_sdist(drop, "zope.interface", "1.10"),
            make_wheel(drop, "typing_extensions", "4.12.2"),
            make_wheel(drop, "hostile", "1.0", summary=HOSTILE),
        ]
        client.channels.publish_many("main", pip_files, uploaded_by="alice")
        for uploader, subdir in (("bridge", "noarch"), ("build", "linux-64"), ("bob", "osx-64")):
            package = make_conda_tar_bz2(drop / uploader, "zope.interface", "1.10", "0", subdir)
            client.channels.publish_many("main", [package], uploaded_by=uploader)
        only_conda = make_conda_tar_bz2(drop, "libcondaonly", "3.1", "h0", "linux-64")
        client.channels.publish_many("main", [only_conda], uploaded_by="carol")
        client.channels.yank("main", "zope_interface-1.9-py3-none-any.whl", f"bad {HOSTILE}")
        client.channels.publish_many(OWNED, [make_wheel(drop, "devtool", "0.1")], "dave")
        mirror = root / "mirror" / "noarch"
        mirror.mkdir(parents=True)
        (mirror / "repodata.json").write_text('{"info": {"subdir": "noarch"}, "packages": {}}')
        upstream = f'[bridge]\nupstream_conda = ["{mirror.parent}"]\n'
        write_config(client.home, '[server]\nanonymous_read = true\naccess_log = ""\n' + upstream)
    with AppClient(load_home(root / "home")) as served:
        yield served


@pytest.fixture(scope="module")
def database(shop: AppClient) -> Iterator[Database]:
    opened = Database(shop.home.database_url)
    yield opened
    opened.close()


def page(client: AppClient, path: str, status: int = 200, **kwargs) -> str:
    answer = client.get(path, **kwargs)
    assert answer.status_code == status, (path, answer.text[:400])
    assert answer.headers["content-type"] == "text/html; charset=utf-8"
    return answer.text


def parsed(text: str):  # type: ignore[no-untyped-def]
    """The page as a browser parses it (strictly: a parse error fails the test)."""
    return html5lib.HTMLParser(strict=True, namespaceHTMLElements=False).parse(text)


def texts(document, tag: str) -> list[str]:  # type: ignore[no-untyped-def]
    return ["".join(element.itertext()).strip() for element in document.iter(tag)]


# -- the tree ----------------------------------------------------------------------------------


def test_the_tree_groups_channels_by_owner(shop: AppClient):
    document = parsed(page(shop, "/"))
    assert texts(document, "h2") == ["Channels", "company/"]
    links = {a.get("href"): "".join(a.itertext()) for a in document.iter("a")}
    assert links["/main/"] == "main"
    assert links["/company/base/"] == "base" and links["/company/dev/"] == "dev"


def test_the_tree_leaves_out_what_the_reader_may_not_read(database: Database):
    """The one filter per-channel permissions plug into (`readable`)."""
    groups = catalogue.channel_tree(database, lambda name: not name.startswith("company/"))
    assert [[c.name for c in g.channels] for g in groups] == [["main"]]
    everything = catalogue.channel_tree(database, lambda name: True)
    assert [g.owner for g in everything] == ["", "company"]
    assert catalogue.channel_entry(database, "nope") is None


# -- a channel and its search ------------------------------------------------------------------

SEARCHES = [
    ("", ["hostile", "libcondaonly", "typing_extensions", "Zope.Interface"]),
    ("zope", ["Zope.Interface"]),
    ("Zope_Interface", ["Zope.Interface"]),  # any spelling of the name
    ("ZOPE.INTER", ["Zope.Interface"]),
    ("typing ext", ["typing_extensions"]),  # every word
    ("typing zope", []),
    ("conda", ["libcondaonly"]),  # a conda-only package is a project too
    ("nothing-like-it", []),
    (HOSTILE, []),
    ("%", []),  # LIKE's wildcards are searched for, not used
    ("zope%face", []),
    ("-", ["typing_extensions", "Zope.Interface"]),  # `_`, `.` and `-` are one character
]


@pytest.mark.parametrize(("query", "found"), SEARCHES)
def test_search_finds_projects_by_name(shop: AppClient, query: str, found: list[str]):
    document = parsed(page(shop, "/main/", params={"q": query} if query else None))
    listed = [
        "".join(a.itertext())
        for ul in document.iter("ul")
        if ul.get("class") == "projects"
        for a in ul.iter("a")
    ]
    assert listed == found
    search = next(document.iter("form"))
    assert search.get("method") == "get" and search.get("action") == "/main/"
    field = next(search.iter("input"))
    assert field.get("name") == "q" and field.get("value") == query
    assert next(search.iter("label")).get("for") == field.get("id")


def listed_names(text: str) -> list[str]:
    return [
        "".join(a.itertext())
        for ul in parsed(text).iter("ul")
        if ul.get("class") == "projects"
        for a in ul.iter("a")
    ]


def test_a_long_channel_is_shown_a_page_at_a_time(shop: AppClient, monkeypatch: pytest.MonkeyPatch):
    """PAGE_SIZE names a page, links to the pages around it (a search kept), and a page
    past the end is a 404 page naming how many there are."""
    monkeypatch.setattr(catalogue_pages, "PAGE_SIZE", 2)
    first, second = page(shop, "/main/"), page(shop, "/main/", params={"page": "2"})
    assert listed_names(first) + listed_names(second) == ["hostile", "libcondaonly"] + [
        "typing_extensions",
        "Zope.Interface",
    ]
    assert "4 projects · 1–2 shown" in first
    assert "page 1 of 2" in first and "href='/main/?page=2' rel='next'" in first
    assert "rel='prev'" not in first and "href='/main/?page=1' rel='prev'" in second
    assert "rel='next'" not in second and "4 projects · 3–4 shown" in second
    beyond = page(shop, "/main/", 404, params={"page": "3"})
    assert "no page 3 of channel main: 2 pages" in beyond
    page(shop, "/main/", 404, params={"page": "0"})
    page(shop, "/main/", 422, params={"page": "x"})
    searched = page(shop, "/main/", params={"q": "e", "page": "2"})
    assert "href='/main/?q=e&amp;page=1' rel='prev'" in searched


def test_pages_are_gzipped_for_a_client_that_takes_it(shop: AppClient):
    packed = shop.get("/main/", headers={"Accept-Encoding": "gzip"})
    assert packed.headers["content-encoding"] == "gzip"
    assert int(packed.headers["content-length"]) < len(packed.content)  # httpx unpacked it
    assert packed.headers["vary"] == "Accept-Encoding"
    for refusal in ("identity", "gzip;q=0", ""):
        plain = shop.get("/main/", headers={"Accept-Encoding": refusal})
        assert "content-encoding" not in plain.headers, refusal
        assert plain.text == packed.text


def test_a_channel_lists_its_own_projects_only(shop: AppClient):
    text = page(shop, f"/{OWNED}/")
    assert f"/{OWNED}/pypi/devtool/" in text and "zope" not in text.lower()
    assert f"http://testserver/{OWNED}/simple/" in text
    assert f"http://testserver/{OWNED}/conda" in text


# -- a project ---------------------------------------------------------------------------------


def test_versions_are_newest_first_with_their_files(shop: AppClient, database: Database):
    document = parsed(page(shop, "/main/pypi/zope-interface/"))
    assert texts(document, "h1") == ["Zope.Interface"]
    sections = [s.get("id") for s in document.iter("section") if s.get("id", "").startswith("v-")]
    assert sections == ["v-2.0rc1", "v-1.10", "v-1.9", "v-1.0"]
    text = page(shop, "/main/pypi/zope-interface/")
    release = catalogue.project_detail(database, "main", "ZOPE_interface")
    assert release is not None
    for file in release.release("1.10").files:
        assert f"<code class='hash'>{file.sha256}</code>" in text
        assert f"/main/files/{file.filename}" in text
    assert [f.kind for f in release.release("1.10").files] == ["sdist", "wheel"]
    assert "<td>alice</td>" in text and "<time datetime=" in text


def test_a_yanked_file_shows_its_reason(shop: AppClient):
    text = page(shop, "/main/pypi/zope-interface/1.9/")
    assert "<span class='yanked'>yanked</span>: bad " + html.escape(HOSTILE) in text


@pytest.mark.parametrize(
    ("subdir", "uploader", "route"),
    [("noarch", "bridge", "bridged wheel"), ("linux-64", "build", "recipe build"),
     ("osx-64", "bob", "upload")],
)  # fmt: skip
def test_conda_packages_say_where_they_came_from(
    shop: AppClient, subdir: str, uploader: str, route: str
):
    document = parsed(page(shop, "/main/pypi/zope-interface/1.10/"))
    table = next(t for t in document.iter("table") if texts(t, "caption") == ["conda packages"])
    rows = {
        tuple(texts(row, "td"))[1]: texts(row, "td") for row in table.iter("tr") if texts(row, "td")
    }
    assert rows[subdir][0] == "zope.interface-1.10-0.tar.bz2"
    assert rows[subdir][4] == uploader and rows[subdir][6] == route


def test_a_conda_only_package_has_a_page(shop: AppClient):
    text = page(shop, "/main/pypi/libcondaonly/")
    assert "conda install" in text and "pip install" not in text
    assert "libcondaonly-3.1-h0.tar.bz2" in text and "<td>carol</td>" in text


def test_a_release_page_pins_the_version_in_every_snippet(shop: AppClient):
    document = parsed(page(shop, "/main/pypi/zope.interface/1.10/"))
    snippets = {pre.get("id"): "".join(pre.itertext()) for pre in document.iter("pre")}
    mirror = "http://testserver/upstream/mirror"
    assert snippets == {
        "snippet-pip": "pip install --index-url http://testserver/main/simple/ "
        "Zope.Interface==1.10",
        "snippet-uv": "uv pip install --index-url http://testserver/main/simple/ "
        "Zope.Interface==1.10",
        "snippet-conda": "conda install --override-channels -c http://testserver/main/conda "
        f"-c {mirror} zope.interface=1.10",
        "snippet-pixi": f"pixi init --channel http://testserver/main/conda --channel {mirror}\n"
        "pixi add zope.interface=1.10",
    }
    buttons = [b for b in document.iter("button") if b.get("data-copy")]
    assert [b.get("data-copy") for b in buttons] == list(snippets)
    assert all(b.get("type") == "button" and b.get("aria-label") for b in buttons)


@pytest.mark.parametrize(
    "path",
    [
        "/main/pypi/nope/",
        "/main/pypi/zope-interface/9.9/",
        "/nochannel/pypi/zope-interface/",
        "/main/pypi/%3Cscript%3E/",
        "/main/pypi/zope-interface/%3Cscript%3E/",
    ],
)
def test_what_does_not_exist_is_a_404_page(shop: AppClient, path: str):
    text = page(shop, path, 404)
    assert "<h1>404 " in text and "<script>" not in text


# -- escaping ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["/", "/company/dev/", "/main/pypi/hostile/", "/main/pypi/hostile/1.0/",
             "/main/pypi/zope-interface/", f"/main/?q={HOSTILE}"],
)  # fmt: skip
def test_hostile_text_is_shown_not_run(shop: AppClient, path: str):
    text = page(shop, path)
    document = parsed(text)
    scripts = list(document.iter("script"))
    assert [s.get("src") for s in scripts] == ["/static/ui.js"]
    assert all(not (s.text or "").strip() for s in scripts)
    for element in document.iter():
        assert not any(name.startswith("on") for name in element.attrib)
    if path in ("/company/dev/", "/main/pypi/hostile/", f"/main/?q={HOSTILE}"):
        assert HOSTILE in "".join(document.find("body").itertext())  # shown as text


def test_the_script_is_served_by_drawbridge(shop: AppClient):
    answer = shop.get("/static/ui.js")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "text/javascript; charset=utf-8"
    assert "navigator.clipboard" in answer.text
    policy = shop.get("/").headers["content-security-policy"]
    assert "script-src 'self';" in policy and "unsafe" not in policy


# -- tokens and the read rule ------------------------------------------------------------------


@pytest.fixture(scope="module")
def private(shop: AppClient) -> Iterator[tuple[AppClient, str]]:
    """The same home served with `anonymous_read = false`, and a reader's token."""
    public = shop.home.config_path.read_text()
    shop.home.config_path.write_text(
        public.replace("anonymous_read = true", "anonymous_read = false")
    )
    token = shop.token(Role.reader, "rita")
    try:
        with AppClient(load_home(shop.home.root)) as served:
            yield served, token
    finally:
        shop.home.config_path.write_text(public)


@pytest.mark.parametrize("path", ["/", "/main/", "/main/pypi/zope-interface/", "/static/ui.js"])
def test_a_private_server_shows_an_anonymous_visitor_nothing(private, path: str):
    served, _ = private
    answer = served.get(path)
    assert answer.status_code == 401
    assert "company/dev" not in answer.text and "Zope" not in answer.text


def test_the_icon_needs_no_token(private):
    """Browsers ask for /favicon.ico on their own, without the `/t/<token>/` prefix."""
    served, _ = private
    answer = served.get("/favicon.ico")
    assert answer.status_code == 200 and answer.headers["content-type"] == "image/svg+xml"
    assert answer.content.startswith(b"<svg ")


def test_a_token_prefix_is_kept_in_every_link(private):
    served, token = private
    text = page(served, f"/t/{token}/main/pypi/zope-interface/")
    document = parsed(text)
    for element in document.iter():
        for name in ("href", "src", "action"):
            if element.get(name):
                assert element.get(name).startswith(f"/t/{token}/"), element.get(name)
    tree = page(served, f"/t/{token}/")
    assert f"/t/{token}/company/dev/" in tree


def test_snippets_of_a_private_channel_hold_a_placeholder_not_the_token(private):
    served, token = private
    text = page(served, "/main/pypi/zope-interface/", headers={"Authorization": f"Bearer {token}"})
    document = parsed(text)
    snippets = {pre.get("id"): "".join(pre.itertext()) for pre in document.iter("pre")}
    assert token not in text
    assert (
        'pip install --index-url "http://__token__:$DRAWBRIDGE_TOKEN@testserver/main/simple/"'
        in snippets["snippet-pip"]
    )
    assert '-c "http://testserver/t/$DRAWBRIDGE_TOKEN/main/conda"' in snippets["snippet-conda"]
    assert "DRAWBRIDGE_TOKEN" in "".join(document.find("body").itertext())


# -- what the channel layer reads ---------------------------------------------------------------

VERSION_ORDER = [
    (["1.0", "1.10", "1.9", "2.0rc1"], ["2.0rc1", "1.10", "1.9", "1.0"]),
    (["1.0.post1", "1.0", "1.0a1", "1.0.dev0"], ["1.0.post1", "1.0", "1.0a1", "1.0.dev0"]),
    (["2024.1", "1!0.1"], ["1!0.1", "2024.1"]),  # an epoch beats any release
    (["1.0", "1.0_custom"], ["1.0", "1.0_custom"]),  # not PEP 440 (conda): below the rest
]


@pytest.mark.parametrize(("versions", "newest_first"), VERSION_ORDER)
def test_versions_sort_as_pep_440_says(versions: list[str], newest_first: list[str]):
    assert sorted(versions, key=version_key, reverse=True) == newest_first


def test_a_release_is_found_by_any_spelling_of_its_version(database: Database):
    detail = catalogue.project_detail(database, "main", "zope-interface")
    assert detail is not None
    assert detail.release("2.0.rc1") is detail.release("2.0rc1") is detail.releases[0]
    assert detail.release("7") is None
    assert detail.conda_names == ("zope.interface",)


def test_the_project_list_of_a_large_channel_is_read_in_one_pass(tmp_path: Path):
    """Many versions of one project are one entry with its newest version."""
    with serve_in_process(tmp_path / "home") as client:
        drop = tmp_path / "drop"
        client.publish(*(make_wheel(drop, "many", f"1.{n}") for n in range(12)))
        opened = Database(client.home.database_url)
        projects = catalogue.channel_projects(opened, "main")
        opened.close()
        assert [(p.name, p.latest, p.pip, p.conda) for p in projects] == [
            ("many", "1.11", True, False)
        ]
        assert re.search(
            r">many</a> <span class='muted'>1\.11 · pip</span>", page(client, "/main/")
        )


# -- what other work plugs in: bases and the source of a conda package ------------------------


def test_bases_show_as_inherits_from():
    """A channel entry's bases show as "inherits from", each a link to its page."""
    entry = catalogue.ChannelEntry("company/dev", "", ("company/internal", "company/base"))
    group = catalogue.OwnerGroup("company", (entry,))
    document = parsed(render_page("t", catalogue_pages.tree_body([group], "/t/tok")))
    item = next(document.iter("li"))
    assert "".join(item.itertext()) == "dev inherits from company/internal, company/base"
    assert [a.get("href") for a in item.iter("a")] == [
        "/t/tok/company/dev/",
        "/t/tok/company/internal/",
        "/t/tok/company/base/",
    ]


def test_a_channel_page_lists_what_its_bases_serve_and_hides_a_base_it_may_not_read(
    tmp_path: Path,
):
    """company/dev inherits from company/internal (private to alice) and company/base: its
    page lists each inherited project once, from the nearest level, linked to that level's
    page; a visitor who may not read company/internal sees neither it nor its projects."""
    drop = tmp_path / "drop"
    with serve_in_process(tmp_path / "home") as client:
        alice = client.token(Role.reader, user="alice")  # makes the user
        client.channels.create("company/base")
        alice_only = ChannelPermissions(read=("user:alice",))
        client.channels.create("company/internal", permissions=alice_only)
        client.channels.create("company/dev", bases=["company/internal", "company/base"])
        client.channels.publish_many("company/base", [make_wheel(drop / "b", "shared", "1.0")])
        client.channels.publish_many("company/base", [make_wheel(drop / "b", "baselib", "2.0")])
        internal = [make_wheel(drop / "i", "shared", "1.5"), make_wheel(drop / "i", "secret", "1")]
        client.channels.publish_many("company/internal", internal)
        client.channels.publish_many("company/dev", [make_wheel(drop / "d", "devtool", "0.1")])

        def listed(text: str) -> dict[str, tuple[str, str]]:
            return {
                item.get("data-name"): (next(item.iter("a")).get("href"), "".join(item.itertext()))
                for item in parsed(text).iter("li")
                if item.get("data-name")
            }

        seen_by_alice = listed(page(client, "/company/dev/", auth=("__token__", alice)))
        assert seen_by_alice == {
            "baselib": ("/company/base/pypi/baselib/", "baselib 2.0 · pip · from company/base"),
            "devtool": ("/company/dev/pypi/devtool/", "devtool 0.1 · pip"),
            "secret": ("/company/internal/pypi/secret/", "secret 1 · pip · from company/internal"),
            "shared": (
                "/company/internal/pypi/shared/",
                "shared 1.5 · pip · from company/internal",
            ),
        }
        dev_page = parsed(page(client, "/company/dev/", auth=("__token__", alice)))
        assert "company/dev inherits from company/internal, company/base:" in "".join(
            dev_page.itertext()
        )
        anonymous = page(client, "/company/dev/")
        assert set(listed(anonymous)) == {"baselib", "devtool", "shared"}
        assert listed(anonymous)["shared"][0] == "/company/base/pypi/shared/"
        assert "company/internal" not in anonymous
        assert "company/internal" not in page(client, "/")
        tree = parsed(page(client, "/", auth=("__token__", alice)))
        assert "inherits from company/internal, company/base" in "".join(tree.itertext())


def test_a_recorded_source_file_is_named():
    """A conda package's recorded source (`made_from`) is named beside its route."""
    made = dt.datetime(2026, 11, 29, 9, 0, tzinfo=dt.timezone.utc)
    package = catalogue.CondaFile(
        "x-1.0-py_0.conda", "x", "noarch", "py_0", 10, "0" * 64, "bridge", made,
        catalogue.Origin("bridged wheel", f"x-1.0-py3-none-any.whl{HOSTILE}"),
    )  # fmt: skip
    release = catalogue.Release("1.0", (), (package,))
    detail = catalogue.ProjectDetail("x", "x", "", ("x",), (release,))
    urls = catalogue_pages.Urls("http://h", "main", True, ())
    text = render_page("t", catalogue_pages.project_body("main", detail, urls, ""))
    document = parsed(text)
    cells = [texts(row, "td") for row in document.iter("tr") if texts(row, "td")]
    assert cells[0][-1] == f"bridged wheel of x-1.0-py3-none-any.whl{HOSTILE}"
    assert cells[0][5] == "2026-11-29 09:00 UTC"


# -- a private channel on a public server (per-channel read lists) ------------------------------


@pytest.fixture(scope="module")
def sandbox(shop: AppClient) -> tuple[str, str]:
    """`alice/sandbox`, readable by alice only, with a project; her and bob's tokens."""
    alice = shop.token(Role.reader, "alice")
    bob = shop.token(Role.reader, "bob")
    shop.channels.create("alice/sandbox")
    shop.channels.access.set_permissions("alice/sandbox", read=["user:alice"])
    wheel = make_wheel(shop.home.root.parent / "sandbox", "secret-tool", "0.1")
    shop.channels.publish_many("alice/sandbox", [wheel], uploaded_by="alice")
    return alice, bob


SANDBOX_PAGES = [
    "/alice/sandbox/",
    "/alice/sandbox/?q=secret",
    "/alice/sandbox/pypi/secret-tool/",
    "/alice/sandbox/pypi/secret-tool/0.1/",
]


@pytest.mark.parametrize("who", ["anonymous", "bob"])
def test_a_private_channel_does_not_exist_for_who_may_not_read_it(
    shop: AppClient, sandbox: tuple[str, str], who: str
):
    headers = {} if who == "anonymous" else {"Authorization": f"Bearer {sandbox[1]}"}
    tree = page(shop, "/", headers=headers)
    assert "sandbox" not in tree and "<h2>alice/</h2>" not in tree
    for path in SANDBOX_PAGES:
        answer = shop.get(path, headers=headers)
        assert answer.status_code == 404, path
        assert "secret" not in answer.text.replace(path, "")


def test_a_private_channel_is_there_for_its_reader(shop: AppClient, sandbox: tuple[str, str]):
    headers = {"Authorization": f"Bearer {sandbox[0]}"}
    tree = parsed(page(shop, "/", headers=headers))
    assert "alice/" in texts(tree, "h2")
    for path in SANDBOX_PAGES:
        assert "secret-tool" in page(shop, path, headers=headers)
    snippets = page(shop, "/alice/sandbox/pypi/secret-tool/", headers=headers)
    assert "__token__:$DRAWBRIDGE_TOKEN@testserver/alice/sandbox/simple/" in snippets
    assert sandbox[0] not in snippets
