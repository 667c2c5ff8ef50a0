"""Frames in, network blobs out: letterbox or stretched resize, and the way back.

The forward mapping from original pixels to network-input pixels is
``input = original * scale + pad``, with per-axis scales ``round(w * r) / w`` and
``round(h * r) / h`` as Ultralytics' ``LetterBox`` and ``scale_boxes`` use them;
:func:`unmap_boxes` inverts it and :func:`clip_boxes` clips to the frame, which the
:class:`~tecktrack.model.Model` does after NMS (clipping first changes which boxes NMS keeps).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from tecktrack.errors import FormatError

__all__ = ["LETTERBOX_GREY", "FrameInfo", "check_frame", "clip_boxes", "letterbox", "make_blob",
           "resize", "unmap_boxes"]

#: Padding value Ultralytics uses for its letterbox.
LETTERBOX_GREY = 114


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
    return out, FrameInfo(w, h, size[0] / w, size[1] / h)


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
    r = min(size[0] / w, size[1] / h)
    new_w, new_h = max(int(round(w * r)), 1), max(int(round(h * r)), 1)
    if (new_w, new_h) != (w, h):
        frame = cv2.resize(frame, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
    dw, dh = (size[0] - new_w) / 2, (size[1] - new_h) / 2
    top, bottom = int(round(dh - 0.1)), int(round(dh + 0.1))
    left, right = int(round(dw - 0.1)), int(round(dw + 0.1))
    if top or bottom or left or right:
        frame = cv2.copyMakeBorder(frame, top, bottom, left, right, cv2.BORDER_CONSTANT,
                                   value=(color, color, color))
    return frame, FrameInfo(w, h, new_w / w, new_h / h, float(left), float(top))


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


def clip_boxes(boxes: np.ndarray, info: FrameInfo) -> np.ndarray:
    """Clip ``(n, 4)`` frame-pixel corners to ``[0, width] x [0, height]`` of ``info``'s frame.

    Examples
    --------
    >>> clip_boxes(np.array([[-5.0, 2.0, 250.0, 90.0]], np.float32), FrameInfo(200, 100, 1, 1))
    array([[  0.,   2., 200.,  90.]], dtype=float32)
    """
    limit = np.array([info.width, info.height, info.width, info.height], np.float32)
    return np.clip(boxes, np.float32(0.0), limit)
