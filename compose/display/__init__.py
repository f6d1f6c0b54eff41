"""Renderers of progress events: ``tty`` (Docker Compose's live block), ``plain`` (a line per event), ``json``
(one object per line) and ``quiet``. ``make_display(mode)`` picks one; ``auto`` is tty when stderr is a
terminal, else plain."""
from __future__ import annotations

import os
import sys
from typing import TextIO

from compose.display.base import Display
from compose.display.plain import JsonDisplay, PlainDisplay, QuietDisplay
from compose.display.tty import TtyDisplay
from compose.errors import UserError

__all__ = ["Display", "make_display", "MODES"]

MODES = ("auto", "tty", "plain", "json", "quiet")


def make_display(mode: str | None = None, stream: TextIO | None = None) -> Display:
    mode = mode or os.environ.get("COMPOSE_PROGRESS") or "auto"
    out = stream or sys.stderr
    if mode == "auto":
        mode = "tty" if out.isatty() and os.environ.get("TERM") != "dumb" else "plain"
    if mode == "tty":
        return TtyDisplay(out)
    if mode == "plain":
        return PlainDisplay(out)
    if mode == "json":
        return JsonDisplay(out)
    if mode == "quiet":
        return QuietDisplay(out)
    raise UserError.single(f"--progress: unknown mode {mode!r} (one of {', '.join(MODES)})")
