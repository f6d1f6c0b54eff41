"""Published ports on the real kernel: busybox httpd in a sandbox, reached from the host and by hairpin."""
from __future__ import annotations

import os
import socket
import sys
import urllib.request

import pytest

from runtime.errors import Conflict, InvalidState
from runtime.network.ports import PortBinding, parse_port_spec
from runtime.network.publisher import process_start_time

from .conftest import run_in

pytestmark = pytest.mark.root


def _connectable(ip: str, port: int) -> bool:
    try:
        with socket.create_connection((ip, port), timeout=1):
            return True
    except OSError:
        return False


def _get(url: str) -> bytes:
    with urllib.request.build_opener(urllib.request.ProxyHandler({})).open(url, timeout=5) as resp:
        return resp.read()


@pytest.fixture
def web(net, tmp_path, wait_for):
    """A network, a sandbox on it running ``busybox httpd`` on port 80, and a second sandbox as a client."""
    www = tmp_path / "www"
    www.mkdir()
    (www / "index.html").write_text("hello from the sandbox\n")
    n = net.create()
    cid, ns = net.sandbox()
    ep = net.svc.connect(n.name, cid, ns, name="web")
    net.spawn(ns, ["busybox", "httpd", "-f", "-p", "80", "-h", str(www)])
    wait_for(lambda: _connectable(ep.ip, 80), "httpd in the sandbox")
    client, client_ns = net.sandbox()
    net.svc.connect(n.name, client, client_ns, name="client")
    return {"net": n, "cid": cid, "ns": ns, "ep": ep, "client_ns": client_ns}


def test_host_reaches_published_httpd_on_loopback_and_on_a_random_port(net, web):
    bound = net.svc.publish(web["cid"], parse_port_spec("127.0.0.1::80") + parse_port_spec("80"))
    loopback = [b for b in bound if b.host_ip == "127.0.0.1"]
    anyaddr = [b for b in bound if b.host_ip == "0.0.0.0"]
    assert len(loopback) == 1 and len(anyaddr) == 1
    assert loopback[0].host_port > 0 and anyaddr[0].host_port > 0
    assert _get(f"http://127.0.0.1:{loopback[0].host_port}/") == b"hello from the sandbox\n"
    assert _get(f"http://127.0.0.1:{anyaddr[0].host_port}/") == b"hello from the sandbox\n"
    assert net.svc.published(web["cid"]) == bound
    v6 = [b for b in bound if b.host_ip == "::"]
    if socket.has_ipv6 and v6:  # "80" binds [::] too (v6-only socket) on the same port, as Docker does
        assert v6[0].host_port == anyaddr[0].host_port
        assert _get(f"http://[::1]:{v6[0].host_port}/") == b"hello from the sandbox\n"


def test_hairpin_from_another_container_through_the_host_address(net, web):
    (port,) = [b for b in net.svc.publish(web["cid"], [PortBinding(80)]) if b.host_ip == "0.0.0.0"]
    gateway = str(web["net"].pools[0].gateway)
    out = run_in(web["client_ns"], ["busybox", "wget", "-q", "-O", "-", f"http://{gateway}:{port.host_port}/"])
    assert out.returncode == 0, out.stderr
    assert out.stdout == b"hello from the sandbox\n"
    # and the container reaches its own published port the same way
    out = run_in(web["ns"], ["busybox", "wget", "-q", "-O", "-", f"http://{gateway}:{port.host_port}/"])
    assert out.stdout == b"hello from the sandbox\n"


def test_port_taken_is_a_conflict_before_anything_is_created(net, web):
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        taken = squatter.getsockname()[1]
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            free = probe.getsockname()[1]
        wishes = [PortBinding(80, host_ip="127.0.0.1", host_port=free),
                  PortBinding(80, host_ip="127.0.0.1", host_port=taken)]
        with pytest.raises(Conflict, match=f"127.0.0.1:{taken} failed: port is already allocated"):
            net.svc.check_ports(wishes)
        with pytest.raises(Conflict, match="already allocated"):
            net.svc.publish(web["cid"], wishes)
    assert net.svc.published(web["cid"]) == []
    assert net.svc.publisher.record(web["cid"]) is None
    # the first wish's socket was let go: its port binds again
    with socket.socket() as again:
        again.bind(("127.0.0.1", free))


