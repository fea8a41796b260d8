"""Nothing uninstallable is published: what a package claims, and the solve that proves it.

- `check`: every new conda package solved on every target it claims, before publishing;
- `claims`: which targets a conda package claims, and what a machine of each offers.

Imports of the bridge: `translate`, `missing`, `errors`.
"""

__all__ = ["check", "claims"]
