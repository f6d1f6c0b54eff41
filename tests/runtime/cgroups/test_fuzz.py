"""Any limits a user can write: ``resources_from`` accepts them or says why; ``apply`` on a real cgroup writes them,
warns, or raises a typed error - never anything else."""
from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runtime.cgroups.convert import resources_from
from runtime.errors import EngineError, InvalidArgument

MB = 1024 * 1024
_ints = st.sampled_from([-2, -1, 0, 1, 2, 999, 1000, 5 * MB, 6 * MB, 64 * MB, 10**6, 2**40, 2**63 - 1])
_resources = st.fixed_dictionaries({}, optional={
    "memory": _ints, "memory_reservation": _ints, "memory_swap": _ints,
    "memory_swappiness": st.integers(-2, 101), "nano_cpus": _ints, "cpu_quota": _ints, "cpu_period": _ints,
    "cpu_shares": _ints, "cpuset_cpus": st.sampled_from(["", "0", "0-1", "1,0", "7", "x", "1-0"]),
    "cpuset_mems": st.sampled_from(["", "0", "3"]), "pids_limit": _ints, "blkio_weight": _ints,
    "oom_kill_disable": st.booleans(),
})


@settings(max_examples=300, deadline=None)
@given(kw=_resources)
def test_resources_accept_or_explain(kw):
    try:
        resources_from(kw)
    except InvalidArgument as err:
        assert str(err)


@pytest.mark.root
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(kw=_resources)
def test_apply_writes_warns_or_raises_typed(kw, cg_parent):
    from runtime.cgroups.factory import new_manager

    try:
        res = resources_from(kw)
    except InvalidArgument:
        return
    mgr = new_manager("fuzz", cg_parent)
    mgr.create()
    try:
        warnings = mgr.apply(res)
        assert isinstance(warnings, list)
    except EngineError as err:
        assert str(err)
    finally:
        mgr.destroy()
