"""interpolate: the table of forms, nesting, $$, values never keys, warn-once, required errors with lines."""
from __future__ import annotations

import pytest

from compose.errors import Location, UserError
from compose.interpolate import Interpolator, TemplateError, substitute, template_variables
from compose.sourcemap import to_plain
from compose.yamlread import read_yaml

ENV = {"SET": "value", "EMPTY": "", "OTHER": "o"}


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("plain", "plain"),
        ("$SET", "value"),
        ("${SET}", "value"),
        ("a${SET}b", "avalueb"),
        ("$SET.txt", "value.txt"),
        ("$SET-x", "value-x"),
        ("${UNSET}", ""),
        ("$UNSET", ""),
        ("${UNSET:-def}", "def"),
        ("${EMPTY:-def}", "def"),
        ("${SET:-def}", "value"),
        ("${UNSET-def}", "def"),
        ("${EMPTY-def}", ""),
        ("${SET-def}", "value"),
        ("${UNSET:+alt}", ""),
        ("${EMPTY:+alt}", ""),
        ("${SET:+alt}", "alt"),
        ("${UNSET+alt}", ""),
        ("${EMPTY+alt}", "alt"),
        ("${SET+alt}", "alt"),
        ("${SET:?msg}", "value"),
        ("${EMPTY?msg}", ""),
        ("${UNSET:-${OTHER}}", "o"),
        ("${UNSET:-${NOPE:-deep}}", "deep"),
        ("${UNSET:-a ${OTHER} b}", "a o b"),
        ("${SET:+[${OTHER}]}", "[o]"),
        ("${UNSET:-}", ""),
        ("$$", "$"),
        ("$$SET", "$SET"),
        ("$${SET}", "${SET}"),
        ("$$$SET", "$value"),
        ("cost: 5$$", "cost: 5$"),
        ("${UNSET:-$$}", "$"),
        ("{$SET}", "{value}"),
        ("${SET}}", "value}"),
        ("${UNSET:-default with : colon}", "default with : colon"),
        ("${UNSET:-${SET:?never evaluated when not used}}", "value"),
        ("${SET:-${NEEDED:?not evaluated}}", "value"),
        ("$", "$"),
        ("echo $1 $@", "echo $1 $@"),
        ("5$ or $ 5", "5$ or $ 5"),
        ("$-x", "$-x"),
    ],
)
def test_forms(template, expected):
    assert substitute(template, ENV.get) == expected


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("${UNSET:?need it}", "required variable UNSET is not set: need it"),
        ("${EMPTY:?need it}", "required variable EMPTY is empty: need it"),
        ("${UNSET?}", "required variable UNSET is not set"),
        ("${UNSET:-${NOPE:?inner}}", "required variable NOPE is not set: inner"),
    ],
)
def test_required(template, message):
    with pytest.raises(ValueError) as info:
        substitute(template, ENV.get)
    assert str(info.value) == message


@pytest.mark.parametrize("template", ["${", "${SET", "${}", "${1X}", "${SET/x/y}", "${SET:-unclosed", "${SET:x}",
                                      "a ${ b}", "${UNSET:-${}}", "${A:-" * 3000 + "}" * 3000])
def test_malformed(template):
    with pytest.raises(TemplateError):
        substitute(template, ENV.get)


def test_tree_interpolates_values_never_keys_and_keeps_types():
    tree = read_yaml("services:\n  $SET:\n    image: ${SET}\n    x: 1\n    e: {$SET: $SET}\n", "c.yaml")
    Interpolator(ENV).tree(tree)
    assert to_plain(tree) == {"services": {"$SET": {"image": "value", "x": 1, "e": {"$SET": "value"}}}}


def test_unset_warns_once_with_location():
    tree = read_yaml("a: $NOPE\nb: ${NOPE}\nc: $ALSO\n", "c.yaml")
    interp = Interpolator(ENV)
    interp.tree(tree)
    assert [(str(w.location), w.path, w.message) for w in interp.warnings] == [
        ("c.yaml:1:1", ("a",), 'the "NOPE" variable is not set; defaulting to a blank string'),
        ("c.yaml:3:1", ("c",), 'the "ALSO" variable is not set; defaulting to a blank string'),
    ]


def test_errors_name_variable_file_line_and_path_all_at_once():
    text = "services:\n  web:\n    image: ${IMG:?set IMG}\n    command: [run, '${ bad}']\n"
    tree = read_yaml(text, "c.yaml")
    with pytest.raises(UserError) as info:
        Interpolator(ENV).tree(tree)
    problems = info.value.problems
    assert len(problems) == 2
    assert problems[0].location == Location("c.yaml", 3, 5)
    assert str(problems[0]) == "c.yaml:3:5: services.web.image: required variable IMG is not set: set IMG"
    assert str(problems[1]).startswith("c.yaml:4:20: services.web.command[1]: invalid interpolation format")


def test_template_variables():
    found = template_variables("${A:-x} ${B:?m} $C ${D:+alt} ${E:-${F}} $$G")
    assert {n: (v.required, v.default, v.alternate) for n, v in found.items()} == {
        "A": (False, "x", None), "B": (True, None, None), "C": (False, None, None),
        "D": (False, None, "alt"), "E": (False, "${F}", None), "F": (False, None, None)}


from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_PIECES = st.sampled_from(["$", "{", "}", ":", "-", "+", "?", "SET", "UNSET", "EMPTY", "x", " ", "$$", "${", "_1"])


@settings(max_examples=400, deadline=None)
@given(st.lists(_PIECES, max_size=20).map("".join))
def test_any_text_interpolates_or_fails_cleanly(text):
    try:
        out = substitute(text, ENV.get)
    except (TemplateError, ValueError):
        return
    assert isinstance(out, str)
    template_variables(text)  # never raises


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=30))
def test_escaped_text_comes_back_unchanged(text):
    assert substitute(text.replace("$", "$$"), ENV.get) == text
