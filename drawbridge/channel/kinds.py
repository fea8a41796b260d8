"""The closed sets of words the channel layer stores, as types: a type checker then holds
every caller to them, where a comment listing the allowed strings could not (pure)."""

from __future__ import annotations

from typing import Literal

#: which view of a channel a file belongs to
FileKind = Literal["pypi", "conda"]
#: how a wheel or sdist is packaged, as PyPI's JSON API names it
PackageType = Literal["bdist_wheel", "sdist"]
#: how a conda package was made: bridged from a wheel, built from an sdist's recipe, or
#: made elsewhere and uploaded
MadeHow = Literal["wheel", "recipe", "upload"]
#: where a publish intent stands (`database.PublishIntentRow`)
IntentState = Literal["placing", "recorded", "removed"]
