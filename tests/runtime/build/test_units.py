"""Pure pieces of the builder: RUN --mount parsing, metadata instructions, ARG words, the context's sources and
checksums, the step cache key (no kernel needed)."""
from __future__ import annotations

import io
import tarfile

import pytest

from runtime.build.cache import cache_key
from runtime.build.context import BuildContext
from runtime.build.dockerfile import DockerfileError, parse
from runtime.build.metadata import apply_metadata, arg_words
from runtime.build.run import parse_run_mount
from runtime.build.state import BuildState
from runtime.errors import InvalidArgument, NotFound, Unsupported


def _ins(line: str):
    return parse(f"FROM scratch\n{line}\n").stages[0].instructions[1]


def test_run_mount_parsing():
    cache = parse_run_mount("type=cache,target=/root/.cache,id=pip,mode=0700,uid=1,gid=2")
    assert (cache.type, cache.target, cache.id, cache.mode, cache.uid, cache.gid) == \
        ("cache", "/root/.cache", "pip", 0o700, 1, 2)
    bind = parse_run_mount("type=bind,source=src,target=/src")
    assert bind.read_only and bind.source == "src"
    assert not parse_run_mount("type=bind,target=/s,rw").read_only
    assert parse_run_mount("type=tmpfs,target=/t,size=64m").size == 64 << 20
    with pytest.raises(InvalidArgument, match="target is required"):
        parse_run_mount("type=cache")
    with pytest.raises(Unsupported, match="secret"):
        parse_run_mount("type=secret,target=/run/secrets/x")
    with pytest.raises(InvalidArgument, match="unknown mount type"):
        parse_run_mount("type=weird,target=/x")


def test_metadata_instructions_are_pure_config_changes():
    section, text = apply_metadata({"Env": ["A=1"]}, _ins("ENV B=$A C=${A:-x}2"), {"A": "1"}, "\\")
    assert section["Env"] == ["A=1", "B=1", "C=12"] and text == "ENV B=1 C=12"
    section, _ = apply_metadata({}, _ins("EXPOSE 8000-8002/udp 80"), {}, "\\")
    assert set(section["ExposedPorts"]) == {"8000/udp", "8001/udp", "8002/udp", "80/tcp"}
    with pytest.raises(DockerfileError, match="invalid containerPort"):
        apply_metadata({}, _ins("EXPOSE eighty"), {}, "\\")
    section, _ = apply_metadata({"Cmd": ["sh"]}, _ins('ENTRYPOINT ["top"]'), {}, "\\", cmd_set=False)
    assert section["Entrypoint"] == ["top"] and section["Cmd"] is None
    section, _ = apply_metadata({"Cmd": ["sh"]}, _ins('ENTRYPOINT ["top"]'), {}, "\\", cmd_set=True)
    assert section["Cmd"] == ["sh"]
    section, _ = apply_metadata({}, _ins('HEALTHCHECK CMD ["true"]'), {}, "\\")
    assert section["Healthcheck"]["Test"] == ["CMD", "true"]
    section, _ = apply_metadata({"Healthcheck": {"Test": ["CMD", "x"]}}, _ins("HEALTHCHECK NONE"), {}, "\\")
    assert section["Healthcheck"] == {"Test": ["NONE"]}
    section, _ = apply_metadata({}, _ins("VOLUME /a $DIR"), {"DIR": "/b"}, "\\")
    assert set(section["Volumes"]) == {"/a", "/b"}


def test_arg_words():
    assert arg_words(_ins('ARG A B=2 C="x y" D=$B'), {"B": "bee"}, "\\") == \
        [("A", None), ("B", "2"), ("C", "x y"), ("D", "bee")]
    with pytest.raises(DockerfileError):
        arg_words(_ins("ARG =x"), {}, "\\")


def test_context_sources_globs_ignores_and_checksums(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "x.txt").write_text("x")
    (tmp_path / "a" / "y.log").write_text("y")
    (tmp_path / "b.txt").write_text("b")
    (tmp_path / ".dockerignore").write_text("*.log\n**/*.log\n")
    ctx = BuildContext(tmp_path)
    assert ctx.match("*.txt") == ["b.txt"]
    assert ctx.match("a/*") == ["a/x.txt"]
    assert ctx.match("../../a/x.txt") == ["a/x.txt"]  # never above the context
    assert ctx.walk("a") == ["a", "a/x.txt"]
    with pytest.raises(NotFound):
        ctx.match("a/y.log")
    before = ctx.checksum("a")
    (tmp_path / "a" / "y.log").write_text("changed")  # ignored: no effect on the checksum
    assert BuildContext(tmp_path).checksum("a") == before
    (tmp_path / "a" / "x.txt").write_text("changed")
    assert BuildContext(tmp_path).checksum("a") != before
    with pytest.raises(NotFound, match="Cannot locate specified Dockerfile"):
        BuildContext(tmp_path, "nope/Dockerfile").read_dockerfile()


def test_context_from_tar_refuses_escapes(tmp_path):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo("../evil")
        info.size = 1
        tar.addfile(info, io.BytesIO(b"x"))
    buf.seek(0)
    with pytest.raises(InvalidArgument, match="not a valid tar|outside"):
        BuildContext.from_tar(buf, tmp_path / "work")
    assert not (tmp_path / "evil").exists()
    with BuildContext.from_tar(io.BytesIO(b"FROM scratch\n"), tmp_path / "work") as ctx:  # a bare Dockerfile
        assert ctx.read_dockerfile() == "FROM scratch\n"
    broken = io.BytesIO(b"\x1f\x8b" + b"\0" * 100)  # gzip magic, then garbage
    with pytest.raises(InvalidArgument, match="not a valid tar"):
        BuildContext.from_tar(broken, tmp_path / "work")
    assert list((tmp_path / "work").iterdir()) == []  # nothing left of either


def test_cache_key_depends_on_parent_instruction_and_inputs():
    a, b = BuildState.scratch(), BuildState.scratch().with_config({"Env": ["A=1"]}, {"created": "t"})
    assert cache_key(a, "RUN x") == cache_key(BuildState.scratch(), "RUN x")
    assert len({cache_key(a, "RUN x"), cache_key(b, "RUN x"), cache_key(a, "RUN y"),
                cache_key(a, "RUN x", ["sum"])}) == 4
