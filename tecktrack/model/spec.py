"""How a Dask worker loads the client's detector: :class:`ModelSpec` (file + options).

A loaded :class:`~tecktrack.model.Model` holds an open backend that cannot travel to another
process; its spec can. Workers keep the loaded model between shards with
:func:`tecktrack.cluster.worker_cache`, keyed by the model file's identity and the options.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tecktrack.cluster import file_key, worker_cache
from tecktrack.model.core import Model

__all__ = ["ModelSpec"]


@dataclass(frozen=True)
class ModelSpec:
    """How a worker loads the client's detector: the model file and the load options.

    ``threads`` is the backend's thread count on a worker (default 1: a Dask worker per
    core, one thread each). ``rect`` is the client model's :attr:`~Model.rect`, set on the
    worker's copy (the client may have turned it off).

    Examples
    --------
    >>> spec = ModelSpec.of(load_model("demo-n"))                     # doctest: +SKIP
    >>> spec.load().names == load_model("demo-n").names               # doctest: +SKIP
    True
    """

    source: str
    backend: str
    conf: float
    iou: float
    imgsz: tuple[int, int]
    max_det: int | None
    threads: int | None = 1
    agnostic: bool = False
    classes: tuple[int, ...] | None = None
    half: bool = False
    rect: bool | None = None

    @classmethod
    def of(cls, model: Model, threads: int | None = 1) -> ModelSpec:
        """The spec reproducing a loaded :class:`~tecktrack.model.Model` on a worker."""
        paths = model.paths
        source = paths.config if paths.kind == "darknet" else paths.weights
        return cls(str(Path(source).resolve()), model.backend_name, model.conf, model.iou,
                   tuple(model.input_size), model.max_det, threads, model.agnostic,
                   model.classes, model.half, model.rect)

    def key(self) -> tuple:
        """Cache key: the model file's identity (path, size, mtime) and every option."""
        return ("tecktrack.model", file_key(self.source), self.backend, self.conf, self.iou,
                self.imgsz, self.max_det, self.threads, self.agnostic, self.classes, self.half,
                self.rect)

    def load(self) -> Model:
        """Load the model (on a worker, via :func:`tecktrack.cluster.worker_cache`)."""
        from tecktrack.model.loader import load_model

        kwargs = {} if self.max_det is None else {"max_det": self.max_det}
        model = load_model(self.source, backend=self.backend, conf=self.conf, iou=self.iou,
                           imgsz=self.imgsz, threads=self.threads, agnostic=self.agnostic,
                           classes=self.classes, half=self.half, **kwargs)
        if self.rect is not None:
            model.rect = self.rect
        return model

    def cached(self) -> Model:
        """This worker thread's copy of the model, loaded on first use.

        One copy per thread: OpenCV DNN networks are not thread-safe, and a worker may run
        several threads (``dask worker --nthreads N``, in-process clusters).
        """
        return worker_cache(self.key(), self.load, per_thread=True)
