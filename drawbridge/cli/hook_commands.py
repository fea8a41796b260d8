"""`drawbridge hook add|list|remove|deliveries`: webhooks that tell CI what happened (the
library is `channel.hooks`; `drawbridge serve` delivers them, `server.webhooks`)."""

from __future__ import annotations

from typing import Annotated, Optional

import typer
from rich.markup import escape

from drawbridge.channel.events import EVENT_KINDS
from drawbridge.channel.hooks import Hooks
from drawbridge.cli.common import HomeOption, console, table
from drawbridge.cli.context import open_home

hook_app = typer.Typer(
    help="Webhooks: events (published, promoted, yanked, ...) POSTed to a URL, signed.",
    no_args_is_help=True,
)


@hook_app.command("add")
def add(
    url: Annotated[str, typer.Argument(help="The receiver's URL (http:// or https://).")],
    events: Annotated[
        str,
        typer.Option(
            "--events",
            help=f"Comma-separated event kinds: {', '.join(EVENT_KINDS)}.",
        ),
    ],
    channel: Annotated[
        Optional[str], typer.Option("--channel", "-c", help="Only this channel's events.")
    ] = None,
    secret: Annotated[
        Optional[str],
        typer.Option(
            "--secret", help="The signing secret (default: a new random one, printed once)."
        ),
    ] = None,
    home: HomeOption = None,
) -> None:
    """Add a webhook; each event is POSTed as JSON with an X-Drawbridge-Signature-256
    header (HMAC-SHA256 of the body with the secret), retried until it is answered 2xx or
    three days have passed."""
    context = open_home(home)
    kinds = [kind.strip() for kind in events.split(",") if kind.strip()]
    hook, used = Hooks(context.database).add(url, kinds, channel or "", secret or "", "cli")
    console.print(
        f"[green]added[/] webhook {hook.id} → {escape(hook.url)} "
        f"({', '.join(hook.kinds)}{f' in {hook.channel}' if hook.channel else ''})"
    )
    if not secret:
        console.print(f"secret (shown once): {used}", markup=False, highlight=False)


@hook_app.command("list")
def list_hooks(home: HomeOption = None) -> None:
    """The webhooks (their secrets are never shown again)."""
    shown = table("id", "url", "events", "channel", "created")
    for hook in Hooks(open_home(home).database).list():
        shown.add_row(
            str(hook.id),
            escape(hook.url),
            ", ".join(hook.kinds),
            hook.channel or "(all)",
            hook.created.isoformat(timespec="seconds"),
        )
    console.print(shown)


@hook_app.command("remove")
def remove(
    hook: Annotated[int, typer.Argument(help="The webhook's id (`drawbridge hook list`).")],
    home: HomeOption = None,
) -> None:
    """Remove a webhook, and the deliveries it was still owed."""
    Hooks(open_home(home).database).remove(hook)
    console.print(f"[green]removed[/] webhook {hook}")


@hook_app.command("deliveries")
def deliveries(
    hook: Annotated[Optional[int], typer.Argument(help="Only this webhook's.")] = None,
    limit: Annotated[int, typer.Option(help="How many, newest first.")] = 50,
    home: HomeOption = None,
) -> None:
    """The newest deliveries: state, attempts, the last answer or error."""
    shown = table("delivery", "hook", "event", "state", "attempts", "last status", "last error")
    for item in Hooks(open_home(home).database).deliveries(hook, limit):
        shown.add_row(
            item.header_id,
            str(item.hook),
            item.kind,
            item.state,
            str(item.attempts),
            "" if item.last_status is None else str(item.last_status),
            escape(item.last_error),
        )
    console.print(shown)
