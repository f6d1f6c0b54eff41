"""Port 53 left free for the container: 127.0.0.11:53 redirected (nftables DNAT) to the server's real port.

Binding 127.0.0.11:53 itself is fastest but keeps port 53 taken inside the container's netns, so a service
that runs its own DNS server on ``0.0.0.0:53`` (coredns, dnsmasq, pi-hole) would fail to bind. With
redirection, as Docker does, the server binds a kernel-chosen port and a table of its own in the container's
netns (``ip pycompose_dns``, output hook) sends 127.0.0.11:53 there; conntrack turns the replies back. The
table dies with the netns.

The table is loaded through libnftables (what the ``nft`` command is built on) by a thread that joined the
netns: no process to start. Adding it costs ~0.5 ms of CPU; what cost ~12 ms was the wall time of any
transaction that deletes a table or a rule (the kernel waits for an RCU grace period before it commits).
A refused transaction (``create`` of a table that exists) waits as long: the kernel's abort path does too.
So :func:`open_redirected` first lists the table (a read, no transaction) and never deletes on the way that
matters: a fresh netns gets the table with one ``create`` transaction; a netns that has one (a container
started again, or the daemon restarted) gets sockets bound to the ports its rules already name, and the
table is left as it is. Only when those ports are taken meanwhile (by the container's own programs) is the
table replaced, the slow way.
"""
from __future__ import annotations

import ctypes
import os
import re
import socket

from runtime import trace
from runtime.errors import EngineError, Unsupported
from runtime.network.dns.listener import bind_listeners, close_pair, run_in_netns
from runtime.network.nftlib import load_library, run_in_context

__all__ = ["TABLE", "forget_mappings", "install_redirect", "open_redirected", "redirect_available", "redirect_script",
           "redirect_ports"]

TABLE = "pycompose_dns"


def _libnftables() -> ctypes.CDLL:
    """libnftables, loaded once (``Unsupported`` when it is not installed)."""
    lib = load_library()
    if lib is None:
        raise Unsupported("DNS port redirection needs libnftables (Debian: libnftables1, from nftables)")
    return lib


def redirect_available() -> bool:
    """Whether libnftables, which redirection needs, is installed."""
    try:
        _libnftables()
    except (Unsupported, OSError):
        return False
    return True


def redirect_script(address: str, udp_port: int, tcp_port: int) -> str:
    """The nft transaction: (re)create the table with one DNAT rule per protocol."""
    return (
        f"table ip {TABLE} {{}}\n"
        f"delete table ip {TABLE}\n"
        f"table ip {TABLE} {{\n"
        f"  chain output {{\n"
        f"    type nat hook output priority -100; policy accept;\n"
        f"    ip daddr {address} udp dport 53 dnat to {address}:{udp_port}\n"
        f"    ip daddr {address} tcp dport 53 dnat to {address}:{tcp_port}\n"
        f"  }}\n"
        f"}}\n"
    )


def _create_script(address: str, udp_port: int, tcp_port: int) -> str:
    """The nft transaction for a netns without the table: it fails (and changes nothing) when there is one."""
    return (
        f"create table ip {TABLE}\n"
        f"add chain ip {TABLE} output {{ type nat hook output priority -100; policy accept; }}\n"
        f"add rule ip {TABLE} output ip daddr {address} udp dport 53 dnat to {address}:{udp_port}\n"
        f"add rule ip {TABLE} output ip daddr {address} tcp dport 53 dnat to {address}:{tcp_port}\n"
    )


def redirect_ports(listing: str, address: str) -> tuple[int, int] | None:
    """(UDP port, TCP port) the table's rules (``nft list`` text) send ``address``:53 to; ``None`` unless it
    holds exactly our two rules."""
    rule = re.compile(rf"^\s*ip daddr {re.escape(address)} (udp|tcp) dport 53 dnat (?:ip )?to "
                      rf"{re.escape(address)}:(\d+)\s*$", re.M)
    found = {proto: int(port) for proto, port in rule.findall(listing)}
    if len(found) != 2 or listing.count("dnat") != 2:
        return None
    return found["udp"], found["tcp"]


def _apply(script: str) -> None:
    """Run an nft script in the calling thread's netns; ``EngineError`` with nft's message on failure."""
    ok, _, err = run_in_context(_libnftables(), script)
    if not ok:
        raise EngineError(err.strip() or "unknown error")


def _current_ports(lib: ctypes.CDLL, address: str) -> tuple[int, int] | None | bool:
    """The ports the netns's table redirects to; ``None``: there is a table but not ours to reuse; ``False``:
    there is none. A listing is a read: unlike a refused transaction, it never waits for a grace period."""
    exists, listing, _ = run_in_context(lib, f"list table ip {TABLE}\n")
    if not exists:
        return False
    return redirect_ports(listing, address)


