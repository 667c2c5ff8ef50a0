"""Oracle: TeckTrack's boxes against Ultralytics' own ``predict`` on the same ONNX exports.

YOLOv8n, YOLO11n (raw ``(1, 84, N)`` heads) and YOLO26n (its NMS-free ``(1, 300, 6)`` head,
``nms=False``, and its raw head) are built from Ultralytics' yaml with a fixed seed and
exported offline once per session (tests/ultralytics_support.py). On synthetic images of four
shapes, at conf 1e-4 (300 boxes an image, cut at ``max_det``) and 0.25, at least 99.9 % of the
boxes must match at IoU 0.9 with the same class, coordinates within 0.01 px.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from ultralytics_support import (
    build_onnx,
    match_rate,
    synthetic_images,
    ultralytics_boxes,
    ultralytics_installed,
)

if not ultralytics_installed():
    pytest.skip("ultralytics-opencv-headless (dev extra) is not installed",
                allow_module_level=True)
pytest.importorskip("torch")

from tecktrack.model import load_model  # noqa: E402

pytestmark = pytest.mark.slow

FAMILIES = {
    "yolov8n": ("yolov8n.yaml", {}),
    "yolo11n": ("yolo11n.yaml", {}),
    "yolo26n-end2end": ("yolo26n.yaml", {"nms": False}),
    "yolo26n-raw": ("yolo26n.yaml", {}),
    "yolov8n-dynamic": ("yolov8n.yaml", {"dynamic": True}),  # padded to the stride (rect)
}


@pytest.fixture(scope="session")
def exports(tmp_path_factory):
    root = tmp_path_factory.mktemp("ultralytics")
    return {name: build_onnx(cfg, root / f"{name}.onnx", seed=0, **args)
            for name, (cfg, args) in FAMILIES.items()}


@pytest.fixture(scope="session")
def images():
    return synthetic_images(seed=0)


@pytest.mark.parametrize("conf", [1e-4, 0.25])
@pytest.mark.parametrize("family", list(FAMILIES))
def test_boxes_match_ultralytics_predict(exports, images, family, conf):
    model = load_model(exports[family], conf=conf)
    assert model.layout == ("end2end" if family.endswith("end2end") else "yolov8")
    assert model.rect == family.endswith("dynamic")
    assert (model.iou, model.max_det) == (0.7, 300)
    matched = total = 0
    worst = 0.0
    for image in images:
        ref_xyxy, ref_scores, ref_cls = ultralytics_boxes(exports[family], image, conf=conf)
        det = model.predict(image)
        m, t, diff = match_rate(ref_xyxy, ref_cls, det.xyxy, det.class_ids)
        matched, total, worst = matched + m, total + t, max(worst, diff)
        if len(det) == len(ref_scores):
            np.testing.assert_allclose(np.sort(det.scores), np.sort(ref_scores), atol=1e-6)
    assert total >= 4 * 100, f"only {total} boxes: the parity check needs many"
    assert matched / total >= 0.999, f"{matched}/{total} boxes match Ultralytics"
    assert worst <= 0.01


def test_agnostic_classes_and_max_det_match_ultralytics(exports, images):
    path = exports["yolo11n"]
    settings = [({"agnostic": True}, {"agnostic_nms": True}),
                ({"classes": [0, 2, 5]}, {"classes": [0, 2, 5]}),
                ({"max_det": 20}, {"max_det": 20})]
    for ours, theirs in settings:
        model = load_model(path, conf=0.01, **ours)
        for image in images[:2]:
            ref_xyxy, _, ref_cls = ultralytics_boxes(path, image, conf=0.01, **theirs)
            det = model.predict(image)
            m, t, diff = match_rate(ref_xyxy, ref_cls, det.xyxy, det.class_ids)
            assert t > 0 and m == t and diff <= 0.01, (ours, m, t)


@pytest.mark.parametrize("family", ["yolo11n", "yolo26n-end2end", "yolo26n-raw",
                                    "yolov8n-dynamic"])
def test_val_ultralytics_convention_reproduces_yolo_val(exports, tmp_path, family):
    """``yolo val``'s numbers, on images whose long side is not the input size (its loader
    rounds the resize up and never upscales in the letterbox) and, for the dynamic export,
    with its rect shapes (half a stride of padding more)."""
    from ultralytics_support import ultralytics_val, write_val_dataset

    from tecktrack.inference.validation import validate

    data = write_val_dataset(exports[family], tmp_path / "data")
    reference = ultralytics_val(exports[family], data)
    model = load_model(exports[family], conf=0.001, iou=0.7)
    ours = validate(model, data, convention="ultralytics", quiet=True, batch=1)  # as reference
    assert ours.background == 1
    assert 0.02 < reference["map50"] < 0.9  # labels that can show a difference
    for key, value in reference.items():
        assert ours.summary[key] == pytest.approx(value, abs=1e-6), key
    coco = validate(model, data, convention="coco", quiet=True)
    assert coco.summary["map50"] != pytest.approx(ours.summary["map50"], abs=1e-3)
    # validate leaves the model as it was
    assert not model.multi_label and model.clip and not model.val_fit


def _past_the_edge(row: str) -> str:
    """A box row touching the right or top edge made to overhang it by 0.008 (as written by
    tools that do not clip); other rows as they are."""
    cls, cx, cy, w, h = row.split()
    cx, cy, w, h = map(float, (cx, cy, w, h))
    if cx + w / 2 > 0.999 and w < 0.9:
        cx, w = cx + 0.004, w + 0.008
    if cy - h / 2 < 0.001 and h < 0.9:
        cy, h = cy - 0.004, h + 0.008
    return f"{cls} {cx:.6f} {cy:.6f} {w:.6f} {h:.6f}"


def test_val_of_a_dynamic_export_shares_rect_shapes_per_batch_as_yolo_val(exports, tmp_path):
    """``yolo val`` on a dynamic export sorts the images by aspect ratio and pads each batch
    of ``batch`` (16 by default) to one rect shape, so its numbers depend on ``batch``;
    ``validate(batch=...)`` reproduces them (to 1e-6 at 4 and 16; 1 is the family test)."""
    from ultralytics_support import ultralytics_val, write_val_dataset

    from tecktrack.inference.validation import validate

    data = write_val_dataset(exports["yolov8n-dynamic"], tmp_path / "data")
    model = load_model(exports["yolov8n-dynamic"], conf=0.001, iou=0.7)
    single = validate(model, data, convention="ultralytics", quiet=True, batch=1)
    for batch in (4, 16):
        reference = ultralytics_val(exports["yolov8n-dynamic"], data, batch=batch)
        ours = validate(model, data, convention="ultralytics", quiet=True, batch=batch)
        for key, value in reference.items():
            assert ours.summary[key] == pytest.approx(value, abs=1e-6), (batch, key)
        assert ours.summary["map50"] != pytest.approx(single.summary["map50"], abs=1e-3)
    assert model.val_canvas is None  # validate leaves the model as it was
    from tecktrack.cli import main

    report = tmp_path / "val.json"
    argv = ["val", "--model", str(exports["yolov8n-dynamic"]), "--data", str(data), "--quiet",
            "--convention", "ultralytics", "--json", str(report), "--out", str(tmp_path / "o")]
    assert main(argv) == 0                              # yolo val's default batch: 16
    written = json.loads(report.read_text())
    assert written["params"]["batch"] == 16
    assert written["summary"]["map50"] == pytest.approx(ours.summary["map50"], abs=1e-9)


def test_val_reads_labels_past_the_edge_as_yolo_val_does(exports, tmp_path):
    """Ultralytics accepts label values up to 1.01 and keeps the boxes as written, past the
    image edge; so does the ultralytics convention (clipping them moved every number by
    ~1e-3 on these labels). The COCO convention refuses a value past 1e-3, naming the line."""
    from ultralytics_support import ultralytics_val, write_val_dataset

    from tecktrack.errors import FormatError
    from tecktrack.inference.validation import validate

    data = write_val_dataset(exports["yolo11n"], tmp_path / "data")
    for label in sorted((tmp_path / "data" / "labels" / "val").glob("*.txt")):
        rows = label.read_text().splitlines()
        rows = [_past_the_edge(r) if len(r.split()) == 5 else r for r in rows]
        label.write_text("\n".join(rows) + "\n")
    label.write_text(label.read_text() + "0 1.004 0.5 0.05 0.05\n")
    reference = ultralytics_val(exports["yolo11n"], data)
    model = load_model(exports["yolo11n"], conf=0.001, iou=0.7)
    ours = validate(model, data, convention="ultralytics", quiet=True)
    for key, value in reference.items():
        assert ours.summary[key] == pytest.approx(value, abs=1e-6), key
    with pytest.raises(FormatError, match="cx=1.004 outside"):
        validate(model, data, convention="coco", quiet=True)


def test_val_leaves_out_the_images_yolo_val_leaves_out(exports, tmp_path):
    """``yolo val`` drops an image whose label file breaks its rules, and one under 10 px a
    side, from the whole evaluation; the ultralytics convention does too and names each in
    ``skipped`` (the exit status is then 1). The COCO convention refuses the bad line."""
    import cv2
    from ultralytics_support import ultralytics_val, write_val_dataset

    from tecktrack.errors import FormatError
    from tecktrack.inference.validation import LEFT_OUT, validate

    data = write_val_dataset(exports["yolo11n"], tmp_path / "data")
    root = tmp_path / "data"
    bad = root / "labels" / "val" / "002.txt"
    bad.write_text(bad.read_text() + "0 1.02 0.5 0.1 0.1\n")
    cv2.imwrite(str(root / "images" / "val" / "006.png"), np.full((9, 40, 3), 90, np.uint8))
    (root / "labels" / "val" / "006.txt").write_text("0 0.5 0.5 0.5 0.5\n")
    reference = ultralytics_val(exports["yolo11n"], data)
    model = load_model(exports["yolo11n"], conf=0.001, iou=0.7)
    ours = validate(model, data, convention="ultralytics", quiet=True)
    for key, value in reference.items():
        assert ours.summary[key] == pytest.approx(value, abs=1e-6), key
    assert len(ours.skipped) == 2 and all(LEFT_OUT in line for line in ours.skipped)
    assert f"{bad}:" in ours.skipped[0] or f"{bad}:" in ours.skipped[1]
    assert len(ours.gt) == 5
    with pytest.raises(FormatError, match="cx=1.02 outside"):
        validate(model, data, convention="coco", quiet=True)


def test_static_batch_export_matches_ultralytics(tmp_path, images):
    """``yolo export batch=4`` takes 4 images and nothing else: loaded, and one frame
    (``predict``) or five (``predict_batch``: a batch and a padded tail of one) give the boxes
    Ultralytics' own predict gives on that export (it pads short batches with zero images)."""
    path = build_onnx("yolov8n.yaml", tmp_path / "yolov8n-batch4.onnx", seed=1, batch=4)
    model = load_model(path, conf=0.01)
    assert (model.backend.fixed_batch, model.backend.batch_dynamic) == (4, False)
    batched = model.predict_batch([*images, images[0]])
    matched = total = 0
    for image, det in zip(images, batched, strict=False):
        ref_xyxy, _, ref_cls = ultralytics_boxes(path, image, conf=0.01)
        for ours in (det, model.predict(image)):
            m, t, diff = match_rate(ref_xyxy, ref_cls, ours.xyxy, ours.class_ids)
            matched, total = matched + m, total + t
            assert diff <= 0.01
    assert total >= 8 * 100, f"only {total} boxes: the parity check needs many"
    assert matched / total >= 0.999, f"{matched}/{total} boxes match Ultralytics"
    np.testing.assert_array_equal(batched[4].xyxy, batched[0].xyxy)


