"""Writing to the terminal: problems and warnings on stderr, YAML/JSON documents on stdout."""
from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import Any, TextIO

from compose.errors import Problem

__all__ = ["dump_json", "dump_yaml", "print_problems", "print_warnings"]


def print_problems(problems: Iterable[Problem], stream: TextIO | None = None) -> None:
    """One line per problem: ``file:line:col: key.path: message``."""
    out = stream or sys.stderr
    for problem in problems:
        print(str(problem), file=out)


def print_warnings(problems: Iterable[Problem], stream: TextIO | None = None) -> None:
    out = stream or sys.stderr
    for problem in problems:
        print(f"warning: {problem}", file=out)


def _plain_scalars(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain_scalars(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain_scalars(v) for v in value]
    return value


# Strings a YAML 1.1 reader (PyYAML, older tools) would take for booleans: quote them in our output.
_YAML11_BOOLS = frozenset("y yes n no on off true false".split())


def _represent_str(representer: Any, value: str) -> Any:
    style = '"' if value.lower() in _YAML11_BOOLS else None
    return representer.represent_scalar("tag:yaml.org,2002:str", value, style=style)


def _representer_class() -> type:
    from ruamel.yaml.representer import SafeRepresenter

    class _Representer(SafeRepresenter):  # type: ignore[misc]
        pass

    _Representer.add_representer(str, _represent_str)
    return _Representer


def _emitter_class() -> type:
    from ruamel.yaml.emitter import Emitter

    class _Emitter(Emitter):  # type: ignore[misc]
        """Double quotes where a string needs quoting, as ``docker compose config`` prints them."""

        def choose_scalar_style(self) -> Any:
            style = super().choose_scalar_style()
            return '"' if style == "'" else style

    return _Emitter


def dump_yaml(document: Any) -> str:
    """Block-style YAML, two-space indents, sequences indented under their key, key order kept."""
    import io

    from ruamel.yaml import YAML

    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = False
    yaml.sort_base_mapping_type_on_output = False  # type: ignore[assignment]
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.width = 1 << 16
    yaml.allow_unicode = True
    yaml.Representer = _representer_class()
    yaml.Emitter = _emitter_class()
    buf = io.StringIO()
    yaml.dump(_plain_scalars(document), buf)
    return buf.getvalue()


def dump_json(document: Any) -> str:
    import json

    return json.dumps(document, indent=2, ensure_ascii=False, default=str) + "\n"
