"""Ultralytics as a test oracle: seeded YOLO builds from their yaml, exported offline to ONNX.

Nothing is downloaded (``YOLO_OFFLINE=1``; models come from Ultralytics' bundled yaml files,
ONNX export with ``simplify=False`` so onnxslim is not needed). A freshly initialised YOLO
gives constant outputs (its activations shrink towards zero through ~60 layers), so every
BatchNorm is calibrated on the synthetic test images and the class biases are set so that
scores spread over ~0.02-0.99: garbage boxes, but many of them, all different.

The CPU build of torch cannot load the torchvision wheel from PyPI (built against CUDA torch);
:func:`import_ultralytics` then hands Ultralytics a ``torchvision.ops.nms`` that is
Ultralytics' own ``TorchNMS.nms`` (documented by Ultralytics to match torchvision exactly;
it is what Ultralytics runs when torchvision is not imported).
"""

from __future__ import annotations

import contextlib
import os
import sys
import types
import warnings
from pathlib import Path

import numpy as np

IMGSZ = 320


def ultralytics_installed() -> bool:
    """Whether the oracle is installed (without importing it)."""
    import importlib.util

    return importlib.util.find_spec("ultralytics") is not None


@contextlib.contextmanager
def _process_settings_kept():
    """Ultralytics changes process-wide settings on import (NumPy and torch print options,
    ``cv2.setNumThreads(0)``, warning filters, and it patches ``PIL.Image.open`` and
    ``torch.save``); put them back so later tests and doctests see the process as it was."""
    import cv2
    import torch
    from PIL import Image

    printoptions = np.get_printoptions()
    threads = cv2.getNumThreads()
    filters = list(warnings.filters)
    image_open, torch_save = Image.open, torch.save
    try:
        yield
    finally:
        np.set_printoptions(**printoptions)
        cv2.setNumThreads(threads)
        warnings.filters[:] = filters
        torch.set_printoptions(profile="default")
        Image.open, torch.save = image_open, torch_save


def import_ultralytics():
    """Import ``ultralytics`` offline; returns the ``YOLO`` class."""
    os.environ["YOLO_OFFLINE"] = "1"
    os.environ.setdefault("YOLO_VERBOSE", "False")
    with _process_settings_kept():
        try:
            import torchvision  # noqa: F401
        except Exception:  # noqa: BLE001 - RuntimeError from its C ops, or not installed
            for name in [n for n in sys.modules if n.startswith("torchvision")]:
                del sys.modules[name]
            from ultralytics.utils.nms import TorchNMS

            package, ops = types.ModuleType("torchvision"), types.ModuleType("torchvision.ops")
            ops.nms = TorchNMS.nms
            package.ops = ops
            sys.modules["torchvision"], sys.modules["torchvision.ops"] = package, ops
        from ultralytics import YOLO

    return YOLO


def _calibration_batch(seed: int):
    """The synthetic test images, stretched to the input size, as an RGB [0, 1] batch."""
    import cv2
    import torch

    images = [cv2.resize(img, (IMGSZ, IMGSZ))[:, :, ::-1] for img in synthetic_images(seed)]
    batch = np.stack(images).transpose(0, 3, 1, 2).astype(np.float32) / 255.0
    return torch.from_numpy(np.ascontiguousarray(batch))


def _calibrate(model, seed: int) -> None:
    import torch

    net = model.model
    head = net.model[-1]
    for module in net.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.reset_running_stats()
            module.momentum = None  # cumulative average over the calibration batch
    net.train()
    with torch.no_grad():
        net(_calibration_batch(seed))
    net.eval()
    with torch.no_grad():
        for attr in ("cv3", "one2one_cv3"):
            for branch in getattr(head, attr, None) or []:
                branch[-1].bias.fill_(-2.5)
        if head.reg_max == 1:  # direct l/t/r/b distances: keep boxes the right way round
            for attr in ("cv2", "one2one_cv2"):
                for branch in getattr(head, attr, None) or []:
                    branch[-1].bias.add_(1.0)


