"""BGR frames into network blobs as compiled loops (numba): fewer passes over memory.

:func:`~tecktrack.model.preprocess.fill_blob` calls these. Both write the RGB planes of a
``(3, H, W)`` float32 blob slice directly, each pixel divided by 255 in float32 (IEEE
division, as ``im.float() / 255`` and ``cv2.dnn.blobFromImages`` + ``/ 255`` give it), so the
blob is the same bit for bit as the plain ``letterbox`` + ``make_blob`` path; the tests
compare every byte.

* :func:`planes_from_bgr` takes an already resized frame: one pass instead of OpenCV's
  ``split`` and three NumPy divisions (each plane's loop reads the interleaved rows with a
  fixed stride, which the compiler vectorises).
* :func:`half_planes_from_bgr` also does the resize when the frame is exactly twice the
  size the network wants (640x480 into a 320 letterbox, 1280x720 into 640x360): OpenCV's
  ``INTER_LINEAR`` is then the 2x2 average ``(a + b + c + d + 2) >> 2`` (``cv::resize``
  switches to its fast ``INTER_AREA`` path there), so the frame is read once and the resized
  copy is never written. It reads the frame two bytes at a time (a ``uint16`` view).
* :func:`half_width_planes_from_bgr` does the same when only the width is exactly halved
  (a 640-wide COCO photo stretched to 320x320 for a Darknet model or the demo detectors):
  OpenCV's ``INTER_LINEAR`` is then a 2-pixel average across and its fixed-point vertical
  blend down (:func:`vertical_taps`), reproduced to the bit; 96 us for 640x426 into 320x320
  against 221 us for ``cv2.resize`` + :func:`planes_from_bgr`.

The first call in a process loads the compiled code from numba's cache (compiled once per
machine into ``__pycache__``).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from numba import njit

__all__ = ["half_planes_from_bgr", "half_width_planes_from_bgr", "planes_from_bgr",
           "vertical_taps"]

#: OpenCV's fixed-point weights of ``INTER_LINEAR`` for 8-bit images (``INTER_RESIZE_COEF_BITS``).
_COEF_SCALE = np.float32(2048)


@njit(cache=True, nogil=True)
def planes_from_bgr(rows: np.ndarray, out: np.ndarray, top: int, left: int) -> None:
    """Write ``rows`` (``(h, 3 * w)`` uint8, BGR interleaved) into ``out[:, top:top + h,
    left:left + w]`` as RGB planes divided by 255.

    Examples
    --------
    >>> frame = np.full((2, 2, 3), (255, 0, 51), np.uint8)
    >>> out = np.zeros((3, 2, 2), np.float32)
    >>> planes_from_bgr(frame.reshape(2, 6), out, 0, 0)
    >>> out[:, 0, 0].tolist()
    [0.20000000298023224, 0.0, 1.0]
    """
    h = rows.shape[0]
    w = rows.shape[1] // 3
    d = np.float32(255.0)
    for y in range(h):
        src = rows[y]
        for c in range(3):
            dst = out[2 - c, top + y, left:left + w]
            for x in range(w):
                dst[x] = np.float32(src[3 * x + c]) / d


@njit(cache=True, nogil=True)
def half_planes_from_bgr(words: np.ndarray, out: np.ndarray, top: int, left: int) -> None:
    """Like :func:`planes_from_bgr` for a frame of ``2h`` rows and ``2w`` pixels resized to
    half its size first: each output pixel is ``(a + b + c + d + 2) >> 2`` of its 2x2 block,
    per channel, which is what ``cv2.resize(..., INTER_LINEAR)`` gives at exactly half the
    width and height.

    ``words`` is the frame's rows seen as little-endian ``uint16`` (``(2h, 3w)``: the six
    bytes ``B0 G0 R0 B1 G1 R1`` of an output pixel's two source pixels in a row are words
    ``3x``, ``3x + 1``, ``3x + 2``): two bytes per load, and each channel's loop reads a
    stride-3 group of words that the compiler vectorises (57-73 us for 640x480 against
    84-105 us reading the bytes one by one).

    Examples
    --------
    >>> frame = np.zeros((2, 2, 3), np.uint8); frame[0, 0] = 255
    >>> out = np.zeros((3, 1, 1), np.float32)
    >>> half_planes_from_bgr(frame.reshape(2, 6).view(np.uint16), out, 0, 0)
    >>> bool(out[0, 0, 0] == np.float32(64) / 255)    # (255 + 0 + 0 + 0 + 2) >> 2 = 64
    True
    """
    h = words.shape[0] // 2
    w = words.shape[1] // 3
    d = np.float32(255.0)
    for y in range(h):
        upper = words[2 * y]
        lower = words[2 * y + 1]
        blue = out[2, top + y, left:left + w]
        for x in range(w):  # B0 is the low byte of word 0, B1 the high byte of word 1
            total = (_low(upper[3 * x]) + _high(upper[3 * x + 1]) + _low(lower[3 * x])
                     + _high(lower[3 * x + 1]) + 2) >> 2
            blue[x] = np.float32(total) / d
        green = out[1, top + y, left:left + w]
        for x in range(w):  # G0: high byte of word 0; G1: low byte of word 2
            total = (_high(upper[3 * x]) + _low(upper[3 * x + 2]) + _high(lower[3 * x])
                     + _low(lower[3 * x + 2]) + 2) >> 2
            green[x] = np.float32(total) / d
        red = out[0, top + y, left:left + w]
        for x in range(w):  # R0: low byte of word 1; R1: high byte of word 2
            total = (_low(upper[3 * x + 1]) + _high(upper[3 * x + 2]) + _low(lower[3 * x + 1])
                     + _high(lower[3 * x + 2]) + 2) >> 2
            red[x] = np.float32(total) / d


@njit(cache=True, nogil=True, inline="always")
def _low(word: np.uint16) -> np.int32:
    return np.int32(word) & 255


@njit(cache=True, nogil=True, inline="always")
def _high(word: np.uint16) -> np.int32:
    return np.int32(word) >> 8


@lru_cache(maxsize=64)
def vertical_taps(src: int, dst: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The two source rows and weights of each of ``dst`` output rows when ``cv2.resize``
    (``INTER_LINEAR``, uint8) scales ``src`` rows to ``dst``: what
    :func:`half_width_planes_from_bgr` blends.

    OpenCV places output row ``y`` at ``f = (y + 0.5) * src / dst - 0.5`` (in float32), blends
    rows ``floor(f)`` and ``floor(f) + 1`` (clamped to the image) with the 11-bit fixed-point
    weights ``round(2048 * (1 - frac))`` and ``round(2048 * frac)``. The weights are returned
    divided by 1024 (exact in float32), ready for the kernel's ``floor(sum * weight)``.
    Cached per ``(src, dst)``; the arrays are read-only.

    Examples
    --------
    >>> upper, lower, w_upper, w_lower = vertical_taps(426, 320)
    >>> int(upper[1]), int(lower[1]), float(w_upper[1] + w_lower[1])
    (1, 2, 2.0)
    """
    scale = 1.0 / (dst / src)  # as OpenCV derives it from the inverse scale
    place = ((np.arange(dst) + 0.5) * scale - 0.5).astype(np.float32)
    first = np.floor(place)
    frac = place - first
    upper, lower = (np.clip(first.astype(np.int64) + k, 0, src - 1) for k in (0, 1))
    taps = (upper, lower, *(np.rint(w * _COEF_SCALE) / np.float32(1024)  # float32 throughout
                            for w in (np.float32(1) - frac, frac)))
    for array in taps:
        array.flags.writeable = False
    return taps


