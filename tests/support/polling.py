"""Wait for a condition by polling it against a deadline (for state the tests can only observe, not be told of)."""
from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

__all__ = ["wait_for"]

T = TypeVar("T")


def wait_for(predicate: Callable[[], T], timeout: float = 30.0, what: str = "condition", interval: float = 0.02) -> T:
    """Poll ``predicate`` until it returns a truthy value (returned) or ``timeout`` seconds pass (then
    ``AssertionError`` naming ``what``)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(interval)  # the polling interval of a condition with a deadline, not synchronisation by sleep
