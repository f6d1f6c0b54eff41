"""Docker's timestamps: Go's RFC3339Nano in UTC (``2023-11-14T22:13:20.12Z``: nanoseconds, trailing zeros of the
fraction dropped), as the Engine API, the json-file log and image configs carry them. Standard library only."""
from __future__ import annotations

import time

__all__ = ["rfc3339nano", "now_rfc3339"]


def rfc3339nano(ns: int) -> str:
    """Unix time ``ns`` (nanoseconds) as Go's RFC3339Nano in UTC."""
    secs, frac = divmod(ns, 1_000_000_000)
    digits = f"{frac:09d}".rstrip("0")
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs)) + (f".{digits}" if digits else "") + "Z"


def now_rfc3339() -> str:
    """The time now, as ``rfc3339nano`` writes it."""
    return rfc3339nano(time.time_ns())
