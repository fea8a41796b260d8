"""Where Drawbridge keeps things when no option says: the home folder, and the user's cache.

Apart from channel/home.py (which re-exports the home's names) and bridge/translate/
names.py so that the client commands' options and `drawbridge lock`'s early uv run name
them without importing the home's configuration classes or packaging.
"""

from __future__ import annotations

import os
from pathlib import Path

#: the home folder in the current folder, when neither --home nor $DRAWBRIDGE_HOME names one
DEFAULT_HOME = Path("drawbridge-home")
#: the environment variable naming the home (every --home option reads it)
HOME_VARIABLE = "DRAWBRIDGE_HOME"


def user_cache_dir() -> Path:
    """Drawbridge's folder in the user's cache ($XDG_CACHE_HOME, else ~/.cache)."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "drawbridge"
