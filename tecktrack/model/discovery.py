"""Find the files that make up a model: ONNX, or Darknet cfg + weights, plus class names.

A model is a folder (``models/<name>/`` or any folder) or a single file path
(``.onnx``, ``.cfg`` or ``.weights``). Next to the weights TeckTrack looks for an optional
``model.yaml`` and an optional ``*.names`` file (one class name a line).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tecktrack.errors import ModelError
from tecktrack.paths import models_dir

__all__ = ["ModelPaths", "find_file_with_extension", "pytorch_refusal", "set_model_paths"]

MODEL_YAML = "model.yaml"


@dataclass(frozen=True)
class ModelPaths:
    """The files of one model.

    Attributes
    ----------
    folder : Path
        The folder holding the model files.
    weights : Path
        The ``.onnx`` file, or the Darknet ``.weights`` file.
    config : Path or None
        The Darknet ``.cfg`` file; ``None`` for ONNX models.
    names_file : Path or None
        A ``*.names`` file with one class name a line, if there is one.
    model_yaml : Path or None
        ``model.yaml`` beside the weights, if there is one.
    """

    folder: Path
    weights: Path
    config: Path | None = None
    names_file: Path | None = None
    model_yaml: Path | None = None

    @property
    def kind(self) -> str:
        """``"darknet"`` for cfg + weights, else ``"onnx"``."""
        return "darknet" if self.config is not None else "onnx"


def find_file_with_extension(folder: str | Path, extension: str, *,
                             required: bool = False) -> Path | None:
    """The one file in ``folder`` whose name ends with ``extension`` (case-insensitive).

    Parameters
    ----------
    folder : str or Path
        Folder to search (not recursive).
    extension : str
        Suffix with or without the dot, e.g. ``"onnx"`` or ``".names"``.
    required : bool
        Raise when there is no such file instead of returning ``None``.

    Returns
    -------
    Path or None
        The file, or ``None`` when there is none and ``required`` is false.

    Raises
    ------
    ModelError
        If several files match (ambiguous), or none matches and ``required`` is set.

    Examples
    --------
    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp()); (d / "net.onnx").touch()
    >>> find_file_with_extension(d, "onnx").name
    'net.onnx'
    >>> find_file_with_extension(d, ".names") is None
    True
    """
    folder = Path(folder)
    suffix = "." + extension.lower().lstrip(".")
    matches = sorted(p for p in folder.iterdir() if p.is_file() and p.name.lower().endswith(suffix))
    if len(matches) > 1:
        listed = ", ".join(p.name for p in matches)
        raise ModelError(f"several *{suffix} files ({listed}); keep one or pass the file path",
                         folder)
    if not matches:
        if required:
            raise ModelError(f"no *{suffix} file in the model folder", folder)
        return None
    return matches[0]


def _names_file_for(folder: Path, stem: str | None) -> Path | None:
    if stem is not None and (folder / f"{stem}.names").is_file():
        return folder / f"{stem}.names"
    return find_file_with_extension(folder, "names")


def _optional_yaml(folder: Path) -> Path | None:
    path = folder / MODEL_YAML
    return path if path.is_file() else None


def _darknet_pair(folder: Path, cfg: Path | None, weights: Path | None) -> tuple[Path, Path]:
    if cfg is None and weights is not None and weights.with_suffix(".cfg").is_file():
        cfg = weights.with_suffix(".cfg")
    if weights is None and cfg is not None and cfg.with_suffix(".weights").is_file():
        weights = cfg.with_suffix(".weights")
    cfg = cfg or find_file_with_extension(folder, "cfg", required=True)
    weights = weights or find_file_with_extension(folder, "weights", required=True)
    return cfg, weights


def pytorch_refusal(path: Path) -> ModelError:
    """The error for a PyTorch checkpoint, with the export command that makes it usable.

    Examples
    --------
    >>> print(pytorch_refusal(Path("runs/best.pt")).message)  # doctest: +ELLIPSIS
    a PyTorch checkpoint ... yolo export model=runs/best.pt format=onnx
    """
    return ModelError("a PyTorch checkpoint cannot be run here (TeckTrack needs no torch); "
                      "export it to ONNX first with Ultralytics: "
                      f"yolo export model={path.as_posix()} format=onnx", path)


def _from_folder(folder: Path) -> ModelPaths:
    onnx = find_file_with_extension(folder, "onnx")
    if onnx is not None:
        return ModelPaths(folder, onnx, None, _names_file_for(folder, onnx.stem),
                          _optional_yaml(folder))
    checkpoint = find_file_with_extension(folder, "pt")
    if find_file_with_extension(folder, "cfg") is None and checkpoint is not None:
        raise pytorch_refusal(checkpoint)
    if find_file_with_extension(folder, "cfg") is None:
        raise ModelError("no model found: expected a *.onnx file or a *.cfg + *.weights pair",
                         folder)
    cfg, weights = _darknet_pair(folder, None, None)
    return ModelPaths(folder, weights, cfg, _names_file_for(folder, cfg.stem),
                      _optional_yaml(folder))


def _from_file(path: Path) -> ModelPaths:
    folder = path.parent
    suffix = path.suffix.lower()
    if suffix == ".onnx":
        return ModelPaths(folder, path, None, _names_file_for(folder, path.stem),
                          _optional_yaml(folder))
    if suffix in (".cfg", ".weights"):
        cfg, weights = _darknet_pair(folder, path if suffix == ".cfg" else None,
                                     path if suffix == ".weights" else None)
        return ModelPaths(folder, weights, cfg, _names_file_for(folder, cfg.stem),
                          _optional_yaml(folder))
    if suffix == ".pt":
        raise pytorch_refusal(path)
    raise ModelError("unsupported model file: expected .onnx, .cfg or .weights", path)


def set_model_paths(name_or_path: str | Path) -> ModelPaths:
    """Resolve a model name (``models/<name>``) or a folder/file path to its files.

    Parameters
    ----------
    name_or_path : str or Path
        A model name under :func:`tecktrack.paths.models_dir`, a folder holding a model,
        or a ``.onnx`` / ``.cfg`` / ``.weights`` file.

    Returns
    -------
    ModelPaths

    Raises
    ------
    ModelError
        If nothing matches, or the folder's contents are missing or ambiguous.

    Examples
    --------
    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp()); (d / "tiny.cfg").touch(); (d / "tiny.weights").touch()
    >>> (d / "coco.names").touch()
    >>> p = set_model_paths(d)
    >>> p.kind, p.config.name, p.names_file.name
    ('darknet', 'tiny.cfg', 'coco.names')
    """
    path = Path(name_or_path).expanduser()
    if not path.exists():
        named = models_dir() / str(name_or_path)
        if named.exists():
            path = named
        else:
            known = sorted(p.name for p in models_dir().glob("*") if p.is_dir())
            hint = f"; models in {models_dir()}: {', '.join(known)}" if known else ""
            raise ModelError(f"no such model file, folder or model name{hint}", name_or_path)
    return _from_folder(path) if path.is_dir() else _from_file(path)
