"""Published ports of IPv6 endpoints on the real kernel, as Docker: a port published without a host address
listens on 0.0.0.0 and [::]; the [::] socket forwards to the container's IPv6 address when it has one (else to
its IPv4 one), the 0.0.0.0 socket to its IPv4 address (else, on an IPv6-only network, to its IPv6 one). A host
address given binds only that address. Hairpin through the bridge's IPv6 gateway reaches the port too.

The listener in the sandbox answers each connection with the local address it arrived on, so a test sees which
container address the proxy dialled. Every network has a random ULA /64 and a bridge named with the test's prefix.
"""
from __future__ import annotations

import ipaddress
import secrets
import socket
import sys

import pytest

from runtime.network.ports import PortBinding, PortTargets, parse_port_spec
from tests.support.ipv6 import host_has_ipv6

from .conftest import run_in

pytestmark = pytest.mark.root

# Dual-stack listener: each connection gets "<local address the connection arrived on>\n", then EOF.
_ECHO_LOCAL = r"""
import socket, sys
s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("::", int(sys.argv[1])))
s.listen(16)
while True:
    c, _ = s.accept()
    addr = c.getsockname()[0]
    c.sendall((addr[7:] if addr.startswith("::ffff:") else addr).encode() + b"\n")
    c.close()
"""

# A client run inside a sandbox: prints the listener's answer from (host, port).
_DIAL = r"""
import socket, sys
with socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5) as c:
    sys.stdout.write(c.makefile().readline())
"""


def _ula() -> str:
    return str(ipaddress.ip_network(f"fd{secrets.token_hex(1)}:{secrets.token_hex(2)}:{secrets.token_hex(2)}::/64"))


def _answer(host: str, port: int) -> str:
    """The listener's line through a host socket: the container address the connection reached."""
    with socket.create_connection((host, port), timeout=5) as c:
        return c.makefile().readline().strip()


def _answers(host: str, port: int) -> bool:
    try:
        return bool(_answer(host, port))
    except OSError:
        return False


@pytest.fixture
def v6(net, wait_for):
    """Make a network (``ipv4=False``: IPv6-only) and a sandbox on it running the echo-local listener on 80."""
    if not host_has_ipv6():
        pytest.skip("the host has no IPv6 loopback")

    def _make(ipv4: bool = True) -> dict:
        n = net.create(enable_ipv6=True, enable_ipv4=ipv4, ipam={"Config": [{"Subnet": _ula()}]})
        cid, ns = net.sandbox()
        ep = net.svc.connect(n.name, cid, ns, name="web")
        assert ep.ipv6 is not None and (ep.ipv4 is not None) == ipv4
        net.spawn(ns, [sys.executable, "-I", "-S", "-c", _ECHO_LOCAL, "80"])
        first = str(ep.ipv4.ip) if ep.ipv4 else str(ep.ipv6.ip)
        wait_for(lambda: _answers(first, 80), "the listener in the sandbox")
        return {"net": n, "cid": cid, "ns": ns, "ep": ep, "v4": ep.ip, "v6": str(ep.ipv6.ip)}
    return _make


def test_dual_stack_port_goes_to_the_address_of_each_family(net, v6):
    web = v6()
    bound = net.svc.publish(web["cid"], [PortBinding(80)])
    by_ip = {b.host_ip: b.host_port for b in bound}
    assert set(by_ip) == {"0.0.0.0", "::"} and by_ip["0.0.0.0"] == by_ip["::"]
    port = by_ip["::"]
    assert _answer("::1", port) == web["v6"]  # IPv6 host socket -> container's IPv6 address
    assert _answer("127.0.0.1", port) == web["v4"]  # IPv4 host socket -> container's IPv4 address
    assert net.svc.publisher.targets(web["cid"]) == PortTargets(web["v4"], web["v6"])
    ports = net.svc.network_settings(web["cid"], ["80/tcp"])["Ports"]
    assert ports == {"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": str(port)},
                                {"HostIp": "::", "HostPort": str(port)}]}
    assert net.svc.unpublish(web["cid"])
    assert not _answers("::1", port) and not _answers("127.0.0.1", port)


def test_ipv6_only_network_sends_both_families_to_the_ipv6_address(net, v6):
    web = v6(ipv4=False)
    assert web["v4"] == ""
    bound = net.svc.publish(web["cid"], [PortBinding(80)] + parse_port_spec("127.0.0.1::80"))
    anyport = {b.host_ip: b.host_port for b in bound if b.host_ip in ("0.0.0.0", "::")}
    (loop4,) = [b.host_port for b in bound if b.host_ip == "127.0.0.1"]
    assert set(anyport) == {"0.0.0.0", "::"}
    assert _answer("::1", anyport["::"]) == web["v6"]
    assert _answer("127.0.0.1", anyport["0.0.0.0"]) == web["v6"]
    assert _answer("127.0.0.1", loop4) == web["v6"]  # an explicit IPv4 host address too
    assert net.svc.publisher.targets(web["cid"]) == PortTargets("", web["v6"])


