"""Tables and views of the augmentation notebook: the analysis by type, and each augmented
version of an image with the detector's output and its loss.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from tecktrack.augment.apply import augment_image, parse_ops, read_labels
from tecktrack.augment.ops import Augmented
from tecktrack.datasets.images import read_image
from tecktrack.detections import Detections
from tecktrack.mining.hard_negatives import HardNegativeMining
from tecktrack.model.protocol import Detector

__all__ = ["ScoredVersion", "augmentation_summary", "augmented_versions", "scored_versions"]


def augmentation_summary(analysis: pd.DataFrame) -> pd.DataFrame:
    """Augmentation analysis by type: how the loss changes, averaged over images.

    Parameters
    ----------
    analysis : DataFrame
        :func:`tecktrack.augment.augmentation_analysis` output.

    Returns
    -------
    DataFrame
        Indexed by ``type``: ``images, original_loss, augmented_loss, change`` (means;
        change = augmented - original), ``harder`` and ``easier`` (image counts).

    Examples
    --------
    >>> a = pd.DataFrame({"image": ["x", "y"], "original_loss": [1.0, 2.0],
    ...                   "augmented_loss": [1.5, 1.0], "type": ["flip", "flip"]})
    >>> augmentation_summary(a).loc["flip"].tolist()
    [2.0, 1.5, 1.25, -0.25, 1.0, 1.0]
    """
    change = analysis["augmented_loss"] - analysis["original_loss"]
    frame = analysis.assign(change=change, harder=change > 0, easier=change < 0)
    grouped = frame.groupby("type", sort=False)
    return pd.DataFrame({
        "images": grouped["image"].count(),
        "original_loss": grouped["original_loss"].mean(),
        "augmented_loss": grouped["augmented_loss"].mean(),
        "change": grouped["change"].mean(),
        "harder": grouped["harder"].sum(),
        "easier": grouped["easier"].sum(),
    }).astype({"images": np.int64, "harder": np.int64, "easier": np.int64})


def augmented_versions(image: str | Path, labels: str | Path | None, ops: str, *,
                       seed: int = 0, min_visibility: float = 0.3
                       ) -> list[tuple[str, Augmented]]:
    """The augmented images :func:`~tecktrack.augment.augmentation_analysis` scores.

    Each op item is drawn with the generator seeded by ``(seed, image stem, item index)``,
    the rule of :mod:`tecktrack.augment.apply`, so the parameters match that analysis.

    Returns
    -------
    list of (type, Augmented)
        One entry per op item, ``type`` as in the analysis (e.g. ``"rotate"``).

    Examples
    --------
    >>> import tempfile, cv2
    >>> p = Path(tempfile.mkdtemp()) / "a.png"
    >>> _ = cv2.imwrite(str(p), np.zeros((10, 20, 3), np.uint8))
    >>> [(t, a.image.shape) for t, a in augmented_versions(p, None, "flip,rotate90:1")]
    [('flip', (10, 20, 3)), ('rotate90:1', (20, 10, 3))]
    """
    image = Path(image)
    pixels = read_image(image)
    truth = read_labels(labels, pixels)
    out = []
    for index, chain in enumerate(parse_ops(ops)):
        rng = np.random.default_rng([seed, zlib.crc32(image.stem.encode()), index])
        result, _ = augment_image(pixels, truth, chain, rng, min_visibility=min_visibility)
        out.append(("+".join(str(o) for o in chain), result))
    return out


@dataclass(frozen=True)
class ScoredVersion:
    """One image version (original or augmented) with the detector's output and its loss."""

    type: str
    image: np.ndarray
    labels: Detections
    predictions: Detections
    loss: float


def scored_versions(detector: Detector, image: str | Path, labels: str | Path | None, ops: str,
                    *, seed: int = 0, miner: HardNegativeMining | None = None,
                    min_visibility: float = 0.3) -> list[ScoredVersion]:
    """The original image and each augmented version with predictions and per-image loss.

    The losses are the ones :func:`~tecktrack.augment.augmentation_analysis`
    reports for the same arguments; this keeps the images to show them.

    Examples
    --------
    >>> class Empty:
    ...     def predict(self, frame):
    ...         return Detections.empty()
    >>> import tempfile, cv2
    >>> d = Path(tempfile.mkdtemp())
    >>> _ = cv2.imwrite(str(d / "a.png"), np.zeros((10, 20, 3), np.uint8))
    >>> _ = (d / "a.txt").write_text("0 0.5 0.5 0.5 0.5\\n")
    >>> [(v.type, v.loss) for v in scored_versions(Empty(), d / "a.png", d / "a.txt", "flip")]
    [('original', 2.0), ('flip', 2.0)]
    """
    miner = miner or HardNegativeMining()
    pixels = read_image(image)
    truth = read_labels(labels, pixels)
    versions = [("original", Augmented(pixels, truth, 0))]
    versions += augmented_versions(image, labels, ops, seed=seed, min_visibility=min_visibility)
    out = []
    for kind, version in versions:
        pred = detector.predict(version.image)
        h, w = version.image.shape[:2]
        out.append(ScoredVersion(kind, version.image, version.labels, pred,
                                 miner.compute_loss(pred, version.labels, w, h)))
    return out

