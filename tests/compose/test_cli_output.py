"""compose.cli.output: the YAML we print reads back as the same document, with Docker-style quoting."""
from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from compose.cli.output import dump_json, dump_yaml
from compose.sourcemap import to_plain
from compose.yamlread import read_yaml

_scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=12),
                     st.sampled_from(["yes", "No", "on", "off", "1", "0x10", "1e3", "null", "~", "", "a: b", "- x",
                                      "#c", "it's", '"q"', "multi\nline", " lead", "trail ", "$$X", "@at", "*star",
                                      "08", "0440", "1_000", "0b11", ".5", "+1", "True", "NULL", ".inf"]))
_docs = st.recursive(_scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                       st.dictionaries(st.text(min_size=1, max_size=8), inner,
                                                                       max_size=4)), max_leaves=12)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.text(min_size=1, max_size=8), _docs, max_size=4))
def test_yaml_and_json_read_back_the_same(doc):
    text = dump_yaml(doc)
    assert YAML(typ="safe", pure=True).load(text) == doc
    assert to_plain(read_yaml(text, "out.yaml")) == doc  # our own reader (go-yaml typing) agrees
    assert json.loads(dump_json(doc)) == doc


def test_docker_style_quoting():
    out = dump_yaml({"published": "8080", "flag": "yes", "plain": "busybox:latest", "quote": "it's"})
    assert out == 'published: "8080"\nflag: "yes"\nplain: busybox:latest\nquote: it\'s\n'
