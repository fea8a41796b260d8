"""Promotion and deletion as library calls: who may, what is chosen, and the audit row.

`promote` copies (or moves) chosen releases, with the conda packages made from them, from
one channel to another; `delete` removes them from a volatile channel. Both take the
identity of the token that asked, refuse what it may not do, and commit their audit row
in the same transaction as the change itself, so the audit log never lacks a promotion
or deletion that happened, nor shows one that was refused.

Who may (`channel.access`): promoting needs reading the source and reviewing (that is,
administering) the target, and for a move reviewing the source too; deleting needs
reviewing the channel, or being its owner (`alice` for `alice/sandbox`) with the right to
upload there. A channel one may not read is a 404, as everywhere. Promoted projects get
no owner in the target: like anything published without a token, only the target's
reviewers and admins add files to them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from drawbridge.bridge.records import AuditRow
from drawbridge.channel.errors import InvalidName
from drawbridge.channel.mutability import check_deletion
from drawbridge.channel.publishing import relative_path
from drawbridge.channel.service import Channels, PromotionOutcome, ReleaseSpec
from drawbridge.channel.tokens import Identity

#: the longest comment kept (the audit row's detail holds it with the file names)
COMMENT_LENGTH = 2000


@dataclass(frozen=True)
class DeletionOutcome:
    """What a deletion removed, as channel-relative paths."""

    channel: str
    removed: tuple[str, ...]


def parse_specs(texts: Sequence[str]) -> list[ReleaseSpec]:
    """`PROJECT[==VERSION]` texts as releases; InvalidName for a malformed one or none."""
    if not texts:
        raise InvalidName("name at least one release: PROJECT or PROJECT==VERSION")
    return [ReleaseSpec.parse(text) for text in texts]


def _check_comment(comment: str, action: str) -> str:
    comment = comment.strip()
    if not comment:
        raise InvalidName(
            f"say why in --comment (the {action} is audited with it), e.g. --comment "
            '"passed QA, ticket 1234"'
        )
    if len(comment) > COMMENT_LENGTH:
        raise InvalidName(f"the comment is {len(comment)} characters; keep it under 2000")
    return comment


def promote(
    channels: Channels,
    identity: Identity,
    source: str,
    target: str,
    releases: Sequence[str],
    move: bool = False,
    comment: str = "",
) -> PromotionOutcome:
    """Copy (`move`: move) `releases` from `source` into `target` as `identity`, audited."""
    access = channels.access
    access.check_read(identity, source)
    access.check_review(identity, target)
    if move:
        access.check_review(identity, source)
    comment = _check_comment(comment, "promotion")
    specs = parse_specs(releases)
    rows = channels.release_rows(source, specs)
    channels.layout(target)
    names = sorted({row.filename for row in rows})
    audit = AuditRow(
        user=identity.user,
        action="promote-move" if move else "promote",
        subject=f"{source} → {target}",
        detail=f"{', '.join(map(str, specs))}: {comment} (files: {', '.join(names)})",
    )
    return channels.promote(source, target, rows, move, identity.user, comment, [audit])


def delete(
    channels: Channels,
    identity: Identity,
    channel: str,
    releases: Sequence[str],
    comment: str = "",
) -> DeletionOutcome:
    """Delete `releases` (and the conda packages made from them) from a volatile channel."""
    channels.access.check_delete(identity, channel)
    comment = _check_comment(comment, "deletion")
    specs = parse_specs(releases)
    check_deletion(channel, channels.mutability(channel))
    rows = channels.release_rows(channel, specs)
    names = sorted({row.filename for row in rows})
    audit = AuditRow(
        user=identity.user,
        action="delete",
        subject=channel,
        detail=f"{', '.join(map(str, specs))}: {comment} (files: {', '.join(names)})",
    )
    removed = channels.delete(channel, rows, [audit])
    return DeletionOutcome(channel, tuple(map(relative_path, removed)))
