"""``predict_images`` (what ``tecktrack predict`` runs) over a folder of photos: the next image
decoded on the calling thread while a helper thread predicts and writes the last one, against
one image after the other (``overlap=False``), alternated.

Images: the 128 real COCO photos of ``../shared/real/coco128-val`` (``TECKTRACK_REAL_DATA``;
most 640x480, JPEG decoding ~2-3 ms each), else 128 synthetic 640x480 scenes. Model: demo-n,
ONNX Runtime 1 thread. Both runs must write the same files. Not a goal: the ratio (wall time
with the overlap / without) is printed and kept in ``extra_info`` with the load.

    TECKTRACK_REAL_DATA=../shared/real .venv/bin/pytest benchmarks/test_bench_predict_folder.py \
        --benchmark-only -s
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest
from goals import rotated

from tecktrack.inference.batch import predict_images, source_images
from tecktrack.model import load_model
from tecktrack.synth import generate_dataset

REPO = Path(__file__).resolve().parents[1]
ROUNDS = 3


@pytest.fixture(scope="module")
def photos(tmp_path_factory) -> Path:
    root = os.environ.get("TECKTRACK_REAL_DATA")
    real = Path(root) / "coco128-val" / "images" if root else None
    if real is not None and real.is_dir():
        return real
    tmp = tmp_path_factory.mktemp("folder")
    data = generate_dataset(tmp / "ds", n_images=128, size=640, seed=3, quiet=True)
    return data.parent / "images"


def _files(out: Path) -> dict[str, bytes]:
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in out.rglob("*.txt")}


@pytest.mark.benchmark(group="predict-folder")
def test_predict_folder_overlapped_vs_sequential(benchmark, photos, tmp_path):
    model = load_model(REPO / "models" / "demo-n", threads=1)
    if not model.overlap:
        pytest.skip("the overlap needs a second core (model.overlap is off here)")
    images, root = source_images(photos)
    best = {True: float("inf"), False: float("inf")}
    outs: dict[bool, Path] = {}
    turn = iter(range(ROUNDS + 1))

    def one_round() -> None:
        for overlap in rotated((True, False), next(turn)):
            out = tmp_path / f"{overlap}-{time.monotonic_ns()}"
            start = time.perf_counter()
            predict_images(model, images, root, out, quiet=True, overlap=overlap)
            best[overlap] = min(best[overlap], time.perf_counter() - start)
            if overlap in outs:
                shutil.rmtree(outs[overlap])
            outs[overlap] = out

    benchmark.pedantic(one_round, rounds=ROUNDS, iterations=1)
    assert _files(outs[True]) == _files(outs[False]) and len(_files(outs[True])) > 0
    ratio = best[True] / best[False]
    load = os.getloadavg()[0]
    benchmark.extra_info.update(overlapped_s=round(best[True], 3),
                                sequential_s=round(best[False], 3), ratio=round(ratio, 3),
                                images=len(images), load_1min=round(load, 2))
    print(f"\npredict_images, {len(images)} images from {photos}: overlapped "
          f"{best[True]:.2f} s, one after the other {best[False]:.2f} s (best of {ROUNDS} "
          f"alternated rounds): {ratio:.3f} the time ({1 / ratio:.2f}x the images per "
          f"second); load {load:.2f}")
