"""Compose applications as OCI artifacts: ``pycompose publish`` pushes the project's files to a registry,
``-f oci://...`` and ``include: - oci://...`` load them back.

``reference`` (parse ``oci://host/repo:tag``), ``artifact`` (the manifest layout), ``auth`` and ``client``
(a small distribution client; the engine moves images only), ``fetch`` (into the cache, verified),
``checks`` (what publish refuses) and ``publish`` (layers + push). Importing this package stays light: the
HTTP client loads only when an artifact is fetched or published.
"""
from __future__ import annotations

from collections.abc import Mapping

from compose.oci.reference import OCI_PREFIX, is_oci

__all__ = ["OCI_PREFIX", "expand_files", "is_oci"]


def expand_files(names: list[str], environ: Mapping[str, str] | None = None) -> list[str]:
    """``names`` with each ``oci://`` reference replaced by the local paths of its Compose files."""
    if not any(is_oci(n) for n in names):
        return names
    from compose.oci.fetch import fetch_artifact

    out: list[str] = []
    for name in names:
        if is_oci(name):
            out.extend(str(p) for p in fetch_artifact(name, environ))
        else:
            out.append(name)
    return out
