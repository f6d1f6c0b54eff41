"""The daemon's record of a start is written just after the reply (``Records.save_soon``): a daemon killed in
between must still treat the container as started when it comes back (exit reported, restart policy applied),
and the record is on disk once the reply has been read."""
from __future__ import annotations

import json
import os
import signal
import time

import pytest

from tests.runtime.daemon.conftest import start_daemon, wait_for
from tests.support.procfs import gone

pytestmark = pytest.mark.root


def _record(engine, cid: str) -> dict:
    return json.loads((engine.root / "daemon" / "containers" / f"{cid}.json").read_text())


def test_start_record_on_disk_after_the_reply(engine):
    client = engine.client()
    box = client.containers.create("busybox", ["sleep", "1000"], network_mode="none")
    assert _record(engine, box.id)["LastStatus"] == "created"
    box.start()
    # written on the loop right after the reply: any later request is answered after it
    client.api.inspect_container(box.id)
    assert _record(engine, box.id)["LastStatus"] == "running"
    box.remove(force=True)


def test_start_whose_record_write_was_lost_is_adopted_as_started(engine):
    client = engine.client()
    box = client.containers.run("busybox", ["sleep", "1000"], detach=True, name="lost", network_mode="none",
                                restart_policy={"Name": "on-failure", "MaximumRetryCount": 1})
    box.reload()
    pid = box.attrs["State"]["Pid"]
    engine.kill(signal.SIGKILL)
    # as if the daemon had died between the start's reply and its record write
    path = engine.root / "daemon" / "containers" / f"{box.id}.json"
    rec = json.loads(path.read_text())
    rec["LastStatus"], rec["ManuallyStopped"] = "created", True
    path.write_text(json.dumps(rec))
    restarted = start_daemon(engine.root.parent)
    engine.proc = restarted.proc
    client = restarted.client()
    box = client.containers.get("lost")
    assert box.status == "running" and box.attrs["State"]["Pid"] == pid
    assert _record(engine, box.id)["LastStatus"] == "running"
    since = time.time()
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: gone(pid), what="the container to die")
    wait_for(lambda: (lambda s: s["RestartCount"] == 1 and s["State"]["Running"])(
        client.api.inspect_container(box.id)), what="the on-failure policy's restart")
    seen = [e["Action"] for e in client.events(since=since - 1, until=time.time() + 0.5, decode=True,
                                               filters={"container": box.id})]
    assert seen == ["die", "start"]  # its exit was reported and the on-failure policy restarted it
    box.remove(force=True)
