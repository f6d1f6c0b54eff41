"""Command-line time values as Docker reads them (``logs --since/--until``): a Go duration before now
(``10m``, ``2h30m``, ``1.5h``), an RFC 3339 date or time (with or without zone, seconds, fraction; no zone
means local time), or a Unix timestamp with an optional fraction."""
from __future__ import annotations

import re
import time
from datetime import datetime, timedelta, timezone

__all__ = ["parse_duration", "parse_timestamp", "parse_timestamp_ns"]

_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_DURATION = re.compile(r"[-+]?(?:(?:\d+\.?\d*|\.\d+)(?:ns|us|µs|μs|ms|s|m|h))+")
_PART = re.compile(r"(\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h)")
_UNIX = re.compile(r"\d+(?:\.\d{1,9})?")
_ZONE = re.compile(r"(?:[zZ]|[+-]\d\d:\d\d)$")


def parse_duration(text: str) -> float | None:
    """Seconds of a Go duration (``1h30m``, ``-10s``, ``0``), or None when ``text`` is not one."""
    if text == "0":
        return 0.0
    if not _DURATION.fullmatch(text):
        return None
    sign = -1.0 if text.startswith("-") else 1.0
    return sign * sum(float(n) * _UNITS[unit] for n, unit in _PART.findall(text))


def _rfc3339_ns(text: str) -> int | None:
    """Nanoseconds since the epoch (exact: a float of today's seconds keeps only ~240 ns) of ``2006-01-02``, ``2006-01-02T15``, ``...T15:04``, ``...T15:04:05[.frac]``,
    each with an optional ``Z``/``+07:00`` zone (local time without one); None when it is not such a value."""
    zone = _ZONE.search(text)
    body = text[:zone.start()] if zone else text
    m = re.fullmatch(r"(\d{4})-(\d\d)-(\d\d)(?:T(\d\d)(?::(\d\d)(?::(\d\d)(?:\.(\d{1,9}))?)?)?)?", body)
    if m is None:
        return None
    year, month, day, hour, minute, second, frac = m.groups()
    if frac is not None and "T" not in body:
        return None
    try:
        tz = None
        if zone:
            mark = zone.group()
            if mark in ("z", "Z"):
                tz = timezone.utc
            else:
                tz = timezone((1 if mark[0] == "+" else -1) * timedelta(hours=int(mark[1:3]), minutes=int(mark[4:6])))
        moment = datetime(int(year), int(month), int(day), int(hour or 0), int(minute or 0), int(second or 0),
                          tzinfo=tz)
    except ValueError:
        return None
    whole = int(moment.timestamp())  # a naive datetime is local time, as Docker without a zone
    return whole * 1_000_000_000 + (int((frac + "000000000")[:9]) if frac else 0)


def parse_timestamp_ns(text: str, now_ns: int | None = None) -> int:
    """Nanoseconds since the epoch that ``text`` names (``now`` minus a duration), exactly as written for
    dates and Unix timestamps; ValueError when it names none."""
    value = text.strip()
    seconds = parse_duration(value)
    if seconds is not None and value != "0":
        return (time.time_ns() if now_ns is None else now_ns) - round(seconds * 1e9)
    moment = _rfc3339_ns(value)
    if moment is not None:
        return moment
    if "-" in value:
        raise ValueError(f"{text!r} is not an RFC 3339 time (2006-01-02T15:04:05Z07:00)")
    if _UNIX.fullmatch(value):
        whole, _, frac = value.partition(".")
        return int(whole) * 1_000_000_000 + int((frac + "000000000")[:9])
    raise ValueError(f"failed to parse value as time or duration: {text!r}")


def parse_timestamp(text: str, now: float | None = None) -> float:
    """Seconds since the epoch that ``text`` names (``now`` minus a duration); ValueError when it names none."""
    return parse_timestamp_ns(text, None if now is None else round(now * 1e9)) / 1e9
