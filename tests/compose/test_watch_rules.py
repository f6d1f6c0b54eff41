"""develop.watch rules: parsing, ignore/include matching, path -> target mapping, batching by a quiet period,
and the inotify watcher on a temp dir (no containers needed)."""
from __future__ import annotations

import threading
from pathlib import Path

import pytest

from compose.errors import UserError
from compose.watch.actions import plan_batch
from compose.watch.rules import Action, Batcher, PathMatcher, parse_rules, read_dockerignore
from compose.watch.sync import collect, pack
from compose.watch.watcher import Watcher


def _rules(tmp_path: Path, *watch: dict, build: str | None = None) -> list:
    return parse_rules("web", {"watch": list(watch)}, tmp_path, build_context=build)


def test_parse_all_actions(tmp_path):
    rules = _rules(tmp_path,
                   {"path": "src", "action": "sync", "target": "/app", "ignore": ["*.tmp"], "initial_sync": True},
                   {"path": "pkg.json", "action": "rebuild"},
                   {"path": "conf", "action": "sync+restart", "target": "/etc/app"},
                   {"path": "py", "action": "sync+exec", "target": "/py",
                    "exec": {"command": "kill -HUP 1", "user": "root", "environment": ["A=1"],
                             "working_dir": "/py"}},
                   build=str(tmp_path))
    assert [r.action for r in rules] == [Action.SYNC, Action.REBUILD, Action.SYNC_RESTART, Action.SYNC_EXEC]
    assert rules[0].path == tmp_path / "src" and rules[0].target == "/app" and rules[0].initial_sync
    assert rules[0].ignore == ("*.tmp",)
    assert rules[3].exec is not None
    assert rules[3].exec.command == ("/bin/sh", "-c", "kill -HUP 1")
    assert rules[3].exec.environment == {"A": "1"} and rules[3].exec.user == "root"


@pytest.mark.parametrize("rule, message", [
    ({"path": "src", "action": "copy", "target": "/a"}, "action: 'copy' is not one of"),
    ({"path": "src", "action": "sync"}, "target: action sync needs a target"),
    ({"path": "src", "action": "sync", "target": "app"}, "must be an absolute path"),
    ({"path": "src", "action": "sync+exec", "target": "/a"}, "needs exec.command"),
    ({"path": "src", "action": "rebuild"}, "rebuild needs a build section"),
    ({"action": "sync", "target": "/a"}, "path: a path is required"),
])
def test_bad_rules(tmp_path, rule, message):
    with pytest.raises(UserError) as err:
        _rules(tmp_path, rule)
    assert message in str(err.value)
    assert "services.web.develop.watch[0]" in str(err.value)


@pytest.mark.parametrize("patterns, path, hit", [
    (["*.tmp"], "a.tmp", True),
    (["*.tmp"], "dir/a.tmp", False),
    (["**/*.tmp"], "dir/a.tmp", True),
    (["node_modules"], "node_modules/x/y.js", True),
    (["node_modules/"], "node_modules", True),
    (["build", "!build/keep"], "build/keep", False),
    (["build", "!build/keep"], "build/other", True),
    (["a?c"], "abc", True),
    (["[ab].txt"], "c.txt", False),
    (["# comment", ""], "x", False),
])
def test_path_matcher(patterns, path, hit):
    assert PathMatcher(patterns).matches(path) is hit


def test_takes_default_ignores_include_and_dockerignore(tmp_path):
    (tmp_path / ".dockerignore").write_text("secret.txt\n")
    sync, rebuild = _rules(tmp_path, {"path": ".", "action": "sync", "target": "/app", "include": ["*.html"]},
                           {"path": ".", "action": "rebuild"}, build=str(tmp_path))
    assert sync.takes(tmp_path / "index.html")
    assert not sync.takes(tmp_path / "style.css")
    assert not sync.takes(tmp_path / ".git" / "HEAD")
    assert not sync.takes(tmp_path / ".index.html.swp")
    assert not sync.takes(tmp_path / "index.html~")
    assert not sync.takes(tmp_path.parent / "elsewhere.html")
    assert rebuild.takes(tmp_path / "Dockerfile")
    assert not rebuild.takes(tmp_path / "secret.txt")
    assert sync.takes(tmp_path / "secret.html")


def test_read_dockerignore_prefers_dockerfile_specific(tmp_path):
    (tmp_path / ".dockerignore").write_text("a\n")
    (tmp_path / "Custom.dockerignore").write_text("b\n")
    assert read_dockerignore(tmp_path, "Custom") == ["b"]
    assert read_dockerignore(tmp_path) == ["a"]
    assert read_dockerignore(tmp_path / "none") == []


def test_target_mapping(tmp_path):
    (rule,) = _rules(tmp_path, {"path": "src", "action": "sync", "target": "/app/"})
    assert rule.target_of(tmp_path / "src") == "/app/"
    assert rule.target_of(tmp_path / "src" / "a" / "b.py") == "/app/a/b.py"
    assert rule.target_of(tmp_path / "other") is None


