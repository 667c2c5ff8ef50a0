"""Label noise with ground truth: corrupt a known fraction of images, one defect each.

Kinds, assigned in turn over a seeded random choice of images:

- ``class_swapped``: one box gets a different class id;
- ``box_missing``: one box is removed;
- ``spurious_box``: a box of a random class is added where no object is (IoU < 0.1 when
  the image has such a spot, else the least overlapping of 20 tries);
- ``box_shifted``: one box is moved by 35-60 % of its width and height (IoU < 0.5).

An image with no box that fits its drawn kind (no boxes at all, or none small enough to
shift inside the image) gets ``spurious_box`` instead. Each manifest entry names the image
under ``image`` and gives ``kind``, ``box_index`` and the ``clean`` and ``noisy`` box as
``{"class_id", "xyxy"}`` (pixels; ``null`` where there is none).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from tecktrack.detections import Detections, box_iou
from tecktrack.synth.objects import CLASS_NAMES
from tecktrack.synth.scene import sample_classes, sample_object_size

NOISE_KINDS = ("class_swapped", "box_missing", "spurious_box", "box_shifted")
_STREAM_NOISE = 1
_SHIFT = (0.35, 0.6)

Edit = tuple[Detections, int, np.ndarray | None, np.ndarray | None]


def _box(det: Detections, i: int) -> dict:
    return {"class_id": int(det.class_ids[i]),
            "xyxy": [round(float(v), 2) for v in det.xyxy[i]]}


def _swap(rng: np.random.Generator, det: Detections, size: int) -> Edit | None:
    if not len(det):
        return None
    b = int(rng.integers(len(det)))
    ids = det.class_ids.copy()
    ids[b] = (ids[b] + rng.integers(1, len(CLASS_NAMES))) % len(CLASS_NAMES)
    return Detections(det.xyxy, ids), b, b, b


def _drop(rng: np.random.Generator, det: Detections, size: int) -> Edit | None:
    if not len(det):
        return None
    b = int(rng.integers(len(det)))
    return det[np.arange(len(det)) != b], b, b, None


def _spurious(rng: np.random.Generator, det: Detections, size: int) -> Edit:
    class_id = int(sample_classes(rng, 1)[0])
    best, best_iou = None, np.inf
    for _ in range(20):  # the free spot with least overlap; IoU < 0.1 ends the search
        w, h = sample_object_size(rng, class_id, size)
        w, h = min(w, size - 1), min(h, size - 1)
        x, y = rng.integers(0, size - w), rng.integers(0, size - h)
        box = np.array([[x, y, x + w, y + h]], np.float32)
        iou = box_iou(box, det.xyxy).max() if len(det) else 0.0
        if iou < best_iou:
            best, best_iou = box, iou
        if best_iou < 0.1:
            break
    noisy = Detections.concat([det, Detections(best, [class_id])])
    return noisy, len(det), None, len(det)


def _shift(rng: np.random.Generator, det: Detections, size: int) -> Edit | None:
    wh = det.xyxy[:, 2:] - det.xyxy[:, :2]
    fits = np.flatnonzero(np.all(wh * (1 + _SHIFT[1]) <= size, axis=1))
    if not len(fits):
        return None
    b = int(rng.choice(fits))
    delta = wh[b] * rng.uniform(*_SHIFT, 2)
    lo, hi = det.xyxy[b, :2], det.xyxy[b, 2:]
    sign = np.where(hi + delta <= size, 1.0, -1.0)
    sign = np.where((sign < 0) & (lo - delta < 0), 1.0, sign)
    moved = det.xyxy[b] + np.tile(sign * delta, 2)
    moved = np.clip(moved, 0, size).astype(np.float32)
    if box_iou(moved[None], det.xyxy[b:b + 1])[0, 0] >= 0.5:
        return None
    xyxy = det.xyxy.copy()
    xyxy[b] = moved
    return Detections(xyxy, det.class_ids), b, b, b


_EDITS: dict[str, Callable[[np.random.Generator, Detections, int], Edit | None]] = {
    "class_swapped": _swap, "box_missing": _drop, "spurious_box": _spurious,
    "box_shifted": _shift,
}


def corrupt_image(rng: np.random.Generator, det: Detections, kind: str,
                  size: int) -> tuple[Detections, dict]:
    """Apply one defect of ``kind`` (or ``spurious_box`` when it cannot apply) to ``det``.

    Returns the corrupted labels and a manifest entry without the ``image`` key.

    Examples
    --------
    >>> gt = Detections([[10, 10, 40, 40]], [0])
    >>> noisy, entry = corrupt_image(np.random.default_rng(0), gt, "box_missing", 320)
    >>> len(noisy), entry["kind"], entry["noisy"]
    (0, 'box_missing', None)
    """
    edit = _EDITS[kind](rng, det, size)
    if edit is None:
        kind = "spurious_box"
        edit = _spurious(rng, det, size)
    noisy, b, clean_i, noisy_i = edit
    entry = {"kind": kind, "box_index": b,
             "clean": None if clean_i is None else _box(det, clean_i),
             "noisy": None if noisy_i is None else _box(noisy, noisy_i)}
    return noisy, entry


def corrupt_labels(labels: list[Detections], fraction: float, *, seed: int,
                   size: int) -> tuple[list[Detections], dict]:
    """Corrupt ``round(fraction * len(labels))`` images, one defect each.

    Parameters
    ----------
    labels : list of Detections
        Clean ground truth per image (index = image number); not modified.
    fraction : float
        Fraction of images to corrupt.
    seed : int
        Seed of the choice of images, kinds and defects.
    size : int
        Square image side in pixels (boxes stay inside the image).

    Returns
    -------
    (list of Detections, dict)
        The labels to write and the manifest: ``fraction``, ``n_images``, ``n_corrupted``,
        ``kinds`` (count per kind) and ``images`` (one entry per corrupted image, by index).

    Examples
    --------
    >>> gt = [Detections([[10, 10, 40, 40]], [0]) for _ in range(10)]
    >>> noisy, manifest = corrupt_labels(gt, 0.2, seed=0, size=320)
    >>> manifest["n_corrupted"], [e["image"] for e in manifest["images"]] != []
    (2, True)
    """
    n = len(labels)
    k = int(round(fraction * n))
    chosen = np.random.default_rng([seed, _STREAM_NOISE]).permutation(n)[:k]
    out = list(labels)
    entries = []
    for j, index in enumerate(chosen.tolist()):
        rng = np.random.default_rng([seed, _STREAM_NOISE, index])
        out[index], entry = corrupt_image(rng, labels[index], NOISE_KINDS[j % 4], size)
        entries.append({"image": f"{index:06d}.jpg", "label": f"{index:06d}.txt", **entry})
    entries.sort(key=lambda e: e["image"])
    kinds = {kind: sum(e["kind"] == kind for e in entries) for kind in NOISE_KINDS}
    return out, {"fraction": fraction, "n_images": n, "n_corrupted": k, "kinds": kinds,
                 "images": entries}
