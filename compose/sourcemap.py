"""Where every value came from: located containers that carry file:line:col through the loader, and the
``SourceMap`` built from them once the config is merged.

``yamlread`` builds ``LocatedDict``/``LocatedList`` trees: each container knows its own location and the
location of each of its keys or items, plus the YAML tag (``!reset``/``!override``) on each entry. The loader
stages (interpolate, merge, extends, include, profiles) keep these containers, so after merging the locations
still point at the file the winning value came from. ``SourceMap.from_tree`` then flattens them to a table of
key paths, and ``to_plain`` strips the tree down to plain dicts and lists.
"""
from __future__ import annotations

from typing import Any, Iterator

from compose.errors import Location

__all__ = [
    "KeyPath",
    "LocatedDict",
    "LocatedList",
    "SourceMap",
    "copy_tree",
    "entry_location",
    "to_plain",
]

KeyPath = tuple[str | int, ...]


class LocatedDict(dict):  # type: ignore[type-arg]
    """A mapping read from YAML: ``loc`` of the mapping, ``key_locs`` per key, ``tags`` per key (if any)."""

    __slots__ = ("loc", "key_locs", "tags")

    def __init__(self, *args: Any, loc: Location | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.loc = loc
        self.key_locs: dict[str, Location] = {}
        self.tags: dict[str, str] = {}

    def set_entry(self, key: str, value: Any, loc: Location | None, tag: str | None = None) -> None:
        self[key] = value
        if loc is not None:
            self.key_locs[key] = loc
        if tag:
            self.tags[key] = tag
        else:
            self.tags.pop(key, None)

    def drop(self, key: str) -> None:
        self.pop(key, None)
        self.key_locs.pop(key, None)
        self.tags.pop(key, None)


class LocatedList(list):  # type: ignore[type-arg]
    """A sequence read from YAML: ``loc`` of the sequence, ``item_locs`` parallel to the items."""

    __slots__ = ("loc", "item_locs")

    def __init__(self, *args: Any, loc: Location | None = None) -> None:
        super().__init__(*args)
        self.loc = loc
        self.item_locs: list[Location | None] = [None] * len(self)

    def add(self, value: Any, loc: Location | None) -> None:
        self.append(value)
        self.item_locs.append(loc)


def entry_location(container: Any, key: str | int) -> Location | None:
    """Location of ``container[key]`` if the container is located, else the container's own location."""
    if isinstance(container, LocatedDict):
        return container.key_locs.get(key, container.loc)  # type: ignore[arg-type]
    if isinstance(container, LocatedList):
        if isinstance(key, int) and 0 <= key < len(container.item_locs):
            return container.item_locs[key] or container.loc
        return container.loc
    return None


def copy_tree(value: Any) -> Any:
    """A deep copy that keeps locations and tags (the loader mutates trees in place)."""
    if isinstance(value, LocatedDict):
        out = LocatedDict(loc=value.loc)
        for k, v in value.items():
            out[k] = copy_tree(v)
        out.key_locs = dict(value.key_locs)
        out.tags = dict(value.tags)
        return out
    if isinstance(value, dict):
        return {k: copy_tree(v) for k, v in value.items()}
    if isinstance(value, LocatedList):
        lst = LocatedList([copy_tree(v) for v in value], loc=value.loc)
        lst.item_locs = list(value.item_locs)
        return lst
    if isinstance(value, list):
        return [copy_tree(v) for v in value]
    return value


def to_plain(value: Any) -> Any:
    """Plain ``dict``/``list``/scalars: no located containers, no tags."""
    if isinstance(value, dict):
        return {k: to_plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [to_plain(v) for v in value]
    return value


def _walk(value: Any, path: KeyPath, loc: Location | None) -> Iterator[tuple[KeyPath, Location]]:
    if loc is not None:
        yield path, loc
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _walk(item, path + (key,), entry_location(value, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _walk(item, path + (i,), entry_location(value, i))


class SourceMap:
    """Key path -> the file:line:col its (winning) value was written at."""

    def __init__(self, table: dict[KeyPath, Location] | None = None) -> None:
        self._table_: dict[KeyPath, Location] | None = dict(table or {})
        self._tree: Any = None
        self._extra: dict[KeyPath, tuple[Any, Location | None]] = {}

    @classmethod
    def from_tree(cls, tree: Any, extra: dict[KeyPath, tuple[Any, Location | None]] | None = None) -> "SourceMap":
        """A map over ``tree`` (a located tree the caller no longer mutates); the table is built on first use.

        ``extra`` adds sub-trees no longer in ``tree`` (services removed by profiles): path -> (value, location).
        """
        out = cls()
        out._table_ = None
        out._tree = tree
        out._extra = dict(extra or {})
        return out

    @property
    def _table(self) -> dict[KeyPath, Location]:
        if self._table_ is None:
            table = dict(_walk(self._tree, (), getattr(self._tree, "loc", None)))
            for path, (value, loc) in self._extra.items():
                table.update(_walk(value, path, loc))
            self._table_ = table
            self._tree = None
            self._extra = {}
        return self._table_

    def locate(self, path: KeyPath) -> Location | None:
        """Location of ``path``, or of its nearest located ancestor; None if nothing is known."""
        path = tuple(path)
        for end in range(len(path), -1, -1):
            loc = self._table.get(path[:end])
            if loc is not None:
                return loc
        return None

    def __contains__(self, path: object) -> bool:
        return path in self._table

    def __len__(self) -> int:
        return len(self._table)
