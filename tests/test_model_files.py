"""Model folder discovery, model.yaml / names / Ultralytics metadata parsing, Darknet checks."""

from __future__ import annotations

from pathlib import Path

import pytest

from tecktrack.errors import FormatError, ModelError
from tecktrack.model import find_file_with_extension, load_model, set_model_paths
from tecktrack.model.metadata import (
    parse_ultralytics_metadata,
    read_darknet_input_size,
    read_model_yaml,
    read_names_file,
)


def _touch(folder: Path, *names: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        (folder / name).write_text("x")
    return folder


def test_find_file_with_extension_is_case_insensitive_and_refuses_ambiguity(tmp_path):
    _touch(tmp_path, "A.ONNX", "notes.txt")
    assert find_file_with_extension(tmp_path, "onnx").name == "A.ONNX"
    assert find_file_with_extension(tmp_path, ".cfg") is None
    with pytest.raises(ModelError, match=r"no \*\.cfg file"):
        find_file_with_extension(tmp_path, "cfg", required=True)
    _touch(tmp_path, "b.onnx")
    with pytest.raises(ModelError, match=r"several \*\.onnx files \(A.ONNX, b.onnx\)"):
        find_file_with_extension(tmp_path, "onnx")


def test_folder_with_onnx_names_and_yaml(tmp_path):
    _touch(tmp_path, "net.onnx", "net.names", "other.txt", "model.yaml")
    paths = set_model_paths(tmp_path)
    assert paths.kind == "onnx"
    assert (paths.weights.name, paths.names_file.name, paths.model_yaml.name) == (
        "net.onnx", "net.names", "model.yaml")


def test_darknet_pair_from_folder_cfg_or_weights(tmp_path):
    _touch(tmp_path, "tiny.cfg", "tiny.weights", "coco.names")
    for given in (tmp_path, tmp_path / "tiny.cfg", tmp_path / "tiny.weights"):
        paths = set_model_paths(given)
        assert (paths.kind, paths.config.name, paths.weights.name) == (
            "darknet", "tiny.cfg", "tiny.weights")
        assert paths.names_file.name == "coco.names" and paths.model_yaml is None


def test_darknet_cfg_without_weights(tmp_path):
    _touch(tmp_path, "tiny.cfg")
    with pytest.raises(ModelError, match=r"no \*\.weights file"):
        set_model_paths(tmp_path)


def test_model_name_resolves_under_models_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("TECKTRACK_HOME", str(tmp_path))
    _touch(tmp_path / "models" / "demo-x", "model.onnx")
    assert set_model_paths("demo-x").weights == tmp_path / "models" / "demo-x" / "model.onnx"
    with pytest.raises(ModelError, match="models in .*: demo-x"):
        set_model_paths("nope")


def test_empty_folder_and_wrong_suffix(tmp_path):
    with pytest.raises(ModelError, match="no model found"):
        set_model_paths(tmp_path)
    (tmp_path / "model.bin").write_text("x")
    with pytest.raises(ModelError, match="unsupported model file"):
        set_model_paths(tmp_path / "model.bin")


def test_pytorch_checkpoint_is_refused_with_the_export_command(tmp_path):
    checkpoint = tmp_path / "best.pt"
    checkpoint.write_text("x")
    command = f"yolo export model={checkpoint.as_posix()} format=onnx"
    for given in (checkpoint, tmp_path):  # the file, or a folder holding only it
        with pytest.raises(ModelError) as caught:
            set_model_paths(given)
        assert command in str(caught.value)


def test_model_yaml_fields_and_errors(tmp_path):
    path = tmp_path / "model.yaml"
    path.write_text("names: [a, b]\ninput_size: 416\nlayout: YOLO11\nletterbox: true\n")
    cfg = read_model_yaml(path)
    assert (cfg.names, cfg.input_size, cfg.layout, cfg.letterbox) == (
        ["a", "b"], (416, 416), "yolov8", True)
    for text, message in [("layout: ssd\n", "'layout' must be one of"),
                          ("input_size: [320]\n", "'input_size' must be"),
                          ("letterbox: maybe\n", "'letterbox' must be true or false"),
                          ("names: {0: a, 2: b}\n", "ids must be 0..1 without gaps"),
                          ("letterbx: true\n", "unknown key 'letterbx' .did you mean "
                                                "'letterbox'"),
                          ("input-size: 320\n", "did you mean 'input_size'"),
                          ("names: [a\n", "cannot read model.yaml")]:
        path.write_text(text)
        with pytest.raises(FormatError, match=message) as info:
            read_model_yaml(path)
        assert str(path) in str(info.value)


def test_model_yaml_ignores_provenance_keys(tmp_path):
    path = tmp_path / "model.yaml"
    path.write_text("names: [a]\nlayout: yolov8\ntraining: {seed: 0, epochs: 30}\n")
    assert read_model_yaml(path).names == ["a"]


def test_names_file(tmp_path):
    path = tmp_path / "x.names"
    path.write_text(" person \n\nbicycle\n")
    assert read_names_file(path) == ["person", "bicycle"]
    path.write_text("\n\n")
    with pytest.raises(FormatError, match="no class names"):
        read_names_file(path)


def test_ultralytics_metadata_is_parsed_as_literals_never_evaluated():
    cfg = parse_ultralytics_metadata({"names": "{0: 'person', 1: 'bicycle'}",
                                      "imgsz": "[384, 640]", "stride": "32",
                                      "task": "detect"}, "y.onnx")
    assert (cfg.names, cfg.input_size, cfg.stride, cfg.task) == (
        ["person", "bicycle"], (640, 384), 32, "detect")
    assert parse_ultralytics_metadata({}, "y.onnx").names is None
    with pytest.raises(FormatError, match="not a Python literal"):
        parse_ultralytics_metadata({"names": "__import__('os').getcwd()"}, "y.onnx")


def test_darknet_cfg_input_size(tmp_path):
    cfg = tmp_path / "a.cfg"
    cfg.write_text("# comment\n[net]\nbatch=64\nwidth=416 # w\nheight=288\n[yolo]\nclasses=80\n")
    assert read_darknet_input_size(cfg) == (416, 288)
    cfg.write_text("[convolutional]\nsize=3\n")
    assert read_darknet_input_size(cfg) is None


def test_darknet_on_opencv_5_says_how_to_fix(tmp_path, monkeypatch):
    import cv2

    _touch(tmp_path, "tiny.cfg", "tiny.weights")
    monkeypatch.setattr(cv2, "__version__", "5.0.0")
    with pytest.raises(ModelError, match=r"OpenCV 5\.0\.0 has no Darknet importer.*<5"):
        load_model(tmp_path, backend="opencv")


def test_darknet_on_onnxruntime_is_refused(tmp_path):
    _touch(tmp_path, "tiny.cfg", "tiny.weights")
    with pytest.raises(ModelError, match="use --backend opencv"):
        load_model(tmp_path, backend="onnxruntime")


def test_corrupt_darknet_weights(tmp_path):
    (tmp_path / "tiny.cfg").write_text("[net]\nwidth=32\nheight=32\nchannels=3\n"
                                       "[convolutional]\nfilters=4\nsize=3\nstride=1\n")
    (tmp_path / "tiny.weights").write_bytes(b"\x00")
    with pytest.raises(ModelError, match="tiny.weights: weights file of 1 bytes has no Darknet"):
        load_model(tmp_path)   # refused before OpenCV sees it (which would load it silently)
