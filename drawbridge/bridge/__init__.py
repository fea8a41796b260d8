"""PyPI to conda: which releases each target gets, and the conda packages that carry them.

One idea per folder (docs/architecture.md draws them; tests/unit/test_layering.py holds the
rules): `translate/` (pure), `missing/`, `upstream/`, and the routes `resolve/`,
`wheels/`, `installable/`, `recipes/`, which never import each other. The top is where
they meet (`run`, `plan`, `execute`, `bridging_requests`, `promotion`) and what every room
may use (`errors`, `records`). Imports `drawbridge.channel`, never `drawbridge.server`.
"""
