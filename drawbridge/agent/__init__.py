"""The build agent: a process on a builder machine that asks a Drawbridge server for build
jobs over HTTP(S) only, builds each in a fresh folder with rattler-build (sandboxed on
Linux), and uploads what it made with a build record.

- `api`: the server's agent API as calls (claim, download, heartbeat, fail, finish);
- `sandbox`: the bubblewrap command lines a build runs under on Linux;
- `work`: one job from claim to upload, and the loop that asks for jobs;
- `errors`: the agent's exception family.

It needs no home and no database: its import path loads neither FastAPI nor SQLAlchemy
(`tests/test_entry.py`). Imports of the bridge: `recipes.target_build` (the build of one
target) and what it imports.
"""

__all__ = ["api", "sandbox", "work", "errors"]
