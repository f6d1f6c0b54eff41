"""The hosts file of a container with IPv6 addresses: Docker's lines, in Docker's order."""
from __future__ import annotations

import pytest

from runtime.errors import InvalidArgument
from runtime.network.dns.hostsfile import render_hosts


def test_ipv6_address_gets_its_line_after_the_ipv4_one():
    text = render_hosts("web", ["172.20.0.2", "fd12:3456::2"], ["db:10.0.0.9"], domainname="example.com")
    assert text.splitlines() == [
        "127.0.0.1\tlocalhost",
        "::1\tlocalhost ip6-localhost ip6-loopback",
        "fe00::0\tip6-localnet",
        "ff00::0\tip6-mcastprefix",
        "ff02::1\tip6-allnodes",
        "ff02::2\tip6-allrouters",
        "10.0.0.9\tdb",
        "172.20.0.2\tweb.example.com web",
        "fd12:3456::2\tweb.example.com web",
    ]


def test_ipv6_only_container_and_ipv6_off():
    assert render_hosts("web", ["fd12:3456::2"]).endswith("ff02::2\tip6-allrouters\nfd12:3456::2\tweb\n")
    assert render_hosts("web", ["172.20.0.2", "fd12:3456::2"], ipv6=False) == \
        "127.0.0.1\tlocalhost\n172.20.0.2\tweb\n"
    with pytest.raises(InvalidArgument, match="not an IP address"):
        render_hosts("web", ["fd12::zz"])
