"""``Model.predict`` and ``predict_batch`` pinned to the outputs of the release before #20.

The goldens in ``tests/data/predict_goldens.npz`` are TeckTrack's own detections, written by
this module's ``write_goldens`` from main at the commit named in the file, before the hot-path
work of #20 changed how predict computes them. Every optimisation must give the same
detections: boxes within 1e-4 px, the same class ids in the same order (the same keeps),
scores within 1e-6.

Cases: the demo models (``models/demo-n``, ``models/demo-s``, stretched resize) on both
backends, the seeded random-weight YOLOv8-layout network of the benchmarks (letterboxed, with a
dynamic batch axis so ``predict_batch`` runs whole batches) on both backends, with a class
filter too, and the real Darknet yolo-fastest-1.1 on eight coco128 photos (``real``, one
batch of 8). Each at
the default score threshold and at 0.001 (hundreds of candidates, the ``max_det`` cut).

Regenerate (only for an intended change of outputs, saying why in the commit)::

    PYTHONPATH=. TECKTRACK_REAL_DATA=/work/shared/real python tests/test_predict_pinned.py
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import pytest

from tecktrack.model import load_model
from tecktrack.synth.dataset import render_image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from model_graphs import conv_yolo_graph  # noqa: E402

GOLDEN = Path(__file__).resolve().parent / "data" / "predict_goldens.npz"
REPO = Path(__file__).resolve().parents[1]
BOX_ATOL = 1e-4
SCORE_ATOL = 1e-6
CONFS = (None, 0.001)
COCO_IMAGES = ("000000000139.jpg", "000000000285.jpg", "000000000632.jpg", "000000000724.jpg",
               "000000000776.jpg", "000000000785.jpg", "000000000802.jpg", "000000000872.jpg")


@dataclass(frozen=True)
class Case:
    """One model, backend and load options, run on one set of frames."""

    name: str
    model: str  # "demo-n", "demo-s", "conv" (built here) or "darknet" (real data)
    backend: str
    options: dict = field(default_factory=dict)

    @property
    def real(self) -> bool:
        return self.model == "darknet"


CASES = [Case(f"{m}-{b}", m, b) for m in ("demo-n", "demo-s") for b in ("onnxruntime", "opencv")]
CASES += [Case(f"conv-{b}", "conv", b) for b in ("onnxruntime", "opencv")]
CASES += [Case("conv-onnxruntime-classes", "conv", "onnxruntime",
               {"classes": list(range(0, 80, 3))}),
          Case("darknet-opencv", "darknet", "opencv")]


def synth_frames() -> dict[str, np.ndarray]:
    """Deterministic frames from the synthetic world: several sizes, a portrait and a grey one.

    Examples
    --------
    >>> sorted(f.shape for f in synth_frames().values())[0]
    (320, 320, 3)
    """
    images = [render_image(7, i, 320)[0] for i in range(4)]
    grey = cv2.cvtColor(cv2.resize(images[3], (360, 500)), cv2.COLOR_BGR2GRAY)
    return {"synth0-640x480": cv2.resize(images[0], (640, 480)),
            "synth1-500x333": cv2.resize(images[1], (500, 333)),
            "synth2-320x320": images[2],
            "synth3-grey-360x500": grey}


def real_frames(root: Path) -> dict[str, np.ndarray]:
    """The coco128 photos the Darknet case runs on, read from the real data (never copied)."""
    return {name: cv2.imread(str(root / "coco128-val" / "images" / name)) for name in COCO_IMAGES}


def open_model(case: Case, work: Path, real_root: Path | None):
    """Load ``case``'s model with one thread (the conv network is written under ``work``)."""
    if case.model == "conv":
        path = work / "conv.onnx"
        if not path.exists():
            conv_yolo_graph(path, 320, dynamic_batch=True)
    elif case.model == "darknet":
        path = real_root / "models" / "yolo-fastest-1.1"
    else:
        path = REPO / "models" / case.model
    return load_model(path, backend=case.backend, threads=1, **case.options)


def run_case(model, frames: dict[str, np.ndarray], conf: float | None) -> dict[str, np.ndarray]:
    """Arrays ``{frame/mode/field: values}`` of predict (one frame) and predict_batch (all)."""
    default = model.conf
    if conf is not None:
        model.conf = conf
    try:
        single = {name: model.predict(frame) for name, frame in frames.items()}
    finally:
        model.conf = default
    batched = dict(zip(frames, model.predict_batch(list(frames.values()), conf=conf),
                       strict=True))
    out = {}
    for mode, dets in (("predict", single), ("batch", batched)):
        for name, det in dets.items():
            out[f"{name}/{mode}/xyxy"] = det.xyxy
            out[f"{name}/{mode}/scores"] = det.scores
            out[f"{name}/{mode}/class_ids"] = det.class_ids.astype(np.int16)
    return out


