"""A command function's parameters as typer would declare them, read WITHOUT importing typer: each annotation
string is evaluated with a stand-in ``typer`` whose ``Option``/``Argument`` only record their arguments.

``spec_of(func) -> list[Param] | None``: None when the function uses anything the fast parser does not model
(another type, a callback, an environment variable...): such a command always goes through typer.
"""
from __future__ import annotations

import typing
from typing import Any, Callable, NamedTuple

__all__ = ["Param", "spec_of"]

_TYPES = (bool, str, int, float)
_PLAIN_KW = frozenset({"help", "metavar", "show_default", "hidden", "rich_help_panel"})
_CONTEXT = object()


class Param(NamedTuple):
    name: str  # the Python parameter
    kind: str  # "option", "argument" or "context"
    type: type = str
    many: bool = False  # a list: a repeatable option, or a variadic argument
    names: tuple[str, ...] = ()  # an option's flags; for a bool also the ``--no-x`` ones in ``off_names``
    off_names: tuple[str, ...] = ()
    required: bool = False
    default: Any = None


class _Decl:
    def __init__(self, kind: str, decls: tuple[Any, ...], kw: dict[str, Any]) -> None:
        self.kind, self.decls, self.kw = kind, decls, kw


class _StandIn:
    """What the annotations see as ``typer``."""

    Context = _CONTEXT

    @staticmethod
    def Option(*decls: Any, **kw: Any) -> _Decl:  # noqa: N802 - typer's name
        return _Decl("option", decls, kw)

    @staticmethod
    def Argument(*decls: Any, **kw: Any) -> _Decl:  # noqa: N802 - typer's name
        return _Decl("argument", decls, kw)


def _base(tp: Any) -> tuple[type, bool] | None:
    """``(element type, is a list)`` of an annotation's type, Optional removed; None for anything else."""
    if typing.get_origin(tp) is typing.Union:
        rest = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(rest) != 1:
            return None
        tp = rest[0]
    if typing.get_origin(tp) is list:
        (inner,) = typing.get_args(tp) or (str,)
        return (inner, True) if inner in _TYPES and inner is not bool else None
    return (tp, False) if tp in _TYPES else None


def _param(name: str, annotation: Any, has_default: bool, default: Any) -> Param | None:
    if annotation is _CONTEXT:
        return Param(name, "context")
    if typing.get_origin(annotation) is not typing.Annotated:
        return None
    decls = [m for m in annotation.__metadata__ if isinstance(m, _Decl)]
    base = _base(annotation.__origin__)
    if len(decls) != 1 or base is None or set(decls[0].kw) - _PLAIN_KW or default is Ellipsis:
        return None
    decl, (tp, many) = decls[0], base
    required = not has_default
    if decl.kind == "argument":
        return None if decl.decls else Param(name, "argument", tp, many, required=required, default=default)
    names: list[str] = []
    off: list[str] = []
    for text in decl.decls:
        on, slash, no = str(text).partition("/")
        if slash and tp is not bool:
            return None
        names.append(on.strip())
        if slash:
            off.append(no.strip())
    if not names or tp is bool and many or not all(n.startswith("-") and len(n) > 1 for n in names + off):
        return None
    return Param(name, "option", tp, many, tuple(names), tuple(off), required, default)


def spec_of(func: Callable[..., Any]) -> list[Param] | None:
    """The parameters of ``func`` in order (see the module docstring)."""
    code = func.__code__  # type: ignore[attr-defined]
    names = code.co_varnames[:code.co_argcount + code.co_kwonlyargcount]
    defaults = dict(zip(names[code.co_argcount - len(func.__defaults__ or ()):code.co_argcount],  # type: ignore
                        func.__defaults__ or ()))  # type: ignore[attr-defined]
    defaults.update(func.__kwdefaults__ or {})  # type: ignore[attr-defined]
    space = {**func.__globals__, "typer": _StandIn}  # type: ignore[attr-defined]
    out = []
    for name in names:
        text = func.__annotations__.get(name)
        try:
            annotation = eval(text, space) if isinstance(text, str) else text  # noqa: S307 - our own source
        except Exception:  # noqa: BLE001 - a name the stand-in lacks: leave the command to typer
            return None
        param = _param(name, annotation, name in defaults, defaults.get(name))
        if param is None:
            return None
        out.append(param)
    return out