def test_udp_port_and_unpublish_stops_the_proxy(net, tmp_path, wait_for):
    n = net.create()
    cid, ns = net.sandbox()
    ep = net.svc.connect(n.name, cid, ns)
    echo = ("import socket,sys\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\ns.bind(('0.0.0.0',5353))\n"
            "print('ready',flush=True)\nwhile True:\n d,a=s.recvfrom(2048)\n s.sendto(b'echo:'+d,a)\n")
    proc = net.spawn(ns, [sys.executable, "-c", echo])
    assert proc.stdout is not None and proc.stdout.readline() == b"ready\n"
    (port,) = net.svc.publish(cid, parse_port_spec("127.0.0.1::5353/udp"))
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(5)
        for i in range(3):
            s.sendto(b"ping%d" % i, ("127.0.0.1", port.host_port))
            assert s.recvfrom(2048)[0] == b"echo:ping%d" % i
    rec = net.svc.publisher.record(cid)
    assert rec is not None and process_start_time(rec["pid"]) == rec["start_time"]
    assert net.svc.unpublish(cid)
    assert process_start_time(rec["pid"]) is None
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", port.host_port))  # the port is free again
    assert ep.ip


def test_tcp_range_and_destroy_sandbox_closes_ports(net, web):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        base = probe.getsockname()[1]
    bound = net.svc.publish(web["cid"], [PortBinding(80, host_ip="127.0.0.1", host_port=base,
                                                     host_port_end=base + 20)])
    assert len(bound) == 1 and base <= bound[0].host_port <= base + 20
    assert _get(f"http://127.0.0.1:{bound[0].host_port}/") == b"hello from the sandbox\n"
    pid = net.svc.publisher.record(web["cid"])["pid"]
    net.svc.destroy_sandbox(web["cid"])
    assert process_start_time(pid) is None
    assert not _connectable("127.0.0.1", bound[0].host_port)


def test_publish_needs_a_bridge_address(net):
    cid, _ = net.sandbox()
    with pytest.raises(InvalidState):
        net.svc.publish(cid, [PortBinding(80)])


def test_restore_forgets_a_dead_proxy(net, web):
    net.svc.publish(web["cid"], [PortBinding(80, host_ip="127.0.0.1")])
    rec = net.svc.publisher.record(web["cid"])
    os.kill(rec["pid"], 9)
    net.svc.publisher._children.pop(rec["pid"]).wait()  # noqa: SLF001 - reap our child like the daemon would
    net.svc.restore()
    assert net.svc.publisher.record(web["cid"]) is None


def test_network_settings_for_container_inspect(net, web):
    bound = net.svc.publish(web["cid"], [PortBinding(80, host_ip="127.0.0.1")])
    settings = net.svc.network_settings(web["cid"], exposed=["80/tcp", "443/tcp"])
    ep = web["ep"]
    assert settings["SandboxKey"] == web["ns"] and settings["IPAddress"] == ep.ip
    assert settings["Gateway"] == str(web["net"].pools[0].gateway) and settings["MacAddress"] == ep.mac
    assert settings["Ports"] == {"80/tcp": [{"HostIp": "127.0.0.1", "HostPort": str(bound[0].host_port)}],
                                 "443/tcp": None}
    entry = settings["Networks"][web["net"].name]
    assert entry["NetworkID"] == web["net"].id and entry["IPAddress"] == ep.ip and entry["DNSNames"][0] == "web"
    assert entry["IPAMConfig"] is None  # the address was chosen, not asked for


def test_ports_follow_the_container_when_its_target_network_goes(net, web, wait_for):
    other = net.create()
    ep2 = net.svc.connect(other.name, web["cid"], web["ns"])
    (bound,) = net.svc.publish(web["cid"], [PortBinding(80, host_ip="127.0.0.1")])
    assert net.svc.publisher.record(web["cid"])["target"] == web["ep"].ip
    net.svc.disconnect(web["net"].name, web["cid"])
    assert net.svc.publisher.record(web["cid"])["target"] == ep2.ip
    assert net.svc.published(web["cid"]) == [bound]
    assert _get(f"http://127.0.0.1:{bound.host_port}/") == b"hello from the sandbox\n"


def test_host_binding_option_sets_the_default_host_address(net, tmp_path, wait_for):
    n = net.create(options={"com.docker.network.bridge.host_binding_ipv4": "127.0.0.1"})
    cid, ns = net.sandbox()
    net.svc.connect(n.name, cid, ns)
    bound = net.svc.publish(cid, [PortBinding(80)])
    assert [b.host_ip for b in bound] == ["127.0.0.1"]


_UPPER = ("import socket,threading\ns=socket.socket()\ns.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)\n"
          "s.bind(('0.0.0.0',7000))\ns.listen(128)\nprint('ready',flush=True)\n"
          "def h(c):\n b=b''\n while True:\n  d=c.recv(65536)\n  if not d: break\n  b+=d\n"
          " c.sendall(b.upper())\n c.close()\n"
          "while True:\n c,_=s.accept()\n threading.Thread(target=h,args=(c,)).start()\n")


