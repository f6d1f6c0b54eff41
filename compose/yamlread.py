"""Read one Compose YAML document into located containers (see ``sourcemap``), keeping file:line:col.

Scalars are typed as Docker Compose's parser (go-yaml v3) types them: YAML 1.2 booleans and nulls (``yes``/``on``
stay strings), Go integer syntax including ``0440`` as octal (file modes).
Mapping keys are always strings (their source text). Anchors and aliases are expanded (each use is a fresh
copy, with a size budget against alias bombs); ``<<`` merge keys are applied. The Compose tags ``!reset`` and
``!override`` are recorded on the parent container's entry for ``merge`` to act on.
"""
from __future__ import annotations

import math
import re
from typing import Any

from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from compose.errors import Location, UserError
from compose.sourcemap import LocatedDict, LocatedList

__all__ = ["COMPOSE_TAGS", "read_yaml"]

COMPOSE_TAGS = {"!reset": "reset", "!override": "override"}
_MAX_NODES = 2_000_000  # expanded nodes per document: stops "billion laughs" alias bombs

_INT_RE = re.compile(r"[-+]?[0-9]+")
_OCT11_RE = re.compile(r"0[0-7]+")
_PREFIXED_INT_RE = re.compile(r"[-+]?0([xX][0-9a-fA-F]+|[oO][0-7]+|[bB][01]+)")
_FLOAT_RE = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?")
_NULLS = {"", "~", "null", "Null", "NULL"}
_TRUES = {"true", "True", "TRUE"}
_FALSES = {"false", "False", "FALSE"}
_MERGE_TAG = "tag:yaml.org,2002:merge"
_STD = "tag:yaml.org,2002:"


_PLAIN = "?plain"  # our tag for an untagged plain scalar: resolved by ``_resolve_plain``


def _resolve(self: Any, kind: Any, value: Any, implicit: Any) -> str:
    """Resolver hook: leave plain scalars for us to type; everything else gets its standard tag."""
    if kind is ScalarNode:
        return _PLAIN if implicit and implicit[0] else _STD + "str"
    return _STD + ("seq" if kind is SequenceNode else "map")


def _resolve_tag(self: Any, kind: Any, value: Any, implicit: Any) -> Any:
    from ruamel.yaml.tag import Tag

    return Tag(suffix=_resolve(self, kind, value, implicit))


def _loader_class(pure: bool = False) -> type:
    if not pure:
        try:
            from ruamel.yaml.cyaml import CBaseLoader
        except ImportError:
            pass
        else:
            return type("_ComposeLoader", (CBaseLoader,), {"resolve": _resolve})
    # no libyaml: the pure-Python composer gives the same nodes, slower (it wants Tag objects)
    from ruamel.yaml.loader import BaseLoader

    return type("_ComposeLoader", (BaseLoader,), {"resolve": _resolve_tag, "max_depth": None})


_LOADER: type | None = None


def _compose(text: str) -> Node | None:
    global _LOADER
    if _LOADER is None:
        _LOADER = _loader_class()
    loader = _LOADER(text)
    try:
        return loader.get_single_node()  # type: ignore[no-any-return]
    finally:
        loader.dispose()


def _resolve_plain(text: str) -> Any:
    """Type an untagged plain scalar the way Docker Compose's parser (go-yaml v3) does: YAML 1.2 core booleans
    and nulls, integers as Go's ``ParseInt(s, 0)`` reads them (``0x1f``, ``0o17``, ``0b101``, and ``0440`` as
    octal for YAML 1.1 compatibility, which file modes rely on), underscores ignored in numbers."""
    if text in _NULLS:
        return None
    if text in _TRUES:
        return True
    if text in _FALSES:
        return False
    first = text[:1]
    if not (first.isdigit() or first in "+-."):
        return text
    plain = text.replace("_", "")
    if _INT_RE.fullmatch(plain):
        sign, digits = ("-" if plain[0] == "-" else ""), plain.lstrip("+-")
        if len(digits) > 1 and digits[0] == "0":
            if _OCT11_RE.fullmatch(digits):
                return int(sign + digits[1:], 8)
            return float(plain)  # "08": not an octal integer; Go then reads it as a float
        return int(plain)
    if _PREFIXED_INT_RE.fullmatch(plain):
        return int(plain, 0)
    if _FLOAT_RE.fullmatch(plain):
        return float(plain)
    low = text.lower()
    if low in (".inf", "+.inf"):
        return math.inf
    if low == "-.inf":
        return -math.inf
    if low == ".nan":
        return math.nan
    return text


def _tag(node: Node) -> str | None:
    """``node.tag`` without ruamel's per-node URI decoding (hot path: called for every node)."""
    ctag = node.ctag
    if ctag is None:
        return None
    if ctag.handle is None:
        return ctag.suffix  # type: ignore[no-any-return]
    return node.tag


_new_location = object.__new__
_FAST_LOCATION = "__slots__" not in vars(Location)  # the shortcut needs an instance __dict__


