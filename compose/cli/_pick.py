"""Which container of a service a single-container command (attach, commit, export, cp) works on: ``--index N``,
else the first (``--index 0`` is Docker Compose's "not given"); a clear one-line error when the service has none
or no such index."""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from compose.cli.session import Session
    from compose.engine.containers import ContainerInfo

__all__ = ["pick_container", "service_containers"]


def service_containers(session: "Session", service: str, *, index: int | None = None, running: bool = False,
                       oneoff: bool = False) -> list["ContainerInfo"]:
    """The service's containers (``index``: only that one; ``oneoff``: ``run`` containers too); an error when none
    is left."""
    from compose.errors import UserError

    if index is not None and index < 0:
        raise UserError.single(f"--index {index}: container indexes start at 1")
    if index == 0:  # Docker Compose's default: not given
        index = None
    found = session.containers([service], all=not running, oneoff=None if oneoff else False)
    if not found:
        state = "running " if running else ""
        raise UserError.single(f"service {service!r} has no {state}container")
    if index is None:
        return found
    chosen = [c for c in found if c.number == index and not c.oneoff]
    if not chosen:
        numbers = ", ".join(str(c.number) for c in found if not c.oneoff) or "none"
        raise UserError.single(f"service {service!r} has no {'running ' if running else ''}container #{index} "
                               f"(containers: {numbers})")
    return chosen


def pick_container(session: "Session", service: str, index: int | None, *, running: bool = False) -> "ContainerInfo":
    """Container ``#index`` of the service, or its first one."""
    return service_containers(session, service, index=index, running=running)[0]
