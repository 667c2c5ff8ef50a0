"""The synthetic dataset: determinism, layout, splits, long tail, size buckets, labels."""

from __future__ import annotations

import hashlib
from pathlib import Path

import cv2
import numpy as np
import pytest

from tecktrack.cli import main
from tecktrack.datasets.data_yaml import read_data_yaml
from tecktrack.datasets.yolo import read_yolo_labels
from tecktrack.detections import Detections, box_area, box_iou
from tecktrack.errors import DatasetError
from tecktrack.synth import CLASS_NAMES, generate_dataset, render_image
from tecktrack.synth.scene import MIN_SIDE


def tree_digest(root: Path) -> dict[str, str]:
    """sha256 of every file under ``root``, by relative path."""
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def read_labels(root: Path, size: int) -> list[Detections]:
    """All label files of a dataset, in file-name order, read by tecktrack.datasets."""
    files = sorted(root.glob("labels/*/*.txt"), key=lambda p: p.name)
    return [read_yolo_labels(f, size, size, n_classes=len(CLASS_NAMES)) for f in files]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    """200 images at the default size: enough objects for the distribution checks."""
    out = tmp_path_factory.mktemp("synth") / "ds"
    return generate_dataset(out, n_images=200, seed=0, quiet=True).parent


def test_same_seed_same_bytes_in_one_process_or_two(tmp_path):
    a = generate_dataset(tmp_path / "a", n_images=12, size=128, seed=3, quiet=True).parent
    b = generate_dataset(tmp_path / "b", n_images=12, size=128, seed=3, quiet=True,
                         workers=2).parent
    assert tree_digest(a) == tree_digest(b)
    assert len(tree_digest(a)) == 12 * 2 + 2  # images, labels, data.yaml, synth.json


def test_other_seed_other_images(tmp_path):
    a = generate_dataset(tmp_path / "a", n_images=3, size=96, seed=0, quiet=True).parent
    b = generate_dataset(tmp_path / "b", n_images=3, size=96, seed=1, quiet=True).parent
    da, db = tree_digest(a), tree_digest(b)
    assert all(da[k] != db[k] for k in da if k.endswith(".jpg"))


def test_layout_splits_and_data_yaml(dataset):
    cfg = read_data_yaml(dataset / "data.yaml")
    assert cfg.names == CLASS_NAMES and len(CLASS_NAMES) >= 6
    assert {k: len(v) for k, v in cfg.splits.items()} == {"train": 140, "val": 30, "test": 30}
    text = (dataset / "data.yaml").read_text()
    assert "\npath: .\n" in text
    names = [p.name for split in ("train", "val", "test") for p in cfg.splits[split]]
    assert names == [f"{i:06d}.jpg" for i in range(200)]
    for split, images in cfg.splits.items():
        for image in images[:3]:
            assert (dataset / "labels" / split / image.with_suffix(".txt").name).is_file()
    first = cv2.imread(str(cfg.splits["train"][0]))
    assert first.shape == (320, 320, 3)


def test_long_tailed_class_frequency(dataset):
    counts = np.bincount(np.concatenate([d.class_ids for d in read_labels(dataset, 320)]),
                         minlength=len(CLASS_NAMES))
    assert counts.min() > 0
    assert counts.max() >= 10 * counts.min()
    assert counts.argmax() == 0 and counts.argmin() == len(CLASS_NAMES) - 1


def test_all_coco_size_buckets_and_no_tiny_boxes(dataset):
    boxes = np.concatenate([d.xyxy for d in read_labels(dataset, 320)])
    area = box_area(boxes)
    buckets = np.digitize(area, [32.0**2, 96.0**2])
    shares = np.bincount(buckets, minlength=3) / len(area)
    assert np.all(shares > 0.1), shares
    sides = np.minimum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1])
    assert sides.min() >= MIN_SIDE - 1e-3
    assert boxes.min() >= -0.01 and boxes.max() <= 320.01  # 6-decimal files


def test_overlaps_border_cuts_and_empty_images_occur(dataset):
    labels = read_labels(dataset, 320)
    overlapping = 0
    for det in labels:
        iou = box_iou(det.xyxy, det.xyxy)
        np.fill_diagonal(iou, 0)
        overlapping += bool((iou > 0).any())
    boxes = np.concatenate([d.xyxy for d in labels])
    at_border = np.any((boxes[:, :2] < 0.01) | (boxes[:, 2:] > 319.99), axis=1)
    assert overlapping > 0.3 * len(labels)
    assert 0.01 < at_border.mean() < 0.2
    assert 0 < sum(len(d) == 0 for d in labels) < 0.1 * len(labels)


def test_meta_counts_match_label_files(dataset):
    import json

    meta = json.loads((dataset / "synth.json").read_text())
    counts = np.bincount(np.concatenate([d.class_ids for d in read_labels(dataset, 320)]),
                         minlength=len(CLASS_NAMES))
    assert list(meta["class_counts"].values()) == counts.tolist()
    assert meta["splits"] == {"train": 140, "val": 30, "test": 30}


def test_render_image_is_a_pure_function_of_seed_and_index():
    image, truth = render_image(5, 2)
    again, truth2 = render_image(5, 2)
    other, _ = render_image(5, 3)
    assert np.array_equal(image, again) and np.array_equal(truth.xyxy, truth2.xyxy)
    assert not np.array_equal(image, other)


def test_lighting_varies_across_images():
    means = np.array([render_image(0, i, size=96)[0].mean() for i in range(40)])
    assert means.min() < 60 and means.max() > 150  # dark and washed-out scenes both occur


def test_refuses_to_overwrite(tmp_path):
    out = tmp_path / "ds"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    with pytest.raises(DatasetError, match="already exists"):
        generate_dataset(out, n_images=2, quiet=True)
    assert (out / "keep.txt").read_text() == "mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds"]  # no partial folder left


@pytest.mark.parametrize("kwargs, message", [
    ({"n_images": 0}, "number of images"),
    ({"seed": -1}, "seed"),
    ({"size": 16}, "size"),
    ({"label_noise": 1.5}, "label_noise"),
])
def test_bad_parameters_name_the_field(tmp_path, kwargs, message):
    with pytest.raises(DatasetError, match=message):
        generate_dataset(tmp_path / "x", quiet=True, **kwargs)
    assert not (tmp_path / "x").exists()


def test_cli_dataset(tmp_path, capsys):
    out = tmp_path / "cli"
    assert main(["synth", "dataset", str(out), "--images", "4", "--size", "96", "--seed", "2",
                 "--quiet"]) == 0
    assert capsys.readouterr().out.strip() == str(out / "data.yaml")
    ref = generate_dataset(tmp_path / "ref", n_images=4, size=96, seed=2, quiet=True).parent
    assert tree_digest(out) == tree_digest(ref)
    assert main(["synth", "dataset", str(out), "--images", "4", "--quiet"]) == 2
    assert "already exists" in capsys.readouterr().err
