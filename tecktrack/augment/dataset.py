"""Augment chosen images of a dataset: resolve them by stem, run the ops, log every output.

Images are chosen by a folder of images, a text file (one image name, stem or path a line)
or the JSON that ``tecktrack mine --json`` writes (its ``hard_negatives``). Outputs follow
:func:`tecktrack.augment.apply_augmentations`; the log ``augmentations.csv`` lists
source, op, parameters, output files, boxes kept and boxes dropped.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from tecktrack.augment.apply import apply_augmentations, parse_ops
from tecktrack.errors import DatasetError, FormatError
from tecktrack.progress import progress

__all__ = ["augment_dataset", "dataset_images", "select_images"]


def dataset_images(data_yaml: str | Path) -> dict[str, tuple[Path, Path | None]]:
    """Map stem -> (image, label file or None) over every split of a ``data.yaml`` (the first
    image of a stem that names several)."""
    return _scan(data_yaml)[0]


def _scan(data_yaml: str | Path) -> tuple[dict[str, tuple[Path, Path | None]],
                                          dict[str, list[Path]]]:
    """:func:`dataset_images` and the stems naming more than one image file, with those files
    (``train/0.jpg`` and ``val/0.jpg``: augmenting one by its stem would be ambiguous)."""
    from tecktrack.datasets.data_yaml import read_data_yaml
    from tecktrack.datasets.yolo import label_path_for

    config = read_data_yaml(data_yaml)
    found: dict[str, tuple[Path, Path | None]] = {}
    clashes: dict[str, list[Path]] = {}
    for images in config.splits.values():
        for image in images:
            first = found.get(image.stem)
            if first is None:
                label = label_path_for(image)
                found[image.stem] = (image, label if label.is_file() else None)
            elif first[0].resolve() != image.resolve():  # one folder in two splits: no clash
                clashes.setdefault(image.stem, [first[0]])
                if image not in clashes[image.stem]:
                    clashes[image.stem].append(image)
    return found, clashes


def select_images(selection: str | Path, known: dict[str, tuple[Path, Path | None]]) -> list[str]:
    """Stems named by a folder, a list file or a ``mine`` JSON; each must be in ``known``.

    Raises
    ------
    DatasetError / FormatError
        A missing selection, an unreadable JSON, or a name not in the dataset (with line).
    """
    selection = Path(selection)
    if selection.is_dir():
        from tecktrack.datasets.images import list_images

        names = [(p.stem, None) for p in list_images(selection)]
    elif selection.suffix.lower() == ".json":
        names = _from_mine_json(selection)
    elif selection.is_file():
        lines = selection.read_text(encoding="utf-8").splitlines()
        names = [(Path(t.strip()).stem, n) for n, t in enumerate(lines, 1) if t.strip()]
    else:
        raise DatasetError("image selection not found (folder, list file or mine JSON)",
                           selection)
    stems: list[str] = []
    for stem, line in names:
        if stem not in known:
            raise DatasetError(f"image {stem!r} is not in the dataset", selection, line)
        if stem not in stems:
            stems.append(stem)
    if not stems:
        raise DatasetError("no images selected", selection)
    return stems


def augment_dataset(data_yaml: str | Path, stems: list[str], ops: str | Mapping[str, str],
                    out_dir: str | Path, *, seed: int = 0, min_visibility: float = 0.3,
                    quiet: bool = False, cluster: Any = None,
                    shard_size: int = 256) -> pd.DataFrame:
    """Augment the given images of a dataset into ``out_dir``; returns (and writes) the log.

    ``ops`` is one ops string for every image, or a mapping stem -> ops string.
    ``copy_paste`` draws its backgrounds from every image of the dataset. Every label file
    used is checked first (class ids within the data.yaml names, well-formed lines), so a
    bad one is refused, naming its file and line, before anything is written (also with a
    cluster). ``cluster`` (an address or a ``distributed.Client``) augments shards of
    ``shard_size`` images on Dask workers: the same files and log
    (:func:`tecktrack.augment.sharded.augment_sharded`).
    """
    out_dir = Path(out_dir)
    log_path = out_dir / "augmentations.csv"
    if log_path.exists():
        raise DatasetError("refusing to overwrite an existing augmentation log", log_path)
    if not 0.0 <= min_visibility <= 1.0:
        raise FormatError(f"min_visibility must be in [0, 1], got {min_visibility}")
    per_image = {stem: ops if isinstance(ops, str) else ops[stem] for stem in stems}
    for text in set(per_image.values()):
        parse_ops(text)
    from tecktrack.datasets.data_yaml import read_data_yaml

    n_classes = read_data_yaml(data_yaml).nc
    known, clashes = _scan(data_yaml)
    for stem in stems:
        if stem in clashes:
            names = ", ".join(str(p) for p in clashes[stem][:3])
            raise DatasetError(f"image {stem!r} is ambiguous: {len(clashes[stem])} images of "
                               f"the dataset have that name ({names}); outputs are named by "
                               "it", data_yaml)
    needs_bg = any("copy_paste" in text for text in per_image.values())
    backgrounds = list(known.values()) if needs_bg else []
    _check_labels([known[stem][1] for stem in stems] + [b[1] for b in backgrounds], n_classes)
    if cluster is not None:
        from tecktrack.augment.sharded import augment_sharded

        items = [(*known[stem], per_image[stem]) for stem in stems]
        log, _ = augment_sharded(items, out_dir, seed=seed, min_visibility=min_visibility,
                                 backgrounds=backgrounds, n_classes=n_classes,
                                 cluster=cluster, shard_size=shard_size, quiet=quiet)
        log.to_csv(log_path, index=False)
        return log
    frames = []
    before = _files_under(out_dir)
    try:
        for stem in progress(stems, total=len(stems), desc="augmenting", quiet=quiet,
                             unit="img"):
            image, labels = known[stem]
            frames.append(apply_augmentations(image, labels, out_dir, per_image[stem],
                                              seed=seed, min_visibility=min_visibility,
                                              backgrounds=backgrounds, n_classes=n_classes))
    except BaseException:  # an unreadable image half way: take back what this run wrote
        _remove_new_files(out_dir, before)
        raise
    log = pd.concat(frames, ignore_index=True)
    out_dir.mkdir(parents=True, exist_ok=True)
    log.to_csv(log_path, index=False)
    return log


def _files_under(out_dir: Path) -> set[Path] | None:
    """The files of ``out_dir``'s ``images/`` and ``labels/`` now (``None``: no ``out_dir``)."""
    if not out_dir.exists():
        return None
    return {p for sub in ("images", "labels") for p in (out_dir / sub).rglob("*")}


