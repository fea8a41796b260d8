"""The wheel route: which conda packages to make of the chosen wheels, and making them.

- `packages_to_make`: noarch where one pure wheel truly serves every target it would
  claim, one package per target otherwise (pure);
- `repack`: a wheel repacked into a conda package for one target, the way
  pypa/installer installs it;
- `schemes`: where a wheel's schemes land in a conda prefix for a target (light: the
  environments' image writer installs wheels with it too);
- `scripts`: how a repacked wheel's scripts find the environment's Python;
- `conda_paths`: an assembled package's paths.json, corrected.

Imports of the bridge: `translate`, `upstream`, `errors`.
"""

__all__ = ["packages_to_make", "repack", "schemes"]
