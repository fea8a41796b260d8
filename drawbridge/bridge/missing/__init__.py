"""Conda packages the channels lack: named from a solver's error, and how each is provided.

- `solver_messages`: rattler's solver error condensed to what is missing;
- `provide`: which packages the channels lack, and the one way to say how each is
  provided (a conda mirror for interpreters and compilers, bridging for the rest).

Imports nothing of the bridge.
"""

__all__ = ["solver_messages", "provide"]
