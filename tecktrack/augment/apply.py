"""Apply named augmentations to image + YOLO label files, writing new files only.

An *ops* string is a comma-separated list; each item is one output. An item is an op name,
optionally with a value after ``:``, and several ops chain with ``+``::

    flip, blur, blur:2.0, resize, resize:0.5, resize:640x480, rotate, rotate:15,
    rotate90, rotate90:2, brightness, brightness:-40, contrast, contrast:1.5, copy_paste

Without a value a parameter is drawn from the op's range with a generator seeded by
``(seed, image name, item index)``, so outputs depend only on those, never on order.
``copy_paste`` pastes the image's objects onto the background of another image drawn from
``backgrounds``. Output files are ``images/<stem>_<item>.<ext>`` and ``labels/<stem>_<item>.txt``
under ``out_dir`` (``:`` in the item becomes ``_``, e.g. ``000042_rotate_15.jpg``); existing
files are never overwritten.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from tecktrack.augment import ops as aug
from tecktrack.augment.copy_paste import copy_paste
from tecktrack.datasets.images import read_image
from tecktrack.detections import Detections
from tecktrack.errors import DatasetError, FormatError

__all__ = ["OP_RANGES", "OpSpec", "apply_augmentations", "augment_image", "parse_ops",
           "read_labels"]

#: Range each random parameter is drawn from (uniform), per op.
OP_RANGES: dict[str, tuple[float, float] | None] = {
    "flip": None,
    "blur": (0.8, 2.5),          # sigma, pixels
    "resize": (0.5, 1.5),        # scale factor
    "rotate": (-30.0, 30.0),     # degrees, counter-clockwise
    "rotate90": (1, 3),          # quarter turns (integer)
    "brightness": (-60.0, 60.0),  # added to 0-255 pixels
    "contrast": (0.6, 1.6),      # factor
    "copy_paste": None,
}


@dataclass(frozen=True)
class OpSpec:
    """One op of an item: its name and optional fixed value (text as given)."""

    name: str
    value: str | None = None

    def __str__(self) -> str:
        return self.name if self.value is None else f"{self.name}:{self.value}"


def parse_ops(text: str | Sequence[str]) -> list[list[OpSpec]]:
    """Parse ``"flip,rotate:15,blur+contrast"`` into items of chained ops.

    Examples
    --------
    >>> [[str(o) for o in item] for item in parse_ops("flip,rotate:15,blur+contrast")]
    [['flip'], ['rotate:15'], ['blur', 'contrast']]
    """
    items = text.split(",") if isinstance(text, str) else list(text)
    out = []
    for item in (i.strip() for i in items):
        if not item:
            continue
        chain = []
        for part in item.split("+"):
            name, _, value = part.strip().partition(":")
            if name not in OP_RANGES:
                raise FormatError(f"unknown augmentation {name!r}; known: {', '.join(OP_RANGES)}")
            if value and OP_RANGES[name] is None:
                raise FormatError(f"augmentation {name!r} takes no value, got {value!r}")
            if value:
                _check_value(name, value)
            chain.append(OpSpec(name, value or None))
        out.append(chain)
    if not out:
        raise FormatError("no augmentation given (e.g. --ops flip,rotate)")
    return out


def augment_image(image: np.ndarray, labels: Detections, chain: Sequence[OpSpec],
                  rng: np.random.Generator, *, min_visibility: float = 0.3,
                  background: tuple[np.ndarray, Detections] | None = None
                  ) -> tuple[aug.Augmented, dict[str, float | str]]:
    """Apply a chain of ops in memory; return the result and the parameters used.

    Examples
    --------
    >>> img = np.zeros((10, 20, 3), np.uint8)
    >>> out, params = augment_image(img, Detections([[2, 1, 5, 4]], [0]),
    ...                             parse_ops("flip+rotate90:1")[0], np.random.default_rng(0))
    >>> out.image.shape, params
    ((20, 10, 3), {'flip': '', 'rotate90': 1.0})
    """
    result = aug.Augmented(image, labels, 0)
    params: dict[str, float | str] = {}
    for op in chain:
        value = _value(op, rng)
        params[op.name] = value
        step = _OPS[op.name](result, value, min_visibility, background, rng)
        result = aug.Augmented(step.image, step.labels, result.dropped + step.dropped)
    return result, params


def apply_augmentations(image: str | Path, labels: str | Path | None, out_dir: str | Path,
                        ops: str | Sequence[str], *, seed: int = 0, min_visibility: float = 0.3,
                        backgrounds: Sequence[tuple[Path, Path | None]] = (),
                        n_classes: int | None = None) -> pd.DataFrame:
    """Augment one image file and its YOLO labels; write one new image + label file per item.

    Parameters
    ----------
    image : str or Path
        Source image (never modified).
    labels : str or Path or None
        Its YOLO label file; ``None`` or a missing file means no objects.
    out_dir : str or Path
        Outputs go to ``out_dir/images`` and ``out_dir/labels``.
    ops : str or sequence of str
        Items, see the module docstring.
    seed : int
        Seed of every random parameter.
    min_visibility : float
        Rotation drops boxes keeping less than this fraction inside the image.
    backgrounds : sequence of (image, labels) paths
        Candidate targets for ``copy_paste`` (the source itself is skipped).
    n_classes : int, optional
        Number of class names: a label line with a class id beyond them is refused (nothing
        is copied into new label files that the dataset cannot name).

    Returns
    -------
    DataFrame
        One row per output: ``source, op, params, image, labels, boxes, dropped``.

    Raises
    ------
    FormatError
        Unreadable image or bad label line (nothing is written then).
    DatasetError
        An output file that already exists (nothing is written then).
    """
    image, out_dir = Path(image), Path(out_dir)
    pixels = read_image(image)
    det = read_labels(labels, pixels, n_classes)
    chains = parse_ops(ops)
    targets = [_outputs(image, out_dir, chain) for chain in chains]
    _refuse_existing(image, labels, targets)
    rows = []
    for index, (chain, (img_out, lbl_out)) in enumerate(zip(chains, targets, strict=True)):
        rng = np.random.default_rng([seed, zlib.crc32(image.stem.encode()), index])
        background = _pick_background(chain, image, backgrounds, rng, n_classes)
        result, params = augment_image(pixels, det, chain, rng, min_visibility=min_visibility,
                                       background=background)
        _write(img_out, lbl_out, result)
        rows.append({"source": image.name, "op": "+".join(str(o) for o in chain),
                     "params": json.dumps(params), "image": str(img_out),
                     "labels": str(lbl_out), "boxes": len(result.labels),
                     "dropped": result.dropped})
    return pd.DataFrame(rows, columns=["source", "op", "params", "image", "labels", "boxes",
                                       "dropped"])



def read_labels(path: str | Path | None, pixels: np.ndarray,
                n_classes: int | None = None) -> Detections:
    """YOLO labels of an image in pixels; no file means no objects; class ids must lie in
    ``[0, n_classes)`` when it is given."""
    from tecktrack.datasets.yolo import read_yolo_labels

    if path is None or not Path(path).is_file():
        return Detections.empty(with_scores=False)
    return read_yolo_labels(path, pixels.shape[1], pixels.shape[0], n_classes=n_classes)


# -- ops ------------------------------------------------------------------------------------
def _check_value(name: str, value: str) -> None:
    try:
        if name == "resize" and "x" in value:
            w, h = (int(v) for v in value.split("x"))
            ok = w > 0 and h > 0
        else:
            number = float(value)
            ok = np.isfinite(number) and (name not in ("resize", "blur") or number > 0) \
                and (name != "contrast" or number >= 0)
    except ValueError:
        ok = False
    if not ok:
        raise FormatError(f"bad value {value!r} for augmentation {name!r}")


def _value(op: OpSpec, rng: np.random.Generator) -> float | str:
    bounds = OP_RANGES[op.name]
    if bounds is None:
        return ""
    if op.value is not None:
        return op.value if "x" in op.value else float(op.value)
    if op.name == "rotate90":
        return int(rng.integers(bounds[0], bounds[1] + 1))
    return round(float(rng.uniform(*bounds)), 3)


def _resize(a: aug.Augmented, value, *_) -> aug.Augmented:
    h, w = a.image.shape[:2]
    if isinstance(value, str):
        width, height = (int(v) for v in value.split("x"))
    else:
        width, height = max(1, round(w * value)), max(1, round(h * value))
    return aug.resize(a.image, a.labels, width, height)


def _copy_paste(a: aug.Augmented, value, min_vis, background, rng) -> aug.Augmented:
    if background is None:
        raise DatasetError("copy_paste needs at least one other image as background")
    seed = int(rng.integers(2**31))
    return copy_paste(a.image, a.labels, background[0], background[1], seed=seed)


_OPS: dict[str, Callable[..., aug.Augmented]] = {
    "flip": lambda a, v, *_: aug.hflip(a.image, a.labels),
    "blur": lambda a, v, *_: aug.gaussian_blur(a.image, a.labels, float(v)),
    "resize": _resize,
    "rotate": lambda a, v, mv, *_: aug.rotate(a.image, a.labels, float(v), min_visibility=mv),
    "rotate90": lambda a, v, *_: aug.rotate90(a.image, a.labels, int(v)),
    "brightness": lambda a, v, *_: aug.brightness(a.image, a.labels, float(v)),
    "contrast": lambda a, v, *_: aug.contrast(a.image, a.labels, float(v)),
    "copy_paste": _copy_paste,
}


# -- files ----------------------------------------------------------------------------------
def _outputs(image: Path, out_dir: Path, chain: Sequence[OpSpec]) -> tuple[Path, Path]:
    name = f"{image.stem}_{'+'.join(str(o) for o in chain)}".replace(":", "_")
    return out_dir / "images" / f"{name}{image.suffix}", out_dir / "labels" / f"{name}.txt"


def _refuse_existing(image: Path, labels: str | Path | None,
                     targets: list[tuple[Path, Path]]) -> None:
    inputs = {image.resolve()} | ({Path(labels).resolve()} if labels is not None else set())
    flat = [p for pair in targets for p in pair]
    if len(set(flat)) != len(flat):
        raise DatasetError("two augmentations would write the same file; give them "
                           "different values", flat[0].parent)
    for path in flat:
        if path.exists() or path.resolve() in inputs:
            raise DatasetError("refusing to overwrite an existing file", path)


def _pick_background(chain: Sequence[OpSpec], image: Path,
                     backgrounds: Sequence[tuple[Path, Path | None]],
                     rng: np.random.Generator,
                     n_classes: int | None = None) -> tuple[np.ndarray, Detections] | None:
    if not any(op.name == "copy_paste" for op in chain):
        return None
    others = [b for b in backgrounds if Path(b[0]).resolve() != image.resolve()]
    if not others:
        raise DatasetError("copy_paste needs at least one other image as background", image)
    img_path, lbl_path = others[int(rng.integers(len(others)))]
    pixels = read_image(img_path)
    return pixels, read_labels(lbl_path, pixels, n_classes)


def _write(img_out: Path, lbl_out: Path, result: aug.Augmented) -> None:
    from tecktrack.datasets.yolo import write_yolo_labels

    img_out.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(img_out), result.image):
        raise DatasetError("could not write image", img_out)
    h, w = result.image.shape[:2]
    labels = Detections(result.labels.xyxy, result.labels.class_ids)
    write_yolo_labels(lbl_out, labels, w, h)
