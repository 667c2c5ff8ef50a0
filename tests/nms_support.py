"""Detector-like NMS inputs shared by the NMS tests and the NMS benchmark."""

from __future__ import annotations

import numpy as np


def detector_candidates(n: int, n_classes: int = 80, seed: int = 0, image: float = 640.0
                        ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``n`` YOLO-like candidates: clusters of ~20 jittered boxes around random objects,
    80 % of them carrying their object's class; float32 xyxy, float32 scores, int64 classes.

    Examples
    --------
    >>> xyxy, scores, cls = detector_candidates(100, n_classes=5)
    >>> xyxy.shape, scores.dtype, int(cls.max()) < 5
    ((100, 4), dtype('float32'), True)
    """
    rng = np.random.default_rng(seed)
    n_obj = max(1, n // 20)
    centre = rng.uniform(0, image, (n_obj, 2))
    size = np.exp(rng.uniform(np.log(12), np.log(300), (n_obj, 2)))
    obj_cls = rng.integers(0, n_classes, n_obj)
    which = rng.integers(0, n_obj, n)
    wh = size[which] * np.exp(rng.normal(0, 0.15, (n, 2)))
    c = centre[which] + rng.normal(0, 0.12, (n, 2)) * size[which]
    xyxy = np.clip(np.concatenate([c - wh / 2, c + wh / 2], axis=1), 0, image)
    cls = np.where(rng.random(n) < 0.8, obj_cls[which], rng.integers(0, n_classes, n))
    return xyxy.astype(np.float32), rng.beta(2, 5, n).astype(np.float32), cls.astype(np.int64)
