"""Convert grayskull's conda-build (v0) meta.yaml into a rattler-build v1 recipe.yaml.

grayskull writes v1 only through conda-recipe-manager, which is not on PyPI. This handles
what grayskull emits: `{% set %}` variables, `{{ }}` expressions, `# [selector]` comments
on list items and on `skip`, entry points, tests and about. Anything else with a selector
is refused by name rather than converted wrongly.
"""

from __future__ import annotations

import io
import re
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.scalarstring import DoubleQuotedScalarString

from drawbridge.bridge.errors import BridgeError

SET_LINE = re.compile(r"""^\s*\{%-?\s*set\s+(\w+)\s*=\s*["']?([^"'%]*?)["']?\s*-?%\}\s*$""")
SELECTOR = re.compile(r"^(?P<indent>\s*)(?P<body>.*?)\s+#\s*\[(?P<selector>[^\]]+)\]\s*$")
PY_COMPARISON = re.compile(r"\bpy\s*(<=|>=|==|!=|<|>)\s*(\d)(\d+)\b")
PLACEHOLDER_LICENSE = "PLEASE_ADD_LICENSE_FILE"
#: what grayskull writes when it finds no licence; not SPDX, so rattler-build refuses it
UNKNOWN_LICENSE = "IT-WAS-NOT-POSSIBLE-TO-RECOVER-LICENCE"
#: the conda-forge default grayskull assumes when it writes ${{ python_min }} undefined
DEFAULT_PYTHON_MIN = "3.9"
#: PEP 517 build backends; with none in host, pip falls back to setuptools
BUILD_BACKENDS = (
    "setuptools",
    "flit-core",
    "flit_core",
    "hatchling",
    "poetry-core",
    "pdm-backend",
    "scikit-build-core",
    "meson-python",
    "maturin",
    "setuptools-scm",
    "whey",
    "sipbuild",
)


class RecipeConversionError(BridgeError):
    """A grayskull recipe this converter cannot turn into a v1 recipe faithfully."""


def v1_condition(selector: str) -> str:
    """A conda-build selector as a v1 `if:` expression (`py<310` -> match(python, "<3.10"))."""
    expression = PY_COMPARISON.sub(
        lambda m: f'match(python, "{m.group(1)}{m.group(2)}.{m.group(3)}")', selector
    )
    expression = re.sub(r"\bpy2k\b", 'match(python, "<3")', expression)
    return re.sub(r"\bpy3k\b", 'match(python, ">=3")', expression)


def _expressions(text: str) -> str:
    text = text.replace("{{ PYTHON }}", "python")
    return re.sub(r"\{\{\s*(.*?)\s*\}\}", lambda m: "${{ " + m.group(1) + " }}", text)


def _mark_selectors(text: str) -> tuple[str, dict[str, str]]:
    """Replace selector comments with markers the YAML parser keeps: list items become
    `{if, then}` items; `skip: true # [sel]` becomes a list of conditions."""
    lines, skip = [], {}
    for number, line in enumerate(text.splitlines(), 1):
        match = SELECTOR.match(line)
        if not match:
            lines.append(line)
            continue
        indent, body, condition = (
            match["indent"],
            match["body"],
            v1_condition(match["selector"].strip()),
        )
        if body.startswith("- "):
            lines.append(f"{indent}- if: '{condition}'")
            lines.append(f"{indent}  then: {body[2:]}")
        elif re.match(r"skip:\s*(true|True|yes)$", body):
            lines.append(f"{indent}skip: ['{condition}']")
            skip[condition] = condition
        else:
            raise RecipeConversionError(
                f"line {number}: a selector on {body!r} has no v1 equivalent here"
            )
    return "\n".join(lines) + "\n", skip


def parse_v0(meta_yaml: str) -> tuple[dict[str, Any], dict[str, str]]:
    """The v0 recipe as data (expressions already in v1 form) and its `{% set %}` context."""
    context, kept = {}, []
    for line in meta_yaml.splitlines():
        match = SET_LINE.match(line)
        if match:
            context[match[1]] = match[2]
        elif not line.strip().startswith("{%"):
            kept.append(line)
    text, _ = _mark_selectors(_expressions("\n".join(kept)))
    try:
        document = YAML(typ="safe").load(text)
    except Exception as error:
        raise RecipeConversionError(
            f"the recipe is not valid YAML after rendering: {error}"
        ) from error
    if not isinstance(document, dict) or "package" not in document:
        raise RecipeConversionError("the recipe has no package section")
    return document, context


