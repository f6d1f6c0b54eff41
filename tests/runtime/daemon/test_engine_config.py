"""The engine configuration file: keys parsed into ``EngineConfig``, bad values refused naming their key."""
from __future__ import annotations

from pathlib import Path

import pytest

from runtime.engine_config import parse_config
from runtime.errors import InvalidArgument


def test_ip_forward_defaults_on_as_docker_and_can_be_turned_off():
    assert parse_config({}, Path("/x")).ip_forward is True
    assert parse_config({"ip-forward": False}, Path("/x")).ip_forward is False


def test_ip_forward_must_be_a_boolean():
    with pytest.raises(InvalidArgument, match="ip-forward"):
        parse_config({"ip-forward": "no"}, Path("/x"))


def test_unknown_key_is_refused_by_name():
    with pytest.raises(InvalidArgument, match="ip-forwarding"):
        parse_config({"ip-forwarding": False}, Path("/x"))
