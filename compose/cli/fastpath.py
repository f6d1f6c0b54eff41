"""Running a command line without typer, for the commands that must start fast.

typer and click cost ~25-35 ms to import and to build a command, more than ``ps`` or ``exec`` spend on their
work. ``prepare(argv, commands)`` parses a command line the way click does, with the parameters
``compose.cli._argspec`` reads from the same typer-annotated functions (the global options' callback and the
command's function), and returns a call that runs the command; or None whenever the line holds anything it does
not model: ``--help``, an unknown or misspelt option, a missing value, a bad number, too few or too many
arguments, a command outside ``commands``. typer then runs that line, so help and every error read as before.
"""
from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from compose.cli._argspec import Param, spec_of

__all__ = ["Context", "Line", "command_function", "parse", "prepare", "read_line"]

_HELP = frozenset({"-h", "--help"})


class Context:
    """What the commands use of typer's context: ``obj`` (the global options) and the command's name. (Plain
    classes here: a dataclass costs the compilation of its generated methods at start-up.)"""

    def __init__(self, invoked_subcommand: str | None = None, info_name: str | None = None) -> None:
        self.obj: Any = None
        self.invoked_subcommand = invoked_subcommand
        self.info_name = info_name
        self.params: dict[str, Any] = {}

    def find_object(self, kind: type) -> Any:
        """As click's: the ``obj`` when it is a ``kind`` (the fast path has no parent contexts)."""
        return self.obj if isinstance(self.obj, kind) else None


