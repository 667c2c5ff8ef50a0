"""Vectorised decoders for the four YOLO output layouts, and layout detection.

* ``darknet``: region rows ``[cx, cy, w, h, obj, p...]`` normalised to the network input,
  from one or more output layers, class columns already multiplied by objectness (as
  OpenCV's region layer gives them).
* ``yolov5``: one output ``(B, N, 5 + nc)``, rows ``[cx, cy, w, h, obj, p...]`` in input
  pixels; score = obj * p.
* ``yolov8`` (also YOLO11): one output ``(B, 4 + nc, N)``, columns ``[cx, cy, w, h, p...]``
  in input pixels; score = p (no objectness).
* ``end2end``: one output ``(B, max_det, 6)``, rows ``[x1, y1, x2, y2, score, class]`` in
  input pixels, already through NMS (Ultralytics ``nms=True`` exports and the NMS-free heads
  of YOLOv10 / YOLO26); zero rows pad the tail.

Every decoder returns candidates in network-input pixels after the score threshold
(``score > conf``), one best class per box, before NMS.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from tecktrack.detections import Detections, cxcywh_to_xyxy
from tecktrack.errors import ModelError
from tecktrack.model.post_kernel import darknet_candidates, yolov8_best
from tecktrack.model.trusted import trusted_detections

__all__ = ["KNOWN_LAYOUTS", "decode", "decode_darknet", "decode_end2end", "decode_yolov5",
           "decode_yolov8", "darknet_inputs", "infer_layout", "row_maxima", "split_batch",
           "yolov8_inputs"]

#: The layouts TeckTrack decodes, as error messages list them.
KNOWN_LAYOUTS = ("darknet: one or more (N, 5+nc) region outputs; yolov5: (1, N, 5+nc); "
                 "yolov8/YOLO11: (1, 4+nc, N); end2end (nms=True exports, YOLOv10, YOLO26): "
                 "(1, max_det, 6) rows [x1, y1, x2, y2, score, class]")

Shape = Sequence[int | str | None]


def _from_cxcywh(boxes: np.ndarray, scores: np.ndarray, class_ids: np.ndarray) -> Detections:
    xyxy = cxcywh_to_xyxy(boxes.astype(np.float32, copy=False))
    return Detections(xyxy, class_ids, scores)


def _corners(boxes: np.ndarray) -> np.ndarray:
    """float32 ``(k, 4)`` corners of ``(k, 4)`` float32 centre/size rows (a view will do).

    The float32 operations of :func:`~tecktrack.detections.cxcywh_to_xyxy`, written straight
    into one new C-contiguous array.
    """
    half = boxes[:, 2:4] / 2
    xyxy = np.empty((len(boxes), 4), np.float32)
    np.subtract(boxes[:, :2], half, out=xyxy[:, :2])
    np.add(boxes[:, :2], half, out=xyxy[:, 2:])
    return xyxy


def _candidates(boxes: np.ndarray, scores: np.ndarray, class_ids: np.ndarray) -> Detections:
    """Detections over freshly gathered centre/size ``boxes`` (float32), scores and classes."""
    return trusted_detections(_corners(boxes.astype(np.float32, copy=False)),
                              class_ids.astype(np.int64, copy=False),
                              scores.astype(np.float32, copy=False))


def decode_yolov8(output: np.ndarray, conf: float, multi_label: bool = False) -> Detections:
    """Decode one image's ``(4 + nc, N)`` YOLOv8/YOLO11 output.

    ``multi_label=True`` keeps every (box, class) pair scoring above ``conf``, box-major,
    as ``yolo val`` does; otherwise each box keeps its best class.

    Examples
    --------
    >>> out = np.zeros((6, 3), np.float32)
    >>> out[:4, 1] = [50, 40, 20, 10]; out[5, 1] = 0.9
    >>> d = decode_yolov8(out, 0.25)
    >>> d.xyxy.tolist(), d.class_ids.tolist(), [round(float(s), 2) for s in d.scores]
    ([[40.0, 35.0, 60.0, 45.0]], [1], [0.9])
    """
    probs = output[4:]
    if multi_label:
        anchors, classes = np.nonzero(probs.T > conf)
        return _from_cxcywh(output[:4, anchors].T, probs[classes, anchors], classes)
    compiled = yolov8_inputs(output, conf)
    if compiled is not None:  # one compiled pass (post_kernel)
        return trusted_detections(*yolov8_best(*compiled))
    scores = probs.max(axis=0)
    keep = np.flatnonzero(scores > conf)
    class_ids = probs[:, keep].argmax(axis=0)
    return _candidates(output[:4].take(keep, axis=1).T, scores.take(keep), class_ids)


def yolov8_inputs(output: np.ndarray, conf: float) -> tuple | None:
    """The leading arguments of :func:`~tecktrack.model.post_kernel.yolov8_best` (and
    ``yolov8_kept``) for one image's ``(4 + nc, N)`` output: the contiguous float32 output and
    ``conf`` as float32; ``None`` unless it is a float32 matrix with class rows (the NumPy
    decoding then runs).

    Examples
    --------
    >>> output, conf = yolov8_inputs(np.zeros((6, 3), np.float32), 0.25)
    >>> output.shape, conf.dtype, yolov8_inputs(np.zeros((4, 3), np.float32), 0.25)
    ((6, 3), dtype('float32'), None)
    """
    if output.ndim != 2 or output.shape[0] <= 4 or output.dtype != np.float32:
        return None
    return np.ascontiguousarray(output), np.float32(conf)


def decode_yolov5(output: np.ndarray, conf: float) -> Detections:
    """Decode one image's ``(N, 5 + nc)`` YOLOv5 output (score = objectness x class prob).

    Examples
    --------
    >>> out = np.array([[50, 40, 20, 10, 0.9, 0.1, 0.8], [1, 1, 1, 1, 0.1, 0.9, 0.0]])
    >>> d = decode_yolov5(out.astype(np.float32), 0.25)
    >>> d.class_ids.tolist(), [round(float(s), 2) for s in d.scores]
    ([1], [0.72])
    """
    rows = output[output[:, 4] > conf]
    class_scores = rows[:, 5:] * rows[:, 4:5]
    class_ids = class_scores.argmax(axis=1)
    scores = class_scores[np.arange(len(rows)), class_ids]
    keep = scores > conf
    return _from_cxcywh(rows[keep, :4], scores[keep], class_ids[keep])


def decode_end2end(output: np.ndarray, conf: float) -> Detections:
    """Decode one image's ``(max_det, 6)`` end-to-end rows ``[x1, y1, x2, y2, score, class]``.

    Rows keep their order (the network's, best first); only ``score > conf`` is applied.

    Examples
    --------
    >>> out = np.array([[10, 20, 30, 40, 0.9, 2], [0, 0, 0, 0, 0.0, 0]], np.float32)
    >>> d = decode_end2end(out, 0.25)
    >>> d.xyxy.tolist(), d.class_ids.tolist()
    ([[10.0, 20.0, 30.0, 40.0]], [2])
    """
    rows = output[output[:, 4] > conf]
    class_ids = np.rint(rows[:, 5]).astype(np.int64)
    return Detections(rows[:, :4].astype(np.float32, copy=False), class_ids, rows[:, 4])


def decode_darknet(outputs: Sequence[np.ndarray], conf: float,
                   input_size: tuple[int, int]) -> Detections:
    """Decode one image's Darknet region rows from all output layers.

    Rows are ``[cx, cy, w, h, obj, p...]`` normalised to the network input of
    ``input_size = (width, height)``; class columns already include objectness.

    Examples
    --------
    >>> rows = np.array([[0.5, 0.5, 0.25, 0.5, 0.9, 0.0, 0.8]], np.float32)
    >>> decode_darknet([rows], 0.25, (320, 320)).xyxy.tolist()
    [[120.0, 80.0, 200.0, 240.0]]
    """
    compiled = darknet_inputs(outputs, conf, input_size)
    if compiled is not None:  # one compiled pass per layer (post_kernel)
        return trusted_detections(*darknet_candidates(*compiled))
    # Layer by layer, then only the candidates are joined (in the same order as joining
    # every row first): no copy of all rows.
    parts = [_darknet_layer(o.reshape(-1, o.shape[-1]), conf) for o in outputs]
    rows, scores, class_ids = (_join([part[i] for part in parts]) for i in range(3))
    width, height = input_size
    boxes = rows * np.array([width, height, width, height], np.float32)
    return _candidates(boxes, scores, class_ids)


def darknet_inputs(outputs: Sequence[np.ndarray], conf: float,
                   input_size: tuple[int, int]) -> tuple | None:
    """The leading arguments of :func:`~tecktrack.model.post_kernel.darknet_candidates` (and
    ``darknet_kept``) for one image's Darknet outputs: contiguous float32 layers, their
    :func:`row_maxima`, ``conf`` and the input size as float32; ``None`` unless every layer
    is float32 with class columns (the NumPy decoding then runs).

    Examples
    --------
    >>> rows = np.array([[0.5, 0.5, 0.25, 0.5, 0.9, 0.0, 0.8]], np.float32)
    >>> layers, maxima, conf, width, height = darknet_inputs([rows], 0.25, (320, 256))
    >>> len(layers), maxima[0].tolist(), float(height)
    (1, [0.800000011920929], 256.0)
    """
    if not all(o.dtype == np.float32 and o.shape[-1] > 5 for o in outputs):
        return None
    layers = tuple(np.ascontiguousarray(o.reshape(-1, o.shape[-1])) for o in outputs)
    width, height = input_size
    return (layers, tuple(row_maxima(rows) for rows in layers), np.float32(conf),
            np.float32(width), np.float32(height))


def _darknet_layer(rows: np.ndarray, conf: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One layer's candidate box rows, scores and best classes (``score > conf``; a row with
    a NaN class score has a NaN maximum, so it is no candidate)."""
    class_cols = rows[:, 5:]
    maxima = class_cols.max(axis=1)
    keep = np.flatnonzero(maxima > conf)
    return rows[keep, :4], maxima[keep], class_cols[keep].argmax(axis=1)


def row_maxima(rows: np.ndarray) -> np.ndarray:
    """float32 class maxima of float32 Darknet region rows by ``cv2.reduce`` (several times
    faster than NumPy's; what it gives for a row holding a NaN is not NumPy's NaN, which
    :func:`~tecktrack.model.post_kernel.darknet_best` allows for).

    Examples
    --------
    >>> row_maxima(np.array([[0.5, 0.5, 0.2, 0.2, 0.9, 0.1, 0.7]], np.float32)).tolist()
    [0.699999988079071]
    """
    if not len(rows):
        return np.empty(0, np.float32)
    return cv2.reduce(rows[:, 5:], 1, cv2.REDUCE_MAX).reshape(-1)


def _join(arrays: list[np.ndarray]) -> np.ndarray:
    return arrays[0] if len(arrays) == 1 else np.concatenate(arrays)


def decode(layout: str, outputs: Sequence[np.ndarray], conf: float,
           input_size: tuple[int, int], multi_label: bool = False) -> Detections:
    """Decode one image's outputs (batch axis removed) with the decoder of ``layout``.

    Examples
    --------
    >>> decode("yolov8", [np.zeros((6, 4), np.float32)], 0.25, (64, 64)).scores.shape
    (0,)
    """
    if layout == "yolov8":
        return decode_yolov8(outputs[0], conf, multi_label)
    if layout == "end2end":
        return decode_end2end(outputs[0], conf)
    if layout == "yolov5":
        return decode_yolov5(outputs[0], conf)
    return decode_darknet(outputs, conf, input_size)


def split_batch(outputs: Sequence[np.ndarray], layout: str, batch: int) -> list[list[np.ndarray]]:
    """Per-image output lists from batched forward outputs.

    Darknet layers read through OpenCV drop the batch axis when the batch is 1.

    Examples
    --------
    >>> [len(x) for x in split_batch([np.zeros((2, 6, 4))], "yolov8", 2)]
    [1, 1]
    """
    per_image: list[list[np.ndarray]] = [[] for _ in range(batch)]
    for out in outputs:
        if layout == "darknet" and out.ndim == 2:
            out = out.reshape(1, *out.shape) if batch == 1 else out.reshape(batch, -1, out.shape[1])
        if out.shape[0] != batch:
            raise ModelError(f"network returned batch {out.shape[0]} for {batch} input image(s)")
        for i in range(batch):
            per_image[i].append(out[i])
    return per_image


def _describe(shapes: Sequence[Shape]) -> str:
    return ", ".join("(" + ", ".join(str(d) for d in s) + ")" for s in shapes)


def _darknet_classes(shapes: Sequence[Shape]) -> int:
    widths = {s[-1] for s in shapes}
    if len(widths) != 1 or not all(len(s) in (2, 3) for s in shapes):
        raise ModelError(f"output shapes {_describe(shapes)} are not Darknet region rows")
    return int(widths.pop()) - 5


def yolo_anchor_counts(input_size: tuple[int, int] | None) -> set[int]:
    """Rows a YOLOv5 head gives for ``input_size``: 3 anchors per cell at strides 8-32 (or 8-64).

    Examples
    --------
    >>> sorted(yolo_anchor_counts((640, 640)))
    [25200, 25500]
    """
    if input_size is None:
        return set()
    w, h = input_size
    cells = [-(-w // s) * -(-h // s) for s in (8, 16, 32, 64)]
    return {3 * sum(cells[:3]), 3 * sum(cells)}


def _six_columns(rows: int | str | None, n_names: int | None,
                 input_size: tuple[int, int] | None) -> str:
    """``(1, rows, 6)`` is end-to-end unless it is a one-class YOLOv5 head of this input size."""
    one_class_v5 = n_names in (None, 1) and isinstance(rows, int) and (
        rows in yolo_anchor_counts(input_size) or input_size is None and n_names == 1)
    return "yolov5" if one_class_v5 else "end2end"


def _single_output(shape: Shape, hint: str | None, n_names: int | None,
                   input_size: tuple[int, int] | None) -> tuple[str, int | None]:
    rows, cols = shape[1], shape[2]
    as_v8 = rows - 4 if isinstance(rows, int) else None
    as_v5 = cols - 5 if isinstance(cols, int) else None
    if hint == "end2end" and cols == 6:
        return hint, n_names
    if hint == "yolov8" and as_v8 is not None:
        return hint, as_v8
    if hint == "yolov5" and as_v5 is not None:
        return hint, as_v5
    if hint is not None:
        raise ModelError(f"output shape {_describe([shape])} does not fit layout '{hint}' "
                         f"(known layouts: {KNOWN_LAYOUTS})")
    if cols == 6 and (n_names is None or as_v8 != n_names):
        layout = _six_columns(rows, n_names, input_size)
        return (layout, 1) if layout == "yolov5" else (layout, n_names)
    candidates = [(lay, nc) for lay, nc in (("yolov8", as_v8), ("yolov5", as_v5))
                  if nc is not None and nc >= 1]
    if n_names is not None:
        matching = [c for c in candidates if c[1] == n_names]
        candidates = matching or candidates
    if not candidates:
        raise ModelError(f"cannot recognise the output shape {_describe([shape])}; known "
                         f"layouts: {KNOWN_LAYOUTS}")
    if len(candidates) == 2:  # the class axis is the shorter one
        return candidates[0] if not isinstance(cols, int) or rows <= cols else candidates[1]
    return candidates[0]


def infer_layout(shapes: Sequence[Shape], hint: str | None = None,
                 n_names: int | None = None,
                 input_size: tuple[int, int] | None = None) -> tuple[str, int | None]:
    """Layout and number of classes from the shapes of a forward pass's outputs.

    Parameters
    ----------
    shapes : sequence of shapes
        Output shapes (batch axis first for 3-D outputs; ``None``/str for dynamic axes).
    hint : str, optional
        Layout given in ``model.yaml``; checked against the shapes instead of guessed.
    n_names : int, optional
        Number of known class names; breaks ties between layouts.
    input_size : (width, height), optional
        The network input; a ``(1, N, 6)`` output is a one-class YOLOv5 head only when ``N``
        is that input's YOLOv5 anchor count, else end-to-end rows.

    Returns
    -------
    (layout, nc)
        ``nc`` is ``None`` for an end-to-end output without class names (its shape does not
        say how many classes there are).

    Raises
    ------
    ModelError
        If the shapes fit no layout (or not the hinted one).

    Examples
    --------
    >>> infer_layout([(1, 84, 8400)])
    ('yolov8', 80)
    >>> infer_layout([(1, 25200, 85)])
    ('yolov5', 80)
    >>> infer_layout([(300, 85), (1200, 85)])
    ('darknet', 80)
    >>> infer_layout([(1, 300, 6)], n_names=80, input_size=(640, 640))
    ('end2end', 80)
    """
    shapes = [tuple(s) for s in shapes]
    if hint == "darknet" or len(shapes) > 1 or (len(shapes) == 1 and len(shapes[0]) == 2):
        if hint not in (None, "darknet"):
            raise ModelError(f"output shapes {_describe(shapes)} do not fit layout '{hint}' "
                             f"(known layouts: {KNOWN_LAYOUTS})")
        nc = _darknet_classes(shapes)
    elif len(shapes) == 1 and len(shapes[0]) == 3:
        return _single_output(shapes[0], hint, n_names, input_size)
    else:
        raise ModelError(f"cannot recognise the output shape(s) {_describe(shapes)}; known "
                         f"layouts: {KNOWN_LAYOUTS}")
    if nc < 1:
        raise ModelError(f"output shapes {_describe(shapes)} leave no class columns")
    return "darknet", nc
