"""The per-service config hash: stable, sensitive to what needs recreation, blind to what does not."""
from __future__ import annotations

import pytest

from compose.confighash import service_hash
from compose.errors import UserError

from ._build import project_from_yaml

BASE = """
services:
  web:
    image: nginx
    environment: {A: "1", B: "2"}
    ports: ["8080:80"]
    depends_on: [db]
  db: {image: postgres}
"""


def _hash(text: str, service: str = "web") -> str:
    return service_hash(project_from_yaml(text), service)


def test_hash_is_stable_and_hex():
    first = _hash(BASE)
    assert first == _hash(BASE)
    assert len(first) == 64 and int(first, 16) >= 0


def test_key_order_and_short_vs_long_syntax_do_not_matter():
    reordered = BASE.replace('environment: {A: "1", B: "2"}', "environment: [B=2, A=1]").replace(
        '["8080:80"]', "[{target: 80, published: 8080}]")
    assert _hash(reordered) == _hash(BASE)


@pytest.mark.parametrize("change", [
    ("nginx", "nginx:1.27"),
    ('A: "1"', 'A: "3"'),
    ('"8080:80"', '"8081:80"'),
    ("depends_on: [db]", "depends_on: [db]\n    command: [sleep, '1']"),
])
def test_changes_that_need_recreation_change_the_hash(change):
    assert _hash(BASE.replace(*change)) != _hash(BASE)


@pytest.mark.parametrize("addition", [
    "scale: 3", "deploy: {replicas: 4}", "pull_policy: always", "profiles: [x]", "build: .",
])
def test_changes_that_need_no_recreation_keep_the_hash(addition):
    assert _hash(BASE.replace("depends_on: [db]", f"depends_on: [db]\n    {addition}")) == _hash(BASE)
    assert _hash(BASE.replace("depends_on: [db]", "depends_on: []")) == _hash(BASE)


def test_unknown_service():
    with pytest.raises(UserError, match="no such service: nope"):
        _hash(BASE, "nope")
