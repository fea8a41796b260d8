"""The recipe route: a reviewed rattler-build recipe for a project with no fitting wheel.

- `sdist_facts`: what a recipe needs to know of an sdist that grayskull does not say;
- `native_needs`: what an sdist's build looks for outside Python, and the conda packages
  that provide it; `build_machine`: what every build machine has without one (pure data);
- `grayskull_offline`: grayskull on a local sdist, with no route out;
- `convert`: grayskull's v0 meta.yaml as a rattler-build v1 recipe (pure);
- `compose`: the recipe a reviewer reads, corrected by the sdist, with notes (pure);
- `book`: `RecipeBook`, the recipes of a home: generated, stored, reviewed, audited;
- `target_build`: one approved recipe built for one target with rattler-build (what an
  agent runs; imports neither the book nor the database); `build_log`: what a failed
  build's log says went wrong;
- `wheel_repair`: a built wheel made installable for pip users on its target (auditwheel,
  delocate, delvewheel), or refused with the reason (the agent calls it after a build).

Imports of the bridge: `translate`, `upstream`, `missing`, `errors`, `records`.
"""

__all__ = ["book", "compose", "target_build", "wheel_repair"]
