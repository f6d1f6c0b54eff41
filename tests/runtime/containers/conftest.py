"""Fixtures for container tests: a service on a fresh data root with its own cgroup parent, torn down even
after a failure."""
from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from runtime.cgroups import remove_parent
from runtime.containers import ContainerService


_FAILED_REMOVALS: dict[str, list[str]] = {}  # cgroup parent -> removals the svc teardown could not make


@pytest.fixture
def cgroup_parent() -> Iterator[str]:
    parent = f"pycompose-test-{secrets.token_hex(3)}"
    yield parent
    failed = _FAILED_REMOVALS.pop(parent, [])
    try:
        remove_parent(parent)
    except Exception as err:  # a busy parent: say what the removals before it ran into
        raise AssertionError(f"{err}; failed removals before it: {failed or 'none'}") from err


@pytest.fixture
def svc(tmp_path: Path, cgroup_parent: str) -> Iterator[ContainerService]:
    service = ContainerService(tmp_path / "root", cgroup_parent=cgroup_parent)
    try:
        yield service
    finally:
        for state in service.list():
            try:
                service.remove(state.id, force=True)
            except Exception as err:  # noqa: BLE001 - teardown must go on (told if the cgroup parent stays busy)
                _FAILED_REMOVALS.setdefault(cgroup_parent, []).append(f"{state.id[:12]}: {err!r}")
        service.close()


@pytest.fixture
def rootfs(busybox_rootfs: Path) -> tuple[str, ...]:
    return (str(busybox_rootfs),)


