"""``overlapped`` and ``Model.predict_batch`` with the work around each forward pass on a
helper thread: the same detections as one call after another, and really overlapped."""

from __future__ import annotations

import gc
import os
import signal
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from detections_support import assert_same_bytes
from model_graphs import conv_yolo_graph

from tecktrack.errors import FormatError
from tecktrack.model import core, load_model, overlap
from tecktrack.model.overlap import overlapped

WAIT_S = 10.0  # generous: a step that never comes fails the test instead of hanging it


def test_overlapped_keeps_the_order_and_forwards_on_the_calling_thread():
    caller, seen = threading.get_ident(), []

    def forward(prepared):
        seen.append(("forward", prepared, threading.get_ident() == caller))
        return prepared * 10

    results = overlapped(5, lambda k: k + 1, forward, lambda k, p, out: (k, p, out))
    assert results == [(k, k + 1, (k + 1) * 10) for k in range(5)]
    assert seen == [("forward", k + 1, True) for k in range(5)]
    assert overlapped(0, None, None, None) == []
    assert overlapped(1, lambda k: 7, lambda p: p, lambda k, p, out: out) == [7]


def test_overlapped_prepares_and_finishes_while_the_network_runs():
    """forward(k) waits until prepare(k + 1) and finish(k - 1) have run: only possible when
    they run at the same time as it, on another thread."""
    count = 4
    prepared = [threading.Event() for _ in range(count)]
    finished = [threading.Event() for _ in range(count)]

    def prepare(k):
        prepared[k].set()
        return k

    def forward(k):
        if k + 1 < count:
            assert prepared[k + 1].wait(WAIT_S), f"prepare({k + 1}) did not run during forward({k})"
        if k > 0:
            assert finished[k - 1].wait(WAIT_S), f"finish({k - 1}) did not run during forward({k})"
        assert not prepared[k + 2].is_set() if k + 2 < count else True
        return k

    def finish(k, p, out):
        finished[k].set()
        return out

    assert overlapped(count, prepare, forward, finish) == list(range(count))


@pytest.mark.parametrize("failing", ["prepare", "forward", "finish"])
def test_overlapped_raises_what_a_step_raised_once_the_helper_stopped(failing):
    """The error comes out after the helper's running step has ended (nothing of the call
    runs after it), and the next call works."""
    caller, side_steps = threading.get_ident(), []

    def step(name, k, value):
        if name == failing and k == 2:
            raise ValueError(f"{name} {k}")
        if threading.get_ident() != caller:  # a slow helper: still busy when forward ends
            time.sleep(0.02)
            side_steps.append((name, k))
        return value

    with pytest.raises(ValueError, match=f"{failing} 2"):
        overlapped(4, lambda k: step("prepare", k, k), lambda p: step("forward", p, p),
                   lambda k, p, out: step("finish", k, out))
    steps = list(side_steps)
    time.sleep(0.1)
    assert side_steps == steps, "the helper went on after the error came out"
    assert overlapped(3, lambda k: k, lambda p: p, lambda k, p, out: out) == [0, 1, 2]


def test_each_thread_has_its_own_helper_and_it_ends_with_the_thread():
    helpers = {}

    def run(key):
        overlapped(2, lambda k: k, lambda p: p, lambda k, p, out: out)
        helpers[key] = set(overlap._helper()._threads)
        overlapped(2, lambda k: k, lambda p: p, lambda k, p, out: out)
        assert set(overlap._helper()._threads) == helpers[key], "a new helper each call"

    for key in "ab":
        thread = threading.Thread(target=run, args=(key,))
        thread.start()
        thread.join()
    assert helpers["a"] and helpers["a"].isdisjoint(helpers["b"])
    gc.collect()
    deadline = time.monotonic() + WAIT_S
    while any(t.is_alive() for t in helpers["a"] | helpers["b"]):
        assert time.monotonic() < deadline, "a helper outlived its thread"
        time.sleep(0.01)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_starts_its_own_helper():
    """A fork copies no thread: the parent's helper would never run the child's steps."""
    assert overlapped(2, lambda k: k, lambda p: p, lambda k, p, out: out) == [0, 1]
    pid = os.fork()
    if pid == 0:  # the child: exit code 0 only when the call completes right
        code = 1
        try:
            code = int(overlapped(3, lambda k: k, lambda p: p * 2,
                                  lambda k, p, out: out) != [0, 2, 4])
        finally:
            os._exit(code)
    deadline = time.monotonic() + WAIT_S
    while (done := os.waitpid(pid, os.WNOHANG))[0] == 0:
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            pytest.fail("the forked child's call hung")
        time.sleep(0.01)
    assert os.waitstatus_to_exitcode(done[1]) == 0


