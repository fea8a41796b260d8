"""Who may do what in a channel: the one place that decides reading, uploading, reviewing,
deleting and adding to a project (administering is `channel.administration`'s).

A channel lists, per action (`read`, `upload`, `review`), the principals allowed it
(`channel.principals`: `user:NAME`, `group:NAME`, `:authenticated:`, `:anonymous:`,
`:admins:`). An action with no list keeps the server-wide default: reading per
`anonymous_read` (everyone, or any token), uploading by uploader-or-better tokens,
reviewing by maintainer-or-better tokens.

A token's role caps what it may do whatever the lists say (reading needs a token of any
role or none, uploading an uploader's, reviewing a maintainer's); a channel-limited token
reaches only its channels; an admin token may do everything in the channels it reaches.
Uploading or reviewing a channel also needs reading it. Deleting from a channel (when its
mutability allows it at all) needs reviewing it, or being its owner (`alice` for
`alice/sandbox`) with the right to upload there.

Project ownership: the first upload of a project (PEP 503 name; a conda package counts
under its name normalised the same way, so `typing_extensions` is `typing-extensions`) into
a channel records its owner: the uploader's primary group, or the uploader alone if they
have none. From then on only the owner's members, the channel's reviewers and admins add
files to it, build-tag wheels and conda packages included; a file already there sent
again adds nothing and is not checked. A project whose files were published without a
token (the CLI, the bridge, recipe builds) has no owner: only reviewers and admins add to
it. Reviewers change owners (`set_owner`).

A channel that does not exist is one nobody may read, so every decision about a missing
channel and about a channel one may not read is the same decision, made from the same
table in memory (the names of the channels are read with their lists): the server answers
both alike, byte for byte and in the same time.

Permissions are read from the database and kept in memory; a change made here (or a
channel created: `note_change`) renames a new `<home>/permissions.stamp` into place, which
every process looks at (`stale`: one `stat`) at most every `STAMP_CHECK_SECONDS`, and each
process reads the table again at least every `RELOAD_SECONDS` anyway (a change made on
another machine sharing the database, unless a server `watch`es the database's
notifications: `channel.changes`); `channel.stamps` keeps them so, one read per change.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from packaging.utils import canonicalize_name
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from drawbridge.channel.database import (
    ChannelPermissionRow,
    ChannelRow,
    CondaPackageRow,
    Database,
    DistributionRow,
    GroupRow,
    ProjectOwnerRow,
    UserRow,
)
from drawbridge.channel.errors import (
    InvalidPermission,
    PermissionDenied,
    UnknownAccount,
    UnknownChannel,
    UnknownProject,
)
from drawbridge.channel.changes import announce
from drawbridge.channel.events import record_event
from drawbridge.channel.principals import (
    DEFAULT,
    EVERYONE,
    SPECIAL_PRINCIPALS,
    ChannelPermissions,
    describe_owner,
    matches,
    owner_of_new_projects,
    parse_principal,
    parse_principals,
)
from drawbridge.channel.stamps import Stamped, renew
from drawbridge.channel.tokens import Identity, Role

#: the least role a token needs for each action (reading needs no token where allowed)
ROLE_FOR = {"upload": Role.uploader, "review": Role.maintainer}
RELOAD_SECONDS = 5.0
#: how often a process looks at the stamp: a change reaches every process within this
STAMP_CHECK_SECONDS = 0.1
STAMP_NAME = "permissions.stamp"
#: every channel there is, and the lists of those that have any
Lists = tuple[frozenset[str], dict[str, ChannelPermissions]]


class Access:
    """The permissions of one home's channels, and every decision made from them."""

    def __init__(self, root: os.PathLike[str] | str, database: Database, anonymous_read: bool):
        self.db = database
        self.anonymous_read = anonymous_read
        self._stamp_file = Path(root) / STAMP_NAME
        self._lists: Stamped[Lists] = Stamped(
            self._stamp_file,
            lambda _stamp: self._read_table(),
            (frozenset(), {}),
            check_every=STAMP_CHECK_SECONDS,
            reload_every=RELOAD_SECONDS,
            make_stamp=True,
        )

    # -- the table, cached (`channel.stamps`) -------------------------------------------------

    def stale(self) -> bool:
        """Whether the lists in memory may be out of date (no query; a `stat` of the stamp
        at most every `STAMP_CHECK_SECONDS`): async callers `reload` in a thread first, so
        no decision queries on their event loop."""
        return self._lists.stale()

    def changed_since_loaded(self) -> bool:
        """Whether the stamp moved since the lists were read (one `stat`, never skipped):
        asked before a refusal, so a channel created a moment ago is not refused."""
        return self._lists.changed()

    def reload(self) -> None:
        """Read the channels and their lists from the database, once per change however
        many threads ask at once (`Stamped.reload`)."""
        self._lists.reload()

    def permissions(self, channel: str) -> ChannelPermissions:
        """The lists of `channel` (DEFAULT if it has none), as of the last change."""
        return self._lists.current()[1].get(channel, DEFAULT)

    def _read_table(self) -> Lists:
        lists: dict[str, dict[str, list[str]]] = {}
        with self.db.session() as session:
            channels = frozenset(session.scalars(select(ChannelRow.name)))
            for row in session.scalars(select(ChannelPermissionRow)):
                lists.setdefault(row.channel, {}).setdefault(row.action, []).append(row.principal)
        return channels, {
            channel: ChannelPermissions(**{a: tuple(sorted(p)) for a, p in by_action.items()})
            for channel, by_action in lists.items()
        }

    def note_change(self) -> None:
        """Tell every process that channels or their lists changed (the stamp), and every
        server on the database (`channel.changes`)."""
        renew(self._stamp_file)
        self._lists.forget()
        announce(self.db, "permissions")

    def watch(self, signal: Callable[[], int]) -> None:
        """Read the lists again whenever `signal()` moves (`Listener.count`)."""
        self._lists.watch(signal)

    def exists(self, channel: str) -> bool:
        """Whether `channel` exists, as of the last change."""
        return channel in self._lists.current()[0]

    # -- decisions ----------------------------------------------------------------------------

    def allows(self, identity: Identity, channel: str, action: str) -> bool:
        """Whether `identity` may do `action` in `channel` by its lists, role and limit alone
        (reading is not implied: `may_upload` and `may_review` add it)."""
        if not identity.reaches(channel) or not self.exists(channel):
            return False
        if identity.admin:
            return True
        needed = ROLE_FOR.get(action)
        if needed is not None and (identity.role is None or identity.role < needed):
            return False
        listed = self.permissions(channel).of(action)
        if not listed:
            return action != "read" or self.anonymous_read or not identity.anonymous
        return any(matches(identity, principal) for principal in listed)

    def may_read(self, identity: Identity, channel: str) -> bool:
        """Whether `identity` may see `channel` at all; a channel it may not read does not
        exist for it (the server answers 404)."""
        return self.allows(identity, channel, "read")

    def may_upload(self, identity: Identity, channel: str) -> bool:
        return self.may_read(identity, channel) and self.allows(identity, channel, "upload")

    def may_review(self, identity: Identity, channel: str) -> bool:
        """Whether `identity` administers `channel`: its permissions, its projects' owners."""
        return self.may_read(identity, channel) and self.allows(identity, channel, "review")

    def public(self, channel: str, checked: bool = False) -> bool:
        """Whether anyone, without a token, may read `channel` (the fast path serves only
        those). `checked`: the caller has just asked `stale` (and reloaded), so the lists
        in memory are used without another `stat`."""
        channels, table = self._lists.last if checked else self._lists.current()
        if channel not in channels:
            return False
        listed = table.get(channel, DEFAULT).read
        return EVERYONE in listed if listed else self.anonymous_read

    def readable(self, identity: Identity, channels: Iterable[str]) -> list[str]:
        """The channels of `channels` that `identity` may read, in their order."""
        return [name for name in channels if self.may_read(identity, name)]

    @staticmethod
    def hidden(channel: str) -> UnknownChannel:
        """The error for a channel one may not read: the same as for one that does not exist."""
        return UnknownChannel(f"no channel {channel!r}")

    def check_read(self, identity: Identity, channel: str) -> None:
        if not self.may_read(identity, channel):
            raise self.hidden(channel)

    def check_upload(self, identity: Identity, channel: str) -> None:
        """UnknownChannel if `identity` may not read `channel`, PermissionDenied if it may
        not upload there."""
        self.check_read(identity, channel)
        if not self.allows(identity, channel, "upload"):
            raise PermissionDenied(
                f"{identity.user or 'anonymous'} may not upload to {channel!r}: "
                f"{self._why_not(identity, channel, 'upload')}"
            )

    def check_review(self, identity: Identity, channel: str) -> None:
        self.check_read(identity, channel)
        if not self.allows(identity, channel, "review"):
            raise PermissionDenied(
                f"{identity.user or 'anonymous'} may not administer {channel!r}: "
                f"{self._why_not(identity, channel, 'review')}"
            )

    def may_delete(self, identity: Identity, channel: str) -> bool:
        """Whether `identity` may delete from `channel` (if it is volatile): its reviewers
        may, and its owner (`alice` for `alice/sandbox`) if they may upload there."""
        owner, slash, _ = channel.partition("/")
        if slash and identity.user == owner and self.may_upload(identity, channel):
            return True
        return self.may_review(identity, channel)

    def check_delete(self, identity: Identity, channel: str) -> None:
        """UnknownChannel if `identity` may not read `channel`, PermissionDenied if it may
        not delete from it (whether the channel lets files go is its mutability's)."""
        self.check_read(identity, channel)
        if not self.may_delete(identity, channel):
            who = identity.user or "an anonymous client"
            raise PermissionDenied(
                f"deleting from {channel!r} needs its owner's token or a token that may "
                f"administer it (a maintainer's, or one its review list names); {who} has "
                "neither"
            )

    def _why_not(self, identity: Identity, channel: str, action: str) -> str:
        needed = ROLE_FOR[action]
        if identity.role is None or identity.role < needed:
            held = identity.role.with_article if identity.role else "anonymous"
            return f"that needs a token with the {needed.name} role, and this one is {held}"
        listed = self.permissions(channel).of(action)
        return (
            f"the channel allows {', '.join(listed)}; a channel reviewer changes that with "
            f"`drawbridge channel permissions {channel} --{action} ...`"
        )

    # -- project ownership --------------------------------------------------------------------

    def claim_project(self, identity: Identity, channel: str, project: str) -> bool:
        """Check that `identity` may add files to `project` in `channel`, recording it as
        the owner's if the project is new there. True if this call recorded the owner (the
        caller releases the claim with `release_project` should its publish fail).
        PermissionDenied names the owner otherwise."""
        key = canonicalize_name(project)
        for _attempt in range(2):
            try:
                with self.db.session() as session:
                    owner = session.get(ProjectOwnerRow, (channel, key))
                    if owner is not None:
                        if not matches(identity, owner.owner):
                            self._may_override(identity, channel, key, owner.owner)
                        return False
                    if _project_exists(session, channel, key):
                        self._may_override(identity, channel, key, None)
                        return False
                    session.add(
                        ProjectOwnerRow(
                            channel=channel, project=key, owner=owner_of_new_projects(identity)
                        )
                    )
                return True
            except IntegrityError:  # another upload claimed it at the same moment: look again
                continue
        raise PermissionDenied(f"project {key!r} in {channel!r} is being claimed; try again")

    def _may_override(
        self, identity: Identity, channel: str, project: str, owner: str | None
    ) -> None:
        if identity.admin or self.may_review(identity, channel):
            return
        whose = (
            f"belongs to {describe_owner(owner)}"
            if owner
            else "was published by the server's operator (the CLI or the bridge)"
        )
        raise PermissionDenied(
            f"project {project!r} in channel {channel!r} {whose}, and "
            f"{identity.user or 'anonymous'} may not add files to it (a build-tagged wheel or "
            "a conda package of the same name included): upload under another project name, "
            f"or ask a reviewer of {channel!r} to make you its owner (`drawbridge channel "
            f"owner {channel} {project} user:{identity.user or 'NAME'}`)"
        )

    def release_project(self, channel: str, project: str) -> None:
        """Forget a claim `claim_project` made, when the upload it was for failed."""
        key = canonicalize_name(project)
        with self.db.session() as session:
            if not _project_exists(session, channel, key):
                session.execute(
                    delete(ProjectOwnerRow).where(
                        ProjectOwnerRow.channel == channel, ProjectOwnerRow.project == key
                    )
                )

    def owner(self, channel: str, project: str) -> str | None:
        """The owner principal of `project` in `channel`, or None if it has none."""
        with self.db.session() as session:
            row = session.get(ProjectOwnerRow, (channel, canonicalize_name(project)))
            return row.owner if row else None

    def set_owner(self, channel: str, project: str, owner: str) -> str:
        """Make `owner` (`user:NAME` or `group:NAME`, which must exist) own `project` in
        `channel`; UnknownProject if the channel holds no such project. Returns the owner."""
        principal = parse_principal(owner)
        if principal in SPECIAL_PRINCIPALS:
            raise InvalidPermission(
                f"a project is owned by a user or a group, not {principal}: write user:NAME "
                "or group:NAME"
            )
        key = canonicalize_name(project)
        with self.db.session() as session:
            _check_channel(session, channel)
            _check_accounts(session, [principal])
            if not _project_exists(session, channel, key):
                raise UnknownProject(f"no project {key!r} in channel {channel!r}")
            row = session.get(ProjectOwnerRow, (channel, key))
            if row is None:
                session.add(ProjectOwnerRow(channel=channel, project=key, owner=principal))
            else:
                row.owner = principal
            record_event(session, "project-owner", channel, key, {"owner": principal})
        return principal

    # -- changing permissions -----------------------------------------------------------------

    def set_permissions(
        self,
        channel: str,
        read: Sequence[str] | None = None,
        upload: Sequence[str] | None = None,
        review: Sequence[str] | None = None,
    ) -> ChannelPermissions:
        """Replace the lists given (None leaves one as it is; an empty list restores the
        default); each user and group named must exist. Returns the channel's lists."""
        with self.db.session() as session:
            _check_channel(session, channel)
            write_permissions(session, channel, read=read, upload=upload, review=review)
            given = {"read": read, "upload": upload, "review": review}
            payload = {action: list(names) for action, names in given.items() if names is not None}
            record_event(session, "channel-permissions", channel, channel, payload)
        self.note_change()
        return self.permissions(channel)

    def describe(self, action: str, listed: Sequence[str]) -> str:
        """The list of an action in words, the default spelt out."""
        if listed:
            return ", ".join(listed)
        if action == "read":
            return "default: " + ("everyone" if self.anonymous_read else "any token")
        return f"default: {ROLE_FOR[action].name} tokens or better"


