"""Variable interpolation in values (never keys), per file, before merging.

Forms: ``$VAR``, ``${VAR}``, ``${VAR:-default}``, ``${VAR-default}``, ``${VAR:?message}``, ``${VAR?message}``,
``${VAR:+alternate}``, ``${VAR+alternate}``; defaults, messages and alternates are templates themselves
(``${A:-${B:-x}}``), evaluated only when used; ``$$`` is a literal ``$``, and so is a ``$`` that starts
no reference (``$1``, ``5$``). An unset variable warns once and
becomes the empty string; a required one fails naming the variable, the key path, file and line.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Union

from compose.errors import Location, Problem, UserError
from compose.sourcemap import KeyPath, entry_location

__all__ = [
    "Interpolator",
    "TemplateError",
    "Variable",
    "Var",
    "parse_template",
    "substitute",
    "template_variables",
]

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_OPS = (":-", ":?", ":+", "-", "?", "+")


class TemplateError(ValueError):
    """A malformed ``${...}``: no name, an unknown modifier, or no closing ``}``."""


@dataclass(frozen=True)
class Var:
    name: str
    op: str = ""  # one of _OPS or "" for a bare ${NAME} / $NAME
    arg: tuple["Part", ...] = ()


Part = Union[str, Var]


def parse_template(text: str) -> tuple[Part, ...]:
    try:
        parts, end = _parse(text, 0, nested=False)
    except RecursionError:
        raise TemplateError("'${' nested too deeply") from None
    assert end == len(text)
    return parts


def _parse(text: str, pos: int, nested: bool) -> tuple[tuple[Part, ...], int]:
    """Parse from ``pos`` up to the end (or, when ``nested``, up to the ``}`` closing the enclosing ``${``)."""
    parts: list[Part] = []
    buf: list[str] = []
    n = len(text)
    while pos < n:
        ch = text[pos]
        if nested and ch == "}":
            break
        if ch != "$":
            nxt = text.find("$", pos)
            stop = n if nxt < 0 else nxt
            if nested:
                close = text.find("}", pos, stop)
                if close >= 0:
                    stop = close
            buf.append(text[pos:stop])
            pos = stop
            continue
        if pos + 1 < n and text[pos + 1] == "$":
            buf.append("$")
            pos += 2
            continue
        if pos + 1 < n and text[pos + 1] == "{":
            var, pos = _parse_braced(text, pos + 2)
        else:
            match = _NAME.match(text, pos + 1)
            if not match:  # "$1", "5$", "$ x": not a reference; kept as written (as Docker Compose does)
                buf.append("$")
                pos += 1
                continue
            var, pos = Var(match.group()), match.end()
        if buf:
            parts.append("".join(buf))
            buf = []
        parts.append(var)
    if nested and pos >= n:
        raise TemplateError("unclosed '${': missing '}'")
    if buf:
        parts.append("".join(buf))
    return tuple(parts), pos


def _parse_braced(text: str, pos: int) -> tuple[Var, int]:
    match = _NAME.match(text, pos)
    if not match:
        raise TemplateError("'${' must be followed by a variable name")
    name, pos = match.group(), match.end()
    if pos < len(text) and text[pos] == "}":
        return Var(name), pos + 1
    for op in _OPS:
        if text.startswith(op, pos):
            arg, end = _parse(text, pos + len(op), nested=True)
            return Var(name, op, arg), end + 1
    if pos >= len(text):
        raise TemplateError("unclosed '${': missing '}'")
    raise TemplateError(f"unsupported modifier {text[pos]!r} in '${{{name}...}}'; use :- - :? ? :+ or +")


Lookup = Callable[[str], "str | None"]


def _evaluate(parts: tuple[Part, ...], lookup: Lookup, on_unset: Callable[[str], None]) -> str:
    out: list[str] = []
    for part in parts:
        if isinstance(part, str):
            out.append(part)
            continue
        value = lookup(part.name)
        op = part.op
        if op == "":
            if value is None:
                on_unset(part.name)
            out.append(value or "")
        elif op in (":-", "-"):
            use_default = value is None or (op == ":-" and value == "")
            out.append(_evaluate(part.arg, lookup, on_unset) if use_default else value or "")
        elif op in (":+", "+"):
            use_alt = value is not None and (op == "+" or value != "")
            out.append(_evaluate(part.arg, lookup, on_unset) if use_alt else "")
        else:  # ":?" and "?"
            if value is None or (op == ":?" and value == ""):
                message = _evaluate(part.arg, lookup, on_unset)
                state = "is not set" if value is None else "is empty"
                detail = f": {message}" if message else ""
                raise _Required(part.name, f"required variable {part.name} {state}{detail}")
            out.append(value)
    return "".join(out)


class _Required(Exception):
    def __init__(self, name: str, message: str) -> None:
        super().__init__(message)
        self.name = name
        self.message = message


def substitute(text: str, lookup: Lookup, on_unset: Callable[[str], None] | None = None) -> str:
    """Interpolate one string. Raises ``TemplateError`` or ``ValueError`` (required variable) on failure."""
    if "$" not in text:
        return text
    try:
        return _evaluate(parse_template(text), lookup, on_unset or (lambda _name: None))
    except _Required as err:
        raise ValueError(err.message) from None
    except RecursionError:
        raise TemplateError("'${' nested too deeply") from None


@dataclass
class Variable:
    """A variable used by a template, for ``config --variables``."""

    name: str
    required: bool = False
    default: str | None = None
    alternate: str | None = None


def template_variables(text: str, into: dict[str, Variable] | None = None) -> dict[str, Variable]:
    """Variables referenced by ``text`` (including in nested defaults). Malformed templates add nothing."""
    found = {} if into is None else into
    try:
        parts = parse_template(text) if "$" in text else ()
        _collect(parts, found)
    except (TemplateError, RecursionError):
        pass
    return found


def _collect(parts: tuple[Part, ...], found: dict[str, Variable]) -> None:
    for part in parts:
        if isinstance(part, str):
            continue
        var = found.setdefault(part.name, Variable(part.name))
        raw = _unparse(part.arg)
        if part.op in (":?", "?"):
            var.required = True
        elif part.op in (":-", "-"):
            var.default = raw
        elif part.op in (":+", "+"):
            var.alternate = raw
        _collect(part.arg, found)


def _unparse(parts: tuple[Part, ...]) -> str:
    out = []
    for part in parts:
        if isinstance(part, str):
            out.append(part.replace("$", "$$"))
        elif part.op:
            out.append(f"${{{part.name}{part.op}{_unparse(part.arg)}}}")
        else:
            out.append(f"${{{part.name}}}")
    return "".join(out)


@dataclass
class Interpolator:
    """Interpolates located trees against one environment; collects warnings, warning once per variable."""

    environment: Mapping[str, str]
    warnings: list[Problem] = field(default_factory=list)
    _warned: set[str] = field(default_factory=set)

    def lookup(self, name: str) -> str | None:
        return self.environment.get(name)

    def share_warned(self, other: "Interpolator") -> None:
        """Warn about a variable once across both interpolators (an included project has its own)."""
        self._warned = other._warned

    def tree(self, tree: Any, base: KeyPath = ()) -> None:
        """Interpolate every string value under ``tree`` in place; keys are left alone. All errors at once."""
        errors: list[Problem] = []
        self._walk(tree, base, errors)
        if errors:
            raise UserError(errors)

    def _walk(self, node: Any, path: KeyPath, errors: list[Problem]) -> None:
        if isinstance(node, dict):
            items: Any = node.items()
        elif isinstance(node, list):
            items = enumerate(node)
        else:
            return
        for key, value in list(items):
            if isinstance(value, str):
                if "$" in value:
                    node[key] = self._one(value, path + (key,), entry_location(node, key), errors)
            else:
                self._walk(value, path + (key,), errors)

    def _one(self, text: str, path: KeyPath, loc: Location | None, errors: list[Problem]) -> str:
        def on_unset(name: str) -> None:
            if name not in self._warned:
                self._warned.add(name)
                self.warnings.append(
                    Problem(f'the "{name}" variable is not set; defaulting to a blank string', path, loc)
                )

        try:
            return _evaluate(parse_template(text), self.lookup, on_unset)
        except TemplateError as err:
            errors.append(Problem(f"invalid interpolation format {text!r}: {err}", path, loc))
        except _Required as err:
            errors.append(Problem(err.message, path, loc))
        except RecursionError:
            errors.append(Problem("invalid interpolation format: '${' nested too deeply", path, loc))
        return text

