"""Read one Compose YAML document into located containers (see ``sourcemap``), keeping file:line:col.

Scalars are typed as Docker Compose's parser (go-yaml v3) types them: YAML 1.2 booleans and nulls (``yes``/``on``
stay strings), Go integer syntax including ``0440`` as octal (file modes).
Mapping keys are always strings (their source text). Anchors and aliases are expanded (each use is a fresh
copy, with a size budget against alias bombs); ``<<`` merge keys are applied. The Compose tags ``!reset`` and
``!override`` are recorded on the parent container's entry for ``merge`` to act on.

The tree is built straight from the parser's event stream with an explicit stack (no node graph, no
recursion), so a hostile file cannot overflow the C stack; nesting deeper than ``_MAX_DEPTH`` is refused
so that later stages, which recurse, are safe too.
"""
from __future__ import annotations

import math
import re
from typing import Any

from ruamel.yaml import events as ev
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from compose.errors import Location, UserError
from compose.sourcemap import LocatedDict, LocatedList, copy_tree

__all__ = ["COMPOSE_TAGS", "read_yaml"]

COMPOSE_TAGS = {"!reset": "reset", "!override": "override"}
_MAX_NODES = 2_000_000  # expanded nodes per document: stops "billion laughs" alias bombs
_MAX_DEPTH = 200  # nesting levels; real Compose files use about ten

_INT_RE = re.compile(r"[-+]?[0-9]+")
_OCT11_RE = re.compile(r"0[0-7]+")
_PREFIXED_INT_RE = re.compile(r"[-+]?0([xX][0-9a-fA-F]+|[oO][0-7]+|[bB][01]+)")
_FLOAT_RE = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?")
_NULLS = {"", "~", "null", "Null", "NULL"}
_TRUES = {"true", "True", "TRUE"}
_FALSES = {"false", "False", "FALSE"}
_MERGE_TAG = "tag:yaml.org,2002:merge"
_STD = "tag:yaml.org,2002:"
# what a value tagged !!<kind> must read as (!!str takes any text)
_STD_TYPES: dict[str, type | tuple[type, ...]] = {"int": int, "float": (int, float), "bool": bool,
                                                  "null": type(None)}


_MERGE = object()  # the pending key of a '<<' entry


def _loader_class(pure: bool = False) -> type:
    """The event parser: libyaml's through ruamel.yaml.clibz, else ruamel's pure-Python one."""
    if not pure:
        try:
            from ruamel.yaml.cyaml import CBaseLoader
        except ImportError:
            pass
        else:
            return CBaseLoader  # type: ignore[no-any-return]
    from ruamel.yaml.loader import BaseLoader

    return BaseLoader  # type: ignore[no-any-return]


_LOADER: type | None = None


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


_new_location = object.__new__
_FAST_LOCATION = "__slots__" not in vars(Location)  # the shortcut needs an instance __dict__


class _Frame:
    __slots__ = ("container", "anchor", "tag", "loc", "key", "key_loc", "merged")

    def __init__(self, container: Any, anchor: str | None, tag: str | None, loc: Location) -> None:
        self.container = container
        self.anchor = anchor
        self.tag = tag
        self.loc = loc
        self.key: Any = None  # mappings: the key waiting for its value (or _MERGE)
        self.key_loc: Location | None = None
        self.merged: list[LocatedDict] = []


