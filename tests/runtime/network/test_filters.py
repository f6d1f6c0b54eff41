"""Docker's network list filters over plain records (no kernel)."""
from __future__ import annotations

import pytest

from runtime.errors import InvalidArgument
from runtime.network.filters import created_before, filter_networks, label_match
from runtime.network.model import Network

NETS = [
    Network("aa11" + "0" * 60, "proj_default", "bridge", "2026-01-01T00:00:00Z", labels={"com.docker.compose.project": "proj"}),
    Network("bb22" + "0" * 60, "proj_back", "bridge", "2026-06-01T00:00:00Z",
            labels={"com.docker.compose.project": "proj", "tier": "back"}),
    Network("cc33" + "0" * 60, "host", "host", "2025-01-01T00:00:00Z"),
    Network("dd44" + "0" * 60, "other", "bridge", "2026-07-01T00:00:00Z"),
]


def names(filters):
    return [n.name for n in filter_networks(NETS, filters)]


def test_filters():
    assert names({"name": ["proj"]}) == ["proj_default", "proj_back"]
    assert names({"id": ["bb2"]}) == ["proj_back"]
    assert names({"label": ["com.docker.compose.project=proj", "tier"]}) == ["proj_back"]
    assert names({"label": ["com.docker.compose.project=nope"]}) == []
    assert names({"driver": ["host"]}) == ["host"]
    assert names({"type": ["builtin"]}) == ["host"]
    assert names({"type": ["custom"], "dangling": ["true"]}) == ["proj_default", "proj_back", "other"]
    assert names({"name": []}) == [n.name for n in NETS]
    with pytest.raises(InvalidArgument):
        names({"colour": ["red"]})


def test_label_match_and_until():
    assert label_match({"a": "1"}, "a") and label_match({"a": "1"}, "a=1") and not label_match({"a": "1"}, "a=2")
    assert not label_match({}, "a")
    assert created_before("2026-01-01T00:00:00Z", "2026-02-01T00:00:00Z")
    assert not created_before("2026-01-01T00:00:00Z", "1700000000")
    with pytest.raises(InvalidArgument):
        created_before("2026-01-01T00:00:00Z", "yesterday")
