"""The memory floor under ``predict_batch_onnx`` with both cores at work: a measurement, not
a benchmark test (it is not collected by pytest).

``test_predict_batch_memory_floor`` touches ``predict_batch``'s memory with one core right
after the batched forward: read the 8 frames, write the blob's image planes, read the
outputs, nothing computed. A two-core ``predict_batch`` could split that touch between the
caller and a helper thread, so this script measures the split too, in the best case no
shipped code can have: the helper already awake and spinning (``_mm_pause``) when the
forward ends, and plain C loops (``gcc -O3 -march=native``) doing the touch. If even that is
above 1.05 of the forward, no implementation that reads the frames, writes the blob and
reads the outputs meets the goal on the machine.

    .venv/bin/python benchmarks/floor_two_cores.py [--rounds 60]

Needs ``gcc`` (a C compiler on the PATH); prints the forward, the one-core touch and the
two-core touch (best of the rounds) and their ratios to the forward.
"""

from __future__ import annotations

import argparse
import ctypes
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import cv2
import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))

#: The touch in C: ``touch_in`` reads frames [lo, hi) and writes their blob planes,
#: ``touch_out`` reads those frames' outputs; ``helper`` spins until asked for the upper half.
C_SOURCE = r"""
#include <stddef.h>
#include <stdint.h>
#include <immintrin.h>

static volatile int go_flag = 0, done_flag = 0;
static volatile float sink;
static const uint8_t **frames; static size_t frame_bytes;
static float *blob; static size_t slot, plane, offset, plane_floats;
static const float *outputs; static size_t output_floats;

void set_job(const uint8_t **f, size_t fb, float *b, size_t s, size_t p, size_t o, size_t pf,
             const float *out, size_t of) {
    frames = f; frame_bytes = fb; blob = b; slot = s; plane = p; offset = o;
    plane_floats = pf; outputs = out; output_floats = of;
}

void touch_in(int lo, int hi) {
    for (int i = lo; i < hi; i++) {
        uint8_t m = 0;
        for (size_t k = 0; k < frame_bytes; k++) m = frames[i][k] > m ? frames[i][k] : m;
        sink = m;
        for (int c = 0; c < 3; c++) {
            float *p = blob + i * slot + c * plane + offset;
            for (size_t k = 0; k < plane_floats; k++) p[k] = 0.5f;
        }
    }
}

void touch_out(int lo, int hi) {
    for (int i = lo; i < hi; i++) {
        float m = -1e30f;
        const float *o = outputs + i * output_floats;
        for (size_t k = 0; k < output_floats; k++) m = o[k] > m ? o[k] : m;
        sink = m;
    }
}

void helper(int lo, int hi) {
    int seen = 0;
    for (;;) {
        while (go_flag == seen) _mm_pause();
        seen = go_flag;
        if (seen < 0) return;
        if (seen % 2) touch_in(lo, hi); else touch_out(lo, hi);
        done_flag = seen;
    }
}

void ask(int k) { go_flag = k; }
void wait_for(int k) { while (done_flag != k) _mm_pause(); }
"""


def _compiled(folder: Path) -> ctypes.CDLL:
    compiler = shutil.which("gcc") or shutil.which("cc")
    if compiler is None:
        sys.exit("needs a C compiler (gcc) on the PATH")
    source, library = folder / "touch.c", folder / "touch.so"
    source.write_text(C_SOURCE)
    subprocess.run([compiler, "-O3", "-march=native", "-ffast-math", "-shared", "-fPIC",
                    "-o", str(library), str(source)], check=True)
    return ctypes.CDLL(str(library))


def main() -> int:
    """Measure and print; the exit status is 0."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=60)
    args = parser.parse_args()
    from model_graphs import conv_yolo_graph
    from test_bench_model import BATCH, INPUT, _bare_forward, _bench_image

    from tecktrack.model import load_model

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        lib = _compiled(root)
        model = load_model(conv_yolo_graph(root / "bench.onnx", INPUT, dynamic_batch=True),
                           backend="onnxruntime", threads=1)
        frames = [cv2.imread(str(_bench_image(root / f"b{i}.jpg", seed=i)))
                  for i in range(BATCH)]
        blob, _ = model.preprocess_batch(frames)
        bare = _bare_forward(model.backend, blob)
        fit = model._fit(frames[0])
        width, height = fit.new_size
        spare = blob.copy()
        pointers = (ctypes.c_void_p * BATCH)(*[f.ctypes.data for f in frames])
        size = ctypes.c_size_t
        kept: list[np.ndarray] = []

        def set_job(output: np.ndarray) -> None:
            kept[:] = [output]  # alive while the C side reads it
            lib.set_job(pointers, size(frames[0].nbytes), ctypes.c_void_p(spare.ctypes.data),
                        size(spare[0].size), size(spare[0, 0].size),
                        size(fit.top * spare.shape[3]), size(height * spare.shape[3]),
                        ctypes.c_void_p(output.ctypes.data), size(output[0].size))

        assert width == spare.shape[3], "the benchmark frames fill the input's width"
        half = BATCH // 2
        threading.Thread(target=lib.helper, args=(half, BATCH), daemon=True).start()
        forward, one, two, k = [], [], [], 0
        for _ in range(args.rounds):
            t0 = time.perf_counter()
            output = np.ascontiguousarray(bare()[0])
            t1 = time.perf_counter()
            set_job(output)
            lib.touch_in(0, BATCH)
            lib.touch_out(0, BATCH)
            t2 = time.perf_counter()
            forward.append(t1 - t0)
            one.append(t2 - t1)
            output = np.ascontiguousarray(bare()[0])
            t0 = time.perf_counter()
            set_job(output)
            k += 1  # odd: the helper touches the upper half of the input
            lib.ask(k)
            lib.touch_in(0, half)
            lib.wait_for(k)
            k += 1  # even: the upper half of the outputs
            lib.ask(k)
            lib.touch_out(0, half)
            lib.wait_for(k)
            two.append(time.perf_counter() - t0)
        lib.ask(-1)
    base = min(forward)
    print(f"batched forward {base * 1e3:.2f} ms; touch after it: one core "
          f"{min(one) * 1e3:.3f} ms ({1 + min(one) / base:.3f}x), two cores with the helper "
          f"awake {min(two) * 1e3:.3f} ms ({1 + min(two) / base:.3f}x); best of {args.rounds}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
