"""Box-aware augmentations: hand cases, pixel oracles, and albumentations as a box oracle."""

from __future__ import annotations

import warnings

import cv2
import numpy as np
import pytest

from tecktrack.augment import ops as aug
from tecktrack.detections import Detections

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import albumentations as A

RNG = np.random.default_rng(0)
IMAGE = RNG.integers(0, 255, (120, 200, 3), dtype=np.uint8)
BOXES = np.array([[10, 20, 60, 80], [100, 30, 180, 100], [5, 5, 30, 40], [150, 90, 199, 119]],
                 np.float32)
LABELS = Detections(BOXES, [0, 1, 2, 3])


def album(transform, image=IMAGE, boxes=BOXES, min_visibility=0.0, **kw):
    pipeline = A.Compose([transform], bbox_params=A.BboxParams(
        format="pascal_voc", label_fields=["cls"], clip=True, min_visibility=min_visibility),
        **kw)
    out = pipeline(image=image, bboxes=boxes, cls=list(range(len(boxes))))
    return out, np.asarray(out["bboxes"], np.float64).reshape(-1, 4), np.asarray(out["cls"])


def test_inputs_are_never_modified():
    image, labels = IMAGE.copy(), Detections(BOXES.copy(), [0, 1, 2, 3])
    for op in (lambda: aug.hflip(image, labels), lambda: aug.rotate(image, labels, 33),
               lambda: aug.resize(image, labels, 50, 70), lambda: aug.rotate90(image, labels),
               lambda: aug.brightness(image, labels, 30), lambda: aug.contrast(image, labels, 2),
               lambda: aug.gaussian_blur(image, labels, 2)):
        op()
    assert np.array_equal(image, IMAGE) and np.array_equal(labels.xyxy, BOXES)


def test_hflip_matches_albumentations():
    out, boxes, _ = album(A.HorizontalFlip(p=1))
    mine = aug.hflip(IMAGE, LABELS)
    assert np.array_equal(mine.image, out["image"])
    assert np.allclose(mine.labels.xyxy, boxes, atol=1e-3)
    assert np.array_equal(aug.hflip(mine.image, mine.labels).labels.xyxy, BOXES)


def test_resize_matches_albumentations_boxes():
    out, boxes, _ = album(A.Resize(height=75, width=333, p=1))
    mine = aug.resize(IMAGE, LABELS, 333, 75)
    assert mine.image.shape == out["image"].shape == (75, 333, 3)
    assert np.allclose(mine.labels.xyxy, boxes, atol=1e-3)


@pytest.mark.parametrize("angle", [90, -90, 30, -45, 17.5, 123, 180])
def test_rotate_matches_albumentations_largest_box(angle):
    # Like with like: albumentations' Rotate keeps the canvas, rotates about the centre and
    # (rotate_method="largest_box") takes the box around the rotated corners, clipped.
    out, boxes, kept = album(A.Rotate(limit=(angle, angle), p=1, rotate_method="largest_box",
                                      border_mode=cv2.BORDER_CONSTANT))
    mine = aug.rotate(IMAGE, LABELS, angle, min_visibility=0.0)
    assert np.array_equal(mine.image, out["image"])
    assert np.array_equal(mine.labels.class_ids, kept)
    assert np.allclose(mine.labels.xyxy, boxes, atol=0.05)


@pytest.mark.parametrize("min_visibility", [0.2, 0.5, 0.8])
def test_rotate_visibility_filter_agrees_with_albumentations(min_visibility):
    rng = np.random.default_rng(7)
    xy = rng.uniform(0, 1, (40, 2)) * [140, 60]
    boxes = np.concatenate([xy, xy + rng.uniform(5, 60, (40, 2))], 1)
    dropped = 0
    for angle in (25, -60, 145):
        _, ref, kept = album(A.Rotate(limit=(angle, angle), p=1), boxes=boxes,
                             min_visibility=min_visibility)
        mine = aug.rotate(IMAGE, Detections(boxes, np.arange(40)), angle,
                          min_visibility=min_visibility)
        assert np.array_equal(mine.labels.class_ids, kept)
        assert mine.dropped == 40 - len(kept)
        assert np.allclose(mine.labels.xyxy, ref, atol=0.05)
        dropped += mine.dropped
    assert dropped > 0      # the filter really was exercised


