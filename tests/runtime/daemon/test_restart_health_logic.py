"""Restart back-off and policy decisions; health-check state machine driven by real probe processes."""
from __future__ import annotations

import asyncio

import pytest

from runtime.errors import InvalidArgument
from runtime.health import HEALTHY, STARTING, UNHEALTHY, HealthConfig, HealthMonitor
from runtime.restart import RestartPolicy, RestartTracker


def test_policy_parse():
    assert RestartPolicy.parse("on-failure:3") == RestartPolicy("on-failure", 3)
    assert RestartPolicy.parse({"Name": "", "MaximumRetryCount": 0}) == RestartPolicy("no", 0)
    for bad in ("sometimes", "always:2", "on-failure:x"):
        with pytest.raises(InvalidArgument):
            RestartPolicy.parse(bad)


def test_backoff_doubles_and_resets_after_ten_seconds():
    t = RestartTracker(RestartPolicy("always"))
    delays = [t.decide(1, 0.5) for _ in range(5)]
    assert delays == [0.1, 0.2, 0.4, 0.8, 1.6]
    assert t.decide(0, 12.0) == 0.1
    for _ in range(20):
        last = t.decide(0, 0.1)
    assert last == 60.0
    assert t.restart_count == 26


def test_on_failure_counts_and_explicit_stop():
    t = RestartTracker(RestartPolicy("on-failure", 2))
    assert t.decide(0, 1) is None
    assert t.decide(3, 1) is not None and t.decide(3, 1) is not None
    assert t.decide(3, 1) is None
    u = RestartTracker(RestartPolicy("unless-stopped"))
    u.stopped_by_user()
    assert u.decide(0, 1) is None and not u.on_engine_start()
    a = RestartTracker(RestartPolicy("always"))
    a.stopped_by_user()
    assert a.decide(0, 1) is None and a.on_engine_start()
    assert RestartTracker(RestartPolicy("no")).decide(1, 1) is None


async def _host_probe(argv: list[str], timeout: float) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(*argv, stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.STDOUT)
    try:
        out, _ = await proc.communicate()
    except asyncio.CancelledError:
        proc.kill()
        await proc.wait()
        raise
    return proc.returncode or 0, out.decode()


def test_health_config_from_api():
    cfg = HealthConfig.from_api({"Test": ["CMD-SHELL", "exit 0"], "Interval": 2_000_000_000, "Retries": 0})
    assert cfg.argv == ("/bin/sh", "-c", "exit 0") and cfg.interval == 2.0 and cfg.retries == 3
    assert HealthConfig.from_api({"Test": ["NONE"]}) is None


def test_check_turns_healthy_after_failures(tmp_path):
    flag = tmp_path / "ready"
    counter = tmp_path / "count"
    script = f"echo probe >> {counter}; n=$(wc -l < {counter}); [ $n -ge 3 ] && touch {flag}; test -f {flag}"

    async def main():
        changes: list[str] = []
        done = asyncio.Event()

        def on_change(state):
            changes.append(state.status)
            done.set()

        cfg = HealthConfig(("/bin/sh", "-c", script), interval=0.02, timeout=5, retries=5)
        mon = HealthMonitor(cfg, _host_probe, on_change)
        task = asyncio.create_task(mon.run())
        await asyncio.wait_for(done.wait(), 30)
        task.cancel()
        return changes, mon.state

    changes, state = asyncio.run(main())
    assert changes == [HEALTHY]
    assert [e["ExitCode"] for e in state.log][-3:] == [1, 1, 0]
    assert state.failing_streak == 0


def test_check_turns_unhealthy_with_timeout_and_start_period():
    async def main():
        changes: list[str] = []
        done = asyncio.Event()
        cfg = HealthConfig(("/bin/sh", "-c", "echo nope; exit 1"), interval=0.01, timeout=5, retries=2)
        mon = HealthMonitor(cfg, _host_probe, lambda s: (changes.append(s.status), done.set()))
        task = asyncio.create_task(mon.run())
        await asyncio.wait_for(done.wait(), 30)
        task.cancel()
        # a probe slower than its timeout counts as a failure with exit code -1
        slow = HealthMonitor(HealthConfig(("/bin/sleep", "5"), timeout=0.05, retries=1), _host_probe,
                             lambda s: None)
        await slow.probe_once()
        # within the start period failures do not count
        grace = HealthMonitor(HealthConfig(("/bin/false",), retries=1, start_period=60), _host_probe,
                              lambda s: None)
        await grace.probe_once()
        return changes, mon.state, slow.state, grace.state

    changes, state, slow, grace = asyncio.run(main())
    assert changes == [UNHEALTHY] and state.failing_streak == 2
    assert state.log[-1]["Output"] == "nope\n"
    assert slow.status == UNHEALTHY and slow.log[-1]["ExitCode"] == -1 and "timeout" in slow.log[-1]["Output"]
    assert grace.status == STARTING and grace.failing_streak == 0
