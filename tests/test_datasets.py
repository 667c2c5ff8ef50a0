"""Datasets on disk: layouts, items, checks, statistics, COCO export (tecktrack.datasets)."""

from __future__ import annotations

import doctest
from pathlib import Path

import cv2
import numpy as np
import pytest

import tecktrack.datasets
import tecktrack.datasets.box_table
import tecktrack.datasets.coco
import tecktrack.datasets.data_yaml
import tecktrack.datasets.dataset
import tecktrack.datasets.images
import tecktrack.datasets.yolo
from tecktrack.datasets.dataset import SIZE_BUCKETS, Dataset, DatasetItem, size_bucket
from tecktrack.errors import DatasetError, FormatError


def _image(path: Path, width: int, height: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), np.zeros((height, width, 3), np.uint8))
    return path


def _labels(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.fixture()
def yolo_root(tmp_path) -> Path:
    """train: a (200x100, 2 boxes), b (empty labels); val: c (bad line), d (no label file)."""
    root = tmp_path / "ds"
    _image(root / "images/train/a.jpg", 200, 100)
    _labels(root / "labels/train/a.txt", "0 0.5 0.5 0.1 0.2\n1 0.5 0.5 1.0 1.0\n")
    _image(root / "images/train/b.png", 64, 64)
    _labels(root / "labels/train/b.txt", "")
    _image(root / "images/val/c.jpg", 320, 320)
    _labels(root / "labels/val/c.txt", "2 0.5 0.5 0.5 0.25\n7 0.5 0.5 0.1 0.1\n0 0.5\n")
    _image(root / "images/val/d.jpg", 50, 40)
    (root / "data.yaml").write_text(
        "path: .\ntrain: images/train\nval: images/val\nnames: {0: cat, 1: dog, 2: bird}\n")
    return root


@pytest.fixture()
def dataset(yolo_root) -> Dataset:
    return Dataset.from_yaml(yolo_root / "data.yaml")


def test_docstring_examples_run():
    for module in (tecktrack.datasets.dataset, tecktrack.datasets.images, tecktrack.datasets.yolo,
                   tecktrack.datasets.data_yaml, tecktrack.datasets.coco,
                   tecktrack.datasets.box_table):
        result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
        assert result.failed == 0 and result.attempted >= 3, module.__name__


def test_from_yaml_items_and_label_paths(dataset, yolo_root):
    assert dataset.names == ["cat", "dog", "bird"] and dataset.nc == 3
    assert dataset.root == yolo_root.resolve()
    items = dataset.items()
    assert [(i.split, i.stem) for i in items] == [
        ("train", "a"), ("train", "b"), ("val", "c"), ("val", "d")]
    assert items[0].label_path == yolo_root.resolve() / "labels/train/a.txt"
    assert [i.stem for i in dataset.items("val")] == ["c", "d"]
    with pytest.raises(DatasetError, match="no split 'test'"):
        dataset.items("test")
    assert "train=2" in repr(dataset)


def test_load_labels_strict_and_lenient(dataset):
    a, b, c, d = dataset.items()
    np.testing.assert_allclose(dataset.load_labels(a).xyxy, [[90, 40, 110, 60], [0, 0, 200, 100]])
    assert len(dataset.load_labels(b)) == 0
    with pytest.raises(FormatError, match=r"c\.txt:2: class id 7 out of range \[0, 3\)"):
        dataset.load_labels(c)
    found = []
    assert dataset.load_labels(c, strict=False, problems=found).class_ids.tolist() == [2]
    assert [p.line for p in found] == [2, 3]
    with pytest.raises(DatasetError, match="label file not found"):
        dataset.load_labels(d)


def test_image_size_is_cached(dataset):
    item = dataset.items()[0]
    assert dataset.image_size(item) == (200, 100)
    item.image_path.unlink()
    assert dataset.image_size(item) == (200, 100)


def test_check_reports_missing_labels_separately(dataset, yolo_root):
    # a data.yaml dataset reads as Ultralytics does: val/d.jpg has no label file: background
    report = dataset.check()
    assert list(report.columns) == ["kind", "path", "line", "message"]
    assert report["kind"].tolist() == ["label", "label"]
    assert report["line"].tolist() == [2, 3]
    assert "expected 5 columns" in report["message"].iloc[1]
    assert dataset.background_images() == 1
    # without Ultralytics' reading (bare image folders) the missing file is reported
    bare = Dataset(dataset.names, dataset.splits, dataset.root).check()
    assert bare["kind"].tolist() == ["label", "label", "missing_label"]
    assert bare["path"].iloc[2] == str(yolo_root.resolve() / "labels/val/d.txt")


def test_check_reports_unreadable_images_and_checks_shared_images_once(tmp_path):
    root = tmp_path / "ds"
    _image(root / "images/a.jpg", 10, 10)
    _labels(root / "labels/a.txt", "")
    (root / "images/broken.jpg").write_bytes(b"not a jpeg")
    (root / "data.yaml").write_text("train: images\nval: images\nnames: [x]\n")
    report = Dataset.from_yaml(root / "data.yaml").check()
    assert report["kind"].tolist() == ["image"]
    assert report["path"].iloc[0].endswith("broken.jpg")


def test_check_of_a_clean_dataset_is_empty(tmp_path):
    _image(tmp_path / "images/a.jpg", 10, 10)
    _labels(tmp_path / "labels/a.txt", "0 0.5 0.5 0.5 0.5\n")
    assert Dataset.from_images(tmp_path / "images", names=["x"]).check().empty


def test_from_images_with_sibling_labels_and_nested_folders(tmp_path):
    _image(tmp_path / "pics/sub/a.jpg", 40, 20)
    _labels(tmp_path / "labels/sub/a.txt", "4 0.5 0.5 0.5 0.5\n")
    ds = Dataset.from_images(tmp_path / "pics")
    assert ds.names == ["0", "1", "2", "3", "4"]
    item = ds.items("all")[0]
    assert item.label_path == (tmp_path / "labels/sub/a.txt").resolve()
    np.testing.assert_allclose(ds.load_labels(item).xyxy, [[10, 5, 30, 15]])
    _labels(tmp_path / "classes.txt", "a\nb\nc\nd\ne\n\n")
    assert Dataset.from_images(tmp_path / "pics", split="x").names == list("abcde")
    with pytest.raises(DatasetError, match="image folder not found"):
        Dataset.from_images(tmp_path / "nothing")
    with pytest.raises(DatasetError, match="cannot itself be named labels"):
        Dataset.from_images(tmp_path / "labels")


def test_size_bucket_edges_match_coco():
    areas = np.array([0, 32**2 - 1e-9, 32**2, 96**2 - 1e-9, 96**2, 1e9])
    assert list(size_bucket(areas)) == ["small", "small", "medium", "medium", "large", "large"]
    assert list(size_bucket(areas).categories) == list(SIZE_BUCKETS)


def test_stats_tables(dataset):
    stats = dataset.stats()
    classes = stats.classes.set_index("name")
    assert classes["instances"].to_dict() == {"cat": 1, "dog": 1, "bird": 1}
    assert classes["images"].to_dict() == {"cat": 1, "dog": 1, "bird": 1}
    boxes = stats.boxes
    assert boxes["name"].tolist() == ["cat", "dog", "bird"]
    np.testing.assert_allclose(boxes["width"], [20, 200, 160])
    np.testing.assert_allclose(boxes["height"], [20, 100, 80])
    np.testing.assert_allclose(boxes["area"], [400, 20000, 12800])
    np.testing.assert_allclose(boxes["width_norm"], [0.1, 1.0, 0.5])
    np.testing.assert_allclose(boxes["area_norm"], [0.02, 1.0, 0.125])
    np.testing.assert_allclose(boxes["aspect"], [1.0, 2.0, 2.0])
    assert boxes["size"].tolist() == ["small", "large", "large"]
    assert boxes["split"].tolist() == ["train", "train", "val"]
    images = stats.images
    assert images["objects"].tolist() == [2, 0, 1, 0]
    assert images["labelled"].tolist() == [True, True, True, True]  # d.jpg: background
    assert stats.objects_per_image().to_dict() == {0: 2, 1: 1, 2: 1}
    assert stats.size_counts().to_dict() == {"small": 1, "medium": 0, "large": 2}


def test_stats_of_one_split_and_zero_height_aspect(tmp_path):
    _image(tmp_path / "images/a.jpg", 10, 10)
    _labels(tmp_path / "labels/a.txt", "0 0.5 0.5 0.5 0.0\n")
    stats = Dataset.from_images(tmp_path / "images", names=["x", "y"]).stats("all")
    assert np.isnan(stats.boxes["aspect"].iloc[0])
    assert stats.classes["instances"].tolist() == [1, 0]


def test_stats_of_an_unlabelled_dataset(tmp_path):
    _image(tmp_path / "images/a.jpg", 10, 10)
    stats = Dataset.from_images(tmp_path / "images", names=["x"]).stats()
    assert len(stats.boxes) == 0 and stats.classes["instances"].tolist() == [0]
    summary = stats.summary()
    assert summary["unlabelled_images"] == 1 and summary["boxes"] == 0
    assert summary["size_buckets"] == {"small": 0, "medium": 0, "large": 0}


def test_summary_is_json_ready(dataset):
    import json

    summary = dataset.stats("train").summary()
    text = json.dumps(summary)
    assert json.loads(text)["images"] == 2
    assert summary["box_quantiles"]["width"]["0.5"] == pytest.approx(110.0)


def test_to_coco_matches_pycocotools(tmp_path, dataset):
    from pycocotools.coco import COCO

    from tecktrack.datasets.coco import write_coco

    coco_ds = dataset.to_coco("train")
    assert [im.file_name for im in coco_ds.images] == ["images/train/a.jpg",
                                                       "images/train/b.png"]
    path = tmp_path / "gt.json"
    write_coco(path, coco_ds)
    coco = COCO(str(path))
    anns = coco.loadAnns(coco.getAnnIds(imgIds=[1]))
    np.testing.assert_allclose([a["bbox"] for a in anns], [[90, 40, 20, 20], [0, 0, 200, 100]])
    assert [coco.loadCats(a["category_id"])[0]["name"] for a in anns] == ["cat", "dog"]
    assert coco.getAnnIds(imgIds=[2]) == []
    with pytest.raises(FormatError):
        dataset.to_coco("val")


def test_dataset_item_stem():
    item = DatasetItem(Path("x/images/a.b.jpg"), Path("x/labels/a.b.txt"), "val")
    assert item.stem == "a.b"


def test_inputs_are_not_modified(dataset, yolo_root):
    before = {p: p.read_bytes() for p in yolo_root.rglob("*") if p.is_file()}
    dataset.check()
    dataset.stats()
    after = {p: p.read_bytes() for p in yolo_root.rglob("*") if p.is_file()}
    assert before == after


@pytest.mark.real
def test_real_coco128_val(real_data):
    dataset = Dataset.from_yaml(real_data / "coco128-val" / "data.yaml")
    assert len(dataset.names) == 80 and dataset.names[0] == "person"
    assert len(dataset.items("val")) == 128
    stats = dataset.stats("val")
    assert len(stats.images) == 128 and stats.images["labelled"].all()
    assert stats.classes["instances"].sum() == len(stats.boxes) > 0
    assert stats.classes.loc[0, "instances"] == stats.boxes["name"].eq("person").sum()
    assert set(stats.boxes["size"].unique()) == set(SIZE_BUCKETS)
    assert ((stats.boxes["width_norm"] > 0) & (stats.boxes["width_norm"] <= 1)).all()
    assert dataset.check().empty


def test_from_images_without_any_boxes_has_no_names_and_still_works(tmp_path):
    _image(tmp_path / "images/a.jpg", 10, 10)
    _labels(tmp_path / "labels/a.txt", "")
    ds = Dataset.from_images(tmp_path / "images")
    assert ds.names == [] and len(ds.load_labels(ds.items()[0])) == 0
    assert ds.check().empty and ds.stats().summary()["boxes"] == 0


def test_stats_count_the_rows_they_skip_and_the_cli_says_so(tmp_path, capsys):
    from tecktrack.cli import main

    (tmp_path / "images").mkdir()
    (tmp_path / "labels").mkdir()
    cv2.imwrite(str(tmp_path / "images" / "a.png"), np.zeros((20, 20, 3), np.uint8))
    (tmp_path / "labels" / "a.txt").write_text(
        "0 0.5 0.5 0.2 0.2\n95 0.5 0.5 0.2 0.2\n7 0.2 0.2 0.1 0.1\n")
    (tmp_path / "data.yaml").write_text("path: .\ntrain: images\nval: images\nnames: [a, b, c]\n")
    stats = Dataset.from_yaml(tmp_path / "data.yaml").stats("val")
    assert len(stats.boxes) == 1 and len(stats.skipped) == 2
    assert stats.summary()["skipped_label_lines"] == 2
    assert "class id 95 out of range [0, 3)" in stats.summary()["skipped_examples"][0]
    assert main(["dataset", "stats", str(tmp_path / "data.yaml"), "--split", "val"]) == 0
    assert "skipped 2 bad label lines" in capsys.readouterr().err


def test_overlapping_splits_are_counted_once_with_a_note(tmp_path):
    # Ultralytics' own coco128.yaml points train and val at the same images
    labels = {"a": "0 0.5 0.5 0.2 0.2\n0 0.2 0.2 0.1 0.1\n", "b": "1 0.5 0.5 0.4 0.4\n"}
    for name, boxes in labels.items():
        _image(tmp_path / f"images/{name}.jpg", 40, 30)
        _labels(tmp_path / f"labels/{name}.txt", boxes)
    _image(tmp_path / "images/c.jpg", 40, 30)  # background: no label file
    (tmp_path / "data.yaml").write_text("path: .\ntrain: images\nval: images\n"
                                        "names: {0: person, 1: car}\n")
    dataset = Dataset.from_yaml(tmp_path / "data.yaml")
    stats = dataset.stats()
    assert len(stats.images) == 3 and len(stats.boxes) == 3
    assert stats.classes["instances"].tolist() == [2, 1]
    assert stats.overlap == {"train/val": 3}
    assert stats.summary()["split_overlap"] == {"train/val": 3}
    assert dataset.stats("val").overlap == {} and len(dataset.stats("val").images) == 3
    assert dataset.check().empty and dataset.background_images() == 1


@pytest.mark.parametrize("val", ["lists/val.txt", "../ds/images"])
def test_one_image_reached_through_two_spellings_is_one_image(tmp_path, val):
    """``./../images/b.jpg`` in a list file, or ``../ds/images`` as a split, named the same
    file as ``images/b.jpg``: it was counted twice, reported as a duplicate stem of itself by
    ``dataset check`` and refused by ``mine``."""
    root = tmp_path / "ds"
    _image(root / "images/b.jpg", 40, 30)
    _labels(root / "labels/b.txt", "0 0.5 0.5 0.2 0.2\n")
    (root / "lists").mkdir()
    # saved with a byte-order mark, as Windows editors do (Ultralytics reads utf-8-sig)
    (root / "lists" / "val.txt").write_text("\ufeff./../images/b.jpg\n", encoding="utf-8")
    (root / "data.yaml").write_text(f"path: .\ntrain: images\nval: {val}\nnames: [a]\n")
    dataset = Dataset.from_yaml(root / "data.yaml")
    stats = dataset.stats()
    assert len(stats.images) == 1 and stats.overlap == {"train/val": 1}
    assert dataset.check().empty


@pytest.mark.parametrize("text,message", [
    ("b.jpg\nnotes.txt\n", "lists.txt:2: listed file is not an image (.txt"),
    ("b.jpg\nmissing.jpg\n", "lists.txt:2: listed image not found: missing.jpg"),
])
def test_a_list_file_names_the_line_of_an_entry_that_is_no_image(tmp_path, text, message):
    _image(tmp_path / "b.jpg", 40, 30)
    (tmp_path / "notes.txt").write_text("a note")
    (tmp_path / "lists.txt").write_text(text)
    (tmp_path / "data.yaml").write_text("path: .\ntrain: lists.txt\nval: lists.txt\n"
                                        "names: [a]\n")
    with pytest.raises(DatasetError, match=message.replace("(", r"\(").replace(".", r"\.")):
        Dataset.from_yaml(tmp_path / "data.yaml")


def test_nc_that_is_not_a_whole_number_is_named_as_such(tmp_path):
    (tmp_path / "images").mkdir()
    (tmp_path / "data.yaml").write_text("path: .\ntrain: images\nval: images\n"
                                        "nc: '1'\nnames: [a]\n")
    with pytest.raises(FormatError, match="nc: expected a whole number, got '1'"):
        tecktrack.datasets.data_yaml.read_data_yaml(tmp_path / "data.yaml")


@pytest.mark.parametrize("text,names", [
    ("nc: 3\n", ["class_0", "class_1", "class_2"]),
    ("names: {'0': person, '1': car}\n", ["person", "car"]),
    ("nc: 2\nnames: {'1': car, '0': person}\n", ["person", "car"]),
])
def test_names_as_ultralytics_reads_them(tmp_path, text, names):
    """``nc`` alone gives class_0..., digit-string keys are ids, ``validation:`` is ``val:``
    (each was refused)."""
    _image(tmp_path / "images/a.jpg", 40, 30)
    (tmp_path / "data.yaml").write_text("path: .\ntrain: images\nvalidation: images\n" + text)
    config = tecktrack.datasets.data_yaml.read_data_yaml(tmp_path / "data.yaml")
    assert config.names == names and [p.name for p in config.splits["val"]] == ["a.jpg"]
