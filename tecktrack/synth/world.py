"""The default world: the datasets and video that ``make run`` and the notebooks use.

:func:`ensure_default_world` creates what is missing under ``data/`` and reuses what is
there. Each part carries a metadata file (``synth.json``, ``manifest.json`` or
``video.json``) with the generator version and parameters; a part whose metadata names
this generator but other parameters or an older version is regenerated in place, and a
non-empty folder without such metadata is never touched (an error asks to move it).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from tecktrack.errors import DatasetError
from tecktrack.paths import data_dir
from tecktrack.synth.dataset import SYNTH_VERSION, generate_dataset
from tecktrack.synth.folders import generate_folders
from tecktrack.synth.video import generate_video

#: Parameters of every part of the default world (folder name -> generator arguments).
DEFAULT_WORLD: dict[str, dict] = {
    "dataset": {"folder": "synth", "meta": "synth.json",
                "params": {"n_images": 1200, "seed": 0, "size": 320, "label_noise": 0.0}},
    "noisy": {"folder": "synth-noisy", "meta": "synth.json",
              "params": {"n_images": 1200, "seed": 1, "size": 320, "label_noise": 0.1}},
    "folders": {"folder": "synth-folders", "meta": "manifest.json",
                "params": {"n_images": 400, "seed": 0, "size": 320, "contamination": 0.1}},
    "video": {"folder": "synth-video", "meta": "video.json",
              "params": {"frames": 300, "fps": 25, "seed": 0}},
}


def _read_meta(path: Path) -> dict | None:
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return meta if isinstance(meta, dict) and meta.get("generator") == "tecktrack.synth" else None


def _is_current(meta: dict | None, params: dict) -> bool:
    return (meta is not None and meta.get("version") == SYNTH_VERSION
            and all(meta.get(k) == v for k, v in params.items()))


def _result(name: str, folder: Path) -> Path:
    return {"dataset": folder / "data.yaml", "noisy": folder / "data.yaml",
            "folders": folder, "video": folder / "video.mp4"}[name]


def _make(name: str, folder: Path, params: dict, quiet: bool) -> None:
    if name == "video":
        generate_video(folder / "video.mp4", quiet=quiet, **params)
    elif name == "folders":
        generate_folders(folder, quiet=quiet, **params)
    else:
        generate_dataset(folder, quiet=quiet, **params)


def ensure_default_world(root: str | Path | None = None, quiet: bool = False) -> dict[str, Path]:
    """Create the default synthetic world under ``root`` (default ``data/``) where missing.

    Parameters
    ----------
    root : str or Path, optional
        Parent folder; default :func:`tecktrack.paths.data_dir`.
    quiet : bool
        No progress bars.

    Returns
    -------
    dict of str to Path
        ``dataset`` and ``noisy``: the ``data.yaml`` of ``synth/`` and ``synth-noisy/``;
        ``folders``: ``synth-folders/``; ``video``: ``synth-video/video.mp4``.

    Examples
    --------
    >>> sorted(DEFAULT_WORLD)
    ['dataset', 'folders', 'noisy', 'video']
    >>> ensure_default_world(quiet=True)["dataset"].name  # doctest: +SKIP
    'data.yaml'
    """
    root = Path(root) if root is not None else data_dir()
    out = {}
    for name, spec in DEFAULT_WORLD.items():
        folder = root / spec["folder"]
        meta = _read_meta(folder / spec["meta"])
        complete = name != "video" or (folder / "gt.txt").is_file()   # videos before gt.txt
        if not (complete and _is_current(meta, spec["params"])):
            if meta is not None:
                shutil.rmtree(folder)
            elif folder.exists() and any(folder.iterdir()):
                raise DatasetError("folder exists but was not made by tecktrack synth; "
                                   "move it away to let the default world be created", folder)
            _make(name, folder, spec["params"], quiet)
        out[name] = _result(name, folder)
    return out
