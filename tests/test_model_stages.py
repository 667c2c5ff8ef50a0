"""Decoders, layout detection, letterbox/resize and their inverse, drawing."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tecktrack.detections import Detections
from tecktrack.draw import class_colors, draw_detections
from tecktrack.errors import ModelError
from tecktrack.model.decoders import (
    decode_darknet,
    decode_yolov5,
    decode_yolov8,
    infer_layout,
    split_batch,
)
from tecktrack.model.preprocess import FrameInfo, letterbox, make_blob, resize, unmap_boxes


def test_yolov8_decoder_takes_best_class_and_strict_threshold():
    out = np.zeros((7, 4), np.float32)
    out[:4] = np.array([[10, 10, 4, 2], [20, 20, 2, 2], [30, 30, 2, 2], [5, 5, 2, 2]]).T
    out[4:, 0] = [0.1, 0.8, 0.3]
    out[4:, 1] = [0.25, 0.0, 0.0]  # exactly at the threshold: dropped
    out[4:, 2] = [0.0, 0.0, 0.26]
    det = decode_yolov8(out, 0.25)
    assert det.class_ids.tolist() == [1, 2]
    np.testing.assert_allclose(det.xyxy[0], [8, 9, 12, 11])
    np.testing.assert_allclose(det.scores, [0.8, 0.26])


def test_yolov5_decoder_multiplies_objectness():
    out = np.array([[10, 10, 4, 4, 0.5, 0.9, 0.1],   # 0.45 class 0
                    [20, 20, 4, 4, 0.9, 0.2, 0.25],  # 0.225: below 0.25
                    [30, 30, 4, 4, 0.2, 1.0, 0.0]],  # objectness below threshold
                   np.float32)
    det = decode_yolov5(out, 0.25)
    assert det.class_ids.tolist() == [0]
    np.testing.assert_allclose(det.scores, [0.45], rtol=1e-6)


def test_darknet_decoder_scales_normalised_rows_from_all_layers():
    a = np.array([[0.5, 0.5, 0.5, 0.25, 0.9, 0.0, 0.7]], np.float32)
    b = np.array([[0.25, 0.75, 0.1, 0.1, 0.9, 0.5, 0.0],
                  [0.1, 0.1, 0.1, 0.1, 0.2, 0.0, 0.0]], np.float32)
    det = decode_darknet([a, b], 0.25, (200, 100))
    assert det.class_ids.tolist() == [1, 0]
    np.testing.assert_allclose(det.xyxy, [[50, 37.5, 150, 62.5], [40, 70, 60, 80]], rtol=1e-6)


@pytest.mark.parametrize("shapes,hint,n_names,expected", [
    ([(1, 84, 8400)], None, None, ("yolov8", 80)),
    ([(1, 25200, 85)], None, None, ("yolov5", 80)),
    ([(1, 84, None)], None, None, ("yolov8", 80)),
    ([(300, 85), (1200, 85)], None, None, ("darknet", 80)),
    ([(2, 300, 85), (2, 1200, 85)], None, None, ("darknet", 80)),
    ([(1, 7, 7)], None, None, ("yolov8", 3)),
    ([(1, 7, 7)], None, 2, ("yolov5", 2)),
    ([(1, 7, 7)], "yolov5", None, ("yolov5", 2)),
])
def test_infer_layout(shapes, hint, n_names, expected):
    assert infer_layout(shapes, hint, n_names) == expected


@pytest.mark.parametrize("shapes,hint,message", [
    ([(1, 2, 3, 4)], "darknet", "not Darknet region rows"),
    ([(300, 85), (1200, 80)], None, "not Darknet region rows"),
    ([(1, 2, 3, 4)], None, "cannot recognise"),
    ([(300, 85)], "yolov8", "do not fit layout 'yolov8'"),
    ([(1, 3, 4)], None, "cannot recognise"),
])
def test_infer_layout_errors(shapes, hint, message):
    with pytest.raises(ModelError, match=message):
        infer_layout(shapes, hint)


def test_split_batch_restores_per_image_outputs():
    darknet = [np.zeros((4, 7)), np.zeros((2, 8, 7))]
    parts = split_batch(darknet, "darknet", 2)
    assert [[p.shape for p in img] for img in parts] == [[(2, 7), (8, 7)]] * 2
    with pytest.raises(ModelError, match="batch 1 for 2"):
        split_batch([np.zeros((1, 6, 4))], "yolov8", 2)


def test_letterbox_pads_grey_and_centres():
    frame = np.full((50, 100, 3), 7, np.uint8)
    out, info = letterbox(frame, (64, 64))
    assert out.shape == (64, 64, 3)
    assert (info.scale_x, info.pad_x, info.pad_y) == (0.64, 0.0, 16.0)
    assert out[:16].max() == out[:16].min() == 114 and out[48:].min() == 114
    assert out[16:48].max() == 7


def test_resize_stretches_without_padding():
    out, info = resize(np.zeros((50, 100, 3), np.uint8), (32, 64))
    assert out.shape == (64, 32, 3)
    assert (info.scale_x, info.scale_y, info.pad_x, info.pad_y) == (0.32, 1.28, 0.0, 0.0)


def test_blob_is_rgb_nchw_in_unit_range():
    frame = np.zeros((2, 3, 3), np.uint8)
    frame[..., 0] = 255  # blue in BGR
    blob = make_blob([frame, frame])
    assert blob.shape == (2, 3, 2, 3) and blob.dtype == np.float32
    assert blob[:, 2].min() == 1.0 and blob[:, :2].max() == 0.0


@settings(max_examples=60)
@given(w=st.integers(8, 400), h=st.integers(8, 400), size=st.sampled_from([(64, 64), (96, 64)]),
       box=st.tuples(*[st.floats(0, 1)] * 4), boxed=st.booleans())
def test_unmap_inverts_the_forward_mapping(w, h, size, box, boxed):
    frame = np.zeros((h, w, 3), np.uint8)
    _, info = (letterbox if boxed else resize)(frame, size)
    x1, x2 = sorted([box[0] * w, box[2] * w])
    y1, y2 = sorted([box[1] * h, box[3] * h])
    original = np.array([[x1, y1, x2, y2]], np.float32)
    scale = np.array([info.scale_x, info.scale_y] * 2, np.float32)
    pad = np.array([info.pad_x, info.pad_y] * 2, np.float32)
    back = unmap_boxes(original * scale + pad, info)
    np.testing.assert_allclose(back, original, atol=1e-3 * max(w, h))


def test_unmap_clips_to_the_frame():
    info = FrameInfo(100, 50, 1.0, 1.0)
    out = unmap_boxes(np.array([[-5, -5, 120, 60]], np.float32), info)
    assert out.tolist() == [[0, 0, 100, 50]]


def test_class_colors_are_distinct_and_stable():
    colors = class_colors(80)
    assert len({tuple(c) for c in colors.tolist()}) == 80
    np.testing.assert_array_equal(class_colors(5), colors[:5])


def test_draw_detections_draws_in_class_colour_on_a_copy():
    image = np.zeros((100, 120, 3), np.uint8)
    det = Detections([[10, 30, 60, 80], [70, 30, 110, 90]], [0, 3], [0.9, 0.4])
    out = draw_detections(image, det, ["a", "b", "c", "d"], thickness=2)
    assert image.max() == 0
    colors = class_colors(4)
    np.testing.assert_array_equal(out[60, 10], colors[0])   # left edge of box 0
    np.testing.assert_array_equal(out[70, 110], colors[3])  # right edge of box 1
    assert out[55, 35].max() == 0  # inside the box: untouched
    assert (out[20:30, 10:60] == colors[0]).all(axis=-1).any()  # label background


def test_draw_ground_truth_and_unknown_class_ids():
    image = np.zeros((40, 40, 3), np.uint8)
    out = draw_detections(image, Detections([[5, 15, 30, 35]], [7]), ["a"])
    assert out.any()
    assert draw_detections(image, Detections.empty(), ["a"]).max() == 0
