"""Augmentation throughput: TeckTrack ops vs albumentations, same op and parameters, with boxes.

Image 640x480 BGR with 20 boxes; each benchmark is one call (image + boxes in, image +
boxes out). albumentations runs through ``A.Compose`` with ``BboxParams`` as users call it.

    .venv/bin/pytest benchmarks/test_bench_augment.py --benchmark-only --benchmark-group-by=param:op
"""

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
IMAGE = RNG.integers(0, 255, (480, 640, 3), dtype=np.uint8)
XY = RNG.uniform(0, 500, (20, 2)) * [1, 0.7]
BOXES = np.concatenate([XY, XY + RNG.uniform(20, 120, (20, 2))], 1).clip(0, [640, 480] * 2)
LABELS = Detections(BOXES, np.arange(20) % 5)

OURS = {
    "flip": lambda: aug.hflip(IMAGE, LABELS),
    "blur": lambda: aug.gaussian_blur(IMAGE, LABELS, 1.5),
    "resize": lambda: aug.resize(IMAGE, LABELS, 320, 240),
    "rotate": lambda: aug.rotate(IMAGE, LABELS, 17.0, min_visibility=0.3),
    "brightness": lambda: aug.brightness(IMAGE, LABELS, 25.5),
    "contrast": lambda: aug.contrast(IMAGE, LABELS, 1.3),
}

PEER = {
    "flip": A.HorizontalFlip(p=1),
    "blur": A.GaussianBlur(blur_limit=(11, 11), sigma_limit=(1.5, 1.5), p=1),  # ours: 2*ceil(3s)+1
    "resize": A.Resize(height=240, width=320, p=1),
    "rotate": A.Rotate(limit=(17, 17), border_mode=cv2.BORDER_CONSTANT, p=1),
    "brightness": A.RandomBrightnessContrast(brightness_limit=(0.1, 0.1),
                                             contrast_limit=(0, 0), p=1),
    "contrast": A.RandomBrightnessContrast(brightness_limit=(0, 0),
                                           contrast_limit=(0.3, 0.3), p=1),
}


@pytest.mark.parametrize("op", list(OURS))
def test_tecktrack(benchmark, op):
    out = benchmark(OURS[op])
    assert out.image.dtype == np.uint8


@pytest.mark.parametrize("op", list(PEER))
def test_albumentations(benchmark, op):
    pipeline = A.Compose([PEER[op]], bbox_params=A.BboxParams(
        format="pascal_voc", label_fields=["cls"], min_visibility=0.3, clip=True))
    classes = list(LABELS.class_ids)
    out = benchmark(lambda: pipeline(image=IMAGE, bboxes=BOXES, cls=classes))
    assert out["image"].dtype == np.uint8