def build_onnx(cfg: str, out: Path, *, seed: int = 0, imgsz: int = IMGSZ,
               **export_args) -> Path:
    """Build ``cfg`` (e.g. ``yolov8n.yaml``) with ``seed``, calibrate, export to ``out``."""
    import torch

    yolo = import_ultralytics()
    torch.manual_seed(seed)
    model = yolo(cfg)
    _calibrate(model, seed)
    exported = model.export(format="onnx", imgsz=imgsz, simplify=False, verbose=False,
                            **export_args)
    out.parent.mkdir(parents=True, exist_ok=True)
    os.replace(exported, out)
    return out


def synthetic_images(seed: int = 0) -> list[np.ndarray]:
    """Blurred noise with coloured rectangles, in four shapes (landscape, odd, portrait, square)."""
    import cv2

    rng = np.random.default_rng(seed)
    images = []
    for h, w in ((240, 320), (333, 500), (480, 271), (320, 320)):
        img = cv2.GaussianBlur(rng.integers(0, 255, (h, w, 3), dtype=np.uint8), (0, 0), 3)
        for _ in range(6):
            x, y = int(rng.integers(0, w - 20)), int(rng.integers(0, h - 20))
            x2, y2 = x + int(rng.integers(10, 100)), y + int(rng.integers(10, 100))
            colour = tuple(int(c) for c in rng.integers(0, 255, 3))
            cv2.rectangle(img, (x, y), (x2, y2), colour, -1)
        images.append(img)
    return images


_LOADED: dict[str, object] = {}


def ultralytics_boxes(onnx_path: Path, image: np.ndarray, **predict_args):
    """Ultralytics' own ``predict`` on one image: ``(xyxy, scores, class_ids)`` as NumPy."""
    yolo = import_ultralytics()
    model = _LOADED.setdefault(str(onnx_path), yolo(str(onnx_path), task="detect"))
    result = model.predict(image, imgsz=IMGSZ, verbose=False, **predict_args)[0]
    boxes = result.boxes
    return boxes.xyxy.numpy(), boxes.conf.numpy(), boxes.cls.numpy().astype(np.int64)


def match_rate(ref_xyxy: np.ndarray, ref_cls: np.ndarray, xyxy: np.ndarray,
               cls: np.ndarray, min_iou: float = 0.9) -> tuple[int, int, float]:
    """(matched, total, max coordinate difference of the matched): each reference box to its
    best same-class box (IoU, or all four coordinates within 0.01 px for boxes clipped to
    zero area at the image edge); total is the larger of the two counts."""
    total = max(len(ref_xyxy), len(xyxy))
    if not len(ref_xyxy) or not len(xyxy):
        return 0, total, 0.0
    a, b = ref_xyxy.astype(np.float64), xyxy.astype(np.float64)
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.clip(rb - lt, 0, None).prod(axis=2)
    area_a = (a[:, 2:] - a[:, :2]).clip(0).prod(axis=1)
    area_b = (b[:, 2:] - b[:, :2]).clip(0).prod(axis=1)
    iou = inter / np.maximum(area_a[:, None] + area_b[None] - inter, 1e-12)
    same = np.abs(a[:, None, :] - b[None, :, :]).max(axis=2) <= 0.01  # zero-area boxes too
    iou[same] = 1.0
    iou[ref_cls[:, None] != cls[None, :]] = -1
    best = iou.argmax(axis=1)
    ok = iou[np.arange(len(a)), best] >= min_iou
    diff = float(np.abs(a[ok] - b[best[ok]]).max()) if ok.any() else 0.0
    return int(ok.sum()), total, diff


