"""Merging Compose files (and ``extends``): the spec's merge rules as a table of key-path patterns.

Mappings merge key by key, the override winning; scalars are replaced; sequences are appended, except where
the table says otherwise: ``command``, ``entrypoint`` and ``healthcheck.test`` are replaced, key/value lists
(``environment``, ``labels``, ...) merge by key in either list or mapping form, and lists with a natural key
(ports, volumes by target, secrets, configs, env_file, dns, cap_add, expose, ...) are appended with
de-duplication by that key: entries sharing a key merge in place (mappings), else the later one replaces.
The YAML tags ``!reset`` (drop the base value) and ``!override`` (replace without merging) act on the entry
that carries them.

Works on located trees (``sourcemap``): every merged entry keeps the location of the file it came from.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from compose.sourcemap import KeyPath, LocatedDict, LocatedList, copy_tree, entry_location

__all__ = ["merge_configs", "merge_service", "strip_tags"]

Merger = Callable[[Any, Any, KeyPath], Any]


def _ld(value: Any) -> LocatedDict:
    return value if isinstance(value, LocatedDict) else LocatedDict(value or {})


def _ll(value: Any) -> LocatedList:
    if isinstance(value, LocatedList):
        return value
    return LocatedList(value or [])


# ---- key functions for de-duplicated sequences --------------------------------------------------------------

def _scalar_key(item: Any) -> Any:
    # typed: 1, 1.0 and True are equal in Python but different values in a Compose file
    return (type(item).__name__, item if not isinstance(item, (dict, list)) else repr(item))


def _port_key(item: Any) -> Any:
    if isinstance(item, dict):
        ip = item.get("host_ip") or ""
        return f"{ip}:{item.get('published') or ''}:{item.get('target')}/{item.get('protocol') or 'tcp'}"
    text = str(item)
    text, _, proto = text.partition("/")
    fields = text.rsplit(":", 2) if not text.startswith("[") or "]:" in text else [text]
    while len(fields) < 3:
        fields.insert(0, "")
    ip, published, target = fields
    return f"{ip.strip('[]')}:{published}:{target}/{proto or 'tcp'}"


def _volume_key(item: Any) -> Any:
    if isinstance(item, dict):
        return item.get("target")
    parts = str(item).split(":")
    return parts[1] if len(parts) >= 2 else parts[0]


def _mount_key(default_dir: str) -> Callable[[Any], Any]:
    def key(item: Any) -> Any:
        if isinstance(item, dict):
            target = item.get("target")
            if target:
                return target if str(target).startswith("/") else f"{default_dir}/{target}"
            return f"{default_dir}/{item.get('source')}"
        return f"{default_dir}/{item}"

    return key


def _env_file_key(item: Any) -> Any:
    return item.get("path") if isinstance(item, dict) else item


def _kv_split(item: Any, seps: str) -> tuple[str, Any]:
    text = str(item)
    cut = min((i for i in (text.find(s) for s in seps) if i >= 0), default=-1)
    if cut < 0:
        return text, None
    return text[:cut], text[cut + 1:]


# ---- merge strategies ---------------------------------------------------------------------------------------

def _replace(base: Any, over: Any, path: KeyPath) -> Any:
    return over


def _unique(key: Callable[[Any], Any]) -> Merger:
    def merge(base: Any, over: Any, path: KeyPath) -> Any:
        if not isinstance(base, list) or not isinstance(over, list):
            return over
        base, over = _ll(base), _ll(over)
        out = LocatedList(loc=over.loc or base.loc)
        index: dict[Any, int] = {}
        for source in (base, over):
            for i, item in enumerate(source):
                k = key(item)
                if isinstance(k, (dict, list)):  # malformed entry (the schema reports it): keep it distinct
                    k = ("unhashable", repr(k))
                loc = entry_location(source, i)
                if k in index:  # same unique key: entries merge (mappings) or the later one replaces
                    at = index[k]
                    if isinstance(out[at], dict) and isinstance(item, dict):
                        item = _merge_mappings(_ld(copy_tree(out[at])), _ld(item), path + (at,))
                    out[at] = item
                    out.item_locs[at] = loc
                else:
                    index[k] = len(out)
                    out.add(item, loc)
        return out

    return merge


def _as_mapping(value: Any, seps: str, list_value: Callable[[Any], Any] | None = None) -> LocatedDict | None:
    """A key/value list or mapping as a mapping; None when it is neither."""
    if isinstance(value, dict):
        return _ld(value)
    if not isinstance(value, list):
        return None
    out = LocatedDict(loc=getattr(value, "loc", None))
    for i, item in enumerate(value):
        if list_value is not None:
            k, v = str(item), list_value(item)
        else:
            k, v = _kv_split(item, seps)
        out.set_entry(k, v, entry_location(value, i))
    return out


def _key_values(seps: str) -> Merger:
    """``environment``-like: merge by key; the result is a mapping if either side is one, else a list."""

    def merge(base: Any, over: Any, path: KeyPath) -> Any:
        if isinstance(base, list) and isinstance(over, list):
            return _unique(lambda item: _kv_split(item, seps)[0])(base, over, path)
        b, o = _as_mapping(base, seps), _as_mapping(over, seps)
        if b is None or o is None:
            return over
        return _merge_mappings(b, o, path)

    return merge


def _list_or_map(list_value: Callable[[Any], Any]) -> Merger:
    """``depends_on``/service ``networks``: list form or mapping form; union by name."""

    def merge(base: Any, over: Any, path: KeyPath) -> Any:
        if isinstance(base, list) and isinstance(over, list):
            return _unique(_scalar_key)(base, over, path)
        b = _as_mapping(base, "", list_value)
        o = _as_mapping(over, "", list_value)
        if b is None or o is None:
            return over
        return _merge_mappings(b, o, path)

    return merge


def _build(base: Any, over: Any, path: KeyPath) -> Any:
    def as_map(value: Any) -> Any:
        if isinstance(value, str):
            return LocatedDict({"context": value})
        return value

    b, o = as_map(base), as_map(over)
    if isinstance(b, dict) and isinstance(o, dict):
        return _merge_mappings(_ld(b), _ld(o), path)
    return over


def _logging(base: Any, over: Any, path: KeyPath) -> Any:
    if isinstance(base, dict) and isinstance(over, dict):
        driver_b, driver_o = base.get("driver"), over.get("driver")
        if driver_b is not None and driver_o is not None and driver_b != driver_o:
            return over  # another driver: its options have nothing to do with the base's
        return _merge_mappings(_ld(base), _ld(over), path)
    return over


_KV = _key_values("=")
_RULES: list[tuple[tuple[str, ...], Merger]] = [
    (("services", "*", "command"), _replace),
    (("services", "*", "entrypoint"), _replace),
    (("services", "*", "healthcheck", "test"), _replace),
    (("services", "*", "build"), _build),
    (("services", "*", "build", "args"), _KV),
    (("services", "*", "build", "labels"), _KV),
    (("services", "*", "build", "additional_contexts"), _KV),
    (("services", "*", "build", "extra_hosts"), _key_values("=:")),
    (("services", "*", "build", "tags"), _unique(_scalar_key)),
    (("services", "*", "build", "platforms"), _unique(_scalar_key)),
    (("services", "*", "build", "cache_from"), _unique(_scalar_key)),
    (("services", "*", "build", "secrets"), _unique(_mount_key("/run/secrets"))),
    (("services", "*", "environment"), _KV),
    (("services", "*", "labels"), _KV),
    (("services", "*", "annotations"), _KV),
    (("services", "*", "sysctls"), _KV),
    (("services", "*", "deploy", "labels"), _KV),
    (("services", "*", "extra_hosts"), _key_values("=:")),
    (("services", "*", "ports"), _unique(_port_key)),
    (("services", "*", "volumes"), _unique(_volume_key)),
    (("services", "*", "devices"), _unique(_volume_key)),
    (("services", "*", "secrets"), _unique(_mount_key("/run/secrets"))),
    (("services", "*", "configs"), _unique(_mount_key(""))),
    (("services", "*", "env_file"), _unique(_env_file_key)),
    (("services", "*", "label_file"), _unique(_env_file_key)),
    (("services", "*", "depends_on"), _list_or_map(lambda _: LocatedDict({"condition": "service_started"}))),
    (("services", "*", "networks"), _list_or_map(lambda _: None)),
    (("services", "*", "ulimits", "*"), _replace),
    (("services", "*", "logging"), _logging),
    (("networks", "*", "labels"), _KV),
    (("volumes", "*", "labels"), _KV),
    (("secrets", "*", "labels"), _KV),
    (("configs", "*", "labels"), _KV),
]
_RULES_BY_LEN: dict[int, list[tuple[tuple[str, ...], Merger]]] = {}
for _pattern, _fn in _RULES:
    _RULES_BY_LEN.setdefault(len(_pattern), []).append((_pattern, _fn))


def _rule(path: KeyPath) -> Merger | None:
    for pattern, fn in _RULES_BY_LEN.get(len(path), ()):
        if all(p == "*" or p == k for p, k in zip(pattern, path)):
            return fn
    return None


def _merge_value(base: Any, over: Any, path: KeyPath) -> Any:
    if over is None and isinstance(base, (dict, list)):
        return base  # an empty override (``web:`` with nothing under it) leaves the base alone
    rule = _rule(path)
    if rule is not None:
        return rule(base, over, path)
    if isinstance(base, dict) and isinstance(over, dict):
        return _merge_mappings(_ld(base), _ld(over), path)
    if isinstance(base, list) and isinstance(over, list):
        return _unique(_scalar_key)(base, over, path)
    return over


def _merge_mappings(base: LocatedDict, over: LocatedDict, path: KeyPath) -> LocatedDict:
    """Merge ``over`` into ``base`` (mutated and returned)."""
    for key, value in over.items():
        tag = over.tags.get(key)
        loc = over.key_locs.get(key, over.loc)
        if tag == "reset":
            base.drop(key)
        elif tag == "override" or key not in base:
            base.set_entry(key, strip_tags(value), loc)
        else:
            base.set_entry(key, _merge_value(base[key], value, path + (key,)), loc)
    if over.loc is not None and base.loc is None:
        base.loc = over.loc
    return base


def strip_tags(tree: Any) -> Any:
    """Apply ``!reset``/``!override`` within a single tree (no base): reset entries go, tags are cleared."""
    if isinstance(tree, LocatedDict):
        for key in [k for k, t in tree.tags.items() if t == "reset"]:
            tree.drop(key)
        tree.tags.clear()
        for value in tree.values():
            strip_tags(value)
    elif isinstance(tree, list):
        for value in tree:
            strip_tags(value)
    return tree


def merge_configs(base: Any, override: Any, path: KeyPath = ()) -> Any:
    """Merge two whole files (or sub-trees at ``path``): a new tree, the inputs left unchanged."""
    base = strip_tags(copy_tree(base))
    over = copy_tree(override)
    return strip_tags(_merge_value(base, over, path) if path else _merge_any(base, over))


def _merge_any(base: Any, over: Any) -> Any:
    if isinstance(base, dict) and isinstance(over, dict):
        return _merge_mappings(_ld(base), _ld(over), ())
    return over


def merge_service(base: Any, override: Any, name: str) -> Any:
    """Merge one service definition over another (``extends``), with the service rules of the table."""
    return merge_configs(base, override, ("services", name))