@pytest.fixture(scope="module")
def batch_model(tmp_path_factory):
    """A 64x64 YOLOv8-layout network with a dynamic batch axis, low threshold."""
    path = conv_yolo_graph(tmp_path_factory.mktemp("overlap") / "m.onnx", 64,
                           dynamic_batch=True)
    model = load_model(path, backend="onnxruntime", threads=1)
    model.conf = 0.01
    return model


def _frames() -> list[np.ndarray]:
    rng = np.random.default_rng(5)
    sizes = [(640, 480), (480, 640), (128, 128), (640, 480), (300, 200), (640, 480), (96, 64)]
    return [cv2.resize(rng.integers(0, 255, (24, 32, 3), np.uint8), size,
                       interpolation=cv2.INTER_NEAREST) for size in sizes]


@pytest.mark.parametrize("batch_size", [1, 3, 8])
def test_predict_batch_overlapped_is_predict_batch_call_after_call(batch_model, batch_size,
                                                                   monkeypatch):
    """Batches of 1, of 3 (the last one partial) and one whole batch: the same bytes as the
    sequential calls and as predict frame by frame; the overlapped path is taken whenever
    there is more than one forward pass."""
    frames, calls, helpers = _frames(), [], []
    spy, helper = core.overlapped, overlap._helper

    def counted(count, *steps, **options):  # the count of a run that used the helper thread
        before = len(helpers)
        result = spy(count, *steps, **options)
        if len(helpers) > before:
            calls.append(count)
        return result

    monkeypatch.setattr(overlap, "_helper", lambda: helpers.append(1) or helper())
    monkeypatch.setattr(core, "overlapped", counted)
    batch_model.overlap = False
    sequential = batch_model.predict_batch(frames, batch_size=batch_size)
    assert calls == []
    batch_model.overlap = True
    try:
        overlapping = batch_model.predict_batch(frames, batch_size=batch_size)
    finally:
        batch_model.overlap = core.spare_core()
    passes = -(-len(frames) // batch_size)
    assert calls == ([passes] if passes > 1 else [])
    assert sum(len(d) for d in sequential) > 0
    for got, want, frame in zip(overlapping, sequential, frames, strict=True):
        assert_same_bytes(got, want)
        assert_same_bytes(got, batch_model.predict(frame))


def test_the_next_batch_never_writes_the_blob_the_network_is_reading(batch_model,
                                                                     monkeypatch):
    """Each forward pass sees its input unchanged from its start to its end while the
    helper writes the next batch (two alternating blobs), and its frames' detections."""
    frames = _frames()
    want = [batch_model.predict(f) for f in frames]
    forward = batch_model.backend.forward

    def slow_forward(blob):
        before = blob.copy()
        time.sleep(0.02)  # the helper fills the next batch meanwhile
        outputs = forward(blob)
        assert np.array_equal(blob, before), "the input changed during its forward pass"
        return outputs

    monkeypatch.setattr(batch_model.backend, "forward", slow_forward)
    batch_model.overlap = True
    try:
        for _ in range(2):  # the second time the kept blobs are reused
            for got, expected in zip(batch_model.predict_batch(frames, batch_size=2), want,
                                     strict=True):
                assert_same_bytes(got, expected)
    finally:
        batch_model.overlap = core.spare_core()


def test_a_bad_frame_in_a_later_batch_raises_as_without_overlap(batch_model):
    frames = _frames()
    frames[4] = np.zeros((10, 10), np.float32)
    messages = []
    for overlapping in (False, True):
        batch_model.overlap = overlapping
        with pytest.raises(FormatError, match="uint8") as raised:
            batch_model.predict_batch(frames, batch_size=2)
        messages.append(str(raised.value))
    batch_model.overlap = core.spare_core()
    assert messages[0] == messages[1]


def test_a_fixed_batch_network_overlaps_frame_by_frame():
    model = load_model(Path(__file__).resolve().parents[1] / "models" / "demo-n",
                       backend="onnxruntime", threads=1)
    assert not model.backend.batch_dynamic
    model.conf, model.overlap = 0.01, True
    frames = _frames()
    for got, frame in zip(model.predict_batch(frames), frames, strict=True):
        assert_same_bytes(got, model.predict(frame))
