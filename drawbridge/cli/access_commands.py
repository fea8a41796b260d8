"""`drawbridge channel|user|group|token ...`: channels and who may do what in them.

Thin over the channel layer: `Channels.create`, `channel.access` (permissions, owners),
`channel.accounts` (users, groups) and `channel.tokens`; their errors reach the one error
boundary (`cli/entry.py`).
"""

from __future__ import annotations

from enum import Enum
from typing import Annotated, Optional

import typer

from drawbridge.channel.principals import ACTIONS, ChannelPermissions, parse_principals
from drawbridge.channel.accounts import Accounts
from drawbridge.channel.tokens import Role, create_token, parse_expiry, revoke_tokens
from drawbridge.channel.errors import InvalidName
from drawbridge.cli.common import HomeOption, console, errors, table
from drawbridge.cli.context import open_home
from drawbridge.cli.promote_commands import (
    ImmutableOption,
    Mutability,
    VolatileOption,
    chosen_mutability,
)

channel_app = typer.Typer(
    help="Create and list channels; set their bases and who may read, upload and review them.",
    no_args_is_help=True,
)
user_app = typer.Typer(help="Create, list and disable users.", no_args_is_help=True)
group_app = typer.Typer(help="Create groups and change their members.", no_args_is_help=True)
token_app = typer.Typer(help="Create and revoke API tokens.", no_args_is_help=True)

PRINCIPALS_HELP = "user:NAME, group:NAME, :authenticated:, :anonymous: or :admins:"
ReadOption = Annotated[
    Optional[list[str]],
    typer.Option("--read", help=f"Who may read (repeat, or commas): {PRINCIPALS_HELP}."),
]
UploadOption = Annotated[
    Optional[list[str]], typer.Option("--upload", help="Who may upload (same forms).")
]
ReviewOption = Annotated[
    Optional[list[str]],
    typer.Option("--review", help="Who may review and administer the channel (same forms)."),
]


class RoleChoice(str, Enum):
    """Role names as the command line spells them."""

    reader = "reader"
    builder = "builder"
    uploader = "uploader"
    maintainer = "maintainer"
    admin = "admin"


# -- channels -------------------------------------------------------------------------------


@channel_app.command("create")
def channel_create(
    name: str,
    home: HomeOption = None,
    description: Annotated[str, typer.Option(help="What the channel is for.")] = "",
    read: ReadOption = None,
    upload: UploadOption = None,
    review: ReviewOption = None,
    immutable: ImmutableOption = False,
    volatile: VolatileOption = False,
    base: Annotated[
        Optional[list[str]],
        typer.Option(
            "--base",
            help="A channel (or upstream:<mirror>) it inherits from; repeat for more, "
            "nearest first.",
        ),
    ] = None,
) -> None:
    """Create a channel (a conda channel and a pip index of the same name). Without --read,
    --upload or --review an action keeps the server-wide default; standard unless
    --immutable or --volatile (files never deleted, but promotion may move them)."""
    permissions = ChannelPermissions(
        read=parse_principals(read or ()),
        upload=parse_principals(upload or ()),
        review=parse_principals(review or ()),
    )
    mutability = chosen_mutability(immutable, volatile) or Mutability.standard
    open_home(home).channels.create(name, description, permissions, mutability, bases=base or [])
    inherits = f", inheriting from {', '.join(base)}" if base else ""
    console.print(f"[green]channel[/] {name} ready ({mutability.value}){inherits}")


@channel_app.command("bases")
def channel_bases(
    name: str,
    bases: Annotated[
        Optional[list[str]],
        typer.Argument(help="Its bases, nearest first: channels or upstream:<mirror>."),
    ] = None,
    home: HomeOption = None,
) -> None:
    """Set the channels (or upstream mirrors) a channel inherits from; none makes it flat.

    Its pip and conda views then serve its own files plus its bases' (recursively), the
    nearest file of a name winning. Nothing is re-indexed: servers see the change at once.
    """
    open_home(home).channels.set_bases(name, bases or [])
    shown = ", ".join(bases) if bases else "none (flat)"
    console.print(f"[green]channel[/] {name} bases: {shown}")


@channel_app.command("list")
def channel_list(home: HomeOption = None) -> None:
    """List the channels with their bases, mutability, Python projects, conda packages and
    readers."""
    channels = open_home(home).channels
    bases = channels.bases()
    shown = table("channel", "bases", "mutability", "python projects", "conda packages", "read")
    for name in channels.names():
        readers = channels.access.permissions(name).read
        shown.add_row(
            name,
            ", ".join(str(level) for level in bases.get(name, ())) or "-",
            channels.mutability(name).value,
            str(len(channels.projects(name))),
            str(len(channels.conda_packages(name))),
            channels.access.describe("read", readers),
        )
    console.print(shown)


