"""Predictions of a network in training on an in-memory split, for monitoring.

The network runs through :class:`~tecktrack.train.net.ExportWrapper`, so these are the
exact YOLOv8-layout outputs the ONNX export produces; boxes above ``conf`` go through
class-aware NMS (OpenCV's batched NMS) and are scaled back to the original image size.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch

from tecktrack.detections import Detections, cxcywh_to_xyxy, xyxy_to_xywh
from tecktrack.train.data import InMemorySplit
from tecktrack.train.net import DemoDetector, ExportWrapper

__all__ = ["decode_yolov8", "predict_split", "ground_truth"]


def decode_yolov8(output: np.ndarray, conf: float = 0.001, iou: float = 0.6,
                  max_det: int = 300) -> Detections:
    """One image's ``(4 + nc, N)`` YOLOv8-layout output to NMS-filtered detections.

    Each cell keeps its best class only; boxes stay in network-input pixels.

    Examples
    --------
    >>> out = np.zeros((6, 2), np.float32)
    >>> out[:4, 0] = [10, 10, 4, 4]; out[5, 0] = 0.9
    >>> d = decode_yolov8(out, conf=0.5)
    >>> d.xyxy.tolist(), d.class_ids.tolist()
    ([[8.0, 8.0, 12.0, 12.0]], [1])
    """
    probs = output[4:]
    class_ids = probs.argmax(axis=0)
    scores = probs[class_ids, np.arange(probs.shape[1])]
    keep = np.flatnonzero(scores > conf)
    if keep.size == 0:
        return Detections.empty(with_scores=True)
    boxes = cxcywh_to_xyxy(output[:4, keep].T)
    chosen = cv2.dnn.NMSBoxesBatched(xyxy_to_xywh(boxes).tolist(), scores[keep].tolist(),
                                     class_ids[keep].tolist(), conf, iou, top_k=max_det)
    chosen = np.asarray(chosen, dtype=np.int64).reshape(-1)
    picked = keep[chosen]
    return Detections(boxes[chosen], class_ids[picked], scores[picked]).sorted_by_score()


@torch.no_grad()
def predict_split(net: DemoDetector, split: InMemorySplit, conf: float = 0.001,
                  iou: float = 0.6, batch_size: int = 32) -> list[Detections]:
    """Run ``net`` over every image of ``split``; boxes in original image pixels.

    Examples
    --------
    >>> preds = predict_split(net, val)  # doctest: +SKIP
    """
    size = split.images.shape[1]
    wrapper = ExportWrapper(net.eval(), size, size).eval()
    results: list[Detections] = []
    for start in range(0, len(split), batch_size):
        chunk = split.images[start:start + batch_size]
        images = torch.from_numpy(chunk.transpose(0, 3, 1, 2).astype(np.float32) / 255.0)
        outputs = wrapper(images).numpy()
        for j, out in enumerate(outputs):
            det = decode_yolov8(out, conf, iou)
            width, height = split.sizes[start + j]
            scale = np.array([width / size, height / size] * 2, dtype=np.float32)
            results.append(Detections(det.xyxy * scale, det.class_ids, det.scores))
    return results


def ground_truth(split: InMemorySplit) -> list[Detections]:
    """The split's boxes as ground-truth :class:`Detections` in original image pixels.

    Examples
    --------
    >>> gt = ground_truth(val)  # doctest: +SKIP
    """
    size = split.images.shape[1]
    out = []
    for boxes, classes, (width, height) in zip(split.boxes, split.classes, split.sizes,
                                               strict=True):
        scale = np.array([width / size, height / size] * 2, dtype=np.float32)
        out.append(Detections(boxes * scale, classes))
    return out
