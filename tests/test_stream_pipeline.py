"""The stream pipeline's fast paths (#20) give what the slower ones gave.

One decoder thread (the service's setting) decodes the same pixels as FFmpeg's own threading,
from a file and from a recorded UDP stream; the continuity reader in plain Python reads the
same counters as a NumPy reading of the packet headers; a run ends on its reader's end marker,
not on a queue poll; the reader and saver threads yield to the network and OpenCV runs one
thread during a run, restored after.
"""

from __future__ import annotations

import io
import random
import sys
import threading

import numpy as np
import pytest
from inference_support import build_detector, record_stream, write_video

from tecktrack.errors import StreamError, TeckTrackError
from tecktrack.inference import service as service_module
from tecktrack.inference.capture import VideoPreprocessor
from tecktrack.inference.service import InferenceService
from tecktrack.inference.ts_sequencer import continuity
from tecktrack.inference.udp_receiver import _decode_file
from tecktrack.model import load_model

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return write_video(tmp_path_factory.mktemp("clip") / "clip.mp4", 24, width=160, height=120)


@pytest.fixture(scope="module")
def recorded(clip) -> bytes:
    """The clip as the sender streams it (H.264 in MPEG-TS), every datagram in order."""
    return b"".join(record_stream(clip))


def test_one_decoder_thread_reads_the_same_frames_from_a_file(clip):
    default = list(VideoPreprocessor().capture_video(clip))
    single = list(VideoPreprocessor(decoder_threads=1).capture_video(clip))
    assert [i for i, _ in single] == [i for i, _ in default] == list(range(24))
    assert all(np.array_equal(a, b) for (_, a), (_, b) in zip(default, single, strict=True))


def test_one_decoder_thread_decodes_the_same_udp_frames(recorded):
    default = list(_decode_file(io.BytesIO(recorded)))
    single = list(_decode_file(io.BytesIO(recorded), threads=1))
    assert len(default) == len(single) == 24
    assert [t for t, _ in single] == [t for t, _ in default]
    assert all(np.array_equal(a, b) for (_, a), (_, b) in zip(default, single, strict=True))


def test_udp_frames_are_the_decoders_bgr_conversion(recorded):
    import av

    with av.open(io.BytesIO(recorded), format="mpegts") as container:
        expected = [f.to_ndarray(format="bgr24") for f in container.decode(video=0)]
    frames = [frame for _, frame in _decode_file(io.BytesIO(recorded), threads=1)]
    assert len(frames) == len(expected) == 24
    assert all(np.array_equal(a, b) for a, b in zip(frames, expected, strict=True))
    assert len({f.ctypes.data for f in frames}) == len(frames)  # no buffer reused


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "2"])
def test_decoder_threads_must_be_a_positive_integer(bad):
    with pytest.raises(StreamError, match="decoder_threads must be an integer >= 1"):
        VideoPreprocessor(decoder_threads=bad)