class _Recorder:
    """Stands in for the typer app in a command module's ``register(app)``: notes each command's function."""

    def __init__(self) -> None:
        self.found: dict[str, tuple[Callable[..., Any], dict[str, Any]]] = {}

    def command(self, name: str | None = None, **kw: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        def note(func: Callable[..., Any]) -> Callable[..., Any]:
            self.found[name or func.__name__.replace("_", "-")] = (func, kw)
            return func
        return note


def command_function(module: str, command: str) -> tuple[Callable[..., Any], dict[str, Any]] | None:
    """The function ``compose.cli.<module>`` registers as ``command``, with its ``app.command`` keywords."""
    recorder = _Recorder()
    importlib.import_module(f"compose.cli.{module}").register(recorder)
    return recorder.found.get(command)


def _convert(param: Param, text: str) -> Any:
    if param.type is int:
        return int(text)
    if param.type is float:
        return float(text)
    return text


class _Unmodelled(Exception):
    """The line holds something only click should answer."""


def _take_option(param: Param, value: Any, out: dict[str, Any]) -> None:
    if param.many:
        out.setdefault(param.name, []).append(_convert(param, value))
    else:
        out[param.name] = _convert(param, value) if param.type is not bool else value


def parse(spec: list[Param], args: list[str], *, interspersed: bool = True,
          stop_at_word: bool = False) -> tuple[dict[str, Any], list[str]]:
    """``(keyword arguments, the words left)``; with ``stop_at_word`` the first word ends the parse (the
    global options before a command) and it and what follows are left. Raises ``_Unmodelled``."""
    by_name = {n: p for p in spec if p.kind == "option" for n in p.names}
    off = {n: p for p in spec if p.kind == "option" for n in p.off_names}
    out: dict[str, Any] = {}
    words: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        i += 1
        if arg == "--":
            if stop_at_word:
                raise _Unmodelled(arg)
            words += args[i:]
            break
        if arg in _HELP:
            raise _Unmodelled(arg)
        if arg.startswith("--"):
            name, eq, value = arg.partition("=")
            if name in off and not eq:
                out[off[name].name] = False
                continue
            param = by_name.get(name)
            if param is None or (param.type is bool and eq):
                raise _Unmodelled(arg)
            if param.type is bool:
                _take_option(param, True, out)
                continue
            if not eq:
                if i >= len(args):
                    raise _Unmodelled(arg)
                value, i = args[i], i + 1
            _take_option(param, value, out)
        elif arg.startswith("-") and arg != "-":
            j = 1
            while j < len(arg):
                param = by_name.get("-" + arg[j])
                if param is None:
                    raise _Unmodelled(arg)
                if param.type is bool:
                    _take_option(param, True, out)
                    j += 1
                    continue
                value = arg[j + 1:]
                if not value:
                    if i >= len(args):
                        raise _Unmodelled(arg)
                    value, i = args[i], i + 1
                _take_option(param, value, out)
                break
        else:
            if stop_at_word:
                return out, args[i - 1:]
            words.append(arg)
            if not interspersed:
                words += args[i:]
                break
    return out, words


def _bind(spec: list[Param], options: dict[str, Any], words: list[str], ctx: Context) -> dict[str, Any]:
    """The keyword arguments of the call: options, then the words given to the arguments in order."""
    kwargs: dict[str, Any] = {}
    arguments = [p for p in spec if p.kind == "argument"]
    if any(p.many for p in arguments[:-1]):
        raise _Unmodelled("a variadic argument before the last")
    for param in spec:
        if param.kind == "context":
            kwargs[param.name] = ctx
        elif param.kind == "option":
            if param.name in options:
                kwargs[param.name] = options[param.name]
            elif param.required:
                raise _Unmodelled(param.name)
            else:
                kwargs[param.name] = param.default
    for param in arguments:
        if param.many:
            taken, words = words, []
            if not taken and param.required:
                raise _Unmodelled(param.name)
            kwargs[param.name] = [_convert(param, w) for w in taken] if taken else param.default
        elif words:
            kwargs[param.name] = _convert(param, words.pop(0))
        elif param.required:
            raise _Unmodelled(param.name)
        else:
            kwargs[param.name] = param.default
    if words:
        raise _Unmodelled(" ".join(words))
    return kwargs


class Line:
    """A command line as the fast path read it: the command, its function and both sets of keyword arguments
    (the contexts in them are ``top`` and ``ctx``)."""

    def __init__(self, command: str, func: Callable[..., Any], global_args: dict[str, Any], args: dict[str, Any],
                 top: Context, ctx: Context) -> None:
        self.command, self.func, self.global_args, self.args, self.top, self.ctx = (
            command, func, global_args, args, top, ctx)


def read_line(argv: list[str], commands: dict[str, str], global_callback: Callable[..., None]) -> Line | None:
    """``argv`` read (``commands``: command name -> its module), or None (see the module docstring)."""
    global_spec = spec_of(global_callback)
    if global_spec is None:
        return None
    try:
        global_kw, rest = parse(global_spec, argv, stop_at_word=True)
        if not rest or rest[0] not in commands:
            return None
        name, args = rest[0], rest[1:]
        found = command_function(commands[name], name)
        if found is None:
            return None
        func, settings = found
        spec = spec_of(func)
        extra = set(settings) - {"help", "context_settings"}
        context_settings = dict(settings.get("context_settings") or {})
        interspersed = context_settings.pop("allow_interspersed_args", True)
        if spec is None or extra or context_settings:
            return None
        options, words = parse(spec, args, interspersed=interspersed)
        top = Context(invoked_subcommand=name, info_name="pycompose")
        ctx = Context(info_name=name)
        return Line(name, func, _bind(global_spec, global_kw, [], top), _bind(spec, options, words, ctx), top, ctx)
    except (_Unmodelled, ValueError):
        return None


def prepare(argv: list[str], commands: dict[str, str],
            global_callback: Callable[..., None]) -> Callable[[], Any] | None:
    """A call running ``argv`` (see ``read_line``), or None: typer runs it."""
    line = read_line(argv, commands, global_callback)
    if line is None:
        return None

    def run() -> Any:
        global_callback(**line.global_args)
        line.ctx.obj = line.top.obj
        line.ctx.params = {k: v for k, v in line.args.items() if v is not line.ctx}
        return line.func(**line.args)

    return run
