"""Frames in, network blobs out: letterbox or stretched resize, and the way back.

The forward mapping from original pixels to network-input pixels is
``input = original * scale + pad``, with per-axis scales ``round(w * r) / w`` and
``round(h * r) / h`` as Ultralytics' ``LetterBox`` and ``scale_boxes`` use them;
:func:`unmap_boxes` inverts it and :func:`clip_boxes` clips to the frame, which the
:class:`~tecktrack.model.Model` does after NMS (clipping first changes which boxes NMS keeps).
"""

from __future__ import annotations

import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from tecktrack.errors import FormatError
from tecktrack.model.blob_kernel import (
    half_planes_from_bgr,
    half_width_planes_from_bgr,
    planes_from_bgr,
    vertical_taps,
)

__all__ = ["LETTERBOX_GREY", "Fit", "FrameInfo", "check_frame", "clip_boxes", "fill_blob",
           "letterbox", "make_blob", "plan_fit", "plan_val_fit", "rect_shapes", "resize",
           "unmap_boxes", "unmap_kept"]

#: Padding value Ultralytics uses for its letterbox.
LETTERBOX_GREY = 114
_F255 = np.float32(255.0)
#: the half-width kernels read the frame as little-endian uint16 words (elsewhere: resize first).
_LITTLE_ENDIAN = sys.byteorder == "little"


@dataclass(frozen=True)
class FrameInfo:
    """How one frame was mapped into the network input.

    Attributes
    ----------
    width, height : int
        Original frame size in pixels.
    scale_x, scale_y : float
        Input pixels per original pixel.
    pad_x, pad_y : float
        Left and top padding in input pixels.
    """

    width: int
    height: int
    scale_x: float
    scale_y: float
    pad_x: float = 0.0
    pad_y: float = 0.0


def check_frame(frame: object) -> np.ndarray:
    """Return ``frame`` as an ``H x W x 3`` uint8 BGR image, or raise.

    Grey ``H x W`` and ``H x W x 1`` frames become BGR; ``H x W x 4`` (BGRA) drops alpha.

    Raises
    ------
    FormatError
        If ``frame`` is not an image array (wrong type, dtype or shape, or empty).

    Examples
    --------
    >>> check_frame(np.zeros((4, 5), np.uint8)).shape
    (4, 5, 3)
    """
    if not isinstance(frame, np.ndarray):
        raise FormatError(f"not an image: expected a BGR numpy array, got {type(frame).__name__}")
    if frame.dtype != np.uint8:
        raise FormatError(f"not an image: expected dtype uint8, got {frame.dtype}")
    if frame.ndim == 2 or (frame.ndim == 3 and frame.shape[2] == 1):
        frame = cv2.cvtColor(frame.reshape(frame.shape[:2]), cv2.COLOR_GRAY2BGR)
    elif frame.ndim == 3 and frame.shape[2] == 4:
        frame = cv2.cvtColor(frame, cv2.COLOR_BGRA2BGR)
    if frame.ndim != 3 or frame.shape[2] != 3 or frame.shape[0] == 0 or frame.shape[1] == 0:
        raise FormatError(f"not an image: expected shape (H, W, 3), got {frame.shape}")
    return frame


def resize(frame: np.ndarray, size: tuple[int, int]) -> tuple[np.ndarray, FrameInfo]:
    """Stretch ``frame`` to ``size = (width, height)`` (aspect ratio not kept).

    Examples
    --------
    >>> img, info = resize(np.zeros((100, 200, 3), np.uint8), (64, 64))
    >>> img.shape, info.scale_x, info.scale_y
    ((64, 64, 3), 0.32, 0.64)
    """
    h, w = frame.shape[:2]
    out = frame if (w, h) == tuple(size) else cv2.resize(frame, tuple(size),
                                                          interpolation=cv2.INTER_LINEAR)
    return out, plan_fit(w, h, size, letterboxed=False).info


