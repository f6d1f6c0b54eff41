"""Docker's time format, written once (runtime.timestamps) and read back by the engine's own parser."""
from __future__ import annotations

import time

from runtime.daemon.logs import parse_log_time
from runtime.timestamps import now_rfc3339, rfc3339nano


def test_go_rfc3339nano_and_back():
    for ns in (1_700_000_000_000_000_000, 1_700_000_000_120_000_000, 1_700_000_000_000_000_001):
        assert parse_log_time(rfc3339nano(ns)) == ns
    assert rfc3339nano(1_700_000_000_120_000_000) == "2023-11-14T22:13:20.12Z"


def test_now_is_now():
    before = time.time_ns()
    stamp = now_rfc3339()
    after = time.time_ns()
    assert stamp.endswith("Z") and before <= parse_log_time(stamp) <= after
