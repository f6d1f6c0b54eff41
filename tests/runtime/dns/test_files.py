"""The resolv.conf and /etc/hosts the container layer writes (dns_search, dns_opt, extra_hosts)."""
from __future__ import annotations

import pytest

from runtime.errors import InvalidArgument
from runtime.network.dns import parse_extra_host, read_resolv_conf, render_hosts, render_resolv_conf


def test_resolv_conf_for_the_embedded_server(tmp_path):
    text = render_resolv_conf(search=["corp.example", "example.org"], options=["ndots:2", "timeout:1", "rotate"])
    lines = [line for line in text.splitlines() if not line.startswith("#")]
    assert lines == ["nameserver 127.0.0.11", "search corp.example example.org", "options ndots:2 timeout:1 rotate"]
    path = tmp_path / "resolv.conf"
    path.write_text(text)
    parsed = read_resolv_conf(path)
    assert parsed.nameservers == ("127.0.0.11",)
    assert parsed.search == ("corp.example", "example.org")
    assert parsed.options == ("ndots:2", "timeout:1", "rotate")


def test_resolv_conf_with_service_dns_and_no_search():
    text = render_resolv_conf(["1.1.1.1", "2606:4700::1111"], search=["."])
    assert "nameserver 1.1.1.1\nnameserver 2606:4700::1111\n" in text
    assert "search" not in text


@pytest.mark.parametrize("kwargs", [
    {"nameservers": ["dns.google"]}, {"search": ["bad domain"]}, {"options": ["ndots 2"]}, {"options": ["x;y"]},
])
def test_resolv_conf_rejects_bad_input(kwargs):
    with pytest.raises(InvalidArgument):
        render_resolv_conf(**kwargs)


def test_read_resolv_conf_last_search_wins_and_missing_file(tmp_path):
    path = tmp_path / "r"
    path.write_text("domain a.example\nsearch b.example c.example\n; comment\nnameserver 10.0.0.1\noptions edns0\n")
    parsed = read_resolv_conf(path)
    assert parsed.search == ("b.example", "c.example") and parsed.nameservers == ("10.0.0.1",)
    assert read_resolv_conf(tmp_path / "none").nameservers == ()


def test_hosts_with_extra_hosts_and_own_addresses():
    text = render_hosts("web1", ["172.18.0.2"], ["db.local:10.0.0.5", "gw=host-gateway", "v6host:[fd00::1]",
                                                "raw6:fd00::2"],
                        domainname="corp.example", host_gateway="172.17.0.1")
    lines = text.splitlines()
    assert lines[0] == "127.0.0.1\tlocalhost"
    assert "10.0.0.5\tdb.local" in lines
    assert "172.17.0.1\tgw" in lines
    assert "fd00::1\tv6host" in lines and "fd00::2\traw6" in lines
    assert lines[-1] == "172.18.0.2\tweb1.corp.example web1"


@pytest.mark.parametrize("entry", ["noaddress", "bad name:10.0.0.1", "x:999.1.1.1", "gw:host-gateway"])
def test_bad_extra_hosts(entry):
    with pytest.raises(InvalidArgument):
        parse_extra_host(entry)


def test_reachable_nameservers_drop_the_hosts_loopback():
    from runtime.network.dns.resolvconf import reachable_nameservers
    assert reachable_nameservers(["127.0.0.53", "10.0.0.1", "::1", "fd00::53", "junk"]) == ["10.0.0.1", "fd00::53"]
