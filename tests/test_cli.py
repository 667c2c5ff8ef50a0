"""The ``tecktrack`` command: --version, --help everywhere, and the dataset sub-commands."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from tecktrack import __version__
from tecktrack.cli import build_parser, main


def _subparser_actions(parser: argparse.ArgumentParser) -> list[argparse._SubParsersAction]:
    return [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]


def _command_paths(parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()):
    """Every sub-command path, nested ones included, e.g. ('dataset', 'stats')."""
    for action in _subparser_actions(parser):
        for name, sub in action.choices.items():
            yield (*prefix, name)
            yield from _command_paths(sub, (*prefix, name))


COMMANDS = sorted(set(_command_paths(build_parser())))


def test_version_flag(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out.strip() == f"tecktrack {__version__}"


def test_module_entry_point_runs_in_a_fresh_interpreter():
    done = subprocess.run([sys.executable, "-m", "tecktrack", "--version"], capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 0 and done.stdout.strip() == f"tecktrack {__version__}"


def test_top_level_help_lists_every_command(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    top = {path[0] for path in COMMANDS}
    assert {"dataset"} <= top
    assert all(name in out for name in top)


def test_every_top_level_command_has_help_text():
    (action,) = _subparser_actions(build_parser())
    helps = {choice.dest: choice.help for choice in action._choices_actions}
    assert set(helps) == set(action.choices)
    assert all(text and text.strip() for text in helps.values()), helps


@pytest.mark.parametrize("path", COMMANDS, ids=" ".join)
def test_help_works_for_every_sub_command(path, capsys):
    with pytest.raises(SystemExit) as info:
        main([*path, "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: tecktrack " + " ".join(path))


def test_dataset_sub_commands_are_discovered():
    assert ("dataset", "stats") in COMMANDS and ("dataset", "check") in COMMANDS


# -- tecktrack dataset --------------------------------------------------------------------
@pytest.fixture()
def data_yaml(tmp_path) -> Path:
    root = tmp_path / "ds"
    for split, stem, labels in [("train", "a", "0 0.5 0.5 0.5 0.5\n1 0.1 0.1 0.05 0.05\n"),
                                ("val", "b", "1 0.5 0.5 0.9 0.9\n")]:
        (root / "images" / split).mkdir(parents=True)
        (root / "labels" / split).mkdir(parents=True)
        cv2.imwrite(str(root / "images" / split / f"{stem}.jpg"), np.zeros((100, 200, 3), np.uint8))
        (root / "labels" / split / f"{stem}.txt").write_text(labels)
    path = root / "data.yaml"
    path.write_text("path: .\ntrain: images/train\nval: images/val\nnames: [cat, dog, fish]\n")
    return path


def test_dataset_stats_prints_tables_and_writes_json(data_yaml, tmp_path, capsys):
    out_json = tmp_path / "out" / "stats.json"
    assert main(["dataset", "stats", str(data_yaml), "--json", str(out_json), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "2 images (0 without label file), 3 boxes" in out
    assert "cat" in out and "dog" in out and "(1 classes without instances)" in out
    assert "COCO size buckets: small 1, medium 1, large 1" in out
    data = json.loads(out_json.read_text())
    assert data["boxes"] == 3 and data["split"] is None
    assert [c["instances"] for c in data["classes"]] == [1, 2, 0]
    assert data["objects_per_image"] == {"1": 1, "2": 1}


def test_dataset_stats_counts_an_image_without_label_file_on_both_lines(data_yaml, capsys):
    """It said "(0 without label file)" and then "1 images have no label file": a data.yaml
    dataset counts such an image as labelled (background, as Ultralytics reads it)."""
    cv2.imwrite(str(data_yaml.parent / "images" / "val" / "c.jpg"),
                np.zeros((50, 50, 3), np.uint8))
    assert main(["dataset", "stats", str(data_yaml), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "3 images (1 without label file), 3 boxes" in out
    assert "1 images have no label file: background (no objects)" in out


def test_dataset_stats_one_split(data_yaml, capsys):
    assert main(["dataset", "stats", str(data_yaml), "--split", "val"]) == 0
    assert "(val): 1 images (0 without label file), 1 boxes" in capsys.readouterr().out


def test_dataset_stats_refuses_to_overwrite(data_yaml, tmp_path, capsys):
    existing = tmp_path / "keep.json"
    existing.write_text("precious")
    assert main(["dataset", "stats", str(data_yaml), "--json", str(existing)]) == 2
    assert "refusing to overwrite" in capsys.readouterr().err
    assert existing.read_text() == "precious"


def test_dataset_errors_are_one_line_with_status_2(tmp_path, capsys):
    assert main(["dataset", "stats", str(tmp_path / "missing.yaml")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.endswith("missing.yaml: data.yaml not found") and "\n" not in err


def test_dataset_stats_unknown_split_is_an_error(data_yaml, capsys):
    assert main(["dataset", "stats", str(data_yaml), "--split", "test"]) == 2
    assert "no split 'test'" in capsys.readouterr().err


def test_dataset_check_clean_exits_0(data_yaml, capsys):
    assert main(["dataset", "check", str(data_yaml)]) == 0
    assert capsys.readouterr().out.strip() == "no problems in 2 images"


def test_dataset_check_prints_every_problem_and_exits_1(data_yaml, capsys):
    root = data_yaml.parent
    bad = root / "labels/train/a.txt"
    bad.write_text("0 0.5 0.5 0.5 0.5\n5 0.5 0.5 0.1 0.1\n0 0.5 0.5\n")
    (root / "labels/val/b.txt").unlink()
    assert main(["dataset", "check", str(data_yaml)]) == 1
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0] == f"{bad.resolve()}:2: class id 5 out of range [0, 3)"
    assert lines[1].startswith(f"{bad.resolve()}:3: expected 5 columns")
    # b.jpg has no label file: background, as Ultralytics reads a data.yaml dataset
    assert lines[2] == ("1 images without a label file: background (no objects), as "
                        "Ultralytics reads them")
    assert lines[3] == ("2 problems in 2 images: 2 bad label lines, 0 missing label files, "
                        "0 unreadable images")


@pytest.mark.real
def test_dataset_stats_on_real_coco128(real_data, capsys):
    assert main(["dataset", "stats", str(real_data / "coco128-val/data.yaml"), "--split", "val",
                 "--quiet"]) == 0
    assert "128 images (0 without label file)" in capsys.readouterr().out


def test_closed_output_pipe_exits_quietly(data_yaml):
    proc = subprocess.Popen([sys.executable, "-m", "tecktrack", "dataset", "stats",
                             str(data_yaml)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()  # like `| head` that has stopped reading
    err = proc.stderr.read().decode()
    proc.stderr.close()
    assert proc.wait(timeout=120) == 141
    assert "Traceback" not in err and "BrokenPipeError" not in err
