"""Typer's argument coercion without pydantic for the plain values the commands take.

Typer 0.29 turns every parameter's value into its Python type through a pydantic
TypeAdapter built for that parameter: importing pydantic and building the adapters took a
quarter of `drawbridge lock` (docs/performance.md, issue 22). For a value that is already
of its parameter's type, a `str` for a `str` or `Path` parameter, digits for an `int`, or a
list of those, the result is plain Python: `PlainRuntimeParam` gives it directly (a `Path`
still goes through typer's own checks, `coerce_cli_path`). Anything else (another type,
a parser, bounds, an enum, a bool from an environment variable) goes to typer's own
coercion, built only then; tests/unit/test_cli_coercion.py checks that both agree on every
parameter of every command. A typer without `typer._coercion` (its private module) coerces
without pydantic itself, and gets no bypass (drawbridge/cli/common.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, get_args, get_origin

import typer.core
from typer._coercion import RuntimeParam, TypeDescriptor, build_runtime_param

if TYPE_CHECKING:
    from typer._click import Context
    from typer.core import _TyperParameter

#: a string pydantic and int() read alike: plain digits, short of any size limit
_PLAIN_INT = re.compile(r"[0-9]{1,18}")


class _NotPlain(Exception):
    """A value the plain path does not take: typer's own coercion decides."""


@dataclass(frozen=True)
class PlainRuntimeParam(RuntimeParam):
    """One parameter's coercion: plain Python where the value allows, else typer's."""

    descriptor: TypeDescriptor
    _fallback: list[RuntimeParam] = field(default_factory=list, compare=False, repr=False)

    def _coerce_value(self, value: Any, param: _TyperParameter, ctx: Context) -> Any:
        try:
            return _plain(self.annotation, self.descriptor, value, param, ctx)
        except _NotPlain:
            return self.typer_param()._coerce_value(value, param=param, ctx=ctx)

    def typer_param(self) -> RuntimeParam:
        """Typer's own coercion of this parameter (pydantic), built the first time it is asked."""
        if not self._fallback:
            self._fallback.append(build_runtime_param(self.descriptor))
        return self._fallback[0]


def _plain(
    annotation: Any, descriptor: TypeDescriptor, value: Any, param: _TyperParameter, ctx: Context
) -> Any:
    """`value` as `annotation`, or _NotPlain when only typer's coercion can say."""
    info = descriptor.parameter_info
    if info.parser is not None:
        raise _NotPlain
    if get_origin(annotation) is list and isinstance(value, (list, tuple)):
        (item,) = get_args(annotation)
        return [_plain(item, descriptor, one, param, ctx) for one in value]
    if annotation is str and type(value) is str:
        return value
    if annotation is bool and type(value) is bool:
        return value
    if annotation is int and info.min is None and info.max is None:
        if type(value) is int:
            return value
        if type(value) is str and _PLAIN_INT.fullmatch(value):
            return int(value)
    if annotation is Path and info.path_type is None and type(value) is str:
        from typer._param_types import coerce_cli_path

        return coerce_cli_path(Path(value), info, path_type=Path, param=param, ctx=ctx)
    raise _NotPlain


def plain_runtime_param(descriptor: TypeDescriptor) -> RuntimeParam:
    """Typer's `build_runtime_param` for a parameter, with the plain path in front."""
    if descriptor.file_annotation is not None:  # typer opens files itself, without pydantic
        return build_runtime_param(descriptor)
    return PlainRuntimeParam(
        annotation=descriptor.annotation,
        parameter_info=descriptor.parameter_info,
        descriptor=descriptor,
    )


#: the typer releases whose private coercion this was checked against (test_cli_coercion):
#: another release keeps typer's own coercion, slower but never wrong
CHECKED_TYPER = ("0.29.",)


def install() -> None:
    """Make typer build every parameter's coercion with `plain_runtime_param`, on a typer
    release this was checked against."""
    if not typer.__version__.startswith(CHECKED_TYPER):
        return
    if hasattr(typer.core, "build_runtime_param"):  # mypy: typer.core does not re-export it
        setattr(typer.core, "build_runtime_param", plain_runtime_param)