def _key(case: Case, conf: float | None) -> str:
    return f"{case.name}/conf={'default' if conf is None else conf}"


def mismatches(got: dict[str, np.ndarray], golden: dict[str, np.ndarray]) -> list[str]:
    """What differs between a run and its goldens (empty when they agree within tolerance)."""
    problems = [f"{k}: missing" for k in golden if k not in got]
    for key, want in golden.items():
        have = got.get(key)
        if have is None:
            continue
        if have.shape != want.shape:
            problems.append(f"{key}: shape {have.shape} vs golden {want.shape}")
        elif key.endswith("class_ids") and not np.array_equal(have, want):
            problems.append(f"{key}: class ids differ")
        elif key.endswith("xyxy") and not np.allclose(have, want, rtol=0, atol=BOX_ATOL):
            problems.append(f"{key}: boxes differ by {np.abs(have - want).max():.3g} px")
        elif key.endswith("scores") and not np.allclose(have, want, rtol=0, atol=SCORE_ATOL):
            problems.append(f"{key}: scores differ by {np.abs(have - want).max():.3g}")
    return problems


@pytest.fixture(scope="module")
def goldens() -> dict[str, np.ndarray]:
    with np.load(GOLDEN) as data:
        return {k: data[k] for k in data.files}


def _golden_part(goldens: dict, prefix: str) -> dict[str, np.ndarray]:
    part = {k[len(prefix) + 1:]: v for k, v in goldens.items() if k.startswith(prefix + "/")}
    assert part, f"no goldens stored for {prefix}"
    return part


def _frames_for(case: Case, request) -> dict[str, np.ndarray]:
    return real_frames(request.getfixturevalue("real_data")) if case.real else synth_frames()


PARAMS = [pytest.param(c, marks=[pytest.mark.real] if c.real else [], id=c.name) for c in CASES]


@pytest.mark.parametrize("case", PARAMS)
def test_predict_matches_the_release_goldens(case, goldens, tmp_path, request):
    frames = _frames_for(case, request)
    model = open_model(case, tmp_path, request.getfixturevalue("real_data") if case.real
                       else None)
    for conf in CONFS:
        golden = _golden_part(goldens, _key(case, conf))
        assert mismatches(run_case(model, frames, conf), golden) == [], _key(case, conf)


@pytest.mark.parametrize("case", [c for c in CASES if c.name in ("demo-n-onnxruntime",
                                                                 "conv-onnxruntime")],
                         ids=lambda c: c.name)
def test_a_one_pixel_shift_breaks_the_pin(case, goldens, tmp_path):
    """The comparison can fail: frames shifted by one pixel (what a letterbox pad or resize
    off by one pixel does to the network input) no longer match the goldens."""
    frames = {k: np.roll(v, 1, axis=1) for k, v in synth_frames().items()}
    model = open_model(case, tmp_path, None)
    golden = _golden_part(goldens, _key(case, None))
    problems = mismatches(run_case(model, frames, None), golden)
    assert any("boxes differ" in p or "shape" in p for p in problems), problems


def _boxes(part: dict[str, np.ndarray]) -> list[int]:
    return [len(v) for k, v in part.items() if k.endswith("scores")]


def test_the_goldens_hold_detections_to_compare(goldens):
    """Every case stored boxes (an empty golden would pin nothing); at conf 0.001 the demo
    models reach the ``max_det`` cut of 300, where near-equal scores decide the keeps."""
    for case in CASES:
        assert sum(_boxes(_golden_part(goldens, _key(case, None)))) > 0, case.name
        low = _boxes(_golden_part(goldens, _key(case, 0.001)))
        assert max(low) == 300 if case.model.startswith("demo") else sum(low) > 0, case.name


def write_goldens(real_root: Path, out: Path = GOLDEN) -> None:
    """Run every case and store the detections (and the commit they came from) in ``out``."""
    import tempfile

    commit = subprocess.run(["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True,
                            text=True, check=True).stdout.strip()
    arrays: dict[str, np.ndarray] = {"commit": np.array(commit)}
    with tempfile.TemporaryDirectory() as work:
        for case in CASES:
            frames = real_frames(real_root) if case.real else synth_frames()
            model = open_model(case, Path(work), real_root)
            for conf in CONFS:
                for key, value in run_case(model, frames, conf).items():
                    arrays[f"{_key(case, conf)}/{key}"] = value
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out, **arrays)


if __name__ == "__main__":
    write_goldens(Path(os.environ["TECKTRACK_REAL_DATA"]))
