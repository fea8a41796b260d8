"""Crash points for the fault tests: a process can be made to SIGKILL itself at a named step.

TEST-ONLY. With `DRAWBRIDGE_TEST_CRASH_AT=<point>` in its environment, a Drawbridge process
kills itself with SIGKILL the first time it reaches `<point>`; `<point>#<n>` waits for the
n-th time. Nothing else reads the variable, and without it `crash_point` does nothing.
The points, in the order a publish reaches them:

- `placing`: the intent is recorded, the file is not placed yet
- `placed`: the file (and its .metadata) is placed, not recorded
- `recorded`: the file is recorded, its indexes are not written yet
- `indexing`: a conda index run has written its marker, rattler has not run
- `sharding`: a publish's index update has written one more shard, not the shard index
- `pages`: the pip pages marker is written, no page yet

And in a promotion (`promotion`) and a removal (a move's second half, a deletion):

- `promoting`: the promotion and its audit row are recorded, no file copied yet
- `promoted`: one more file is copied and recorded in the target (then `placing` … as above)
- `removed`: files are unrecorded (their "removed" intents written), still on disk
"""

from __future__ import annotations

import os
import signal
from collections import Counter

CRASH_VARIABLE = "DRAWBRIDGE_TEST_CRASH_AT"
#: what a process writes to stderr just before it kills itself at a crash point
CRASH_SAID = "drawbridge test crash point reached:"
_reached: Counter[str] = Counter()


def crash_point(name: str) -> None:
    """SIGKILL this process if the test hook asks for a crash at `name` (see the module)."""
    wanted = os.environ.get(CRASH_VARIABLE)
    if not wanted:
        return
    point, _, count = wanted.partition("#")
    if point != name:
        return
    _reached[name] += 1
    if _reached[name] >= int(count or 1):
        # said first, unbuffered: the test's proof that the kill came where it asked
        os.write(2, f"{CRASH_SAID} {name}\n".encode())
        os.kill(os.getpid(), signal.SIGKILL)