def test_rotate_drops_boxes_that_leave_the_image_and_says_so():
    img = np.zeros((100, 100, 3), np.uint8)
    corner = Detections([[0, 0, 10, 10], [45, 45, 55, 55]], [0, 1])
    out = aug.rotate(img, corner, 45, min_visibility=0.5)
    assert out.dropped == 1 and list(out.labels.class_ids) == [1]


def test_rotated_box_encloses_the_rotated_object():
    img = np.zeros((120, 160, 3), np.uint8)
    img[30:60, 40:100] = 255                   # pixels 40..99 x 30..59: box [40, 30, 100, 60]
    for angle in (10, 33, -71, 90):
        out = aug.rotate(img, Detections([[40, 30, 100, 60]], [0]), angle)
        ys, xs = np.nonzero(out.image[..., 0] > 127)
        x1, y1, x2, y2 = out.labels.xyxy[0]
        assert xs.min() >= x1 - 1 and xs.max() + 1 <= x2 + 1
        assert ys.min() >= y1 - 1 and ys.max() + 1 <= y2 + 1
        assert (xs.max() + 1 - xs.min()) > 0.9 * (x2 - x1)   # and is tight


@pytest.mark.parametrize("k", [1, 2, 3, 4])
def test_rotate90_matches_albumentations_and_pixels(k):
    pipeline = A.Compose([A.RandomRotate90(p=1)], bbox_params=A.BboxParams(
        format="pascal_voc", label_fields=["cls"]), seed=k, save_applied_params=True)
    out = pipeline(image=IMAGE, bboxes=BOXES, cls=[0, 1, 2, 3])
    factor = out["applied_transforms"][0][1]["factor"]
    mine = aug.rotate90(IMAGE, LABELS, factor)
    assert np.array_equal(mine.image, out["image"])
    assert np.allclose(mine.labels.xyxy, np.asarray(out["bboxes"]), atol=1e-3)
    img = np.zeros((40, 70, 3), np.uint8)
    img[5:15, 20:50] = 255
    turned = aug.rotate90(img, Detections([[20, 5, 50, 15]], [0]), k)
    ys, xs = np.nonzero(turned.image[..., 0])
    assert turned.labels.xyxy[0].tolist() == [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]


def test_photometric_ops_keep_boxes_and_change_pixels():
    for out in (aug.gaussian_blur(IMAGE, LABELS, 2.0), aug.brightness(IMAGE, LABELS, -40),
                aug.contrast(IMAGE, LABELS, 0.5)):
        assert np.array_equal(out.labels.xyxy, BOXES) and out.dropped == 0
        assert out.image.shape == IMAGE.shape and out.image.dtype == np.uint8
        assert not np.array_equal(out.image, IMAGE)
    darker = aug.brightness(IMAGE, LABELS, -40).image.astype(int)
    assert np.all(darker == np.clip(IMAGE.astype(int) - 40, 0, 255))
    flat = aug.contrast(IMAGE, LABELS, 0.0).image
    assert flat.min() == flat.max() == round(IMAGE.mean())


def test_scores_survive_geometric_ops():
    pred = Detections(BOXES, [0, 1, 2, 3], [0.9, 0.8, 0.7, 0.6])
    assert np.allclose(aug.hflip(IMAGE, pred).labels.scores, pred.scores)
    assert aug.rotate(IMAGE, pred, 10).labels.scores is not None


def test_bad_parameters_raise():
    with pytest.raises(ValueError, match="sigma"):
        aug.gaussian_blur(IMAGE, LABELS, 0)
    with pytest.raises(ValueError, match="size"):
        aug.resize(IMAGE, LABELS, 0, 10)
    with pytest.raises(ValueError, match="min_visibility"):
        aug.rotate(IMAGE, LABELS, 5, min_visibility=2)
    with pytest.raises(ValueError, match="image"):
        aug.hflip(np.zeros(0), LABELS)
