"""What `pip install --only-binary :all:` would install on each target, and why not newer.

- `per_target`: the request and its closure resolved for every target;
- `pins`: one target's chosen versions as pins (wheel, metadata, dependents);
- `uv_compile`: one `uv pip compile` run for one target (Python 3);
- `uv_process`: which uv runs, in what environment (light: no packaging);
- `legacy_resolver`: what pip 19.2 installs (Python 2.7);
- `held_back`: why a target got an older release than the newest, with the fix.

Imports of the bridge: `upstream`, `translate`, `errors`.
"""

__all__ = ["per_target", "pins", "uv_compile", "uv_process"]
