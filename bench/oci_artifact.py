"""Compose OCI artifacts: ``publish`` of ``samples/webapp``, then ``config`` loaded from ``-f oci://`` against the
same files on disk, interleaved round by round: cold (empty cache: manifest + every layer fetched and verified),
warm by tag (the manifest is asked for, the layers come from the cache) and pinned by digest (no registry at
all). A Debian ``docker-registry`` on 127.0.0.1 is started here and stopped after. No peer: Docker Compose is
not installed on this machine. The project cache is off (``PYCOMPOSE_PROJECT_CACHE=0``) so every run loads.

Usage: python bench/oci_artifact.py [ROUNDS]
"""
from __future__ import annotations

import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parents[1]
PYCOMPOSE = Path(sys.executable).with_name("pycompose")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _registry(base: Path) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    (base / "config.yml").write_text(
        f"version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n"
        f"    rootdirectory: {base / 'storage'}\nhttp:\n  addr: 127.0.0.1:{port}\n  secret: bench\n")
    proc = subprocess.Popen(["/usr/bin/docker-registry", "serve", str(base / "config.yml")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:  # poll a condition with a deadline
        try:
            if requests.get(f"http://127.0.0.1:{port}/v2/", timeout=0.5).status_code == 200:
                return proc, f"127.0.0.1:{port}"
        except requests.ConnectionError:
            time.sleep(0.02)
    proc.kill()
    raise SystemExit("docker-registry did not start")


def _run(args: list[str], cwd: Path, env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    subprocess.run([str(PYCOMPOSE), *args], cwd=cwd, check=True, stdout=subprocess.DEVNULL, env=env)
    return time.perf_counter() - t0


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    sample = REPO / "samples" / "webapp"
    base = Path(tempfile.mkdtemp(prefix="pc-bench-oci-"))
    proc, host = _registry(base)
    env = {**os.environ, "PYCOMPOSE_PROJECT_CACHE": "0", "DOCKER_CONFIG": str(base / "docker"),
           "PYCOMPOSE_CACHE_DIR": str(base / "cache")}
    try:
        out = subprocess.run([str(PYCOMPOSE), "publish", "-y", "--with-env", f"{host}/bench/webapp:0"], cwd=sample,
                             env=env, check=True, capture_output=True, text=True).stdout
        pinned = f"oci://{host}/bench/webapp@{out.strip().rsplit('@', 1)[1]}"  # the same manifest as tag 0
        publish = [_run(["publish", "-y", "--with-env", f"{host}/bench/webapp:{i}"], sample, env)
                   for i in range(1, rounds + 1)]
        rows: dict[str, list[float]] = {"local files": [], "oci cold": [], "oci warm (tag)": [],
                                        "oci pinned digest": []}
        ref = f"oci://{host}/bench/webapp:0"
        for _ in range(rounds):
            rows["local files"].append(_run(["config", "-q"], sample, env))
            shutil.rmtree(base / "cache", ignore_errors=True)
            rows["oci cold"].append(_run(["-f", ref, "config", "-q"], base, env))
            rows["oci warm (tag)"].append(_run(["-f", ref, "config", "-q"], base, env))
            rows["oci pinned digest"].append(_run(["-f", pinned, "config", "-q"], base, env))
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        shutil.rmtree(base, ignore_errors=True)
    print(f"load average {os.getloadavg()[0]:.2f}, {rounds} rounds, samples/webapp")
    print(f"{'publish':24s} median {statistics.median(publish) * 1000:7.1f} ms")
    local = statistics.median(rows["local files"])
    for label, times in rows.items():
        median = statistics.median(times)
        print(f"{'config -q, ' + label:34s} median {median * 1000:7.1f} ms  min {min(times) * 1000:7.1f} ms  "
              f"x{median / local:.2f} of local")


if __name__ == "__main__":
    main()
