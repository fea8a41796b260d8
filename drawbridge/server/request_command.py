"""`drawbridge request list|approve|reject`: maintainers decide on bridging requests."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.markup import escape
from rich.table import Table

from drawbridge.bridge.bridging_requests import BridgeRequest, RequestBook
from drawbridge.bridge.errors import BridgeError
from drawbridge.bridge.names import default_table
from drawbridge.channel.database import Database
from drawbridge.channel.errors import ChannelError
from drawbridge.channel.home import Home, load_home
from drawbridge.server import bridge_command
from drawbridge.server.cli_common import ChannelOption, HomeOption, TokenOption, console, fail
from drawbridge.server.recipe_command import decider

request_app = typer.Typer(help="Bridging requests that `drawbridge lock --request` filed.", no_args_is_help=True)


def request_table(requests: list[BridgeRequest]) -> Table:
    table = Table("#", "kind", "asked for", "platforms", "why", "by", "state", title="Bridging requests")
    for item in requests:
        state = item.state + (f" by {item.decided_by}" if item.decided_by else "")
        table.add_row(str(item.id), item.kind, escape(item.spec), ", ".join(item.platforms), escape(item.reason), escape(item.requested_by), state)
    return table


def _book(home: Path | None) -> tuple[Home, RequestBook]:
    loaded = load_home(home)
    return loaded, RequestBook(Database(loaded.database_url))


def bridge_requirement(item: BridgeRequest) -> str:
    """What to hand `drawbridge bridge`: the pip requirement, or the PyPI project a conda name is."""
    if item.kind == "pip":
        return item.spec
    return default_table().pypi_name(item.name)


@request_app.command("list")
def list_requests(
    state: Annotated[Optional[str], typer.Option(help="Only this state: pending, approved, rejected, bridged.")] = None,
    home: HomeOption = None,
) -> None:
    """Show the requests (all, or those in one state)."""
    try:
        _loaded, book = _book(home)
        requests = book.all(state)
    except ChannelError as error:
        fail(error)
    console.print(request_table(requests))


@request_app.command("approve")
def approve(
    number: int,
    comment: Annotated[str, typer.Option(help="Why.")] = "",
    home: HomeOption = None,
    channel: ChannelOption = None,
    token: TokenOption = None,
) -> None:
    """Approve a request and bridge it now (a recipe it needs still waits for review)."""
    try:
        loaded, book = _book(home)
        item = book.get(number)
        user = decider(loaded, token, "a bridging request")
        book.set_state(number, "approved", user, comment)
    except (ChannelError, BridgeError) as error:
        fail(error)
    requirement = bridge_requirement(item)
    console.print(f"request #{number}: approved by {user}; bridging {escape(requirement)}")
    try:
        bridge_command.bridge([requirement], home=loaded.root, channel=channel)
    except typer.Exit as exit_:
        if exit_.exit_code:
            console.print(f"request #{number} stays approved: bridging {escape(requirement)} failed (see above)")
            raise
    book.set_state(number, "bridged", user, comment)
    console.print(f"request #{number}: bridged")


@request_app.command("reject")
def reject(
    number: int,
    comment: Annotated[str, typer.Option(help="Why (the requester sees it).")] = "",
    home: HomeOption = None,
    token: TokenOption = None,
) -> None:
    """Reject a request."""
    try:
        loaded, book = _book(home)
        book.get(number)  # an unknown number is said before the token is checked
        item = book.set_state(number, "rejected", decider(loaded, token, "a bridging request"), comment)
    except (ChannelError, BridgeError) as error:
        fail(error)
    console.print(f"request #{number} ({escape(item.spec)}): rejected by {item.decided_by}")
