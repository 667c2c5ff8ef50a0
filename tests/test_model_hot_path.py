"""The fast paths of Model.predict (#20) against the plain code they replace, bit for bit.

``fill_blob`` must give the blob of ``letterbox``/``resize`` + ``make_blob`` exactly; the
decoders must give the candidates of the straightforward NumPy decoding (NaN rows included);
``unmap_kept`` the boxes of ``unmap_boxes``; and what ``predict`` returns must hold what a
validated ``Detections`` would (dtype, shape, its own memory).
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from detections_support import assert_same_bytes

from tecktrack.detections import Detections, cxcywh_to_xyxy
from tecktrack.model import load_model
from tecktrack.model.decoders import decode_darknet, decode_yolov8, split_batch
from tecktrack.model.preprocess import (
    fill_blob,
    letterbox,
    make_blob,
    plan_fit,
    resize,
    unmap_boxes,
    unmap_kept,
)
from tecktrack.model.trusted import check_trusted

REPO = Path(__file__).resolve().parents[1]
SIZES = [(640, 480), (480, 640), (500, 333), (333, 500), (320, 320), (319, 321), (1, 1),
         (1000, 7), (7, 1000), (321, 320), (64, 48)]


def _frame(w: int, h: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


@pytest.mark.parametrize("letterboxed", [True, False])
@pytest.mark.parametrize("size", [(320, 320), (320, 256), (96, 160)])
def test_fill_blob_is_the_old_blob_bit_for_bit(letterboxed, size):
    for i, (w, h) in enumerate(SIZES):
        frame = _frame(w, h, i)
        fitted, info = (letterbox if letterboxed else resize)(frame, size)
        want = make_blob([fitted])
        fit = plan_fit(w, h, size, letterboxed)
        cropped = np.pad(frame, ((1, 2), (3, 1), (0, 0)))[1:h + 1, 3:w + 3]  # a strided view
        assert cropped.flags.c_contiguous == (h == 1)  # one row is contiguous anyway
        for source in (frame, cropped):
            got = np.full((1, 3, size[1], size[0]), np.nan, np.float32)  # no value left unset
            fill_blob(source, fit, got[0])
            assert got.tobytes() == want.tobytes(), (w, h, size, letterboxed)
        assert fit.info == info, (w, h)


@pytest.mark.parametrize("letterboxed", [True, False])
def test_fill_blob_at_exactly_half_size_reads_the_frame_once(letterboxed, monkeypatch):
    """Frames exactly twice the resized size skip ``cv2.resize`` (the fused 2x2 average of
    ``blob_kernel``) and still give the old blob bit for bit, odd sizes and a cropped
    (non-contiguous) frame included."""
    cases = [((320, 320), (640, 480)), ((320, 320), (640, 640)), ((640, 640), (1280, 720)),
             ((96, 160), (192, 94)), ((33, 17), (66, 34)), ((1, 1), (2, 2)), ((5, 3), (10, 6))]
    rng = np.random.default_rng(7)
    for size, (w, h) in cases:
        if not letterboxed:
            w, h = 2 * size[0], 2 * size[1]
        frame = rng.integers(0, 256, (h + 3, w + 5, 3), dtype=np.uint8)[1:h + 1, 2:w + 2]
        assert plan_fit(w, h, size, letterboxed).new_size == (w // 2, h // 2), (size, w, h)
        _assert_filled_without_resize(monkeypatch, frame, size, letterboxed)


def _assert_filled_without_resize(monkeypatch, frame: np.ndarray, size: tuple[int, int],
                                  letterboxed: bool) -> None:
    """``fill_blob`` of ``frame`` (a cropped, non-contiguous view) and of a contiguous copy
    at an odd address (the kernels read uint16 words) is the old blob bit for bit, with
    ``cv2.resize`` patched to fail."""
    import tecktrack.model.preprocess as preprocess

    h, w = frame.shape[:2]
    assert not frame.flags.c_contiguous or h == 1
    odd = np.frombuffer(b"\0" + frame.tobytes(), np.uint8, offset=1).reshape(h, w, 3)
    assert odd.flags.c_contiguous and odd.ctypes.data % 2 == 1
    fitted, _ = (letterbox if letterboxed else resize)(frame, size)
    want = make_blob([fitted])
    fit = plan_fit(w, h, size, letterboxed)
    for source in (frame, odd):
        got = np.full((1, 3, size[1], size[0]), np.nan, np.float32)
        with monkeypatch.context() as patched:
            patched.setattr(preprocess.cv2, "resize", _no_resize)
            fill_blob(source, fit, got[0])
        assert got.tobytes() == want.tobytes(), (w, h, size, letterboxed)


def _no_resize(*args, **kwargs):
    raise AssertionError("cv2.resize called on a frame exactly twice the size")


def _half_width_cases() -> list[tuple[tuple[int, int], tuple[int, int], bool]]:
    """(network size, frame size, letterboxed) where the frame is exactly twice the resized
    width but not twice its height: down, up and equal heights, one-row frames, odd letterbox
    heights (640x427 into 320 is 320x214), and 120 seeded random geometries."""
    cases = [((320, 320), (640, h), False) for h in (1, 2, 3, 100, 159, 161, 213, 319, 320,
                                                    321, 426, 427, 479, 480, 481, 639, 1000)]
    cases += [((320, 320), (640, h), True) for h in (427, 425, 361, 3)]
    cases += [((640, 640), (1280, 853), True), ((416, 416), (832, 555), True),
              ((96, 160), (192, 77), False), ((1, 1), (2, 5), False), ((7, 3), (14, 3), False)]
    rng = np.random.default_rng(11)
    for _ in range(120):
        size = (int(rng.integers(1, 200)), int(rng.integers(1, 200)))
        cases.append((size, (2 * size[0], int(rng.integers(1, 700))), False))
    return [(size, frame, boxed) for size, frame, boxed in cases
            if plan_fit(*frame, size, boxed).new_size[1] * 2 != frame[1]]


def test_fill_blob_at_exactly_half_width_reads_the_frame_once(monkeypatch):
    """Frames exactly twice the resized width, any height (a 640-wide photo stretched to a
    Darknet model's 320x320), skip ``cv2.resize`` too: ``half_width_planes_from_bgr`` blends
    the rows as OpenCV's fixed point does, and the blob is the old one bit for bit, cropped
    and odd-address frames included."""
    cases = _half_width_cases()
    assert len(cases) > 120
    rng = np.random.default_rng(12)
    for size, (w, h), letterboxed in cases:
        frame = rng.integers(0, 256, (h + 2, w + 3, 3), dtype=np.uint8)[1:h + 1, 1:w + 1]
        assert plan_fit(w, h, size, letterboxed).new_size[0] * 2 == w
        _assert_filled_without_resize(monkeypatch, frame, size, letterboxed)


def test_fill_blob_every_byte_value_divides_exactly():
    """All 256 pixel values: x / 255 in float32, as Ultralytics' ``im.float() / 255``."""
    frame = np.arange(256 * 3, dtype=np.uint16).reshape(16, 16, 3).astype(np.uint8)
    blob = np.empty((3, 16, 16), np.float32)
    fill_blob(frame, plan_fit(16, 16, (16, 16), True), blob)
    want = frame[..., ::-1].transpose(2, 0, 1).astype(np.float32) / np.float32(255)
    assert blob.tobytes() == want.tobytes()


def test_unmap_kept_is_unmap_boxes_bit_for_bit():
    rng = np.random.default_rng(3)
    boxes = (rng.random((50, 4)) * 400 - 40).astype(np.float32)
    for w, h in SIZES:
        for letterboxed in (True, False):
            fit = plan_fit(w, h, (320, 320), letterboxed)
            index = rng.permutation(50)[:20]
            for clip in (True, False):
                want = unmap_boxes(boxes[index], fit.info, clip=clip)
                got = unmap_kept(boxes, index, fit, clip)
                assert got.tobytes() == want.tobytes(), (w, h, letterboxed, clip)
            assert unmap_kept(boxes, None, fit, False).tobytes() == \
                unmap_boxes(boxes, fit.info, clip=False).tobytes()


def _old_yolov8(output: np.ndarray, conf: float) -> Detections:
    probs = output[4:]
    scores = probs.max(axis=0)
    keep = np.flatnonzero(scores > conf)
    xyxy = cxcywh_to_xyxy(output[:4, keep].T.astype(np.float32))
    return Detections(xyxy, probs[:, keep].argmax(axis=0), scores[keep])


def _old_darknet(outputs: list[np.ndarray], conf: float, size: tuple[int, int]) -> Detections:
    rows = np.concatenate([o.reshape(-1, o.shape[-1]) for o in outputs])
    scores = rows[:, 5:].max(axis=1)
    keep = np.flatnonzero(scores > conf)
    w, h = size
    boxes = rows[keep, :4] * np.array([w, h, w, h], np.float32)
    return Detections(cxcywh_to_xyxy(boxes), rows[keep, 5:].argmax(axis=1), scores[keep])


@pytest.mark.parametrize("seed", range(5))
def test_decoders_give_the_plain_numpy_candidates(seed):
    rng = np.random.default_rng(seed)
    v8 = np.concatenate([rng.random((4, 2100), np.float32) * 320,
                         rng.random((80, 2100), np.float32) ** 8])
    v8[4 + rng.integers(0, 80, 30), rng.integers(0, 2100, 30)] = 0.7  # ties at the max
    for conf in (0.001, 0.25, 0.6, 1.0):
        assert_same_bytes(decode_yolov8(v8, conf), _old_yolov8(v8, conf))
    layers = [rng.random((n, 85), np.float32) for n in (300, 1200)]
    for layer in layers:
        layer[:, 5:] *= rng.random((len(layer), 80), np.float32) < 0.01
        layer[rng.integers(0, len(layer), 5), 5 + rng.integers(0, 80, 5)] = np.nan
        layer[rng.integers(0, len(layer), 5), 5:] = np.float32(0.5)  # all classes tie
    for conf in (0.0, 0.25, 0.5, 0.9):
        assert_same_bytes(decode_darknet(layers, conf, (320, 256)),
                          _old_darknet(layers, conf, (320, 256)))


def test_compiled_decoders_on_what_breaks_a_hand_written_loop():
    """NaN and infinite class scores, scores next to ``conf`` in float32 (``0.001`` is not a
    float32), every class tying, a transposed (non-contiguous) output and float64 outputs:
    the compiled decoders still give NumPy's candidates."""
    rng = np.random.default_rng(11)
    conf32 = np.float32(0.001)
    near = np.array([np.nextafter(conf32, np.float32(0)), conf32, np.nextafter(conf32,
                     np.float32(1)), 0.001], np.float32)
    v8 = np.concatenate([rng.random((4, 500), np.float32) * 320,
                         rng.choice(near, (80, 500))])
    v8[4 + rng.integers(0, 80, 20), rng.integers(0, 500, 20)] = np.nan
    v8[4 + rng.integers(0, 80, 20), rng.integers(0, 500, 20)] = np.inf
    v8[4 + rng.integers(0, 80, 20), rng.integers(0, 500, 20)] = -np.inf
    v8[4:, :10] = np.float32(0.5)
    for conf in (0.001, float(conf32), 0.0):
        assert_same_bytes(decode_yolov8(v8, conf), _old_yolov8(v8, conf))
        transposed = np.asfortranarray(v8)
        assert_same_bytes(decode_yolov8(transposed, conf), _old_yolov8(v8, conf))
        got = decode_yolov8(v8.astype(np.float64), conf)
        want = _old_yolov8(v8.astype(np.float64), conf)
        assert got.xyxy.tobytes() == want.xyxy.tobytes()
    layer = np.concatenate([rng.random((500, 4), np.float32), rng.random((500, 1), np.float32),
                            rng.choice(near, (500, 80))], axis=1)
    layer[rng.integers(0, 500, 20), 5 + rng.integers(0, 80, 20)] = np.nan
    layer[rng.integers(0, 500, 20), 5 + rng.integers(0, 80, 20)] = np.inf
    layer[:10, 5:] = np.float32(0.5)
    for conf in (0.001, float(conf32)):
        assert_same_bytes(decode_darknet([layer[:200], layer[200:]], conf, (320, 256)),
              _old_darknet([layer], conf, (320, 256)))
        wide = layer.astype(np.float64)  # not float32: the NumPy decoding
        got, want = decode_darknet([wide[:200], wide[200:]], conf, (320, 256)), \
            _old_darknet([wide], conf, (320, 256))
        np.testing.assert_array_equal(got.class_ids, want.class_ids)
        np.testing.assert_array_equal(got.scores, want.scores)
        np.testing.assert_allclose(got.xyxy, want.xyxy, rtol=0, atol=1e-4)


def test_predict_returns_detections_that_own_their_arrays():
    model = load_model(REPO / "models" / "demo-n", backend="onnxruntime", threads=1)
    model.conf = 0.01
    frame = cv2.resize(_frame(64, 48, 0), (640, 480), interpolation=cv2.INTER_NEAREST)
    det = model.predict(frame)
    assert len(det) > 0
    check_trusted(det)
    for d in model.predict_batch([frame, frame[:400]]):
        check_trusted(d)
    blob, info = model.preprocess(frame)
    for cand in model.decode_batch(model.forward(blob), [info]):
        check_trusted(cand)


def test_the_geometry_cache_stays_bounded_and_right():
    """Frames of many sizes: each still maps back with its own geometry, and the cache of
    per-size geometry does not grow without bound."""
    from tecktrack.model.core import MAX_FITS

    model = load_model(REPO / "models" / "demo-n", backend="onnxruntime", threads=1)
    model.letterbox = True  # the demo models stretch; letterbox pads differ per size
    for i in range(MAX_FITS + 5):
        w, h = 200 + i, 150 + 2 * i
        blob, info = model.preprocess(_frame(w, h, i))
        fitted, want = letterbox(_frame(w, h, i), model.input_size)
        assert info == want and blob.tobytes() == make_blob([fitted]).tobytes()
        assert len(model._fits) <= MAX_FITS


def test_suppress_maps_back_with_a_frame_info_made_elsewhere():
    """A FrameInfo the model did not make (a copy, or one built by hand) maps boxes back
    with its own numbers, exactly as ``unmap_boxes`` + clip."""
    from dataclasses import replace

    model = load_model(REPO / "models" / "demo-n", backend="onnxruntime", threads=1)
    model.conf = 0.01
    frame = cv2.resize(_frame(64, 48, 1), (640, 480), interpolation=cv2.INTER_NEAREST)
    blob, info = model.preprocess(frame)
    cands = model.decode_batch(model.forward(blob), [info])[0]
    ours = model.suppress(cands, info)
    assert len(ours) > 0
    for other in (replace(info), replace(info, pad_x=3.0, pad_y=5.0, scale_x=0.4, width=700)):
        got = model.suppress(cands, other)
        kept = cands[model._keep(cands)]
        assert got.xyxy.tobytes() == unmap_boxes(kept.xyxy, other, clip=True).tobytes()
        check_trusted(got)


def _staged(model, frame: np.ndarray) -> Detections:
    """predict through the public stages (a fresh blob each time)."""
    blob, info = model.preprocess(frame)
    return model.suppress(model.decode_batch(model.forward(blob), [info])[0], info)


def test_the_kept_blob_is_refilled_when_the_geometry_changes():
    """predict writes each thread's kept blob; frames of other sizes (other letterbox
    borders) in turn, and batches of other lengths, still give the staged results."""
    model = load_model(REPO / "models" / "demo-n", backend="onnxruntime", threads=1)
    model.letterbox, model.conf = True, 0.01
    frames = [cv2.resize(_frame(64, 48, i), size, interpolation=cv2.INTER_NEAREST)
              for i, size in enumerate([(640, 480), (480, 640), (640, 480), (320, 320),
                                        (1000, 200), (640, 480)])]
    for frame in frames:
        assert_same_bytes(model.predict(frame), _staged(model, frame))
    for batch in (frames[:3], frames[3:], frames[1:2], frames):
        for got, frame in zip(model.predict_batch(batch, batch_size=8), batch, strict=True):
            assert_same_bytes(got, _staged(model, frame))


def test_threads_predicting_at_once_do_not_share_a_blob():
    """One Model, two threads predicting different frames at the same time: each gets its
    own frame's detections (the blob predict keeps is per thread)."""
    from concurrent.futures import ThreadPoolExecutor

    model = load_model(REPO / "models" / "demo-n", backend="onnxruntime", threads=1)
    model.letterbox, model.conf = True, 0.01
    frames = [cv2.resize(_frame(64, 48, i), size, interpolation=cv2.INTER_NEAREST)
              for i, size in enumerate([(640, 480), (480, 640)])]
    want = [_staged(model, f) for f in frames]
    assert want[0].xyxy.tobytes() != want[1].xyxy.tobytes()
    with ThreadPoolExecutor(2) as pool:
        runs = [pool.submit(lambda k: [model.predict(frames[k]) for _ in range(30)], k)
                for k in (0, 1)]
        for k, run in enumerate(runs):
            for got in run.result():
                assert_same_bytes(got, want[k])


@pytest.mark.parametrize("class_offset", [None, 7680.0], ids=["per-class", "ultralytics"])
@pytest.mark.parametrize("layout", ["yolov8", "darknet"])
def test_predict_in_one_call_is_the_plain_numpy_pipeline(layout, class_offset, monkeypatch):
    """predict's one compiled call (decode, NMS, way back) against the plain NumPy decoding,
    the Model's own NMS on the NumPy strategies (the compiled loop off; with Ultralytics'
    class offsets, its shifted corners and boxes without area kept) and unmap_boxes, on
    outputs with NaN scores, many ties, zero-width boxes, several Darknet layers, agnostic
    NMS and a small max_det."""
    from tecktrack.model import nms

    model = load_model(REPO / "models" / "demo-n", backend="onnxruntime", threads=1)
    model.layout, model.class_offset = layout, class_offset
    rng = np.random.default_rng(5)
    if layout == "yolov8":
        out = np.concatenate([rng.random((2, 2100), np.float32) * 320,
                              rng.random((2, 2100), np.float32) * 60 + 4,
                              rng.random((80, 2100), np.float32) ** 6])
        out[4 + rng.integers(0, 80, 30), rng.integers(0, 2100, 30)] = np.nan
        out[4:, :40] = np.float32(0.5)
        out[2, 30:50] = 0.0  # no width: never suppresses nor is suppressed (Ultralytics)
        out[7, 30:50] = np.float32(1.0)  # above every random score: in the first max_det
        outputs = [out[None]]
    else:
        outputs = []
        for n in (300, 1200, 4800):
            rows = np.concatenate([rng.random((n, 2), np.float32),
                                   rng.random((n, 2), np.float32) * 0.3,
                                   rng.random((n, 81), np.float32) ** 6], axis=1)
            rows[rng.integers(0, n, 10), 5 + rng.integers(0, 80, 10)] = np.nan
            rows[:20, 5:] = np.float32(0.5)
            rows[10:30, 3] = 0.0
            rows[10:30, 8] = np.float32(1.0)
            outputs.append(rows)
    fit = plan_fit(640, 480, model.input_size, letterboxed=True)
    for agnostic, max_det in ((False, 300), (True, 300), (False, 7)):
        model._nms = nms.NMS(iou_threshold=0.45, max_det=max_det, agnostic=agnostic)
        got = model._kept_in_one_call(split_batch(outputs, layout, 1)[0], fit.info,
                                      model.conf)
        if layout == "yolov8":
            cand = _old_yolov8(outputs[0][0], model.conf)
        else:
            cand = _old_darknet(outputs, model.conf, model.input_size)
        monkeypatch.setattr(nms, "_KERNEL", None)  # the NumPy strategies
        index = model._keep(cand)
        assert model.suppress(cand, fit.info).xyxy.tobytes() == got.xyxy.tobytes()
        monkeypatch.undo()
        assert len(index) > 3
        want = Detections(unmap_boxes(cand.xyxy[index], fit.info, clip=True),
                          cand.class_ids[index], cand.scores[index])
        assert_same_bytes(got, want)


def test_edge_inputs_of_the_compiled_paths(tmp_path):
    """An empty Darknet layer beside a full one; a grey frame into fill_blob (converted as
    check_frame does) and a float frame (refused with the field named); a batch whose blob
    is too big to keep is still right and is not kept."""
    from tecktrack.errors import FormatError
    from tecktrack.model import core

    rng = np.random.default_rng(3)
    full = np.concatenate([rng.random((50, 5), np.float32), rng.random((50, 80), np.float32)],
                          axis=1)
    empty = np.zeros((0, 85), np.float32)
    assert_same_bytes(decode_darknet([empty, full], 0.25, (320, 320)),
          _old_darknet([full], 0.25, (320, 320)))
    grey = _frame(40, 30, 1)[..., 0].copy()
    got = np.empty((3, 32, 32), np.float32)
    fill_blob(grey, plan_fit(40, 30, (32, 32), True), got)
    assert got.tobytes() == make_blob([letterbox(cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR),
                                                 (32, 32))[0]])[0].tobytes()
    with pytest.raises(FormatError, match="dtype uint8"):
        fill_blob(grey.astype(np.float32), plan_fit(40, 30, (32, 32), True), got)
    from model_graphs import conv_yolo_graph

    model = load_model(conv_yolo_graph(tmp_path / "b.onnx", 64, dynamic_batch=True),
                       backend="onnxruntime", threads=1)
    assert model.backend.batch_dynamic
    model.conf = 0.01
    frames = [cv2.resize(_frame(64, 48, i), (640, 480), interpolation=cv2.INTER_NEAREST)
              for i in range(3)]
    want = [_staged(model, f) for f in frames]
    old = core.MAX_KEPT_BYTES
    core.MAX_KEPT_BYTES = 2 * 3 * 64 * 64 * 4  # room for a batch of 2, not of 3
    try:
        for got_det, want_det in zip(model.predict_batch(frames), want, strict=True):
            assert_same_bytes(got_det, want_det)
        assert (3, 0, (64, 64)) not in getattr(model._buffers, "blobs", {})
        assert len(model.predict_batch(frames[:2])) == 2
        assert (2, 0, (64, 64)) in model._buffers.blobs
    finally:
        core.MAX_KEPT_BYTES = old
