"""Scene building blocks: visible-box labelling, occlusion limits, drawers, conditions."""

from __future__ import annotations

import numpy as np
import pytest

from tecktrack.synth import CLASS_NAMES
from tecktrack.synth.conditions import LIGHTING_MODES, apply_conditions
from tecktrack.synth.objects import DRAWERS, draw_qr_code, render_object
from tecktrack.synth.scene import MIN_SIDE, Canvas, compose_scene, sample_object_size


def square(side: int, value: int = 200) -> tuple[np.ndarray, np.ndarray]:
    return np.full((side, side, 3), value, np.uint8), np.full((side, side), 255, np.uint8)


def test_box_is_tight_around_a_non_rectangular_mask():
    canvas = Canvas(np.zeros((100, 100, 3), np.uint8))
    patch, mask = square(40)
    mask[:, :10] = 0   # left strip empty
    mask[30:, :] = 0   # bottom empty
    assert canvas.paint(patch, mask, 20, 20, class_id=4)
    assert canvas.detections().xyxy.tolist() == [[30.0, 20.0, 60.0, 50.0]]


def test_occlusion_shrinks_the_box_to_the_visible_part():
    canvas = Canvas(np.zeros((100, 100, 3), np.uint8))
    assert canvas.paint(*square(40), 10, 10, class_id=0)
    assert canvas.paint(*square(40, 90), 34, 10, class_id=1)  # covers the right 16 columns
    det = canvas.detections()
    assert det.class_ids.tolist() == [0, 1]
    assert det.xyxy.tolist() == [[10.0, 10.0, 34.0, 50.0], [34.0, 10.0, 74.0, 50.0]]
    assert np.all(canvas.image[10:50, 10:34] == 200) and np.all(canvas.image[10:50, 34:74] == 90)


def test_placements_that_hide_too_much_are_rejected():
    canvas = Canvas(np.zeros((100, 100, 3), np.uint8))
    assert canvas.paint(*square(40), 10, 10, class_id=0)
    before = canvas.image.copy()
    assert not canvas.paint(*square(40), 20, 10, class_id=1)    # would hide 75 %
    assert not canvas.paint(*square(40), 10, 25, class_id=None)  # occluders obey it too
    assert not canvas.paint(*square(40), -30, 10, class_id=2)   # 75 % outside the image
    assert np.array_equal(canvas.image, before) and len(canvas.detections()) == 1


def test_small_objects_are_never_cut():
    canvas = Canvas(np.zeros((100, 100, 3), np.uint8))
    assert canvas.paint(*square(12), 10, 10, class_id=0)
    assert not canvas.paint(*square(40), 20, 0, class_id=1)  # would cover 2 of 12 columns
    assert not canvas.paint(*square(12), -2, 50, class_id=1)  # cut by the border
    assert canvas.paint(*square(40), 22, 0, class_id=1)


def test_forced_painting_labels_by_visible_fraction():
    canvas = Canvas(np.zeros((100, 100, 3), np.uint8))
    canvas.paint(*square(40), 10, 10, class_id=0)
    canvas.paint(*square(40), 20, 10, class_id=1, force=True)  # 25 % of object 0 left
    assert canvas.detections(0.3).class_ids.tolist() == [1]
    assert canvas.detections().class_ids.tolist() == [0, 1]


@pytest.mark.parametrize("class_id", range(len(CLASS_NAMES)))
def test_every_drawer_fills_its_box(class_id):
    rng = np.random.default_rng(class_id)
    for w, h in [(12, 10), (60, 40), (150, 110)]:
        patch, mask = render_object(rng, class_id, w, h)
        assert patch.shape == (h, w, 3) and mask.shape == (h, w)
        ys, xs = np.nonzero(mask)
        # the mask touches all four sides, so the label box equals the drawn size
        assert (xs.min(), ys.min(), xs.max(), ys.max()) == (0, 0, w - 1, h - 1)
        assert patch[mask > 0].std() > 3  # textured or detailed, not a flat blob


def test_drawers_are_listed_per_class():
    assert len(DRAWERS) == len(CLASS_NAMES) >= 6


def test_qr_codes_are_real_and_decodable():
    import cv2

    text, _, _ = cv2.QRCodeDetector().detectAndDecode(
        cv2.copyMakeBorder(draw_qr_code(np.random.default_rng(4), 120, 120)[0], 20, 20, 20, 20,
                           cv2.BORDER_CONSTANT, value=(255, 255, 255)))
    assert text.startswith("TeckTrack-")


def test_object_sizes_cover_the_buckets_and_keep_the_minimum_side():
    rng = np.random.default_rng(0)
    sizes = np.array([sample_object_size(rng, c % len(CLASS_NAMES), 320) for c in range(800)])
    area = sizes.prod(axis=1)
    assert sizes.min() >= MIN_SIDE
    assert np.bincount(np.digitize(area, [32**2, 96**2]), minlength=3).min() > 100


def test_scenes_with_explicit_classes_place_only_those():
    _, det = compose_scene(np.random.default_rng(3), 200, np.array([6, 6, 2]))
    assert set(det.class_ids.tolist()) <= {2, 6} and len(det) >= 1
    _, empty = compose_scene(np.random.default_rng(3), 200, np.zeros(0, np.int64))
    assert len(empty) == 0


def test_lighting_modes_change_brightness_and_contrast():
    img = compose_scene(np.random.default_rng(1), 160)[0]
    out = {m: apply_conditions(np.random.default_rng(2), img, mode=m) for m in LIGHTING_MODES}
    assert out["dark"].mean() < 0.65 * img.mean()
    assert out["washed_out"].std() < 0.7 * img.std() and out["washed_out"].mean() > img.mean()
    assert out["harsh"].std() > img.std()
    assert np.array_equal(img, compose_scene(np.random.default_rng(1), 160)[0])  # input kept
    with pytest.raises(ValueError, match="mode"):
        apply_conditions(np.random.default_rng(0), img, mode="sunny")
