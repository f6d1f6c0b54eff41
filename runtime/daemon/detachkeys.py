"""Detach keys, watched by the engine on an attached tty's input as Docker's daemon does (moby/term's ``ToBytes``
and ``escapeProxy``): the ``detachKeys`` of ``POST /containers/{id}/attach`` and the ``DetachKeys`` of an exec,
default ctrl-p,ctrl-q. On the whole sequence the input stops there (what came before it in the same read goes
on, what follows is dropped) and the attach ends, the process keeps running; a partial sequence is held back
until it breaks, then forwarded in full. As moby's proxy, the byte that breaks a partial match is not tried as the
start of a new one (ctrl-p,ctrl-p,ctrl-q does not detach)."""
from __future__ import annotations

__all__ = ["DEFAULT_KEYS", "to_bytes", "EscapeMatcher"]

DEFAULT_KEYS = b"\x10\x11"  # ctrl-p, ctrl-q
# "ctrl-@" is 0, "ctrl-a".."ctrl-z" 1..26, then ctrl-[ ctrl-\ ctrl-] ctrl-^ ctrl-_ (27..31)
_CTRL = {f"ctrl-{c}": i for i, c in enumerate("@abcdefghijklmnopqrstuvwxyz[\\]^_")}


def to_bytes(spec: str) -> bytes:
    """``ctrl-p,ctrl-q`` -> ``b"\\x10\\x11"``: comma-separated keys, each one character (taken as is), ``ctrl-X``
    (X in ``@a-z[\\]^_``, lower case only) or ``DEL``; anything else is a ``ValueError``. Docker splits on every
    comma, so an empty item (``a,,b``, or ``""`` itself) is refused too."""
    codes = bytearray()
    for key in spec.split(","):
        raw = key.encode()
        if len(raw) == 1:
            codes += raw
        elif key in _CTRL:
            codes.append(_CTRL[key])
        elif key == "DEL":
            codes.append(127)
        else:
            raise ValueError(f"unknown character: '{key}'")
    return bytes(codes)


class EscapeMatcher:
    """Feed it the client's input chunk by chunk; ``feed`` answers what to forward and whether the sequence was
    completed (then nothing more is to be fed)."""

    def __init__(self, keys: bytes = DEFAULT_KEYS) -> None:
        self.keys = keys or DEFAULT_KEYS
        self.pos = 0  # how many keys of a partial sequence are held back

    def feed(self, data: bytes) -> tuple[bytes, bool]:
        keys, pos = self.keys, self.pos
        if pos == 0 and keys[0] not in data:
            return data, False  # the common case: nothing to look at
        out = bytearray()
        i, end = 0, len(data)
        while i < end:
            if pos == 0:  # jump to the next possible start (a paste full of them stays a loop of finds)
                j = data.find(keys[0], i)
                if j < 0:
                    out += data[i:]
                    break
                out += data[i:j]
                i = j
            b = data[i]
            i += 1
            if b == keys[pos]:
                pos += 1
                if pos == len(keys):
                    self.pos = pos
                    return bytes(out), True
                continue
            out += keys[:pos]  # the partial sequence broke: it goes on in full, the breaking byte after it
            out.append(b)
            pos = 0
        self.pos = pos
        return bytes(out), False
