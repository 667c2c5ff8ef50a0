"""Fuzzing the UDP packet parser (#21): the MPEG-TS filter, the continuity reader, the sequencer
and the demuxer behind them end in a result, never an exception.

The sequencer's promises are checked on every case: it releases only what it was given, each
datagram at most once, everything not a repeat once flushed, and a stream of distinct
datagrams with adjacent swaps comes out in its original order.
"""

from __future__ import annotations

import io

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from inference_support import ts_datagrams

from tecktrack.inference.ts_sequencer import TsSequencer, continuity
from tecktrack.inference.udp_receiver import _decode_file, _numbered, is_mpegts_datagram

FUZZ = settings(max_examples=300,
                suppress_health_check=list(HealthCheck))
CASES: dict[str, int] = {}


def _count(name: str) -> None:
    CASES[name] = CASES.get(name, 0) + 1


@pytest.fixture(scope="module", autouse=True)
def _report():
    yield
    print(f"\nfuzz UDP packets: {sum(CASES.values())} cases {CASES}")


def _packet(pid: int, cc: int, control: int, adaptation: bytes, tail: bytes) -> bytes:
    header = bytes([0x47, pid >> 8 & 0x1F, pid & 0xFF, (control & 3) << 4 | cc & 0xF])
    body = (bytes([len(adaptation)]) + adaptation if control & 2 else b"") + tail
    return (header + body + bytes(188))[:188]


_PACKET = st.builds(_packet, st.sampled_from([0, 17, 256, 257, 4096, 0x1FFF]),
                    st.integers(0, 15), st.integers(0, 3), st.binary(max_size=8),
                    st.binary(max_size=16))
_TS_DATAGRAM = st.lists(_PACKET, min_size=1, max_size=7).map(b"".join)
_ANY_DATAGRAM = st.one_of(_TS_DATAGRAM, st.binary(max_size=1500),
                          _TS_DATAGRAM.map(lambda d: d[:-1]), _TS_DATAGRAM.map(lambda d: d + b"x"))


@FUZZ
@given(datagram=_ANY_DATAGRAM)
def test_the_mpegts_filter_and_the_counter_reader(datagram):
    _count("filter + continuity")
    whole = is_mpegts_datagram(datagram)
    assert whole == (len(datagram) > 0 and len(datagram) % 188 == 0
                     and all(datagram[i] == 0x47 for i in range(0, len(datagram), 188)))
    if whole:
        info = continuity(datagram)
        assert set(info.first) == set(info.last) and info.reset <= set(info.first)
        assert all(0 <= cc <= 15 for cc in [*info.first.values(), *info.last.values()])
        assert 0x1FFF not in info.first


@FUZZ
@given(datagrams=st.lists(_TS_DATAGRAM, max_size=30),
       times=st.lists(st.floats(0, 0.5), max_size=30))
def test_the_sequencer_releases_each_datagram_at_most_once(datagrams, times):
    _count("sequencer (arbitrary datagrams)")
    sequencer, now, released = TsSequencer(hold_s=0.2, window=4), 0.0, []
    for datagram, step in zip(datagrams, times + [0.0] * len(datagrams), strict=False):
        now += step
        released += sequencer.push(datagram, now)
        released += sequencer.expire(now)
    released += sequencer.flush()
    distinct = list(dict.fromkeys(datagrams))
    assert sorted(released) == sorted(distinct)  # each distinct datagram exactly once
    assert sequencer.duplicated == len(datagrams) - len(distinct)
    assert min(sequencer.reordered, sequencer.gaps) >= 0


@FUZZ
@given(count=st.integers(1, 40), per=st.integers(1, 7), data=st.data())
def test_adjacent_swaps_and_repeats_come_out_in_source_order(count, per, data):
    _count("sequencer (swaps + repeats)")
    source = ts_datagrams(count, per=per)
    # the first datagram is the sequencer's reference (it cannot know where a stream it
    # joins begins), so the swaps start after it
    arriving, i = [source[0]], 1
    while i < count:
        if i + 1 < count and data.draw(st.booleans(), label=f"swap {i}"):
            arriving += [source[i + 1], source[i]]
            i += 2
        else:
            arriving.append(source[i])
            i += 1
        if data.draw(st.integers(0, 3), label="repeat") == 0:
            arriving.append(arriving[-1])
    sequencer, released = TsSequencer(), []
    for datagram in arriving:
        released += sequencer.push(datagram, now=0.0)
    released += sequencer.flush()
    assert released == source
    assert sequencer.gaps == 0 and sequencer.duplicated == len(arriving) - count


@settings(max_examples=60,
          suppress_health_check=list(HealthCheck))
@given(datagrams=st.lists(st.one_of(_TS_DATAGRAM, _TS_DATAGRAM.map(
    lambda d: bytes([0x47, 0x40, 0x00, 0x10]) + d[4:])), max_size=20))
def test_the_demuxer_ends_cleanly_on_any_transport_stream(datagrams):
    _count("demuxer")
    frames = list(_numbered(_decode_file(io.BytesIO(b"".join(datagrams)))))
    numbers = [n for n, _ in frames]
    assert numbers == sorted(set(numbers))


@FUZZ
@given(times=st.lists(st.one_of(st.none(), st.floats(-1e6, 1e6)), max_size=30))
def test_frame_numbers_never_repeat_or_go_back(times):
    _count("PTS numbering")
    numbers = [n for n, _ in _numbered((t, None) for t in times)]
    assert numbers == sorted(set(numbers)) and len(numbers) == len(times)
    assert not numbers or numbers[0] == 0