def test_an_explicit_host_address_binds_only_that_address(net, v6):
    web = v6()
    (only6,) = net.svc.publish(web["cid"], parse_port_spec("[::1]::80"))
    assert only6.host_ip == "::1"
    assert _answer("::1", only6.host_port) == web["v6"]
    assert not _answers("127.0.0.1", only6.host_port)  # nothing bound on IPv4 for it
    net.svc.unpublish(web["cid"])
    (only4,) = net.svc.publish(web["cid"], parse_port_spec("127.0.0.1::80"))
    assert only4.host_ip == "127.0.0.1"
    assert _answer("127.0.0.1", only4.host_port) == web["v4"]
    assert not _answers("::1", only4.host_port)


def test_ipv4_only_container_is_reached_over_ipv6_through_the_proxy(net, wait_for):
    if not host_has_ipv6():
        pytest.skip("the host has no IPv6 loopback")
    n = net.create()
    cid, ns = net.sandbox()
    ep = net.svc.connect(n.name, cid, ns, name="web")
    assert ep.ipv6 is None
    net.spawn(ns, [sys.executable, "-I", "-S", "-c", _ECHO_LOCAL, "80"])
    wait_for(lambda: _answers(ep.ip, 80), "the listener in the sandbox")
    port = {b.host_ip: b.host_port for b in net.svc.publish(cid, [PortBinding(80)])}["::"]
    assert _answer("::1", port) == ep.ip  # Docker's proxy does the same for a container without IPv6


def test_hairpin_through_the_ipv6_gateway(net, v6):
    web = v6()
    client, client_ns = net.sandbox()
    net.svc.connect(web["net"].name, client, client_ns, name="client")
    port = {b.host_ip: b.host_port for b in net.svc.publish(web["cid"], [PortBinding(80)])}["::"]
    gateway6 = str(web["net"].pool(6).gateway)
    for ns in (client_ns, web["ns"]):  # another container, and the container itself
        out = run_in(ns, [sys.executable, "-I", "-S", "-c", _DIAL, gateway6, str(port)])
        assert out.returncode == 0, out.stderr
        assert out.stdout.decode().strip() == web["v6"]


def test_ports_follow_an_ipv6_only_target_that_is_disconnected(net, v6):
    web, other = v6(ipv4=False), v6(ipv4=False)
    # the web sandbox joins the second network too; its ports stay on the first until that one goes
    ep2 = net.svc.connect(other["net"].name, web["cid"], web["ns"], name="web")
    (port,) = [b.host_port for b in net.svc.publish(web["cid"], [PortBinding(80)]) if b.host_ip == "::"]
    assert _answer("::1", port) == web["v6"]
    net.svc.disconnect(web["net"].name, web["cid"])
    assert net.svc.publisher.targets(web["cid"]) == PortTargets("", str(ep2.ipv6.ip))
    assert _answer("::1", port) == str(ep2.ipv6.ip)  # the listener answers on the new address


def test_targets_are_checked():
    assert PortTargets.of("fd00::2") == PortTargets("", "fd00::2")
    assert PortTargets.of("10.0.0.2").for_host("::") == "10.0.0.2"
    assert PortTargets("10.0.0.2", "fd00::2").for_host("::1") == "fd00::2"
    assert PortTargets("", "fd00::2").for_host("0.0.0.0") == "fd00::2"
    from runtime.errors import InvalidArgument
    with pytest.raises(InvalidArgument):
        PortTargets("fd00::2")
    with pytest.raises(InvalidArgument):
        PortTargets()


_UDP_ECHO = r"""
import socket, sys
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
s.bind(("::", int(sys.argv[1])))
sys.stdout.write("up\n")
sys.stdout.flush()
while True:
    data, peer = s.recvfrom(2048)
    s.sendto(b"echo:" + data, peer)
"""


def test_udp_on_an_ipv6_only_network_from_both_host_families(net, wait_for):
    if not host_has_ipv6():
        pytest.skip("the host has no IPv6 loopback")
    n = net.create(enable_ipv6=True, enable_ipv4=False, ipam={"Config": [{"Subnet": _ula()}]})
    cid, ns = net.sandbox()
    net.svc.connect(n.name, cid, ns, name="dns")
    echo = net.spawn(ns, [sys.executable, "-I", "-S", "-c", _UDP_ECHO, "5300"])
    assert echo.stdout is not None and echo.stdout.readline() == b"up\n"  # bound before we send
    bound = {b.host_ip: b.host_port for b in net.svc.publish(cid, parse_port_spec("5300/udp"))}
    assert set(bound) == {"0.0.0.0", "::"}
    for family, host in ((socket.AF_INET6, "::1"), (socket.AF_INET, "127.0.0.1")):
        with socket.socket(family, socket.SOCK_DGRAM) as s:
            s.settimeout(5)
            s.sendto(b"ping " + host.encode(), (host, bound["::" if family == socket.AF_INET6 else "0.0.0.0"]))
            assert s.recv(2048) == b"echo:ping " + host.encode()
