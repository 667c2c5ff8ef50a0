"""Ultralytics-style ``data.yaml`` files: the one reader every command uses."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from tecktrack.datasets.images import IMAGE_SUFFIXES, list_images
from tecktrack.errors import DatasetError, FormatError

__all__ = ["DataConfig", "read_data_yaml"]

_SPLITS = ("train", "val", "test")
_REQUIRED_SPLITS = ("train", "val")


@dataclass(frozen=True)
class DataConfig:
    """An ultralytics-style ``data.yaml``, resolved.

    Attributes
    ----------
    path : Path
        The yaml file itself.
    root : Path
        Dataset root: the yaml's ``path:`` resolved against the yaml's folder.
    names : list of str
        Class names, index = class id.
    splits : dict of str to list of Path
        Image files per split (``train``, ``val`` and, when given, ``test``).
    """

    path: Path
    root: Path
    names: list[str]
    splits: dict[str, list[Path]] = field(default_factory=dict)

    @property
    def nc(self) -> int:
        """Number of classes."""
        return len(self.names)


def _yaml_load(path: Path) -> dict:
    import yaml

    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DatasetError("data.yaml not found", path) from None
    except (UnicodeDecodeError, IsADirectoryError) as exc:
        raise FormatError(f"not a readable YAML text file ({exc.__class__.__name__})",
                          path) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = None if mark is None else mark.line + 1
        raise FormatError(f"invalid YAML: {getattr(exc, 'problem', exc)}", path, line) from None
    if not isinstance(data, dict):
        raise FormatError("expected a mapping with path/train/val/names", path)
    return data


def _parse_names(data: dict, path: Path) -> list[str]:
    names = data.get("names")
    nc = data.get("nc")
    if names is None and isinstance(nc, int) and not isinstance(nc, bool) and nc > 0:
        names = [f"class_{i}" for i in range(nc)]  # Ultralytics' names for nc alone
    if isinstance(names, dict) and all(isinstance(k, str) and k.isdigit() and k.isascii()
                                       for k in names):
        names = {int(k): v for k, v in names.items()}  # '0': person, as Ultralytics reads it
    if isinstance(names, dict):
        keys = sorted(names) if all(type(k) is int for k in names) else None
        if keys is None or keys != list(range(len(keys))):
            raise FormatError(f"names: dict keys must be the ids 0..{len(names) - 1}", path)
        names = [names[k] for k in keys]
    if not isinstance(names, list) or not names:
        raise FormatError("names: expected a non-empty list or {id: name} mapping", path)
    nc = data.get("nc", len(names))
    if not isinstance(nc, int) or isinstance(nc, bool):
        raise FormatError(f"nc: expected a whole number, got {nc!r}", path)
    if nc != len(names):
        raise FormatError(f"nc: {nc} but names lists {len(names)} classes", path)
    return [str(n) for n in names]


def _read_list_file(list_file: Path) -> list[Path]:
    images = []
    base = list_file.parent
    # utf-8-sig: a list saved with a byte-order mark (Windows editors) reads as Ultralytics does
    text = list_file.read_text(encoding="utf-8-sig")
    for number, line in enumerate(text.splitlines(), start=1):
        entry = line.strip()
        if not entry:
            continue
        image = _normal(Path(entry) if Path(entry).is_absolute() else base / entry)
        if not image.is_file():
            raise DatasetError(f"listed image not found: {entry}", list_file, number)
        if image.suffix.lower() not in IMAGE_SUFFIXES:
            raise DatasetError(f"listed file is not an image ({image.suffix or 'no suffix'}; "
                               f"images are {', '.join(sorted(IMAGE_SUFFIXES))}): {entry}",
                               list_file, number)
        images.append(image)
    return images


def _normal(path: Path) -> Path:
    """``path`` with ``.`` and ``..`` parts folded (``list/../images/a.jpg`` and
    ``images/a.jpg`` are one image: counted once, compared equal)."""
    return Path(os.path.normpath(path))


def _split_images(entries: object, key: str, root: Path, yaml_path: Path) -> list[Path]:
    if isinstance(entries, (str, Path)):
        entries = [entries]
    if not isinstance(entries, list) or not all(isinstance(e, (str, Path)) for e in entries):
        raise FormatError(f"{key}: expected a folder, a list of folders or a .txt file", yaml_path)
    images: list[Path] = []
    for entry in entries:
        location = _normal(Path(entry) if Path(entry).is_absolute() else root / entry)
        if location.is_dir():
            images.extend(list_images(location))
        elif location.is_file() and location.suffix.lower() == ".txt":
            images.extend(_read_list_file(location))
        elif location.is_file() and location.suffix.lower() in IMAGE_SUFFIXES:
            images.append(location)
        else:
            raise DatasetError(f"{key}: {entry!s} not found (looked for {location})", yaml_path)
    return images


def read_data_yaml(path: str | Path) -> DataConfig:
    """Read an ultralytics-style ``data.yaml`` and list the image files of every split.

    ``path:`` (default: the yaml's folder) is resolved relative to the yaml file.
    ``train`` and ``val`` are required, ``test`` optional; each may be a folder of images
    (searched recursively), a list of folders, an image file, or a ``.txt`` list of image
    paths (relative ones resolved against the list file's folder).

    Raises
    ------
    DatasetError
        The yaml, a split folder or a listed image is missing.
    FormatError
        Invalid YAML, missing ``names`` (and ``nc``) / ``train`` / ``val``, or names that are
        neither a list nor a ``{0: ..., 1: ...}`` mapping. As in Ultralytics, ``nc`` alone
        names the classes ``class_0``..., digit-string keys (``'0': person``) are ids, and
        ``validation:`` stands for ``val:``.

    Examples
    --------
    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp()); (d / "images").mkdir(); (d / "images" / "a.jpg").touch()
    >>> _ = (d / "data.yaml").write_text("path: .\\ntrain: images\\nval: images\\nnames: [cat]\\n")
    >>> cfg = read_data_yaml(d / "data.yaml")
    >>> cfg.names, [p.name for p in cfg.splits["val"]]
    (['cat'], ['a.jpg'])
    """
    path = Path(path).resolve()
    data = _yaml_load(path)
    if "val" not in data and "validation" in data:  # Ultralytics renames it too
        data["val"] = data["validation"]
    names = _parse_names(data, path)
    root_entry = data.get("path") or "."
    root = Path(str(root_entry))
    root = (root if root.is_absolute() else path.parent / root).resolve()
    if not root.is_dir():
        raise DatasetError(f"path: dataset root {root} not found", path)
    splits: dict[str, list[Path]] = {}
    for key in _SPLITS:
        entries = data.get(key)
        if entries in (None, "", []):
            if key in _REQUIRED_SPLITS:
                raise FormatError(f"{key}: missing (train and val are required)", path)
            continue
        splits[key] = _split_images(entries, key, root, path)
    return DataConfig(path=path, root=root, names=names, splits=splits)