def write_val_dataset(onnx_path: Path, root: Path, seed: int = 0) -> Path:
    """A small detection dataset labelled from Ultralytics' own predictions, perturbed.

    Boxes are jittered by ~3 px, 10 % change class, 20 % are dropped, so mAP lands in the
    middle of its range. Images are PNG; three have their long side at :data:`IMGSZ`, three
    do not (503x314, 335x503, 125x160), where ``yolo val``'s loader (long side resized with
    ``ceil``, letterbox without upscaling) and ``predict``'s letterbox (``round``) feed the
    network other pixels. Two label files are polygon rows (a hexagon touching each box's
    four sides, as a ``-seg`` dataset writes objects), which Ultralytics reads as their boxes.
    One image has no label file (background). Returns the ``data.yaml``.
    """
    import cv2

    rng = np.random.default_rng(seed)
    images_dir, labels_dir = root / "images" / "val", root / "labels" / "val"
    images_dir.mkdir(parents=True, exist_ok=True)
    labels_dir.mkdir(parents=True, exist_ok=True)
    shapes = [(240, 320), (503, 335), (320, 320), (314, 503), (160, 125), (320, 320)]
    names = None
    for i, (h, w) in enumerate(shapes):
        img = cv2.resize(synthetic_images(seed + i)[i % 4], (w, h))
        cv2.imwrite(str(images_dir / f"{i:03d}.png"), img)
        xyxy, _, cls = ultralytics_boxes(onnx_path, img, conf=0.3)
        if names is None:
            names = _LOADED[str(onnx_path)].names
        if i == len(shapes) - 1:
            continue  # background: no label file
        keep = rng.random(len(xyxy)) > 0.2
        boxes = xyxy[keep] + rng.normal(0, 3, (keep.sum(), 4))
        boxes = np.clip(boxes, 0, [w, h, w, h])
        ok = (boxes[:, 2] - boxes[:, 0] > 2) & (boxes[:, 3] - boxes[:, 1] > 2)
        labels = np.where(rng.random(keep.sum()) < 0.1, rng.integers(0, 80, keep.sum()),
                          cls[keep])[ok]
        boxes = boxes[ok]
        cx, cy = (boxes[:, 0] + boxes[:, 2]) / 2 / w, (boxes[:, 1] + boxes[:, 3]) / 2 / h
        bw, bh = (boxes[:, 2] - boxes[:, 0]) / w, (boxes[:, 3] - boxes[:, 1]) / h
        row = _polygon_row if i in (1, 3) else _box_row
        lines = [row(c, a, b, d, e) for c, a, b, d, e in zip(labels, cx, cy, bw, bh, strict=True)]
        (labels_dir / f"{i:03d}.txt").write_text("\n".join(lines) + "\n")
    data = root / "data.yaml"
    listed = "\n".join(f"  {k}: {v}" for k, v in names.items())
    data.write_text(f"path: {root}\ntrain: images/val\nval: images/val\nnames:\n{listed}\n")
    return data


def _box_row(cls: int, cx: float, cy: float, w: float, h: float) -> str:
    return f"{cls} {cx:.6f} {cy:.6f} {w:.6f} {h:.6f}"


def _polygon_row(cls: int, cx: float, cy: float, w: float, h: float) -> str:
    """A hexagon whose bounding box is the box ``cx cy w h`` (normalised), as a label row."""
    x1, y1, x2, y2 = cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2
    points = [(x1, cy), ((x1 + cx) / 2, y1), ((cx + x2) / 2, y1), (x2, cy),
              ((cx + x2) / 2, y2), ((x1 + cx) / 2, y2)]
    return f"{cls} " + " ".join(f"{x:.6f} {y:.6f}" for x, y in points)


def ultralytics_val(onnx_path: Path, data_yaml: Path, batch: int = 1) -> dict[str, float]:
    """``yolo val`` at conf 0.001 / IoU 0.7 (its defaults): precision, recall, mAP50, mAP50-95.
    ``batch`` matters for dynamic exports only (their rect shapes are shared per batch).

    Ultralytics' NMS gives up after ``2 + 0.05 * batch`` seconds a batch; with the pure-torch
    NMS of the CPU build here and the random network's thousands of candidates at conf 0.001,
    a batch of 4 or more ran out of it and lost the later images' boxes. The limit is lifted
    for the call: the oracle is Ultralytics' numbers, not this machine's speed."""
    yolo = import_ultralytics()
    from ultralytics.utils import nms

    limited = nms.non_max_suppression

    def unlimited(*args, **kwargs):
        return limited(*args, **{**kwargs, "max_time_img": 1e6})

    nms.non_max_suppression = unlimited
    try:
        metrics = yolo(str(onnx_path), task="detect").val(
            data=str(data_yaml), imgsz=IMGSZ, batch=batch, conf=0.001, iou=0.7, plots=False,
            verbose=False, workers=0, project=str(data_yaml.parent / "runs"))
    finally:
        nms.non_max_suppression = limited
    box = metrics.box
    return {"precision": float(box.mp), "recall": float(box.mr), "map50": float(box.map50),
            "map50_95": float(box.map)}
