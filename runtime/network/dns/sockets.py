"""How a scope's sockets are opened: behind the redirect of 127.0.0.11:53 when asked and possible, else on the
port itself; failures as the engine's typed errors."""
from __future__ import annotations

import errno
import logging
import socket

from runtime.errors import Conflict, EngineError, InvalidArgument, NotFound
from runtime.network.dns.listener import open_listeners
from runtime.network.dns.redirect import open_redirected

__all__ = ["Listening", "open_scope_sockets"]

Listening = tuple[socket.socket, socket.socket, bool]  # (udp, tcp, the redirect moved to new ports)
log = logging.getLogger(__name__)


async def open_scope_sockets(path: str, address: str, port: int, redirect: bool) -> Listening:
    """(udp, tcp, moved) in the netns at ``path``: free ports behind a DNAT of ``address``:53 when ``redirect``
    and nftables can, else ``address``:``port`` itself. ``moved``: the DNAT now leads to other ports than
    before (older conntrack mappings must go)."""
    if redirect:
        try:
            return await open_redirected(path, address)
        except OSError as err:
            raise _bind_error(path, address, 0, err) from err
        except EngineError as err:  # no nf_tables/nat in this kernel, no nft: serve the port directly
            log.warning("DNS in %s without redirection (port %d stays taken): %s", path, port, err)
    try:
        udp, tcp = await open_listeners(path, address, port)
    except OSError as err:
        raise _bind_error(path, address, port, err) from err
    return udp, tcp, False


def _bind_error(path: str, address: str, port: int, err: OSError) -> EngineError:
    if isinstance(err, FileNotFoundError):
        return NotFound(f"network namespace {path} not found")
    if err.errno == errno.EADDRINUSE:
        return Conflict(f"{address}:{port} is already taken in {path}")
    return InvalidArgument(f"cannot listen on {address}:{port} in {path}: {err}")
