"""Docker's multiplexed stream framing on the client side: frames come out whole and in order however the
stream is cut (compose.engineapi.frames, used by exec, attach and the light client)."""
from __future__ import annotations

import struct

from hypothesis import given
from hypothesis import strategies as st

from compose.engineapi.frames import demux, split_frames

_frames = st.lists(st.tuples(st.sampled_from([1, 2]), st.binary(max_size=40)), max_size=8)


def _encode(frames: list[tuple[int, bytes]]) -> bytes:
    return b"".join(struct.pack(">BxxxL", kind, len(payload)) + payload for kind, payload in frames)


@given(frames=_frames, cuts=st.lists(st.integers(min_value=0, max_value=400), max_size=6))
def test_frames_whole_and_in_order_at_any_cut(frames, cuts):
    data = _encode(frames)
    bounds = sorted({min(c, len(data)) for c in cuts} | {0, len(data)})
    chunks = [data[a:b] for a, b in zip(bounds, bounds[1:])]
    assert list(demux(chunks)) == frames
    out, buf = [], b""
    for chunk in chunks:
        got, buf = split_frames(buf + chunk)
        out += got
    assert (out, buf) == (frames, b"")


def test_a_torn_frame_waits_for_the_rest():
    data = _encode([(1, b"hello"), (2, b"world")])
    assert split_frames(data[:-2]) == ([(1, b"hello")], data[13:-2])
    assert list(demux([data[:-2]])) == [(1, b"hello")]
