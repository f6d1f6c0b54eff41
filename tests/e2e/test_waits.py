"""``compose.engine.waits.watching`` on our engine: the wait ends on the container's own event, long before
its window (what lets ``depends_on: service_healthy`` and ``--wait`` go on the moment the state changes)."""
from __future__ import annotations

import secrets
import threading

import pytest

from tests.e2e.test_up_down import engine  # noqa: F401 - the module-scoped engine with busybox:local

pytestmark = pytest.mark.root


def test_changed_returns_on_the_containers_event_not_at_the_end_of_the_window(engine):  # noqa: F811
    from compose.engine.client import connect
    from compose.engine.waits import watching

    api = connect(engine.url)
    box = engine.client().containers.run("busybox:local", ["sleep", "3600"], detach=True,
                                         name=f"pcw{secrets.token_hex(3)}")
    try:
        woke = threading.Event()
        with watching(api, box.name, 600) as changed:
            waiter = threading.Thread(target=lambda: (changed(), woke.set()), daemon=True)
            waiter.start()
            assert not woke.wait(0.2)  # nothing happened to the container yet: still waiting
            box.kill()
            assert woke.wait(60), "changed() did not return on the container's die event"
    finally:
        box.remove(force=True)


def test_an_unrelated_container_does_not_end_the_wait(engine):  # noqa: F811
    from compose.engine.client import connect
    from compose.engine.waits import watching

    from tests.e2e.test_up_down import _wait_for

    api = connect(engine.url)
    client = engine.client()
    mine = client.containers.run("busybox:local", ["sleep", "3600"], detach=True, name=f"pcw{secrets.token_hex(3)}")
    other = client.containers.run("busybox:local", ["sleep", "3600"], detach=True,
                                  name=f"pcw{secrets.token_hex(3)}")
    try:
        with watching(api, mine.name, 600) as changed:
            woke = threading.Event()
            waiter = threading.Thread(target=lambda: (changed(), woke.set()), daemon=True)
            waiter.start()
            other.kill()
            _wait_for(lambda: (other.reload(), other.status)[1] == "exited", what="the other container to exit")
            assert not woke.wait(0.3), "woken by another container's event"
            mine.kill()
            assert woke.wait(60)
    finally:
        mine.remove(force=True)
        other.remove(force=True)
