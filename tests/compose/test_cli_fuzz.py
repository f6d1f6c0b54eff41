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
from ._fuzz import generated_docs, mutated_docs

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
