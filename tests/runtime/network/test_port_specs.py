"""Port specifications: short syntax, Engine API PortBindings in, NetworkSettings.Ports out."""
from __future__ import annotations

import pytest

from runtime.errors import InvalidArgument, Unsupported
from runtime.network.ports import BoundPort, PortBinding, bindings_from_engine, parse_port_spec, ports_to_engine


@pytest.mark.parametrize("text, expected", [
    ("80", [PortBinding(80)]),
    ("8080:80", [PortBinding(80, host_port=8080)]),
    ("127.0.0.1:8080:80/udp", [PortBinding(80, "udp", "127.0.0.1", 8080)]),
    ("127.0.0.1::80", [PortBinding(80, host_ip="127.0.0.1")]),
    ("[::1]:8080:80", [PortBinding(80, host_ip="::1", host_port=8080)]),
    ("8000-8001:80-81", [PortBinding(80, host_port=8000), PortBinding(81, host_port=8001)]),
    ("9000-9010:80", [PortBinding(80, host_port=9000, host_port_end=9010)]),
    ("53-54/udp", [PortBinding(53, "udp"), PortBinding(54, "udp")]),
])
def test_short_syntax(text, expected):
    assert parse_port_spec(text) == expected


@pytest.mark.parametrize("text", ["", "abc", "8000-8002:80-81", "1.2.3.4:80:80:80", "70000:80", "80/icmp",
                                  "0", "300.1.1.1:80:80"])
def test_bad_specs(text):
    with pytest.raises(InvalidArgument):
        parse_port_spec(text)


def test_sctp_is_unsupported():
    with pytest.raises(Unsupported):
        parse_port_spec("80/sctp")


def test_engine_port_bindings_in():
    got = bindings_from_engine({
        "80/tcp": [{"HostIp": "", "HostPort": "8080"}, {"HostIp": "127.0.0.1", "HostPort": ""}],
        "53/udp": [{"HostIp": "0.0.0.0", "HostPort": "5300-5310"}],
        "90/tcp": None,
    })
    assert got == [PortBinding(80, host_port=8080), PortBinding(80, host_ip="127.0.0.1"),
                   PortBinding(53, "udp", "0.0.0.0", 5300, 5310), PortBinding(90)]


def test_network_settings_ports_out():
    out = ports_to_engine([BoundPort(80, "tcp", "0.0.0.0", 8080), BoundPort(80, "tcp", "::", 8080)],
                          exposed=["80/tcp", "443/tcp"])
    assert out == {"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8080"}, {"HostIp": "::", "HostPort": "8080"}],
                   "443/tcp": None}
