from __future__ import annotations

from hypothesis import given, strategies as st

from runtime.stream import STDERR, STDOUT, Demuxer, frame


def test_frame_header_layout():
    assert frame(STDOUT, b"hi\n") == b"\x01\x00\x00\x00\x00\x00\x00\x03hi\n"
    assert frame(STDERR, b"") == b"\x02\x00\x00\x00\x00\x00\x00\x00"


@given(st.lists(st.tuples(st.sampled_from([1, 2]), st.binary(max_size=300)), max_size=20),
       st.integers(min_value=1, max_value=50))
def test_demux_any_split(frames, step):
    wire = b"".join(frame(s, p) for s, p in frames)
    demux, got = Demuxer(), []
    for i in range(0, len(wire), step):
        got.extend(demux.feed(wire[i:i + step]))
    assert got == frames and demux.pending == 0
