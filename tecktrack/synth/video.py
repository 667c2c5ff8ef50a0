"""A synthetic video: objects moving across a cluttered scene, with per-frame YOLO labels.

Files written by :func:`generate_video` for ``OUT_DIR/NAME.mp4``::

    OUT_DIR/NAME.mp4              mp4v (MPEG-4 part 2) via cv2.VideoWriter
    OUT_DIR/labels/NNNNNN.txt     YOLO labels of frame NNNNNN (empty file: nothing visible)
    OUT_DIR/gt.txt                the same boxes as MOTChallenge ground truth with one
                                  persistent id per object (frame NNNNNN is MOT frame N + 1)
    OUT_DIR/NAME.json             generator, version, seed, fps, frames, size, class names

A few objects stand still, the others enter from the left or right edge at their own time
and cross the frame at 1-4 px per frame, each at its own depth, so they occlude one
another. Lighting drifts slowly and every frame has fresh sensor noise. A moving object is
labelled, with the tight box of its visible pixels, while at least
:data:`VIDEO_MIN_VISIBLE` of it is visible (through occlusion and the frame edge).

``gt.txt`` rows are ``frame,id,x,y,w,h,1,class,visibility``: ids are 1-based and belong to
one object for the whole video (it keeps its id while hidden or cut and across crossings),
``class`` is the TeckTrack class id (0-based, as in the YOLO labels) and ``visibility`` the
visible fraction of the object's pixels. The rows hold exactly the boxes of the labels.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from tecktrack.datasets.mot import MotRows, format_mot
from tecktrack.datasets.yolo import write_yolo_labels
from tecktrack.detections import Detections, xyxy_to_xywh
from tecktrack.errors import DatasetError, StreamError
from tecktrack.progress import progress
from tecktrack.synth._io import frame_name, refuse_existing, write_json
from tecktrack.synth.backgrounds import paint_distractors, render_background
from tecktrack.synth.dataset import SYNTH_VERSION, check_params
from tecktrack.synth.objects import CLASS_NAMES
from tecktrack.synth.scene import Canvas, make_object, sample_classes

#: Least visible fraction for a video object to be labelled.
VIDEO_MIN_VISIBLE = 0.3
_STREAM_VIDEO = 3
_MIN_VIDEO_SIDE = 16


@dataclass(frozen=True)
class Actor:
    """One object of the video: its look and its straight-line motion."""

    class_id: int
    patch: np.ndarray
    mask: np.ndarray
    start: int
    x0: float
    y0: float
    vx: float
    vy: float

    def position(self, t: int) -> tuple[int, int] | None:
        """Top-left corner at frame ``t``, or None before the actor enters."""
        if t < self.start:
            return None
        dt = t - self.start
        return int(round(self.x0 + self.vx * dt)), int(round(self.y0 + self.vy * dt))


def _look(rng: np.random.Generator, class_id: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    patch, mask = make_object(rng, class_id, height)
    grow = _MIN_VIDEO_SIDE / min(mask.shape)
    if grow > 1:
        size = (int(round(mask.shape[1] * grow)), int(round(mask.shape[0] * grow)))
        patch = cv2.resize(patch, size, interpolation=cv2.INTER_LINEAR)
        mask = cv2.resize(mask, size, interpolation=cv2.INTER_NEAREST)
    return patch, mask


def make_actors(rng: np.random.Generator, frames: int, width: int, height: int) -> list[Actor]:
    """Actors back to front: 2 static ones, plus one entering about every 25 frames.

    Examples
    --------
    >>> actors = make_actors(np.random.default_rng(0), 50, 160, 96)
    >>> len(actors) >= 3
    True
    """
    n_moving = max(2, frames // 25 + 2)
    classes = sample_classes(rng, n_moving + 2)
    actors = []
    for k, class_id in enumerate(classes.tolist()):
        patch, mask = _look(rng, class_id, height)
        h, w = mask.shape
        y0 = rng.uniform(-0.1 * h, max(height - 0.9 * h, 1))
        if k < 2:
            x0, vx, vy, start = rng.uniform(0, max(width - w, 1)), 0.0, 0.0, 0
        else:
            vx = rng.uniform(1.0, 4.0) * (1 if rng.random() < 0.5 else -1)
            vy = rng.uniform(-0.3, 0.3)
            x0 = -w if vx > 0 else width
            start = 0 if k < 4 else int(rng.integers(0, max(frames - 20, 1)))
            if k < 4:  # already in view at the first frame
                x0 = rng.uniform(0, max(width - w, 1))
        actors.append(Actor(int(class_id), patch, mask, start, x0, y0, vx, vy))
    order = rng.permutation(len(actors))
    return [actors[i] for i in order]


def _frame(rng: np.random.Generator, background: np.ndarray, actors: list[Actor], t: int,
           gain: float) -> tuple[np.ndarray, Canvas, np.ndarray]:
    """The frame, its canvas, and the actor index of each painted canvas object."""
    canvas = Canvas(background.copy())
    painted = []
    for k, actor in enumerate(actors):
        pos = actor.position(t)
        if pos is not None and canvas.paint(actor.patch, actor.mask, pos[0], pos[1],
                                            actor.class_id, force=True):
            painted.append(k)
    f = canvas.image.astype(np.float32) * np.float32(gain)
    f += rng.standard_normal(f.shape[:2] + (1,), dtype=np.float32) * np.float32(3.0)
    return np.clip(f, 0, 255).astype(np.uint8), canvas, np.asarray(painted, np.int64)


def _mot_rows(t: int, canvas: Canvas, painted: np.ndarray, labels: Detections) -> MotRows:
    """Frame ``t``'s labelled boxes as MOT ground truth (id = actor index + 1)."""
    kept = np.asarray(canvas.kept(VIDEO_MIN_VISIBLE), np.int64)
    visible = np.asarray(canvas.visible, np.float64)[kept]
    totals = np.asarray(canvas.totals, np.float64)[kept]
    return MotRows.from_arrays(np.full(len(kept), t + 1), painted[kept] + 1,
                               xyxy_to_xywh(labels.xyxy.astype(np.float64)),
                               classes=labels.class_ids, visibility=visible / totals)


