"""Networks through the docker CLI and docker-py: create/ls/rm, names resolving between containers, published
ports, connect/disconnect, and all of it still there after the daemon is killed and restarted."""
from __future__ import annotations

import signal
import socket
import time
import urllib.request

import docker
import pytest

from tests.runtime.daemon.conftest import start_daemon, wait_for

pytestmark = pytest.mark.root


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as resp:  # noqa: S310 - loopback only
        return resp.read().decode()


def test_network_cli_create_ls_rm(engine):
    name = engine.prefix + "n1"
    net_id = engine.cli("network", "create", "--label", "com.docker.compose.project=demo", name).stdout.strip()
    assert len(net_id) == 64
    listed = engine.cli("network", "ls", "--filter", "label=com.docker.compose.project=demo",
                        "--format", "{{.Name}}").stdout.split()
    assert listed == [name]
    assert {"bridge", "host", "none"} <= set(engine.cli("network", "ls", "--format", "{{.Name}}").stdout.split())
    dup = engine.cli("network", "create", name, check=False)
    assert dup.returncode != 0 and "already exists" in dup.stderr
    engine.cli("network", "rm", name)
    gone = engine.cli("network", "inspect", name, check=False)
    assert gone.returncode != 0


def test_names_resolve_ports_publish_and_survive_a_daemon_kill(engine):
    client = engine.client()
    net = client.networks.create(engine.prefix + "app")
    port = _free_port()
    web = client.containers.run("busybox", ["httpd", "-f", "-p", "80", "-h", "/var/www"], detach=True, name="web",
                                network=net.name, ports={"80/tcp": ("127.0.0.1", port)})
    out = client.containers.run("busybox", ["wget", "-qO-", "http://web/"], network=net.name, remove=True)
    assert out == b"<h1>busybox</h1>\n"
    assert wait_for(lambda: _get(f"http://127.0.0.1:{port}/")) == "<h1>busybox</h1>\n"
    web.reload()
    assert web.attrs["NetworkSettings"]["Ports"]["80/tcp"] == [{"HostIp": "127.0.0.1", "HostPort": str(port)}]
    address = web.attrs["NetworkSettings"]["Networks"][net.name]["IPAddress"]
    assert address
    ps = engine.cli("ps", "--format", "{{.Names}} {{.Ports}}").stdout.strip()
    assert ps == f"web 127.0.0.1:{port}->80/tcp"
    assert engine.cli("ps", "-q", "--filter", f"publish={port}").stdout.strip() == web.id[:12]
    assert engine.cli("ps", "-q", "--filter", f"publish={port}/udp").stdout.strip() == ""
    assert engine.cli("ps", "-q", "--filter", "expose=80").stdout.strip() == web.id[:12]

    engine.kill(signal.SIGKILL)
    assert _get(f"http://127.0.0.1:{port}/") == "<h1>busybox</h1>\n"  # the port proxy lives on its own
    restarted = start_daemon(engine.root.parent)
    engine.proc = restarted.proc
    client = restarted.client()
    web = client.containers.get("web")
    assert web.status == "running"
    assert web.attrs["NetworkSettings"]["Networks"][net.name]["IPAddress"] == address
    out = client.containers.run("busybox", ["wget", "-qO-", "http://web/"], network=net.name, remove=True)
    assert out == b"<h1>busybox</h1>\n"
    assert _get(f"http://127.0.0.1:{port}/") == "<h1>busybox</h1>\n"
    web.remove(force=True)
    client.networks.get(net.id).remove()


def test_connect_disconnect_and_events(engine):
    client = engine.client()
    since = time.time()
    net = client.networks.create(engine.prefix + "side")
    box = client.containers.run("busybox", ["sleep", "1000"], detach=True, name="joiner")
    net.connect(box, aliases=["helper"])
    box.reload()
    assert net.name in box.attrs["NetworkSettings"]["Networks"]
    peer = client.containers.run("busybox", ["nslookup", "helper", "127.0.0.11"], network=net.name, remove=True)
    assert box.attrs["NetworkSettings"]["Networks"][net.name]["IPAddress"].encode() in peer
    with pytest.raises(docker.errors.APIError) as err:
        net.remove()
    assert err.value.status_code == 409
    net.disconnect(box)
    box.reload()
    assert net.name not in box.attrs["NetworkSettings"]["Networks"]
    box.remove(force=True)
    net.remove()
    actions = [e["Action"] for e in client.events(since=since, until=time.time() + 0.5, decode=True,
                                                   filters={"type": "network", "network": net.id})]
    assert actions[0] == "create" and "connect" in actions and "disconnect" in actions
    assert actions[-1] == "destroy"


