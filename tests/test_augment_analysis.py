"""Augmentation analysis table: loss before/after each op with a transparent detector."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from tecktrack.augment.analysis import augmentation_analysis
from tecktrack.detections import Detections


class WhiteBoxDetector:
    """Reports the bounding box of near-white pixels as class 0 with confidence 1."""

    names = ["box"]

    def predict(self, frame: np.ndarray) -> Detections:
        ys, xs = np.nonzero(frame.min(axis=2) > 230)
        if not len(xs):
            return Detections.empty()
        return Detections([[xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]], [0], [1.0])


@pytest.fixture()
def item(tmp_path) -> tuple[Path, Path]:
    img = np.full((60, 80, 3), 60, np.uint8)
    img[10:30, 20:50] = 255
    image, labels = tmp_path / "000007.png", tmp_path / "000007.txt"
    cv2.imwrite(str(image), img)
    labels.write_text(f"0 {35 / 80} {20 / 60} {30 / 80} {20 / 60}\n")
    return image, labels


def test_table_has_the_seed_columns_and_hand_checked_losses(item):
    table = augmentation_analysis(WhiteBoxDetector(), [item],
                                  "flip,rotate90:1,brightness:-150,resize:0.5")
    assert list(table.columns[:4]) == ["image", "original_loss", "augmented_loss", "type"]
    assert list(table["type"]) == ["flip", "rotate90:1", "brightness:-150", "resize:0.5"]
    assert np.allclose(table["original_loss"], 0.0)
    by_type = table.set_index("type")["augmented_loss"]
    assert by_type["flip"] == pytest.approx(0.0)           # geometry kept in sync with labels
    assert by_type["rotate90:1"] == pytest.approx(0.0)
    assert by_type["resize:0.5"] == pytest.approx(0.0, abs=1e-4)
    assert by_type["brightness:-150"] == pytest.approx(2.0)  # object vanishes: one miss


def test_analysis_is_seeded_and_rejects_copy_paste(item):
    a = augmentation_analysis(WhiteBoxDetector(), [item], "rotate,blur", seed=3)
    b = augmentation_analysis(WhiteBoxDetector(), [item], "rotate,blur", seed=3)
    assert a.equals(b)
    with pytest.raises(ValueError, match="copy_paste"):
        augmentation_analysis(WhiteBoxDetector(), [item], "copy_paste")
