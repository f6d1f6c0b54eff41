"""Fixtures for the embedded DNS tests (defined in ``support``, next to the helpers they share)."""
from tests.runtime.dns.support import dns_server, make_netns, make_stub  # noqa: F401 - pytest fixtures
