"""Demo-detector training: assignment, loss, augmentation, a training smoke run, ONNX export."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml

from tecktrack.detections import box_iou
from tecktrack.errors import DatasetError

torch = pytest.importorskip("torch")

from tecktrack.train.data import (  # noqa: E402
    InMemorySplit,
    concat_splits,
    iterate_batches,
    load_split,
    make_batch,
    repeat_factors,
)
from tecktrack.train.engine import TrainConfig, lr_factor, train_net  # noqa: E402
from tecktrack.train.export import export_onnx  # noqa: E402
from tecktrack.train.loss import aligned_giou, assign, detection_loss  # noqa: E402
from tecktrack.train.net import ExportWrapper, anchor_points, build_net  # noqa: E402

COLOURS = [(0, 0, 255), (255, 255, 0)]  # BGR: class 0 red, class 1 cyan


def _scene(rng: np.random.Generator, size: int) -> tuple[np.ndarray, list[tuple]]:
    image = rng.integers(0, 60, size=(size, size, 3), dtype=np.uint8)
    rows = []
    for _ in range(int(rng.integers(1, 4))):
        cls = int(rng.integers(0, 2))
        w, h = rng.integers(size // 8, size // 3, size=2)
        x, y = rng.integers(0, size - w), rng.integers(0, size - h)
        cv2.rectangle(image, (int(x), int(y)), (int(x + w - 1), int(y + h - 1)), COLOURS[cls], -1)
        rows.append((cls, (x + w / 2) / size, (y + h / 2) / size, w / size, h / size))
    return image, rows


def make_dataset(root: Path, n_train: int, n_val: int, size: int, seed: int = 0) -> Path:
    """A tiny YOLO-layout dataset of coloured rectangles (class = colour)."""
    rng = np.random.default_rng(seed)
    for split, count in (("train", n_train), ("val", n_val)):
        (root / "images" / split).mkdir(parents=True)
        (root / "labels" / split).mkdir(parents=True)
        for i in range(count):
            image, rows = _scene(rng, size)
            cv2.imwrite(str(root / "images" / split / f"{i:06d}.png"), image)
            lines = [f"{c} {cx:.6f} {cy:.6f} {w:.6f} {h:.6f}" for c, cx, cy, w, h in rows]
            (root / "labels" / split / f"{i:06d}.txt").write_text("\n".join(lines) + "\n")
    yaml_path = root / "data.yaml"
    yaml_path.write_text("path: .\ntrain: images/train\nval: images/val\nnames: [red, cyan]\n")
    return yaml_path


@pytest.fixture(scope="module")
def tiny_yaml(tmp_path_factory) -> Path:
    return make_dataset(tmp_path_factory.mktemp("tiny"), 32, 8, 64)


# --- assignment and loss -----------------------------------------------------------------
def test_assign_small_box_gets_its_centre_cell():
    points = anchor_points(32, 32, 8)  # 4 x 4 grid
    boxes = torch.tensor([[[17.0, 9.0, 19.0, 11.0]]])  # 2 px box, no cell centre inside
    fg, idx = assign(points, boxes, torch.tensor([[True]]), grid_width=4)
    assert fg.nonzero().tolist() == [[0, 1 * 4 + 2]]


def test_assign_prefers_smallest_box_and_ignores_padding():
    points = anchor_points(64, 64, 8)
    boxes = torch.tensor([[[0.0, 0.0, 64.0, 64.0], [16.0, 16.0, 32.0, 32.0],
                           [0.0, 0.0, 8.0, 8.0]]])
    mask = torch.tensor([[True, True, False]])
    fg, idx = assign(points, boxes, mask, grid_width=8)
    small_cells = (points[:, 0] > 16) & (points[:, 0] < 32) & (points[:, 1] > 16) & (
        points[:, 1] < 32)
    assert torch.all(idx[0, small_cells] == 1)
    assert torch.all(idx[0, fg[0] & ~small_cells] == 0)
    assert not torch.any(idx[0][fg[0]] == 2)  # the padded box claims nothing
    # centre sampling: the 64 px box only claims cells within 2.5 strides of its centre
    far = (points - 32).abs().max(dim=1).values >= 20
    assert not torch.any(fg[0, far])


def test_aligned_giou_matches_box_iou_diagonal():
    rng = np.random.default_rng(3)
    xy = rng.uniform(0, 50, size=(20, 2))
    a = np.c_[xy, xy + rng.uniform(1, 30, size=(20, 2))].astype(np.float32)
    b = (a + rng.uniform(-10, 10, size=(20, 4))).astype(np.float32)
    b[:, 2:] = np.maximum(b[:, 2:], b[:, :2] + 1)
    iou, giou = aligned_giou(torch.from_numpy(a), torch.from_numpy(b))
    np.testing.assert_allclose(iou.numpy(), np.diag(box_iou(a, b)), atol=1e-5)
    assert torch.all(giou <= iou + 1e-6) and torch.all(giou >= -1)


def test_loss_is_lower_for_a_correct_prediction():
    points = anchor_points(32, 32, 8)
    gt = torch.tensor([[[4.0, 4.0, 20.0, 20.0]]])
    fg, _ = assign(points, gt, torch.tensor([[True]]), 4)
    exact = torch.zeros(1, 16, 4)
    exact[0] = torch.stack([points[:, 0] - 4, points[:, 1] - 4, 20 - points[:, 0],
                            20 - points[:, 1]], dim=1) / 8
    logits = torch.full((1, 16, 2), -6.0)
    logits[0, fg[0], 1] = 6.0
    args = (points, gt, torch.tensor([[1]]), torch.tensor([[True]]), 4)
    good, parts = detection_loss(logits, exact.clamp(min=0.01), *args)
    bad, _ = detection_loss(torch.zeros(1, 16, 2), torch.ones(1, 16, 4), *args)
    assert parts["box"] == pytest.approx(0.0, abs=1e-5)
    assert good < bad / 10


def test_lr_schedule_warms_up_then_decays():
    factors = [lr_factor(s, 100, 10) for s in range(100)]
    assert factors[9] == 1.0 and factors[0] < factors[5] < factors[9]
    assert all(a >= b for a, b in zip(factors[10:], factors[11:], strict=False))


# --- data --------------------------------------------------------------------------------
def test_load_split_scales_boxes_to_input(tiny_yaml):
    split = load_split(tiny_yaml, "train", 32, quiet=True)
    assert split.images.shape == (32, 32, 32, 3) and split.sizes.tolist()[0] == [64, 64]
    first = (tiny_yaml.parent / "labels/train/000000.txt").read_text().split("\n")[0].split()
    cx, cy, w, h = (float(v) * 32 for v in first[1:])
    np.testing.assert_allclose(split.boxes[0][0], [cx - w / 2, cy - h / 2, cx + w / 2,
                                                   cy + h / 2], atol=1e-3)


def test_concat_splits_joins_and_checks_names(tiny_yaml, tmp_path):
    split = load_split(tiny_yaml, "train", 32, quiet=True)
    joined = concat_splits([split, split], [tiny_yaml, tiny_yaml])
    assert len(joined) == 64 and joined.boxes[32] is split.boxes[0]
    other = InMemorySplit(split.images[:1], split.boxes[:1], split.classes[:1], ["x", "y"],
                          split.paths[:1], split.sizes[:1])
    with pytest.raises(DatasetError, match="other.yaml: class names"):
        concat_splits([split, other], [tiny_yaml, "other.yaml"])


def test_augmented_boxes_follow_the_pixels():
    image = np.zeros((1, 96, 96, 3), np.uint8)
    image[0, 20:50, 30:70] = 255
    split = InMemorySplit(image, [np.array([[30, 20, 70, 50]], np.float32)], [np.array([0])],
                          ["a"], [], np.array([[96, 96]]))
    rng = np.random.default_rng(0)
    for _ in range(10):
        batch = make_batch(split, np.array([0]), rng, colour=0.0, min_visible=0.0)
        bright = np.argwhere(batch.images[0, 0] > 0.6)
        (y1, x1), (y2, x2) = bright.min(0), bright.max(0) + 1
        if batch.mask[0, 0]:
            np.testing.assert_allclose(batch.boxes[0, 0], [x1, y1, x2, y2], atol=1.5)


def test_augmentation_is_seeded(tiny_yaml):
    split = load_split(tiny_yaml, "train", 64, quiet=True)
    a = make_batch(split, np.arange(4), np.random.default_rng(7))
    b = make_batch(split, np.arange(4), np.random.default_rng(7))
    np.testing.assert_array_equal(a.images, b.images)
    np.testing.assert_array_equal(a.boxes, b.boxes)


def _labelled_split(class_lists: list[list[int]], names: list[str]) -> InMemorySplit:
    classes = [np.array(c, np.int64) for c in class_lists]
    boxes = [np.tile(np.array([[1, 1, 5, 5]], np.float32), (len(c), 1)) for c in classes]
    n = len(classes)
    return InMemorySplit(np.zeros((n, 8, 8, 3), np.uint8), boxes, classes, names, [],
                         np.full((n, 2), 8))


def test_repeat_factors_follow_the_lvis_rule():
    # class 0 in 8/10 images, class 1 in 2/10, class 2 in 1/10; image 9 has no boxes
    lists = [[0]] * 7 + [[0, 1], [1, 2], []]
    split = _labelled_split(lists, ["a", "b", "c"])
    factors = repeat_factors(split, 0.4)
    expected = [1.0] * 7 + [np.sqrt(0.4 / 0.2), np.sqrt(0.4 / 0.1), 1.0]
    np.testing.assert_allclose(factors, expected)
    np.testing.assert_array_equal(repeat_factors(split, 0.0), np.ones(10))


def test_weighted_epochs_draw_rare_class_images_more_often():
    split = _labelled_split([[0]] * 18 + [[1]] * 2, ["common", "rare"])
    weights = repeat_factors(split, 1.0)  # the rare images weigh sqrt(10) = 3.16
    rare = 0
    for epoch in range(200):
        for batch in iterate_batches(split, 4, seed=epoch, augment=False, weights=weights):
            rare += int(((batch.classes[:, 0] == 1) & batch.mask[:, 0]).sum())
    share = rare / (200 * 20)
    assert share == pytest.approx(2 * np.sqrt(10) / (18 + 2 * np.sqrt(10)), abs=0.02)
    a = [b.classes.tolist() for b in iterate_batches(split, 4, 3, False, weights)]
    assert a == [b.classes.tolist() for b in iterate_batches(split, 4, 3, False, weights)]


# --- training and export -----------------------------------------------------------------
def test_training_reduces_loss(tiny_yaml):
    split = load_split(tiny_yaml, "train", 64, quiet=True)
    config = TrainConfig(size="n", epochs=8, batch_size=8, lr=3e-3, warmup_epochs=0.5)
    _, logs = train_net(split, config, quiet=True)
    assert len(logs) == 8
    assert logs[-1].loss < 0.7 * logs[0].loss
    _, again = train_net(split, TrainConfig(size="n", epochs=1, batch_size=8), quiet=True,
                         max_steps=2)
    _, same = train_net(split, TrainConfig(size="n", epochs=1, batch_size=8), quiet=True,
                        max_steps=2)
    assert again[0].loss == same[0].loss  # seeded: identical runs


def test_export_layout_matches_torch(tmp_path):
    onnxruntime = pytest.importorskip("onnxruntime")
    net = build_net("n", 3).eval()
    path = export_onnx(net, tmp_path / "model.onnx", 64)
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["images"]
    assert session.get_inputs()[0].shape == [1, 3, 64, 64]
    x = np.random.default_rng(0).random((1, 3, 64, 64), dtype=np.float32)
    (out,) = session.run(None, {"images": x})
    assert out.shape == (1, 4 + 3, 64)
    with torch.no_grad():
        cls, ltrb = net(torch.from_numpy(x))
    np.testing.assert_allclose(out[0, 4:].T, torch.sigmoid(cls)[0].numpy(), atol=1e-5)
    ref = ExportWrapper(net, 64, 64)(torch.from_numpy(x)).detach().numpy()
    np.testing.assert_allclose(out, ref, rtol=1e-4, atol=1e-3)
    # rows 0-3 are cx, cy, w, h around each cell centre: w = (l + r) * stride
    np.testing.assert_allclose(out[0, 2], (ltrb[0, :, 0] + ltrb[0, :, 2]).numpy() * 8,
                               rtol=1e-4)


# --- command line ------------------------------------------------------------------------
def test_command_module_does_not_import_torch():
    code = ("import sys, tecktrack.cli; tecktrack.cli.build_parser(); "
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"


def test_cli_train_writes_model_folder(tmp_path, capsys):
    pytest.importorskip("tecktrack.metrics")
    from tecktrack.cli import main

    data = make_dataset(tmp_path / "data", 4, 2, 320)
    out = tmp_path / "models" / "tiny"
    argv = ["train", "--data", str(data), "--size", "n", "--epochs", "1", "--batch-size", "4",
            "--out", str(out), "--quiet"]
    assert main(argv) == 0
    meta = yaml.safe_load((out / "model.yaml").read_text())
    assert meta["names"] == ["red", "cyan"] and meta["layout"] == "yolov8"
    assert meta["input_size"] == 320 and meta["letterbox"] is False
    assert meta["training"]["seed"] == 0 and "--size n" in meta["training"]["command"]
    assert 0.0 <= meta["training"]["val"]["mAP50"] <= 1.0
    assert (out / "model.onnx").stat().st_size < 5 * 2**20
    assert main(argv) == 2  # never overwrites an existing model
    assert "already holds a model.onnx" in capsys.readouterr().err


def test_cli_train_records_sampling_and_thread_options(tmp_path):
    from tecktrack.cli import main

    data = make_dataset(tmp_path / "data", 4, 2, 64)
    out = tmp_path / "m"
    argv = ["train", "--data", str(data), "--size", "n", "--epochs", "1", "--batch-size", "4",
            "--repeat-threshold", "0.5", "--threads", "1", "--out", str(out), "--quiet"]
    assert main(argv) == 0
    command = yaml.safe_load((out / "model.yaml").read_text())["training"]["command"]
    assert "--repeat-threshold 0.5" in command and "--threads 1" in command
    bad = ["train", "--data", str(data), "--size", "n", "--out", str(tmp_path / "x"), "--quiet"]
    assert main(bad + ["--repeat-threshold", "1.5"]) == 2
    assert main(bad + ["--threads", "0"]) == 2


def test_cli_train_rejects_a_batch_larger_than_the_split(tmp_path, capsys):
    from tecktrack.cli import main

    data = make_dataset(tmp_path / "data", 3, 1, 64)
    argv = ["train", "--data", str(data), "--size", "n", "--out", str(tmp_path / "m"), "--quiet"]
    assert main(argv) == 2
    assert "fewer than one batch of 8" in capsys.readouterr().err
    assert not (tmp_path / "m").exists()


def test_check_model_refuses_untrained_folders_and_the_training_seed(tmp_path):
    from tecktrack.commands.model_check import check_model
    from tecktrack.errors import ModelError

    with pytest.raises(ModelError, match="no model.yaml with a 'training' block"):
        check_model(tmp_path, "data.yaml", unseen_seed=7)
    (tmp_path / "model.yaml").write_text("names: [a]\ntraining: {seed: 7}\n")
    with pytest.raises(ModelError, match="unseen seed 7 is the training seed"):
        check_model(tmp_path, "data.yaml", unseen_seed=7)
