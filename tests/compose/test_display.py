"""Progress renderers and the label/naming helpers: events in, text out."""
from __future__ import annotations

import io
import json

import pytest

from compose import labels as L
from compose.display import make_display
from compose.errors import UserError
from compose.events import Event, Status
from compose.naming import container_name, default_network, oneoff_name


def _events() -> list[Event]:
    return [Event("Network", "p_default", Status.WORKING, "Creating", at=1.0),
            Event("Network", "p_default", Status.DONE, "Created", at=1.5),
            Event("Container", "p-web-1", Status.ERROR, "port is already allocated", at=2.0)]


def test_plain_lines_as_docker_compose_prints_them():
    out = io.StringIO()
    display = make_display("plain", out)
    for event in _events():
        display(event)
    display.close()
    assert out.getvalue() == (" Network p_default  Creating\n Network p_default  Created\n"
                              " Container p-web-1  Error port is already allocated\n")


def test_json_one_object_per_event():
    out = io.StringIO()
    display = make_display("json", out)
    for event in _events():
        display(event)
    records = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [(r["id"], r["status"], r["text"]) for r in records] == [
        ("Network p_default", "working", "Creating"), ("Network p_default", "done", "Created"),
        ("Container p-web-1", "error", "port is already allocated")]


def test_quiet_prints_only_errors():
    out = io.StringIO()
    display = make_display("quiet", out)
    for event in _events():
        display(event)
    assert out.getvalue() == "Container p-web-1: port is already allocated\n"


def test_tty_block_counts_and_final_state():
    out = io.StringIO()
    display = make_display("tty", out)
    for event in _events():
        display(event)
    display.close()
    last = out.getvalue().rsplit("[+]", 1)[1]
    assert "Running 2/2" in last
    assert "Network p_default" in last and "Created" in last and "0.5s" in last


def test_unknown_mode_is_a_user_error():
    with pytest.raises(UserError, match="unknown mode 'fancy'"):
        make_display("fancy", io.StringIO())


def test_names_and_depends_on_label_round_trip():
    assert container_name("p", "web", 2) == "p-web-2"
    assert oneoff_name("p", "web", "0123456789abcdef") == "p-web-run-0123456789ab"
    assert default_network("p") == "p_default"
    value = L.depends_on_value({"db": ("service_healthy", True), "cache": ("service_started", False)})
    assert value == "cache:service_started:false,db:service_healthy:true"
    assert L.parse_depends_on(value) == {"db": ("service_healthy", True), "cache": ("service_started", False)}
