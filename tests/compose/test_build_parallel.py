"""``pycompose build`` scheduling: independent builds at once (bounded), depends_on first, output by whole lines
behind the service name. The engine here is a recording stand-in for docker-py's ``APIClient.build``; the real
engine path is covered by ``test_build_cli.py``."""
from __future__ import annotations

import threading
from pathlib import Path

import pytest

from compose.build import build_requests
from compose.cli.build import LinePrefixer, build_all, build_limit
from compose.errors import UserError

from ._build import project_from_yaml


class _Engine:
    """Answers ``build`` with a short progress stream; each build first waits on ``gate`` (when set), so a test
    can require several builds to be in flight at the same moment."""

    def __init__(self, gate: threading.Barrier | None = None, fail: str | None = None) -> None:
        self.gate = gate
        self.fail = fail
        self.lock = threading.Lock()
        self.running: set[str] = set()
        self.peak = 0
        self.events: list[str] = []

    def build(self, *, path: str, tag: str, **_params: object):
        with self.lock:
            self.running.add(tag)
            self.peak = max(self.peak, len(self.running))
            self.events.append(f"start {tag}")
        try:
            if self.gate is not None:
                self.gate.wait()
            if tag == self.fail:
                return iter([{"error": "RUN false returned a non-zero code: 1"}])
            return iter([{"stream": f"Step 1/1 : FROM {tag}"}, {"stream": "\n ---> done\n"},
                         {"aux": {"ID": "sha256:" + tag.encode().hex().ljust(64, "0")}}])
        finally:
            with self.lock:
                self.running.discard(tag)
                self.events.append(f"end {tag}")

    def tag(self, *args: object) -> None:
        pass


def _project(tmp_path: Path, yaml: str):
    for name in ("a", "b", "c", "d"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "Dockerfile").write_text("FROM scratch\n")
    return project_from_yaml(yaml, project_dir=tmp_path)


FLAT = """
services:
  a: {build: ./a}
  b: {build: ./b}
  c: {build: ./c}
"""


def test_independent_services_build_at_the_same_time(tmp_path, capsys):
    project = _project(tmp_path, FLAT)
    engine = _Engine(gate=threading.Barrier(3, timeout=20))  # broken (an error) unless all three are in flight
    build_all(engine, project, build_requests(project, None, {}), limit=4)  # type: ignore[arg-type]
    assert engine.peak == 3
    out = capsys.readouterr().out.splitlines()
    assert sorted(out) == sorted([f"{s} | Step 1/1 : FROM demo-{s}" for s in "abc"]
                                 + [f"{s} |  ---> done" for s in "abc"])


def test_the_limit_holds(tmp_path):
    project = _project(tmp_path, FLAT)
    engine = _Engine()
    build_all(engine, project, build_requests(project, None, {}), limit=2, quiet=True)  # type: ignore[arg-type]
    assert engine.peak <= 2 and len(engine.events) == 6


def test_a_service_builds_after_what_it_depends_on_even_through_an_image_only_service(tmp_path):
    project = _project(tmp_path, """
services:
  a: {build: ./a, depends_on: [mid]}
  mid: {image: busybox, depends_on: [c]}
  c: {build: ./c}
  d: {build: ./d}
""")
    engine = _Engine()
    build_all(engine, project, build_requests(project, None, {}), limit=4, quiet=True)  # type: ignore[arg-type]
    assert engine.events.index("end demo-c") < engine.events.index("start demo-a")


def test_a_failure_is_a_user_error_and_starts_nothing_after_it(tmp_path):
    project = _project(tmp_path, """
services:
  a: {build: ./a, depends_on: [c]}
  c: {build: ./c}
""")
    engine = _Engine(fail="demo-c")
    with pytest.raises(UserError, match="'c' failed to build: RUN false returned a non-zero code: 1"):
        build_all(engine, project, build_requests(project, None, {}), limit=4, quiet=True)  # type: ignore[arg-type]
    assert engine.events == ["start demo-c", "end demo-c"]


def test_lines_are_whole_and_prefixed_with_padded_names():
    written: list[str] = []
    lines = LinePrefixer(["api", "db"], written.append)
    lines.feed("db", "Step 1")
    lines.feed("api", "one\ntw")
    lines.feed("db", "/2 : FROM x\n")
    lines.feed("api", "o\n")
    lines.feed("api", "tail without newline")
    lines.flush("api")
    lines.flush("db")
    assert "".join(written) == "api | one\ndb  | Step 1/2 : FROM x\napi | two\napi | tail without newline\n"


def test_build_limit_from_the_environment():
    assert build_limit({}) == 4
    assert build_limit({"COMPOSE_PARALLEL_LIMIT": "1"}) == 1
    assert build_limit({"COMPOSE_PARALLEL_LIMIT": "0"}) == 1
    assert build_limit({"COMPOSE_PARALLEL_LIMIT": "many"}) == 4
