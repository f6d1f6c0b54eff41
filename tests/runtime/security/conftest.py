"""``in_child(fn)``: run ``fn`` in a forked child (which may confine itself for good) and return its JSON result,
or re-raise its exception text. The child always ends with ``os._exit``; the parent reaps it."""
from __future__ import annotations

import json
import os
import traceback
from collections.abc import Callable
from typing import Any

import pytest


class ChildError(Exception):
    pass


def _run(fn: Callable[[], Any]) -> Any:
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        os.close(r)
        try:
            try:
                payload = {"ok": fn()}
            except BaseException as err:  # noqa: BLE001 - report everything to the parent
                payload = {"error": f"{type(err).__name__}: {err}", "tb": traceback.format_exc()}
            data = json.dumps(payload).encode()
            while data:
                data = data[os.write(w, data):]
        finally:
            os._exit(0)
    os.close(w)
    chunks = []
    while True:
        chunk = os.read(r, 65536)
        if not chunk:
            break
        chunks.append(chunk)
    os.close(r)
    _, status = os.waitpid(pid, 0)
    if not chunks:
        raise ChildError(f"child died without a result (wait status {status:#x})")
    payload = json.loads(b"".join(chunks))
    if "error" in payload:
        raise ChildError(payload["error"] + "\n" + payload["tb"])
    return payload["ok"]


@pytest.fixture
def in_child() -> Callable[[Callable[[], Any]], Any]:
    return _run
