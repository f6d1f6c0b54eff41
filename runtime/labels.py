"""Docker's ``label`` filter, shared by the engine's list endpoints and the volume service's prune."""
from __future__ import annotations

__all__ = ["labels_match"]


def labels_match(labels: dict[str, str], wanted: list[str]) -> bool:
    """``label=key`` / ``label=key=value`` (all must hold); ``label!=`` style negation with ``!``."""
    for item in wanted:
        negate = item.startswith("!")
        key, sep, value = item.lstrip("!").partition("=")
        hit = key in labels and (not sep or labels[key] == value)
        if hit == negate:
            return False
    return True
