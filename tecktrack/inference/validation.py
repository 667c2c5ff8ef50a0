"""Validate a detector on a dataset split in one step, in COCO's or Ultralytics' convention.

``coco``: single-label predictions scored by the exact COCO engine
(:func:`tecktrack.metrics.evaluate`). ``ultralytics``: multi-label predictions (one box may
carry several classes, as ``yolo val`` keeps them), matched unclipped as ``yolo val`` matches
them (it compares in network-input pixels before ``scale_boxes`` clips), scored by
:func:`tecktrack.metrics.ultralytics.evaluate_ultralytics`. Both predict at conf 0.001 /
IoU 0.7 by default, as ``yolo val`` does.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from tecktrack.datasets import Dataset
from tecktrack.datasets.class_names import compare_class_names
from tecktrack.datasets.images import imread_or_none
from tecktrack.detections import Detections
from tecktrack.errors import EvaluationError, FormatError, TeckTrackError
from tecktrack.model import Model
from tecktrack.model.overlap import overlapped
from tecktrack.model.preprocess import rect_shapes
from tecktrack.progress import progress

__all__ = ["CONVENTIONS", "VAL_CONF", "VAL_IOU", "ValResult", "validate"]

#: ``--convention`` values.
CONVENTIONS = ("coco", "ultralytics")
#: yolo val's defaults.
VAL_CONF, VAL_IOU = 0.001, 0.7


@dataclass
class ValResult:
    """What :func:`validate` found.

    Attributes
    ----------
    convention : str
        ``coco`` or ``ultralytics``.
    summary : dict
        COCO's 12 numbers, or ``precision, recall, map50, map50_95, fitness``.
    per_class : DataFrame
        ``class, images, instances, P, R, mAP50, mAP50-95``.
    gt, preds : dict of str to Detections
        Keyed by image path, for further tables and plots.
    names : list of str
        The dataset's class names.
    skipped : list of str
        Images that could not be read (``path: reason``).
    background : int
        Images without a label file (no objects, as Ultralytics reads them).
    duplicates : int
        Label rows that repeat another row of their file, left out as Ultralytics does.
    evaluation : object
        The engine's own result (:class:`~tecktrack.metrics.Evaluation` for ``coco``).
    """

    convention: str
    summary: dict[str, float]
    per_class: pd.DataFrame
    gt: dict[str, Detections]
    preds: dict[str, Detections]
    names: list[str]
    skipped: list[str] = field(default_factory=list)
    background: int = 0
    evaluation: object = None
    duplicates: int = 0


#: ``yolo val``'s loader drops an image under 10 px a side, or whose label file breaks its
#: rules (``check_image``, ``verify_image_label``): the ultralytics convention leaves it out
#: too, and says so.
MIN_ULTRALYTICS_SIDE = 10
LEFT_OUT = "the image is left out, as yolo val leaves it out"
#: ``yolo val``'s default ``batch`` (its ``default.yaml``), which a dynamic export's rect
#: shapes depend on.
YOLO_VAL_BATCH = 16


def _ground_truth(dataset: Dataset, item, ultralytics: bool = False
                  ) -> tuple[Detections, int]:
    """An image's labels and how many repeated rows were left out: Ultralytics keeps one of
    each (``np.unique`` of the rows, with a warning), so a repeated box is one object. With
    ``ultralytics`` the file is read as ``yolo val`` reads it (values up to 1.01, unclipped)."""
    if not item.label_path.exists():  # Ultralytics: an image without label file is background
        return Detections.empty(), 0
    labels = dataset.load_labels(item, ultralytics=ultralytics)
    rows = np.column_stack([labels.class_ids.astype(np.float64), labels.xyxy])
    _, first = np.unique(rows, axis=0, return_index=True)
    if len(first) == len(labels):
        return labels, 0
    return labels[np.sort(first)], len(labels) - len(first)


def _yolo_val_canvases(model: Model, dataset: Dataset, unique: list, batch: int
                       ) -> tuple[dict[str, tuple[int, int]] | None, dict[str, tuple]]:
    """The input ``(width, height)`` ``yolo val`` gives each image of a dynamic export
    (:func:`~tecktrack.model.preprocess.rect_shapes`): its loader's order (sorted paths), the
    images it keeps (readable, 10 px a side or more, labels within its rules), ``batch`` a
    batch; ``None`` where no rect shape applies (a fixed input, a non-square one). And the
    ground truth read on the way (:func:`_ground_truth` of each image kept), not to be read
    twice."""
    side, other = model.input_size
    if not (model.rect and model.letterbox and side == other):
        return None, {}
    truths, sizes = {}, []
    for item in sorted(unique, key=lambda it: str(it.image_path)):
        try:
            width, height = dataset.image_size(item)
            if min(width, height) >= MIN_ULTRALYTICS_SIDE:
                truths[str(item.image_path)] = _ground_truth(dataset, item, ultralytics=True)
                sizes.append((height, width))
        except TeckTrackError:  # left out by yolo val: no share in any batch's shape
            continue
    if not truths:
        return {}, truths
    shapes = rect_shapes(np.array(sizes), side, model.stride, max(1, int(batch)))
    return ({key: (int(w), int(h)) for key, (h, w) in zip(truths, shapes.tolist(), strict=True)},
            truths)


def _predict_split(model: Model, dataset: Dataset, split: str, quiet: bool,
                   ultralytics: bool = False, batch: int = 1
                   ) -> tuple[dict, dict, list[str], int, int]:
    """Ground truth and predictions of every image of ``split`` (each path once), the images
    that cannot be decoded, how many have no label file (background) and how many repeated
    label rows were left out.

    With :attr:`Model.overlap` the next image is decoded and the last one's labels read on a
    helper thread while the network runs (:func:`~tecktrack.model.overlap.overlapped`); the
    same results in the same order. With ``ultralytics`` a dynamic export's images get
    ``yolo val``'s rect shapes for batches of ``batch``.
    """
    items = dataset.items(split)
    if not items:
        raise EvaluationError(f"split {split!r} has no images", dataset.root)
    first: dict[str, object] = {}
    for item in items:  # an image listed twice is predicted and scored once
        first.setdefault(str(item.image_path), item)
    unique = list(first.values())
    bar = progress(None, total=len(unique), desc=f"val {split}", quiet=quiet, unit="img")
    gt: dict[str, Detections] = {}
    preds: dict[str, Detections] = {}
    skipped: list[str] = []
    background, duplicates = [0], [0]
    canvases, truths = (_yolo_val_canvases(model, dataset, unique, batch) if ultralytics
                        else (None, {}))

    def read(k: int) -> tuple[int, np.ndarray | None]:
        return k, imread_or_none(unique[k].image_path)

    def detect(read_k: tuple[int, np.ndarray | None]) -> Detections | None:
        k, frame = read_k
        bar.update(1)  # the progress bar advances on the calling thread
        if frame is None:
            return None
        if canvases is not None:
            model.val_canvas = canvases.get(str(unique[k].image_path))
        return model.predict(frame)

    def keep(k: int, read_k: tuple[int, np.ndarray | None], det: Detections | None) -> None:
        frame = read_k[1]
        item = unique[k]
        key = str(item.image_path)
        if det is None:
            skipped.append(f"{key}: cannot decode image")
            return
        if ultralytics and min(frame.shape[:2]) < MIN_ULTRALYTICS_SIDE:
            skipped.append(f"{key}: {frame.shape[1]}x{frame.shape[0]} px, under "
                           f"{MIN_ULTRALYTICS_SIDE} px a side: {LEFT_OUT}")
            return
        try:
            truth = truths.pop(key, None) or _ground_truth(dataset, item, ultralytics)
        except FormatError as exc:
            if not ultralytics:
                raise
            skipped.append(f"{exc}: {LEFT_OUT}")
            return
        gt[key], repeated = truth
        background[0] += not item.label_path.exists()
        duplicates[0] += repeated
        preds[key] = det

    overlapped(len(unique), read, detect, keep, overlap=model.overlap)
    bar.close()
    return gt, preds, skipped, background[0], duplicates[0]


def _drop_inverted(preds: dict[str, Detections]) -> tuple[dict[str, Detections], int]:
    kept, dropped = {}, 0
    for key, det in preds.items():
        ok = (det.xyxy[:, 2] >= det.xyxy[:, 0]) & (det.xyxy[:, 3] >= det.xyxy[:, 1])
        kept[key] = det if ok.all() else det[ok]
        dropped += int((~ok).sum())
    return kept, dropped


def validate(model: Model, data_yaml: str | Path, *, split: str = "val",
             convention: str = "coco", quiet: bool = False,
             batch: int = YOLO_VAL_BATCH) -> ValResult:
    """Predict every image of ``split`` with ``model`` and score it in ``convention``.

    The model's class names are compared with the dataset's first
    (:func:`~tecktrack.datasets.class_names.compare_class_names`: a warning for renamed
    classes, an error where the order would mis-score). ``model``'s own ``conf``/``iou``
    are used: load it at conf 0.001 / IoU 0.7 for ``yolo val``'s numbers. ``batch`` is
    ``yolo val``'s ``batch`` (16 by default there): on a dynamic export it decides which
    images share a rect shape, so it changes the numbers; elsewhere it changes nothing.

    Examples
    --------
    >>> model = load_model("yolov8n.onnx", conf=0.001, iou=0.7)          # doctest: +SKIP
    >>> validate(model, "coco128.yaml", convention="ultralytics").summary["map50"]  # doctest: +SKIP
    0.342
    """
    if convention not in CONVENTIONS:
        raise EvaluationError(f"unknown convention {convention!r}; use {' or '.join(CONVENTIONS)}")
    dataset = Dataset.from_yaml(data_yaml)
    compare_class_names(model.names, dataset.names, source=str(data_yaml))
    previous = model.multi_label, model.clip, model.val_fit, model.val_canvas
    if convention == "ultralytics":  # yolo val: several classes a box, boxes left unclipped,
        model.multi_label, model.clip = model.layout != "end2end", False
        model.val_fit = True  # and its loader's resize and padding
    try:
        gt, preds, skipped, background, duplicates = _predict_split(
            model, dataset, split, quiet, ultralytics=convention == "ultralytics", batch=batch)
    finally:
        model.multi_label, model.clip, model.val_fit, model.val_canvas = previous
    if convention == "coco":
        from tecktrack.metrics import evaluate

        preds, inverted = _drop_inverted(preds)
        if inverted:
            skipped.append(f"{inverted} predicted box(es) with x2 < x1 or y2 < y1 left out: "
                           "the COCO engine cannot score them")
        ev = evaluate(gt, preds, names=dataset.names)
        return ValResult(convention, dict(ev.summary), ev.yolo_table(), gt, preds,
                         list(dataset.names), skipped, background, ev, duplicates)
    from tecktrack.metrics.ultralytics import evaluate_ultralytics

    ev = evaluate_ultralytics(gt, preds, names=dataset.names)
    return ValResult(convention, dict(ev.summary), ev.per_class, gt, preds,
                     list(dataset.names), skipped, background, ev, duplicates)
