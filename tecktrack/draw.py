"""Annotated images: boxes, class names and scores, one distinct colour per class.

Tracked boxes (``tracker_ids`` set) are labelled ``#id name score`` and coloured by track
id instead (boxes no track owns, ``-1``, are not drawn), and :func:`draw_detections` can
draw each track's recent path as a trail.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from tecktrack.detections import Detections

__all__ = ["class_colors", "draw_detections", "draw_trails"]

_GOLDEN = 0.618033988749895
_SATURATION = 0.85
_VALUE = 0.9


def class_colors(n: int) -> np.ndarray:
    """``n`` distinct, saturated BGR colours (uint8); class ``i`` always gets the same colour.

    Hues step by the golden ratio so neighbouring ids get far-apart colours.

    Examples
    --------
    >>> c = class_colors(3)
    >>> c.shape, c.dtype, len({tuple(x) for x in c.tolist()})
    ((3, 3), dtype('uint8'), 3)
    """
    hue6 = (np.arange(n) * _GOLDEN % 1.0) * 6.0
    sector = hue6.astype(int) % 6
    frac = hue6 - np.floor(hue6)
    v, s = _VALUE, _SATURATION
    p = np.full(n, v * (1 - s))
    q = v * (1 - frac * s)
    t = v * (1 - (1 - frac) * s)
    vv = np.full(n, v)
    # (r, g, b) for each of the six hue sectors
    table = np.stack([np.stack(rgb, axis=1) for rgb in
                      ((vv, t, p), (q, vv, p), (p, vv, t), (p, q, vv), (t, p, vv), (vv, p, q))])
    rgb = table[sector, np.arange(n)]
    return np.round(rgb[:, ::-1] * 255).astype(np.uint8)


def _label(class_id: int, score: float | None, names: Sequence[str]) -> str:
    name = names[class_id] if 0 <= class_id < len(names) else f"class_{class_id}"
    return name if score is None else f"{name} {score:.2f}"


def _track_colors(ids: np.ndarray) -> np.ndarray:
    """A stable colour per track id (golden-ratio hues, as for classes)."""
    return class_colors(int(ids.max(initial=0)) + 1)[np.maximum(ids, 0)]


def draw_trails(image_bgr: np.ndarray, trails: dict[int, np.ndarray],
                thickness: int = 1) -> np.ndarray:
    """Draw each track's recent centre points as a polyline, in place; returns the image.

    Examples
    --------
    >>> img = np.zeros((40, 40, 3), np.uint8)
    >>> bool(draw_trails(img, {3: np.array([[5.0, 5.0], [30.0, 30.0]])}).any())
    True
    """
    if not trails:
        return image_bgr
    ids = np.fromiter(trails, np.int64, len(trails))
    colors = _track_colors(ids).tolist()
    lines = [np.round(p).astype(np.int32).reshape(-1, 1, 2) for p in trails.values()]
    for line, color in zip(lines, colors, strict=True):
        if len(line) > 1:
            cv2.polylines(image_bgr, [line], False, color, thickness, cv2.LINE_AA)
    return image_bgr


def draw_detections(image_bgr: np.ndarray, detections: Detections, names: Sequence[str],
                    thickness: int | None = None,
                    trails: dict[int, np.ndarray] | None = None) -> np.ndarray:
    """A copy of ``image_bgr`` with each box, its class name and score drawn on it.

    Parameters
    ----------
    image_bgr : numpy.ndarray
        ``H x W x 3`` uint8 image; it is not modified.
    detections : Detections
        Boxes in the image's pixels (scores optional: ground truth draws names only).
    names : sequence of str
        Class names by id; ids outside it are drawn as ``class_<id>``.
    thickness : int, optional
        Line thickness; scales with the image size by default.
    trails : dict of int to (k, 2) array, optional
        Recent centre points per track id (e.g. ``TrackLog.trails()``), drawn under the boxes.

    Returns
    -------
    numpy.ndarray
        The annotated copy.

    Examples
    --------
    >>> img = np.zeros((60, 80, 3), np.uint8)
    >>> out = draw_detections(img, Detections([[10, 10, 50, 40]], [1], [0.9]), ["a", "b"])
    >>> bool(out.any()), bool(img.any())
    (True, False)
    """
    out = np.ascontiguousarray(image_bgr).copy()
    height, width = out.shape[:2]
    thickness = thickness or max(1, round((height + width) / 600))
    font_scale = max(0.35, thickness / 3)
    n_colors = max(len(names), int(detections.class_ids.max(initial=-1)) + 1)
    colors = class_colors(max(n_colors, 1)).tolist()
    boxes = np.round(detections.xyxy).astype(int).tolist()
    scores = None if detections.scores is None else detections.scores.tolist()
    tracks = detections.tracker_ids
    if trails:
        draw_trails(out, trails, thickness)
    if tracks is not None:
        track_colors = _track_colors(tracks).tolist()
    for i, (box, class_id) in enumerate(zip(boxes, detections.class_ids.tolist(), strict=True)):
        color = colors[class_id] if class_id >= 0 else (255, 255, 255)
        text = _label(class_id, None if scores is None else scores[i], names)
        if tracks is not None:
            if tracks[i] < 0:
                continue            # a box no track owns (ByteTrack's low-score candidates)
            color, text = track_colors[i], f"#{tracks[i]} {text}"
        cv2.rectangle(out, box[:2], box[2:], color, thickness, cv2.LINE_AA)
        (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, font_scale, 1)
        x, y = box[0], max(box[1], th + base)
        cv2.rectangle(out, (x, y - th - base), (x + tw, y), color, cv2.FILLED)
        cv2.putText(out, text, (x, y - base), cv2.FONT_HERSHEY_SIMPLEX, font_scale,
                    (0, 0, 0), 1, cv2.LINE_AA)
    return out
