"""Property test: whatever the file holds - garbage, broken YAML, mutated valid files - ``pycompose config``
answers with exit 0 or 1 and never a traceback (exit 2 is reserved for bugs)."""
from __future__ import annotations

import contextlib
import io
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from compose.cli.app import run

from ._cli import REPO, pycompose
from ._fuzz import generated_docs, mutated_docs, values

_SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
_YAML_CHARS = st.sampled_from(list("abcxyz019:-{}[],#&*!|>'\"%@`? \n\t$<=./\\~") + ["  ", "- ", ": ", "\n  ",
                                                                                   "services:", "image:", "<<: ",
                                                                                   "!reset", "!override", "${",
                                                                                   "extends:", "include:"])
_SOURCES = [p.read_text() for p in sorted((REPO / "tests" / "compose" / "corpus" / "valid").glob("*.yaml"))]
_SOURCES += [p.read_text() for p in sorted((REPO / "samples").rglob("compose*.yaml"))]


def _config(text: str, *extra: str) -> tuple[int, str]:
    with tempfile.TemporaryDirectory(prefix="pycompose-fuzz-") as tmp:
        path = Path(tmp) / "compose.yaml"
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = run(["-f", str(path), "config", *extra])
    return code, err.getvalue()


def _check(text: str, *extra: str) -> None:
    code, err = _config(text, *extra)
    assert code in (0, 1), f"exit {code} for:\n{text}\n---\n{err}"
    assert "Traceback" not in err, err


@_SETTINGS
@given(st.lists(_YAML_CHARS, max_size=80).map("".join))
def test_garbage_yaml(text):
    _check(text)


@_SETTINGS
@given(st.text(max_size=120))
def test_arbitrary_text(text):
    _check(text.replace("\x00", ""))


@st.composite
def _line_mutations(draw):
    lines = draw(st.sampled_from(_SOURCES)).splitlines()
    for _ in range(draw(st.integers(1, 4))):
        if not lines:
            break
        i = draw(st.integers(0, len(lines) - 1))
        op = draw(st.sampled_from(["delete", "duplicate", "swap", "indent", "dedent", "insert", "truncate"]))
        if op == "delete":
            del lines[i]
        elif op == "duplicate":
            lines.insert(i, lines[i])
        elif op == "swap":
            j = draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
        elif op == "indent":
            lines[i] = "  " + lines[i]
        elif op == "dedent":
            lines[i] = lines[i][2:]
        elif op == "insert":
            at = draw(st.integers(0, len(lines[i])))
            lines[i] = lines[i][:at] + draw(_YAML_CHARS) + lines[i][at:]
        else:
            lines[i] = lines[i][: draw(st.integers(0, len(lines[i])))]
    return "\n".join(lines) + "\n"


@_SETTINGS
@given(_line_mutations())
def test_mutated_valid_files_as_text(text):
    _check(text)


def _dump(doc) -> str:
    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = False  # ruamel's flow style writes "80:80" unquoted, which libyaml rejects
    buf = io.StringIO()
    yaml.dump(doc, buf)
    return buf.getvalue()


@_SETTINGS
@given(st.one_of(mutated_docs(), generated_docs()))
def test_mutated_documents(doc):
    text = _dump(doc)
    _check(text)
    _check(text, "--format", "json")


@settings(max_examples=40, deadline=None)
@given(st.one_of(mutated_docs(), generated_docs()))
def test_listing_flags_on_mutated_documents(doc):
    text = _dump(doc)
    for flags in (["--services"], ["--hash", "*"], ["--variables"], ["--profiles"], ["--images"],
                  ["--no-interpolate"]):
        _check(text, *flags)


def test_the_real_binary_on_garbage(tmp_path):
    (tmp_path / "compose.yaml").write_text("services: {web: [: ]\n  - !!python/object:os.system x\n")
    result = pycompose("config", cwd=tmp_path)
    assert result.code == 1 and result.err.startswith(f"{tmp_path}/compose.yaml:")


_MERGED_KEYS = ["environment", "labels", "ports", "volumes", "secrets", "configs", "env_file", "depends_on",
                "networks", "build", "logging", "ulimits", "command", "extra_hosts", "dns", "devices", "healthcheck",
                "deploy", "profiles", "x-ext"]
_FILES = ["compose.yaml", "a.yaml", "sub/b.yaml", "sub/../a.yaml", "missing.yaml", "sub", "/dev/null"]
_SERVICES = ["web", "db", "base", "nope"]


@st.composite
def _multi_file_projects(draw):
    """A few files whose services extend each other and which include each other (cycles, missing files,
    directories and all): the loader's cross-file paths must end in exit 0 or 1."""
    def service(draw_extends: bool) -> dict:
        svc: dict = {"image": draw(st.sampled_from(["busybox", "x:1", "${IMG:-y}"]))}
        if draw_extends and draw(st.booleans()):
            ext = draw(st.one_of(
                st.sampled_from(_SERVICES),
                st.fixed_dictionaries({"service": st.sampled_from(_SERVICES)},
                                      optional={"file": st.sampled_from(_FILES)}),
                values))
            svc["extends"] = ext
        if draw(st.booleans()):
            svc["ports"] = draw(st.lists(st.sampled_from(["80:80", "81:81", "${P}:80"]), max_size=2))
        # random attributes (right or wrong type) so that merging the two -f files meets odd shapes
        svc.update(draw(st.dictionaries(st.sampled_from(_MERGED_KEYS), values, max_size=3)))
        return svc

    files = {}
    for name in ("compose.yaml", "a.yaml", "sub/b.yaml"):
        doc: dict = {"services": {n: service(True) for n in draw(st.lists(st.sampled_from(_SERVICES), max_size=3))}}
        if draw(st.booleans()):
            doc["include"] = draw(st.lists(st.one_of(
                st.sampled_from(_FILES),
                st.fixed_dictionaries({"path": st.one_of(st.sampled_from(_FILES), st.lists(st.sampled_from(_FILES),
                                                                                          max_size=2))},
                                      optional={"project_directory": st.sampled_from([".", "sub", "nowhere"]),
                                                "env_file": st.sampled_from(["x.env", "missing.env"])}),
                values), max_size=2))
        files[name] = _dump(doc)
    return files


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_multi_file_projects())
def test_multi_file_projects(files):
    with tempfile.TemporaryDirectory(prefix="pycompose-fuzz-") as tmp:
        root = Path(tmp)
        (root / "sub").mkdir()
        (root / "x.env").write_text("IMG=z\nP=8080\n")
        for name, text in files.items():
            (root / name).write_text(text)
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = run(["-f", str(root / "compose.yaml"), "-f", str(root / "a.yaml"), "config", "--format", "json"])
        assert code in (0, 1), err.getvalue()
        assert "Traceback" not in err.getvalue(), err.getvalue()
