"""What the bridge reads from outside: PyPI and the company's conda mirrors.

- `pypi`: PyPI upstreams, a PEP 503/691 simple index or a drop folder; their files;
- `downloads`: verified, cached downloads and the one retry rule;
- `metadata`: an upstream's listings and core metadata, fetched once per run;
- `conda_mirror`: what the connected conda mirrors carry, for a bridge run;
- `mirror_check`: a conda mirror checked before it is connected.

Imports of the bridge: `translate`, `errors`.
"""

__all__ = ["pypi", "downloads", "metadata", "conda_mirror", "mirror_check"]
