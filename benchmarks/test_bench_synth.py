"""Synthetic dataset speed: 1,000 images at 320 x 320 (the issue asks < 60 s on 2 cores).

TeckTrack: ``generate_dataset`` with its default worker processes (2 on a 2-core machine).
Peer: the same call forced onto one process (``workers=1``), i.e. the plain loop; the bytes
written are identical, so the ratio is the parallel speed-up alone.

    .venv/bin/pytest benchmarks/test_bench_synth.py --benchmark-only
"""

from __future__ import annotations

import itertools

import pytest

from tecktrack.synth import generate_dataset

N_IMAGES = 1000
_runs = itertools.count()


@pytest.mark.parametrize("workers", [None, 1], ids=["tecktrack-default-workers", "peer-1-process"])
def test_generate_1000_images(benchmark, tmp_path, workers):
    def run():
        out = tmp_path / f"run{next(_runs)}"
        return generate_dataset(out, n_images=N_IMAGES, seed=0, quiet=True, workers=workers)

    data_yaml = benchmark.pedantic(run, rounds=1, iterations=1)
    assert len(list((data_yaml.parent / "images").rglob("*.jpg"))) == N_IMAGES
