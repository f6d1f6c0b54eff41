"""The v2 device filter program, run through a small interpreter of the eBPF instructions it uses and compared
with the rule semantics (last matching rule decides, nothing matches: deny) for random rule lists."""
from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runtime.cgroups.devices import DeviceRule, build_program

_ACC = {"m": 1, "r": 2, "w": 4}
_TYPE = {"c": 2, "b": 1}


def _run(prog: bytes, dev_type: int, access: int, major: int, minor: int) -> int:
    ctx = struct.pack("<III", (access << 16) | dev_type, major, minor)
    regs = [0] * 11
    pc = 0
    insns = [struct.unpack_from("<BBhi", prog, i) for i in range(0, len(prog), 8)]
    for _ in range(10_000):
        code, regbyte, off, imm = insns[pc]
        dst, src = regbyte & 0xF, regbyte >> 4
        pc += 1
        if code == 0x61:  # ldxw dst, [src + off]: src is the context pointer (r1 at entry)
            assert src == 1 and off in (0, 4, 8)
            regs[dst] = struct.unpack_from("<I", ctx, off)[0]
        elif code == 0x57:
            regs[dst] &= imm & 0xFFFFFFFFFFFFFFFF
        elif code == 0x77:
            regs[dst] >>= imm
        elif code == 0xBF:
            regs[dst] = regs[src]
        elif code == 0xB7:
            regs[dst] = imm & 0xFFFFFFFFFFFFFFFF
        elif code == 0x55:
            if regs[dst] != (imm & 0xFFFFFFFFFFFFFFFF):
                pc += off
        elif code == 0x95:
            return regs[0]
        else:
            raise AssertionError(f"unexpected opcode {code:#x}")
    raise AssertionError("program did not terminate")


def _expected(rules: list[DeviceRule], dev_type: str, access: str, major: int, minor: int) -> int:
    verdict = 0
    for rule in rules:
        if rule.type != "a" and rule.type != dev_type:
            continue
        if rule.major >= 0 and rule.major != major:
            continue
        if rule.minor >= 0 and rule.minor != minor:
            continue
        if set(access) - set(rule.access):
            continue
        verdict = 1 if rule.allow else 0
    return verdict


_rules = st.builds(
    DeviceRule,
    type=st.sampled_from("acb"),
    major=st.sampled_from([-1, 1, 5, 136]),
    minor=st.sampled_from([-1, 0, 3, 9]),
    access=st.sampled_from(["m", "r", "w", "rw", "rm", "wm", "rwm"]),
    allow=st.booleans(),
)


@settings(max_examples=400, deadline=None)
@given(rules=st.lists(_rules, max_size=8), dev_type=st.sampled_from("cb"),
       access=st.sampled_from(["m", "r", "w", "rw", "rwm"]), major=st.sampled_from([1, 5, 136, 7]),
       minor=st.sampled_from([0, 3, 9, 11]))
def test_program_matches_rule_semantics(rules, dev_type, access, major, minor):
    prog = build_program(rules)
    acc = sum(_ACC[a] for a in access)
    assert _run(prog, _TYPE[dev_type], acc, major, minor) == _expected(rules, dev_type, access, major, minor)


@pytest.mark.root
def test_kernel_verifier_accepts_every_shape(tmp_path):
    """Load-and-attach a program for many rule lists into one real cgroup v2 directory (programs stack there;
    the cgroup and all of them go away with it)."""
    import os
    import secrets

    from runtime.cgroups.devices import attach_program
    from runtime.cgroups.v2 import v2_mountpoint

    root = v2_mountpoint()
    if root is None:
        pytest.skip("no cgroup2 hierarchy is mounted")
    cg = root / f"pycompose-test-{secrets.token_hex(3)}"
    cg.mkdir()
    try:
        samples = [[], [DeviceRule("a")], [DeviceRule("a"), DeviceRule("c", 1, 3, "r", allow=False)],
                   [DeviceRule("c", -1, -1, "m"), DeviceRule("b", 8, -1, "rw"), DeviceRule("a", -1, -1, "w", False)],
                   [DeviceRule("c", 1, 3, "rwm"), DeviceRule("a"), DeviceRule("b", 1, 1, "m")]]
        for rules in samples:
            attach_program(cg, rules)
    finally:
        os.rmdir(cg)