def _numpy_continuity(datagram: bytes):
    """The counters as a NumPy reading of the headers (the reader's first implementation)."""
    packets = np.frombuffer(datagram, np.uint8)[: len(datagram) // 188 * 188].reshape(-1, 188)
    pids = (packets[:, 1].astype(np.int64) & 0x1F) << 8 | packets[:, 2]
    control = packets[:, 3] >> 4 & 0x3
    counters = packets[:, 3] & 0xF
    keep = (control & 0x1).astype(bool) & (pids != 0x1FFF)
    reset = (control & 0x2).astype(bool) & (packets[:, 4] > 0) & (packets[:, 5] & 0x80 > 0)
    pids, counters, reset = pids[keep], counters[keep], reset[keep]
    unique, first_at = np.unique(pids, return_index=True)
    _, last_from_end = np.unique(pids[::-1], return_index=True)
    last_at = len(pids) - 1 - last_from_end
    return ({int(p): int(counters[i]) for p, i in zip(unique, first_at, strict=True)},
            {int(p): int(counters[i]) for p, i in zip(unique, last_at, strict=True)},
            frozenset(int(p) for p, i in zip(unique, first_at, strict=True) if reset[i]))


def _random_datagram(rng: random.Random) -> bytes:
    count = rng.randint(1, 7)
    data = bytearray(rng.randbytes(188 * count + rng.choice([0, 0, 0, 5])))
    for at in range(0, 188 * count, 188):
        data[at] = 0x47
        if rng.random() < 0.5:  # few PIDs, so a datagram repeats some; the null PID too
            data[at + 1], data[at + 2] = rng.choice([(0, 0), (1, 0), (0x1F, 0xFF), (0x10, 1)])
        if rng.random() < 0.3:  # an empty adaptation field
            data[at + 4] = 0
    return bytes(data)


def test_the_continuity_reader_matches_a_numpy_reading():
    rng = random.Random(20)
    for _ in range(3000):
        datagram = _random_datagram(rng)
        info = continuity(datagram)
        assert (info.first, info.last, info.reset) == _numpy_continuity(datagram)
        assert list(info.first) == sorted(info.first)  # PIDs in order, as before


def test_a_run_ends_on_the_readers_end_marker_not_a_poll(clip, tmp_path, monkeypatch):
    # With a 60 s poll, a forward loop that waited for a poll to see the reader gone would
    # hang past the test's timeout; the reader's end marker ends it as soon as it is read.
    monkeypatch.setattr(service_module, "_POLL_S", 60.0)
    model = load_model(build_detector(tmp_path / "tiny"))
    service = InferenceService(model, runs_dir=tmp_path / "runs", quiet=True)
    done = threading.Event()
    result = {}

    def run() -> None:
        result["metrics"] = service.run_inference(clip).metrics
        done.set()

    threading.Thread(target=run, daemon=True).start()
    assert done.wait(50)
    assert result["metrics"]["total_frames"] == 24
    assert result["metrics"]["end_reason"] == "end"


class _Watched:
    """The model, noting the nice value and OpenCV's thread count each stage runs with."""

    def __init__(self, model):
        self._model = model
        self.seen: dict[str, list[tuple[int, int]]] = {"preprocess": [], "forward": [],
                                                       "suppress": []}

    def __getattr__(self, name):
        return getattr(self._model, name)

    def _note(self, stage: str) -> None:
        import os

        import cv2

        nice = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
        self.seen[stage].append((nice, cv2.getNumThreads()))

    def preprocess(self, frame):
        self._note("preprocess")
        return self._model.preprocess(frame)

    def forward(self, blob):
        self._note("forward")
        return self._model.forward(blob)

    def suppress(self, candidates, info):
        self._note("suppress")
        return self._model.suppress(candidates, info)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread nice is Linux's")
def test_helpers_yield_to_the_network_and_opencv_runs_one_thread(clip, tmp_path):
    import os

    import cv2

    before = cv2.getNumThreads()
    own = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    watched = _Watched(load_model(build_detector(tmp_path / "tiny")))
    result = InferenceService(watched, runs_dir=tmp_path / "runs", quiet=True,
                              helper_nice=5).run_inference(clip)
    assert result.metrics["total_frames"] == 24
    helper = min(19, own + 5)
    # the reader yields once the network has its first frame; the saver from its start
    assert watched.seen["preprocess"] == [(own, 1)] + [(helper, 1)] * 23
    assert set(watched.seen["suppress"]) == {(helper, 1)}
    assert set(watched.seen["forward"]) == {(own, 1)}             # the network: unchanged
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == own
    assert cv2.getNumThreads() == before                          # restored after the run


def test_helper_nice_none_leaves_the_threads_as_they_are(clip, tmp_path):
    import os

    own = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    watched = _Watched(load_model(build_detector(tmp_path / "tiny")))
    InferenceService(watched, runs_dir=tmp_path / "runs", quiet=True,
                     helper_nice=None).run_inference(clip)
    assert {nice for nice, _ in watched.seen["preprocess"] + watched.seen["suppress"]} == {own}


@pytest.mark.parametrize("bad", [-1, 20, 2.5, True, "10"])
def test_helper_nice_must_be_0_to_19(bad, tmp_path):
    with pytest.raises(TeckTrackError, match="helper_nice must be an integer in 0..19"):
        InferenceService(object(), runs_dir=tmp_path, helper_nice=bad)


def test_overlapping_opencv_threads_restore_the_value_from_before_the_first():
    import cv2

    from tecktrack.inference.cores import opencv_threads

    before = cv2.getNumThreads()
    first = opencv_threads(1)
    second = opencv_threads(1)
    first.__enter__()
    second.__enter__()
    first.__exit__(None, None, None)      # the first run ends while the second still runs
    assert cv2.getNumThreads() == 1
    second.__exit__(None, None, None)
    assert cv2.getNumThreads() == before