def test_dynamic_export_batches_give_what_predict_gives(exports, images):
    """A ``dynamic=True`` export is padded only to the stride, per frame size (333x500 into
    a 320x224 input): ``predict_batch`` of mixed sizes batches frames of one size together
    and gives each frame ``predict``'s boxes."""
    model = load_model(exports["yolov8n-dynamic"], conf=0.01)
    blob, info = model.preprocess(images[1])
    assert blob.shape == (1, 3, 224, 320) and info.pad_y == 5
    frames = [images[0], images[0], images[1], images[0], images[2], images[2]]
    for got, frame in zip(model.predict_batch(frames, batch_size=4), frames, strict=True):
        want = model.predict(frame)
        np.testing.assert_array_equal(got.xyxy, want.xyxy)
        np.testing.assert_array_equal(got.class_ids, want.class_ids)
    blob, _ = model.preprocess_batch(images[:2])  # mixed sizes in one blob: the whole input
    assert blob.shape == (2, 3, 320, 320)


def test_rect_letterbox_geometry_is_ultralytics_letterbox_on_many_sizes():
    """``plan_fit`` with a stride against Ultralytics' own ``LetterBox(auto=True)`` on 2,000
    frame sizes from 1 px to 4,000 px, thin and wide, at three input sizes: the same input
    size, resized size and padding for every one."""
    from ultralytics_support import import_ultralytics

    from tecktrack.model.preprocess import plan_fit

    import_ultralytics()  # offline, and the process settings it changes put back
    from ultralytics.data.augment import LetterBox

    rng = np.random.default_rng(0)
    sizes = np.concatenate([rng.integers(1, 4000, (1900, 2)), rng.integers(1, 40, (100, 2))])
    for side in (320, 640, 416):
        letterbox = LetterBox((side, side), auto=True, stride=32)
        for w, h in sizes.tolist():
            theirs = letterbox.get_params({"img": np.empty((h, w, 3), np.uint8)})
            fit = plan_fit(w, h, (side, side), letterboxed=True, stride=32)
            height = theirs["new_unpad"][1] + theirs["top"] + theirs["bottom"]
            width = theirs["new_unpad"][0] + theirs["left"] + theirs["right"]
            assert (fit.size, fit.new_size, fit.left, fit.top) == (
                (width, height), theirs["new_unpad"], theirs["left"], theirs["top"]), (w, h)


