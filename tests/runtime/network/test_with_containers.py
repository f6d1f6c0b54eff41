"""Networks with real busybox containers (the engine's container service joining our sandboxes)."""
from __future__ import annotations

import json
import secrets
import socket
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from runtime.network.ports import PortBinding

pytestmark = pytest.mark.root

containers = pytest.importorskip("runtime.containers")
spec_mod = pytest.importorskip("runtime.spec")


@pytest.fixture
def engine(tmp_path: Path, net) -> Iterator[tuple[object, object]]:
    from runtime.cgroups import remove_parent
    parent = f"pycompose-test-{secrets.token_hex(3)}"
    svc = containers.ContainerService(tmp_path / "croot", cgroup_parent=parent)
    try:
        yield svc, net
    finally:
        failed = []
        for state in svc.list():
            try:
                svc.remove(state.id, force=True)
            except Exception as err:  # noqa: BLE001 - teardown goes on (told if the cgroup parent stays busy)
                failed.append(f"{state.id[:12]}: {err!r}")
        svc.close()
        try:
            remove_parent(parent)
        except Exception as err:
            raise AssertionError(f"{err}; failed removals before it: {failed or 'none'}") from err


def _start(svc, net, rootfs: Path, network: str, *args: str, name: str) -> tuple[str, object]:
    cid = secrets.token_hex(32)
    ns = net.svc.create_sandbox(cid)
    ep = net.svc.connect(network, cid, ns, name=name)
    real = svc.create(name + secrets.token_hex(2), spec_mod.ContainerSpec(args=args, rootfs=(str(rootfs),),
                                                                           netns_path=str(ns)))
    svc.start(real)
    return real, (cid, ep)


def _run(svc, net, rootfs: Path, network: str | list[str], *args: str) -> tuple[int, str]:
    cid = secrets.token_hex(32)
    ns = net.svc.create_sandbox(cid)
    for name in [network] if isinstance(network, str) else network:
        net.svc.connect(name, cid, ns, name="client")
    real = svc.create(None, spec_mod.ContainerSpec(args=args, rootfs=(str(rootfs),), netns_path=str(ns)))
    try:
        svc.start(real)
        code = svc.wait(real, 30)
        with open(svc.log_path(real)) as fh:  # json-file: one {"log", "stream", "time"} record per line
            out = "".join(json.loads(line)["log"] for line in fh)
        return code, out
    finally:
        svc.remove(real, force=True)
        net.svc.destroy_sandbox(cid)


def _http_ready(ip: str, port: int) -> bool:
    try:
        with socket.create_connection((ip, port), timeout=1):
            return True
    except OSError:
        return False


def test_busybox_containers_talk_publish_and_stay_isolated(engine, busybox_rootfs, wait_for):
    svc, net = engine
    front, back = net.create(), net.create()
    _, (web_cid, web_ep) = _start(svc, net, busybox_rootfs, front.name,
                                  "httpd", "-f", "-p", "80", "-h", "/var/www", name="web")
    wait_for(lambda: _http_ready(web_ep.ip, 80), "httpd in the container")

    code, out = _run(svc, net, busybox_rootfs, front.name, "wget", "-q", "-O", "-", f"http://{web_ep.ip}/")
    assert code == 0 and "<h1>busybox</h1>" in out

    code, _ = _run(svc, net, busybox_rootfs, back.name, "wget", "-q", "-T", "2", "-O", "-",
                   f"http://{web_ep.ip}/")
    assert code != 0, "a container on another network reached the web container"

    bound = net.svc.publish(web_cid, [PortBinding(80, host_ip="127.0.0.1"), PortBinding(80)])
    for port in bound:
        if port.host_ip in ("127.0.0.1", "0.0.0.0"):
            opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
            with opener.open(f"http://127.0.0.1:{port.host_port}/", timeout=5) as resp:
                assert b"<h1>busybox</h1>" in resp.read()
    gw = str(front.pools[0].gateway)
    anyport = next(p for p in bound if p.host_ip == "0.0.0.0")
    code, out = _run(svc, net, busybox_rootfs, front.name, "wget", "-q", "-O", "-",
                     f"http://{gw}:{anyport.host_port}/")
    assert code == 0 and "<h1>busybox</h1>" in out

    code, out = _run(svc, net, busybox_rootfs, front.name, "ip", "route")
    assert f"default via {gw}" in out


def test_container_on_two_networks_reaches_both_and_internal_has_no_way_out(engine, busybox_rootfs, wait_for):
    svc, net = engine
    a, b, internal = net.create(), net.create(), net.create(internal=True)
    eps = []
    for network in (a, b):
        _, (_, ep) = _start(svc, net, busybox_rootfs, network.name, "httpd", "-f", "-p", "80", "-h", "/var/www",
                            name="web")
        wait_for(lambda ep=ep: _http_ready(ep.ip, 80), "httpd in the container")
        eps.append(ep)
    script = " && ".join(f"wget -q -O - http://{ep.ip}/" for ep in eps) + " && ip -o addr show && ip route"
    code, out = _run(svc, net, busybox_rootfs, [a.name, b.name], "sh", "-c", script)
    assert code == 0, out
    assert out.count("<h1>busybox</h1>") == 2 and "eth0" in out and "eth1" in out
    assert f"default via {a.pools[0].gateway} dev eth0" in out

    code, out = _run(svc, net, busybox_rootfs, internal.name, "sh", "-c",
                     f"ip route; wget -q -T 2 -O - http://{eps[0].ip}/ && echo REACHED")
    assert "default" not in out and "REACHED" not in out
