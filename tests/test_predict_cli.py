"""``tecktrack predict`` end to end on a tiny ONNX model and a temporary image folder."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
from model_graphs import make_graph, yolov8_output

from tecktrack.cli import main
from tecktrack.datasets.yolo import read_yolo_labels

# Two boxes in 64x64 input pixels: class 0 (0.9) and class 1 (0.5).
OUTPUT = yolov8_output([[32, 32, 16, 8], [16, 48, 8, 8]], [[0.9, 0.1], [0.0, 0.5]])


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("model")
    make_graph(folder / "model.onnx", [OUTPUT])
    (folder / "model.yaml").write_text("names: [cat, dog]\n")
    return folder


@pytest.fixture
def source(tmp_path):
    folder = tmp_path / "src"
    (folder / "sub").mkdir(parents=True)
    cv2.imwrite(str(folder / "a.jpg"), np.zeros((64, 64, 3), np.uint8))
    cv2.imwrite(str(folder / "b.png"), np.zeros((64, 128, 3), np.uint8))
    cv2.imwrite(str(folder / "sub" / "c.jpg"), np.zeros((32, 32, 3), np.uint8))
    return folder


def _run(*argv: str) -> int:
    return main(["predict", "--quiet", *argv])


def test_labels_for_every_image_annotated_images_and_summary(model_dir, source, tmp_path,
                                                            capsys):
    out = tmp_path / "out"
    assert _run("--model", str(model_dir), "--source", str(source), "--out", str(out),
                "--save-images") == 0
    assert sorted(p.relative_to(out / "labels").as_posix()
                  for p in (out / "labels").rglob("*.txt")) == ["a.txt", "b.txt", "sub/c.txt"]
    det = read_yolo_labels(out / "labels" / "b.txt", 128, 64, with_scores=True)
    order = np.argsort(det.class_ids)
    np.testing.assert_allclose(det.xyxy[order], [[48, 24, 80, 40], [24, 56, 40, 64]], atol=0.01)
    np.testing.assert_allclose(det.scores[order], [0.9, 0.5], atol=1e-6)
    assert cv2.imread(str(out / "images" / "sub" / "c.jpg")).shape == (32, 32, 3)
    summary = json.loads((out / "summary.json").read_text())
    assert (summary["images"], summary["detections"], summary["unreadable"]) == (3, 6, [])
    assert summary["detections_per_class"] == {"cat": 3, "dog": 3}
    assert set(summary["mean_ms_per_image"]) == {"read", "preprocess", "forward", "decode",
                                                  "nms", "write", "total"}
    assert "3 images, 6 detections" in capsys.readouterr().out


def test_nothing_detected_still_writes_empty_label_files(model_dir, source, tmp_path):
    out = tmp_path / "out"
    assert _run("--model", str(model_dir), "--source", str(source / "a.jpg"), "--out", str(out),
                "--conf", "0.95", "--backend", "opencv") == 0
    assert (out / "labels" / "a.txt").read_text() == ""
    assert not (out / "images").exists()
    summary = json.loads((out / "summary.json").read_text())
    assert (summary["backend"], summary["detections"], summary["conf"]) == ("opencv", 0, 0.95)


def test_unreadable_image_is_listed_and_skipped(model_dir, source, tmp_path, capsys):
    (source / "broken.jpg").write_bytes(b"not a jpeg")
    out = tmp_path / "out"
    assert _run("--model", str(model_dir), "--source", str(source), "--out", str(out)) == 1
    summary = json.loads((out / "summary.json").read_text())
    assert summary["images"] == 3
    assert len(summary["unreadable"]) == 1 and "broken.jpg" in summary["unreadable"][0]
    assert not (out / "labels" / "broken.txt").exists()
    assert "skipped:" in capsys.readouterr().out


def test_default_output_is_a_new_run_folder(model_dir, source, tmp_path, monkeypatch):
    monkeypatch.setenv("TECKTRACK_HOME", str(tmp_path))
    assert _run("--model", str(model_dir), "--source", str(source)) == 0
    runs = list((tmp_path / "results" / "runs").glob("predict-*"))
    assert len(runs) == 1 and (runs[0] / "summary.json").is_file()


@pytest.mark.parametrize("case,message", [
    ("missing", "source not found"),
    ("text", "not an image file"),
    ("rerun", "already holds prediction results"),
    ("clash", "would both write labels/a.txt"),
    ("model", "no such model"),
])
def test_bad_input_is_one_line_and_exit_2(model_dir, source, tmp_path, capsys, case, message):
    args = ["--model", str(model_dir), "--source", str(source), "--out", str(tmp_path / "o")]
    if case == "missing":
        args[3] = str(tmp_path / "nowhere")
    elif case == "text":
        (source / "notes.txt").write_text("hi")
        args[3] = str(source / "notes.txt")
    elif case == "rerun":
        (tmp_path / "o").mkdir()
        (tmp_path / "o" / "summary.json").write_text("{}")
    elif case == "clash":
        cv2.imwrite(str(source / "a.png"), np.zeros((8, 8, 3), np.uint8))
    else:
        args[1] = str(tmp_path / "no-model")
    assert _run(*args) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1


@pytest.mark.parametrize("cluster", [None, "local:1"])
def test_annotated_images_never_land_on_the_source_images(model_dir, tmp_path, capsys,
                                                          cluster):
    """Pseudo-labelling a dataset in place (``--source DS/images --out DS --save-images``)
    wrote the annotated copies over the originals, one process or a cluster alike."""
    if cluster is not None:
        pytest.importorskip("distributed")
    dataset = tmp_path / "ds"
    (dataset / "images" / "sub").mkdir(parents=True)
    cv2.imwrite(str(dataset / "images" / "a.jpg"), np.zeros((64, 64, 3), np.uint8))
    cv2.imwrite(str(dataset / "images" / "sub" / "b.png"), np.full((32, 48, 3), 7, np.uint8))
    before = {p: p.read_bytes() for p in dataset.rglob("*") if p.is_file()}
    extra = [] if cluster is None else ["--cluster", cluster]
    assert _run("--model", str(model_dir), "--source", str(dataset / "images"), "--out",
                str(dataset), "--save-images", *extra) == 2
    assert "--save-images would overwrite this source image" in capsys.readouterr().err
    assert {p: p.read_bytes() for p in dataset.rglob("*") if p.is_file()} == before
    assert _run("--model", str(model_dir), "--source", str(dataset / "images"), "--out",
                str(dataset)) == 0       # labels only: beside the images, as YOLO lays out
    assert (dataset / "labels" / "sub" / "b.txt").is_file()
    assert all(p.read_bytes() == data for p, data in before.items())
