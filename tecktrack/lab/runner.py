"""Batch reruns of the analysis notebooks with papermill.

Each notebook in ``notebooks/`` has one cell tagged ``parameters``; papermill injects new values
after it and executes the notebook top to bottom into an output folder. A notebook that fails
still writes its partial output, and the failure names the cell that broke.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tecktrack.errors import TeckTrackError
from tecktrack.paths import project_root, results_dir


@dataclass
class NotebookRun:
    """Outcome of one papermill execution.

    Attributes
    ----------
    name : str
        Notebook file name, e.g. ``01_data_exploration.ipynb``.
    output : Path
        The executed notebook (partial when ``error`` is set).
    seconds : float
        Wall-clock execution time.
    error : str or None
        ``None`` on success, else which cell failed and why.
    """

    name: str
    output: Path
    seconds: float
    error: str | None = None
    parameters: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.error is None


def notebooks_dir() -> Path:
    """The folder holding the analysis notebooks (``<root>/notebooks``)."""
    return project_root() / "notebooks"


def list_notebooks(folder: str | Path | None = None) -> list[Path]:
    """The analysis notebooks in run order (sorted by file name, ``_``-prefixed ones skipped).

    Examples
    --------
    >>> all(p.suffix == ".ipynb" for p in list_notebooks())
    True
    """
    folder = Path(folder) if folder is not None else notebooks_dir()
    return sorted(p for p in folder.glob("*.ipynb") if not p.name.startswith(("_", ".")))


def select_notebooks(names: Sequence[str] | None, folder: str | Path | None = None) -> list[Path]:
    """Resolve notebook names given as file names, stems or number prefixes (``02``).

    Raises
    ------
    TeckTrackError
        When a name matches no notebook, or more than one.

    Examples
    --------
    >>> [p.name for p in select_notebooks(["01"])]  # doctest: +SKIP
    ['01_data_exploration.ipynb']
    """
    available = list_notebooks(folder)
    if not names:
        return available
    chosen = []
    for name in names:
        key = Path(name).name.removesuffix(".ipynb")
        hits = [p for p in available if p.stem == key or p.stem.startswith(key)]
        if len(hits) != 1:
            known = ", ".join(p.stem for p in available) or "none"
            what = "matches no notebook" if not hits else "is ambiguous"
            raise TeckTrackError(f"notebook {name!r} {what}; available: {known}")
        chosen.append(hits[0])
    return chosen


def parse_parameters(pairs: Sequence[Sequence[str]] | None) -> dict[str, Any]:
    """Turn ``[["top_n", "5"], ["model", "demo-n"]]`` into typed values (YAML scalars).

    Examples
    --------
    >>> parse_parameters([["top_n", "5"], ["conf", "0.5"], ["model", "demo-n"], ["x", "null"]])
    {'top_n': 5, 'conf': 0.5, 'model': 'demo-n', 'x': None}
    """
    params: dict[str, Any] = {}
    for key, value in pairs or []:
        if not key.isidentifier():
            raise TeckTrackError(f"parameter name {key!r} is not a valid Python identifier")
        try:
            params[key] = yaml.safe_load(value)
        except yaml.YAMLError:
            params[key] = value
    return params


#: File suffixes that mark a parameter value without a ``/`` as a path (``data.yaml``).
PATH_SUFFIXES = frozenset({".yaml", ".yml", ".json", ".jsonl", ".onnx", ".weights", ".cfg",
                           ".txt", ".csv", ".mp4", ".avi", ".mkv", ".mov", ".jpg", ".png"})


def _looks_like_path(value: object) -> bool:
    if not isinstance(value, str) or not value or "://" in value:
        return False
    return ("/" in value or os.sep in value or value.startswith("~")
            or Path(value).suffix.lower() in PATH_SUFFIXES)


def resolve_path_parameters(params: Mapping[str, Any], base: str | Path | None = None
                            ) -> dict[str, Any]:
    """Make relative path values absolute against ``base`` (default: the caller's directory).

    Notebooks run with ``notebooks/`` as their working directory, so a relative path typed on
    the command line (``-p data ../my/data.yaml``) must be resolved where it was typed. A string
    counts as a path when it holds a ``/`` (or starts with ``~``) or ends in a file suffix of
    :data:`PATH_SUFFIXES`; model names (``demo-s``), URLs (``udp://...``) and numbers pass
    unchanged.

    Examples
    --------
    >>> got = resolve_path_parameters({"data": "../d/data.yaml", "model": "demo-s",
    ...                                "video": "udp://127.0.0.1:5000", "n": 3}, "/home/me/work")
    >>> got["data"], got["model"], got["video"], got["n"]
    ('/home/me/d/data.yaml', 'demo-s', 'udp://127.0.0.1:5000', 3)
    """
    base = Path(base) if base is not None else Path.cwd()
    out = dict(params)
    for key, value in params.items():
        if _looks_like_path(value):
            path = Path(value).expanduser()
            out[key] = os.path.normpath(path if path.is_absolute() else base.absolute() / path)
    return out


def declared_parameters(path: str | Path) -> dict[str, Any]:
    """The parameters a notebook declares in its ``parameters`` cell, with their defaults.

    Examples
    --------
    >>> sorted(declared_parameters("notebooks/05_udp_streaming_demo.ipynb"))[:3]  # doctest: +SKIP
    ['drop_rate', 'fps', 'max_frames']
    """
    import papermill as pm

    return {name: info.get("default") for name, info in pm.inspect_notebook(str(path)).items()}


def check_parameters(params: Mapping[str, Any], notebooks: Sequence[str | Path]
                     ) -> dict[Path, dict[str, Any]]:
    """Split ``params`` by notebook; a parameter no notebook declares is an error.

    Returns, for each notebook, the parameters it declares (only those are injected, so
    ``tecktrack run -p seed 1`` reaches the notebooks that take a seed).

    Raises
    ------
    TeckTrackError
        Naming the unknown parameters and the ones the notebooks know.
    """
    declared = {Path(p): declared_parameters(p) for p in notebooks}
    known = sorted(set().union(*declared.values())) if declared else []
    unknown = [k for k in params if k not in known]
    if unknown:
        which = (Path(next(iter(declared))).stem if len(declared) == 1
                 else f"the {len(declared)} notebooks")
        raise TeckTrackError(f"unknown parameter(s) {', '.join(unknown)} for {which}; "
                             f"known parameters: {', '.join(known) or 'none'}")
    return {p: {k: v for k, v in params.items() if k in names} for p, names in declared.items()}


def _describe_failure(exc: Exception) -> str:
    index = getattr(exc, "cell_index", None)
    if index is None:
        return f"{type(exc).__name__}: {exc}"
    source = (getattr(exc, "source", "") or "").strip().splitlines()
    first = source[0] if source else ""
    # papermill counts cells of the executed notebook, which holds its injected-parameters cell
    return (f"cell {index} of the executed notebook (execution count "
            f"{getattr(exc, 'exec_count', '?')}, starts with {first!r}) raised "
            f"{getattr(exc, 'ename', '?')}: {getattr(exc, 'evalue', '')}")


def encrypted_kernel_manager() -> type:
    """A kernel manager class that provisions CurveZMQ keys for kernels that support them.

    Without it every ipykernel >= 7 kernel started over TCP logs "Kernel is running over TCP
    without encryption" to the console (``KernelManager.transport_encryption = "auto"``).
    """
    import zmq
    from jupyter_client.manager import AsyncKernelManager
    from traitlets import default

    class EncryptedKernelManager(AsyncKernelManager):
        @default("transport_encryption")
        def _transport_encryption_default(self) -> str:
            return "auto" if zmq.has("curve") else "disabled"

    return EncryptedKernelManager


def run_notebook(path: str | Path, out_dir: str | Path, parameters: Mapping[str, Any] | None = None,
                 *, kernel_name: str | None = None, progress_bar: bool = False,
                 cwd: str | Path | None = None) -> NotebookRun:
    """Execute one notebook with papermill into ``out_dir`` and report how it went.

    The notebook runs with ``notebooks/`` as its working directory (as in JupyterLab) unless
    ``cwd`` says otherwise; the output notebook keeps every cell output up to a failure.
    Relative paths in ``parameters`` are taken as they are (relative to that working
    directory); the command line resolves them first (:func:`resolve_path_parameters`).

    Raises
    ------
    TeckTrackError
        When ``parameters`` names one the notebook does not declare.

    Examples
    --------
    >>> run = run_notebook("notebooks/01_data_exploration.ipynb", "/tmp/out")  # doctest: +SKIP
    >>> run.ok                                                   # doctest: +SKIP
    True
    """
    import papermill as pm

    path = Path(path)
    params = dict(parameters or {})
    check_parameters(params, [path])
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    output = out_dir / path.name
    start = time.perf_counter()
    error = None
    try:
        pm.execute_notebook(
            str(path), str(output), parameters=params, kernel_name=kernel_name,
            progress_bar=progress_bar, cwd=str(cwd or path.parent),
            kernel_manager_class=encrypted_kernel_manager(),
        )
    except Exception as exc:  # papermill wraps every kernel-side failure
        error = _describe_failure(exc)
    return NotebookRun(path.name, output, time.perf_counter() - start, error, params)


def run_notebooks(names: Sequence[str] | None = None, parameters: Mapping[str, Any] | None = None,
                  out_dir: str | Path | None = None, *, folder: str | Path | None = None,
                  kernel_name: str | None = None) -> list[NotebookRun]:
    """Execute several notebooks (all by default) in order; keeps going after a failure.

    Examples
    --------
    >>> runs = run_notebooks(["01"], {"seed": 1}, "/tmp/nb")  # doctest: +SKIP
    >>> [r.ok for r in runs]                                     # doctest: +SKIP
    [True]
    """
    out_dir = Path(out_dir) if out_dir is not None else results_dir() / "notebooks"
    runs = []
    split = check_parameters(dict(parameters or {}), select_notebooks(names, folder))
    for path, params in split.items():
        run = run_notebook(path, out_dir, params, kernel_name=kernel_name)
        status = "ok" if run.ok else f"FAILED - {run.error}"
        print(f"{path.name}: {status} ({run.seconds:.1f} s) -> {run.output}", flush=True)
        runs.append(run)
    return runs
