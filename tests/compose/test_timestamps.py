"""Docker's command-line times (``logs --since/--until``): durations, RFC 3339 forms, Unix timestamps."""
from __future__ import annotations

from datetime import datetime

import pytest

from compose.timestamps import parse_duration, parse_timestamp, parse_timestamp_ns

NOW = 1_700_000_000.0


@pytest.mark.parametrize("text, seconds", [
    ("10m", 600.0), ("2h30m", 9000.0), ("1.5h", 5400.0), ("300ms", 0.3), ("-10s", -10.0), ("0", 0.0),
    ("1h2m3s4ms", 3723.004), ("10", None), ("m", None), ("10x", None), ("", None),
])
def test_go_durations(text, seconds):
    got = parse_duration(text)
    assert got == (None if seconds is None else pytest.approx(seconds))


@pytest.mark.parametrize("text, expected", [
    ("10m", NOW - 600), ("2h30m", NOW - 9000),
    ("2023-11-14T22:13:20Z", 1_700_000_000.0),
    ("2023-11-14T22:13:20.5Z", 1_700_000_000.5),
    ("2023-11-14T22:13:20.123456789Z", 1_700_000_000.123456789),
    ("2023-11-14T23:13:20+01:00", 1_700_000_000.0),
    ("2023-11-14T22:13Z", 1_699_999_980.0),
    ("2023-11-14T22Z", 1_699_999_200.0),
    ("1700000000", 1_700_000_000.0), ("1700000000.25", 1_700_000_000.25),
])
def test_timestamps(text, expected):
    assert parse_timestamp(text, now=NOW) == pytest.approx(expected, abs=1e-6)


def test_no_zone_is_local_time():
    assert parse_timestamp("2023-11-14T22:13:20") == datetime(2023, 11, 14, 22, 13, 20).timestamp()
    assert parse_timestamp("2023-11-14") == datetime(2023, 11, 14).timestamp()


@pytest.mark.parametrize("text", ["yesterday", "2023-13-01", "2023-11-14T25:00Z", "12:00", "1.2.3"])
def test_bad_values_raise(text):
    with pytest.raises(ValueError):
        parse_timestamp(text, now=NOW)


def test_exact_nanoseconds():
    assert parse_timestamp_ns("2026-11-28T12:00:00.123456999Z") == 1_795_867_200_123_456_999
    assert parse_timestamp_ns("1795867200.000000001") == 1_795_867_200_000_000_001


@pytest.mark.parametrize("frac", ["123456999", "999999999", "000000001", "500000000", "654321987"])
def test_since_bound_sent_by_docker_py_keeps_the_named_line(frac):
    """``logs --since <a time logs -t printed>`` keeps that line: the float docker-py sends, as the engine
    reads its decimal form, is at or before the exact time; ``--until`` at or after it."""
    from compose.cli.logs import _moment
    from runtime.daemon.events import parse_time

    text = f"2026-11-28T12:00:00.{frac}Z"
    exact = parse_timestamp_ns(text)
    since, until = _moment("--since", text), _moment("--until", text)
    assert parse_time(str(since), "since") <= exact < parse_time(str(since), "since") + 1000
    assert parse_time(str(until), "until") >= exact > parse_time(str(until), "until") - 1000
