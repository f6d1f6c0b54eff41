"""Docker's network list and prune filters, over network records."""
from __future__ import annotations

import datetime as _dt
from collections.abc import Iterable, Mapping

from runtime.errors import InvalidArgument
from runtime.network.model import Network

__all__ = ["filter_networks", "label_match", "created_before"]


def label_match(labels: Mapping[str, str], wanted: str) -> bool:
    """``key`` matches any value; ``key=value`` only that value."""
    key, sep, value = wanted.partition("=")
    return key in labels and (not sep or labels[key] == value)


def created_before(created: str, until: str) -> bool:
    """``until``: a unix timestamp or an RFC 3339 time."""
    try:
        stamp = _dt.datetime.fromisoformat(created.replace("Z", "+00:00"))
        if until.isdigit():
            limit = _dt.datetime.fromtimestamp(int(until), _dt.timezone.utc)
        else:
            limit = _dt.datetime.fromisoformat(until.replace("Z", "+00:00"))
    except ValueError as err:
        raise InvalidArgument(f"invalid until filter {until!r}") from err
    return stamp < limit


def filter_networks(nets: list[Network], filters: Mapping[str, Iterable[str]] | None) -> list[Network]:
    """``name`` (substring), ``id`` (prefix), ``label`` (all given), ``driver``, ``type`` (custom/builtin),
    ``scope``, ``dangling``; an unknown key is an error, as with Docker."""
    for key, wanted in (filters or {}).items():
        values = list(wanted)
        if not values:
            continue
        if key == "name":
            nets = [n for n in nets if any(v in n.name for v in values)]
        elif key == "id":
            nets = [n for n in nets if any(n.id.startswith(v) for v in values)]
        elif key == "label":
            nets = [n for n in nets if all(label_match(n.labels, v) for v in values)]
        elif key == "driver":
            nets = [n for n in nets if n.driver in values]
        elif key == "type":
            nets = [n for n in nets if ("builtin" if n.predefined else "custom") in values]
        elif key == "scope":
            nets = [n for n in nets if n.scope in values]
        elif key == "dangling":
            want = values[0].lower() in ("1", "true")
            nets = [n for n in nets if (not n.endpoints and not n.predefined) == want]
        else:
            raise InvalidArgument(f"invalid filter {key!r}")
    return nets
