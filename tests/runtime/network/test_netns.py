"""Named network namespaces: nsfs bind mounts in a run dir, entered only by threads made for the call."""
from __future__ import annotations

import os
import threading

import pytest

from runtime.errors import InvalidArgument, NotFound
from runtime.network.netns import NetnsStore, is_netns_file, netlink_in, run_in_netns, write_sysctl_in

pytestmark = pytest.mark.root


@pytest.fixture
def store(tmp_path):
    s = NetnsStore(tmp_path / "run")
    yield s
    for name in s.list():
        s.delete(name)
    assert s.list() == []
    with open("/proc/self/mountinfo") as fh:
        assert str(tmp_path) not in fh.read(), "a netns mount outlived the test"


def _inode(path: str) -> int:
    return os.stat(path).st_ino


def test_create_is_a_new_namespace_with_lo_up_and_idempotent(store):
    path = store.create("one")
    assert is_netns_file(path) and store.list() == ["one"]
    assert _inode(str(path)) != _inode("/proc/self/ns/net")
    with netlink_in(path) as ipr:
        links = {ln.get("ifname"): ln.get("state") for ln in ipr.get_links()}
    assert links == {"lo": "up"}
    assert store.create("one") == path and _inode(str(path)) == _inode(str(store.path("one")))
    other = store.create("two")
    assert _inode(str(other)) != _inode(str(path))


def test_the_callers_thread_keeps_its_namespace(store):
    path = store.create("x")
    before = _inode(f"/proc/self/task/{threading.get_native_id()}/ns/net")
    seen = run_in_netns(path, lambda: _inode(f"/proc/self/task/{threading.get_native_id()}/ns/net"))
    assert seen == _inode(str(path)) != before
    assert _inode(f"/proc/self/task/{threading.get_native_id()}/ns/net") == before


def test_create_then_runs_inside_the_new_namespace_in_the_same_thread(store):
    here = threading.get_native_id()
    path, (tid, ns) = store.create_then("in", lambda: (threading.get_native_id(),
                                                       _inode(f"/proc/self/task/{threading.get_native_id()}/ns/net")))
    assert ns == _inode(str(path)) != _inode(f"/proc/self/task/{here}/ns/net") and tid != here
    assert store.create_then("in", lambda: pytest.fail("not run for a namespace already there")) == (path, None)


def test_create_then_removes_the_namespace_when_its_work_fails(store):
    def boom() -> None:
        raise ValueError("inside")

    with pytest.raises(ValueError, match="inside"):
        store.create_then("bad", boom)
    assert store.list() == [] and not store.path("bad").exists()


def test_sysctl_written_inside_only(store):
    path = store.create("s")
    write_sysctl_in(path, "net.ipv4.ip_forward", "1")
    assert run_in_netns(path, lambda: open("/proc/sys/net/ipv4/ip_forward").read().strip()) == "1"


def test_errors_propagate_from_the_netns_thread(store):
    path = store.create("e")

    def boom() -> None:
        raise ValueError("inside")
    with pytest.raises(ValueError, match="inside"):
        run_in_netns(path, boom)


def test_delete_and_bad_names(store):
    path = store.create("gone")
    store.delete("gone")
    assert not path.exists() and store.list() == []
    with pytest.raises(NotFound):
        store.delete("gone")
    for bad in ("../x", "", "a/b"):
        with pytest.raises(InvalidArgument):
            store.path(bad)


def test_host_networks_sees_routes_of_every_table_and_addresses(store):
    import ipaddress

    from runtime.network.ipam import DEFAULT_POOLS, choose_subnet, host_networks
    path = store.create("routes")
    with netlink_in(path) as ipr:
        lo = ipr.link_lookup(ifname="lo")[0]
        ipr.addr("add", index=lo, address="172.17.0.1", prefixlen=16)
        ipr.route("add", dst="172.18.0.0/16", oif=lo, table=100)
        ipr.route("add", dst="172.19.0.0/24", oif=lo)
        ipr.route("add", dst="fd00:77::/64", oif=lo, table=101)
    found = host_networks(path)
    for want in ("172.17.0.0/16", "172.18.0.0/16", "172.19.0.0/24", "fd00:77::/64"):
        assert ipaddress.ip_network(want) in found
    assert not any(n.is_link_local for n in found) and ipaddress.ip_network("0.0.0.0/0") not in found
    assert str(choose_subnet(DEFAULT_POOLS, found)) == "172.20.0.0/16"
