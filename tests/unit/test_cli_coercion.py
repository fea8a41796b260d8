"""The CLI's plain coercion (drawbridge/cli/coercion.py) gives what typer's own (pydantic)
gives, for every parameter of every `drawbridge` command: the same value of the same type,
or the same error."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, get_args, get_origin

import pytest
import typer.main
from typer._click import Command, Context
from typer._coercion import RuntimeParam, build_runtime_param
from typer.core import TyperGroup, _TyperParameter

from drawbridge.cli.app import app
from drawbridge.cli.coercion import PlainRuntimeParam, plain_runtime_param

TEXT = ["x", "", " spaced ", "ü", "-", "12", "--flag", "\udcff"]
NUMBERS = ["0", "007", "12", "-3", " 4", "1_000", "1.5", "x", "", "9" * 30, 5, 0]
FLAGS = [True, False, "true", "no", "", "maybe"]


def _parameters() -> Iterator[tuple[str, Command, _TyperParameter]]:
    def walk(command: Command, path: str) -> Iterator[tuple[str, Command, _TyperParameter]]:
        for param in command.params:
            if isinstance(param, _TyperParameter):
                yield f"{path} {param.name}", command, param
        if isinstance(command, TyperGroup):
            for name, sub in command.commands.items():
                yield from walk(sub, f"{path} {name}")

    yield from walk(typer.main.get_command(app), "drawbridge")


PARAMETERS = list(_parameters())


def _samples(annotation: Any, folder: Path) -> list[Any]:
    if get_origin(annotation) is list:
        (item,) = get_args(annotation)
        one = _samples(item, folder)
        return [(), tuple(one[:3]), tuple(one), [one[0]], one[0]]
    if annotation is Path:
        existing = folder / "a file"
        existing.write_text("")
        return [*TEXT, str(existing), str(folder), str(folder / "missing"), existing]
    if annotation is bool:
        return FLAGS
    return [*TEXT, *NUMBERS]


def _outcome(runtime: RuntimeParam, value: Any, param: _TyperParameter, ctx: Context) -> object:
    try:
        result = runtime.coerce(value, param=param, ctx=ctx)
    except Exception as error:  # the error itself is what is compared
        return ("error", type(error), str(error))
    items = result if isinstance(result, (list, tuple)) else [result]
    return ("value", result, type(result), [type(item) for item in items])


def test_every_command_s_parameters_are_covered():
    kinds = {repr(param.type_descriptor.annotation) for _, _, param in PARAMETERS}
    assert {"<class 'str'>", "<class 'pathlib.Path'>", "<class 'int'>", "list[str]"} <= kinds
    assert len(PARAMETERS) > 150


@pytest.mark.parametrize(
    ("command", "param"),
    [(command, param) for _, command, param in PARAMETERS],
    ids=[name for name, _, _ in PARAMETERS],
)
def test_plain_coercion_gives_what_typer_gives(command: Command, param: _TyperParameter, tmp_path):
    descriptor = param.type_descriptor
    plain = plain_runtime_param(descriptor)
    own = build_runtime_param(descriptor)
    ctx = Context(command, info_name=command.name)
    for value in _samples(descriptor.annotation, tmp_path):
        assert _outcome(plain, value, param, ctx) == _outcome(own, value, param, ctx), value


def test_only_what_needs_it_builds_typer_s_coercion():
    """A plain value never builds the pydantic adapter; another one builds it once."""
    (param,) = [p for name, _, p in PARAMETERS if name == "drawbridge lock glibc"]
    plain = plain_runtime_param(param.type_descriptor)
    assert isinstance(plain, PlainRuntimeParam)
    ctx = Context(typer.main.get_command(app))
    assert plain.coerce("2.28", param=param, ctx=ctx) == "2.28"
    assert plain._fallback == []
    assert plain.coerce(b"2.28", param=param, ctx=ctx) == "2.28"
    assert len(plain._fallback) == 1
