"""Reference parsing and normalization, as Docker's distribution/reference does it."""
from __future__ import annotations

import pytest

from runtime.errors import InvalidArgument
from runtime.images.reference import familiar, parse_reference

DIGEST = "sha256:" + "ab" * 32


@pytest.mark.parametrize("text, full, short", [
    ("nginx", "docker.io/library/nginx:latest", "nginx:latest"),
    ("nginx:1.25", "docker.io/library/nginx:1.25", "nginx:1.25"),
    ("library/nginx", "docker.io/library/nginx:latest", "nginx:latest"),
    ("docker.io/nginx", "docker.io/library/nginx:latest", "nginx:latest"),
    ("index.docker.io/library/nginx", "docker.io/library/nginx:latest", "nginx:latest"),
    ("user/app:v1", "docker.io/user/app:v1", "user/app:v1"),
    ("localhost/app", "localhost/app:latest", "localhost/app:latest"),
    ("localhost:5000/x", "localhost:5000/x:latest", "localhost:5000/x:latest"),
    ("127.0.0.1:5000/a/b/c:t", "127.0.0.1:5000/a/b/c:t", "127.0.0.1:5000/a/b/c:t"),
    ("ghcr.io/o/r", "ghcr.io/o/r:latest", "ghcr.io/o/r:latest"),
    ("[::1]:5000/x:y", "[::1]:5000/x:y", "[::1]:5000/x:y"),
    (f"busybox@{DIGEST}", f"docker.io/library/busybox@{DIGEST}", f"busybox@{DIGEST}"),
    (f"busybox:1@{DIGEST}", f"docker.io/library/busybox:1@{DIGEST}", f"busybox:1@{DIGEST}"),
    ("a__b/c-d/e---f.g", "docker.io/a__b/c-d/e---f.g:latest", "a__b/c-d/e---f.g:latest"),
])
def test_normalize(text, full, short):
    ref = parse_reference(text)
    assert str(ref) == full
    assert ref.familiar() == short


@pytest.mark.parametrize("text, message", [
    ("", "invalid reference format"),
    ("Nginx", "must be lowercase"),
    ("nginx:", "invalid tag"),
    ("nginx:-bad", "invalid tag"),
    ("nginx@sha256:abc", "invalid"),
    ("a//b", "invalid reference format"),
    ("-a", "invalid reference format"),
    ("localhost:5000/", "invalid reference format"),
    ("a" * 300, "more than 255"),
])
def test_invalid(text, message):
    with pytest.raises(InvalidArgument, match=message):
        parse_reference(text)


def test_parts_and_helpers():
    ref = parse_reference("localhost:5000/team/app:2")
    assert (ref.domain, ref.path, ref.tag, ref.digest) == ("localhost:5000", "team/app", "2", None)
    assert ref.name == "localhost:5000/team/app"
    assert parse_reference("x", default_tag=False).tag is None
    assert familiar("docker.io/library/redis:7") == "redis:7"
    assert str(parse_reference("redis").with_digest(DIGEST)) == f"docker.io/library/redis@{DIGEST}"
