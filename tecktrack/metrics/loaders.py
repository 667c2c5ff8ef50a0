"""Load evaluation inputs from files: COCO JSON pairs or YOLO label folders.

* COCO: a ground-truth dataset JSON plus a results list JSON (``image_id, category_id, bbox,
  score``). Images are keyed by COCO image id in ascending order, as pycocotools orders them.
* YOLO: ground truth as a ``data.yaml`` (its ``val`` split) or a folder of label files plus an
  image folder for the sizes; predictions as a folder of ``<stem>.txt`` files with a sixth
  confidence column (what ``tecktrack predict`` writes). Images are keyed by file stem.

Nothing is dropped silently: unknown images or categories are errors, images without a label
or prediction file (which count as empty), zero-size or clipped label boxes and unreadable
images (left out) are reported in :attr:`EvalInputs.notes`. Both loaders keep the files'
float64 boxes and scores in :attr:`EvalInputs.exact`, which the metrics use instead of the
float32 ``Detections`` values.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from pathlib import Path

from tecktrack.datasets.box_table import label_files_under
from tecktrack.datasets.coco import read_coco, read_coco_results_exact
from tecktrack.datasets.data_yaml import read_data_yaml
from tecktrack.datasets.images import image_size, list_images
from tecktrack.datasets.yolo import count_notes, label_path_for, read_yolo_labels
from tecktrack.detections import Detections
from tecktrack.errors import DatasetError, EvaluationError, FormatError, TeckTrackError
from tecktrack.metrics._inputs import ExactBoxes
from tecktrack.progress import progress


@dataclass(frozen=True)
class EvalInputs:
    """Everything :func:`tecktrack.metrics.evaluate` needs, read from files.

    ``notes`` lists what was assumed (e.g. how many images had no prediction file).
    ``exact`` carries the float64 boxes and scores of COCO JSON files (pass it on to the
    metrics functions, so IoU and score order are those of pycocotools). ``unreadable``
    names the images left out because they could not be read (``"path: why"`` each).
    """

    gt: dict[Hashable, Detections]
    preds: dict[Hashable, Detections]
    names: list[str] | None
    areas: dict[Hashable, object] | None = None
    iscrowd: dict[Hashable, object] | None = None
    notes: tuple[str, ...] = ()
    exact: ExactBoxes | None = None
    unreadable: tuple[str, ...] = ()


def _is_yaml(path: Path) -> bool:
    return path.suffix.lower() in (".yaml", ".yml")


def _names_from(path: str | Path | None) -> list[str] | None:
    return None if path is None else read_data_yaml(path).names


def _json_file(path: str | Path, what: str) -> Path:
    path = Path(path)
    if path.is_dir():
        raise DatasetError(f"{what} must be a JSON file, found a folder", path)
    if path.is_file() and path.stat().st_size == 0:
        raise FormatError(f"{what} file is empty", path)
    return path


def load_coco(gt_path: str | Path, pred_path: str | Path,
              names: list[str] | None = None) -> EvalInputs:
    """Read a COCO ground-truth JSON and a COCO results JSON.

    Raises
    ------
    FormatError
        Malformed JSON, results naming an image or category the ground truth lacks.
    EvaluationError
        Ground truth without images, or ``names`` of the wrong length.

    Examples
    --------
    >>> import json, tempfile
    >>> d = Path(tempfile.mkdtemp())
    >>> _ = (d / "gt.json").write_text(json.dumps({
    ...     "images": [{"id": 3, "file_name": "a.jpg", "width": 50, "height": 50}],
    ...     "annotations": [{"id": 1, "image_id": 3, "category_id": 7, "bbox": [0, 0, 9, 9]}],
    ...     "categories": [{"id": 7, "name": "cat"}]}))
    >>> _ = (d / "res.json").write_text(json.dumps(
    ...     [{"image_id": 3, "category_id": 7, "bbox": [0, 0, 9, 9], "score": 0.9}]))
    >>> inputs = load_coco(d / "gt.json", d / "res.json")
    >>> inputs.names, len(inputs.preds[3])
    (['cat'], 1)
    """
    gt_path = _json_file(gt_path, "COCO ground truth")
    pred_path = _json_file(pred_path, "COCO results")
    dataset = read_coco(gt_path)
    if not dataset.images:
        raise EvaluationError("ground truth has no images", gt_path)
    if names is not None and len(names) != len(dataset.names):
        raise EvaluationError(f"--names gives {len(names)} classes but the ground truth has "
                              f"{len(dataset.names)} categories", gt_path)
    ids = sorted(im.id for im in dataset.images)
    results = read_coco_results_exact(pred_path, dataset.category_ids, image_ids=ids)
    preds = results.detections
    n_dets = sum(len(d) for d in preds.values())
    notes = () if n_dets else (f"{pred_path}: no detections at all",)
    return EvalInputs(
        gt={i: dataset.annotations[i] for i in ids}, preds=preds,
        names=list(names or dataset.names),
        areas={i: dataset.areas[i] for i in ids}, iscrowd={i: dataset.iscrowd[i] for i in ids},
        notes=notes,
        exact=ExactBoxes(gt={i: dataset.boxes[i] for i in ids}, preds=results.boxes,
                         scores=results.scores),
    )


def _by_stem(files: list[Path], what: str, where: Path) -> dict[str, Path]:
    out: dict[str, Path] = {}
    for f in files:
        if f.stem in out:
            raise EvaluationError(f"two {what} share the name {f.stem!r}: {out[f.stem]} and {f}",
                                  where)
        out[f.stem] = f
    return out


def _yolo_images(gt: Path, images: Path | None, names_yaml: Path | None, split: str
                 ) -> tuple[list[Path], dict[str, Path], list[str] | None]:
    """Image files, their ground-truth label files by stem, and names from a yaml if any."""
    if _is_yaml(gt):
        cfg = read_data_yaml(gt)
        if split not in cfg.splits:
            raise DatasetError(f"{split}: no such split", gt)
        imgs = cfg.splits[split]
        return imgs, {p.stem: label_path_for(p) for p in imgs}, cfg.names
    if not gt.is_dir():
        raise DatasetError("ground truth must be a COCO .json, a data.yaml or a label folder", gt)
    source = images or names_yaml
    if source is None:
        sibling = gt.parent / "images"
        if gt.name != "labels" or not sibling.is_dir():
            raise EvaluationError("YOLO labels need image sizes: pass --images DIR or a "
                                  "data.yaml", gt)
        source = sibling
    imgs = read_data_yaml(source).splits[split] if _is_yaml(source) else list_images(source)
    labels = _by_stem(label_files_under(gt), "label files", gt)
    stems = {p.stem for p in imgs}
    orphans = sorted(set(labels) - stems)
    if orphans:
        raise EvaluationError(f"{len(orphans)} label file(s) have no image, e.g. "
                              f"{orphans[:5]}", gt)
    return imgs, labels, None


def load_yolo(gt: str | Path, pred: str | Path, *, images: str | Path | None = None,
              names: str | Path | None = None, split: str = "val",
              quiet: bool = False) -> EvalInputs:
    """Read YOLO ground truth and a folder of YOLO prediction files (6 columns).

    Parameters
    ----------
    gt : path
        A ``data.yaml`` (evaluates its ``split``) or a folder of label files.
    pred : path
        Folder of ``<image stem>.txt`` prediction files ``class cx cy w h conf``.
    images : path, optional
        Image folder or ``data.yaml`` giving the images (and sizes) for a label folder;
        default ``names`` when it is a yaml, else the ``images`` folder beside ``labels``.
    names : path, optional
        ``data.yaml`` whose class names to use (class ids are checked against them).
    split : str
        Split of a ``data.yaml``.
    quiet : bool
        Hide the progress bar.

    Raises
    ------
    EvaluationError
        Prediction files for unknown images, no prediction files, no images.
    FormatError, DatasetError
        Malformed label lines (with file:line), bad yaml. Unreadable images are left out,
        named in ``unreadable`` and counted in ``notes``.

    Examples
    --------
    >>> import tempfile, cv2, numpy as np
    >>> d = Path(tempfile.mkdtemp())
    >>> for sub in ("images", "labels", "pred"): (d / sub).mkdir()
    >>> _ = cv2.imwrite(str(d / "images" / "000001.png"), np.zeros((40, 80, 3), np.uint8))
    >>> _ = (d / "labels" / "000001.txt").write_text("0 0.5 0.5 0.5 0.5\\n")
    >>> _ = (d / "pred" / "000001.txt").write_text("0 0.5 0.5 0.5 0.5 0.9\\n")
    >>> inputs = load_yolo(d / "labels", d / "pred")
    >>> inputs.gt["000001"].xyxy, inputs.preds["000001"].scores
    (array([[20., 10., 60., 30.]], dtype=float32), array([0.9], dtype=float32))
    """
    gt, pred = Path(gt), Path(pred)
    names_yaml = Path(names) if names is not None else None
    imgs, labels, yaml_names = _yolo_images(gt, Path(images) if images else None, names_yaml,
                                            split)
    class_names = _names_from(names_yaml) or yaml_names
    if not imgs:
        raise EvaluationError("no images to evaluate", images or gt)
    if not pred.is_dir():
        raise DatasetError("prediction folder not found", pred)
    pred_files = _by_stem(label_files_under(pred), "prediction files", pred)
    if not pred_files:
        raise EvaluationError("no prediction files (<image stem>.txt) in the folder", pred)
    stems = _by_stem(imgs, "images", gt)
    unknown = sorted(set(pred_files) - set(stems))
    if unknown:
        raise EvaluationError(f"{len(unknown)} prediction file(s) name images that are not in "
                              f"the ground truth, e.g. {unknown[:5]}", pred)
    n_classes = len(class_names) if class_names else None
    gt_out, pred_out, no_label, no_pred, noted, unreadable = {}, {}, 0, 0, [], []
    gt64, pred64 = {}, {}           # the float64 boxes and scores beside the Detections
    for stem, image in progress(stems.items(), total=len(stems), desc="reading labels",
                                quiet=quiet):
        try:
            width, height = image_size(image)
        except TeckTrackError as exc:       # skipped, counted and named, as predict does
            unreadable.append(str(exc))
            continue
        label = labels.get(stem)
        if label is None or not label.is_file():
            no_label += 1
            gt_out[stem] = Detections.empty(with_scores=False)
        else:
            found: list = []
            gt_out[stem] = read_yolo_labels(label, width, height, n_classes=n_classes,
                                            notes=noted, exact=found)
            gt64[stem] = found[0]
        if stem in pred_files:
            found = []
            pred_out[stem] = read_yolo_labels(pred_files[stem], width, height,
                                              n_classes=n_classes, with_scores=True, notes=noted,
                                              exact=found)
            pred64[stem] = found[0]
        else:
            no_pred += 1
    notes = tuple(msg for n, msg in (
        (no_label, f"{no_label} image(s) have no label file: counted as having no objects"),
        (no_pred, f"{no_pred} image(s) have no prediction file: counted as no detections"),
        (noted, count_notes(noted)),
        (unreadable, f"{len(unreadable)} unreadable image(s) left out of the evaluation, "
                     f"first {unreadable[0] if unreadable else ''}"),
    ) if n)
    if not gt_out:
        raise EvaluationError("no readable images to evaluate", images or gt)
    exact = ExactBoxes(gt=gt64, preds={k: v[:, :4] for k, v in pred64.items()},
                       scores={k: v[:, 4] for k, v in pred64.items()})
    return EvalInputs(gt=gt_out, preds=pred_out, names=class_names, notes=notes,
                      unreadable=tuple(unreadable), exact=exact)


def load_inputs(gt: str | Path, pred: str | Path, *, images: str | Path | None = None,
                names: str | Path | None = None, split: str = "val",
                quiet: bool = False) -> EvalInputs:
    """COCO JSON pair or YOLO folders, chosen by the ground truth's file type.

    Examples
    --------
    >>> load_inputs("missing.json", "res.json")
    Traceback (most recent call last):
    ...
    tecktrack.errors.DatasetError: missing.json: JSON file not found
    """
    gt = Path(gt)
    if gt.suffix.lower() == ".json":
        return load_coco(gt, pred, names=_names_from(names))
    return load_yolo(gt, pred, images=images, names=names, split=split, quiet=quiet)