class _Builder:
    """Turns the event stream of one document into located containers."""

    def __init__(self, filename: str) -> None:
        self.filename = filename
        self.budget = _MAX_NODES
        self.anchors: dict[str, Any] = {}
        self.open_anchors: set[str] = set()
        self.stack: list[_Frame] = []
        self.root: Any = None
        self.done = False

    def loc(self, event: Any) -> Location:
        mark = event.start_mark
        if not _FAST_LOCATION:
            return Location(self.filename, mark.line + 1, mark.column + 1)
        # Hot path (every event): fill the frozen dataclass directly, skipping its __init__/__setattr__ checks.
        loc = _new_location(Location)
        loc.__dict__.update(file=self.filename, line=mark.line + 1, column=mark.column + 1)
        return loc

    def fail(self, event: Any, message: str) -> UserError:
        return UserError.single(message, location=self.loc(event))

    def compose_tag(self, event: Any) -> str | None:
        """The Compose tag on ``event`` (``reset``/``override``), None for none; unknown local tags fail."""
        tag = event.tag
        if tag is None or tag == "!" or tag.startswith(_STD):
            return None
        if tag in COMPOSE_TAGS:
            return COMPOSE_TAGS[tag]
        raise self.fail(event, f"unsupported YAML tag {tag!r}: Compose files allow only !reset and !override")

    def scalar_value(self, event: Any) -> Any:
        tag = event.tag
        text = event.value
        if tag is None:
            return _resolve_plain(text) if event.implicit[0] else text
        if tag.startswith(_STD):
            kind = tag[len(_STD):]
            if kind == "str":
                return text
            value = _resolve_plain(text)
            wanted = _STD_TYPES.get(kind)
            fits = wanted is not None and isinstance(value, wanted)  # (a plain bool: keeps ``value`` un-narrowed)
            if not fits or (kind == "int" and isinstance(value, bool)):
                raise self.fail(event, f"cannot read {text!r} as !!{kind}")
            return float(value) if kind == "float" else value
        return text  # tagged !reset / !override / !

    def feed(self, event: Any) -> None:
        self.budget -= 1
        if self.budget < 0:
            raise self.fail(event, "document too large: too many nodes after expanding aliases")
        top = self.stack[-1] if self.stack else None
        expecting_key = top is not None and isinstance(top.container, dict) and top.key is None
        if isinstance(event, ev.ScalarEvent):
            if expecting_key and top is not None:
                self.take_key(top, event)
                return
            tag = self.compose_tag(event)
            value = self.scalar_value(event)
            if event.anchor:
                self.anchors[event.anchor] = value
            self.add(value, self.loc(event), tag, event)
        elif isinstance(event, (ev.MappingStartEvent, ev.SequenceStartEvent)):
            if expecting_key:
                raise self.fail(event, "a mapping key must be a plain string, not a list or a mapping")
            if len(self.stack) >= _MAX_DEPTH:
                raise self.fail(event, f"document nested too deeply (more than {_MAX_DEPTH} levels)")
            loc = self.loc(event)
            container = (LocatedDict(loc=loc) if isinstance(event, ev.MappingStartEvent)
                         else LocatedList(loc=loc))
            if event.anchor:
                self.open_anchors.add(event.anchor)
            self.stack.append(_Frame(container, event.anchor, self.compose_tag(event), loc))
        elif isinstance(event, (ev.MappingEndEvent, ev.SequenceEndEvent)):
            frame = self.stack.pop()
            container = frame.container
            if isinstance(container, LocatedDict):
                self.apply_merge_keys(frame)
            if frame.anchor:
                self.open_anchors.discard(frame.anchor)
                self.anchors[frame.anchor] = container
            self.add(container, frame.loc, frame.tag, event)
        elif isinstance(event, ev.AliasEvent):
            if expecting_key:
                raise self.fail(event, "a mapping key must be a plain string, not an alias")
            name = event.anchor
            if name in self.open_anchors:
                raise self.fail(event, "recursive YAML alias: an anchor refers to itself")
            if name not in self.anchors:
                raise self.fail(event, f"undefined YAML alias *{name}")
            template = self.anchors[name]
            value = copy_tree(template) if isinstance(template, (dict, list)) else template
            self.budget -= _size(value)
            if self.budget < 0:
                raise self.fail(event, "document too large: too many nodes after expanding aliases")
            self.add(value, self.loc(event), None, event)
        elif isinstance(event, ev.DocumentStartEvent) and self.done:
            raise self.fail(event, "expected a single document in the stream but found another document")
        elif isinstance(event, ev.DocumentEndEvent):
            self.done = True

    def take_key(self, frame: _Frame, event: Any) -> None:
        plain = event.tag is None and event.implicit[0]
        if (plain and event.value == "<<") or event.tag == _MERGE_TAG:
            frame.key = _MERGE
        else:
            self.compose_tag(event)  # reject unknown tags on keys too
            frame.key = str(event.value)
        frame.key_loc = self.loc(event)

    def add(self, value: Any, loc: Location, tag: str | None, event: Any) -> None:
        if not self.stack:
            self.root = value
            return
        frame = self.stack[-1]
        container = frame.container
        if isinstance(container, LocatedList):
            container.add(value, loc)
            return
        key, key_loc = frame.key, frame.key_loc
        frame.key = frame.key_loc = None
        if key is _MERGE:
            sources = value if isinstance(value, list) else [value]
            if not sources or not all(isinstance(v, LocatedDict) for v in sources):
                raise self.fail(event, "a '<<' merge key needs a mapping or a list of mappings")
            frame.merged.extend(sources)
            return
        if key in container:
            first = container.key_locs[key]
            raise UserError.single(f"duplicate key {key!r} (first defined at line {first.line})", location=key_loc)
        container.set_entry(key, value, key_loc, tag)

    def apply_merge_keys(self, frame: _Frame) -> None:
        """Keys of ``<<`` sources count only where the mapping does not set them; earlier sources win."""
        out = frame.container
        for source in frame.merged:
            for key, value in source.items():
                if key not in out:
                    out.set_entry(key, value, source.key_locs.get(key), source.tags.get(key))


def _size(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + sum(_size(v) for v in value.values())
    if isinstance(value, list):
        return 1 + sum(_size(v) for v in value)
    return 1


def _parse(loader_class: type, text: str, filename: str) -> Any:
    builder = _Builder(filename)
    loader = loader_class(text)
    try:
        while True:
            event = loader.get_event()
            if isinstance(event, ev.StreamEndEvent):
                break
            builder.feed(event)
    finally:
        loader.dispose()
    return builder.root


def read_yaml(text: str, filename: str) -> LocatedDict:
    """Parse one Compose file. An empty file is an empty mapping; anything but a mapping at the top fails."""
    global _LOADER
    if _LOADER is None:
        _LOADER = _loader_class()
    try:
        try:
            value = _parse(_LOADER, text, filename)
        except MarkedYAMLError:
            # libyaml follows YAML 1.1 in places where Docker Compose's parser follows 1.2, e.g. it rejects
            # ``ports: [8080:80]``; the pure-Python parser reads those. Its verdict (or error) stands.
            pure = _loader_class(pure=True)
            if _LOADER is pure:
                raise
            value = _parse(pure, text, filename)
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
    except RecursionError as err:  # copying a deeply nested alias
        raise UserError.single("document nested too deeply", location=Location(filename, 1, 1)) from err
    if value is None:
        return LocatedDict(loc=Location(filename, 1, 1))
    if not isinstance(value, LocatedDict):
        raise UserError.single(f"a Compose file must be a mapping at the top level, not {_kind(value)}",
                               location=Location(filename, 1, 1))
    return value


def _kind(value: Any) -> str:
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return "a string"
    return type(value).__name__
