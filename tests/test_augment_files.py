"""apply_augmentations, copy-paste, oversampling plans and the augment CLI on small files."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest

from tecktrack.augment.apply import apply_augmentations, parse_ops
from tecktrack.augment.copy_paste import copy_paste, cut_objects
from tecktrack.augment.oversample import oversampling_plan
from tecktrack.cli import main
from tecktrack.datasets.box_table import BoxTable
from tecktrack.datasets.yolo import read_yolo_labels
from tecktrack.detections import Detections, box_iou
from tecktrack.errors import DatasetError, FormatError


def make_image(path: Path, boxes: list[list[int]], classes: list[int], seed: int = 0) -> Path:
    """A grey noisy image with one bright rectangle per box, plus its YOLO label file."""
    rng = np.random.default_rng(seed)
    img = rng.integers(60, 90, (96, 128, 3), dtype=np.uint8)
    for (x1, y1, x2, y2), c in zip(boxes, classes, strict=True):
        img[y1:y2, x1:x2] = (40 * c + 100, 255, 200)
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), img)
    label = Path(str(path).replace("/images/", "/labels/")).with_suffix(".txt")
    label.parent.mkdir(parents=True, exist_ok=True)
    rows = [f"{c} {(x1 + x2) / 256:.6f} {(y1 + y2) / 192:.6f} {(x2 - x1) / 128:.6f} "
            f"{(y2 - y1) / 96:.6f}" for (x1, y1, x2, y2), c in zip(boxes, classes, strict=True)]
    label.write_text("".join(r + "\n" for r in rows))
    return path


@pytest.fixture()
def dataset(tmp_path) -> Path:
    root = tmp_path / "ds"
    make_image(root / "images/train/000000.png", [[10, 10, 40, 30], [70, 40, 110, 80]], [0, 1])
    make_image(root / "images/train/000001.png", [[20, 50, 50, 90]], [0], seed=1)
    make_image(root / "images/val/000002.png", [[60, 10, 90, 40]], [2], seed=2)
    make_image(root / "images/val/000003.png", [[5, 5, 25, 25]], [0], seed=3)
    (root / "data.yaml").write_text("path: .\ntrain: images/train\nval: images/val\n"
                                    "names: [box, cone, sign]\n")
    return root


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_parse_ops_rejects_unknown_and_bad_values():
    assert [o.name for o in parse_ops("flip+blur")[0]] == ["flip", "blur"]
    with pytest.raises(FormatError, match="unknown augmentation 'spin'"):
        parse_ops("flip,spin")
    with pytest.raises(FormatError, match="bad value"):
        parse_ops("rotate:abc")
    with pytest.raises(FormatError, match="takes no value"):
        parse_ops("flip:3")
    with pytest.raises(FormatError, match="bad value"):
        parse_ops("resize:0")


def test_apply_writes_named_outputs_with_correct_labels(dataset, tmp_path):
    src = dataset / "images/train/000000.png"
    before = snapshot(dataset)
    log = apply_augmentations(src, dataset / "labels/train/000000.txt", tmp_path / "out",
                              "flip,rotate90:1,resize:64x48,brightness:30", seed=3)
    assert snapshot(dataset) == before                      # inputs untouched
    assert list(log["op"]) == ["flip", "rotate90:1", "resize:64x48", "brightness:30"]
    flip_img = tmp_path / "out/images/000000_flip.png"
    assert flip_img.is_file() and Path(log.loc[0, "image"]) == flip_img
    labels = read_yolo_labels(tmp_path / "out/labels/000000_flip.txt", 128, 96)
    assert np.allclose(labels.xyxy, [[88, 10, 118, 30], [18, 40, 58, 80]], atol=1e-3)
    resized = cv2.imread(str(tmp_path / "out/images/000000_resize_64x48.png"))
    assert resized.shape == (48, 64, 3)


def test_apply_is_seeded_and_never_overwrites(dataset, tmp_path):
    src, lbl = dataset / "images/train/000001.png", dataset / "labels/train/000001.txt"
    a = apply_augmentations(src, lbl, tmp_path / "a", "rotate,blur,contrast", seed=5)
    b = apply_augmentations(src, lbl, tmp_path / "b", "rotate,blur,contrast", seed=5)
    c = apply_augmentations(src, lbl, tmp_path / "c", "rotate,blur,contrast", seed=6)
    assert list(a["params"]) == list(b["params"]) != list(c["params"])
    for name in ("000001_rotate.png", "000001_blur.png"):
        assert (tmp_path / "a/images" / name).read_bytes() == (tmp_path / "b/images" / name
                                                                ).read_bytes()
    before = snapshot(tmp_path / "a")
    with pytest.raises(DatasetError, match="overwrite"):
        apply_augmentations(src, lbl, tmp_path / "a", "contrast,flip", seed=5)
    assert snapshot(tmp_path / "a") == before                # refused before writing anything
    with pytest.raises(DatasetError, match="same file"):
        apply_augmentations(src, lbl, tmp_path / "d", "flip,flip")


def test_apply_without_label_file_and_with_unreadable_image(tmp_path):
    img = tmp_path / "in" / "x.png"
    img.parent.mkdir()
    cv2.imwrite(str(img), np.zeros((10, 10, 3), np.uint8))
    log = apply_augmentations(img, None, tmp_path / "out", "flip")
    assert log.loc[0, "boxes"] == 0
    assert (tmp_path / "out/labels/x_flip.txt").read_text() == ""
    bad = tmp_path / "in" / "bad.png"
    bad.write_text("not an image")
    with pytest.raises(FormatError, match="bad.png: not an image"):
        apply_augmentations(bad, None, tmp_path / "out", "flip")


def test_cut_objects_keeps_background_and_crops():
    img = np.full((60, 80, 3), 70, np.uint8)
    img[10:30, 20:50] = 250
    bg, crops = cut_objects(img, Detections([[20, 10, 50, 30]], [4]))
    assert len(crops) == 1 and crops[0].class_id == 4
    assert crops[0].pixels.shape == (20, 30, 3) and crops[0].pixels.min() == 250
    assert abs(int(bg[20, 35, 0]) - 70) < 15               # filled with the surroundings
    outside = np.ones((60, 80), bool)
    outside[10:30, 20:50] = False
    assert np.array_equal(bg[outside], img[outside])        # the rest is untouched


def test_copy_paste_places_objects_on_free_spots_with_matching_labels():
    src = np.full((60, 80, 3), 50, np.uint8)
    src[5:25, 5:35] = 255
    src[30:50, 40:60] = 200
    src_labels = Detections([[5, 5, 35, 25], [40, 30, 60, 50]], [1, 2])
    target = np.full((100, 120, 3), 20, np.uint8)
    target[60:90, 70:110] = 90
    target_labels = Detections([[70, 60, 110, 90]], [0])
    out = copy_paste(src, src_labels, target, target_labels, seed=3, keep_target_objects=True)
    assert list(out.labels.class_ids) == [0, 1, 2] and out.dropped == 0
    iou = box_iou(out.labels.xyxy, out.labels.xyxy)
    assert np.all(iou[~np.eye(3, dtype=bool)] == 0)         # pasted where nothing was
    x1, y1, x2, y2 = out.labels.xyxy[1].astype(int)
    assert (x2 - x1, y2 - y1) == (30, 20) and out.image[y1:y2, x1:x2].min() == 255
    again = copy_paste(src, src_labels, target, target_labels, seed=3, keep_target_objects=True)
    assert np.array_equal(again.labels.xyxy, out.labels.xyxy)
    clean = copy_paste(src, src_labels, target, target_labels, seed=3)
    assert list(clean.labels.class_ids) == [1, 2]            # target objects cut out


def test_copy_paste_reports_crops_with_no_room():
    src = np.full((50, 50, 3), 255, np.uint8)
    out = copy_paste(src, Detections([[0, 0, 50, 50], [0, 0, 50, 50]], [0, 1]),
                     np.zeros((50, 50, 3), np.uint8), Detections.empty(with_scores=False))
    assert len(out.labels) == 1 and out.dropped == 1


def test_oversampling_plan_moves_toward_balance():
    # class 0 in 6 images, class 1 in 2 (one shared with class 0), class 2 in 1
    image = [0, 1, 2, 3, 4, 5, 5, 6, 7]
    classes = [0, 0, 0, 0, 0, 0, 1, 1, 2]
    gt = BoxTable([f"{i}" for i in range(8)], image, classes, [[.5, .5, .1, .1]] * 9)
    plan, summary = oversampling_plan(gt, max_copies=3, names=["a", "b", "c"])
    before = summary.set_index("class")["before"]
    after = summary.set_index("class")["after"]
    assert before.to_dict() == {"a": 6, "b": 2, "c": 1}
    assert after["c"] == 4 and after["b"] >= 5       # rare classes grew by up to 3 copies
    assert after["a"] - before["a"] <= 1             # the mixed image is avoided if possible
    assert plan.iloc[0]["copies"] == 3
    assert set(plan["image"]) <= {"5", "6", "7"}
    spread_before = before.max() / before.min()
    assert after.max() / after.min() < spread_before
    none, _ = oversampling_plan(gt, max_copies=0)
    assert none.empty


def test_augment_cli_from_list_and_mine_json(dataset, tmp_path, capsys):
    data = dataset / "data.yaml"
    listing = tmp_path / "list.txt"
    listing.write_text("000000.png\n000002\n")
    out = tmp_path / "aug"
    assert main(["augment", str(data), "--images", str(listing), "--ops", "flip,rotate:20",
                 "--out", str(out), "--quiet"]) == 0
    log = pd.read_csv(out / "augmentations.csv")
    assert sorted(p.name for p in (out / "images").iterdir()) == [
        "000000_flip.png", "000000_rotate_20.png", "000002_flip.png", "000002_rotate_20.png"]
    assert list(log["source"]) == ["000000.png"] * 2 + ["000002.png"] * 2
    assert "boxes dropped" in capsys.readouterr().out
    mine_json = tmp_path / "mine.json"
    mine_json.write_text(json.dumps({"hard_negatives": [{"image": "000003", "loss": 2.0}],
                                     "misclassifications": [], "label_issues": []}))
    assert main(["augment", str(data), "--images", str(mine_json), "--ops", "copy_paste",
                 "--out", str(tmp_path / "cp"), "--quiet"]) == 0
    pasted = read_yolo_labels(tmp_path / "cp/labels/000003_copy_paste.txt", 128, 96)
    assert list(pasted.class_ids) == [0]
    # a second run into the same folder is refused, one line on stderr
    assert main(["augment", str(data), "--images", str(listing), "--ops", "flip",
                 "--out", str(out), "--quiet"]) == 2
    assert "overwrite" in capsys.readouterr().err


def test_augment_cli_unknown_image_names_the_line(dataset, tmp_path, capsys):
    listing = tmp_path / "list.txt"
    listing.write_text("000000\nnope.png\n")
    assert main(["augment", str(dataset / "data.yaml"), "--images", str(listing), "--ops",
                 "flip", "--out", str(tmp_path / "o")]) == 2
    assert "list.txt:2: image 'nope' is not in the dataset" in capsys.readouterr().err


def test_augment_cli_balance(dataset, tmp_path, capsys):
    assert main(["augment", str(dataset / "data.yaml"), "--balance", "--ops", "flip,blur",
                 "--out", str(tmp_path / "bal"), "--quiet"]) == 0
    text = capsys.readouterr().out
    assert "before" in text and "after" in text
    log = pd.read_csv(tmp_path / "bal/augmentations.csv")
    # class "cone" (000000) and "sign" (000002) are rare: they get the copies
    assert set(log["source"]) <= {"000000.png", "000002.png"} and len(log) >= 2


def test_a_failed_run_takes_back_what_it_wrote_so_a_rerun_works(dataset, tmp_path, capsys):
    """An unreadable image half way through (images are read one by one) stopped the run with
    the earlier outputs written and no log, and every rerun then refused to overwrite them."""
    data = dataset / "data.yaml"
    listing = tmp_path / "list.txt"
    listing.write_text("000000\n000001\n000002\n")
    out = tmp_path / "aug"
    (out / "images").mkdir(parents=True)
    (out / "images" / "mine.png").write_bytes(b"someone else's file")
    good = (dataset / "images/train/000001.png").read_bytes()
    (dataset / "images/train/000001.png").write_bytes(b"not an image")
    assert main(["augment", str(data), "--images", str(listing), "--ops", "flip",
                 "--out", str(out), "--quiet"]) == 2
    assert "000001.png: not an image" in capsys.readouterr().err
    assert sorted(p.name for p in out.rglob("*") if p.is_file()) == ["mine.png"]
    (dataset / "images/train/000001.png").write_bytes(good)
    assert main(["augment", str(data), "--images", str(listing), "--ops", "flip",
                 "--out", str(out), "--quiet"]) == 0
    assert len(pd.read_csv(out / "augmentations.csv")) == 3


@pytest.mark.parametrize("args,message", [
    (["--ops", "contrast:-1"], "bad value '-1' for augmentation 'contrast'"),
    (["--ops", "rotate", "--min-visibility", "2"], "min_visibility must be in [0, 1], got 2"),
])
def test_bad_op_values_are_refused_before_anything_is_written(dataset, tmp_path, capsys,
                                                               args, message):
    out = tmp_path / "aug"
    assert main(["augment", str(dataset / "data.yaml"), "--images", str(dataset / "images"),
                 "--out", str(out), "--quiet", *args]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_a_stem_that_names_two_images_is_refused_not_guessed(dataset, tmp_path, capsys):
    """train/000000.png and val/000000.png: outputs are named by the stem, and the first image
    of the stem was taken whichever the list meant, without a word."""
    make_image(dataset / "images/val/000000.png", [[30, 30, 60, 60]], [2], seed=9)
    listing = tmp_path / "list.txt"
    listing.write_text("val/000000.png\n")
    assert main(["augment", str(dataset / "data.yaml"), "--images", str(listing), "--ops",
                 "flip", "--out", str(tmp_path / "aug"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "image '000000' is ambiguous: 2 images of the dataset have that name" in err
    assert not (tmp_path / "aug").exists()
    listing.write_text("000002\n")     # the other images are not affected
    assert main(["augment", str(dataset / "data.yaml"), "--images", str(listing), "--ops",
                 "flip", "--out", str(tmp_path / "aug"), "--quiet"]) == 0


def test_copy_paste_counts_a_box_with_no_pixel_to_cut():
    src = np.full((50, 50, 3), 255, np.uint8)
    out = copy_paste(src, Detections([[5, 5, 20, 20], [30, 30, 30, 40], [60, 60, 70, 70]],
                                     [0, 1, 2]),
                     np.zeros((80, 80, 3), np.uint8), Detections.empty(with_scores=False))
    assert len(out.labels) == 1 and out.dropped == 2   # zero width; outside the image
