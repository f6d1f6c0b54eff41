"""Scalar conversions the Compose file needs: durations (``1m30s``), byte sizes (``512m``), booleans and numbers
that interpolation may have turned into strings.

Each parser raises ``ValueError`` with a message fit for a user (the caller adds file, line and key path).
"""
from __future__ import annotations

import re

__all__ = [
    "parse_duration",
    "format_duration",
    "parse_bytes",
    "parse_bool",
    "parse_int",
    "parse_float",
]

_DURATION_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")
_BYTES = re.compile(r"^(\d+(?:\.\d+)?)\s*([kmgtp]?)(i?b?)$", re.IGNORECASE)
_BYTE_FACTORS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4, "p": 1024**5}
_TRUE = {"1", "t", "true", "y", "yes", "on"}
_FALSE = {"0", "f", "false", "n", "no", "off"}


def parse_duration(value: str | int | float) -> float:
    """Seconds from a Go-style duration (``1m30s``, ``1.5h``, ``300ms``, ``-5s``); a bare number means seconds."""
    if not isinstance(value, (str, int, float)):
        raise ValueError(f"expected a duration like '1m30s', got {_kind(value)}")
    if isinstance(value, bool):
        raise ValueError(f"expected a duration like '1m30s', got {value!r}")
    if isinstance(value, (int, float)):
        return float(value)
    text = value.strip()
    sign = 1.0
    if text[:1] in "+-" and text:
        sign, text = (-1.0 if text[0] == "-" else 1.0), text[1:]
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return sign * float(text)
    pos, total = 0, 0.0
    while pos < len(text):
        match = _DURATION_PART.match(text, pos)
        if not match:
            raise ValueError(f"expected a duration like '1m30s' or '500ms', got {value!r}")
        total += float(match.group(1)) * _DURATION_UNITS[match.group(2)]
        pos = match.end()
    if not text:
        raise ValueError("expected a duration like '1m30s', got an empty string")
    return sign * total


def format_duration(seconds: float) -> str:
    """The Go ``time.Duration.String()`` form Docker Compose prints: ``1m30s``, ``500ms``, ``1h0m0s``, ``0s``."""
    nanos = round(seconds * 1e9)
    if nanos == 0:
        return "0s"
    sign = "-" if nanos < 0 else ""
    nanos = abs(nanos)
    if nanos < 1_000_000_000:
        for unit, size in (("ms", 1_000_000), ("µs", 1_000), ("ns", 1)):
            if nanos >= size:
                return sign + _trim(nanos / size) + unit
    hours, rest = divmod(nanos, 3600 * 1_000_000_000)
    minutes, rest = divmod(rest, 60 * 1_000_000_000)
    secs = _trim(rest / 1e9) + "s"
    if hours:
        return f"{sign}{hours}h{minutes}m{secs}"
    if minutes:
        return f"{sign}{minutes}m{secs}"
    return sign + secs


def _trim(number: float) -> str:
    text = f"{number:.9f}".rstrip("0").rstrip(".")
    return text or "0"


def parse_bytes(value: str | int | float) -> int:
    """Bytes from ``512m``, ``1g``, ``1.5GB``, ``100kib``, ``1024`` (binary units, as Docker's RAMInBytes)."""
    if not isinstance(value, (str, int, float)):
        raise ValueError(f"expected a size like '512m', got {_kind(value)}")
    if isinstance(value, bool):
        raise ValueError(f"expected a size like '512m', got {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value)
    text = value.strip()
    if re.fullmatch(r"-\d+", text):
        return int(text)
    match = _BYTES.match(text)
    if not match:
        raise ValueError(f"expected a size like '512m' or '2g', got {value!r}")
    number, unit = float(match.group(1)), match.group(2).lower()
    return int(number * _BYTE_FACTORS[unit])


def parse_bool(value: str | bool | int) -> bool:
    """A boolean from YAML or from an interpolated string (``true``, ``False``, ``1``, ``no``...)."""
    if not isinstance(value, (str, int, float)):
        raise ValueError(f"expected true or false, got {_kind(value)}")
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value != 0
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(f"expected true or false, got {value!r}")


def parse_int(value: str | int | float) -> int:
    """An integer from YAML or an interpolated string."""
    if not isinstance(value, (str, int, float)):
        raise ValueError(f"expected an integer, got {_kind(value)}")
    if isinstance(value, bool):
        raise ValueError(f"expected an integer, got {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if value.is_integer():
            return int(value)
        raise ValueError(f"expected an integer, got {value!r}")
    try:
        return int(value.strip(), 10)
    except ValueError:
        raise ValueError(f"expected an integer, got {value!r}") from None


def parse_float(value: str | int | float) -> float:
    """A number from YAML or an interpolated string."""
    if not isinstance(value, (str, int, float)):
        raise ValueError(f"expected a number, got {_kind(value)}")
    if isinstance(value, bool):
        raise ValueError(f"expected a number, got {value!r}")
    if isinstance(value, (int, float)):
        return float(value)
    try:
        return float(value.strip())
    except ValueError:
        raise ValueError(f"expected a number, got {value!r}") from None


def _kind(value: object) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, (list, tuple)):
        return "a list"
    return "an empty value" if value is None else type(value).__name__
