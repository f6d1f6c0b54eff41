import pytest

from runtime.build.dockerignore import IgnoreRules, read_dockerignore, walk_context

RULES = IgnoreRules([
    "# a comment", "", "*.md", "!README.md", "**/node_modules", "tmp/", "/build", "./out", "a?c", "[a-c]x",
    "[!a-c]y", "docs/**/*.txt", "  spaced  ",
])


@pytest.mark.parametrize("path, ignored", [
    ("x.md", True), ("README.md", False), ("docs/x.md", False),
    ("node_modules", True), ("src/node_modules/a.js", True), ("a/b/node_modules/c/d", True),
    ("tmp", True), ("tmp/a", True), ("build/x/y", True), ("out", True), ("src/build", False),
    ("abc", True), ("adc/q", True), ("abbc", False),
    ("bx", True), ("dx", False), ("dy", True), ("ay", False),
    ("docs/a.txt", True), ("docs/a/b/c.txt", True), ("a.txt", False),
    ("spaced", True), ("# a comment", False),
])
def test_pattern_table(path, ignored):
    assert RULES.ignored(path) is ignored


def test_last_match_wins():
    rules = IgnoreRules(["!keep", "*", "!keep*"])
    assert rules.ignored("other")
    assert not rules.ignored("keep.txt")


def test_walk_honours_exceptions(tmp_path):
    (tmp_path / "vendor/lib").mkdir(parents=True)
    (tmp_path / "vendor/lib/keep.go").write_text("x")
    (tmp_path / "vendor/lib/drop.go").write_text("x")
    (tmp_path / "main.go").write_text("x")
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git/HEAD").write_text("x")
    (tmp_path / ".dockerignore").write_text(".git\nvendor\n!vendor/lib/keep.go\n")
    rules = read_dockerignore(tmp_path)
    seen = set(walk_context(tmp_path, rules))
    assert "main.go" in seen and "vendor/lib/keep.go" in seen
    assert "vendor/lib/drop.go" not in seen and ".git/HEAD" not in seen and ".git" not in seen


def test_dockerfile_specific_ignore_wins(tmp_path):
    (tmp_path / ".dockerignore").write_text("a\n")
    (tmp_path / "Dockerfile.dev.dockerignore").write_text("b\n")
    rules = read_dockerignore(tmp_path, "Dockerfile.dev")
    assert rules.ignored("b") and not rules.ignored("a")
