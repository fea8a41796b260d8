"""The webhooks page of the web UI, for admins: each webhook and its newest deliveries
(state, attempts, the last answer or error); its secret is never shown."""

from __future__ import annotations

import html
from typing import Annotated

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from drawbridge.channel.hooks import Delivery, Hooks
from drawbridge.server.administering import site_admin
from drawbridge.server.context import Context
from drawbridge.server.pages import UI_TAG, page_response

router = APIRouter(tags=[UI_TAG])
#: how many of the newest deliveries the page shows
SHOWN = 100


def _delivery_row(item: Delivery) -> str:
    status = "" if item.last_status is None else str(item.last_status)
    return (
        f"<tr><td><code>{item.header_id}</code></td><td>{item.hook}</td>"
        f"<td>{html.escape(item.kind)}</td><td class='{item.state}'>{item.state}</td>"
        f"<td>{item.attempts}</td><td>{status}</td><td>{html.escape(item.last_error)}</td>"
        f"<td>{item.next_attempt.isoformat(timespec='seconds') if item.state == 'pending' else ''}"
        "</td></tr>"
    )


@router.get("/ui/hooks", response_class=HTMLResponse, summary="Webhooks and their deliveries")
def hooks_page(ctx: Annotated[Context, site_admin("listing webhooks")]) -> HTMLResponse:
    hooks = Hooks(ctx.database)
    listed = "".join(
        f"<tr><td>{hook.id}</td><td><code>{html.escape(hook.url)}</code></td>"
        f"<td>{html.escape(', '.join(hook.kinds))}</td>"
        f"<td>{html.escape(hook.channel) or '(all)'}</td>"
        f"<td>{html.escape(hook.created_by)}</td></tr>"
        for hook in hooks.list()
    )
    deliveries = "".join(_delivery_row(item) for item in hooks.deliveries(limit=SHOWN))
    body = (
        "<h1>Webhooks</h1><p>Add one with <code>drawbridge hook add URL --events "
        "published,promoted</code>; each event is POSTed signed "
        "(<code>X-Drawbridge-Signature-256</code>) and retried until it is answered.</p>"
        "<table><tr><th>#</th><th>URL</th><th>events</th><th>channel</th><th>by</th></tr>"
        f"{listed}</table><h2>Newest deliveries</h2>"
        "<table><tr><th>delivery</th><th>hook</th><th>event</th><th>state</th>"
        "<th>attempts</th><th>last status</th><th>last error</th><th>next attempt</th></tr>"
        f"{deliveries}</table>"
    )
    return page_response("Drawbridge: webhooks", body)
