"""The services ``pull`` and ``push`` act on: named ones (plus dependencies with --include-deps) or all."""
from __future__ import annotations

from compose.cli._targets import target_services
from compose.loader import LoadOptions
from compose.project import load_project


def _project(tmp_path):
    (tmp_path / "compose.yaml").write_text(
        "services:\n"
        "  web: {image: web, depends_on: [api]}\n"
        "  api: {image: api, depends_on: [db]}\n"
        "  db: {image: db}\n"
        "  cache: {image: cache}\n")
    return load_project(LoadOptions(files=[str(tmp_path / "compose.yaml")])).project


def test_all_services_sorted_when_none_named(tmp_path):
    assert target_services(_project(tmp_path), None, include_deps=True) == ["api", "cache", "db", "web"]


def test_named_services_alone_or_with_their_dependencies(tmp_path):
    project = _project(tmp_path)
    assert target_services(project, ["web"], include_deps=False) == ["web"]
    assert sorted(target_services(project, ["web"], include_deps=True)) == ["api", "db", "web"]
