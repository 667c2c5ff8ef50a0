"""Repeated, swapped and lost datagrams on loopback: frame numbers still match the source.

A real 60-frame stream is recorded once from the sender; each test replays a seeded
mutation of it (duplicates, adjacent swaps, losses) to a receiver on loopback. Before the
continuity-counter sequencer, 30 % duplicates decoded as 72 frames and 20 % swaps as 39.
"""

from __future__ import annotations

import functools
import random
import socket
import threading
import time

import pytest
from inference_support import free_udp_port, record_stream, ts_datagrams, write_video

from tecktrack.inference import udp_receiver
from tecktrack.inference.capture import VideoPreprocessor
from tecktrack.inference.ts_sequencer import TsSequencer
from tecktrack.inference.udp_receiver import DatagramFile
from tecktrack.inference.udp_url import UdpAddress

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(scope="module")
def recorded(tmp_path_factory) -> list[bytes]:
    """The datagrams of a 60-frame H.264 MPEG-TS stream, as the sender sent them."""
    clip = write_video(tmp_path_factory.mktemp("seq") / "clip.mp4", 60)
    datagrams = record_stream(clip)
    assert len(datagrams) >= 60
    return datagrams


def replay(datagrams: list[bytes], stall_s: float = 0.0) -> tuple[list[int], VideoPreprocessor]:
    """Send ``datagrams`` to a fresh receiver; the frame numbers it yields and its stats.
    With ``stall_s`` the consumer (the network) stops that long after the first frame."""
    port = free_udp_port()
    pre = VideoPreprocessor(timeout=1.0)
    numbers: list[int] = []

    def consume() -> None:
        for i, _ in pre.capture_video(f"udp://127.0.0.1:{port}"):
            numbers.append(i)
            if len(numbers) == 1:
                time.sleep(stall_s)

    receiver = threading.Thread(target=consume, daemon=True)
    receiver.start()
    assert pre.ready.wait(10)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for datagram in datagrams:
            sock.sendto(datagram, ("127.0.0.1", port))
    receiver.join(30)
    assert not receiver.is_alive()
    return numbers, pre


def with_duplicates(datagrams, share, seed):
    rng, out = random.Random(seed), []
    for datagram in datagrams:
        out.append(datagram)
        if rng.random() < share:
            out.append(datagram)
    return out, len(out) - len(datagrams)


def with_adjacent_swaps(datagrams, share, seed):
    rng, out, swaps, i = random.Random(seed), list(datagrams), 0, 0
    while i < len(out) - 1:
        if rng.random() < share:
            out[i], out[i + 1] = out[i + 1], out[i]
            swaps, i = swaps + 1, i + 2
        else:
            i += 1
    return out, swaps


def test_the_clean_stream_decodes_as_sixty_frames(recorded):
    numbers, pre = replay(recorded)
    assert numbers == list(range(60))
    stats = pre.stats
    assert (stats.datagrams_duplicated, stats.datagrams_reordered, stats.continuity_gaps,
            stats.datagrams_overflowed) == (0, 0, 0, 0)


def test_duplicated_datagrams_make_no_phantom_frames(recorded):
    mutated, duplicates = with_duplicates(recorded, 0.3, seed=1)
    assert duplicates >= 10
    numbers, pre = replay(mutated)
    assert numbers == list(range(60))
    assert pre.stats.datagrams_duplicated == duplicates
    assert pre.stats.continuity_gaps == 0


def test_swapped_datagrams_are_put_back_in_order(recorded):
    mutated, swaps = with_adjacent_swaps(recorded, 0.2, seed=2)
    assert swaps >= 5
    numbers, pre = replay(mutated)
    assert numbers == list(range(60))
    assert pre.stats.datagrams_reordered == swaps
    assert pre.stats.continuity_gaps == 0


def test_duplicates_and_swaps_together(recorded):
    swapped, swaps = with_adjacent_swaps(recorded, 0.2, seed=3)
    mutated, duplicates = with_duplicates(swapped, 0.3, seed=4)
    numbers, pre = replay(mutated)
    assert numbers == list(range(60))
    assert pre.stats.datagrams_duplicated == duplicates


def test_lost_datagrams_leave_holes_and_later_frames_keep_their_numbers(recorded):
    rng = random.Random(5)
    half = len(recorded) // 2
    kept = [d for i, d in enumerate(recorded) if i >= half or rng.random() > 0.15]
    assert len(kept) < len(recorded)
    numbers, pre = replay(kept)
    assert numbers == sorted(set(numbers)) and set(numbers) <= set(range(60))
    assert len(numbers) < 60 and numbers[-1] == 59  # the second half arrived whole
    assert pre.stats.continuity_gaps >= 1


def test_datagrams_dropped_by_a_full_queue_are_reported(recorded, monkeypatch):
    """A network slower than the sender fills the receive queue (64 MiB; 8 KiB here): the
    datagrams it then drops leave holes no continuity counter sees (they are dropped after
    the reordering), so the run reports them as ``datagrams_overflowed``."""
    monkeypatch.setattr(udp_receiver, "DatagramFile",
                        functools.partial(DatagramFile, fifo_bytes=8 * 1024))
    numbers, pre = replay(recorded, stall_s=1.5)
    assert len(numbers) < 60
    assert pre.stats.datagrams_overflowed > 0


def test_datagram_file_sets_ready_after_bind_and_passes_datagrams_in_order():
    port = free_udp_port()
    ready = threading.Event()
    datagrams = ts_datagrams(6, per=3)
    order = [0, 2, 1, 3, 3, 5, 4]  # two swaps and a repeat
    with DatagramFile(UdpAddress("127.0.0.1", port), timeout=0.5, ready=ready) as source:
        assert ready.is_set()  # set by the constructor once bound: a sender may start now
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            for i in order:
                sock.sendto(datagrams[i], ("127.0.0.1", port))
        received = b""
        while chunk := source.read(65536):
            received += chunk
        assert received == b"".join(datagrams)
        assert (source.duplicated, source.reordered, source.gaps) == (1, 2, 0)


def test_cancel_ends_a_udp_capture_long_before_its_timeout():
    pre = VideoPreprocessor(timeout=30.0)
    frames = pre.capture_video(f"udp://127.0.0.1:{free_udp_port()}")
    done = threading.Event()

    def consume() -> None:
        list(frames)
        done.set()

    threading.Thread(target=consume, daemon=True).start()
    assert pre.ready.wait(10)
    start = time.monotonic()
    pre.cancel()
    assert done.wait(10)
    assert time.monotonic() - start < 2.0  # not the 30 s stall timeout


def test_a_lost_datagram_is_released_after_hold_s_as_a_gap():
    datagrams = ts_datagrams(4, per=3)
    seq = TsSequencer(hold_s=0.2)
    assert seq.push(datagrams[0], now=0.0) == [datagrams[0]]
    assert seq.push(datagrams[2], now=0.05) == []  # waits for datagram 1
    assert seq.expire(now=0.1) == []
    assert seq.expire(now=0.26) == [datagrams[2]]  # datagram 1 is lost: a gap
    assert seq.push(datagrams[3], now=0.3) == [datagrams[3]]
    assert (seq.duplicated, seq.reordered, seq.gaps) == (0, 0, 1)