#: the wheel a build makes on the way is kept here, for the channel's pip view
WHEEL_DIR = "drawbridge-wheels"
PIP_INSTALL_DOT = re.compile(r"(\S*python\S*) -m pip install \. (.*)$")


def _pip_script(script: Any) -> Any:
    """Build the sdist into a wheel, then install that wheel; pip neither resolves nor
    isolates (the air gap has no PyPI). The wheel is what pip users get from the channel."""
    if not isinstance(script, str) or "pip install" not in script:
        return script
    match = PIP_INSTALL_DOT.match(script.strip())
    if not match:
        for flag in ("--no-deps", "--no-build-isolation"):
            if flag not in script:
                script += f" {flag}"
        return script
    python, flags = match.groups()
    flags = " ".join(f for f in flags.split() if f not in ("--no-deps", "--no-build-isolation"))
    return (
        f"{python} -m pip wheel . {flags} --no-deps --no-build-isolation -w {WHEEL_DIR} && "
        f"{python} -m pip install {WHEEL_DIR}/*.whl {flags} --no-deps"
    ).replace("  ", " ")


def _entry_point(text: str) -> str:
    return re.sub(r"\s*\[[^\]]*\]\s*$", "", text)  # v1 has no per-entry-point extras


def _plain_python(item: Any) -> Any:
    return (
        "python"
        if isinstance(item, str) and item.split()[0] == "python" and "python_min" in item
        else item
    )


def requirement_name(item: Any) -> str:
    """The package name of a requirement item (`if`/`then` items by their `then`)."""
    if isinstance(item, dict) and "then" in item:
        return requirement_name(item["then"])
    return str(item).split()[0].lower() if isinstance(item, str) and item.strip() else ""


def merge_requirements(items: list[Any], extra: list[Any]) -> list[Any]:
    """`items` plus each of `extra` it lacks; an extra with a version replaces a bare name."""
    merged = list(items)
    for item in extra:
        name = requirement_name(item)
        same = [i for i, old in enumerate(merged) if requirement_name(old) == name]
        if not same:
            merged.append(item)
        elif isinstance(item, str) and merged[same[0]] == name and item != name:
            merged[same[0]] = item
    return merged


def _with_build_backend(host: list[Any], build_requirements: list[Any] | None) -> list[Any]:
    """Host gets what builds the sdist without isolation: `build_requirements` (from the
    sdist's `[build-system]`) when known; else setuptools when no backend is listed (pip's
    fallback for setup.py projects). setuptools before 70.1 needs `wheel` for bdist_wheel."""
    if build_requirements is not None:
        return merge_requirements(host, build_requirements)
    names = {requirement_name(item) for item in host}
    if not names & set(BUILD_BACKENDS):
        return [*host, "setuptools", "wheel"]
    return host if "setuptools" not in names else merge_requirements(host, ["wheel"])


def make_native(recipe: dict[str, Any], compilers: tuple[str, ...] = ()) -> bool:
    """Turn a noarch recipe into a per-platform one, in place: no `noarch`, plain `python`
    (whose run_exports pin the ABI) where `python_min` pinned it, and a `compiler(...)` in
    build for each of `compilers`. True if it was noarch."""
    build = recipe.setdefault("build", {})
    was_noarch = bool(build.pop("noarch", None))
    requirements = recipe.get("requirements") or {}
    for section, items in requirements.items():
        requirements[section] = [_plain_python(i) for i in items]
    for test in recipe.get("tests") or []:
        run = (test.get("requirements") or {}).get("run") if isinstance(test, dict) else None
        if run:
            test["requirements"]["run"] = [_plain_python(i) for i in run]
    wanted = [f"${{{{ compiler('{language}') }}}}" for language in compilers]
    if wanted:
        build_section = merge_requirements(requirements.pop("build", None) or [], wanted)
        recipe["requirements"] = {"build": build_section, **requirements}
    return was_noarch


#: what conda-forge's recipes put in build to cross-compile a Python extension: the build
#: machine's Python, made to build for the target by `cross-python_<target>`
CROSS_BUILD = {
    "if": "build_platform != target_platform",
    "then": ["python", "cross-python_${{ target_platform }}"],
}


def make_cross_ready(recipe: dict[str, Any]) -> bool:
    """Give a per-platform recipe, in place, conda-forge's cross-compiling build
    requirements (`CROSS_BUILD`: inert when build and target platform are the same), unless
    it names `cross-python` already. True if it changed."""
    requirements = recipe.get("requirements") or {}
    if "cross-python" in str(requirements.get("build") or []):
        return False
    build = requirements.pop("build", None) or []
    recipe["requirements"] = {"build": [*build, dict(CROSS_BUILD)], **requirements}
    return True


