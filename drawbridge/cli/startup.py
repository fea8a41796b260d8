"""The cyclic garbage collector paused while `drawbridge lock` loads its modules.

Loading them (typer, httpx, py-rattler, ruamel.yaml, ...) makes some 100,000 objects that
live until the process ends, and the collector went through them about a hundred times on
the way: ~16 ms of a lock that `uv pip compile` does in ~110 (docs/performance.md). The
console script pauses it for `lock`; once the command's modules are loaded they are moved
out of the collector's sight (`gc.freeze`) and it runs again for the work itself.
"""

from __future__ import annotations

import gc

_paused = False


def pause_collection() -> None:
    """Stop the cyclic collector until `resume_collection` (the process's start-up only)."""
    global _paused
    if gc.isenabled():
        gc.disable()
        _paused = True


def resume_collection() -> None:
    """Freeze what start-up made and run the collector again, if `pause_collection` stopped
    it; nothing otherwise (a command run in-process by a test or a caller's own setting)."""
    global _paused
    if _paused:
        _paused = False
        gc.freeze()
        gc.enable()
