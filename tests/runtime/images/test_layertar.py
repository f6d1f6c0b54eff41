"""write_layer_tar: what a directory diff turns into."""
from __future__ import annotations

import io
import socket
import tarfile

from runtime.images.layertar import write_layer_tar


def test_unix_sockets_are_left_out(tmp_path):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "app.txt").write_text("kept")
    server = socket.socket(socket.AF_UNIX)
    try:
        server.bind(str(tmp_path / "run" / "daemon.sock"))
        out = io.BytesIO()
        write_layer_tar(tmp_path, out)
    finally:
        server.close()
    out.seek(0)
    with tarfile.open(fileobj=out) as tar:
        names = tar.getnames()
    assert names == ["run", "run/app.txt"]