@njit(cache=True, nogil=True)
def half_width_planes_from_bgr(words: np.ndarray, out: np.ndarray, top: int, left: int,
                               upper_rows: np.ndarray, lower_rows: np.ndarray,
                               upper_weights: np.ndarray, lower_weights: np.ndarray) -> None:
    """Like :func:`planes_from_bgr` for a frame of ``2w`` pixels resized to ``w`` across and to
    ``len(upper_rows)`` rows (:func:`vertical_taps`) down, as ``cv2.resize(...,
    INTER_LINEAR)`` gives it bit for bit.

    Across, OpenCV's fixed-point pass gives ``1024 * (a + b)`` for each output pixel's two
    source pixels; down, its vector and scalar loops both compute ``(((h0 >> 4) * w0 >> 16) +
    ((h1 >> 4) * w1 >> 16) + 2) >> 2``, which for such ``h`` is ``(floor(s0 * w0 / 1024) +
    floor(s1 * w1 / 1024) + 2) >> 2`` with ``s = a + b``. Every product is below ``2 ** 24``,
    so the kernel computes it in float32 exactly (faster than integers here, which numba
    widens to 64 bits). ``words`` is the frame's rows as little-endian ``uint16``, as for
    :func:`half_planes_from_bgr`.

    Examples
    --------
    >>> frame = np.full((3, 2, 3), 100, np.uint8); frame[2] = 200
    >>> out = np.zeros((3, 2, 1), np.float32)
    >>> taps = vertical_taps(3, 2)
    >>> half_width_planes_from_bgr(frame.reshape(3, 6).view(np.uint16), out, 0, 0, *taps)
    >>> (out[0, :, 0] * 255).round().tolist()    # what cv2.resize gives
    [100.0, 175.0]
    """
    h = upper_rows.shape[0]
    w = words.shape[1] // 3
    d = np.float32(255.0)
    for y in range(h):
        upper = words[upper_rows[y]]
        lower = words[lower_rows[y]]
        p = upper_weights[y]
        q = lower_weights[y]
        blue = out[2, top + y, left:left + w]
        for x in range(w):  # the byte layout of half_planes_from_bgr
            blue[x] = _blend(_low(upper[3 * x]) + _high(upper[3 * x + 1]),
                             _low(lower[3 * x]) + _high(lower[3 * x + 1]), p, q) / d
        green = out[1, top + y, left:left + w]
        for x in range(w):
            green[x] = _blend(_high(upper[3 * x]) + _low(upper[3 * x + 2]),
                              _high(lower[3 * x]) + _low(lower[3 * x + 2]), p, q) / d
        red = out[0, top + y, left:left + w]
        for x in range(w):
            red[x] = _blend(_low(upper[3 * x + 1]) + _high(upper[3 * x + 2]),
                            _low(lower[3 * x + 1]) + _high(lower[3 * x + 2]), p, q) / d


@njit(cache=True, nogil=True, inline="always")
def _blend(upper_sum: np.int32, lower_sum: np.int32, p: np.float32, q: np.float32
           ) -> np.float32:
    """OpenCV's fixed-point blend of two rows' 2-pixel sums, exactly, in float32."""
    return np.floor((np.floor(np.float32(upper_sum) * p) + np.floor(np.float32(lower_sum) * q)
                     + np.float32(2.0)) * np.float32(0.25))
