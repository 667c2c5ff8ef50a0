"""``predict`` against ``yolo predict`` on the same ONNX file, load included.

YOLOv8n built from Ultralytics' yaml with a fixed seed (tests/ultralytics_support.py, no
download), exported at 640x640. Each round loads the model and predicts 16 synthetic images
of four shapes one by one at conf 0.001 (300 boxes an image): TeckTrack's ``load_model`` +
``Model.predict``, Ultralytics' ``YOLO(onnx)`` + ``predict``. Both run ONNX Runtime's CPU
provider with its default threads. The ratio is printed.

    .venv/bin/pytest benchmarks/test_bench_ultralytics.py --benchmark-only -s
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from ultralytics_support import (  # noqa: E402
    build_onnx,
    import_ultralytics,
    synthetic_images,
    ultralytics_installed,
)

if not ultralytics_installed():
    pytest.skip("ultralytics-opencv-headless (dev extra) is not installed",
                allow_module_level=True)

from tecktrack.model import load_model  # noqa: E402

IMGSZ = 640
CONF = 0.001
TIMES: dict[str, float] = {}


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    path = build_onnx("yolov8n.yaml", tmp_path_factory.mktemp("bench") / "yolov8n.onnx",
                      imgsz=IMGSZ)
    return path, synthetic_images(0) * 4


def _tecktrack(path, images):
    model = load_model(path, conf=CONF)
    return [model.predict(image) for image in images]


def _ultralytics(path, images):
    model = import_ultralytics()(str(path), task="detect")
    return [model.predict(image, conf=CONF, imgsz=IMGSZ, verbose=False)[0] for image in images]


@pytest.mark.parametrize("who", ["tecktrack", "ultralytics"])
def test_predict_with_load(benchmark, setup, who):
    path, images = setup
    run = _tecktrack if who == "tecktrack" else _ultralytics
    run(path, images[:2])  # warm both libraries' imports
    benchmark.group = "yolov8n 640 predict, 16 images, load included"
    results = benchmark.pedantic(run, args=(path, images), rounds=3, iterations=1)
    assert len(results) == len(images)
    TIMES[who] = benchmark.stats.stats.min
    if len(TIMES) == 2:
        ms = {k: v / len(images) * 1000 for k, v in TIMES.items()}
        print(f"\nper image, load included: TeckTrack {ms['tecktrack']:.1f} ms, Ultralytics "
              f"{ms['ultralytics']:.1f} ms, ratio {ms['tecktrack'] / ms['ultralytics']:.2f}")
