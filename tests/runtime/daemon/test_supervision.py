"""Supervision with real containers: the daemon killed with SIGKILL loses nothing; restart policies with
back-off; health checks turning healthy. Event-driven: the events stream or the wait API, never a sleep."""
from __future__ import annotations

import os
import signal
import time

import pytest

from tests.runtime.daemon.conftest import start_daemon, wait_for
from tests.support.procfs import gone

pytestmark = pytest.mark.root

_LINES = 300


def _events(client, since, until=None, **filters):
    return client.events(since=since, until=until, decode=True, filters=filters or None)


def test_sigkill_daemon_keeps_containers_logs_and_exit_codes(engine, tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    client = engine.client()
    start = time.time()
    # the writer logs _LINES numbered lines, the last ones while the daemon is dead, then keeps running
    writer = client.containers.run(
        "busybox", ["sh", "-c", f"i=0; while [ $i -lt {_LINES} ]; do echo line $i; i=$((i+1)); "
                                f"[ $i -eq 100 ] && while [ ! -f /shared/more ]; do usleep 10000; done; done; "
                                f"exec sleep 1000"],
        detach=True, name="writer", volumes={str(shared): {"bind": "/shared", "mode": "rw"}})
    quitter = client.containers.run(
        "busybox", ["sh", "-c", "while [ ! -f /shared/quit ]; do usleep 10000; done; echo bye; exit 42"],
        detach=True, name="quitter", volumes={str(shared): {"bind": "/shared", "mode": "rw"}})
    writer.reload()
    quitter.reload()
    writer_pid = writer.attrs["State"]["Pid"]
    quitter_pid = quitter.attrs["State"]["Pid"]
    assert writer_pid > 0 and quitter_pid > 0
    wait_for(lambda: b"line 99\n" in writer.logs(), what="the first 100 lines")

    engine.kill(signal.SIGKILL)
    (shared / "more").touch()
    (shared / "quit").touch()
    wait_for(lambda: gone(quitter_pid), what="the quitter to exit while the daemon is down")
    assert not gone(writer_pid)

    restarted = start_daemon(engine.root.parent)
    engine.proc = restarted.proc
    client = restarted.client()
    writer = client.containers.get("writer")
    assert writer.status == "running" and writer.attrs["State"]["Pid"] == writer_pid
    logs = wait_for(lambda: (lambda text: text if f"line {_LINES - 1}\n" in text else None)(
        writer.logs().decode()), what="every line")
    assert logs.splitlines() == [f"line {i}" for i in range(_LINES)]
    quitter = client.containers.get("quitter")
    assert quitter.status == "exited" and quitter.attrs["State"]["ExitCode"] == 42
    assert quitter.logs() == b"bye\n"
    assert quitter.wait()["StatusCode"] == 42
    died = [e for e in _events(client, start, time.time() + 0.5, container="quitter") if e["Action"] == "die"]
    assert [e["Actor"]["Attributes"]["exitCode"] for e in died] == ["42"]
    # the re-adopted container is fully controllable
    writer.stop(timeout=1)
    assert client.containers.get("writer").attrs["State"]["ExitCode"] == 137


def test_on_failure_restarts_with_backoff_then_runs(engine, tmp_path):
    state = tmp_path / "state"
    state.mkdir()
    client = engine.client()
    since = time.time()
    script = ("n=$(cat /s/count 2>/dev/null || echo 0); n=$((n+1)); echo $n > /s/count; echo run $n; "
              "[ $n -ge 3 ] || exit 1; exec sleep 1000")
    events = _events(client, since, container="flaky", type="container")
    box = client.containers.run("busybox", ["sh", "-c", script], detach=True, name="flaky",
                                restart_policy={"Name": "on-failure", "MaximumRetryCount": 5},
                                volumes={str(state): {"bind": "/s", "mode": "rw"}})
    actions = []
    for event in events:
        actions.append(event["Action"])
        if actions.count("start") == 3:
            break
    events.close()
    assert [a for a in actions if a in ("start", "die")] == ["start", "die", "start", "die", "start"]
    box.reload()
    assert box.status == "running" and box.attrs["RestartCount"] == 2
    wait_for(lambda: box.logs() == b"run 1\nrun 2\nrun 3\n", what="the third run's output")
    # an explicit stop is final, even with a policy that would restart
    box.stop(timeout=1)
    assert client.containers.get("flaky").attrs["State"]["Status"] == "exited"


def test_on_failure_gives_up_after_max_retries(engine):
    client = engine.client()
    box = client.containers.run("busybox", ["sh", "-c", "exit 3"], detach=True, name="doomed",
                                restart_policy={"Name": "on-failure", "MaximumRetryCount": 2})
    since = time.time() - 5

    def settled():
        dies = [e for e in _events(client, since, time.time() + 0.2, container="doomed") if e["Action"] == "die"]
        return len(dies) == 3 and client.containers.get("doomed").status == "exited"

    wait_for(settled, what="three runs")
    box.reload()
    assert box.attrs["RestartCount"] == 2 and box.attrs["State"]["ExitCode"] == 3


def test_health_check_turns_healthy(engine):
    client = engine.client()
    since = time.time()
    events = _events(client, since, container="checked")
    box = client.containers.run(
        "busybox", ["sh", "-c", "touch /tmp/started; while [ ! -f /tmp/ok ]; do usleep 50000; done; exec sleep 1000"],
        detach=True, name="checked",
        healthcheck={"Test": ["CMD-SHELL", "[ -f /tmp/seen ] && touch /tmp/ok; touch /tmp/seen; test -f /tmp/ok"],
                     "Interval": 100_000_000, "Timeout": 5_000_000_000, "Retries": 10})
    statuses = []
    for event in events:
        if event["Action"].startswith("health_status"):
            statuses.append(event["Action"].split(": ", 1)[1])
            break
    events.close()
    assert statuses == ["healthy"]
    health = client.containers.get("checked").attrs["State"]["Health"]
    assert health["Status"] == "healthy" and health["FailingStreak"] == 0
    assert [entry["ExitCode"] for entry in health["Log"]][-2:] == [1, 0]
    ps = engine.cli("ps", "--filter", "health=healthy", "--format", "{{.Names}} {{.Status}}").stdout
    assert ps.startswith("checked Up") and "(healthy)" in ps
    box.remove(force=True)


def test_health_check_turns_unhealthy(engine):
    client = engine.client()
    since = time.time()
    events = _events(client, since, container="sick")
    client.containers.run("busybox", ["sleep", "1000"], detach=True, name="sick",
                          healthcheck={"Test": ["CMD", "false"], "Interval": 50_000_000, "Retries": 2})
    for event in events:
        if event["Action"].startswith("health_status"):
            assert event["Action"] == "health_status: unhealthy"
            break
    events.close()
    assert client.containers.get("sick").attrs["State"]["Health"]["FailingStreak"] >= 2


def test_oom_kill_is_reported(engine):
    client = engine.client()
    since = time.time()
    box = client.containers.run("busybox", ["sh", "-c", "x=aaaaaaaaaaaaaaaa; while true; do x=$x$x; done"],
                                detach=True, mem_limit="16m", memswap_limit="16m", network_mode="none")
    assert box.wait(timeout=60)["StatusCode"] == 137
    box.reload()
    assert box.attrs["State"]["OOMKilled"] is True
    actions = [e["Action"] for e in _events(client, since, time.time() + 0.3, container=box.id)]
    assert actions == ["create", "start", "oom", "die"]


def test_always_policy_restarts_a_container_that_died_while_the_daemon_was_down(engine):
    client = engine.client()
    box = client.containers.run("busybox", ["sleep", "1000"], detach=True, name="phoenix", network_mode="none",
                                restart_policy={"Name": "always"})
    box.reload()
    first_pid = box.attrs["State"]["Pid"]
    engine.kill(signal.SIGKILL)
    os.kill(first_pid, signal.SIGKILL)
    wait_for(lambda: gone(first_pid), what="the container to die")
    since = time.time()
    restarted = start_daemon(engine.root.parent)
    engine.proc = restarted.proc
    client = restarted.client()
    events = _events(client, since - 5, container="phoenix")
    seen = []
    for event in events:
        seen.append(event["Action"])
        if event["Action"] == "start":
            break
    events.close()
    assert seen[-2:] == ["die", "start"]
    box = client.containers.get("phoenix")
    assert box.status == "running" and box.attrs["State"]["Pid"] != first_pid and box.attrs["RestartCount"] == 1


def test_orderly_daemon_stop_leaves_containers_running(engine):
    client = engine.client()
    box = client.containers.run("busybox", ["sleep", "1000"], detach=True, name="stays", network_mode="none")
    box.reload()
    pid = box.attrs["State"]["Pid"]
    engine.kill(signal.SIGTERM)
    assert engine.proc.returncode == 0 and not engine.sock.exists()
    assert not gone(pid)
    restarted = start_daemon(engine.root.parent)
    engine.proc = restarted.proc
    again = restarted.client().containers.get("stays")
    assert again.status == "running" and again.attrs["State"]["Pid"] == pid
