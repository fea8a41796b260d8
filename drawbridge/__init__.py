"""Drawbridge: conda channels and a pip index of approved PyPI packages, for air-gapped sites."""

__version__ = "0.1.0"
