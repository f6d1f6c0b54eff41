"""dotenv: the syntax table, interpolation inside values, errors with file:line."""
from __future__ import annotations

import pytest

from compose.dotenv import parse_dotenv, read_dotenv
from compose.errors import UserError


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("A=1", {"A": "1"}),
        ("A=", {"A": ""}),
        ("A = spaced out  ", {"A": "spaced out"}),
        ("export A=1", {"A": "1"}),
        ("export  A=1\nexportB=2", {"A": "1", "exportB": "2"}),
        ("A: colon", {"A": "colon"}),
        ("# comment\n\nA=1\n  # indented comment\n", {"A": "1"}),
        ("A=value # inline comment", {"A": "value"}),
        ("A=value#not-a-comment", {"A": "value#not-a-comment"}),
        ("A='single # kept'", {"A": "single # kept"}),
        ("A='no $EXPANSION \\n here'", {"A": "no $EXPANSION \\n here"}),
        ('A="tab\\tnew\\nquote\\"back\\\\"', {"A": 'tab\tnew\nquote"back\\'}),
        ('A="multi\nline"\nB=2', {"A": "multi\nline", "B": "2"}),
        ("A='multi\nline'", {"A": "multi\nline"}),
        ('A="quoted" # comment', {"A": "quoted"}),
        ("A=1\nB=${A}2\nC=$A-x", {"A": "1", "B": "12", "C": "1-x"}),
        ('A=1\nB="${A:-no}"\nC=\'${A}\'', {"A": "1", "B": "1", "C": "${A}"}),
        ("B=${UNSET:-fallback}", {"B": "fallback"}),
        ('A="\\$literal"', {"A": "$literal"}),
        ("A=$$dollar", {"A": "$dollar"}),
        ("A.B-C=dots", {"A.B-C": "dots"}),
        ("A=1\r\nB=2\r\n", {"A": "1", "B": "2"}),
        ("A=1\nA=2", {"A": "2"}),
    ],
)
def test_syntax(text, expected):
    assert parse_dotenv(text) == expected


def test_values_see_the_environment_before_earlier_lines():
    # the process environment wins over .env in the end, so a reference sees its value too
    env = {"HOME_DIR": "/home/u", "A": "env"}
    assert parse_dotenv("A=file\nB=$A\nC=${HOME_DIR}/x\nD=${E:-}\nE=e\nF=$E", environment=env) == {
        "A": "file", "B": "env", "C": "/home/u/x", "D": "", "E": "e", "F": "e"}


def test_bare_key_passes_the_environment_through():
    assert parse_dotenv("PASS\nMISSING\n", environment={"PASS": "through"}) == {"PASS": "through"}


@pytest.mark.parametrize(
    ("text", "where", "fragment"),
    [
        ("A=1\n=2\n", "e.env:2:1", "expected KEY=VALUE"),
        ("A=1\n9X=2\n", "e.env:2:1", "expected KEY=VALUE"),
        ("A='open\n", "e.env:1:3", "unterminated single-quoted"),
        ('A="open\n', "e.env:1:3", "unterminated double-quoted"),
        ('A="x" trailing', "e.env:1:7", "unexpected text"),
        ("A B=1", "e.env:1:3", "unexpected character 'B'"),
        ("A=${NEED:?set it}", "e.env:1:3", "required variable NEED is not set: set it"),
    ],
)
def test_errors_name_file_line_and_column(text, where, fragment):
    with pytest.raises(UserError) as info:
        parse_dotenv(text, "e.env")
    assert str(info.value).startswith(where), str(info.value)
    assert fragment in str(info.value)


def test_read_dotenv_missing_file(tmp_path):
    with pytest.raises(UserError, match="not found"):
        read_dotenv(tmp_path / "nope.env")


from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_PIECES = st.sampled_from(["A", "b_1", "=", ":", " ", "\t", "\n", "#", "'", '"', "\\", "$", "{", "}", ":-", "?",
                           "export ", "x", "9", "\r\n", "${A}", "$$"])


@settings(max_examples=300, deadline=None)
@given(st.lists(_PIECES, max_size=40).map("".join))
def test_any_text_parses_or_fails_with_a_located_user_error(text):
    try:
        values = parse_dotenv(text, "f.env", {"A": "a"})
    except UserError as err:
        assert all(p.location is not None and p.location.file == "f.env" for p in err.problems)
    else:
        assert all(isinstance(k, str) and isinstance(v, str) for k, v in values.items())
