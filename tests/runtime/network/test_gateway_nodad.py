"""A bridge's IPv6 gateway is usable at once: added without duplicate address detection (as the containers'
addresses are), not left tentative for the 1-2 s DAD takes, during which the host neither answers for it nor
routes a container's replies through it."""
from __future__ import annotations

import secrets

import pytest
from pyroute2 import IPRoute

from tests.support.ipv6 import host_has_ipv6

pytestmark = pytest.mark.root

_IFA_F_NODAD = 0x02
_IFA_F_TENTATIVE = 0x40


def test_ipv6_gateway_is_not_tentative(net):
    if not host_has_ipv6():
        pytest.skip("the host has no IPv6")
    ula = f"fd{secrets.token_hex(1)}:{secrets.token_hex(2)}::/64"
    n = net.create(enable_ipv6=True, ipam={"Config": [{"Subnet": ula}]})
    gw = str(n.pool(6).gateway)
    with IPRoute() as ipr:
        (addr,) = [a for a in ipr.get_addr(family=10, index=ipr.link_lookup(ifname=n.bridge)[0])
                   if a.get_attr("IFA_ADDRESS") == gw]
    flags = addr.get_attr("IFA_FLAGS") or addr["flags"]
    assert flags & _IFA_F_NODAD and not flags & _IFA_F_TENTATIVE, hex(flags)