def letterbox(frame: np.ndarray, size: tuple[int, int],
              color: int = LETTERBOX_GREY) -> tuple[np.ndarray, FrameInfo]:
    """Resize keeping the aspect ratio and pad to ``size = (width, height)``, as Ultralytics does.

    Examples
    --------
    The scales kept in the returned :class:`FrameInfo` are the per-axis ones the resize really
    applied, ``new_w / w`` and ``new_h / h`` (Ultralytics' ``scale_boxes`` gains), not ``r``.

    >>> img, info = letterbox(np.zeros((100, 200, 3), np.uint8), (64, 64))
    >>> img.shape, info.scale_x, info.pad_y, int(img[0, 0, 0])
    ((64, 64, 3), 0.32, 16.0, 114)
    >>> info = letterbox(np.zeros((480, 500, 3), np.uint8), (64, 64))[1]
    >>> info.scale_x, round(info.scale_y, 6)    # 500 -> 64, 480 -> round(61.44) = 61
    (0.128, 0.127083)
    """
    h, w = frame.shape[:2]
    fit = plan_fit(w, h, size, letterboxed=True)
    new_w, new_h = fit.new_size
    if (new_w, new_h) != (w, h):
        frame = cv2.resize(frame, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
    top, left = fit.top, fit.left
    bottom, right = size[1] - new_h - top, size[0] - new_w - left
    if top or bottom or left or right:
        frame = cv2.copyMakeBorder(frame, top, bottom, left, right, cv2.BORDER_CONSTANT,
                                   value=(color, color, color))
    return frame, fit.info


@dataclass(frozen=True)
class Fit:
    """How frames of one size go into the network input: the geometry, computed once.

    Attributes
    ----------
    info : FrameInfo
        The mapping :func:`unmap_boxes` inverts.
    size : (int, int)
        Network input ``(width, height)``.
    new_size : (int, int)
        The resized frame ``(width, height)`` inside the input.
    left, top : int
        Where the resized frame starts (the letterbox padding; 0 for a stretched resize).
    offset, scale, limit : numpy.ndarray
        float32 ``[pad_x, pad_y, pad_x, pad_y]``, ``[scale_x, scale_y, scale_x, scale_y]`` and
        ``[width, height, width, height]``: the way back, ready for :func:`unmap_kept`.
    """

    info: FrameInfo
    size: tuple[int, int]
    new_size: tuple[int, int]
    left: int
    top: int
    offset: np.ndarray
    scale: np.ndarray
    limit: np.ndarray

    @property
    def padded(self) -> bool:
        """Whether the resized frame leaves grey borders in the input."""
        return self.new_size != self.size


def plan_fit(width: int, height: int, size: tuple[int, int], letterboxed: bool,
             stride: int | None = None) -> Fit:
    """The :class:`Fit` of a ``width x height`` frame into ``size = (width, height)``.

    Letterbox geometry as Ultralytics' ``LetterBox`` computes it (ratio ``r``, rounded new
    size, padding split with its ``round(d -/+ 0.1)``); a stretched resize otherwise. With
    ``stride`` (a letterbox into a dynamic-input network, Ultralytics' ``auto``), each axis is
    padded only up to the next multiple of ``stride``: the network input is then smaller than
    ``size`` (:attr:`Fit.size`).

    Examples
    --------
    >>> fit = plan_fit(640, 480, (320, 320), letterboxed=True)
    >>> fit.new_size, fit.left, fit.top, fit.info.scale_x
    ((320, 240), 0, 40, 0.5)
    >>> plan_fit(200, 100, (64, 64), letterboxed=False).info.scale_y
    0.64
    >>> fit = plan_fit(500, 333, (320, 320), letterboxed=True, stride=32)
    >>> fit.size, fit.new_size, fit.top      # 213 rows padded by 11 to 224, not to 320
    ((320, 224), (320, 213), 5)
    """
    w, h = int(width), int(height)
    if letterboxed:
        r = min(size[0] / w, size[1] / h)
        new_w, new_h = max(int(round(w * r)), 1), max(int(round(h * r)), 1)
        if stride:
            size = (new_w + (size[0] - new_w) % stride, new_h + (size[1] - new_h) % stride)
        left = int(round((size[0] - new_w) / 2 - 0.1))
        top = int(round((size[1] - new_h) / 2 - 0.1))
    else:
        new_w, new_h, left, top = int(size[0]), int(size[1]), 0, 0
    return _fit_of(w, h, (int(size[0]), int(size[1])), (new_w, new_h), left, top)


def _fit_of(w: int, h: int, size: tuple[int, int], new_size: tuple[int, int], left: int,
            top: int) -> Fit:
    """The :class:`Fit` of a ``w x h`` frame resized to ``new_size`` at ``(left, top)`` of
    an input of ``size``."""
    info = FrameInfo(w, h, new_size[0] / w, new_size[1] / h, float(left), float(top))
    return Fit(info, size, new_size, left, top,
               offset=np.array([left, top, left, top], np.float32),
               scale=np.array([info.scale_x, info.scale_y] * 2, np.float32),
               limit=np.array([w, h, w, h], np.float32))


def rect_shapes(sizes: np.ndarray, side: int, stride: int, batch: int) -> np.ndarray:
    """The input ``(height, width)`` ``yolo val`` gives each image of a dynamic export: its
    loader sorts the images by aspect ratio (height / width, NumPy's ``argsort``), cuts them
    into batches of ``batch`` and pads every image of a batch to one rect shape, from the
    batch's extreme ratios: ``ceil(shape * side / stride + 0.5) * stride``.

    ``sizes`` are ``(height, width)`` rows in the loader's order (its sorted image paths).

    Examples
    --------
    >>> sizes = np.array([[333, 500], [480, 640], [200, 640]])
    >>> rect_shapes(sizes, 320, 32, 1).tolist()    # each its own: 200 rows pad to 128
    [[256, 352], [256, 352], [128, 352]]
    >>> rect_shapes(sizes, 320, 32, 2).tolist()    # 200x640 shares 333x500's batch
    [[256, 352], [256, 352], [256, 352]]
    """
    sizes = np.asarray(sizes, np.float64).reshape(-1, 2)
    which = np.arange(len(sizes)) // batch
    order = (sizes[:, 0] / sizes[:, 1]).argsort()
    ratios = (sizes[:, 0] / sizes[:, 1])[order]
    shapes = np.ones((which[-1] + 1 if len(sizes) else 0, 2))
    for b in range(len(shapes)):
        low, high = ratios[which == b].min(), ratios[which == b].max()
        if high < 1:
            shapes[b] = high, 1
        elif low > 1:
            shapes[b] = 1, 1 / low
    padded = np.ceil(shapes * side / stride + 0.5).astype(np.int64) * stride
    out = np.empty((len(sizes), 2), np.int64)
    out[order] = padded[which]
    return out


def plan_val_fit(width: int, height: int, side: int, stride: int | None = None,
                 canvas: tuple[int, int] | None = None) -> Fit:
    """The :class:`Fit` ``yolo val``'s loader gives a ``width x height`` image for a square
    input of ``side`` pixels.

    Unlike predict's letterbox, the long side is resized to ``side`` with the other rounded
    *up* (``ceil``, capped at ``side``), then padded without any further resize, into
    ``canvas`` (``(width, height)``: the image's batch's rect shape, :func:`rect_shapes`), or
    with ``stride`` alone into its own rect shape (a batch of one: half a stride more than the
    resized image), or else into ``side x side``.

    Examples
    --------
    >>> fit = plan_val_fit(500, 333, 320)   # predict's letterbox rounds 213.12 to 213
    >>> fit.new_size, fit.size, fit.top
    ((320, 214), (320, 320), 53)
    >>> plan_val_fit(500, 333, 320, stride=32).size    # 320 wide + 16, 214 + 16 -> 352 x 256
    (352, 256)
    """
    w, h = int(width), int(height)
    r = side / max(w, h)
    new_w, new_h = (w, h) if r == 1 else (min(math.ceil(w * r), side), min(math.ceil(h * r), side))
    if canvas is not None:
        canvas_w, canvas_h = int(canvas[0]), int(canvas[1])
    elif stride:
        canvas_h, canvas_w = rect_shapes(np.array([[h, w]]), side, stride, 1)[0].tolist()
    else:
        canvas_w = canvas_h = side
    left = int(round((canvas_w - new_w) / 2 - 0.1))
    top = int(round((canvas_h - new_h) / 2 - 0.1))
    return _fit_of(w, h, (canvas_w, canvas_h), (new_w, new_h), left, top)


def fill_blob(frame: np.ndarray, fit: Fit, out: np.ndarray, borders: bool = True) -> None:
    """Write one BGR ``frame`` into ``out``, a ``(3, H, W)`` float32 slice of a blob.

    The same values as :func:`letterbox` (or :func:`resize`) followed by :func:`make_blob`,
    bit for bit, in fewer passes (:mod:`tecktrack.model.blob_kernel`): the frame is resized
    once (read once and never copied when it is exactly twice the width), written straight
    into the RGB planes of ``out`` divided by 255, and only the borders are set to grey;
    ``borders=False`` leaves them as they are (a buffer that already holds this fit's grey
    borders).

    Examples
    --------
    >>> frame = np.full((100, 200, 3), (10, 20, 30), np.uint8)
    >>> out = np.empty((3, 64, 64), np.float32)
    >>> fill_blob(frame, plan_fit(200, 100, (64, 64), True), out)
    >>> bool(np.array_equal(out[None], make_blob([letterbox(frame, (64, 64))[0]])))
    True
    """
    if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
        frame = check_frame(frame)  # grey or BGRA converted; anything else refused
    new_w, new_h = fit.new_size
    height, width = frame.shape[:2]
    if borders and fit.padded:
        _grey_borders(out, fit)
    if width == 2 * new_w and _LITTLE_ENDIAN:
        words = np.ascontiguousarray(frame).reshape(height, width * 3).view(np.uint16)
        if height == 2 * new_h:
            half_planes_from_bgr(words, out, fit.top, fit.left)
        else:
            half_width_planes_from_bgr(words, out, fit.top, fit.left,
                                       *vertical_taps(height, new_h))
        return
    if width != new_w or height != new_h:  # cv2.resize reads a cropped view as it is
        frame = cv2.resize(frame, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
    planes_from_bgr(np.ascontiguousarray(frame).reshape(new_h, new_w * 3), out, fit.top,
                    fit.left)


def _grey_borders(out: np.ndarray, fit: Fit) -> None:
    grey = np.float32(LETTERBOX_GREY) / _F255
    new_w, new_h = fit.new_size
    out[:, :fit.top] = grey
    out[:, fit.top + new_h:] = grey
    out[:, fit.top:fit.top + new_h, :fit.left] = grey
    out[:, fit.top:fit.top + new_h, fit.left + new_w:] = grey


def make_blob(images: Sequence[np.ndarray], dtype: type = np.float32) -> np.ndarray:
    """Stack same-size BGR images into an NCHW RGB blob scaled to [0, 1].

    Pixels are divided by 255 in float32, as Ultralytics does (``im.float() / 255``);
    multiplying by ``1 / 255`` differs in the last bit for some values, which is enough to
    reorder near-equal scores at the ``max_det`` cut.

    Examples
    --------
    >>> make_blob([np.full((2, 3, 3), 255, np.uint8)]).shape
    (1, 3, 2, 3)
    >>> bool(make_blob([np.full((1, 1, 3), 29, np.uint8)])[0, 0, 0, 0] == np.float32(29) / 255)
    True
    """
    blob = cv2.dnn.blobFromImages(list(images), scalefactor=1.0, swapRB=True, crop=False)
    blob /= np.float32(255.0)
    return blob if blob.dtype == dtype else blob.astype(dtype)


def unmap_boxes(boxes: np.ndarray, info: FrameInfo, clip: bool = True) -> np.ndarray:
    """Map ``(n, 4)`` input-pixel corners back to original-frame pixels (float32).

    ``clip=False`` leaves boxes that reach past the frame as they are (the Model clips after
    NMS with :func:`clip_boxes`).

    Examples
    --------
    >>> info = FrameInfo(200, 100, 0.32, 0.32, 0.0, 16.0)
    >>> unmap_boxes(np.array([[0.0, 16.0, 64.0, 48.0]], np.float32), info)
    array([[  0.,   0., 200., 100.]], dtype=float32)
    >>> unmap_boxes(np.array([[-3.2, 16.0, 64.0, 48.0]], np.float32), info, clip=False)
    array([[-10.,   0., 200., 100.]], dtype=float32)
    """
    offset = np.array([info.pad_x, info.pad_y, info.pad_x, info.pad_y], np.float32)
    scale = np.array([info.scale_x, info.scale_y, info.scale_x, info.scale_y], np.float32)
    out = (boxes.astype(np.float32, copy=False) - offset) / scale
    return clip_boxes(out, info) if clip else out


def unmap_kept(xyxy: np.ndarray, index: np.ndarray | None, fit: Fit, clip: bool) -> np.ndarray:
    """:func:`unmap_boxes` (and :func:`clip_boxes`) of the rows ``index`` of ``xyxy``, in one
    new float32 array computed in place: the same float32 operations, bit for bit.

    ``index=None`` takes every row.

    Examples
    --------
    >>> fit = plan_fit(200, 100, (64, 64), letterboxed=True)
    >>> boxes = np.array([[9.0, 9.0, 9.0, 9.0], [-3.2, 16.0, 64.0, 48.0]], np.float32)
    >>> unmap_kept(boxes, np.array([1]), fit, clip=False)
    array([[-10.,   0., 200., 100.]], dtype=float32)
    """
    xyxy = np.asarray(xyxy, np.float32)
    out = xyxy.copy() if index is None else xyxy.take(index, axis=0)
    out -= fit.offset
    out /= fit.scale
    if clip:
        np.clip(out, np.float32(0.0), fit.limit, out=out)
    return out


def clip_boxes(boxes: np.ndarray, info: FrameInfo) -> np.ndarray:
    """Clip ``(n, 4)`` frame-pixel corners to ``[0, width] x [0, height]`` of ``info``'s frame.

    Examples
    --------
    >>> clip_boxes(np.array([[-5.0, 2.0, 250.0, 90.0]], np.float32), FrameInfo(200, 100, 1, 1))
    array([[  0.,   2., 200.,  90.]], dtype=float32)
    """
    limit = np.array([info.width, info.height, info.width, info.height], np.float32)
    return np.clip(boxes, np.float32(0.0), limit)
