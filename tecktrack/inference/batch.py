"""Run a model over image files: YOLO prediction files, annotated images, a timed summary.

Used by ``tecktrack predict``. Output layout under ``out``::

    labels/<stem>.txt     class cx cy w h conf (empty file when nothing was detected)
    images/<name>         annotated copies (with save_images)
    summary.json          counts and mean milliseconds per image by stage
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from tecktrack.datasets.images import read_image
from tecktrack.detections import Detections
from tecktrack.errors import DatasetError, FormatError
from tecktrack.inference.writer import save_predictions
from tecktrack.model.core import Model
from tecktrack.model.overlap import overlapped
from tecktrack.progress import progress

__all__ = ["STAGES", "Clock", "predict_images", "predict_loop", "source_images", "write_summary"]

#: Timed stages, in pipeline order ("read" decodes the image file).
STAGES = ("read", "preprocess", "forward", "decode", "nms", "write")


def source_images(source: str | Path) -> tuple[list[Path], Path]:
    """The images of ``source`` (one image file, or a folder searched recursively) and its root.

    Raises
    ------
    DatasetError
        If the source is missing, holds no images, is not an image file, or two images
        would write the same label file.

    Examples
    --------
    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp()); (d / "a.jpg").touch()
    >>> [p.name for p in source_images(d)[0]]
    ['a.jpg']
    """
    from tecktrack.datasets.images import IMAGE_SUFFIXES, list_images

    source = Path(source)
    if source.is_file():
        if source.suffix.lower() not in IMAGE_SUFFIXES:
            raise DatasetError(f"not an image file (expected one of "
                               f"{', '.join(sorted(IMAGE_SUFFIXES))})", source)
        return [source], source.parent
    if not source.exists():
        raise DatasetError("source not found", source)
    images = list_images(source)
    if not images:
        raise DatasetError("no images in the folder", source)
    _check_unique_labels(images, source)
    return images, source


def _label_relpath(image: Path, root: Path) -> Path:
    return image.relative_to(root).with_suffix(".txt")


def _check_unique_labels(images: list[Path], root: Path) -> None:
    seen: dict[Path, Path] = {}
    for image in images:
        rel = _label_relpath(image, root)
        if rel in seen:
            raise DatasetError(f"{seen[rel].name} and {image.name} would both write "
                               f"labels/{rel.as_posix()}; rename one", image.parent)
        seen[rel] = image



class Clock:
    """Accumulates seconds per stage."""

    def __init__(self) -> None:
        self.total = dict.fromkeys(STAGES, 0.0)
        self._last = time.perf_counter()

    def restart(self) -> None:
        """The next :meth:`lap` counts from now (time spent waiting is no stage's)."""
        self._last = time.perf_counter()

    def lap(self, stage: str) -> None:
        now = time.perf_counter()
        self.total[stage] += now - self._last
        self._last = now


def _predict_one(model: Model, frame: np.ndarray, label_path: Path, annotated: Path | None,
                 clock: Clock) -> Detections:
    blob, info = model.preprocess(frame)
    clock.lap("preprocess")
    outputs = model.forward(blob)
    clock.lap("forward")
    candidates = model.decode_batch(outputs, [info])[0]
    clock.lap("decode")
    detections = model.suppress(candidates, info)
    clock.lap("nms")
    save_predictions(frame, detections, model.names, label_path, annotated)
    clock.lap("write")
    return detections


def predict_images(model: Model, images: list[Path], root: Path, out: str | Path, *,
                   save_images: bool = False, quiet: bool = False, cluster: Any = None,
                   shard_size: int = 256, overlap: bool | None = None) -> dict:
    """Predict every image, write labels (and annotated images) and ``summary.json``.

    Parameters
    ----------
    model : Model
        The detector.
    images : list of Path
        Image files (from :func:`source_images`).
    root : Path
        Folder the images are relative to (label sub-folders mirror it).
    out : str or Path
        Output folder (created).
    save_images : bool
        Also write annotated images under ``out/images``.
    quiet : bool
        No progress bar.
    cluster : str or distributed.Client, optional
        Run on Dask workers (``local``, ``local:N``, a scheduler address or a client): the
        same files byte for byte (see :func:`tecktrack.inference.sharded.predict_sharded`).
    shard_size : int
        Images per shard on a cluster.
    overlap : bool, optional
        Decode the next image on this thread while a helper thread predicts and writes the
        last one (:func:`predict_loop`); ``None``: :attr:`Model.overlap` (on where the process
        may use more than one core). The same files either way. Cluster workers (one core
        each) do not overlap.

    Returns
    -------
    dict
        The summary written to ``out/summary.json``. Images that cannot be decoded are
        listed under ``unreadable`` and get no label file. ``mean_ms_per_image`` holds each
        stage's time (with the overlap, read and the rest run at once, so their sum is more
        than the ``wall_ms_per_image`` the run took).

    Examples
    --------
    >>> summary = predict_images(model, *source_images("photos"), "runs/p1")  # doctest: +SKIP
    >>> summary["images"], summary["mean_ms_per_image"]["forward"]           # doctest: +SKIP
    (128, 2.1)
    """
    refuse_overwriting_sources(images, root, out, save_images)
    if cluster is not None:
        from tecktrack.inference.sharded import predict_sharded

        return predict_sharded(model, images, root, out, save_images=save_images, quiet=quiet,
                               cluster=cluster, shard_size=shard_size)
    out = Path(out)
    overlap = model.overlap if overlap is None else bool(overlap)
    clock, per_class = Clock(), Counter()
    bar = progress(images, total=len(images), desc="predict", quiet=quiet, unit="img")
    start = time.perf_counter()
    n_done, unreadable = predict_loop(model, bar, root, out, save_images, clock, per_class,
                                      overlap=overlap)
    return write_summary(model, out, n_done, per_class, unreadable, clock.total,
                         wall_seconds=time.perf_counter() - start, overlap=overlap)


def refuse_overwriting_sources(images: list[Path], root: Path, out: str | Path,
                               save_images: bool) -> None:
    """Raise before anything is written when ``--save-images`` would write an annotated copy
    onto an input image (copies go to ``out/images/<path under root>``: the image itself
    when ``out`` is the dataset's root and the images sit in its ``images/``).

    Examples
    --------
    >>> refuse_overwriting_sources([Path("/d/images/a.jpg")], Path("/d/images"), "/d", True)
    Traceback (most recent call last):
    ...
    tecktrack.errors.DatasetError: /d/images/a.jpg: --save-images would overwrite ...
    """
    if not save_images:
        return
    out = Path(out).resolve()
    sources = {Path(image).resolve() for image in images}
    for image in images:
        target = out / "images" / Path(image).relative_to(root)
        if target.resolve() in sources:
            raise DatasetError("--save-images would overwrite this source image with its "
                               "annotated copy; choose another --out", target)


def predict_loop(model: Model, images: Iterable[Path], root: Path, out: Path,
                 save_images: bool, clock: Clock, per_class: Counter,
                 overlap: bool = False) -> tuple[int, list[str]]:
    """Predict and write each image under ``out``; count classes; return (done, unreadable).

    With ``overlap``, image ``k + 1`` is decoded on the calling thread while a helper thread
    predicts image ``k`` and writes its files (:func:`~tecktrack.model.overlap.overlapped`
    with the decoding as the in-order step). The decoding stays on the calling thread
    because :func:`~tecktrack.datasets.images.decode_image` points the process's stderr at
    its sink meanwhile: there it never catches a progress bar's line. ``images`` must have a
    length (a list, or a progress bar over one).
    """
    files = iter(images)
    unreadable: list[str] = []
    done = [0]

    def read(_: int) -> tuple[Path, np.ndarray | FormatError]:
        image = next(files)  # on the calling thread: a progress bar advances here
        clock.restart()
        try:
            frame: np.ndarray | FormatError = read_image(image)
        except FormatError as exc:
            frame = exc
        clock.lap("read")
        return image, frame

    def finish(_: int, __: int, read_one: tuple[Path, np.ndarray | FormatError]) -> None:
        image, frame = read_one
        if isinstance(frame, FormatError):
            unreadable.append(str(frame))
            return
        rel = image.relative_to(root)
        own = Clock()  # this step's stages; "read" belongs to the calling thread's clock
        det = _predict_one(model, frame, out / "labels" / rel.with_suffix(".txt"),
                           out / "images" / rel if save_images else None, own)
        for stage in STAGES[1:]:
            clock.total[stage] += own.total[stage]
        done[0] += 1
        per_class.update(model.names[c] for c in det.class_ids.tolist())

    overlapped(len(images), lambda k: k, read, finish, overlap=overlap)
    for _ in files:  # ends (and clears) a progress bar
        pass
    return done[0], unreadable


def write_summary(model: Model, out: Path, n_done: int, per_class: Counter,
                  unreadable: list[str], stage_seconds: dict[str, float], *,
                  wall_seconds: float | None = None, overlap: bool = False) -> dict:
    """Write ``out/summary.json`` from counts and per-stage seconds; return the summary.

    ``wall_seconds`` (the whole run) adds ``wall_ms_per_image``; ``overlap`` says whether
    decoding ran beside the rest (:func:`predict_loop`).
    """
    clock = Clock()
    clock.total.update(stage_seconds)
    summary = _summary(model, n_done, per_class, unreadable, clock)
    summary["overlap"] = bool(overlap)
    if wall_seconds is not None:
        summary["wall_ms_per_image"] = round(1000 * wall_seconds / max(n_done, 1), 3)
    out.mkdir(parents=True, exist_ok=True)
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return summary


def _summary(model: Model, n_done: int, per_class: Counter, unreadable: list[str],
             clock: Clock) -> dict:
    mean_ms = {k: round(1000 * v / max(n_done, 1), 3) for k, v in clock.total.items()}
    mean_ms["total"] = round(sum(mean_ms.values()), 3)
    return {
        "model": str(model.paths.weights),
        "backend": model.backend_name,
        "layout": model.layout,
        "input_size": list(model.input_size),
        "conf": model.conf,
        "iou": model.iou,
        "images": n_done,
        "unreadable": unreadable,
        "detections": sum(per_class.values()),
        "detections_per_class": dict(sorted(per_class.items())),
        "mean_ms_per_image": mean_ms,
    }
