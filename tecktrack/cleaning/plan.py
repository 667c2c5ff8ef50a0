"""Detector-driven cleaning of a two-folder classification layout (``positive/``, ``background/``).

The seed's task: a single-class image-classification folder is contaminated with misfiled
images. A detector runs over both folders; an image is *detected* when it has a detection
(of any class, or of ``class_name``) with confidence >= ``conf``. Taking the folders as the
labels, each image is one of

* TP: in the positive folder, detected;        * FN: in the positive folder, not detected;
* FP: in ``background/``, detected;             * TN: in ``background/``, not detected.

FN images are proposed to move to ``background/`` and FP images to the positive folder.
Moving (with a manifest that can undo it) lives in :mod:`tecktrack.cleaning.moves`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from tecktrack.errors import DatasetError
from tecktrack.model.protocol import Detector

__all__ = ["FolderLayout", "classify_images", "folder_layout", "misfiled_scores",
           "outcome_counts", "score_images"]

BACKGROUND = "background"


@dataclass(frozen=True)
class FolderLayout:
    """The two folders of a cleaning job and the images in each (sorted by name)."""

    root: Path
    positive: Path
    background: Path
    images: tuple[Path, ...]

    def folder_of(self, image: Path) -> str:
        """``"positive"`` or ``"background"`` for an image of the layout (at any depth: the
        folders are read recursively)."""
        return BACKGROUND if self.background in image.parents else "positive"


def folder_layout(folder: str | Path) -> FolderLayout:
    """Find ``background/`` and the one positive sub-folder of ``folder``.

    Raises
    ------
    DatasetError
        If ``folder`` is missing, has no ``background/``, or not exactly one other folder.

    Examples
    --------
    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp()); (d / "background").mkdir(); (d / "cats").mkdir()
    >>> folder_layout(d).positive.name
    'cats'
    """
    from tecktrack.datasets.images import list_images

    root = Path(folder)
    if not root.is_dir():
        raise DatasetError("folder not found", root)
    subdirs = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    background = root / BACKGROUND
    others = [p for p in subdirs if p.name != BACKGROUND]
    if background not in subdirs or len(others) != 1:
        found = ", ".join(p.name for p in subdirs) or "none"
        raise DatasetError("expected exactly two sub-folders, background/ and the positive "
                           f"one; found: {found}", root)
    images = tuple(sorted(list_images(others[0]) + list_images(background)))
    return FolderLayout(root, others[0], background, images)


def score_images(detector: Detector, images: list[Path] | tuple[Path, ...], *,
                 class_name: str | None = None, quiet: bool = False) -> np.ndarray:
    """Highest detection confidence per image (0 without detections), of one class or any.

    Raises
    ------
    DatasetError
        An unreadable image, or a ``class_name`` the detector does not know.
    """
    from tecktrack.model.image_files import detect_files

    class_id = None
    if class_name is not None:
        if class_name not in detector.names:
            raise DatasetError(f"class {class_name!r} not among the model's classes: "
                               f"{', '.join(detector.names)}")
        class_id = detector.names.index(class_name)
    scores = np.zeros(len(images), np.float64)
    dets, _ = detect_files(detector, images, desc="detecting", quiet=quiet)
    for i, det in enumerate(dets):
        keep = np.ones(len(det), bool) if class_id is None else det.class_ids == class_id
        if keep.any():
            scores[i] = float(det.scores[keep].max())
    return scores


def classify_images(layout: FolderLayout, scores: np.ndarray, conf: float = 0.5) -> pd.DataFrame:
    """Outcome and proposed move of every image.

    Returns columns ``image`` (path), ``name``, ``folder``, ``score``, ``detected``,
    ``outcome`` (TP/TN/FP/FN), ``linked`` (the image is a symbolic link) and ``move_to``
    (destination path, or empty). A symbolic link is never proposed to move: moving it
    would move the file it points to, which may lie outside the folder and serve others.

    Examples
    --------
    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp())
    >>> for f in ("pos/a.jpg", "background/b.jpg"):
    ...     (d / f).parent.mkdir(exist_ok=True); (d / f).touch()
    >>> frame = classify_images(folder_layout(d), np.array([0.9, 0.1]), conf=0.5)
    >>> frame[["name", "outcome"]].values.tolist()
    [['b.jpg', 'FP'], ['a.jpg', 'FN']]
    """
    if not 0 <= conf <= 1:
        raise ValueError(f"conf must be in [0, 1], got {conf}")
    folders = np.array([layout.folder_of(p) for p in layout.images])
    detected = np.asarray(scores) >= conf
    in_positive = folders == "positive"
    outcome = np.select([in_positive & detected, in_positive & ~detected, ~in_positive & detected],
                        ["TP", "FN", "FP"], "TN")
    linked = [p.is_symlink() for p in layout.images]
    move_to = [str((layout.background if o == "FN" else layout.positive) / p.name)
               if o in ("FN", "FP") and not link else ""
               for p, o, link in zip(layout.images, outcome, linked, strict=True)]
    return pd.DataFrame({"image": [str(p) for p in layout.images],
                         "name": [p.name for p in layout.images], "folder": folders,
                         "score": np.round(np.asarray(scores, np.float64), 4),
                         "detected": detected, "outcome": outcome, "linked": linked,
                         "move_to": move_to})


def outcome_counts(frame: pd.DataFrame) -> dict[str, int]:
    """``{"TP": .., "TN": .., "FP": .., "FN": ..}`` of :func:`classify_images`."""
    counts = frame["outcome"].value_counts()
    return {k: int(counts.get(k, 0)) for k in ("TP", "TN", "FP", "FN")}


def misfiled_scores(frame: pd.DataFrame, truth_manifest: str | Path) -> dict[str, float]:
    """Precision and recall of the proposed moves against a manifest of misfiled images.

    ``truth_manifest`` is the ``manifest.json`` of ``tecktrack synth folders``: a
    ``misfiled`` list of ``{"image": name, ...}``.
    """
    path = Path(truth_manifest)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        truth = {str(e["image"]) for e in data["misfiled"]}
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise DatasetError(f"not a folders manifest with 'misfiled' ({exc.__class__.__name__})",
                           path) from None
    flagged = set(frame.loc[frame["move_to"] != "", "name"])
    hits = len(flagged & truth)
    return {"precision": hits / len(flagged) if flagged else 1.0,
            "recall": hits / len(truth) if truth else 1.0,
            "flagged": len(flagged), "misfiled": len(truth), "correct": hits}