def test_tcp_half_close_concurrency_and_refused_target(net):
    n = net.create()
    cid, ns = net.sandbox()
    net.svc.connect(n.name, cid, ns)
    proc = net.spawn(ns, [sys.executable, "-c", _UPPER])
    assert proc.stdout is not None and proc.stdout.readline() == b"ready\n"
    bound = net.svc.publish(cid, [PortBinding(7000, host_ip="127.0.0.1"), PortBinding(7001, host_ip="127.0.0.1")])
    port = next(b.host_port for b in bound if b.container_port == 7000)
    dead = next(b.host_port for b in bound if b.container_port == 7001)

    def ask(payload: bytes) -> bytes:
        with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
            s.sendall(payload)
            s.shutdown(socket.SHUT_WR)  # the server answers only after EOF: the half-close must pass through
            out = b""
            while chunk := s.recv(65536):
                out += chunk
            return out

    big = os.urandom(3 * 1024 * 1024).hex().encode()[:2_000_000]
    assert ask(big) == big.upper()
    from concurrent.futures import ThreadPoolExecutor
    with ThreadPoolExecutor(32) as pool:
        answers = list(pool.map(ask, [b"conn-%d" % i for i in range(64)]))
    assert answers == [b"CONN-%d" % i for i in range(64)]

    try:  # the target refuses: the client is reset (seen at connect or at the first read), never left hanging
        with socket.create_connection(("127.0.0.1", dead), timeout=30) as s:
            assert s.recv(1) == b""
    except ConnectionResetError:
        pass


def test_a_new_service_adopts_and_stops_a_running_proxy(net, web):
    from runtime.network.service import NetworkService
    (bound,) = net.svc.publish(web["cid"], [PortBinding(80, host_ip="127.0.0.1")])
    rec = net.svc.publisher.record(web["cid"])
    again = NetworkService(net.svc.root, net.svc.run_dir, nft_table=net.svc.firewall.table,
                           enable_ip_forward=False)
    again.restore()
    assert again.published(web["cid"]) == [bound] and again.publisher.alive(web["cid"])
    assert _get(f"http://127.0.0.1:{bound.host_port}/") == b"hello from the sandbox\n"
    assert again.unpublish(web["cid"])  # not its child: found by pid + start time, waited on by pidfd
    assert process_start_time(rec["pid"]) is None
    net.svc.publisher._children.pop(rec["pid"]).wait()  # noqa: SLF001 - reap: this process started it
    assert not _connectable("127.0.0.1", bound.host_port)


def test_publishing_on_an_address_the_host_lacks_is_a_clear_error(net, web):
    from runtime.errors import InvalidArgument
    with pytest.raises(InvalidArgument, match="not an address of this host"):
        net.svc.publish(web["cid"], [PortBinding(80, host_ip="203.0.113.7")])
    assert net.svc.publisher.record(web["cid"]) is None


def test_a_prepared_spare_proxy_serves_the_next_publish_and_close_ends_it(net, web):
    net.svc.publisher.prepare()
    spare = net.svc.publisher._spare[0]  # noqa: SLF001
    (tcp,) = net.svc.publish(web["cid"], parse_port_spec("127.0.0.1::80"))
    rec = net.svc.publisher.record(web["cid"])
    assert rec["pid"] == spare.pid  # the booted spare took the work
    assert _get(f"http://127.0.0.1:{tcp.host_port}/") == b"hello from the sandbox\n"
    following = net.svc.publisher._spare[0]  # noqa: SLF001 - a new spare for the next publish
    assert following.pid != spare.pid and following.poll() is None

    assert net.svc.unpublish(web["cid"])
    assert process_start_time(spare.pid) is None and not _connectable("127.0.0.1", tcp.host_port)
    net.svc.publisher.close()
    assert following.wait(timeout=10) == 0  # end of file on its socket: it leaves quietly


def test_a_dead_spare_is_replaced_by_a_proxy_started_on_the_spot(net, web):
    net.svc.publisher.prepare()
    spare = net.svc.publisher._spare[0]  # noqa: SLF001
    spare.kill()
    spare.wait()
    (tcp,) = net.svc.publish(web["cid"], parse_port_spec("127.0.0.1::80"))
    assert net.svc.publisher.record(web["cid"])["pid"] != spare.pid
    assert _get(f"http://127.0.0.1:{tcp.host_port}/") == b"hello from the sandbox\n"