def _remove_new_files(out_dir: Path, before: set[Path] | None) -> None:
    """Remove what a failed run wrote under ``out_dir`` (every output was a new file: existing
    ones are refused), and the folders it made; files that were there before stay."""
    import shutil

    if before is None:
        shutil.rmtree(out_dir, ignore_errors=True)
        return
    for sub in ("images", "labels"):
        made = sorted((out_dir / sub).rglob("*"), reverse=True) if (out_dir / sub).is_dir() \
            else []
        for path in made:
            if path not in before:
                if path.is_dir():
                    path.rmdir()
                else:
                    path.unlink()


def _check_labels(paths: list[Path | None], n_classes: int) -> None:
    """Raise the reader's ``file:line`` error for the first bad label file (sizes do not
    matter to the checks)."""
    from tecktrack.datasets.yolo import read_yolo_labels

    for path in dict.fromkeys(p for p in paths if p is not None):
        read_yolo_labels(path, 1.0, 1.0, n_classes=n_classes)


def _from_mine_json(path: Path) -> list[tuple[str, int | None]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise FormatError(f"invalid JSON: {exc.msg}", path, exc.lineno) from None
    if not isinstance(data, dict) or not isinstance(data.get("hard_negatives"), list):
        raise FormatError("expected the JSON of `tecktrack mine --json` (hard_negatives)", path)
    return [(Path(str(r["image"])).stem, None) for r in data["hard_negatives"]
            if isinstance(r, dict) and "image" in r]
