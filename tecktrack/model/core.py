"""The :class:`Model`: preprocess -> forward -> decode -> NMS, and :func:`load_model`."""

from __future__ import annotations

import threading
from collections.abc import Sequence

import numpy as np

from tecktrack.detections import Detections
from tecktrack.errors import ModelError
from tecktrack.model.backends import Backend
from tecktrack.model.decoders import darknet_inputs, decode, split_batch, yolov8_inputs
from tecktrack.model.discovery import ModelPaths
from tecktrack.model.nms import check_status, compiled_settings, nms_in_frame
from tecktrack.model.overlap import overlapped, spare_core
from tecktrack.model.post_kernel import darknet_kept, yolov8_kept
from tecktrack.model.preprocess import (
    Fit,
    FrameInfo,
    check_frame,
    clip_boxes,
    fill_blob,
    plan_fit,
    plan_val_fit,
    unmap_kept,
)
from tecktrack.model.trusted import trusted_detections

__all__ = ["Model"]

#: Frames per forward pass in :meth:`Model.predict_batch` when the network takes batches.
DEFAULT_BATCH = 8
#: Most candidates NMS sees with ``multi_label`` (Ultralytics' ``max_nms``).
MAX_NMS = 30000
#: Frame sizes whose geometry a Model keeps (a stream has one; a photo folder may have many).
MAX_FITS = 64
#: Input blobs a thread keeps for predict / predict_batch: one per batch length and buffer
#: (predict's, and predict_batch's two alternating ones for the batch size and the last
#: partial batch).
MAX_BLOBS = 5
#: Largest blob kept (bigger batches get a new one each call: the forward dwarfs the saving).
MAX_KEPT_BYTES = 64 << 20