def test_val_geometry_is_yolo_vals_loader_on_many_sizes(tmp_path):
    """``plan_val_fit`` against Ultralytics' own val loader on 120 image sizes (1 px to 1,500 px,
    thin, wide, up- and downscaled): ``BaseDataset.load_image`` (long side to the input,
    rounded up), ``set_rectangle`` (a dynamic export's rect shape, batch of one, pad 0.5) and
    ``LetterBox(scaleup=False)``: the same resized size, input size and padding."""
    from types import SimpleNamespace

    import cv2
    from ultralytics_support import import_ultralytics

    from tecktrack.model.preprocess import plan_val_fit

    import_ultralytics()
    from ultralytics.data.augment import LetterBox
    from ultralytics.data.base import BaseDataset

    rng = np.random.default_rng(1)
    sizes = np.concatenate([rng.integers(1, 1500, (100, 2)), rng.integers(1, 30, (20, 2))])
    side = 320
    for k, (w, h) in enumerate(sizes.tolist()):
        path = tmp_path / f"{k}.png"
        cv2.imwrite(str(path), np.zeros((h, w, 3), np.uint8))
        loader = SimpleNamespace(ims=[None], im_files=[str(path)], npy_files=[tmp_path / "-.npy"],
                                 cache=None, cv2_flag=cv2.IMREAD_COLOR, channels=3, imgsz=side,
                                 augment=False)
        resized = BaseDataset.load_image(loader, 0)[0]
        rect = SimpleNamespace(ni=1, batch_size=1, labels=[{"shape": (h, w)}], im_files=["-"],
                               imgsz=side, stride=32, pad=0.5)
        BaseDataset.set_rectangle(rect)
        for stride, canvas in ((None, (side, side)), (32, tuple(rect.batch_shapes[0]))):
            theirs = LetterBox((side, side), scaleup=False).get_params(
                {"img": resized, "rect_shape": canvas})
            fit = plan_val_fit(w, h, side, stride)
            assert theirs["new_unpad"] == (resized.shape[1], resized.shape[0]), (w, h)
            assert (fit.size, fit.new_size, fit.left, fit.top) == (
                (canvas[1], canvas[0]), theirs["new_unpad"], theirs["left"], theirs["top"]), (
                w, h, stride)


