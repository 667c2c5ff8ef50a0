"""Accuracy of an exported model measured the way users measure it: predict + evaluate.

:func:`cli_map` runs ``tecktrack predict`` on a dataset split and ``tecktrack evaluate`` on
the written labels (TeckTrack's metrics engine); :func:`check_model` does that on the val
split of the training data and on a dataset rendered from a seed never used in training,
and records both in ``model.yaml`` under ``training``. Needs no torch.
"""

from __future__ import annotations

import contextlib
import io
import json
import tempfile
from pathlib import Path

import yaml

from tecktrack.errors import EvaluationError, ModelError

__all__ = ["PREDICT_CONF", "PREDICT_IOU", "cli_map", "check_model"]

#: Score threshold and NMS IoU of the accuracy checks (mAP needs the low-score tail).
PREDICT_CONF = 0.001
PREDICT_IOU = 0.6


def cli_map(model: str | Path, data_yaml: str | Path, split: str,
            work: str | Path) -> dict[str, float]:
    """``mAP50`` / ``mAP50-95`` of ``model`` on ``split`` via ``tecktrack predict``/``evaluate``.

    Parameters
    ----------
    model : str or Path
        Model name under ``models/`` or a model folder.
    data_yaml : str or Path
        Dataset whose ``images/<split>`` folder is predicted and whose labels are the truth.
    split : str
        Split to measure.
    work : str or Path
        Folder for the predictions and the evaluation report (must not exist yet).

    Raises
    ------
    EvaluationError
        ``predict`` or ``evaluate`` failed (their message is printed on stderr).

    Examples
    --------
    >>> cli_map("demo-s", "data/synth/data.yaml", "val", "/tmp/x")  # doctest: +SKIP
    {'mAP50': 0.9, 'mAP50-95': 0.7}
    """
    from tecktrack.cli import main
    from tecktrack.datasets.data_yaml import read_data_yaml

    work = Path(work)
    images = read_data_yaml(data_yaml).root / "images" / split
    with contextlib.redirect_stdout(io.StringIO()):  # their tables; errors go to stderr
        status = main(["predict", "--model", str(model), "--source", str(images), "--out",
                       str(work / "pred"), "--conf", str(PREDICT_CONF), "--iou",
                       str(PREDICT_IOU), "--quiet"])
    if status != 0:
        raise EvaluationError(f"tecktrack predict failed with status {status}", model)
    report = work / "eval.json"
    with contextlib.redirect_stdout(io.StringIO()):
        status = main(["evaluate", "--gt", str(data_yaml), "--split", split, "--pred",
                       str(work / "pred" / "labels"), "--json", str(report), "--quiet"])
    if status != 0:
        raise EvaluationError(f"tecktrack evaluate failed with status {status}", data_yaml)
    summary = json.loads(report.read_text(encoding="utf-8"))["summary"]
    return {"mAP50": round(float(summary["map50"]), 4),
            "mAP50-95": round(float(summary["map"]), 4)}


def check_model(folder: str | Path, data_yaml: str | Path, unseen_seed: int,
                unseen_images: int = 400, unseen_split: str = "train") -> dict[str, object]:
    """Measure ``folder``'s model on val and on an unseen seed; record it in ``model.yaml``.

    Writes ``training.val`` (val split of ``data_yaml``) and ``training.unseen`` (split
    ``unseen_split`` of ``unseen_images`` images rendered with ``unseen_seed``) plus the
    measuring thresholds; the rest of ``model.yaml`` is kept.

    Raises
    ------
    ModelError
        No ``model.yaml`` with a ``training`` block, or ``unseen_seed`` is the training seed.

    Examples
    --------
    >>> check_model("models/demo-s", "data/synth/data.yaml", unseen_seed=7)  # doctest: +SKIP
    """
    from tecktrack.synth import generate_dataset

    folder = Path(folder)
    path = folder / "model.yaml"
    meta = yaml.safe_load(path.read_text(encoding="utf-8")) if path.is_file() else None
    if not isinstance(meta, dict) or not isinstance(meta.get("training"), dict):
        raise ModelError("no model.yaml with a 'training' block (train it with tecktrack train)",
                         path)
    if meta["training"].get("seed") == unseen_seed:
        raise ModelError(f"unseen seed {unseen_seed} is the training seed", path)
    with tempfile.TemporaryDirectory(prefix="tecktrack-check-") as tmp:
        tmp = Path(tmp)
        val = cli_map(folder, data_yaml, "val", tmp / "val")
        unseen_yaml = generate_dataset(tmp / "unseen", n_images=unseen_images,
                                       seed=unseen_seed, quiet=True)
        unseen = cli_map(folder, unseen_yaml, unseen_split, tmp / "unseen-run")
    meta["training"]["val"] = val
    meta["training"]["unseen"] = {"seed": unseen_seed, "images": unseen_images,
                                  "split": unseen_split, **unseen}
    meta["training"]["measured_with"] = (f"tecktrack predict --conf {PREDICT_CONF} --iou "
                                         f"{PREDICT_IOU} + tecktrack evaluate")
    path.write_text(yaml.safe_dump(meta, sort_keys=False), encoding="utf-8")
    return meta["training"]