def test_extra_hosts_and_host_gateway(engine):
    out = engine.cli("run", "--rm", "--add-host", "db.local:10.1.2.3", "--add-host", "host.docker.internal:host-gateway",
                     "busybox", "cat", "/etc/hosts").stdout
    assert "10.1.2.3\tdb.local" in out
    gateway = engine.client().networks.get("bridge").attrs["IPAM"]["Config"][0]["Gateway"]
    assert f"{gateway}\thost.docker.internal" in out


def test_port_conflict_fails_the_start_cleanly(engine):
    port = _free_port()
    engine.cli("run", "-d", "--name", "first", "-p", f"127.0.0.1:{port}:80", "busybox",
               "httpd", "-f", "-p", "80", "-h", "/var/www")
    second = engine.cli("run", "-d", "--name", "second", "-p", f"127.0.0.1:{port}:80", "busybox", "sleep", "100",
                        check=False)
    assert second.returncode != 0 and str(port) in second.stderr
    state = engine.client().containers.get("second").attrs
    assert state["State"]["Status"] in ("created", "exited") and not state["NetworkSettings"]["Networks"].get(
        "bridge", {}).get("IPAddress")
    assert wait_for(lambda: _get(f"http://127.0.0.1:{port}/")) == "<h1>busybox</h1>\n"


def test_legacy_links_on_the_default_bridge(engine):
    engine.cli("run", "-d", "--name", "linked", "busybox", "httpd", "-f", "-p", "80", "-h", "/var/www")
    out = engine.cli("run", "--rm", "--link", "linked:db", "busybox", "wget", "-qO-", "http://db/").stdout
    assert out == "<h1>busybox</h1>\n"


def _free_pair() -> int:
    """A port P with P+1 also free on 127.0.0.1."""
    for _ in range(50):
        port = _free_port()
        if port < 65535:
            with socket.socket() as s:
                try:
                    s.bind(("127.0.0.1", port + 1))
                except OSError:
                    continue
            return port
    raise AssertionError("no two consecutive free ports")


def test_a_port_range_publishes_every_port_of_it(engine):
    """``PortBindings`` with a range key and a host range (as the API allows): each port is published."""
    port = _free_pair()
    api = engine.client().api
    body = {"Image": "busybox", "Cmd": ["sh", "-c", "httpd -p 80 -h /var/www; httpd -f -p 81 -h /var/www"],
            "ExposedPorts": {"80/tcp": {}, "81/tcp": {}},
            "HostConfig": {"PortBindings": {"80-81/tcp": [{"HostIp": "127.0.0.1", "HostPort": f"{port}-{port + 1}"}]}}}
    cid = api._result(api._post_json(api._url("/containers/create"), data=body, params={"name": "ranged"}),
                      True)["Id"]
    api.start(cid)
    ports = api.inspect_container(cid)["NetworkSettings"]["Ports"]
    assert ports["80/tcp"] == [{"HostIp": "127.0.0.1", "HostPort": str(port)}]
    assert ports["81/tcp"] == [{"HostIp": "127.0.0.1", "HostPort": str(port + 1)}]
    for p in (port, port + 1):
        assert wait_for(lambda p=p: _get_or_none(f"http://127.0.0.1:{p}/"), what=f"httpd on {p}") == \
            "<h1>busybox</h1>\n"


def _get_or_none(url: str) -> str | None:
    """``_get``, or None while the server inside is not listening yet (the port proxy then drops the link)."""
    try:
        return _get(url)
    except OSError:
        return None


def test_a_taken_port_fails_the_start_before_any_endpoint_is_made(engine):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        out = engine.cli("run", "-d", "--name", "blocked", "-p", f"127.0.0.1:{port}:80", "busybox", "sleep", "100",
                         check=False)
        assert out.returncode != 0 and str(port) in out.stderr
    net = engine.client().networks.get("bridge").attrs
    assert not net["Containers"], net["Containers"]  # no endpoint was made (nor left behind)
