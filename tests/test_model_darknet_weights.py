"""Darknet weights against their cfg: a truncated file is refused, naming both sizes."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from tecktrack.errors import ModelError
from tecktrack.model.darknet_weights import check_darknet_weights, darknet_weight_count

CFG = """[net]
width=32
height=32
channels=3
[convolutional]
batch_normalize=1
filters=4
size=3
[convolutional]
filters=8
size=1
groups=2
[route]
layers=-1,-2
[convolutional]
filters=6
size=1
[yolo]
"""


def _weights(path: Path, count: int, major: int = 0, minor: int = 2) -> Path:
    header = np.array([major, minor, 0], np.int32).tobytes() + np.int64(0).tobytes()
    path.write_bytes(header + np.zeros(count, np.float32).tobytes())
    return path


def test_count_follows_groups_and_routes(tmp_path):
    cfg = tmp_path / "m.cfg"
    cfg.write_text(CFG)
    # conv1: 4*4 + 4*3*9; conv2 (groups 2): 8 + 8*2*1; route: 8 + 4 channels; conv3: 6 + 6*12
    assert darknet_weight_count(cfg) == (16 + 108) + (8 + 16) + (6 + 72)


def test_exact_file_passes_and_truncated_or_headerless_ones_are_refused(tmp_path):
    cfg = tmp_path / "m.cfg"
    cfg.write_text(CFG)
    n = darknet_weight_count(cfg)
    check_darknet_weights(cfg, _weights(tmp_path / "ok.weights", n))
    with pytest.raises(ModelError, match=r"truncated weights: 920 bytes, but m.cfg needs "
                                         r"924 \(226 weights \+ a 20-byte header\)"):
        check_darknet_weights(cfg, _weights(tmp_path / "short.weights", n - 1))
    (tmp_path / "empty.weights").write_bytes(b"")
    with pytest.raises(ModelError, match="no Darknet header"):
        check_darknet_weights(cfg, tmp_path / "empty.weights")


def test_unknown_layers_are_not_guessed(tmp_path):
    cfg = tmp_path / "m.cfg"
    cfg.write_text("[net]\n[connected]\noutput=10\n")
    assert darknet_weight_count(cfg) is None
    check_darknet_weights(cfg, _weights(tmp_path / "w.weights", 0))   # nothing to compare


@pytest.mark.real
def test_a_truncated_copy_of_the_real_yolo_fastest_is_refused(tmp_path, real_data):
    from tecktrack.model import load_model

    src = real_data / "models" / "yolo-fastest-1.1"
    for name in ("yolo-fastest-1.1.cfg", "coco.names"):
        os.symlink(src / name, tmp_path / name)
    (tmp_path / "yolo-fastest-1.1.weights").write_bytes(
        (src / "yolo-fastest-1.1.weights").read_bytes()[:100_000])
    with pytest.raises(ModelError, match="truncated weights: 100,000 bytes, but "
                                         "yolo-fastest-1.1.cfg needs 1,384,268"):
        load_model(tmp_path / "yolo-fastest-1.1.cfg")


def test_weights_longer_than_the_cfg_needs_warn(tmp_path):
    """OpenCV reads the floats it needs and ignores the rest: a cfg edited after training
    (filters=4 for weights made with 8) loaded without a word."""
    from tecktrack.model import ModelWarning

    cfg = tmp_path / "m.cfg"
    cfg.write_text(CFG)
    with pytest.warns(ModelWarning, match="40 bytes more than m.cfg needs"):
        check_darknet_weights(cfg, _weights(tmp_path / "long.weights", 226 + 10))


@pytest.mark.parametrize("old,new,line,message", [
    ("filters=8", "filters=1x6", 10, r"\[convolutional\] filters: expected a whole number, "
                                     r"got '1x6'"),
    ("size=3", "size=", 8, r"\[convolutional\] size: expected a whole number, got ''"),
])
def test_a_cfg_number_with_a_typo_names_its_line(tmp_path, old, new, line, message):
    """The weights check was skipped without a word when a count did not parse."""
    cfg = tmp_path / "m.cfg"
    cfg.write_text(CFG.replace(old, new, 1))
    with pytest.raises(ModelError, match=rf"m\.cfg:{line}: {message}"):
        check_darknet_weights(cfg, _weights(tmp_path / "w.weights", 226))


@pytest.mark.parametrize("old,new,line,message", [
    ("[convolutional]\nfilters=6", "[convolutonal]\nfilters=6", 15,
     "unknown layer type 'convolutonal'"),
    ("width=32", "width=3O", 2, r"\[net\] width: expected a whole number, got '3O'"),
])
def test_load_model_names_the_cfg_line_of_a_typo(tmp_path, old, new, line, message):
    """A cfg typo was reported against the weights file, without a line, and a width of '3O'
    loaded the model at the default 640x640."""
    from tecktrack.model import load_model

    cfg = tmp_path / "m.cfg"
    cfg.write_text(CFG.replace(old, new, 1))
    _weights(tmp_path / "m.weights", 226)
    with pytest.raises(ModelError, match=rf"m\.cfg:{line}: {message}"):
        load_model(cfg, backend="opencv")
