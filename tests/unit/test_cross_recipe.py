"""A per-platform recipe made ready to cross-compile, as conda-forge's recipes are (pure)."""

from __future__ import annotations

from drawbridge.bridge.recipes.convert import CROSS_BUILD, make_cross_ready


def test_a_recipe_made_ready_to_cross_compile():
    """conda-forge's idiom, inert when build and target platform are the same; once."""
    recipe = {"requirements": {"build": ["${{ compiler('c') }}"], "host": ["python", "pip"]}}
    assert make_cross_ready(recipe)
    assert recipe["requirements"] == {
        "build": ["${{ compiler('c') }}", CROSS_BUILD],
        "host": ["python", "pip"],
    }
    assert CROSS_BUILD == {
        "if": "build_platform != target_platform",
        "then": ["python", "cross-python_${{ target_platform }}"],
    }
    assert not make_cross_ready(recipe)  # names cross-python already: left as it is
    bare: dict = {}
    assert make_cross_ready(bare) and bare["requirements"]["build"] == [CROSS_BUILD]
