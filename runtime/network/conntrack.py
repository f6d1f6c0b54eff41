"""Forgetting the conntrack entries of a container's published UDP ports when they are unpublished (as Docker).

The kernel decides NAT once per flow and keeps the decision in the flow's conntrack entry. A UDP client that
keeps sending (DNS, syslog, a game) refreshes that entry for ever, so after the DNAT rule is gone its packets
would still go to the container's old address: to nothing once the container is gone, or to the old address
when the port is published again for another container. So when a port's rules go, the entries whose reply
comes from the container's address and port (the flows DNAT'd to it) are deleted; the next packet is then
NAT'd afresh. TCP needs nothing: a connection to a removed container ends. Entries are read with a dump of the
conntrack table (ctnetlink, through pyroute2), filtered here; this runs only when UDP ports are unpublished.
"""
from __future__ import annotations

import ipaddress
import logging
import socket
from collections.abc import Iterable

from runtime.network.portnat import Forward

__all__ = ["forget_udp_flows"]

log = logging.getLogger(__name__)


def forget_udp_flows(forwards: Iterable[Forward]) -> int:
    """Delete the conntrack entries of flows DNAT'd to the UDP ``forwards``' targets; how many went."""
    wanted = {(ipaddress.ip_address(f.target), f.target_port) for f in forwards if f.protocol == "udp"}
    if not wanted:
        return 0
    from pyroute2 import Conntrack
    from pyroute2.netlink.exceptions import NetlinkError
    from pyroute2.netlink.nfnetlink.nfctsocket import NFCTAttrTuple

    gone = 0
    try:
        with Conntrack() as ct:
            for family in {socket.AF_INET6 if addr.version == 6 else socket.AF_INET for addr, _ in wanted}:
                stale = [e for e in ct.dump_entries(tuple_orig=NFCTAttrTuple(family=family,
                                                                             proto=socket.IPPROTO_UDP))
                         if e.tuple_reply.saddr and
                         (ipaddress.ip_address(e.tuple_reply.saddr), e.tuple_reply.sport) in wanted]
                for entry in stale:
                    try:
                        ct.delete(entry)
                        gone += 1
                    except NetlinkError:  # ended meanwhile
                        pass
    except (OSError, NetlinkError) as err:  # no ctnetlink: the entries time out on their own
        log.warning("stale UDP flows of unpublished ports not forgotten: %s", err)
    return gone
