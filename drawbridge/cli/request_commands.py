"""`drawbridge request list|approve|reject`: maintainers decide on bridging requests."""

from __future__ import annotations

from typing import Annotated, Optional

import typer
from rich.markup import escape
from rich.table import Table

from drawbridge.bridge.bridging_requests import BridgeRequest
from drawbridge.bridge.names import default_table
from drawbridge.bridge.run import BridgeOptions
from drawbridge.cli.bridge_command import run_and_render
from drawbridge.cli.common import ChannelOption, HomeOption, TokenOption, console, table
from drawbridge.cli.context import open_home

request_app = typer.Typer(
    help="Bridging requests that `drawbridge lock --request` filed.", no_args_is_help=True
)


def request_table(requests: list[BridgeRequest]) -> Table:
    shown = table(
        "#", "kind", "asked for", "platforms", "why", "by", "state", title="Bridging requests"
    )
    for item in requests:
        state = item.state + (f" by {item.decided_by}" if item.decided_by else "")
        shown.add_row(
            str(item.id),
            item.kind,
            escape(item.spec),
            ", ".join(item.platforms),
            escape(item.reason),
            escape(item.requested_by),
            state,
        )
    return shown


def bridge_requirement(item: BridgeRequest) -> str:
    """What to bridge: the pip requirement, or the PyPI project a conda name is."""
    if item.kind == "pip":
        return item.spec
    return default_table().pypi_name(item.name)


@request_app.command("list")
def list_requests(
    state: Annotated[
        Optional[str], typer.Option(help="Only this state: pending, approved, rejected, bridged.")
    ] = None,
    home: HomeOption = None,
) -> None:
    """Show the requests (all, or those in one state)."""
    console.print(request_table(open_home(home).requests.all(state)))


@request_app.command("approve")
def approve(
    number: int,
    comment: Annotated[str, typer.Option(help="Why.")] = "",
    home: HomeOption = None,
    channel: ChannelOption = None,
    token: TokenOption = None,
) -> None:
    """Approve a request and bridge it now (a recipe it needs still waits for review)."""
    context = open_home(home)
    item = context.requests.get(number)
    user = context.decider(token, "a bridging request")
    target = context.channel(channel)
    context.requests.set_state(number, "approved", user, comment)
    requirement = bridge_requirement(item)
    console.print(f"request #{number}: approved by {user}; bridging {escape(requirement)}")
    report = run_and_render(context, BridgeOptions(requirements=(requirement,), channel=target))
    if not report.ok:
        console.print(
            f"request #{number} stays approved: bridging {escape(requirement)} failed (see above)"
        )
        raise typer.Exit(1)
    context.requests.set_state(number, "bridged", user, comment)
    console.print(f"request #{number}: bridged")


@request_app.command("reject")
def reject(
    number: int,
    comment: Annotated[str, typer.Option(help="Why (the requester sees it).")] = "",
    home: HomeOption = None,
    token: TokenOption = None,
) -> None:
    """Reject a request."""
    context = open_home(home)
    context.requests.get(number)  # an unknown number is said before the token is checked
    item = context.requests.set_state(
        number, "rejected", context.decider(token, "a bridging request"), comment
    )
    console.print(f"request #{number} ({escape(item.spec)}): rejected by {item.decided_by}")