def _tests(test: dict[str, Any]) -> list[dict[str, Any]]:
    tests: list[dict[str, Any]] = []
    commands = [c for c in test.get("commands") or [] if isinstance(c, str)]
    if test.get("imports"):
        tests.append(
            {"python": {"imports": list(test["imports"]), "pip_check": "pip check" in commands}}
        )
    others = [c for c in commands if c != "pip check"]
    if others:
        requires = [
            r for r in test.get("requires") or [] if not str(r).startswith(("pip", "python"))
        ]
        script: dict[str, Any] = {"script": others}
        if requires:
            script["requirements"] = {"run": requires}
        tests.append(script)
    return tests


def _about(about: dict[str, Any]) -> dict[str, Any]:
    names = {
        "home": "homepage",
        "summary": "summary",
        "description": "description",
        "license": "license",
        "license_family": "license_family",
        "doc_url": "documentation",
        "dev_url": "repository",
    }
    converted = {new: about[old] for old, new in names.items() if about.get(old)}
    if converted.get("license") == UNKNOWN_LICENSE:
        converted["license"] = "LicenseRef-Unknown"  # valid SPDX; a reviewer sees it at once
    files = about.get("license_file")
    files = [files] if isinstance(files, str) else list(files or [])
    files = [f for f in files if f != PLACEHOLDER_LICENSE]
    if files:
        converted["license_file"] = files if len(files) > 1 else files[0]
    return converted


def convert(
    meta_yaml: str,
    source_url: str | None = None,
    python_min: str | None = None,
    build_requirements: list[Any] | None = None,
) -> dict[str, Any]:
    """The v1 recipe for grayskull's `meta_yaml`.

    `source_url` replaces the source URL; `python_min` replaces grayskull's (conda-forge's)
    oldest Python for noarch builds with the oldest one this site builds for;
    `build_requirements` (from the sdist's `[build-system]`) join host.
    """
    v0, context = parse_v0(meta_yaml)
    if "python_min" in context or "python_min" in meta_yaml:  # conda-forge defines it globally
        context["python_min"] = python_min or context.get("python_min") or DEFAULT_PYTHON_MIN
    package = v0["package"]
    recipe: dict[str, Any] = {}
    if context:  # quoted, so "1.0" stays the string it was and never becomes a float
        recipe["context"] = {key: DoubleQuotedScalarString(value) for key, value in context.items()}
    recipe["package"] = {"name": str(package["name"]).lower(), "version": package["version"]}
    source = dict(v0.get("source") or {})
    if source_url:
        source["url"] = source_url
    recipe["source"] = {k: source[k] for k in ("url", "sha256", "path") if k in source}
    build = dict(v0.get("build") or {})
    converted_build: dict[str, Any] = {"number": build.get("number", 0)}
    if build.get("noarch"):
        converted_build["noarch"] = build["noarch"]
    if "skip" in build:
        converted_build["skip"] = (
            build["skip"] if isinstance(build["skip"], list) else [str(build["skip"]).lower()]
        )
    if build.get("script"):
        converted_build["script"] = _pip_script(build["script"])
    if build.get("entry_points"):
        converted_build["python"] = {
            "entry_points": [_entry_point(e) for e in build["entry_points"]]
        }
    recipe["build"] = converted_build
    requirements = {k: v for k, v in (v0.get("requirements") or {}).items() if v}
    if "pip install" in str(converted_build.get("script", "")):
        requirements["host"] = _with_build_backend(requirements.get("host", []), build_requirements)
    if requirements:
        recipe["requirements"] = requirements
    tests = _tests(v0.get("test") or {})
    if tests:
        recipe["tests"] = tests
    if any("compiler(" in str(item) for item in requirements.get("build", [])):
        make_native(recipe)  # compiled code is never noarch (grayskull sometimes says both)
    elif "noarch" not in converted_build:
        # a per-Python recipe pinned to python_min (grayskull writes it, sgmllib3k) would
        # build for python_min alone and pin its ABI: it builds against each Python instead
        make_native(recipe)
    about = _about(v0.get("about") or {})
    if about:
        recipe["about"] = about
    if v0.get("extra"):
        recipe["extra"] = v0["extra"]
    return recipe


def dump(recipe: dict[str, Any]) -> str:
    """The recipe as YAML text, keys in recipe order."""
    yaml = YAML()
    yaml.default_flow_style = False
    yaml.width = 4096
    buffer = io.StringIO()
    yaml.dump(recipe, buffer)
    return buffer.getvalue()