class _Builder:
    def __init__(self, filename: str) -> None:
        self.filename = filename
        self.budget = _MAX_NODES
        self.active: set[int] = set()

    def loc(self, node: Node) -> Location:
        mark = node.start_mark
        if not _FAST_LOCATION:
            return Location(self.filename, mark.line + 1, mark.column + 1)
        # Hot path (every node): fill the frozen dataclass directly, skipping its __init__/__setattr__ checks.
        loc = _new_location(Location)
        loc.__dict__.update(file=self.filename, line=mark.line + 1, column=mark.column + 1)
        return loc

    def fail(self, node: Node, message: str) -> UserError:
        return UserError.single(message, location=self.loc(node))

    def tag_of(self, node: Node) -> str | None:
        """The Compose tag on ``node`` (``reset``/``override``), None for none; unknown local tags fail."""
        tag = _tag(node)
        if tag is None or tag == _PLAIN or tag.startswith(_STD) or tag in ("?", "!"):
            return None
        if tag in COMPOSE_TAGS:
            return COMPOSE_TAGS[tag]
        raise self.fail(node, f"unsupported YAML tag {tag!r}: Compose files allow only !reset and !override")

    def scalar(self, node: ScalarNode) -> Any:
        tag = _tag(node) or ""
        text = node.value
        if tag == _PLAIN:
            return _resolve_plain(text)
        if tag.startswith(_STD):
            kind = tag[len(_STD):]
            if kind == "str":
                return text
            value = _resolve_plain(text)
            wanted = {"int": int, "float": (int, float), "bool": bool, "null": type(None)}.get(kind)
            if wanted is None or not isinstance(value, wanted) or (kind == "int" and isinstance(value, bool)):
                raise self.fail(node, f"cannot read {text!r} as !!{kind}")
            return float(value) if kind == "float" else value
        return text  # quoted, or tagged !reset/!override

    def build(self, node: Node) -> Any:
        self.budget -= 1
        if self.budget < 0:
            raise self.fail(node, "document too large: too many nodes after expanding aliases")
        if isinstance(node, ScalarNode):
            return self.scalar(node)
        if id(node) in self.active:
            raise self.fail(node, "recursive YAML alias: an anchor refers to itself")
        self.active.add(id(node))
        try:
            if isinstance(node, SequenceNode):
                out = LocatedList(loc=self.loc(node))
                for item in node.value:
                    self.tag_of(item)  # reject unknown tags; a tag on a list item has no merge meaning
                    out.add(self.build(item), self.loc(item))
                return out
            if isinstance(node, MappingNode):
                return self.mapping(node)
        finally:
            self.active.discard(id(node))
        raise self.fail(node, f"unexpected YAML node {type(node).__name__}")

    def key_text(self, node: Node) -> str:
        if not isinstance(node, ScalarNode):
            raise self.fail(node, "a mapping key must be a plain string, not a list or a mapping")
        return str(node.value)

    def mapping(self, node: MappingNode) -> LocatedDict:
        out = LocatedDict(loc=self.loc(node))
        merged: list[LocatedDict] = []
        for key_node, value_node in node.value:
            key_tag = _tag(key_node)
            if key_tag == _MERGE_TAG or (key_tag == _PLAIN and key_node.value == "<<"):
                merged.extend(self.merge_sources(value_node))
                continue
            key = self.key_text(key_node)
            if key in out:
                first = out.key_locs[key]
                raise self.fail(key_node, f"duplicate key {key!r} (first defined at line {first.line})")
            tag = self.tag_of(value_node)
            out.set_entry(key, self.build(value_node), self.loc(key_node), tag)
        # Keys of a merge source count only where the mapping does not set them; earlier sources win.
        for source in merged:
            for key, value in source.items():
                if key not in out:
                    out.set_entry(key, value, source.key_locs.get(key), source.tags.get(key))
        return out

    def merge_sources(self, node: Node) -> list[LocatedDict]:
        items = node.value if isinstance(node, SequenceNode) else [node]
        sources = []
        for item in items:
            value = self.build(item)
            if not isinstance(value, LocatedDict):
                raise self.fail(item, "a '<<' merge key needs a mapping or a list of mappings")
            sources.append(value)
        return sources


def read_yaml(text: str, filename: str) -> LocatedDict:
    """Parse one Compose file. An empty file is an empty mapping; anything but a mapping at the top fails."""
    try:
        node = _compose(text)
    except MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        loc = Location(filename, mark.line + 1, mark.column + 1) if mark is not None else None
        problem = " ".join(p for p in (err.context, err.problem) if p) or "invalid YAML"
        raise UserError.single(f"invalid YAML: {problem}", location=loc) from err
    except YAMLError as err:
        first_line = str(err).strip().splitlines()[0] if str(err).strip() else "invalid YAML"
        raise UserError.single(f"invalid YAML: {first_line}", location=Location(filename, 1, 1)) from err
    except (UnicodeError, ValueError) as err:
        raise UserError.single(f"cannot read file: {err}", location=Location(filename, 1, 1)) from err
    if node is None:
        return LocatedDict(loc=Location(filename, 1, 1))
    builder = _Builder(filename)
    try:
        value = builder.build(node)
    except RecursionError as err:
        raise UserError.single("document nested too deeply", location=builder.loc(node)) from err
    if value is None:
        return LocatedDict(loc=builder.loc(node))
    if not isinstance(value, LocatedDict):
        raise builder.fail(node, f"a Compose file must be a mapping at the top level, not {_kind(value)}")
    return value


def _kind(value: Any) -> str:
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return "a string"
    return type(value).__name__
