"""A built image goes to a real registry (Debian's docker-registry on 127.0.0.1) and back, and a FROM naming an
image the store lacks pulls it."""
from __future__ import annotations


import pytest

from runtime.build.builder import Builder
from runtime.images.registry import RegistryConfig, pull, push
from tests.registry import conftest as _registry_fixtures

pytestmark = pytest.mark.root
registry_factory = _registry_fixtures.registry_factory  # a real registry server per test
registry = _registry_fixtures.registry


def test_push_a_built_image_then_build_from_it_pulling_the_base(benv, registry, tmp_path):
    config = RegistryConfig(auth_file=tmp_path / "docker-config" / "config.json")
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    ref = f"{registry.host}/pc/built:1"
    built = benv.build(ctx, "FROM busybox:test\nRUN echo from-registry > /marker && rm /etc/group\n", tags=[ref])
    push(benv.store, ref, config)
    benv.store.remove(ref)
    with pytest.raises(Exception):
        benv.store.resolve(ref)
    pulls: list[str] = []

    def fetch(name: str):
        pulls.append(name)
        return pull(benv.store, name, config)

    benv.builder = Builder(benv.store, benv.containers, benv.root / "build", pull=fetch)
    child = benv.build(ctx, f"FROM {ref}\nRUN cat /marker > /child\n", tags=["child:1"])
    assert pulls == [ref]
    assert child.diff_ids[:-1] == built.diff_ids  # the pulled layers are the ones built here
    code, out = benv.run("child:1", "sh", "-c", "cat /child; test -e /etc/group || echo whiteout-kept")
    assert (code, out) == (0, "from-registry\nwhiteout-kept\n")
