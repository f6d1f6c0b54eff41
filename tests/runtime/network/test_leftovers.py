"""Bridges left on the host by an earlier engine: ours are adopted, anyone else's are refused and left alone;
an engine that stops with nobody on the default bridge takes the bridge and its rules away."""
from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest
from pyroute2 import IPRoute

from runtime.errors import Conflict
from runtime.network import bridge as _bridge
from runtime.network.service import NetworkService

pytestmark = pytest.mark.root


def _index(name: str) -> int | None:
    with IPRoute() as ipr:
        return _bridge.link_index(ipr, name)


def _addrs(name: str) -> list[str]:
    with IPRoute() as ipr:
        index = _bridge.link_index(ipr, name)
        return sorted(f"{a.get('address')}/{a['prefixlen']}" for a in ipr.get_addr(index=index, family=2))


def _mark(name: str) -> _bridge.BridgeMark | None:
    with IPRoute() as ipr:
        return _bridge.read_mark(ipr, _bridge.link_index(ipr, name))


@pytest.fixture
def second(net, tmp_path) -> Iterator[NetworkService]:
    """Another engine on this host with a new data root, the same nft table and default bridge name."""
    svc = NetworkService(tmp_path / "root2", tmp_path / "run2", nft_table=net.svc.firewall.table,
                         default_bridge_name=net.svc.default_bridge_name, enable_ip_forward=False)
    try:
        yield svc
    finally:
        for cid in svc.netns.list():
            svc.destroy_sandbox(cid)
        svc.release_default_bridge()


@pytest.mark.parametrize("alias", [None, "made by someone else", "pycompose"])
def test_a_foreign_interface_of_the_default_bridge_name_is_refused_and_left_alone(net, alias):
    name = net.svc.default_bridge_name
    with IPRoute() as ipr:
        ipr.link("add", ifname=name, kind="bridge")
        try:
            if alias:
                ipr.link("set", ifname=name, IFLA_IFALIAS=alias)
            before = ipr.get_links(_bridge.link_index(ipr, name))[0]
            with pytest.raises(Conflict, match=f"{name} already exists on the host and pycompose did not make it"):
                net.svc.default_bridge()
            after = ipr.get_links(_bridge.link_index(ipr, name))[0]
            assert after["index"] == before["index"] and after.get("IFLA_IFALIAS") == alias
            assert not ipr.get_addr(index=after["index"])
            assert not net.svc.firewall.listing() and not net.svc.list({"driver": ["bridge"]})
        finally:
            ipr.link("del", ifname=name)


def test_our_leftover_is_adopted_by_an_engine_with_a_new_data_root(net, second):
    old = net.svc.default_bridge()
    index = _index(old.bridge)
    assert _mark(old.bridge) == _bridge.BridgeMark(old.id, str(net.svc.root))
    assert net.svc.firewall.rules_of(old.id)
    shutil.rmtree(net.svc.root)  # the first engine's data root is gone; its bridge and rules stay behind

    new = second.default_bridge()
    assert _index(new.bridge) == index  # the same interface, configured anew
    assert _mark(new.bridge) == _bridge.BridgeMark(new.id, str(second.root))
    assert _addrs(new.bridge) == [f"{new.pool(4).gateway}/{new.pool(4).subnet.prefixlen}"]
    assert not second.firewall.rules_of(old.id) and second.firewall.rules_of(new.id)
    assert second.firewall.bridges() == [new.bridge]
    cid = "c" * 64
    assert second.connect(new.id, cid, second.create_sandbox(cid)).ipv4 is not None


def test_a_bridge_of_an_engine_whose_data_root_is_still_there_is_refused(net, second):
    old = net.svc.default_bridge()
    with pytest.raises(Conflict, match=f"data root {net.svc.root}"):
        second.default_bridge()
    assert _mark(old.bridge) == _bridge.BridgeMark(old.id, str(net.svc.root))
    assert net.svc.firewall.rules_of(old.id)


