"""The committed demo detectors: decoding through tecktrack.model, and recorded accuracy.

The accuracy test renders the dataset recorded under ``training.unseen`` in each
``model.yaml`` (a seed never used in training), runs both models through ``tecktrack
predict`` and ``tecktrack evaluate`` (:func:`tecktrack.commands.model_check.cli_map` calls the CLI)
and compares with the recorded figures.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml

from tecktrack.cli import main
from tecktrack.commands.model_check import cli_map
from tecktrack.detections import box_iou

MODELS = ("demo-n", "demo-s")


def _meta(repo_root: Path, name: str) -> dict:
    path = repo_root / "models" / name / "model.yaml"
    if not path.is_file():
        pytest.skip(f"{path} not present")
    meta = yaml.safe_load(path.read_text())
    if "unseen" not in meta.get("training", {}):
        pytest.skip(f"{path} has no recorded unseen-seed check")
    return meta


@pytest.fixture(scope="module")
def unseen(repo_root, tmp_path_factory) -> tuple[Path, dict]:
    training = _meta(repo_root, "demo-s")["training"]
    spec = training["unseen"]
    assert spec["seed"] != training["seed"]
    out = tmp_path_factory.mktemp("unseen") / "synth"
    assert main(["synth", "dataset", str(out), "--images", str(spec["images"]),
                 "--seed", str(spec["seed"]), "--quiet"]) == 0
    return out / "data.yaml", spec


@pytest.mark.parametrize("name", MODELS)
def test_export_decodes_through_tecktrack_model(repo_root, name):
    onnxruntime = pytest.importorskip("onnxruntime")
    from tecktrack.model import load_model
    from tecktrack.synth import render_image

    meta = _meta(repo_root, name)
    frame, truth = render_image(seed=11, index=0, size=meta["input_size"])
    found = load_model(repo_root / "models" / name, conf=0.25, iou=0.6).predict(frame)
    # the same network run by hand: plain resize, RGB, [0, 1], NCHW; YOLOv8 rows
    session = onnxruntime.InferenceSession(str(repo_root / "models" / name / "model.onnx"),
                                           providers=["CPUExecutionProvider"])
    blob = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB).transpose(2, 0, 1)[None] / np.float32(255)
    (out,) = session.run(None, {"images": blob.astype(np.float32)})
    assert out.shape == (1, 4 + len(meta["names"]), (meta["input_size"] // 8) ** 2)
    best = out[0, 4:].max(axis=0)
    assert len(found) <= int((best > 0.25).sum())
    assert len(found) >= 1 and np.all(found.scores > 0.25)
    # what it finds lies on the rendered objects
    assert np.median(box_iou(found.xyxy, truth.xyxy).max(axis=1)) > 0.5


@pytest.mark.slow
def test_models_hold_recorded_accuracy_on_an_unseen_seed(repo_root, unseen, tmp_path):
    data, spec = unseen
    found = {}
    for name in MODELS:
        recorded = _meta(repo_root, name)["training"]
        figures = cli_map(repo_root / "models" / name, data, spec["split"], tmp_path / name)
        found[name] = figures["mAP50"]
        assert figures["mAP50"] == pytest.approx(recorded["unseen"]["mAP50"], abs=0.02)
        assert figures["mAP50-95"] == pytest.approx(recorded["unseen"]["mAP50-95"], abs=0.02)
        # the unseen seed scores like the val split of the training seed
        assert figures["mAP50"] == pytest.approx(recorded["val"]["mAP50"], abs=0.08)
    # the targets hold on the unseen seed: model 2 >= 0.85, model 1 >= 0.6 and clearly lower
    # (measured 0.858 and 0.759 on 280 images)
    assert found["demo-s"] >= 0.85
    assert found["demo-n"] >= 0.6
    assert found["demo-s"] >= found["demo-n"] + 0.05