def _install(address: str, udp_port: int, tcp_port: int) -> None:
    """The redirect to these ports in the calling thread's netns: created when absent, else replaced."""
    lib = _libnftables()
    if _current_ports(lib, address) is False:
        _apply(_create_script(address, udp_port, tcp_port))
    else:
        _apply(redirect_script(address, udp_port, tcp_port))  # deletes: the kernel waits for a grace period


def _open_redirected(address: str) -> tuple[socket.socket, socket.socket, bool]:
    """In the calling thread's netns: (udp, tcp, moved) with 127.0.0.11:53 redirected to the sockets."""
    lib = _libnftables()
    ports = _current_ports(lib, address)
    if isinstance(ports, tuple):
        try:
            udp, tcp = bind_listeners(address, ports[0], ports[1])
        except OSError:  # taken meanwhile (by the container's own programs): the redirect moves
            pass
        else:
            trace.mark("dns.nft_kept")
            return udp, tcp, False
    udp, tcp = bind_listeners(address, 0)
    try:
        if ports is False:
            _apply(_create_script(address, udp.getsockname()[1], tcp.getsockname()[1]))
            trace.mark("dns.nft_created")
            return udp, tcp, False
        _apply(redirect_script(address, udp.getsockname()[1], tcp.getsockname()[1]))  # the slow way
        trace.mark("dns.nft_replaced")
        return udp, tcp, True
    except BaseException:
        close_pair((udp, tcp))
        raise


async def open_redirected(netns_path: str | os.PathLike[str], address: str) -> tuple[socket.socket, socket.socket,
                                                                                      bool]:
    """A scope's (UDP, TCP) sockets in the netns at ``netns_path``, ``address``:53 redirected to them, in one
    thread hop. The third value says whether the redirect moved to new ports (older conntrack mappings of
    ``address``:53 then lead nowhere: see :func:`forget_mappings`). ``OSError`` when the sockets cannot be
    made; ``EngineError`` (sockets closed) when the redirect cannot be loaded; ``Unsupported`` without
    libnftables."""
    path = os.fspath(netns_path)
    _libnftables()  # Unsupported before any thread is made
    try:
        return await run_in_netns(path, lambda: _open_redirected(address), close_pair)
    except (Unsupported, OSError):
        raise
    except EngineError as err:
        raise EngineError(f"cannot redirect {address}:53 in {path}: {err}") from err


async def install_redirect(netns_path: str | os.PathLike[str], address: str, udp_port: int, tcp_port: int) -> None:
    """Load the redirect table into the netns at ``netns_path`` (from a thread that joined it)."""
    path = os.fspath(netns_path)
    _libnftables()  # Unsupported before any thread is made
    try:
        await run_in_netns(path, lambda: _install(address, udp_port, tcp_port))
    except Unsupported:
        raise
    except EngineError as err:
        raise EngineError(f"cannot redirect {address}:53 in {path}: {err}") from err


async def forget_mappings(netns_path: str | os.PathLike[str], address: str, udp_port: int, tcp_port: int) -> int:
    """Drop the netns's conntrack entries for ``address``:53 that lead anywhere but the current ports.

    A client that keeps its source port (a caching resolver, a long-lived socket) would otherwise follow
    its old entry to a previous scope's port for as long as it keeps asking. Entries already mapped to the
    current ports (flows that started after the new rule) are kept. Returns how many entries went.
    """
    current = {socket.IPPROTO_UDP: udp_port, socket.IPPROTO_TCP: tcp_port}
    return await run_in_netns(os.fspath(netns_path), lambda: _forget_mappings(address, current))


def _tracked_flows() -> int | None:
    """How many flows conntrack tracks in the calling thread's netns (``None``: cannot tell)."""
    try:  # /proc/sys/net follows the netns of the task that opens it: this thread's
        with open("/proc/sys/net/netfilter/nf_conntrack_count") as fh:
            return int(fh.read())
    except (OSError, ValueError):
        return None


def _forget_mappings(address: str, current: dict[int, int]) -> int:
    """Delete this netns's conntrack entries for ``address``:53 not mapped to ``current[proto]``."""
    if _tracked_flows() == 0:  # a fresh namespace: nothing to forget, and no netlink socket to open
        return 0
    from pyroute2 import Conntrack
    from pyroute2.netlink.nfnetlink.nfctsocket import NFCTAttrTuple

    count = 0
    with Conntrack() as ct:
        for proto in current:
            wanted = NFCTAttrTuple(daddr=address, proto=proto, dport=53)
            for entry in list(ct.dump_entries(tuple_orig=wanted)):
                orig = entry.tuple_orig
                if (orig.daddr, orig.dport, orig.proto) != (address, 53, proto):  # the kernel filter, checked
                    continue
                if entry.tuple_reply.sport == current[proto]:  # already goes to this scope
                    continue
                try:
                    ct.delete(entry)
                    count += 1
                except OSError:  # gone meanwhile
                    continue
    return count
