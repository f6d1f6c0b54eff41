"""The nft script of a network, and the table's life on the real kernel (our own table name only)."""
from __future__ import annotations

import ipaddress
import secrets
import shutil

import pytest

from runtime.errors import EngineError
from runtime.network.nat import BridgeRules, Firewall
from runtime.network.nftlib import library_available, run_nft


def test_render_non_internal_network():
    fw = Firewall("pcttable")
    script = fw.render(BridgeRules("abc", "br-abc", (ipaddress.ip_network("172.18.0.0/16"),
                                                     ipaddress.ip_network("fd00:1::/64"))))
    assert 'add element inet pcttable bridges { "br-abc" }' in script
    assert ('add rule inet pcttable forward iifname "br-abc" oifname != "br-abc" oifname @bridges drop '
            'comment "pycompose:abc"') in script
    assert 'ip saddr 172.18.0.0/16 oifname != "br-abc" masquerade comment "pycompose:abc"' in script
    assert 'ip6 saddr fd00:1::/64 oifname != "br-abc" masquerade' in script
    assert "pycompose:abc" in script and "table inet pcttable" in script


def test_render_internal_network_has_no_masquerade_and_drops_both_ways():
    script = Firewall("t").render(BridgeRules("i", "br-i", (ipaddress.ip_network("10.1.0.0/24"),), internal=True))
    assert "masquerade" not in script
    assert 'forward iifname "br-i" oifname != "br-i" drop' in script
    assert 'forward oifname "br-i" iifname != "br-i" drop' in script


def test_render_options():
    script = Firewall("t").render(BridgeRules("o", "br-o", (ipaddress.ip_network("10.1.0.0/24"),),
                                              masquerade=False, icc=False))
    assert "masquerade" not in script and 'forward iifname "br-o" oifname "br-o" drop' in script


def test_render_names_only_the_base_chains_missing():
    rules = BridgeRules("o", "br-o", (ipaddress.ip_network("10.1.0.0/24"),))
    fresh = Firewall("t").render(rules)
    assert "add chain inet t forward {" in fresh and "add chain inet t postrouting {" in fresh
    known = Firewall("t").render(rules, {"forward", "postrouting", "prerouting"})
    assert "add chain" not in known  # naming an existing base chain makes the kernel wait ~15 ms
    assert "add table inet t" in known and 'add element inet t bridges { "br-o" }' in known


@pytest.mark.root
def test_second_network_leaves_the_base_chains_alone(tmp_path):
    """The chains a first network made are not named again (read with ``list chains``), and still work."""
    fw = Firewall("pct" + secrets.token_hex(3))
    a = BridgeRules("a" * 64, f"{fw.table}a", (ipaddress.ip_network("10.251.0.0/24"),))
    b = BridgeRules("b" * 64, f"{fw.table}b", (ipaddress.ip_network("10.251.1.0/24"),))
    try:
        fw.add(a)
        handles = {o["chain"]["name"]: o["chain"]["handle"] for o in fw.listing() if "chain" in o}
        assert fw.render(b, fw._ports.chains()).count("add chain") == 0  # noqa: SLF001
        fw.add(b)
        assert {o["chain"]["name"]: o["chain"]["handle"] for o in fw.listing() if "chain" in o} == handles
        assert fw.rules_of(b.network_id) and sorted(fw.bridges()) == sorted([a.bridge, b.bridge])
    finally:
        fw.remove(a.network_id, a.bridge)
        fw.remove(b.network_id, b.bridge)
    assert fw.listing() == []


@pytest.mark.root
@pytest.mark.parametrize("through", ["libnftables", "nft command"])
def test_add_and_remove_two_networks_then_the_table_is_gone(through):
    if through == "libnftables" and not library_available():
        pytest.skip("libnftables is not installed")
    if through == "nft command" and not shutil.which("nft"):
        pytest.skip("the nft command is not installed")
    fw = Firewall("pct" + secrets.token_hex(3), nft=shutil.which("nft") if through == "nft command" else None)
    try:
        a = BridgeRules("a" * 64, "pctnata", (ipaddress.ip_network("10.77.1.0/24"),))
        b = BridgeRules("b" * 64, "pctnatb", (ipaddress.ip_network("10.77.2.0/24"),), internal=True)
        fw.add(a)
        fw.add(b)
        assert sorted(fw.bridges()) == ["pctnata", "pctnatb"]
        assert len(fw.rules_of(a.network_id)) == 2 and len(fw.rules_of(b.network_id)) == 2
        fw.remove(a.network_id, a.bridge)
        assert fw.rules_of(a.network_id) == [] and fw.bridges() == ["pctnatb"]
        fw.remove(b.network_id, b.bridge)
        assert fw.listing() == []
    finally:
        if fw.listing():
            fw._run(["delete", "table", "inet", fw.table])  # noqa: SLF001


@pytest.mark.root
def test_a_bad_script_fails_with_nfts_message_and_changes_nothing():
    table = "pct" + secrets.token_hex(3)
    with pytest.raises(EngineError, match="nft failed: Error: Could not process rule"):
        run_nft(f"add table inet {table}\nadd rule inet {table} no_such_chain drop\n")
    assert run_nft(f"list table inet {table}\n", check=False) == ""  # one transaction: the table never came
