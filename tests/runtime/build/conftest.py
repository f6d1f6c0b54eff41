"""Fixtures for builder tests: an image store with busybox imported as ``busybox:test``, a container service with
its own cgroup parent, and a builder over them; all removed even after a failure."""
from __future__ import annotations

import io
import secrets
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest


@dataclass
class BuildEnv:
    root: Path
    store: object
    containers: object
    builder: object
    log: list[str] = field(default_factory=list)

    def build(self, context: Path, dockerfile: str | None = None, **options):
        from runtime.build.builder import BuildOptions
        from runtime.build.context import BuildContext

        if dockerfile is not None:
            (context / options.pop("dockerfile_name", "Dockerfile")).write_text(dockerfile)
        self.log.clear()
        with BuildContext(context, options.get("dockerfile", "Dockerfile")) as ctx:
            return self.builder.build(ctx, BuildOptions(**options), self.log.append)

    @property
    def output(self) -> str:
        return "".join(self.log)

    def run(self, image: str, *argv: str) -> tuple[int, str]:
        """Run ``argv`` in a container of ``image``; (exit code, stdout+stderr)."""
        from runtime.spec import ContainerSpec

        img = self.store.resolve(image)
        env = tuple(img.config.get("Env") or ())
        cid = self.containers.create(None, ContainerSpec(args=argv, image=img.id, env=env,
                                                         working_dir=img.config.get("WorkingDir") or "/",
                                                         user=img.config.get("User") or ""))
        try:
            conn = self.containers.start(cid, attach={"stdin": False, "stdout": True, "stderr": True})
            chunks: list[bytes] = []
            from runtime.build.run import _pump

            with conn:
                _pump(conn, chunks.append)
            code = self.containers.wait(cid)
            return code, b"".join(chunks).decode()
        finally:
            self.containers.remove(cid, force=True)


@pytest.fixture
def benv(tmp_path: Path, busybox_tar: Path) -> Iterator[BuildEnv]:
    import os

    if os.geteuid() != 0:
        pytest.skip("needs root (containers)")
    from runtime.build.builder import Builder
    from runtime.cgroups import remove_parent
    from runtime.containers import ContainerService
    from runtime.images import ImageStore

    root = tmp_path / "root"
    store = ImageStore(root / "images")
    store.import_rootfs(busybox_tar, "busybox:test", ['CMD ["sh"]'])
    parent = f"pycompose-test-{secrets.token_hex(3)}"
    containers = ContainerService(root, images=store, cgroup_parent=parent)
    try:
        yield BuildEnv(root, store, containers, Builder(store, containers, root / "build"))
    finally:
        for state in containers.list():
            try:
                containers.remove(state.id, force=True)
            except Exception:  # noqa: BLE001 - teardown goes on
                pass
        containers.close()
        remove_parent(parent)
        mounts = [ln.split()[4] for ln in open("/proc/self/mountinfo") if str(root) in ln.split()[4]]
        assert not mounts, f"mounts left behind: {mounts}"


def tar_of(files: dict[str, bytes | str]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in files.items():
            raw = data.encode() if isinstance(data, str) else data
            info = tarfile.TarInfo(name)
            info.size = len(raw)
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(raw))
    return buf.getvalue()
