"""Fixtures for container tests: a service on a fresh data root with its own cgroup parent, torn down even
after a failure."""
from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from runtime.cgroups import remove_parent
from runtime.containers import ContainerService


@pytest.fixture
def cgroup_parent() -> Iterator[str]:
    parent = f"pycompose-test-{secrets.token_hex(3)}"
    yield parent
    remove_parent(parent)


@pytest.fixture
def svc(tmp_path: Path, cgroup_parent: str) -> Iterator[ContainerService]:
    service = ContainerService(tmp_path / "root", cgroup_parent=cgroup_parent)
    try:
        yield service
    finally:
        for state in service.list():
            try:
                service.remove(state.id, force=True)
            except Exception:  # noqa: BLE001 - teardown must go on
                pass
        service.close()


@pytest.fixture
def rootfs(busybox_rootfs: Path) -> tuple[str, ...]:
    return (str(busybox_rootfs),)


