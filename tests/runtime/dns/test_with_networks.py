"""End to end with the real network service: bridges, veths and sandboxes from ``runtime.network``, the name
table fed by its events through :class:`DnsSync`, and busybox inside the sandboxes resolving and pinging
by name with the resolv.conf the container layer would write.
"""
from __future__ import annotations

import shutil
import subprocess

import pytest

from runtime.network.dns import DnsSync, render_resolv_conf
from tests.runtime.network.conftest import net, run_in  # noqa: F401 - the network tests' fixture

pytestmark = pytest.mark.root


@pytest.fixture
def wired(net, dns_server):  # noqa: F811 - ``net`` is the imported fixture
    """The network service's events feed the DNS server's table (torn down before ``net`` checks leaks)."""
    sync = DnsSync(dns_server.server.records, dns_server.lt.loop)
    unsubscribe = dns_server.lt.call(sync.attach, net.svc)
    try:
        yield net, dns_server
    finally:
        unsubscribe()


def _nslookup(sandbox: str, name: str) -> subprocess.CompletedProcess[bytes]:
    return run_in(sandbox, ["/bin/busybox", "nslookup", name, "127.0.0.11"])


def test_resolve_and_ping_by_service_name_across_a_bridge(wired, tmp_path):
    nw, dns = wired
    network = nw.create()
    web, web_ns = nw.sandbox()
    cli, cli_ns = nw.sandbox()
    ep_web = nw.svc.connect(network.id, web, web_ns, name="proj-web-1", aliases=["web"])
    nw.svc.connect(network.id, cli, cli_ns, name="proj-client-1", aliases=["client"])
    dns.add_scope(cli, cli_ns, upstreams=[])
    dns.lt.call(lambda: None)  # events queued by connect() have been applied

    out = _nslookup(cli_ns, "web")
    assert out.returncode == 0, out.stdout + out.stderr
    assert ep_web.ip.encode() in out.stdout

    if shutil.which("unshare"):
        # The container's view: its own resolv.conf (over a private mount namespace), then ping by name.
        conf = tmp_path / "resolv.conf"
        conf.write_text(render_resolv_conf(search=["corp.example"], options=["ndots:1"]))
        ping = run_in(cli_ns, ["unshare", "--mount", "sh", "-c",
                               f"mount --bind {conf} /etc/resolv.conf && /bin/busybox ping -c1 -W5 web"])
        assert ping.returncode == 0, ping.stdout + ping.stderr
        assert ep_web.ip.encode() in ping.stdout

    nw.svc.disconnect(network.id, web)
    dns.lt.call(lambda: None)
    gone = _nslookup(cli_ns, "web")
    assert gone.returncode != 0 and b"NXDOMAIN" in gone.stdout + gone.stderr


def test_two_networks_isolated_and_a_container_on_both(wired):
    nw, dns = wired
    n_a, n_b = nw.create(), nw.create()
    a, a_ns = nw.sandbox()
    b, b_ns = nw.sandbox()
    both, both_ns = nw.sandbox()
    ep_a = nw.svc.connect(n_a.id, a, a_ns, name="pa-web-1", aliases=["web"])
    ep_b = nw.svc.connect(n_b.id, b, b_ns, name="pb-web-1", aliases=["web"])
    nw.svc.connect(n_a.id, both, both_ns, name="gw-1")
    nw.svc.connect(n_b.id, both, both_ns, name="gw-1")
    for cid, ns in ((a, a_ns), (b, b_ns), (both, both_ns)):
        dns.add_scope(cid, ns, upstreams=[])
    dns.lt.call(lambda: None)

    only_a = _nslookup(a_ns, "web")
    assert ep_a.ip.encode() in only_a.stdout and ep_b.ip.encode() not in only_a.stdout
    assert _nslookup(a_ns, "pb-web-1").returncode != 0
    seen = _nslookup(both_ns, "web")
    assert ep_a.ip.encode() in seen.stdout and ep_b.ip.encode() in seen.stdout
    assert _nslookup(b_ns, "gw-1").returncode == 0
