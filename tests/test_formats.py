"""YOLO label files, data.yaml, image headers and label paths (tecktrack.datasets)."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tecktrack.datasets.coco import (
    CocoDataset,
    CocoImage,
    coco_results,
    coco_to_dict,
    read_coco,
    read_coco_results,
    write_coco,
    write_coco_results,
)
from tecktrack.datasets.data_yaml import read_data_yaml
from tecktrack.datasets.images import image_size, imread_or_none, list_images
from tecktrack.datasets.yolo import (
    LabelProblem,
    label_path_for,
    read_yolo_labels,
    write_yolo_labels,
)
from tecktrack.detections import Detections
from tecktrack.errors import DatasetError, FormatError


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


# -- image_size ---------------------------------------------------------------------------
@pytest.mark.parametrize("suffix", [".png", ".jpg", ".bmp"])
def test_image_size_reads_width_then_height(tmp_path, suffix):
    path = tmp_path / f"a{suffix}"
    assert cv2.imwrite(str(path), np.zeros((17, 41, 3), np.uint8))
    assert image_size(path) == (41, 17)


def test_image_size_swaps_for_exif_rotation_like_cv2(tmp_path):
    from PIL import Image

    path = tmp_path / "rotated.jpg"
    img = Image.new("RGB", (40, 10))
    exif = img.getexif()
    exif[0x0112] = 6  # rotate 90 CW on display
    img.save(path, exif=exif)
    decoded = cv2.imread(str(path))
    assert image_size(path) == (decoded.shape[1], decoded.shape[0]) == (10, 40)


def test_image_size_rejects_non_images_naming_the_file(tmp_path):
    bad = _write(tmp_path / "not-an-image.jpg", "hello")
    with pytest.raises(DatasetError, match="not-an-image.jpg"):
        image_size(bad)
    with pytest.raises(DatasetError, match="not found"):
        image_size(tmp_path / "missing.png")


# -- label_path_for -----------------------------------------------------------------------
@pytest.mark.parametrize(("image", "label"), [
    ("d/images/train/a.jpg", "d/labels/train/a.txt"),
    ("/abs/images/x.PNG", "/abs/labels/x.txt"),
    ("images/sub/images/b.jpeg", "images/sub/labels/b.txt"),
    ("d/pics/c.jpg", "d/pics/c.txt"),
    ("d/images.v2/c.jpg", "d/images.v2/c.txt"),
])
def test_label_path_for_replaces_last_images_component(image, label):
    assert label_path_for(image) == Path(label)


def test_label_path_for_ignores_images_in_the_file_name():
    assert label_path_for(Path("d/images/images.jpg")) == Path("d/labels/images.txt")


# -- read_yolo_labels ---------------------------------------------------------------------
def test_read_labels_converts_to_pixel_corners(tmp_path):
    p = _write(tmp_path / "a.txt", "0 0.5 0.5 0.2 0.4\n3 0.25 0.75 0.5 0.5\n")
    d = read_yolo_labels(p, 200, 100, n_classes=4)
    np.testing.assert_allclose(d.xyxy, [[80, 30, 120, 70], [0, 50, 100, 100]])
    np.testing.assert_array_equal(d.class_ids, [0, 3])
    assert d.scores is None and d.xyxy.dtype == np.float32 and d.class_ids.dtype == np.int64


def test_read_predictions_keeps_scores(tmp_path):
    p = _write(tmp_path / "p.txt", "1 0.5 0.5 1 1 0.25\n")
    d = read_yolo_labels(p, 10, 10, with_scores=True)
    np.testing.assert_allclose(d.scores, [0.25])
    np.testing.assert_allclose(d.xyxy, [[0, 0, 10, 10]])


@pytest.mark.parametrize("text", ["", "\n", "  \n\t\n"])
def test_empty_file_means_no_boxes(tmp_path, text):
    d = read_yolo_labels(_write(tmp_path / "e.txt", text), 10, 10)
    assert len(d) == 0 and d.xyxy.shape == (0, 4)


def test_blank_lines_are_skipped_but_line_numbers_stay_true(tmp_path):
    p = _write(tmp_path / "a.txt", "\n0 0.5 0.5 0.1 0.1\n\n0 0.5 0.5 0.1\n")
    with pytest.raises(FormatError) as info:
        read_yolo_labels(p, 10, 10)
    assert info.value.line == 4 and str(info.value).startswith(f"{p}:4: ")


@pytest.mark.parametrize(("line", "needle"), [
    ("0 0.5 0.5 0.1", "expected 5 columns"),
    ("0 0.5 0.5 0.1 0.1 0.9", "expected 5 columns"),
    ("0 0.5 abc 0.1 0.1", "non-number"),
    ("0 0.5 nan 0.1 0.1", "non-finite"),
    ("0 inf 0.5 0.1 0.1", "non-finite"),
    ("1.5 0.5 0.5 0.1 0.1", "not an integer"),
    ("-1 0.5 0.5 0.1 0.1", "out of range"),
    ("5 0.5 0.5 0.1 0.1", "class id 5 out of range [0, 5)"),
    ("0 1.2 0.5 0.1 0.1", "cx=1.2 outside [0, 1]"),
    ("0 0.5 -0.01 0.1 0.1", "cy=-0.01 outside"),
    ("0 0.5 0.5 -0.1 0.1", "negative size w=-0.1"),
    ("0 0.5 0.5 0.1 -0.2", "negative size h=-0.2"),
])
def test_strict_errors_name_file_line_and_field(tmp_path, line, needle):
    p = _write(tmp_path / "bad.txt", "0 0.5 0.5 0.1 0.1\n" + line + "\n")
    with pytest.raises(FormatError) as info:
        read_yolo_labels(p, 10, 10, n_classes=5)
    assert needle in str(info.value)
    assert info.value.path == str(p) and info.value.line == 2


def test_confidence_outside_unit_interval_is_an_error(tmp_path):
    p = _write(tmp_path / "p.txt", "0 0.5 0.5 0.1 0.1 1.5\n")
    with pytest.raises(FormatError, match="confidence=1.5"):
        read_yolo_labels(p, 10, 10, with_scores=True)


def test_values_within_tolerance_are_clipped(tmp_path):
    p = _write(tmp_path / "a.txt", "0 1.0005 -0.0005 0.1 1.0009\n")
    d = read_yolo_labels(p, 100, 100)  # cx=1, cy=0, w=0.1, h=1 -> corners clipped to the image
    np.testing.assert_allclose(d.xyxy, [[95, 0, 100, 50]], atol=1e-4)


def test_boxes_overhanging_the_image_are_clipped_to_it(tmp_path):
    p = _write(tmp_path / "a.txt", "0 0.5 0.0 0.2 1.0\n1 0.95 0.5 0.2 0.2\n")
    d = read_yolo_labels(p, 100, 200)
    np.testing.assert_allclose(d.xyxy, [[40, 0, 60, 100], [85, 80, 100, 120]], atol=1e-4)


def test_integer_valued_float_class_ids_are_accepted(tmp_path):
    d = read_yolo_labels(_write(tmp_path / "a.txt", "2.0 0.5 0.5 0.1 0.1\n"), 10, 10)
    assert d.class_ids.tolist() == [2]


def test_lenient_mode_skips_bad_lines_and_reports_each(tmp_path):
    p = _write(tmp_path / "a.txt", "0 0.5 0.5 0.1 0.1\nx\n9 0.5 0.5 0.1 0.1\n1 0.2 0.2 0.1 0.1\n")
    problems: list[LabelProblem] = []
    d = read_yolo_labels(p, 10, 10, n_classes=2, strict=False, problems=problems)
    assert d.class_ids.tolist() == [0, 1]
    assert [(q.path, q.line) for q in problems] == [(p, 2), (p, 3)]
    assert "expected 5 columns" in problems[0].message and "out of range" in problems[1].message
    assert str(problems[1]).startswith(f"{p}:3: ")


def test_lenient_mode_without_a_list_still_skips(tmp_path):
    p = _write(tmp_path / "a.txt", "0 0.5 0.5 0.1 0.1\n0 2 2 2 2\n")
    assert len(read_yolo_labels(p, 10, 10, strict=False)) == 1


def test_missing_label_file_is_a_dataset_error(tmp_path):
    with pytest.raises(DatasetError, match="label file not found"):
        read_yolo_labels(tmp_path / "nope.txt", 10, 10)


def test_non_positive_image_size_is_rejected(tmp_path):
    p = _write(tmp_path / "a.txt", "")
    with pytest.raises(ValueError, match="positive"):
        read_yolo_labels(p, 0, 10)
    with pytest.raises(ValueError, match="n_classes"):
        read_yolo_labels(p, 10, 10, n_classes=-1)


def test_zero_classes_accepts_only_files_without_boxes(tmp_path):
    assert len(read_yolo_labels(_write(tmp_path / "e.txt", ""), 10, 10, n_classes=0)) == 0
    p = _write(tmp_path / "a.txt", "0 0.5 0.5 0.1 0.1\n")
    with pytest.raises(FormatError, match=r"class id 0 out of range \[0, 0\)"):
        read_yolo_labels(p, 10, 10, n_classes=0)


def test_binary_garbage_is_a_format_error(tmp_path):
    p = tmp_path / "bin.txt"
    p.write_bytes(b"\xff\xfe\x00\x01 0.5 0.5 0.1 0.1\n")
    with pytest.raises(FormatError, match=":1: "):
        read_yolo_labels(p, 10, 10)


def test_input_file_is_not_modified(tmp_path):
    text = "0 0.5 0.5 0.1 0.1\n0 1.0004 0.5 0.1 0.1\nbad\n"
    p = _write(tmp_path / "a.txt", text)
    read_yolo_labels(p, 10, 10, strict=False, problems=[])
    assert p.read_text() == text


_line_chars = "0123456789.-+eE nainf\t\x0b\u00a0x,\n\r"
_token = st.one_of(st.floats(allow_nan=True, allow_infinity=True).map(repr),
                   st.integers(-3, 9).map(str), st.floats(-0.01, 1.01).map(str),
                   st.text(max_size=3))
_FUZZ = settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
_label_like = st.lists(st.lists(_token, min_size=0, max_size=7).map(" ".join),
                       max_size=6).map("\n".join)


@settings(_FUZZ, max_examples=300)
@given(text=st.one_of(st.text(), st.text(alphabet=_line_chars), _label_like),
       with_scores=st.booleans(), n_classes=st.one_of(st.none(), st.integers(1, 5)))
def test_parser_raises_only_format_error_on_arbitrary_text(tmp_path, text, with_scores, n_classes):
    p = tmp_path / "fuzz.txt"
    p.write_text(text, encoding="utf-8", errors="surrogatepass")
    problems: list[LabelProblem] = []
    try:
        strict = read_yolo_labels(p, 64, 48, n_classes=n_classes, with_scores=with_scores)
    except FormatError as exc:
        assert exc.path == str(p) and exc.line is not None
        strict = None
    lenient = read_yolo_labels(p, 64, 48, n_classes=n_classes, with_scores=with_scores,
                               strict=False, problems=problems)
    assert (strict is None) == bool(problems)
    assert np.all(np.isfinite(lenient.xyxy))
    assert np.all((lenient.xyxy >= 0) & (lenient.xyxy <= [64, 48, 64, 48]))
    if n_classes is not None:
        assert np.all((lenient.class_ids >= 0) & (lenient.class_ids < n_classes))


# -- write_yolo_labels --------------------------------------------------------------------
def test_write_then_read_round_trips(tmp_path):
    d = Detections([[10, 20, 30, 40], [0, 0, 64, 48]], [2, 0], [0.75, 0.5])
    p = tmp_path / "deep" / "folder" / "a.txt"
    write_yolo_labels(p, d, 64, 48)
    back = read_yolo_labels(p, 64, 48, with_scores=True)
    np.testing.assert_allclose(back.xyxy, d.xyxy, atol=1e-3)
    np.testing.assert_array_equal(back.class_ids, d.class_ids)
    np.testing.assert_allclose(back.scores, d.scores, atol=1e-6)


def test_write_ground_truth_has_five_fixed_precision_columns(tmp_path):
    p = tmp_path / "gt.txt"
    write_yolo_labels(p, Detections([[0, 0, 10, 5]], [7]), 20, 10)
    assert p.read_text() == "7 0.250000 0.250000 0.500000 0.500000\n"


def test_write_empty_gives_empty_file(tmp_path):
    p = tmp_path / "e.txt"
    write_yolo_labels(p, Detections.empty(), 20, 10)
    assert p.read_text() == ""


def test_write_clips_boxes_to_the_image_so_files_read_back(tmp_path):
    p = tmp_path / "c.txt"
    write_yolo_labels(p, Detections([[-5, -5, 25, 8], [30, 2, 40, 4]], [0, 1]), 20, 10)
    back = read_yolo_labels(p, 20, 10)
    np.testing.assert_allclose(back.xyxy, [[0, 0, 20, 8], [20, 2, 20, 4]], atol=1e-4)
    assert "-" not in p.read_text()


@settings(_FUZZ, max_examples=100)
@given(boxes=st.lists(st.tuples(*[st.floats(0, 1)] * 4, st.integers(0, 79), st.floats(0, 1)),
                      max_size=20))
def test_write_read_property(tmp_path, boxes):
    arr = np.array([b[:4] for b in boxes], dtype=np.float64).reshape(-1, 4)
    xyxy = np.concatenate([np.minimum(arr[:, :2], arr[:, 2:]), np.maximum(arr[:, :2], arr[:, 2:])],
                          axis=1) * [640, 480, 640, 480]
    d = Detections(xyxy, [b[4] for b in boxes], [b[5] for b in boxes])
    p = tmp_path / "prop.txt"
    write_yolo_labels(p, d, 640, 480)
    back = read_yolo_labels(p, 640, 480, n_classes=80, with_scores=True)
    np.testing.assert_allclose(back.xyxy, d.xyxy, atol=1e-3)
    np.testing.assert_array_equal(back.class_ids, d.class_ids)
    np.testing.assert_allclose(back.scores, d.scores, atol=1e-6)


# -- data.yaml ----------------------------------------------------------------------------
def _image(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.zeros((4, 6, 3), np.uint8))
    return path


@pytest.fixture()
def dataset_dir(tmp_path) -> Path:
    root = tmp_path / "ds"
    for split, stems in {"train": ["a", "b"], "val": ["c"], "test": ["d"]}.items():
        for stem in stems:
            _image(root / "images" / split / f"{stem}.jpg")
    (root / "images" / "val" / "notes.md").write_text("not an image")
    return root


def test_data_yaml_with_folders_and_name_list(dataset_dir):
    y = _write(dataset_dir / "data.yaml",
               "path: .\ntrain: images/train\nval: images/val\ntest: images/test\n"
               "names: [cat, dog]\n")
    cfg = read_data_yaml(y)
    assert cfg.path == y.resolve() and cfg.root == dataset_dir.resolve()
    assert cfg.names == ["cat", "dog"] and cfg.nc == 2
    assert {k: [p.name for p in v] for k, v in cfg.splits.items()} == {
        "train": ["a.jpg", "b.jpg"], "val": ["c.jpg"], "test": ["d.jpg"]}


def test_data_yaml_names_as_dict_and_root_relative_to_yaml(dataset_dir, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    y = _write(dataset_dir / "cfg" / "data.yaml",
               "path: ..\ntrain: [images/train, images/test]\nval: images/val\n"
               "names:\n  1: dog\n  0: cat\n")
    cfg = read_data_yaml(y)
    assert cfg.names == ["cat", "dog"] and cfg.root == dataset_dir.resolve()
    assert [p.name for p in cfg.splits["train"]] == ["a.jpg", "b.jpg", "d.jpg"]
    assert "test" not in cfg.splits


def test_data_yaml_with_txt_list_files(dataset_dir):
    absolute = dataset_dir / "images/test/d.jpg"
    _write(dataset_dir / "val.txt", f"./images/val/c.jpg\n\n{absolute}")
    y = _write(dataset_dir / "data.yaml", "train: images/train\nval: val.txt\nnames: [x]\n")
    assert [p.name for p in read_data_yaml(y).splits["val"]] == ["c.jpg", "d.jpg"]


def test_data_yaml_list_file_with_missing_image_names_line(dataset_dir):
    _write(dataset_dir / "val.txt", "images/val/c.jpg\nimages/val/zz.jpg\n")
    y = _write(dataset_dir / "data.yaml", "train: images/train\nval: val.txt\nnames: [x]\n")
    with pytest.raises(DatasetError, match=r"val\.txt:2: listed image not found"):
        read_data_yaml(y)


def test_data_yaml_missing_folder_is_named(dataset_dir):
    y = _write(dataset_dir / "data.yaml", "train: images/train\nval: images/nope\nnames: [x]\n")
    with pytest.raises(DatasetError, match="val: images/nope not found"):
        read_data_yaml(y)


@pytest.mark.parametrize(("text", "needle"), [
    ("train: images/train\nval: images/val\n", "names"),
    ("train: images/train\nnames: [a]\n", "val: missing"),
    ("train: images/train\nval: images/val\nnames: {0: a, 2: b}\n", "dict keys"),
    ("train: images/train\nval: images/val\nnames: [a, b]\nnc: 3\n", "nc: 3"),
    ("train: images/train\nval: 5\nnames: [a]\n", "val: expected a folder"),
    ("- just\n- a list\n", "expected a mapping"),
])
def test_data_yaml_format_errors(dataset_dir, text, needle):
    y = _write(dataset_dir / "data.yaml", text)
    with pytest.raises(FormatError, match=needle) as info:
        read_data_yaml(y)
    assert info.value.path == str(y.resolve())


def test_data_yaml_syntax_error_has_line(dataset_dir):
    y = _write(dataset_dir / "data.yaml", "train: images/train\nval: [unclosed\nnames: [a]\n")
    with pytest.raises(FormatError, match="invalid YAML") as info:
        read_data_yaml(y)
    assert info.value.line is not None and info.value.line >= 2


def test_data_yaml_missing_file_and_root(tmp_path):
    with pytest.raises(DatasetError, match="data.yaml not found"):
        read_data_yaml(tmp_path / "data.yaml")
    y = _write(tmp_path / "data.yaml", "path: nowhere\ntrain: a\nval: a\nnames: [x]\n")
    with pytest.raises(DatasetError, match="dataset root"):
        read_data_yaml(y)


def test_list_images_is_recursive_sorted_and_filters_suffixes(dataset_dir):
    names = [p.relative_to(dataset_dir / "images").as_posix() for p in
             list_images(dataset_dir / "images")]
    assert names == ["test/d.jpg", "train/a.jpg", "train/b.jpg", "val/c.jpg"]
    with pytest.raises(DatasetError, match="image folder not found"):
        list_images(dataset_dir / "missing")


def test_ultralytics_image_formats_are_images_and_unreadable_ones_are_said(tmp_path):
    """AVIF and JPEG 2000 images (Ultralytics' IMG_FORMATS) are listed and read; a HEIC this
    install cannot decode is listed too, so the readers skip it by name instead of never
    seeing it (it used to be left out of the folder without a word)."""
    from PIL import Image

    from tecktrack.cli import main

    pixels = np.random.default_rng(0).integers(0, 255, (20, 30, 3), dtype=np.uint8)
    for name in ("a.avif", "b.jp2"):
        Image.fromarray(pixels).save(tmp_path / name)
    (tmp_path / "c.heic").write_bytes(b"\x00\x00\x00\x18ftypheic" + bytes(32))
    (tmp_path / "d.txt").write_text("not an image")
    assert [p.name for p in list_images(tmp_path)] == ["a.avif", "b.jp2", "c.heic"]
    for name in ("a.avif", "b.jp2"):
        assert image_size(tmp_path / name) == (30, 20)
        assert imread_or_none(tmp_path / name).shape == (20, 30, 3)
    root = tmp_path / "ds"
    (root / "images").mkdir(parents=True)
    for name in ("a.avif", "b.jp2", "c.heic"):
        (root / "images" / name).write_bytes((tmp_path / name).read_bytes())
    (root / "data.yaml").write_text("path: .\ntrain: images\nval: images\nnames: [x]\n")
    report = tmp_path / "stats.json"
    assert main(["dataset", "stats", str(root / "data.yaml"), "--json", str(report),
                 "--quiet"]) == 1                       # an image skipped: exit 1, as documented
    stats = json.loads(report.read_text())
    assert stats["unreadable_images"] == 1 and "c.heic" in stats["unreadable_examples"][0]


# -- COCO JSON ----------------------------------------------------------------------------
def _coco_dataset() -> CocoDataset:
    images = [CocoImage(3, "a.jpg", 64, 48), CocoImage(10, "b.jpg", 32, 32),
              CocoImage(11, "empty.jpg", 8, 8)]
    annotations = {
        3: Detections([[1, 2, 11, 22], [0, 0, 64, 48], [5.5, 6.25, 7.5, 9.0]], [0, 1, 0]),
        10: Detections([[4, 4, 8, 8]], [1]),
    }
    return CocoDataset(images, ["cat", "dog"], [1, 7], annotations,
                       iscrowd={3: np.array([False, True, False])})


def test_coco_round_trip_through_pycocotools_loader(tmp_path):
    from pycocotools.coco import COCO

    ds = _coco_dataset()
    p = tmp_path / "gt.json"
    write_coco(p, ds)
    coco = COCO(str(p))
    assert sorted(coco.getImgIds()) == [3, 10, 11]
    assert coco.loadCats(coco.getCatIds()) == [
        {"id": 1, "name": "cat", "supercategory": "none"},
        {"id": 7, "name": "dog", "supercategory": "none"}]
    anns = coco.loadAnns(coco.getAnnIds(imgIds=[3]))
    np.testing.assert_allclose([a["bbox"] for a in anns],
                               [[1, 2, 10, 20], [0, 0, 64, 48], [5.5, 6.25, 2, 2.75]])
    assert [a["category_id"] for a in anns] == [1, 7, 1]
    assert [a["iscrowd"] for a in anns] == [0, 1, 0]
    np.testing.assert_allclose([a["area"] for a in anns], [200, 64 * 48, 5.5])
    assert coco.getAnnIds(imgIds=[11]) == []
    back = read_coco(p)
    assert back.images == ds.images and back.names == ["cat", "dog"]
    assert back.category_ids == [1, 7]
    for image_id, det in ds.annotations.items():
        np.testing.assert_array_equal(back.annotations[image_id].xyxy, det.xyxy)
        np.testing.assert_array_equal(back.annotations[image_id].class_ids, det.class_ids)
    np.testing.assert_array_equal(back.iscrowd[3], [False, True, False])
    assert len(back.annotations[11]) == 0


def test_coco_results_round_trip_through_load_res(tmp_path):
    from pycocotools.coco import COCO

    gt = tmp_path / "gt.json"
    write_coco(gt, _coco_dataset())
    preds = {3: Detections([[1, 2, 11, 22], [3, 3, 5, 9]], [1, 0], [0.9, 0.25]),
             10: Detections([[0, 0, 4, 4]], [1], [0.5])}
    res = tmp_path / "res.json"
    write_coco_results(res, preds, [1, 7])
    loaded = COCO(str(gt)).loadRes(str(res))
    anns = loaded.loadAnns(loaded.getAnnIds(imgIds=[3]))
    np.testing.assert_allclose([a["bbox"] for a in anns], [[1, 2, 10, 20], [3, 3, 2, 6]])
    assert [a["category_id"] for a in anns] == [7, 1]
    np.testing.assert_allclose([a["score"] for a in anns], [0.9, 0.25], rtol=1e-6)
    back = read_coco_results(res, [1, 7], image_ids=[3, 10, 11])
    assert sorted(back) == [3, 10, 11] and len(back[11]) == 0
    for image_id, det in preds.items():
        np.testing.assert_array_equal(back[image_id].xyxy, det.xyxy)
        np.testing.assert_array_equal(back[image_id].class_ids, det.class_ids)
        np.testing.assert_array_equal(back[image_id].scores, det.scores)


def test_read_coco_of_a_pycocotools_style_file_keeps_area_and_sorts_categories(tmp_path):
    p = _write(tmp_path / "gt.json", json.dumps({
        "images": [{"id": 1, "file_name": "x.jpg", "width": 100, "height": 100}],
        "annotations": [{"id": 5, "image_id": 1, "category_id": 90, "bbox": [0, 0, 10, 10],
                         "area": 42.0, "iscrowd": 0, "segmentation": [[0, 0, 1, 1, 2, 2]]},
                        {"id": 6, "image_id": 1, "category_id": 2, "bbox": [1, 1, 1, 1]}],
        "categories": [{"id": 90, "name": "toothbrush"}, {"id": 2, "name": "bicycle"}]}))
    ds = read_coco(p)
    assert ds.names == ["bicycle", "toothbrush"] and ds.category_ids == [2, 90]
    np.testing.assert_array_equal(ds.annotations[1].class_ids, [1, 0])
    np.testing.assert_allclose(ds.areas[1], [42.0, 1.0])


def test_coco_results_need_scores():
    with pytest.raises(ValueError, match="no scores"):
        coco_results({1: Detections([[0, 0, 1, 1]], [0])}, [1])


def test_coco_to_dict_numbers_annotations_from_one():
    ids = [a["id"] for a in coco_to_dict(_coco_dataset())["annotations"]]
    assert ids == [1, 2, 3, 4]


_ANN = {"image_id": 1, "category_id": 1, "bbox": [0, 0, 2, 2], "area": 4}
_GOOD = {"images": [{"id": 1, "file_name": "x.jpg", "width": 9, "height": 9}],
         "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, 2, 2]}],
         "categories": [{"id": 1, "name": "a"}]}


@pytest.mark.parametrize(("patch", "needle"), [
    ({"annotations": [{"image_id": 1, "category_id": 1}]}, "annotations[0]: missing field 'bbox'"),
    ({"annotations": [{"image_id": 1, "category_id": 1, "bbox": [0, 0, 2]}]},
     r"annotations[0].bbox: expected [x, y, w, h]"),
    ({"annotations": [{"image_id": 1, "category_id": 1, "bbox": [0, 0, -2, 2]}]}, "negative"),
    ({"annotations": [{"image_id": 2, "category_id": 1, "bbox": [0, 0, 2, 2]}]},
     "annotations[0].image_id: 2 is not in images"),
    ({"annotations": [{"image_id": 1, "category_id": 5, "bbox": [0, 0, 2, 2]}]},
     "annotations[0].category_id: 5 is not a known category"),
    ({"annotations": [{"image_id": "1", "category_id": 1, "bbox": [0, 0, 2, 2]}]},
     "annotations[0].image_id: expected an integer"),
    ({"annotations": [[1, 1, [0, 0, 2, 2]]]}, "annotations[0]: not an object"),
    ({"annotations": [{"image_id": 1, "category_id": 1, "bbox": [0, 0, [2], 2]}]},
     "annotations[0].bbox: expected [x, y, w, h]"),
    ({"annotations": [{"image_id": 1, "category_id": 1, "bbox": [0, 0, 2, 2], "area": "big"}]},
     "annotations[0].area: expected a number"),
    ({"images": [{"id": 1, "file_name": "x.jpg", "width": 9.5, "height": 9}]},
     "images[0].width: expected an integer, got 9.5"),
    ({"images": {"id": 1}}, "images: expected a list"),
    ({"images": _GOOD["images"] * 2}, "duplicate image id"),
    ({"categories": [{"id": 1, "name": "a"}, {"id": 1, "name": "b"}]}, "duplicate category"),
    ({"annotations": [{**_ANN, "id": 0}]}, "annotations[0].id: 0 (ids start at 1; pycocotools"),
    ({"annotations": [{**_ANN, "id": 4}, {**_ANN, "id": 5}, {**_ANN, "id": 4}]},
     "annotations[2].id: 4 repeats annotations[0].id"),
    ({"annotations": [{**_ANN, "id": "1"}]}, "annotations[0].id: expected an integer, got '1'"),
    ({"annotations": [{**_ANN, "id": 1.0}]}, "annotations[0].id: expected an integer, got 1.0"),
    ({"annotations": [{**_ANN, "id": 1}, {k: v for k, v in _ANN.items()}]},
     "annotations[1]: missing field 'id'"),
    ({"annotations": [{**_ANN, "iscrowd": 2}]}, "annotations[0].iscrowd: expected 0 or 1, got 2"),
    ({"annotations": [{**_ANN, "area": -4}]}, "annotations[0].area: -4 is negative"),
])
def test_read_coco_errors_name_the_field(tmp_path, patch, needle):
    p = _write(tmp_path / "bad.json", json.dumps({**_GOOD, **patch}))
    with pytest.raises(FormatError) as info:
        read_coco(p)
    assert needle in str(info.value) and info.value.path == str(p)


def test_read_coco_invalid_json_has_line(tmp_path):
    p = _write(tmp_path / "bad.json", '{\n  "images": [\n  oops\n]}')
    with pytest.raises(FormatError, match="invalid JSON") as info:
        read_coco(p)
    assert info.value.line == 3


def test_read_coco_results_errors(tmp_path):
    p = _write(tmp_path / "res.json", json.dumps(
        [{"image_id": 1, "category_id": 1, "bbox": [0, 0, 1, 1], "score": "high"}]))
    with pytest.raises(FormatError, match="score"):
        read_coco_results(p, [1])
    p.write_text(json.dumps([{"image_id": 4, "category_id": 1, "bbox": [0, 0, 1, 1],
                              "score": 0.5}]))
    with pytest.raises(FormatError, match=r"results\[0\].image_id: 4 is not in images"):
        read_coco_results(p, [1], image_ids=[1, 2])
    with pytest.raises(DatasetError, match="not found"):
        read_coco_results(tmp_path / "missing.json", [1])
    p.write_text(json.dumps([{"image_id": 1, "category_id": 1, "bbox": [0, 0, 1, 1],
                              "score": True}]))
    with pytest.raises(FormatError, match=r"results\[0\].score: expected a number"):
        read_coco_results(p, [1])


def test_read_coco_results_of_an_empty_list(tmp_path):
    p = _write(tmp_path / "res.json", "[]")
    assert read_coco_results(p, [1]) == {}
    empty = read_coco_results(p, [1], image_ids=[5])
    assert list(empty) == [5] and len(empty[5]) == 0 and empty[5].scores is not None


def test_coco_is_reexported_by_formats():
    import tecktrack.datasets
    import tecktrack.datasets.coco

    for name in tecktrack.datasets.coco.__all__:
        assert getattr(tecktrack.datasets, name) is getattr(tecktrack.datasets.coco, name)
        assert name in tecktrack.datasets.__all__


def test_coco_dataset_leaves_the_callers_annotations_dict_alone():
    images = [CocoImage(1, "a.jpg", 8, 8), CocoImage(2, "b.jpg", 8, 8)]
    annotations = {1: Detections([[0, 0, 2, 2]], [0])}
    ds = CocoDataset(images, ["cat"], [1], annotations)
    assert list(annotations) == [1] and sorted(ds.annotations) == [1, 2]


def test_coco_results_give_every_image_without_detections_its_own_empty_value(tmp_path):
    res = tmp_path / "res.json"
    res.write_text('[{"image_id": 1, "category_id": 1, "bbox": [0, 0, 2, 2], "score": 0.5}]')
    back = read_coco_results(res, [1], image_ids=[1, 2, 3])
    assert len(back[2]) == 0 and back[2] is not back[3]


@pytest.mark.parametrize(("annotations", "needle"), [
    ([{"id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, 2, 2]}],
     "annotations: 1 without 'area' (pycocotools cannot evaluate them"),
    ([{**_ANN, "id": 1}, {**_ANN, "id": 2, "bbox": [1, 1, 0, 3]}],
     "annotations: 1 boxes of zero width or height (they can never be matched), first "
     "annotations[1]"),
    ([{**_ANN, "id": 1, "bbox": [9.01, 2, 3, 3]}, {**_ANN, "id": 2, "bbox": [-5.5, 0, 5.5, 2]}],
     "annotations: 2 boxes wholly outside their image, first annotations[0]"),
])
def test_read_coco_warns_with_a_count_about_what_cannot_score_as_given(tmp_path, annotations,
                                                                       needle):
    from tecktrack.datasets.coco import CocoWarning

    p = _write(tmp_path / "gt.json", json.dumps({**_GOOD, "annotations": annotations}))
    with pytest.warns(CocoWarning) as caught:
        read_coco(p)
    assert any(needle in str(w.message) and str(p) in str(w.message) for w in caught)
