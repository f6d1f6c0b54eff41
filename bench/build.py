"""Build bench: a 10-step Dockerfile on the busybox base, built cold and then rebuilt with nothing changed.

Two ways: through the engine's ``POST /build`` (docker-py against a daemon started here, the path ``pycompose
build`` takes) and with the builder in-process (no HTTP, no context tar). Prints seconds per build and the goal
(cached rebuild under 0.5 s). Needs root. Usage: python bench/build.py [--runs 5]
"""
from __future__ import annotations

import argparse
import os
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.setup import busybox_engine, busybox_tar  # noqa: E402

GOAL_CACHED_S = 0.5
DOCKERFILE = """\
FROM busybox:bench
ARG VERSION=1
ENV APP_HOME=/app VERSION=$VERSION
RUN mkdir -p $APP_HOME/data && echo "v$VERSION" > $APP_HOME/version
COPY src/ /app/src/
RUN find /app -type f | sort > /app/manifest
WORKDIR /app
COPY config.ini /etc/app.ini
LABEL org.example.bench=build
CMD ["cat", "/app/manifest"]
"""


def _context(root: Path) -> Path:
    ctx = root / "ctx"
    (ctx / "src" / "pkg").mkdir(parents=True)
    for i in range(50):
        (ctx / "src" / "pkg" / f"mod{i}.py").write_text(f"VALUE = {i}\n" * 200)
    (ctx / "config.ini").write_text("[app]\nmode=bench\n")
    (ctx / "Dockerfile").write_text(DOCKERFILE)
    return ctx


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def bench_api(root: Path, ctx: Path, rootfs_tar: Path, runs: int) -> tuple[float, list[float]]:
    with busybox_engine(root, rootfs_tar, tag="bench") as daemon:
        client = daemon.client()

        def build() -> None:
            image, _ = client.images.build(path=str(ctx), tag="bench:api")
            assert image.id

        cold = _timed(build)
        cached = [_timed(build) for _ in range(runs)]
        return cold, cached


def bench_inprocess(root: Path, ctx: Path, rootfs_tar: Path, runs: int) -> tuple[float, list[float]]:
    from runtime.build.builder import Builder, BuildOptions
    from runtime.build.context import BuildContext
    from runtime.cgroups import remove_parent
    from runtime.containers import ContainerService
    from runtime.images import ImageStore

    data = root / "inproc"
    store = ImageStore(data / "images")
    store.import_rootfs(rootfs_tar, "busybox:bench")
    parent = f"pycompose-bench-{secrets.token_hex(3)}"
    containers = ContainerService(data, images=store, cgroup_parent=parent)
    builder = Builder(store, containers, data / "build")
    try:
        def build() -> None:
            with BuildContext(ctx) as context:
                builder.build(context, BuildOptions(tags=["bench:inproc"], quiet=True), lambda _t: None)

        cold = _timed(build)
        cached = [_timed(build) for _ in range(runs)]
        return cold, cached
    finally:
        containers.close()
        remove_parent(parent)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="cached rebuilds to time (default 5)")
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("needs root (containers)", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="pycompose-bench-build-") as tmp:
        root = Path(tmp)
        ctx = _context(root)
        rootfs_tar = busybox_tar(root)
        print(f"10-step Dockerfile, {len(list((ctx / 'src').rglob('*')))} context files, busybox base")
        print(f"{'path':<24}{'cold s':>10}{'cached s (median)':>20}{'cached min':>12}{'goal':>8}")
        for name, fn in (("engine API (docker-py)", bench_api), ("builder in-process", bench_inprocess)):
            cold, cached = fn(root, ctx, rootfs_tar, args.runs)
            median = statistics.median(cached)
            verdict = "ok" if median < GOAL_CACHED_S else "MISS"
            print(f"{name:<24}{cold:>10.3f}{median:>20.3f}{min(cached):>12.3f}{verdict:>8}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
