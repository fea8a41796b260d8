"""Where the commands look for a Drawbridge home when none is named: its folder and variable.

Apart from channel/home.py (which re-exports both) so that the client commands' options,
which name them in their help, do not import the home's configuration classes.
"""

from __future__ import annotations

from pathlib import Path

#: the home folder in the current folder, when neither --home nor $DRAWBRIDGE_HOME names one
DEFAULT_HOME = Path("drawbridge-home")
#: the environment variable naming the home (every --home option reads it)
HOME_VARIABLE = "DRAWBRIDGE_HOME"
