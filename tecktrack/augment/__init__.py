"""Rectification, augmentation: bbox-aware ops, applying them to files, dataset-wide runs,
copy-paste, oversampling plans, and the augmentation analysis.

Examples
--------
>>> import numpy as np
>>> from tecktrack.augment import hflip
>>> from tecktrack.detections import Detections
>>> out = hflip(np.zeros((10, 20, 3), np.uint8), Detections([[0, 0, 5, 5]], [0]))
>>> out.labels.xyxy.tolist()
[[15.0, 0.0, 20.0, 5.0]]
"""

from tecktrack.augment.analysis import augmentation_analysis
from tecktrack.augment.apply import (
    OP_RANGES,
    OpSpec,
    apply_augmentations,
    augment_image,
    parse_ops,
    read_labels,
)
from tecktrack.augment.copy_paste import Crop, copy_paste, cut_objects, paste_objects
from tecktrack.augment.dataset import augment_dataset, dataset_images, select_images
from tecktrack.augment.ops import (
    Augmented,
    brightness,
    contrast,
    gaussian_blur,
    hflip,
    resize,
    rotate,
    rotate90,
)
from tecktrack.augment.oversample import class_count_matrix, oversampling_plan

__all__ = [
    "OP_RANGES", "Augmented", "Crop", "OpSpec", "apply_augmentations", "augment_dataset",
    "augment_image", "augmentation_analysis", "brightness", "class_count_matrix", "contrast",
    "copy_paste", "cut_objects", "dataset_images", "gaussian_blur", "hflip", "oversampling_plan",
    "parse_ops", "paste_objects", "read_labels", "resize", "rotate", "rotate90", "select_images",
]
