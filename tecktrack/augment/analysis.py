"""Augmentation analysis: does the detector do better or worse on augmented hard images?

For each image (typically the hardest ones from mining), the detector runs on the original
and on every augmented version; the per-image loss of
:class:`~tecktrack.mining.HardNegativeMining` is computed against the (augmented) labels.
The result is the seed's table: ``image, original_loss, augmented_loss, type``.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from tecktrack.augment.apply import augment_image, parse_ops, read_labels
from tecktrack.datasets.images import read_image
from tecktrack.mining.hard_negatives import HardNegativeMining
from tecktrack.model.protocol import Detector
from tecktrack.progress import progress

__all__ = ["augmentation_analysis"]


def augmentation_analysis(detector: Detector, items: Sequence[tuple[str | Path, str | Path | None]],
                          ops: str, *, miner: HardNegativeMining | None = None, seed: int = 0,
                          min_visibility: float = 0.3, quiet: bool = True) -> pd.DataFrame:
    """Loss of the detector on each image before and after each augmentation.

    Parameters
    ----------
    detector : Detector
        Anything with ``predict(frame_bgr) -> Detections`` (a loaded Model).
    items : sequence of (image, labels) paths
        Images to analyse with their YOLO label files (``None``: no objects).
    ops : str
        Augmentation items as for ``tecktrack augment`` (``copy_paste`` is not supported
        here: it needs a second image).
    miner : HardNegativeMining, optional
        Loss definition (default parameters when omitted).
    seed : int
        Seed of random op parameters; the same (seed, image, item) draws the same values as
        :func:`tecktrack.augment.apply_augmentations`.

    Returns
    -------
    DataFrame
        ``image, original_loss, augmented_loss, type, params`` with one row per image and
        op, in input order.
    """
    miner = miner or HardNegativeMining()
    chains = parse_ops(ops)
    if any(op.name == "copy_paste" for chain in chains for op in chain):
        raise ValueError("copy_paste needs a second image; analyse it with apply_augmentations")
    rows = []
    for image, labels in progress(items, total=len(items), desc="analysing", quiet=quiet,
                                  unit="img"):
        image = Path(image)
        pixels = read_image(image)
        truth = read_labels(labels, pixels)
        h, w = pixels.shape[:2]
        original = miner.compute_loss(detector.predict(pixels), truth, w, h)
        for index, chain in enumerate(chains):
            rng = np.random.default_rng([seed, zlib.crc32(image.stem.encode()), index])
            out, params = augment_image(pixels, truth, chain, rng, min_visibility=min_visibility)
            ah, aw = out.image.shape[:2]
            rows.append({"image": image.name, "original_loss": original,
                         "augmented_loss": miner.compute_loss(detector.predict(out.image),
                                                              out.labels, aw, ah),
                         "type": "+".join(str(o) for o in chain), "params": params})
    return pd.DataFrame(rows, columns=["image", "original_loss", "augmented_loss", "type",
                                       "params"])
