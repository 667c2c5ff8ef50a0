"""End to end: load a YOLO dataset, train, export ``model.onnx`` + ``model.yaml``, validate."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from tecktrack.errors import DatasetError
from tecktrack.train.data import InMemorySplit, concat_splits, load_split
from tecktrack.train.engine import EpochLog, TrainConfig, train_net
from tecktrack.train.export import export_onnx, write_model_yaml
from tecktrack.train.net import DemoDetector
from tecktrack.train.validate import ground_truth, predict_split

__all__ = ["INPUT_SIZE", "DEFAULT_EPOCHS", "TrainResult", "train_detector"]

#: Square network input side of the demo detectors (the synthetic dataset renders at 320).
INPUT_SIZE = 320
#: Epochs per network size of the shipped models, trained on ``data/synth`` plus the train
#: splits of seeds 2-5 (4,200 images) with ``--repeat-threshold 0.5`` (``make models``).
DEFAULT_EPOCHS = {"n": 18, "s": 22}


@dataclass(frozen=True)
class TrainResult:
    """What :func:`train_detector` produced.

    Attributes
    ----------
    folder : Path
        The model folder holding ``model.onnx`` and ``model.yaml``.
    metrics : dict
        Validation ``mAP50`` and ``mAP50-95`` (TeckTrack's metrics engine).
    logs : list of EpochLog
        Per-epoch losses and timings.
    seconds : float
        Wall-clock training time.
    """

    folder: Path
    metrics: dict[str, float]
    logs: list[EpochLog]
    seconds: float


def validation_metrics(net: DemoDetector, val: InMemorySplit) -> dict[str, float]:
    """``mAP50`` and ``mAP50-95`` of ``net`` on a loaded split, by TeckTrack's metrics engine.

    Examples
    --------
    >>> val = load_split("data/synth/data.yaml", "val", INPUT_SIZE)  # doctest: +SKIP
    >>> validation_metrics(net, val)  # doctest: +SKIP
    {'mAP50': 0.9, 'mAP50-95': 0.7}
    """
    from tecktrack.metrics import evaluate

    keys = [str(p) for p in val.paths]
    gt = dict(zip(keys, ground_truth(val), strict=True))
    preds = dict(zip(keys, predict_split(net, val), strict=True))
    summary = evaluate(gt, preds, names=val.names).summary
    return {"mAP50": round(float(summary["map50"]), 4),
            "mAP50-95": round(float(summary["map"]), 4)}


def train_detector(data_yaml: str | Path, out: str | Path, config: TrainConfig,
                   command: str, quiet: bool = False,
                   on_epoch: Callable[[EpochLog, dict[str, float] | None], None] | None = None,
                   val_every: int = 0,
                   extra_train: Sequence[str | Path] = ()) -> TrainResult:
    """Train ``config.size`` on the ``train`` split and write the model folder ``out``.

    Parameters
    ----------
    data_yaml : str or Path
        Ultralytics-style dataset with ``train`` and ``val`` splits.
    out : str or Path
        Model folder to create; must not already hold a ``model.onnx``.
    config : TrainConfig
        Size, epochs, seed and optimiser settings.
    command : str
        The command line that reproduces this run, recorded in ``model.yaml``.
    on_epoch : callable, optional
        Called after every epoch with its log and, every ``val_every`` epochs, the val
        metrics of the current (EMA) weights (else None).
    val_every : int
        Validate every this many epochs (0: only at the end).
    extra_train : sequence of str or Path
        More ``data.yaml`` files whose ``train`` splits join the training images (same
        class names); validation stays on ``data_yaml``'s ``val`` split.

    Raises
    ------
    DatasetError
        ``out`` already holds a model, or the dataset cannot be read.

    Examples
    --------
    >>> r = train_detector("data/synth/data.yaml", "models/demo-n",
    ...                    TrainConfig(size="n"), "tecktrack train ...")  # doctest: +SKIP
    """
    out = Path(out)
    if (out / "model.onnx").exists():
        raise DatasetError("already holds a model.onnx; choose another --out "
                           "(models are never overwritten)", out)
    started = time.perf_counter()
    sources = [data_yaml, *extra_train]
    train = concat_splits([load_split(y, "train", INPUT_SIZE, quiet=quiet) for y in sources],
                          sources)
    val = load_split(data_yaml, "val", INPUT_SIZE, quiet=quiet)

    def epoch_done(log: EpochLog, current: DemoDetector) -> None:
        due = val_every > 0 and log.epoch % val_every == 0 and log.epoch < config.epochs
        if on_epoch is not None:
            on_epoch(log, validation_metrics(current, val) if due else None)

    net, logs = train_net(train, config, quiet=quiet, on_epoch=epoch_done)
    seconds = time.perf_counter() - started
    metrics = validation_metrics(net, val)
    out.mkdir(parents=True, exist_ok=True)
    export_onnx(net, out / "model.onnx", INPUT_SIZE)
    provenance = {"seed": config.seed, "command": command, "size": config.size,
                  "epochs": config.epochs, "data": str(data_yaml),
                  "extra_train": [str(y) for y in extra_train],
                  "train_images": len(train), "train_minutes": round(seconds / 60, 1),
                  "val": metrics}
    write_model_yaml(out, train.names, INPUT_SIZE, provenance)
    return TrainResult(out, metrics, logs, seconds)
