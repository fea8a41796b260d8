"""The review pages: a browser's requests (GET pages, POST the form), answered in-process."""

from __future__ import annotations

from pathlib import Path

import httpx
from builders import make_sdist
from servers import AppClient

from drawbridge.bridge.translate.names import default_table
from drawbridge.bridge.upstream.pypi import FolderUpstream
from drawbridge.bridge.recipes.book import RecipeBook
from drawbridge.channel.database import Database
from drawbridge.channel.events import events_since
from drawbridge.channel.tokens import Role


def test_review_in_the_web_ui(app_client: AppClient, tmp_path: Path):
    make_sdist(tmp_path / "drop", "sdist-demo", "1.0")
    book = RecipeBook(app_client.home, Database(app_client.home.database_url))
    recipe = book.generate(
        "sdist-demo", None, FolderUpstream(tmp_path / "drop"), default_table(), "tester"
    )

    listing = app_client.get("/ui/recipes")
    assert (
        listing.status_code == 200
        and "1 waiting for review" in listing.text
        and "sdist-demo" in listing.text
    )
    page = app_client.get("/ui/recipes/sdist-demo")
    assert (
        "name: sdist-demo" in page.text
        and recipe.sha256 in page.text
        and "<form method='post'" in page.text
    )

    def post(token: str, decision: str = "approve", sha256: str = recipe.sha256) -> httpx.Response:
        form = {
            "token": token,
            "comment": "checked the sources",
            "decision": decision,
            "sha256": sha256,
        }
        return app_client.post("/ui/recipes/sdist-demo/decision", data=form)

    assert post("dbt_nonsense").status_code == 401
    assert post(app_client.token(Role.reader)).status_code == 403
    assert post(app_client.token(Role.uploader)).status_code == 403
    assert book.get("sdist-demo").state == "pending"
    maintainer = app_client.token(Role.maintainer, "mia")
    assert post(maintainer, sha256="0" * 64).status_code == 409  # reviewed other bytes
    decided = post(maintainer)
    assert decided.status_code == 303 and decided.headers["location"] == "/ui/recipes/sdist-demo"
    after = book.get("sdist-demo")
    assert (after.state, after.decided_by, after.comment) == (
        "approved",
        "mia",
        "checked the sources",
    )
    with book.db.session() as session:  # the decision's event, for webhooks
        [event] = [e for e in events_since(session, 0) if e.kind == "recipe-approved"]
    assert (event.subject, event.payload["sha256"], event.payload["user"]) == (
        "sdist-demo",
        recipe.sha256,
        "mia",
    )
    assert "approved by mia: checked the sources" in app_client.get("/ui/recipes/sdist-demo").text
    assert any(row.action == "approve" and row.user == "mia" for row in book.audit())

    # an edit shows as a diff against the approved version
    recipe.path.write_text(recipe.path.read_text().replace("number: 0", "number: 1"))
    page = app_client.get("/ui/recipes/sdist-demo").text
    assert "pending" in page and "-  number: 0</span>" in page and "+  number: 1</span>" in page
    assert f"approved (an earlier version, <code>{recipe.sha256[:12]}</code>) by mia" in page
    assert app_client.get("/ui/recipes/sdist-demo/log").status_code == 404
    assert app_client.get("/ui/recipes/nope").status_code == 404
