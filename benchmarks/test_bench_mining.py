"""Mining speed: 100,000 images of label + prediction files, vectorised vs a per-image loop.

TeckTrack: ``tecktrack.mining.mine`` (bulk read, vectorised matching, loss, label
issues) over all 100,000 images. Peer: the straightforward per-image loop a user would write
(``formats.read_yolo_labels`` for both files, then ``HardNegativeMining.compute_loss``),
timed on the first 2,000 images; compare the per-image times.

    .venv/bin/pytest benchmarks/test_bench_mining.py --benchmark-only
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tecktrack.datasets.yolo import read_yolo_labels
from tecktrack.mining.hard_negatives import HardNegativeMining
from tecktrack.mining.pipeline import mine

N_IMAGES = 100_000
N_PEER = 2_000


def _lines(rng: np.random.Generator, n: int, scores: bool) -> list[str]:
    cls = rng.integers(0, 8, n)
    box = np.concatenate([rng.uniform(0.2, 0.8, (n, 2)), rng.uniform(0.02, 0.3, (n, 2))], 1)
    cols = [cls[:, None], box] + ([rng.uniform(0.25, 1.0, (n, 1))] if scores else [])
    table = np.concatenate(cols, axis=1)
    fmt = "%d %.6f %.6f %.6f %.6f" + (" %.6f" if scores else "")
    return [fmt % tuple(row) for row in table.tolist()]


@pytest.fixture(scope="module")
def folders(tmp_path_factory) -> tuple[Path, Path]:
    """100,000 label files (0-6 boxes) and prediction files (labels jittered + extras)."""
    root = tmp_path_factory.mktemp("mining")
    gt_dir, pred_dir = root / "gt", root / "pred"
    gt_dir.mkdir()
    pred_dir.mkdir()
    rng = np.random.default_rng(0)
    for i in range(N_IMAGES):
        stem = f"{i:06d}"
        gt = _lines(rng, int(rng.integers(0, 7)), scores=False)
        kept = [g for g in gt if rng.random() < 0.8]
        preds = [f"{g} {rng.uniform(0.3, 1.0):.6f}" for g in kept]
        preds += _lines(rng, int(rng.integers(0, 3)), scores=True)
        (gt_dir / f"{stem}.txt").write_text("\n".join(gt) + ("\n" if gt else ""))
        (pred_dir / f"{stem}.txt").write_text("\n".join(preds) + ("\n" if preds else ""))
    return pred_dir, gt_dir


def test_mine_100k_images(benchmark, folders):
    pred_dir, gt_dir = folders
    summary = benchmark.pedantic(mine, args=(pred_dir, gt_dir), kwargs={"top": 10},
                                 rounds=1, iterations=1)
    assert summary["images"] == N_IMAGES
    assert len(summary["hard_negatives"]) == 10


def _per_image_loop(pred_dir: Path, gt_dir: Path, n: int) -> list[float]:
    miner = HardNegativeMining()
    losses = []
    for i in range(n):
        stem = f"{i:06d}"
        p = read_yolo_labels(pred_dir / f"{stem}.txt", 640, 640, with_scores=True)
        g = read_yolo_labels(gt_dir / f"{stem}.txt", 640, 640)
        losses.append(miner.compute_loss(p, g, 640, 640))
    return losses


def test_peer_per_image_loop_2k(benchmark, folders):
    pred_dir, gt_dir = folders
    losses = benchmark.pedantic(_per_image_loop, args=(pred_dir, gt_dir, N_PEER),
                                rounds=1, iterations=1)
    assert len(losses) == N_PEER