def test_a_leftover_with_interfaces_still_attached_is_refused(net, second):
    old = net.svc.default_bridge()
    cid, ns = net.sandbox()
    ep = net.svc.connect(old.id, cid, ns)
    shutil.rmtree(net.svc.root)
    with pytest.raises(Conflict, match=f"still attached to it \\({ep.host_veth}\\)"):
        second.default_bridge()
    assert _addrs(old.bridge) == [f"{old.pool(4).gateway}/{old.pool(4).subnet.prefixlen}"]


def test_stopping_releases_the_default_bridge_only_when_nobody_uses_it(net):
    first = net.svc.default_bridge()
    cid, ns = net.sandbox()
    net.svc.connect(first.id, cid, ns)
    assert not net.svc.release_default_bridge()
    assert _index(first.bridge) is not None and net.svc.firewall.rules_of(first.id)

    net.svc.disconnect(first.id, cid)
    assert net.svc.release_default_bridge()
    assert _index(first.bridge) is None and not net.svc.firewall.listing()
    assert "bridge" not in {n.name for n in net.svc.list()}
    assert not (net.svc.root / "networks" / f"{first.id}.json").exists()
    assert not net.svc.release_default_bridge()  # nothing left to release

    again = NetworkService(net.svc.root, net.svc.run_dir, nft_table=net.svc.firewall.table,
                           default_bridge_name=net.svc.default_bridge_name, enable_ip_forward=False)
    again.restore()
    assert _index(first.bridge) is None  # a restart does not bring it back before it is used
    made = again.default_bridge()
    assert made.id != first.id and _index(made.bridge) is not None
    assert again.release_default_bridge()


def _marked(network_id: str) -> list[str]:
    with IPRoute() as ipr:
        return [ln.get("ifname") for ln in ipr.get_links()
                if (m := _bridge.mark_of(ln)) is not None and m.network_id == network_id]


def test_remove_frees_name_and_subnet_at_once_and_the_bridge_is_deleted_soon(net):
    from runtime.network.ipam import host_networks

    old = net.create(ipam={"Config": [{"Subnet": "10.213.7.0/24"}]})
    net.svc.remove(old.id)
    assert _index(old.bridge) is None  # out of view at once ...
    assert not any(n.overlaps(old.pool(4).subnet) for n in host_networks() if n.version == 4)
    again = net.svc.create(net.prefix + "-again", ipam={"Config": [{"Subnet": "10.213.7.0/24"}]},
                           options={"com.docker.network.bridge.name": old.bridge})
    assert _mark(again.bridge) == _bridge.BridgeMark(again.id, str(net.svc.root))
    assert net.svc.reaper.drain(30)
    assert _marked(old.id) == []  # ... and deleted by the worker


def test_restore_deletes_our_bridges_that_no_record_knows_and_only_those(net, tmp_path):
    ours = net.create()
    with IPRoute() as ipr:  # as if the engine died between retiring the bridge and deleting it
        ipr.link("set", index=_index(ours.bridge), state="down")
        ipr.link("set", index=_index(ours.bridge), ifname=net.prefix + "gone")
    (net.svc.root / "networks" / f"{ours.id}.json").unlink()
    other = NetworkService(tmp_path / "other", tmp_path / "other-run", nft_table=net.svc.firewall.table,
                           enable_ip_forward=False)
    theirs = other.create(net.prefix + "-theirs", options={"com.docker.network.bridge.name": net.bridge_name()})
    try:
        again = NetworkService(net.svc.root, net.svc.run_dir, nft_table=net.svc.firewall.table,
                               enable_ip_forward=False)
        again.restore()
        assert _index(net.prefix + "gone") is None and _marked(ours.id) == []
        assert _index(theirs.bridge) is not None  # another engine's bridge is left alone
    finally:
        other.remove(theirs.id)
        assert other.reaper.drain(30)
        net.svc.firewall.remove(ours.id, ours.bridge)