def write_permissions(
    session: Session,
    channel: str,
    read: Sequence[str] | None = None,
    upload: Sequence[str] | None = None,
    review: Sequence[str] | None = None,
) -> None:
    """Replace the lists given in `session` (None leaves one as it is, an empty list
    restores the default); each user and group named must exist. The caller commits, then
    calls `Access.note_change`."""
    given = {"read": read, "upload": upload, "review": review}
    for action, values in given.items():
        if values is None:
            continue
        principals = parse_principals(values)
        _check_accounts(session, principals)
        session.execute(
            delete(ChannelPermissionRow).where(
                ChannelPermissionRow.channel == channel,
                ChannelPermissionRow.action == action,
            )
        )
        session.flush()
        for principal in principals:
            session.add(ChannelPermissionRow(channel=channel, action=action, principal=principal))


def _project_exists(session: Session, channel: str, key: str) -> bool:
    """Whether `channel` holds a file of project `key`: a wheel or sdist, or a conda package
    whose name normalises to it."""
    if session.scalar(
        select(DistributionRow.id)
        .where(DistributionRow.channel == channel, DistributionRow.project == key)
        .limit(1)
    ):
        return True
    normalised = func.replace(func.replace(func.lower(CondaPackageRow.name), "_", "-"), ".", "-")
    return bool(
        session.scalar(
            select(CondaPackageRow.id)
            .where(CondaPackageRow.channel == channel, normalised == key)
            .limit(1)
        )
    )


