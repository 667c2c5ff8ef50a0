"""Speed of the image bootstrap: 1,000 resamples of 5,000 images (the metrics benchmark's
evaluation: ~35,000 boxes, ~125,000 detections, 80 classes) against one ``evaluate`` of the
same data in the same run. The resamples reuse one matching and only re-accumulate.

    .venv/bin/pytest benchmarks/test_bench_bootstrap.py --benchmark-only \
        --benchmark-columns=min,mean,max,rounds
"""

from __future__ import annotations

import numpy as np
import pytest
from goals import record
from test_bench_metrics import generate

from tecktrack.metrics import evaluate
from tecktrack.metrics.bootstrap import resample_counts, resampled_metrics

N_RESAMPLES = 1000


@pytest.fixture(scope="module")
def data() -> tuple[dict, dict, np.ndarray]:
    gt, preds = generate()
    return gt, preds, resample_counts(len(gt), N_RESAMPLES, seed=0)


@pytest.mark.benchmark(group="bootstrap-5k")
def test_evaluate_once(benchmark, data) -> None:
    gt, preds, _ = data
    ev = benchmark.pedantic(evaluate, args=(gt, preds), kwargs={"names": list(range(80))},
                            rounds=3, iterations=1, warmup_rounds=1)
    assert 0.0 < ev.summary["map"] < 1.0


@pytest.mark.benchmark(group="bootstrap-5k")
def test_bootstrap_1000_resamples(benchmark, data) -> None:
    gt, preds, counts = data
    out = benchmark.pedantic(resampled_metrics, args=(gt, preds, counts),
                             kwargs={"names": list(range(80)), "workers": 2},
                             rounds=1, iterations=1)
    assert out.summary.shape == (N_RESAMPLES, 12) and np.isfinite(out.summary).all()
    record("bootstrap_1000_s", benchmark.stats.stats.min, "2 threads")
