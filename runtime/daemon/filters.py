"""Docker's ``filters`` query parameter (JSON: key -> list or key -> {value: true}) and the common matchers."""
from __future__ import annotations

from collections.abc import Iterable

from runtime.daemon.server import Request
from runtime.errors import InvalidArgument
from runtime.labels import labels_match  # re-exported: the daemon's handlers import it from here

__all__ = ["parse_filters", "labels_match", "names_match"]


def parse_filters(req: Request, allowed: Iterable[str]) -> dict[str, list[str]]:
    raw = req.json_arg("filters") or {}
    if not isinstance(raw, dict):
        raise InvalidArgument("invalid filter: filters must be a JSON object")
    known = set(allowed)
    out: dict[str, list[str]] = {}
    for key, value in raw.items():
        if key not in known:
            raise InvalidArgument(f"invalid filter '{key}'")
        if isinstance(value, dict):
            out[key] = [k for k, on in value.items() if on]
        elif isinstance(value, list):
            out[key] = [str(v) for v in value]
        else:
            out[key] = [str(value)]
    return out


def names_match(name: str, wanted: list[str]) -> bool:
    """Docker's ``name=`` filter is an unanchored regular expression (substring for plain names)."""
    import re

    name = name.lstrip("/")
    for pattern in wanted:
        try:
            if re.search(pattern, name) or re.search(pattern, "/" + name):
                return True
        except re.error:
            if pattern in name:
                return True
    return False
