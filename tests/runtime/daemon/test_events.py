"""The events stream: live events with filters, replay with since/until, volume create/destroy."""
from __future__ import annotations

import threading
import time

from runtime.daemon.events import EventBus, event_matches


def test_filters_match_docker_rules():
    bus = EventBus()
    ev = bus.publish("container", "die", "a" * 64, {"name": "web", "image": "busybox", "exitCode": "3",
                                                    "com.docker.compose.project": "p"})
    assert ev["status"] == "die" and ev["from"] == "busybox"
    assert event_matches(ev, {"type": ["container"], "event": ["die"]})
    assert event_matches(ev, {"container": ["web"]})
    assert event_matches(ev, {"label": ["com.docker.compose.project=p"]})
    assert not event_matches(ev, {"label": ["com.docker.compose.project=q"]})
    assert not event_matches(ev, {"type": ["network"]})
    assert not event_matches(ev, {"volume": ["web"]})
    health = bus.publish("container", "health_status: healthy", "b" * 64, {})
    assert event_matches(health, {"event": ["health_status"]})


def test_events_stream_live_and_replay(daemon):
    client = daemon.client()
    start = time.time()
    got: list[dict] = []
    ready = threading.Event()

    def listen():
        stream = client.events(decode=True, filters={"type": "volume"})
        ready.set()
        for event in stream:
            got.append(event)
            if event["Action"] == "destroy":
                stream.close()
                return

    reader = threading.Thread(target=listen)
    reader.start()
    ready.wait(10)
    # the subscription is registered once the daemon sent the response head; create after that
    client.volumes.create("evvol")
    client.volumes.get("evvol").remove()
    reader.join(30)
    assert not reader.is_alive()
    assert [(e["Type"], e["Action"], e["Actor"]["ID"]) for e in got] == [
        ("volume", "create", "evvol"), ("volume", "destroy", "evvol")]
    # replay: since + until returns the past events and ends
    past = list(client.events(since=start - 1, until=time.time() + 0.5, decode=True,
                              filters={"volume": "evvol"}))
    assert [e["Action"] for e in past] == ["create", "destroy"]


def test_events_cli_since_until(daemon):
    start = int(time.time())
    daemon.cli("volume", "create", "clivol2")
    out = daemon.cli("events", "--since", str(start - 1), "--until", str(int(time.time()) + 1),
                     "--filter", "type=volume", "--format", "{{.Action}} {{.Actor.ID}}").stdout
    assert out.split("\n")[0] == "create clivol2"
