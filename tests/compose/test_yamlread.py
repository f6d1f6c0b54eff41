"""yamlread: YAML 1.2 scalars, string keys, anchors/aliases/merge keys, tags, locations, errors with lines."""
from __future__ import annotations

import math

import pytest

from compose.errors import Location, UserError
from compose.sourcemap import LocatedDict, SourceMap, to_plain
from compose.yamlread import _loader_class, read_yaml
import compose.yamlread as yamlread


@pytest.fixture(params=["libyaml", "pure"])
def parser(request, monkeypatch):
    """Run each test with the libyaml parser and with the pure-Python fallback."""
    if request.param == "pure":
        monkeypatch.setattr(yamlread, "_LOADER", _loader_class(pure=True))
    return request.param


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a: 1", 1),
        ("a: -3", -3),
        ("a: 0o17", 15),
        ("a: 0x1f", 31),
        ("a: 1.5", 1.5),
        ("a: 1e3", 1000.0),
        ("a: true", True),
        ("a: False", False),
        ("a: yes", "yes"),  # YAML 1.2: not a boolean
        ("a: on", "on"),
        ("a: ~", None),
        ("a: null", None),
        ("a:", None),
        ("a: '1'", "1"),
        ('a: "true"', "true"),
        ("a: !!str 12", "12"),
        ("a: 012", 10),  # go-yaml v3 keeps YAML 1.1 octals: file modes like 0440 mean what they say
        ("a: 0440", 0o440),
        ("a: -017", -15),
        ("a: 0b101", 5),
        ("a: 1_000", 1000),
        ("a: 08", 8.0),
        ("a: 12h", "12h"),
        ("a: 0x", "0x"),
        ("a: 1:2", "1:2"),
        ("a: .inf", math.inf),
    ],
)
def test_scalars_follow_yaml_1_2_core(parser, text, expected):
    assert read_yaml(text, "f.yaml")["a"] == expected


def test_colons_inside_flow_scalars_read_as_yaml_1_2(parser):
    # libyaml rejects these (YAML 1.1 rule); Docker Compose's parser and ours read them
    data = to_plain(read_yaml("ports: [8080:80, 127.0.0.1:81:81]\nvolumes: [./a:/b:ro]\nx: {u: http://h}\n", "f"))
    assert data == {"ports": ["8080:80", "127.0.0.1:81:81"], "volumes": ["./a:/b:ro"], "x": {"u": "http://h"}}


def test_keys_are_always_strings(parser):
    data = read_yaml("80: a\ntrue: b\nnull: c\n1.5: d\n", "f.yaml")
    assert list(data) == ["80", "true", "null", "1.5"]


def test_anchors_aliases_and_merge_keys(parser):
    text = """\
x-base: &base
  image: busybox
  environment: {A: "1"}
x-more: &more
  image: other
  user: nobody
services:
  a:
    <<: [*base, *more]
    command: run
  b:
    <<: *base
    image: mine
"""
    data = to_plain(read_yaml(text, "f.yaml"))
    assert data["services"]["a"] == {"command": "run", "image": "busybox", "environment": {"A": "1"},
                                     "user": "nobody"}
    assert data["services"]["b"] == {"image": "mine", "environment": {"A": "1"}}


def test_each_alias_use_is_a_separate_copy(parser):
    data = read_yaml("x: &x {a: [1]}\ny: *x\nz: *x\n", "f.yaml")
    data["y"]["a"].append(2)
    assert data["z"]["a"] == [1]


def test_locations_for_every_key_path(parser):
    text = "services:\n  web:\n    image: busybox\n    ports:\n      - '80:80'\n      - target: 81\n"
    sources = SourceMap.from_tree(read_yaml(text, "c.yaml"))
    assert sources.locate(("services", "web", "image")) == Location("c.yaml", 3, 5)
    assert sources.locate(("services", "web", "ports", 0)) == Location("c.yaml", 5, 9)
    assert sources.locate(("services", "web", "ports", 1, "target")) == Location("c.yaml", 6, 9)
    # unknown paths fall back to the nearest located ancestor
    assert sources.locate(("services", "web", "ports", 1, "published")) == Location("c.yaml", 6, 9)
    assert sources.locate(("nothing",)) == Location("c.yaml", 1, 1)


def test_merge_key_values_keep_the_anchor_location(parser):
    text = "x: &x\n  image: a\nservices:\n  s:\n    <<: *x\n"
    sources = SourceMap.from_tree(read_yaml(text, "c.yaml"))
    assert sources.locate(("services", "s", "image")) == Location("c.yaml", 2, 3)


def test_reset_and_override_tags_are_recorded(parser):
    data = read_yaml("a: !reset []\nb: !override {x: 1}\nc: 1\n", "f.yaml")
    assert isinstance(data, LocatedDict)
    assert data.tags == {"a": "reset", "b": "override"}
    assert to_plain(data) == {"a": [], "b": {"x": 1}, "c": 1}


def test_empty_document_is_empty_mapping(parser):
    assert read_yaml("", "f.yaml") == {}
    assert read_yaml("# only a comment\n", "f.yaml") == {}


@pytest.mark.parametrize(
    ("text", "where", "fragment"),
    [
        ("a: [", "f.yaml:", "invalid YAML"),
        ("services:\n  web:\n    image: a\n    image: b\n", "f.yaml:4:5", "duplicate key 'image' (first defined at line 3)"),
        ("- 1\n", "f.yaml:1:1", "must be a mapping at the top level, not a list"),
        ("just text\n", "f.yaml:1:1", "not a string"),
        ("a: !custom 1\n", "f.yaml:1:4", "unsupported YAML tag '!custom'"),
        ("a: &x [*x]\n", "f.yaml:1:8", "recursive YAML alias"),
        ("a: !!int x\n", "f.yaml:1:4", "cannot read 'x' as !!int"),
        ("a: 1\n---\nb: 2\n", "f.yaml:2:1", "single document"),
        ("? [1]\n: 2\n", "f.yaml:1:3", "mapping key must be a plain string"),
        ("a: *nope\n", "f.yaml:1:4", "undefined YAML alias *nope"),
        ("a: &x k\nb: {*x : 1}\n", "f.yaml:2:5", "mapping key must be a plain string, not an alias"),
        ("a: " + "[" * 300 + "]" * 300 + "\n", "f.yaml:1:", "nested too deeply"),
        ("a: " + "[" * 100000 + "]" * 100000 + "\n", "f.yaml:1:", "nested too deeply"),
        ("a: {<<: 1}\n", "f.yaml:1:9", "'<<' merge key needs a mapping"),
    ],
)
def test_errors_name_file_line_and_column(parser, text, where, fragment):
    with pytest.raises(UserError) as info:
        read_yaml(text, "f.yaml")
    message = str(info.value)
    assert message.startswith(where), message
    assert fragment in message


def test_alias_bomb_is_refused(parser, monkeypatch):
    monkeypatch.setattr(yamlread, "_MAX_NODES", 10_000)
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 8):
        prev = f"*a{i - 1}"
        lines.append(f"a{i}: &a{i} [{', '.join([prev] * 10)}]")
    with pytest.raises(UserError, match="too many nodes"):
        read_yaml("\n".join(lines) + "\n", "f.yaml")