def _paths(out_mp4: Path) -> dict[str, Path]:
    return {"video": out_mp4, "labels": out_mp4.parent / "labels",
            "meta": out_mp4.with_suffix(".json"), "gt": out_mp4.parent / "gt.txt"}


def generate_video(out_mp4: str | Path, *, frames: int = 300, fps: float = 25, seed: int = 0,
                   size: tuple[int, int] = (480, 320), quiet: bool = False) -> Path:
    """Write an mp4 of objects moving across a scene and per-frame YOLO labels beside it.

    Parameters
    ----------
    out_mp4 : str or Path
        The video file to create (``.mp4``). Labels go to ``<its folder>/labels/`` and the
        metadata to ``<its folder>/<stem>.json``; none of these may exist yet.
    frames : int
        Number of frames.
    fps : float
        Frame rate written into the file.
    seed : int
        Seed; the same seed and parameters give the same frames and labels.
    size : (int, int)
        Frame ``(width, height)`` in pixels (even numbers suit most players).
    quiet : bool
        No progress bar.

    Returns
    -------
    Path
        ``out_mp4``.

    Examples
    --------
    >>> import tempfile
    >>> p = generate_video(Path(tempfile.mkdtemp()) / "v.mp4", frames=5, size=(128, 96),
    ...                    quiet=True)
    >>> sorted(f.name for f in (p.parent / "labels").iterdir())[-1]
    '000004.txt'
    """
    width, height = (int(v) for v in size)
    check_params(frames, seed, min(width, height), count_name="frames")
    if fps <= 0:
        raise DatasetError(f"fps must be > 0, got {fps}")
    out_mp4 = Path(out_mp4)
    if out_mp4.suffix.lower() != ".mp4":
        raise DatasetError("the video file name must end in .mp4", out_mp4)
    paths = _paths(out_mp4)
    for path in paths.values():
        refuse_existing(path)
    out_mp4.parent.mkdir(parents=True, exist_ok=True)
    stage = out_mp4.parent / f".{out_mp4.stem}.partial-{os.getpid()}"
    shutil.rmtree(stage, ignore_errors=True)
    (stage / "labels").mkdir(parents=True)
    try:
        _render(stage, frames, fps, seed, width, height, quiet)
        write_json(stage / "meta.json", {
            "generator": "tecktrack.synth", "kind": "video", "version": SYNTH_VERSION,
            "seed": seed, "frames": frames, "fps": fps, "size": [width, height],
            "video": out_mp4.name, "labels": "labels", "gt": "gt.txt",
            "names": list(CLASS_NAMES)})
        (stage / "video.mp4").rename(paths["video"])
        (stage / "labels").rename(paths["labels"])
        (stage / "gt.txt").rename(paths["gt"])
        (stage / "meta.json").rename(paths["meta"])
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    return out_mp4


def _render(stage: Path, frames: int, fps: float, seed: int, width: int, height: int,
            quiet: bool) -> None:
    rng = np.random.default_rng([seed, _STREAM_VIDEO])
    background = render_background(rng, width, height)
    paint_distractors(rng, background, int(rng.integers(2, 6)))
    actors = make_actors(rng, frames, width, height)
    phase, period = rng.uniform(0, 2 * np.pi), rng.uniform(150, 400)
    writer = cv2.VideoWriter(str(stage / "video.mp4"), cv2.VideoWriter_fourcc(*"mp4v"),
                             float(fps), (width, height))
    if not writer.isOpened():
        raise StreamError("OpenCV cannot write mp4v video here", stage / "video.mp4")
    gt = open(stage / "gt.txt", "x", encoding="utf-8")  # noqa: SIM115 - closed below
    try:
        for t in progress(range(frames), total=frames, desc="synth video", quiet=quiet):
            gain = 1.0 + 0.25 * np.sin(phase + 2 * np.pi * t / period)
            image, canvas, painted = _frame(np.random.default_rng([seed, _STREAM_VIDEO, t]),
                                            background, actors, t, gain)
            writer.write(image)
            labels = canvas.detections(VIDEO_MIN_VISIBLE)
            write_yolo_labels(stage / "labels" / frame_name(t, ".txt"), labels, width, height)
            gt.write(format_mot(_mot_rows(t, canvas, painted, labels), tracker=False))
    finally:
        writer.release()
        gt.close()
