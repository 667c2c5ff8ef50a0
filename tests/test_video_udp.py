"""UDP MPEG-TS streams on loopback: round trip, stall timeout, dying sender, garbage datagrams.

Every test is bounded by pytest-timeout; the receiver must end on its own well before that.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time

import cv2
import numpy as np
import pytest
from inference_support import free_udp_port, ts_datagrams, write_video

from tecktrack.errors import StreamError
from tecktrack.inference.capture import VideoPreprocessor
from tecktrack.inference.udp_receiver import DatagramFile, is_mpegts_datagram, receive_frames
from tecktrack.inference.udp_url import UdpAddress
from tecktrack.interface.udp_sender import send_video


class Receiver(threading.Thread):
    """Consume ``capture_video(udp://...)`` in a thread; records frames, stats and errors."""

    def __init__(self, port: int, timeout: float, drop_rate: int = 1):
        super().__init__(daemon=True)
        self.url = f"udp://127.0.0.1:{port}"
        self.pre = VideoPreprocessor(timeout=timeout)
        self.drop_rate = drop_rate
        self.indices: list[int] = []
        self.error: BaseException | None = None
        self.ended_at = 0.0

    def run(self) -> None:
        try:
            for index, frame in self.pre.capture_video(self.url, self.drop_rate):
                assert frame.ndim == 3 and frame.shape[2] == 3
                self.indices.append(index)
        except BaseException as exc:  # surfaced by the test
            self.error = exc
        self.ended_at = time.monotonic()


def start_receiver(port: int, timeout: float, drop_rate: int = 1) -> Receiver:
    receiver = Receiver(port, timeout, drop_rate)
    receiver.start()
    # the receiver sets this event right after bind(): no probe, no race for the port
    assert receiver.pre.ready.wait(10), f"the receiver did not bind UDP port {port}"
    return receiver


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return write_video(tmp_path_factory.mktemp("udp") / "clip.mp4", 40)


@pytest.mark.timeout(60)
def test_round_trip_delivers_every_frame_then_stalls_cleanly(clip):
    port = free_udp_port()
    receiver = start_receiver(port, timeout=2.0, drop_rate=3)
    sent = send_video(clip, f"udp://127.0.0.1:{port}", fps=100)
    sent_at = time.monotonic()
    receiver.join(30)
    assert not receiver.is_alive() and receiver.error is None
    assert sent == 40
    assert receiver.indices == list(range(0, 40, 3))
    stats = receiver.pre.stats
    assert (stats.frames_read, stats.frames_dropped_by_rate) == (40, 40 - 14)
    assert stats.end_reason == "stalled"
    # it waited for the stall timeout after the last packet, and not much longer
    assert 1.5 <= receiver.ended_at - sent_at <= 6.0


@pytest.mark.timeout(30)
def test_a_stream_that_never_starts_ends_after_the_timeout():
    port = free_udp_port()
    start = time.monotonic()
    frames = list(receive_frames(f"udp://127.0.0.1:{port}", timeout=1.0))
    assert frames == []
    assert 1.0 <= time.monotonic() - start < 5.0  # it waited the whole timeout, not longer


@pytest.mark.timeout(60)
def test_sender_killed_mid_stream_ends_the_run_with_frames_so_far(clip, repo_root):
    port = free_udp_port()
    # the sender is a new Python process: under load it takes seconds to start sending
    receiver = start_receiver(port, timeout=8.0)
    sender = subprocess.Popen(
        [sys.executable, "-m", "tecktrack", "stream", "send", str(clip),
         f"udp://127.0.0.1:{port}", "--fps", "25", "--loop"],
        cwd=repo_root, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while len(receiver.indices) < 10 and time.monotonic() < deadline:
            time.sleep(0.05)
        os.kill(sender.pid, signal.SIGKILL)
    finally:
        sender.wait(10)
    killed_at = time.monotonic()
    receiver.join(20)
    assert not receiver.is_alive() and receiver.error is None
    assert len(receiver.indices) >= 10
    assert receiver.indices == list(range(len(receiver.indices)))
    assert receiver.pre.stats.end_reason == "stalled"
    assert receiver.ended_at - killed_at < 12.0


def _spray_garbage(port: int, count: int, seed: int, pause: float = 0.002) -> None:
    rng = __import__("numpy").random.default_rng(seed)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for _ in range(count):
            size = int(rng.integers(1, 1500))
            sock.sendto(rng.integers(0, 256, size, dtype="uint8").tobytes(),
                        ("127.0.0.1", port))
            time.sleep(pause)


@pytest.mark.timeout(30)
def test_garbage_only_never_hangs_or_crashes():
    port = free_udp_port()
    receiver = start_receiver(port, timeout=2.0)
    _spray_garbage(port, 200, seed=1)  # ~0.5 s, well inside the timeout
    receiver.join(15)
    assert not receiver.is_alive() and receiver.error is None
    assert receiver.indices == []
    assert receiver.pre.stats.end_reason == "stalled"
    # counted, not silently skipped (loopback may drop a few under heavy load); garbage
    # is not stream activity, so it does not hold off the stall timeout
    assert 150 <= receiver.pre.stats.datagrams_rejected <= 200


@pytest.mark.timeout(60)
def test_the_stream_is_decoded_after_garbage_and_through_garbage(clip):
    port = free_udp_port()
    receiver = start_receiver(port, timeout=2.0)
    _spray_garbage(port, 200, seed=2)  # garbage first: the demuxer must resynchronise
    spray = threading.Thread(target=_spray_garbage, args=(port, 40, 3, 0.02), daemon=True)
    spray.start()  # then a datagram of garbage every ~20 ms during the stream
    send_video(clip, f"udp://127.0.0.1:{port}", fps=50)
    spray.join(10)
    receiver.join(30)
    assert not receiver.is_alive() and receiver.error is None
    # garbage is dropped before the demuxer: every frame arrives, the garbage is counted
    assert receiver.indices == list(range(40))
    assert receiver.pre.stats.datagrams_rejected >= 200
    assert receiver.pre.stats.end_reason == "stalled"


def test_sender_refuses_odd_frame_sizes(tmp_path):
    # video writers round sizes to even numbers; an image sequence keeps them odd
    for i in range(2):
        cv2.imwrite(str(tmp_path / f"{i:06d}.png"), np.zeros((63, 95, 3), np.uint8))
    with pytest.raises(StreamError, match="even frame sizes, got 95x63"):
        send_video(tmp_path / "%06d.png", f"udp://127.0.0.1:{free_udp_port()}", fps=25)


def test_sender_refuses_missing_video_and_bad_fps(tmp_path, clip):
    with pytest.raises(StreamError, match="cannot open video"):
        send_video(tmp_path / "missing.mp4", "udp://127.0.0.1:9")
    with pytest.raises(StreamError, match="fps must be in"):
        send_video(clip, "udp://127.0.0.1:9", fps=0)
    with pytest.raises(StreamError, match="scheme 'http'"):
        send_video(clip, "http://127.0.0.1:9")


class Sink(threading.Thread):
    """A bound UDP socket recording each datagram with its arrival time until 1 s of quiet."""

    def __init__(self, family: int = socket.AF_INET, host: str = "127.0.0.1"):
        super().__init__(daemon=True)
        self.sock = socket.socket(family, socket.SOCK_DGRAM)
        self.sock.bind((host, 0))
        self.sock.settimeout(1.0)
        self.port = self.sock.getsockname()[1]
        self.arrivals: list[tuple[float, bytes]] = []

    def run(self) -> None:
        with self.sock:
            try:
                while True:
                    data = self.sock.recv(65536)
                    self.arrivals.append((time.monotonic(), data))
            except TimeoutError:
                return


def _starts_a_frame(datagram: bytes) -> bool:
    """A packet of the video PID (0x100) with payload_unit_start: the first bytes of a frame."""
    return any(datagram[i + 1] & 0x40 and (datagram[i + 1] & 0x1F) << 8 | datagram[i + 2]
               == 0x100 for i in range(0, len(datagram), 188))


def test_sender_paces_frames_at_fps(clip):
    sink = Sink()
    sink.start()
    counters: dict[str, int] = {}
    assert send_video(clip, f"udp://127.0.0.1:{sink.port}", fps=100, max_frames=30,
                      counters=counters) == 30
    sink.join(10)
    starts = [t for t, data in sink.arrivals if _starts_a_frame(data)]
    assert len(starts) == 30
    # 30 frames at 100 fps: frame 29 leaves 0.29 s after frame 0; not sooner, not much later
    span = starts[-1] - starts[0]
    assert 0.28 <= span <= 0.29 + 1.0
    # and evenly: not a burst followed by a wait (the median gap is one frame interval)
    gaps = np.diff(starts)
    assert 0.005 <= float(np.median(gaps)) <= 0.015
    assert counters == {"datagrams_sent": len(sink.arrivals), "datagrams_refused": 0}
    assert all(len(data) % 188 == 0 and len(data) <= 1316 for _, data in sink.arrivals)


def test_sender_counts_icmp_refusals_from_a_closed_port(clip):
    counters: dict[str, int] = {}
    port = free_udp_port()  # free: nothing listens, loopback answers "port unreachable"
    assert send_video(clip, f"udp://127.0.0.1:{port}", fps=200, max_frames=20,
                      counters=counters) == 20
    # every datagram but the last is answered by a refusal reported on the next send
    assert counters["datagrams_refused"] >= counters["datagrams_sent"] - 2 >= 18


def test_stream_send_cli_reports_a_closed_port(clip, capsys):
    from tecktrack.cli import main

    port = free_udp_port()
    assert main(["stream", "send", str(clip), f"udp://127.0.0.1:{port}", "--fps", "200",
                 "--max-frames", "10"]) == 1
    out, err = capsys.readouterr()
    assert "sent" not in out
    assert f"udp://127.0.0.1:{port} refused the stream" in err
    assert "port unreachable" in err


def test_stream_send_cli_bad_host_is_one_line(clip, capsys):
    from tecktrack.cli import main

    assert main(["stream", "send", str(clip), "udp://nohost.invalid:5000"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "cannot resolve host 'nohost.invalid'" in err


def test_sender_reaches_an_ipv6_receiver(clip):
    sink = Sink(socket.AF_INET6, "::1")
    sink.start()
    counters: dict[str, int] = {}
    assert send_video(clip, f"udp://[::1]:{sink.port}", fps=200, max_frames=10,
                      counters=counters) == 10
    sink.join(10)
    assert counters == {"datagrams_sent": len(sink.arrivals), "datagrams_refused": 0}


@pytest.mark.timeout(30)
def test_a_port_already_in_use_is_a_clear_error():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        taken.bind(("127.0.0.1", 0))
        port = taken.getsockname()[1]
        with pytest.raises(StreamError, match="cannot listen on the UDP port"):
            list(receive_frames(f"udp://127.0.0.1:{port}", timeout=1.0))


def test_mpegts_datagram_filter():
    packet = bytes([0x47]) + bytes(187)
    assert is_mpegts_datagram(packet * 7)
    assert not is_mpegts_datagram(packet * 6 + bytes(188))  # a packet without sync byte
    assert not is_mpegts_datagram(packet + b"x")  # not whole packets
    assert not is_mpegts_datagram(b"")


@pytest.mark.timeout(30)
def test_a_full_fifo_drops_and_counts_datagrams():
    port = free_udp_port()
    datagrams = ts_datagrams(30)  # distinct and in order: none is a repeat
    packet = datagrams[0]
    with DatagramFile(UdpAddress("127.0.0.1", port), timeout=1.0,
                      fifo_bytes=10 * len(packet)) as source:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            for datagram in datagrams:
                sock.sendto(datagram, ("127.0.0.1", port))
        deadline = time.monotonic() + 10
        while source.accepted + source.overflowed < 30 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert (source.accepted, source.overflowed) == (10, 20)
        data = source.read(100_000)
        assert len(data) == len(packet)  # one datagram per read at most
        while source.read(100_000):
            pass
        assert source.stalled


@pytest.mark.parametrize("bad", [-1, 0, 2.5, True])
def test_sender_refuses_a_max_frames_that_is_not_a_positive_count(clip, bad):
    with pytest.raises(StreamError, match="max_frames must be a whole number >= 1"):
        send_video(clip, f"udp://127.0.0.1:{free_udp_port()}", fps=25, max_frames=bad)


def test_stream_send_cli_refuses_negative_max_frames(clip, capsys):
    from tecktrack.cli import main

    assert main(["stream", "send", str(clip), f"udp://127.0.0.1:{free_udp_port()}",
                 "--max-frames", "-1"]) == 2
    assert "max_frames must be a whole number >= 1" in capsys.readouterr().err