class Model:
    """A YOLO detector ready to run: names, input size, layout, backend, thresholds.

    Build one with :func:`tecktrack.model.load_model`; the constructor takes resolved parts.

    Attributes
    ----------
    names : list of str
        Class names, index = class id.
    layout : str
        Output layout (``darknet``, ``yolov5``, ``yolov8`` or ``end2end``). End-to-end outputs
        are already through NMS: :meth:`nms` only caps them at ``max_det``.
    letterbox : bool
        Letterbox (True) or stretched resize (False) in :meth:`preprocess`.
    conf, iou : float
        Score threshold and NMS IoU threshold used by :meth:`predict`.
    max_det : int
        Most boxes kept per image.
    agnostic : bool
        Class-agnostic NMS.
    classes : tuple of int or None
        Keep only these class ids (``None``: all), applied before NMS as Ultralytics does.
    class_offset : float or None
        Ultralytics models: class-aware NMS as Ultralytics runs it, one agnostic pass over
        corners shifted by ``class * class_offset`` in float32 (its ``max_wh``, 7680).
        ``None``: TeckTrack's per-class NMS (OpenCV's rules).
    device : str
        Where the network runs, as the backend reports it (``cpu``, ``cuda:0``...).
    backend : Backend
        The loaded network.
    paths : ModelPaths
        Where the model came from.

    Examples
    --------
    >>> model = load_model("demo-n")                                  # doctest: +SKIP
    >>> det = model.predict(cv2.imread("street.jpg"))                 # doctest: +SKIP
    >>> [model.names[c] for c in det.class_ids]                       # doctest: +SKIP
    ['person', 'car']
    """

    def __init__(self, *, paths: ModelPaths, backend: Backend, names: list[str], layout: str,
                 input_size: tuple[int, int], letterbox: bool, conf: float = 0.25,
                 iou: float = 0.45, max_det: int = 300, agnostic: bool = False,
                 classes: Sequence[int] | None = None, class_offset: float | None = None):
        from tecktrack.model.nms import NMS

        self.paths = paths
        self.backend = backend
        self.names = list(names)
        self.layout = layout
        self.letterbox = letterbox
        self.conf = float(conf)
        self.classes = None if classes is None else tuple(int(c) for c in classes)
        self.class_offset = class_offset
        #: Keep every class above ``conf`` per box (YOLOv8 layout), as ``yolo val`` does.
        self.multi_label = False
        #: Clip final boxes to the frame (``yolo val`` matches the unclipped ones).
        self.clip = True
        #: The network runs in float16 (set by :func:`~tecktrack.model.load_model`).
        self.half = False
        #: :meth:`predict_batch` prepares the next forward pass and finishes the last one on
        #: a helper thread while the network runs (default: when a second core is there).
        self.overlap = spare_core()
        #: The network takes any input height and width (set by
        #: :func:`~tecktrack.model.load_model`); :attr:`rect` needs it.
        self.free_size = False
        self._rect = False
        #: The network's largest stride (Ultralytics metadata; 32 otherwise), for :attr:`rect`.
        self.stride = 32
        #: Fit frames as ``yolo val``'s loader does (long side rounded up, no upscaling in the
        #: letterbox, rect shapes with :attr:`rect`: :func:`.preprocess.plan_val_fit`) instead
        #: of as its predict does; square inputs only. ``validate`` sets it for the
        #: ``ultralytics`` convention.
        self.val_fit = False
        #: With :attr:`val_fit`: the input ``(width, height)`` of the next frame's rect batch
        #: in ``yolo val`` (:func:`.preprocess.rect_shapes`); ``validate`` sets it frame by
        #: frame. ``None``: the frame's own rect shape (a batch of one).
        self.val_canvas: tuple[int, int] | None = None
        self._input_size = (int(input_size[0]), int(input_size[1]))
        self._nms = NMS(iou_threshold=float(iou), max_det=max_det, agnostic=bool(agnostic))
        #: Frame geometry by (width, height, letterbox, rect, val_fit, val_canvas): a
        #: stream's frames share one; and each by its FrameInfo, for the way back.
        self._fits: dict[tuple, Fit] = {}
        self._ways: dict[FrameInfo, Fit] = {}
        #: Each thread's own input blob for :meth:`predict` / :meth:`predict_batch`.
        self._buffers = threading.local()

    @property
    def rect(self) -> bool:
        """Pad a letterboxed frame only to the next multiple of :attr:`stride` across and
        down, not to the whole :attr:`input_size` (:meth:`predict`, and batches whose frames
        all have one size): what Ultralytics' predict does on a ``dynamic=True`` export, for
        which :func:`~tecktrack.model.load_model` turns it on. Only a network that takes any
        height and width (:attr:`free_size`) can have it.

        Raises
        ------
        ModelError
            Turned on for a network whose input size is fixed.
        """
        return self._rect

    @rect.setter
    def rect(self, value: bool) -> None:
        if value and not self.free_size:
            w, h = self.input_size
            raise ModelError(f"rect needs a network that takes any input height and width; "
                             f"this one's input is fixed at {w}x{h} (export with dynamic=True)",
                             self.paths.weights)
        self._rect = bool(value)

    @property
    def iou(self) -> float:
        """NMS IoU threshold, fixed at construction (load a model again for another one)."""
        return self._nms.iou_threshold

    @property
    def max_det(self) -> int:
        """Most boxes kept per image."""
        return self._nms.max_det

    @property
    def agnostic(self) -> bool:
        """Whether NMS ignores classes."""
        return self._nms.agnostic

    @property
    def end2end(self) -> bool:
        """The network's output is already through NMS (``end2end`` layout)."""
        return self.layout == "end2end"

    @property
    def device(self) -> str:
        """Where the network runs (``cpu``, ``cuda:0``), as the backend reports it."""
        return getattr(self.backend, "device", "cpu")

    @property
    def input_size(self) -> tuple[int, int]:
        """Network input ``(width, height)`` in pixels."""
        return self._input_size

    @property
    def backend_name(self) -> str:
        """``"opencv"`` or ``"onnxruntime"``."""
        return self.backend.name

    def __repr__(self) -> str:
        w, h = self.input_size
        return (f"Model({self.paths.weights.name}, backend={self.backend_name}, "
                f"layout={self.layout}, input={w}x{h}, classes={len(self.names)})")

    # -- stages -------------------------------------------------------------------------
    def _fit(self, frame: np.ndarray, rect: bool = True) -> Fit:
        """The (cached) geometry that maps ``frame`` into the network input; ``rect=False``
        pads to the whole input even when :attr:`rect` is on (a batch of mixed sizes)."""
        key = (frame.shape[1], frame.shape[0], self.letterbox,
               bool(rect and self.rect and self.letterbox), self.val_fit,
               self.val_canvas if self.val_fit else None)
        fit = self._fits.get(key)
        if fit is None:
            if len(self._fits) >= MAX_FITS:  # a folder of many sizes: keep the memory bounded
                self._fits.clear()
                self._ways.clear()
            fit = self._fits[key] = self._plan(*key)
            self._ways.setdefault(fit.info, fit)
        return fit

    def _plan(self, width: int, height: int, letterbox: bool, rect: bool, val: bool,
              canvas: tuple[int, int] | None) -> Fit:
        stride = self.stride if rect else None
        side, other = self.input_size
        if val and letterbox and side == other:
            return plan_val_fit(width, height, side, stride, canvas if rect else None)
        return plan_fit(width, height, self.input_size, letterbox, stride)

    def _batch_input(self, frames: Sequence[np.ndarray]) -> tuple[bool, tuple[int, int]]:
        """Whether a batch's frames are padded to the stride only (:attr:`rect`, and all of
        one size, as Ultralytics' predict requires: mixed sizes share the whole input), and
        the batch's input ``(width, height)``."""
        rect = self.rect and len({f.shape[:2] for f in frames}) == 1
        return rect, self._fit(frames[0], rect).size if rect else self.input_size

    def _way_back(self, info: FrameInfo) -> Fit:
        """The :class:`Fit` whose arrays map boxes of ``info``'s frame back to it."""
        fit = self._ways.get(info)  # the way back needs only the info's numbers: any fit with
        if fit is not None:         # an equal FrameInfo has the same offset, scale and limit
            return fit
        # A FrameInfo made elsewhere: the way back needs only its own numbers.
        back = plan_fit(info.width, info.height, self.input_size, False)
        return Fit(info, back.size, back.new_size, 0, 0,
                   offset=np.array([info.pad_x, info.pad_y] * 2, np.float32),
                   scale=np.array([info.scale_x, info.scale_y] * 2, np.float32),
                   limit=back.limit)

    def preprocess(self, frame: np.ndarray) -> tuple[np.ndarray, FrameInfo]:
        """Letterbox/resize, BGR->RGB, scale to [0, 1]: a ``(1, 3, H, W)`` float32 blob.

        Raises
        ------
        FormatError
            If ``frame`` is not an image array.

        Examples
        --------
        >>> blob, info = model.preprocess(frame)                          # doctest: +SKIP
        >>> blob.shape, blob.dtype                                        # doctest: +SKIP
        ((1, 3, 320, 320), dtype('float32'))
        """
        frame = check_frame(frame)
        fit = self._fit(frame)
        blob = self._empty_blob(1, fit.size)
        fill_blob(frame, fit, blob[0])
        return blob, fit.info

    def preprocess_batch(self, frames: Sequence[np.ndarray]) -> tuple[np.ndarray,
                                                                     list[FrameInfo]]:
        """Like :meth:`preprocess` for several frames: one ``(n, 3, H, W)`` blob.

        Examples
        --------
        >>> blob, infos = model.preprocess_batch([frame_a, frame_b])     # doctest: +SKIP
        >>> blob.shape[0], len(infos)                                     # doctest: +SKIP
        (2, 2)
        """
        frames = [check_frame(f) for f in frames]
        rect, size = self._batch_input(frames)
        blob = self._empty_blob(len(frames), size)
        return blob, self._fill(frames, blob, [None] * len(frames), rect)

    def _empty_blob(self, n: int, size: tuple[int, int] | None = None) -> np.ndarray:
        """An uninitialised ``(n, 3, H, W)`` float32 input blob (``size``: ``(W, H)``, by
        default :attr:`input_size`)."""
        width, height = size or self.input_size
        return np.empty((n, 3, height, width), np.float32)

    def _filled_blob(self, frames: Sequence[np.ndarray], buffer: int = 0,
                     kept: dict | None = None) -> tuple[np.ndarray, list[FrameInfo]]:
        """:meth:`preprocess_batch` into a blob kept from call to call.

        The blob is written in place of the last one (no new 1-40 MB array a frame, and the
        memory is warm), and a slot's grey letterbox borders are left as they are when its
        previous frame had the same geometry. Blobs are kept per thread (``kept``: a
        thread's :meth:`_kept_blobs`, by default this one's), batch length and ``buffer``
        (:meth:`predict_batch` alternates two). Only :meth:`predict` and
        :meth:`predict_batch` use them: they never hand a blob out.
        """
        frames = [check_frame(f) for f in frames]
        if kept is None:
            kept = self._kept_blobs()
        rect, size = self._batch_input(frames)
        blob, fits = kept.get((len(frames), buffer, size), (None, None))
        if blob is None:  # one blob per batch length, buffer and input size (whole arrays:
            blob = self._empty_blob(len(frames), size)  # ORT is slower on a view of a larger one)
            fits = [None] * len(frames)
            if blob.nbytes <= MAX_KEPT_BYTES:
                if len(kept) >= MAX_BLOBS:
                    kept.clear()
                kept[len(frames), buffer, size] = blob, fits
        return blob, self._fill(frames, blob, fits, rect)

    def _kept_blobs(self) -> dict:
        """This thread's kept blobs: ``{(batch length, buffer, (W, H)): (blob, fits)}``."""
        kept = getattr(self._buffers, "blobs", None)
        if kept is None:
            kept = self._buffers.blobs = {}
        return kept

    def _fill(self, frames: list[np.ndarray], blob: np.ndarray,
              fits: list[Fit | None], rect: bool = True) -> list[FrameInfo]:
        """Write ``frames`` into ``blob``; ``fits`` holds the geometry each slot was last
        written with (its grey borders are rewritten only when that changes) and is updated;
        ``rect`` as for :meth:`_fit`."""
        infos = []
        for i, frame in enumerate(frames):
            fit = self._fit(frame, rect)
            fill_blob(frame, fit, blob[i], borders=fits[i] is not fit)
            fits[i] = fit
            infos.append(fit.info)
        return infos

    def forward(self, blob: np.ndarray) -> list[np.ndarray]:
        """Run the network; raw float32 outputs as the backend returns them.

        Examples
        --------
        >>> [o.shape for o in model.forward(blob)]                        # doctest: +SKIP
        [(1, 84, 2100)]
        """
        return self.backend.forward(blob)

    def post_process(self, outputs: Sequence[np.ndarray], info: FrameInfo,
                     conf: float | None = None) -> Detections:
        """Decoded candidates above the score threshold, in original-frame pixels, before NMS.

        Boxes are not clipped to the frame yet: :meth:`nms` clips after suppression, as
        Ultralytics does (clipping first changes which boxes NMS keeps). :attr:`classes`
        is applied here; for end-to-end outputs also the first ``max_det`` rows are kept.

        Parameters
        ----------
        outputs : list of numpy.ndarray
            :meth:`forward` outputs for a batch of one.
        info : FrameInfo
            From :meth:`preprocess`.
        conf : float, optional
            Score threshold (``score > conf``); defaults to :attr:`conf`.

        Examples
        --------
        >>> candidates = model.post_process(model.forward(blob), info, conf=0.001)  # doctest: +SKIP
        >>> len(candidates) >= len(model.nms(candidates))                # doctest: +SKIP
        True
        """
        return self.post_process_batch(outputs, [info], conf)[0]

    def post_process_batch(self, outputs: Sequence[np.ndarray], infos: Sequence[FrameInfo],
                           conf: float | None = None) -> list[Detections]:
        """:meth:`post_process` for a batch: one :class:`Detections` per frame.

        Examples
        --------
        >>> blob, infos = model.preprocess_batch(frames)                  # doctest: +SKIP
        >>> dets = model.post_process_batch(model.forward(blob), infos)   # doctest: +SKIP
        """
        return [trusted_detections(unmap_kept(d.xyxy, None, self._way_back(info), clip=False),
                                   d.class_ids, d.scores)
                for d, info in zip(self.decode_batch(outputs, infos, conf), infos, strict=True)]

    def decode_batch(self, outputs: Sequence[np.ndarray], infos: Sequence[FrameInfo],
                     conf: float | None = None) -> list[Detections]:
        """Candidates in network-input pixels, one :class:`Detections` per frame.

        The score threshold and :attr:`classes` are applied; end-to-end outputs keep their
        first ``max_det`` rows. :meth:`suppress` turns them into final detections.

        Examples
        --------
        >>> cands = model.decode_batch(model.forward(blob), infos)       # doctest: +SKIP
        >>> dets = [model.suppress(c, i) for c, i in zip(cands, infos)]  # doctest: +SKIP
        """
        conf = self.conf if conf is None else float(conf)
        return [self._decode_one(outs, conf)
                for outs in split_batch(outputs, self.layout, len(infos))]

    def _decode_one(self, outputs: Sequence[np.ndarray], conf: float) -> Detections:
        """:meth:`decode_batch` of one frame's outputs (batch axis removed)."""
        det = decode(self.layout, outputs, conf, self.input_size, self.multi_label)
        if self.classes is not None:
            det = det[np.isin(det.class_ids, self.classes)]
        if self.multi_label and len(det) > MAX_NMS:  # Ultralytics' max_nms
            det = det[np.argsort(-det.scores, kind="stable")[:MAX_NMS]]
        return det[:self.max_det] if self.end2end else det

    def suppress(self, candidates: Detections, info: FrameInfo) -> Detections:
        """NMS on :meth:`decode_batch` candidates, then back to the frame and clipped.

        This is :meth:`predict`'s own order, Ultralytics' too: NMS in network-input pixels
        (for Ultralytics models with its per-class float32 offset of ``class_offset``
        pixels), boxes mapped back with the letterbox gains, clipped last.

        Examples
        --------
        >>> det = model.suppress(model.decode_batch(outputs, [info])[0], info)  # doctest: +SKIP
        """
        if candidates.scores is not None and not self.end2end:
            fit = self._way_back(info)
            kept = nms_in_frame(candidates.xyxy, candidates.scores, candidates.class_ids,
                                self.iou, self.agnostic, self.max_det, fit.offset, fit.scale,
                                fit.limit, self.clip, self.class_offset)
            if kept is not None:  # the compiled NMS, boxes mapped back in the same call
                return trusted_detections(*kept)
        index = None if self.end2end else self._keep(candidates)
        xyxy = unmap_kept(candidates.xyxy, index, self._way_back(info), self.clip)
        if index is None:  # end-to-end rows (already through NMS): all of them, copied
            return Detections(xyxy, candidates.class_ids, candidates.scores)
        return trusted_detections(xyxy, candidates.class_ids.take(index),
                                  candidates.scores.take(index))

    def _keep(self, det: Detections) -> np.ndarray:
        from tecktrack.model.nms import nms_indices

        if self.class_offset is None or self.agnostic:
            return nms_indices(det.xyxy, det.scores, det.class_ids, self.iou, self.agnostic,
                               max_det=self.max_det)
        # Ultralytics separates classes by adding class * max_wh to float32 corners; the
        # rounding that brings (1/16 px at class 77 with 7680) decides a few close calls.
        # torchvision (and TorchNMS) give a box with no positive width or height an IoU of 0
        # or NaN with everything, so it neither suppresses nor is suppressed; OpenCV's rule
        # (zero-area boxes overlap fully) does not apply here.
        offset = (det.class_ids.astype(np.float32) * np.float32(self.class_offset))[:, None]
        shifted = det.xyxy + offset
        proper = np.flatnonzero((shifted[:, 2] > shifted[:, 0]) & (shifted[:, 3] > shifted[:, 1]))
        # Boxes of different classes lie max_wh apart, so suppressing per class on the shifted
        # corners is the same as Ultralytics' single pass, and faster.
        if len(proper) == len(det):
            return nms_indices(shifted, det.scores, det.class_ids, self.iou,
                               max_det=self.max_det)
        kept = proper[nms_indices(shifted[proper], det.scores[proper], det.class_ids[proper],
                                  self.iou)]
        kept = np.concatenate([kept, np.setdiff1d(np.arange(len(det)), proper)])
        return kept[np.argsort(-det.scores[kept], kind="stable")][:self.max_det]

    def nms(self, detections: Detections, info: FrameInfo | None = None) -> Detections:
        """NMS at :attr:`iou` (``tecktrack.model.NMS``), at most ``max_det`` boxes, then clip.

        Works on :meth:`post_process` candidates (frame pixels). Class-aware unless
        :attr:`agnostic`. End-to-end outputs are not suppressed a second time. With ``info``
        (from :meth:`preprocess`) the kept boxes are clipped to the frame. The same boxes as
        :meth:`suppress` up to float rounding, which NMS in frame pixels cannot repeat.

        Examples
        --------
        >>> det = model.nms(model.post_process(outputs, info), info)     # doctest: +SKIP
        """
        kept = detections[:self.max_det] if self.end2end else self._nms.filter(detections)
        if info is None:
            return kept
        return Detections(clip_boxes(kept.xyxy, info), kept.class_ids, kept.scores,
                          kept.tracker_ids)

    # -- whole pipeline -----------------------------------------------------------------
    def predict(self, frame: np.ndarray) -> Detections:
        """Detections on one BGR frame: score threshold + NMS, original-frame pixel corners.

        Examples
        --------
        >>> det = load_model("demo-n").predict(frame)                     # doctest: +SKIP
        """
        blob, (info,) = self._filled_blob([frame])
        return self._finish(split_batch(self.forward(blob), self.layout, 1)[0], info,
                            self.conf)

    def _finish(self, outputs: Sequence[np.ndarray], info: FrameInfo,
                conf: float) -> Detections:
        """One frame's outputs (batch axis removed) to its final detections."""
        kept = self._kept_in_one_call(outputs, info, conf)
        if kept is None:
            kept = self.suppress(self._decode_one(outputs, conf), info)
        return kept

    def _kept_in_one_call(self, outputs: Sequence[np.ndarray], info: FrameInfo,
                          conf: float) -> Detections | None:
        """:meth:`decode_batch` + :meth:`suppress` of one frame's YOLOv8 or Darknet outputs as
        one compiled call (:mod:`~tecktrack.model.post_kernel`): the same detections with
        less work between the calls. ``None`` where it does not apply (other layouts,
        ``multi_label``, a class filter, outputs that are not float32, the compiled NMS
        off)."""
        if self.multi_label or self.classes is not None:
            return None
        compiled = self._compiled_decoding(outputs, conf)
        settings = compiled and compiled_settings(self.iou, self.max_det, compiled[2])
        if not settings:
            return None
        kernel, head, _ = compiled
        fit = self._way_back(info)
        lift = np.float32(self.class_offset or 0.0)
        *kept, status = kernel(*head, self.agnostic, lift, *settings, fit.offset, fit.scale,
                               fit.limit, self.clip)
        check_status(status)
        return trusted_detections(*kept)

    def _compiled_decoding(self, outputs: Sequence[np.ndarray], conf: float) -> tuple | None:
        """``(kernel, its leading arguments, number of candidates at most)`` for one frame's
        outputs, or ``None`` for a layout or shape the kernels do not take."""
        if self.layout == "yolov8" and len(outputs) == 1:
            head = yolov8_inputs(outputs[0], conf)
            return None if head is None else (yolov8_kept, head, head[0].shape[1])
        if self.layout == "darknet":
            head = darknet_inputs(outputs, conf, self.input_size)
            return None if head is None else (darknet_kept, head, sum(map(len, head[0])))
        return None

    def _batches(self, frames: Sequence[np.ndarray], step: int) -> list[Sequence[np.ndarray]]:
        """``frames`` in batches of ``step``; with :attr:`rect`, a batch also ends where the
        frame size changes, so each frame gets the input :meth:`predict` gives it."""
        if not (self.rect and self.letterbox):
            return [frames[start:start + step] for start in range(0, len(frames), step)]
        batches: list[list[np.ndarray]] = []
        for frame in frames:
            last = batches[-1] if batches else None
            if last and len(last) < step and np.shape(last[-1])[:2] == np.shape(frame)[:2]:
                last.append(frame)
            else:
                batches.append([frame])
        return batches

    def predict_batch(self, frames: Sequence[np.ndarray], batch_size: int = DEFAULT_BATCH,
                      conf: float | None = None) -> list[Detections]:
        """:meth:`predict` on several frames, batched when the network accepts batches.

        Networks with a fixed batch of one run frame by frame; a static-batch export
        (``yolo export batch=4``) runs its own batch whatever ``batch_size`` says, the last one
        padded with zero images, as Ultralytics runs it. With :attr:`rect` (dynamic
        Ultralytics exports) a batch holds frames of one size only, so every frame gets the
        boxes :meth:`predict` gives it. With :attr:`overlap` (the
        default on more than one core) the next batch is prepared and the last one finished
        on a helper thread while the network runs (:func:`~tecktrack.model.overlap.overlapped`):
        the same detections, and a run of batches costs little more than its forward passes.
        ``conf`` overrides :attr:`conf` for this call.

        Examples
        --------
        >>> dets = model.predict_batch([frame_a, frame_b], batch_size=8)  # doctest: +SKIP
        """
        step = (max(1, int(batch_size)) if self.backend.batch_dynamic
                else self.backend.fixed_batch)
        conf = self.conf if conf is None else float(conf)
        batches = self._batches(frames, step)
        kept = self._kept_blobs()

        def prepare(k: int) -> tuple[np.ndarray, list[FrameInfo]]:
            return self._filled_blob(batches[k], k % 2, kept)

        def finish(_: int, prepared: tuple, outputs: list[np.ndarray]) -> list[Detections]:
            infos = prepared[1]
            return [self._finish(out, info, conf) for out, info in
                    zip(split_batch(outputs, self.layout, len(infos)), infos, strict=True)]

        def forward(prepared: tuple) -> list[np.ndarray]:
            return self.forward(prepared[0])

        done = overlapped(len(batches), prepare, forward, finish, overlap=self.overlap)
        return [det for batch in done for det in batch]
