"""A contaminated single-class image-classification layout: ``positive/`` and ``background/``.

Positives show one to three objects of one target class (default ``cardboard box``, the
class the demo detectors know best) on a cluttered background with distractors;
backgrounds show clutter and distractors only. A seeded, exactly known fraction of the
images is filed in the wrong folder. ``manifest.json`` in the output folder lists every
misfiled image under ``image`` with the ``folder`` it was put in and its ``true_folder``.
Image names (``NNNNNN.jpg``) are unique across both folders and do not reveal the truth.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tecktrack.errors import DatasetError
from tecktrack.synth._io import frame_name, parallel_map, staged_folder, write_jpeg, write_json
from tecktrack.synth.conditions import apply_conditions
from tecktrack.synth.dataset import SYNTH_VERSION, check_params
from tecktrack.synth.objects import CLASS_NAMES
from tecktrack.synth.scene import compose_scene

FOLDERS = ("positive", "background")
_STREAM_FOLDERS = 2


def render_folder_image(seed: int, index: int, positive: bool, target_id: int,
                        size: int = 320) -> np.ndarray:
    """Render image ``index``: with 1-3 ``target_id`` objects if ``positive``, else none.

    Examples
    --------
    >>> render_folder_image(0, 3, True, 0, size=96).shape
    (96, 96, 3)
    """
    rng = np.random.default_rng([seed, _STREAM_FOLDERS, index])
    if positive:
        while True:  # placement on an empty canvas essentially always succeeds
            ids = np.full(int(rng.integers(1, 4)), target_id)
            scene, det = compose_scene(rng, size, ids, distractors=(1, 5))
            if len(det):
                break
    else:
        scene, _ = compose_scene(rng, size, np.zeros(0, np.int64), distractors=(2, 7))
    return apply_conditions(rng, scene)


def _render_job(job: tuple[int, int, bool, int, int, str]) -> None:
    seed, index, positive, target_id, size, path = job
    write_jpeg(Path(path), render_folder_image(seed, index, positive, target_id, size))


def plan_folders(n_images: int, contamination: float,
                 seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Truth and filing per image: ``(is_positive, misfiled)`` boolean arrays.

    Half the images (rounded down) are positives, spread by a seeded permutation;
    exactly ``round(contamination * n_images)`` are misfiled.

    Examples
    --------
    >>> pos, bad = plan_folders(10, 0.2, seed=0)
    >>> int(pos.sum()), int(bad.sum())
    (5, 2)
    """
    rng = np.random.default_rng([seed, _STREAM_FOLDERS])
    positive = rng.permutation(n_images) < n_images // 2
    misfiled = np.zeros(n_images, bool)
    misfiled[rng.permutation(n_images)[:int(round(contamination * n_images))]] = True
    return positive, misfiled


def generate_folders(out: str | Path, *, n_images: int = 400, contamination: float = 0.1,
                     seed: int = 0, size: int = 320, target: str = "cardboard box",
                     quiet: bool = False, workers: int | None = None) -> Path:
    """Write ``out/positive`` and ``out/background`` with a known fraction misfiled.

    Parameters
    ----------
    out : str or Path
        New folder (must not exist, or be empty); written atomically.
    n_images : int
        Images in total, half positives.
    contamination : float
        Fraction of images filed in the wrong folder.
    seed : int
        Seed; same seed, parameters and version give the same bytes.
    size : int
        Square image side in pixels.
    target : str
        The class positives show (one of :data:`CLASS_NAMES`).
    quiet : bool
        No progress bar.
    workers : int, optional
        Worker processes; does not change the output.

    Returns
    -------
    Path
        ``out``; ``out/manifest.json`` holds the misfiled images.

    Examples
    --------
    >>> import json, tempfile
    >>> out = generate_folders(Path(tempfile.mkdtemp()) / "f", n_images=10, quiet=True)
    >>> len(json.loads((out / "manifest.json").read_text())["misfiled"])
    1
    """
    check_params(n_images, seed, size, contamination, "contamination")
    if target not in CLASS_NAMES:
        raise DatasetError(f"target must be one of {CLASS_NAMES}, got {target!r}")
    target_id = CLASS_NAMES.index(target)
    out = Path(out)
    positive, misfiled = plan_folders(n_images, contamination, seed)
    filed_positive = positive ^ misfiled
    with staged_folder(out) as stage:
        for name in FOLDERS:
            (stage / name).mkdir()
        jobs = [(seed, i, bool(positive[i]), target_id, size,
                 str(stage / FOLDERS[0 if filed_positive[i] else 1] / frame_name(i, ".jpg")))
                for i in range(n_images)]
        parallel_map(_render_job, jobs, workers=workers, desc="synth folders", quiet=quiet)
        entries = [{"image": frame_name(i, ".jpg"),
                    "folder": FOLDERS[0 if filed_positive[i] else 1],
                    "true_folder": FOLDERS[0 if positive[i] else 1]}
                   for i in np.flatnonzero(misfiled).tolist()]
        write_json(stage / "manifest.json", {
            "generator": "tecktrack.synth", "kind": "folders", "version": SYNTH_VERSION,
            "seed": seed, "n_images": n_images, "size": size, "contamination": contamination,
            "target": target, "target_id": target_id, "n_positive": int(positive.sum()),
            "n_misfiled": len(entries), "misfiled": entries})
    return out