@channel_app.command("permissions")
def channel_permissions(
    name: str,
    home: HomeOption = None,
    read: ReadOption = None,
    upload: UploadOption = None,
    review: ReviewOption = None,
    default: Annotated[
        Optional[list[str]],
        typer.Option("--default", help="Give an action (read, upload, review) its default."),
    ] = None,
) -> None:
    """Show a channel's permissions; with options, replace the lists they name first."""
    access = open_home(home).channels.access
    given = {"read": read, "upload": upload, "review": review}
    for action in default or ():
        if action not in ACTIONS:
            raise typer.BadParameter(f"--default takes {', '.join(ACTIONS)}, not {action!r}")
        given[action] = []
    if any(values is not None for values in given.values()):
        access.set_permissions(name, **given)
    else:
        open_home(home).channels.layout(name)  # UnknownChannel for a name that is none
    shown = table("action", "who", title=f"permissions of {name}")
    for action in ACTIONS:
        shown.add_row(action, access.describe(action, access.permissions(name).of(action)))
    console.print(shown)


@channel_app.command("owner")
def channel_owner(
    name: str,
    project: str,
    owner: Annotated[
        Optional[str], typer.Argument(help="user:NAME or group:NAME; omit to show the owner.")
    ] = None,
    home: HomeOption = None,
) -> None:
    """Show or change who owns a project in a channel (who may add files to it)."""
    access = open_home(home).channels.access
    if owner is not None:
        access.set_owner(name, project, owner)
    current = access.owner(name, project)
    console.print(f"{project} in {name}: owned by {current or 'nobody (admins and reviewers)'}")


# -- users and groups -----------------------------------------------------------------------


@user_app.command("create")
def user_create(
    name: str,
    home: HomeOption = None,
    group: Annotated[
        Optional[str],
        typer.Option(help="Primary group (must exist): owns the projects the user starts."),
    ] = None,
) -> None:
    """Create a user (tokens are then made for them with `drawbridge token create`)."""
    user = Accounts(open_home(home).database).create_user(name, group)
    console.print(f"[green]user[/] {user.name} created" + (f" in {group}" if group else ""))


@user_app.command("list")
def user_list(home: HomeOption = None) -> None:
    """List the users: primary group, groups, live tokens, disabled."""
    shown = table("user", "primary group", "groups", "tokens", "disabled")
    for user in Accounts(open_home(home).database).users():
        shown.add_row(
            user.name,
            user.primary_group or "",
            ", ".join(user.groups),
            str(user.tokens),
            "yes" if user.disabled else "",
        )
    console.print(shown)


@user_app.command("disable")
def user_disable(
    name: str,
    home: HomeOption = None,
    enable: Annotated[bool, typer.Option("--enable", help="Enable the user again.")] = False,
) -> None:
    """Disable a user: every token of theirs is refused from now on (or --enable again)."""
    Accounts(open_home(home).database).set_disabled(name, not enable)
    console.print(f"user {name} {'enabled' if enable else 'disabled'}")


@group_app.command("create")
def group_create(name: str, home: HomeOption = None) -> None:
    """Create an empty group."""
    Accounts(open_home(home).database).create_group(name)
    console.print(f"[green]group[/] {name} created")


@group_app.command("add")
def group_add(group: str, users: list[str], home: HomeOption = None) -> None:
    """Add users to a group."""
    members = Accounts(open_home(home).database).add_members(group, users)
    console.print(f"{group}: {', '.join(members.members)}")


@group_app.command("remove")
def group_remove(group: str, users: list[str], home: HomeOption = None) -> None:
    """Take users out of a group."""
    members = Accounts(open_home(home).database).remove_members(group, users)
    console.print(f"{group}: {', '.join(members.members) or 'no members'}")


@group_app.command("list")
def group_list(home: HomeOption = None) -> None:
    """List the groups and their members."""
    shown = table("group", "members")
    for group in Accounts(open_home(home).database).groups():
        shown.add_row(group.name, ", ".join(group.members))
    console.print(shown)


# -- tokens ---------------------------------------------------------------------------------


@token_app.command("create")
def token_create(
    user: Annotated[str, typer.Option(help="Who the token is for (created if new).")],
    role: Annotated[RoleChoice, typer.Option(help="What the token may do.")] = RoleChoice.reader,
    channel: Annotated[
        Optional[list[str]],
        typer.Option("--channel", "-c", help="Limit the token to this channel (repeat)."),
    ] = None,
    expires: Annotated[
        Optional[str],
        typer.Option(help="Expire after a duration (90m, 12h, 30d, 2w) or on a date."),
    ] = None,
    platform: Annotated[
        Optional[list[str]],
        typer.Option("--platform", help="A builder token builds for this subdir only (repeat)."),
    ] = None,
    home: HomeOption = None,
) -> None:
    """Create a token and print it (it is shown only this once)."""
    if platform and role is not RoleChoice.builder:
        raise InvalidName("--platform limits builder tokens only: add --role builder")
    moment = parse_expiry(expires) if expires else None
    token = create_token(
        open_home(home).database, user, Role[role.value], channel, moment, platform
    )
    limits = [role.value]
    if channel:
        limits.append("channels " + ", ".join(channel))
    if platform:
        limits.append("builds for " + ", ".join(platform))
    if moment:
        limits.append(f"expires {moment.isoformat()}")
    errors.print(f"token for {user} ({'; '.join(limits)}); store it now, it is not shown again:")
    print(token)


@token_app.command("revoke")
def token_revoke(
    user: Annotated[str, typer.Option(help="Whose tokens to revoke.")], home: HomeOption = None
) -> None:
    """Revoke every token of a user."""
    count = revoke_tokens(open_home(home).database, user)
    console.print(f"revoked {count} token(s) of {user}")