def test_collect_copies_existing_deletes_gone_and_walks_new_dirs(tmp_path):
    src = tmp_path / "src"
    (src / "new" / "deep").mkdir(parents=True)
    (src / "new" / "deep" / "f.txt").write_text("x")
    (src / "new" / "skip.tmp").write_text("x")
    (src / "a.txt").write_text("a")
    (rule,) = _rules(tmp_path, {"path": "src", "action": "sync", "target": "/app", "ignore": ["**/*.tmp"]})
    work = collect(rule, [src / "a.txt", src / "gone.txt", src / "new"])
    assert work.copy == {src / "a.txt": "/app/a.txt", src / "new": "/app/new", src / "new" / "deep": "/app/new/deep",
                         src / "new" / "deep" / "f.txt": "/app/new/deep/f.txt"}
    assert list(work.copy).index(src / "new") < list(work.copy).index(src / "new" / "deep" / "f.txt")
    assert work.delete == ["/app/gone.txt"]
    import io
    import tarfile
    members = tarfile.open(fileobj=io.BytesIO(pack(work.copy, (1000, 1001)))).getmembers()
    assert sorted(m.name for m in members) == ["app/a.txt", "app/new", "app/new/deep", "app/new/deep/f.txt"]
    assert {(m.uid, m.gid) for m in members} == {(1000, 1001)}
    assert next(m for m in members if m.name == "app/new").isdir()


def test_plan_batch_rebuild_wins_and_restart_follows_sync(tmp_path):
    for d in ("src", "conf"):
        (tmp_path / d).mkdir()
    (tmp_path / "src" / "x").write_text("1")
    (tmp_path / "conf" / "c").write_text("1")
    rules = _rules(tmp_path, {"path": "src", "action": "sync", "target": "/app"},
                   {"path": "conf", "action": "sync+restart", "target": "/etc/app"},
                   {"path": "Dockerfile", "action": "rebuild"}, build=str(tmp_path))
    (work,) = plan_batch(rules, [tmp_path / "src" / "x", tmp_path / "conf" / "c"])
    assert not work.rebuild and work.restart and work.changes == 2
    (work,) = plan_batch(rules, [tmp_path / "src" / "x", tmp_path / "Dockerfile"])
    assert work.rebuild
    assert plan_batch(rules, [tmp_path / "unrelated"]) == []


def test_batcher_waits_for_quiet_period_and_caps_a_burst():
    b = Batcher(quiet=0.5, longest=2.0)
    assert b.due() is None and b.take(100.0) == []
    b.add(Path("a"), 0.0)
    b.add(Path("b"), 0.3)
    b.add(Path("a"), 0.4)
    assert b.due() == pytest.approx(0.9)
    assert b.take(0.8) == []
    assert b.take(0.9) == [Path("a"), Path("b")]
    assert b.due() is None
    for i in range(10):  # a steady stream never goes quiet: released at ``longest``
        b.add(Path(str(i)), 10.0 + i * 0.2)
    assert b.due() == pytest.approx(12.0)
    assert len(b.take(12.0)) == 10


def _next_batch(watcher: Watcher, result: list, done: threading.Event) -> threading.Thread:
    def run() -> None:
        for batch in watcher.batches():
            result.append(batch)
            done.set()
            return
    t = threading.Thread(target=run)
    t.start()
    return t


def test_watcher_sees_new_dirs_files_and_deletions(tmp_path):
    (tmp_path / "old.txt").write_text("x")
    with Watcher([tmp_path], quiet=0.1) as watcher:
        result: list = []
        done = threading.Event()
        t = _next_batch(watcher, result, done)
        (tmp_path / "sub").mkdir()
        (tmp_path / "sub" / "inner").mkdir()
        (tmp_path / "sub" / "inner" / "f.txt").write_text("hello")
        (tmp_path / "old.txt").unlink()
        assert done.wait(10), "no batch"
        t.join(10)
        batch = set(result[0])
        assert tmp_path / "sub" in batch and tmp_path / "old.txt" in batch
        # the new nested dir is watched now: a write in it is seen
        result.clear()
        done.clear()
        t = _next_batch(watcher, result, done)
        (tmp_path / "sub" / "inner" / "g.txt").write_text("again")
        assert done.wait(10), "no batch for a file in a directory created after the start"
        t.join(10)
        assert tmp_path / "sub" / "inner" / "g.txt" in result[0]


def test_watcher_stop_ends_batches(tmp_path):
    with Watcher([tmp_path]) as watcher:
        result: list = []
        t = threading.Thread(target=lambda: result.extend(watcher.batches()))
        t.start()
        watcher.stop()
        t.join(10)
        assert not t.is_alive() and result == []


def test_watcher_follows_a_renamed_directory(tmp_path):
    (tmp_path / "a").mkdir()
    with Watcher([tmp_path], quiet=0.1) as watcher:
        result: list = []
        done = threading.Event()
        t = _next_batch(watcher, result, done)
        (tmp_path / "a").rename(tmp_path / "b")
        assert done.wait(10)
        t.join(10)
        assert {tmp_path / "a", tmp_path / "b"} <= set(result[0])
        result.clear()
        done.clear()
        t = _next_batch(watcher, result, done)
        (tmp_path / "b" / "f.txt").write_text("x")
        assert done.wait(10)
        t.join(10)
        assert result[0] == [tmp_path / "b" / "f.txt"]


def test_plan_batch_exec_and_plain_restart(tmp_path):
    for d in ("py", "cfg"):
        (tmp_path / d).mkdir()
    (tmp_path / "py" / "m.py").write_text("x")
    rules = _rules(tmp_path, {"path": "py", "action": "sync+exec", "target": "/py", "exec": {"command": ["true"]}},
                   {"path": "cfg", "action": "restart"})
    (work,) = plan_batch(rules, [tmp_path / "py" / "m.py", tmp_path / "cfg" / "gone"])
    assert work.execs == [rules[0]] and work.restart and work.changes == 1
    (work,) = plan_batch(rules, [tmp_path / "py" / ".m.py.swp"] + [tmp_path / "cfg" / "x"])
    assert work.syncs == [] and work.restart  # the swap file is ignored, the restart rule still fires
