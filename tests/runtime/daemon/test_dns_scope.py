"""The embedded-DNS scope through the daemon: prepared at create (sockets and redirect in the container's netns
before it starts), serving from the first query after start, gone with a container removed before it started,
and re-adopted (or prepared again) after the daemon is killed."""
from __future__ import annotations

import os
import signal

import pytest

from tests.runtime.daemon.conftest import start_daemon, wait_for
from tests.runtime.dns.support import addresses, ask, listening_on_11

pytestmark = pytest.mark.root


def _sandbox(client, cid: str) -> str:
    return client.api.inspect_container(cid)["NetworkSettings"]["SandboxKey"]


def test_scope_is_ready_after_create_and_answers_the_first_query(engine):
    client = engine.client()
    net = client.networks.create(engine.prefix + "dns")
    web = client.containers.run("busybox", ["sleep", "1000"], detach=True, name="web", network=net.name)
    box = client.containers.create("busybox", ["sleep", "1000"], name="box", network=net.name)
    path = _sandbox(client, box.id)
    bound = wait_for(lambda: len(listening_on_11(path)) == 2 and listening_on_11(path), what="DNS sockets prepared at create")
    box.start()
    # One query, no retry, right after the start returned: answered.
    assert addresses(ask(path, "web", timeout=2)) == [
        client.api.inspect_container(web.id)["NetworkSettings"]["Networks"][net.name]["IPAddress"]]
    assert listening_on_11(path) == bound  # served by the sockets made at create
    for c in (web, box):
        c.remove(force=True)
    net.remove()


def test_removal_before_start_leaves_nothing(engine):
    client = engine.client()
    net = client.networks.create(engine.prefix + "gone")
    box = client.containers.create("busybox", ["sleep", "1000"], name="never", network=net.name)
    path = _sandbox(client, box.id)
    wait_for(lambda: len(listening_on_11(path)) == 2, what="DNS sockets prepared at create")
    held = os.open(path, os.O_RDONLY | os.O_CLOEXEC)  # our own handle: the netns outlives its file for the check
    try:
        box.remove(force=True)
        assert not os.path.exists(path)
        wait_for(lambda: listening_on_11(f"/proc/self/fd/{held}") == set(), what="the daemon's DNS sockets closed")
    finally:
        os.close(held)
    net.remove()


def test_scopes_after_a_daemon_kill(engine):
    client = engine.client()
    net = client.networks.create(engine.prefix + "kill")
    web = client.containers.run("busybox", ["sleep", "1000"], detach=True, name="web", network=net.name)
    later = client.containers.create("busybox", ["sleep", "1000"], name="later", network=net.name)
    web_path, later_path = _sandbox(client, web.id), _sandbox(client, later.id)
    wait_for(lambda: len(listening_on_11(later_path)) == 2, what="DNS sockets prepared at create")
    web_ports = listening_on_11(web_path)
    engine.kill(signal.SIGKILL)
    assert listening_on_11(later_path) == set()  # the sockets died with the daemon; the netns and its table stay
    restarted = start_daemon(engine.root.parent)
    engine.proc = restarted.proc
    client = restarted.client()
    ip = client.api.inspect_container(web.id)["NetworkSettings"]["Networks"][net.name]["IPAddress"]
    # The running container's scope is re-adopted on the ports its table already names.
    assert addresses(ask(web_path, "web", timeout=2)) == [ip]
    assert listening_on_11(web_path) == web_ports
    # The container created before the kill starts and resolves at once.
    client.containers.get(later.id).start()
    assert addresses(ask(later_path, "web", timeout=2)) == [ip]
    for cid in (web.id, later.id):
        client.api.remove_container(cid, force=True)
    client.networks.get(net.id).remove()


def test_engine_stop_settles_prepared_scopes(engine):
    client = engine.client()
    net = client.networks.create(engine.prefix + "stop")
    web = client.containers.run("busybox", ["sleep", "1000"], detach=True, name="web", network=net.name)
    boxes = [client.containers.create("busybox", ["sleep", "1000"], name=f"box{i}", network=net.name)
             for i in range(3)]
    paths = [_sandbox(client, b.id) for b in boxes]
    engine.kill(signal.SIGTERM)  # at once: preparations may still be running
    assert engine.proc.returncode == 0
    log = engine.log.read_text()
    assert "Traceback" not in log and "was destroyed but it is pending" not in log, log[-2000:]
    assert all(listening_on_11(p) == set() for p in paths)
    restarted = start_daemon(engine.root.parent)
    engine.proc = restarted.proc
    client = restarted.client()
    ip = client.api.inspect_container(web.id)["NetworkSettings"]["Networks"][net.name]["IPAddress"]
    for box, path in zip(boxes, paths):
        client.containers.get(box.id).start()
        assert addresses(ask(path, "web", timeout=2)) == [ip]
    for cid in [web.id] + [b.id for b in boxes]:
        client.api.remove_container(cid, force=True)
    client.networks.get(net.id).remove()


def test_the_container_keeps_port_53_and_still_resolves(engine):
    client = engine.client()
    net = client.networks.create(engine.prefix + "p53")
    web = client.containers.run("busybox", ["sleep", "1000"], detach=True, name="web", network=net.name)
    ip = client.api.inspect_container(web.id)["NetworkSettings"]["Networks"][net.name]["IPAddress"]
    # httpd binds 0.0.0.0:53 (TCP) and goes to the background only if that worked; then a lookup over UDP.
    out = client.containers.run("busybox", ["sh", "-c", "httpd -p 0.0.0.0:53 -h / && nslookup web"],
                                network=net.name, remove=True)
    assert ip.encode() in out
    web.remove(force=True)
    net.remove()


def test_a_restarted_container_resolves_on_the_same_ports(engine):
    client = engine.client()
    net = client.networks.create(engine.prefix + "again")
    web = client.containers.run("busybox", ["sleep", "1000"], detach=True, name="web", network=net.name)
    box = client.containers.run("busybox", ["sleep", "1000"], detach=True, name="box", network=net.name)
    path = _sandbox(client, box.id)
    bound = listening_on_11(path)
    box.stop(timeout=0)
    wait_for(lambda: listening_on_11(path) == set(), what="the stopped container's scope closed")
    box.start()
    ip = client.api.inspect_container(web.id)["NetworkSettings"]["Networks"][net.name]["IPAddress"]
    assert addresses(ask(path, "web", timeout=2)) == [ip]
    assert listening_on_11(path) == bound  # the redirect table kept, its ports bound again
    for c in (web, box):
        c.remove(force=True)
    net.remove()
