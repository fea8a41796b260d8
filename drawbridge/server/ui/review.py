"""The review pages of the web UI: recipes waiting for review, their diffs, decisions, logs."""

from __future__ import annotations

import html

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response

from drawbridge.bridge.farm.schedule import queue_recipe
from drawbridge.bridge.recipes.compose import review_notes
from drawbridge.bridge.recipes.book import Recipe, RecipeBook, RecipeError
from drawbridge.channel.tokens import Role, identify_token
from drawbridge.server.context import Context, context
from drawbridge.server.pages import UI_TAG, page_response

router = APIRouter(tags=[UI_TAG])


def _book(ctx: Context) -> RecipeBook:
    return ctx.recipes


def _recipe_or_404(book: RecipeBook, name: str) -> Recipe:
    try:
        return book.get(name)
    except RecipeError as error:
        raise HTTPException(404, str(error)) from None


@router.get("/ui/recipes", response_class=HTMLResponse, summary="Recipes and their review state")
def recipe_list(request: Request) -> HTMLResponse:
    recipes = _book(context(request)).all()  # each one re-hashes its file: once per request
    rows = "".join(
        f"<tr><td><a href='/ui/recipes/{html.escape(r.name)}'>{html.escape(r.name)}</a></td>"
        f"<td>{html.escape(r.version)}</td><td class='{r.state}'>{r.state}</td>"
        f"<td>{html.escape(r.decided_by)}</td><td>{html.escape(r.needs_builder)}</td></tr>"
        for r in recipes
    )
    pending = sum(1 for r in recipes if r.state == "pending")
    body = (
        f"<h1>Recipes</h1><p>{pending} waiting for review.</p>"
        "<table><tr><th>recipe</th><th>version</th><th>state</th><th>decided by</th>"
        f"<th>needs a builder for</th></tr>{rows}</table>"
    )
    return page_response("Drawbridge: recipes", body)


@router.get(
    "/ui/recipes/{name}",
    response_class=HTMLResponse,
    summary="One recipe, its diff and the review form",
)
def recipe_page(request: Request, name: str) -> HTMLResponse:
    book = _book(context(request))
    recipe = _recipe_or_404(book, name)
    decision = "approved" if recipe.approved_sha256 else "rejected"
    comment = f": {html.escape(recipe.comment)}" if recipe.comment else ""
    earlier = (
        f" (an earlier version, <code>{recipe.approved_sha256[:12]}</code>)"
        if recipe.approved_sha256 and recipe.approved_sha256 != recipe.sha256
        else ""
    )
    decided = (
        f"<p>{decision}{earlier} by {html.escape(recipe.decided_by)}{comment}</p>"
        if recipe.decided_by
        else ""
    )
    last = book.last_build(name) if recipe.state == "failed" else None
    log_link = (
        f"<p>{'last build failed: ' + html.escape(last.detail) + ' · ' if last else ''}"
        f"<a href='/ui/recipes/{html.escape(name)}/log'>last build log</a></p>"
        if recipe.state in ("built", "failed")
        else ""
    )
    if recipe.approved_sha256:
        log_link += f"<p><a href='/ui/recipes/{html.escape(name)}/jobs'>build jobs</a></p>"
    text = book.text(name)
    notes = "".join(f"<li>{html.escape(note)}</li>" for note in review_notes(text))
    body = (
        f"<h1>{html.escape(recipe.name)} {html.escape(recipe.version)}</h1>"
        f"<p>state: <b>{recipe.state}</b> · sha256 <code>{recipe.sha256}</code>"
        f"{' · curated' if recipe.curated else ''}</p>{decided}{log_link}"
        f"{'<h2>Notes for the reviewer</h2><ul class=notes>' + notes + '</ul>' if notes else ''}"
        f"<h2>Changes</h2><pre class='diff'>"
        f"{_coloured_diff(book.diff(name)) or '(no earlier version)'}</pre>"
        f"<h2>recipe.yaml</h2><pre>{html.escape(text)}</pre>"
        f"<h2>Decision</h2><form method='post' action='/ui/recipes/{html.escape(name)}/decision'>"
        "<p><label>Your token <input type='password' name='token' required></label></p>"
        "<p><label>Comment <input type='text' name='comment' size='60'></label></p>"
        f"<input type='hidden' name='sha256' value='{recipe.sha256}'>"
        "<button name='decision' value='approve'>Approve</button> "
        "<button name='decision' value='reject'>Reject</button></form>"
    )
    return page_response(f"Drawbridge: {html.escape(name)}", body)


def _coloured_diff(diff: str) -> str:
    lines = []
    for line in diff.splitlines():
        kind = (
            "add"
            if line.startswith("+") and not line.startswith("+++")
            else "del"
            if line.startswith("-") and not line.startswith("---")
            else ""
        )
        lines.append(
            f"<span class='{kind}'>{html.escape(line)}</span>" if kind else html.escape(line)
        )
    return "\n".join(lines)


@router.post(
    "/ui/recipes/{name}/decision", summary="Approve or reject a recipe (maintainers and admins)"
)
async def decide(request: Request, name: str) -> Response:
    ctx = context(request)
    book = _book(ctx)
    recipe = _recipe_or_404(book, name)
    async with request.form(max_files=0, max_fields=20) as form:
        token, sha256 = str(form.get("token") or ""), form.get("sha256")
        decision, comment = form.get("decision"), str(form.get("comment") or "")
    identity = identify_token(ctx.database, token)
    if identity is None:
        raise HTTPException(
            401, "the token is unknown, revoked or expired, or its user is disabled"
        )
    assert identity.role is not None
    if identity.role < Role.maintainer:
        raise HTTPException(
            403,
            f"only maintainers and admins may approve or reject; {identity.user} is "
            f"{identity.role.with_article}",
        )
    if not ctx.access.may_review(identity, ctx.default_channel):
        raise HTTPException(
            403,
            f"{identity.user} may not review {ctx.default_channel!r}, the channel approved "
            "recipes are built for; its reviewers decide on recipes",
        )
    if sha256 != recipe.sha256:  # the page showed other bytes than the file now holds
        raise HTTPException(409, "the recipe changed since the page was loaded; review it again")
    if decision not in ("approve", "reject"):
        raise HTTPException(400, "decision must be approve or reject")
    decided = book.decide(name, decision == "approve", identity.user, comment)
    if decided.approved_sha256:  # approving queues the recipe's build jobs
        settings = ctx.home.bridge
        queue_recipe(ctx.jobs, decided, ctx.default_channel, settings.platforms, settings.python3s)
    return RedirectResponse(f"/ui/recipes/{name}", status_code=303)


@router.get(
    "/ui/recipes/{name}/log",
    response_class=PlainTextResponse,
    summary="The recipe's last build log",
)
def build_log(request: Request, name: str) -> PlainTextResponse:
    book = _book(context(request))
    recipe = _recipe_or_404(book, name)
    logs = sorted((recipe.folder / "logs").glob("*.log"), key=lambda p: p.stat().st_mtime)
    if not logs:
        raise HTTPException(404, f"{name} has not been built yet")
    return PlainTextResponse(logs[-1].read_text(errors="replace"))