def _check_channel(session: Session, channel: str) -> None:
    if session.get(ChannelRow, channel) is None:
        raise UnknownChannel(
            f"no channel {channel!r}; create it with `drawbridge channel create {channel}`"
        )


def _check_accounts(session: Session, principals: Iterable[str]) -> None:
    for principal in principals:
        kind, _, name = principal.partition(":")
        if kind == "user" and session.get(UserRow, name) is None:
            raise UnknownAccount(
                f"no user {name!r}; create it with `drawbridge user create {name}`"
            )
        if kind == "group" and session.get(GroupRow, name) is None:
            raise UnknownAccount(
                f"no group {name!r}; create it with `drawbridge group create {name}`"
            )


def check_builder(identity: Identity, platforms: Iterable[str] = ()) -> None:
    """PermissionDenied unless `identity` is a build agent's token (role `builder`: no
    other role acts as an agent, an admin's neither) that may build for each of
    `platforms` (noarch: any builder)."""
    if identity.role is not Role.builder:
        who = identity.role.with_article if identity.role else "anonymous"
        raise PermissionDenied(
            f"only build agents act on build jobs, with a token of the builder role; "
            f"{identity.user or 'this request'} is {who} (`drawbridge token create --role "
            "builder --platform SUBDIR` makes one)"
        )
    outside = sorted(
        p
        for p in set(platforms) - {"noarch"}
        if identity.platforms is not None and p not in identity.platforms
    )
    if outside:
        limit = ", ".join(sorted(identity.platforms or ())) or "no platform"
        raise PermissionDenied(
            f"this builder token builds for {limit} only; it may not build for {', '.join(outside)}"
        )