def _random_label_file(rng: np.random.Generator) -> str:
    """Rows Ultralytics may or may not take: boxes and polygons near and past [0, 1],
    negative sizes, a class past the names, a polygon of an odd count, mixed files."""
    kind = rng.choice(["boxes", "polygons", "mixed"], p=[0.45, 0.45, 0.1])
    rows = []
    for _ in range(int(rng.integers(1, 5))):
        cls = int(rng.integers(0, 4))  # 3 is past the 3 names
        polygon = kind == "polygons" or (kind == "mixed" and rng.random() < 0.5)
        if polygon:
            n = int(rng.integers(3, 7)) * 2 + int(rng.random() < 0.05)
            values = rng.uniform(-0.012, 1.012, n)
        else:
            values = np.concatenate([rng.uniform(-0.012, 1.012, 2), rng.uniform(-0.003, 1.012, 2)])
        rows.append(" ".join([str(cls), *(f"{v:.4f}" for v in values)]))
    return "\n".join(rows) + "\n"


def test_label_rules_are_ultralytics_verify_image_label_on_random_files(tmp_path):
    """``read_yolo_labels(ultralytics=True)`` against Ultralytics' own ``verify_image_label``
    on 400 random label files (boxes and polygons near and past [0, 1], negative sizes, a
    class past the names, odd polygons, files mixing boxes and polygons): the same files
    refused, and the same boxes from the rest."""
    import cv2
    from ultralytics_support import import_ultralytics

    from tecktrack.datasets.yolo import read_yolo_labels
    from tecktrack.errors import TeckTrackError

    import_ultralytics()
    from ultralytics.data.utils import verify_image_label

    image = tmp_path / "a.png"
    cv2.imwrite(str(image), np.zeros((40, 50, 3), np.uint8))
    rng = np.random.default_rng(2)
    refused = 0
    for k in range(400):
        label = tmp_path / f"{k}.txt"
        label.write_text(_random_label_file(rng))
        result = verify_image_label((str(image), str(label), "", False, 3, 0, 0, False))
        theirs = None if result[0] is None else result[1]
        try:
            ours = read_yolo_labels(label, 50, 40, n_classes=3, ultralytics=True)
        except TeckTrackError:
            ours = None
        assert (theirs is None) == (ours is None), (label.read_text(), result[-1])
        if ours is None:
            refused += 1
            continue
        xyxy = np.column_stack([theirs[:, 1] - theirs[:, 3] / 2, theirs[:, 2] - theirs[:, 4] / 2,
                                theirs[:, 1] + theirs[:, 3] / 2, theirs[:, 2] + theirs[:, 4] / 2])
        np.testing.assert_allclose(ours.xyxy, xyxy * [50, 40, 50, 40], atol=1e-4)
        np.testing.assert_array_equal(ours.class_ids, theirs[:, 0].astype(int))
    assert 50 < refused < 350, refused  # both outcomes well represented


