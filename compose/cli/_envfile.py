"""``run --env-from-file``: Docker's env-file format (as ``docker run --env-file``), not the dotenv one: one
``KEY=VALUE`` a line taken as written (no quotes removed, no interpolation), ``#`` comment lines, and a bare
``KEY`` taken from this process's environment (left out when unset)."""
from __future__ import annotations

import os
from collections.abc import Mapping

__all__ = ["read_env_files"]


def read_env_files(paths: list[str], environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The variables the files set, later files winning; a missing file or a bad line is a ``UserError``."""
    from compose.errors import UserError

    env = os.environ if environ is None else environ
    out: dict[str, str] = {}
    for path in paths:
        try:
            with open(path, encoding="utf-8") as fh:
                text = fh.read()
        except OSError as err:
            raise UserError.single(f"--env-from-file {path}: {err.strerror or err}") from None
        except UnicodeError:
            raise UserError.single(f"--env-from-file {path}: not UTF-8 text") from None
        for number, raw in enumerate(text.removeprefix("\ufeff").splitlines(), 1):
            line = raw.lstrip()
            if not line or line.startswith("#"):
                continue
            key, sep, value = line.partition("=")
            key = key.lstrip()
            if not key:
                raise UserError.single(f"{path}:{number}: no variable name on line {raw!r}")
            if any(ch.isspace() for ch in key):
                raise UserError.single(f"{path}:{number}: variable {key!r} contains whitespaces")
            if sep:
                out[key] = value
            elif key in env:
                out[key] = env[key]
    return out
