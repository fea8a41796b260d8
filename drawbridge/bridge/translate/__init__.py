"""What a PyPI thing is in conda, for one target: pure functions, no I/O but curated data.

- `targets`: a target (conda subdir × Python) and the wheels it can use, best first;
- `names`: a PyPI project's conda name, one table for names and dependencies alike;
- `markers`: which requirements apply on a target (PEP 508 markers, the interpreter);
- `deps`: Requires-Dist and Requires-Python as conda dependencies on a target.

Imports nothing of the bridge but `bridge.errors`.
"""

__all__ = ["targets", "names", "markers", "deps"]