@pytest.mark.parametrize("batch", [1, 4, 16])
def test_rect_shapes_are_ultralytics_set_rectangle(batch):
    """``rect_shapes`` against Ultralytics' own ``set_rectangle`` on 300 images, a third of
    them sharing an aspect ratio (640x480: ties across batch boundaries): every image gets the
    shape of the batch Ultralytics puts it in."""
    from types import SimpleNamespace

    from ultralytics_support import import_ultralytics

    from tecktrack.model.preprocess import rect_shapes

    import_ultralytics()
    from ultralytics.data.base import BaseDataset

    rng = np.random.default_rng(3)
    sizes = rng.integers(10, 2000, (300, 2))
    sizes[rng.random(300) < 0.33] = (480, 640)
    names = [f"{k:03d}" for k in range(len(sizes))]
    loader = SimpleNamespace(ni=len(sizes), batch_size=batch, im_files=list(names),
                             labels=[{"shape": tuple(s)} for s in sizes.tolist()], imgsz=320,
                             stride=32, pad=0.5)
    BaseDataset.set_rectangle(loader)
    theirs = {name: tuple(loader.batch_shapes[b])
              for name, b in zip(loader.im_files, loader.batch, strict=True)}
    ours = rect_shapes(sizes, 320, 32, batch)
    assert [theirs[name] for name in names] == [tuple(s) for s in ours.tolist()]
