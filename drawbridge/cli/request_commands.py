"""`drawbridge request list|approve|reject`: maintainers decide on bridging requests."""

from __future__ import annotations

from typing import Annotated, NoReturn, Optional

import typer
from rich.markup import escape
from rich.table import Table

from drawbridge.bridge.bridging_requests import BridgeRequest, most_wanted_projects
from drawbridge.bridge.translate.names import default_table
from drawbridge.bridge.missing.provide import CONNECT_MIRROR, comes_from_a_mirror, mirror_hint
from drawbridge.bridge.run import BridgeOptions, BridgeReport
from drawbridge.cli.bridge_command import run_and_render
from drawbridge.cli.common import ChannelOption, HomeOption, TokenOption, console, errors, table
from drawbridge.cli.context import CliContext, open_home

request_app = typer.Typer(
    help="Bridging requests that `drawbridge lock --request` filed.", no_args_is_help=True
)


#: how a terminal shows the states that need no more action
STATE_COLOURS = {"bridged": "green", "failed": "red", "rejected": "red"}


def request_table(requests: list[BridgeRequest]) -> Table:
    shown = table(
        "#",
        "kind",
        "asked for",
        "platforms",
        "why",
        "by",
        "state",
        "comment",
        title="Bridging requests",
    )
    for item in requests:
        state = item.state + (f" by {escape(item.decided_by)}" if item.decided_by else "")
        colour = STATE_COLOURS.get(item.state)
        shown.add_row(
            str(item.id),
            item.kind,
            escape(item.spec),
            ", ".join(item.platforms),
            escape(item.reason),
            escape(item.requested_by),
            f"[{colour}]{state}[/]" if colour else state,
            escape(item.comment),
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
        Optional[str],
        typer.Option(help="Only this state: pending, approved, rejected, bridged, failed."),
    ] = None,
    wanted: Annotated[
        bool, typer.Option("--wanted", help="The most wanted missing projects instead.")
    ] = False,
    home: HomeOption = None,
) -> None:
    """Show the requests (all, or those in one state), or the most wanted projects."""
    context = open_home(home)
    if not wanted:
        console.print(request_table(context.requests.all(state)))
        return
    shown = table("project", "channel", "misses", "last asked", "now", title="Most wanted")
    for item in most_wanted_projects(context.channels, context.home.policy):
        shown.add_row(
            escape(item.project),
            item.channel,
            str(item.misses),
            item.last_asked,
            escape(item.status),
        )
    console.print(shown)


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
    if item.kind == "conda" and comes_from_a_mirror(item.name):
        why = f"{item.name} is not a PyPI project: {mirror_hint([item.name])}"
        _fail(context, number, user, why)
    console.print(f"request #{number}: approved by {user}; bridging {escape(requirement)}")
    report = run_and_render(context, BridgeOptions(requirements=(requirement,), channel=target))
    if not report.ok:
        _fail(context, number, user, failure_reason(report))
    context.requests.set_state(number, "bridged", user, comment)
    console.print(f"request #{number}: bridged")


def failure_reason(report: BridgeReport) -> str:
    """Why a run did not provide what was asked for, in one line, with the way out."""
    failed = [o for o in report.outcomes if not o.ok]
    why = "; ".join(f"{o.project}: {o.result}" for o in failed) or "bridging failed"
    if any(o.route == "cannot" and "no project" in o.result for o in failed):
        why += (
            "; a conda package that is not a PyPI project comes from a conda mirror instead: "
            f"`{CONNECT_MIRROR}`"
        )
    return why


def _fail(context: CliContext, number: int, user: str, why: str) -> NoReturn:
    """Record the request as failed with `why` (the requester sees it), say it, exit 1."""
    context.requests.set_state(number, "failed", user, f"failed: {why}")
    errors.print(f"[red]request #{number} failed:[/] {escape(why)}")
    raise typer.Exit(1)


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
