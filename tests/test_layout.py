"""The package layout: one wing per service, faces that import, examples that run."""

from __future__ import annotations

import ast
import doctest
import importlib
import pkgutil
from pathlib import Path

import pytest

import tecktrack

PACKAGE = Path(tecktrack.__file__).parent
MODULES = sorted(m.name for m in pkgutil.walk_packages(tecktrack.__path__, "tecktrack.")
                 if not m.name.endswith("__main__"))
WINGS = ("datasets", "model", "metrics", "inference", "interface", "mining", "augment",
         "cleaning", "lab", "synth", "train", "commands", "cluster")


def _wing(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


@pytest.mark.parametrize("wing", WINGS)
def test_every_wing_has_a_face_listing_its_names(wing):
    face = importlib.import_module(f"tecktrack.{wing}")
    names = getattr(face, "__all__", None)
    if wing in ("commands", "train"):
        return  # the CLI's sub-commands and the torch-only trainer have no import face
    assert names, f"tecktrack.{wing} lists no names"
    for name in names:
        assert hasattr(face, name), f"tecktrack.{wing}.__all__ names missing {name}"


def test_paths_named_in_earlier_issues_import_through_the_faces():
    from tecktrack import Detections  # noqa: F401
    from tecktrack.inference import InferenceService  # noqa: F401
    from tecktrack.metrics import evaluate  # noqa: F401
    from tecktrack.mining import HardNegativeMining  # noqa: F401
    from tecktrack.model import NMS, load_model  # noqa: F401


def test_no_module_imports_a_private_name_of_another_module():
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("tecktrack"):
                private = [a.name for a in node.names if a.name.startswith("_")
                           and not a.name.startswith("__")]
                if private:
                    offenders.append(f"{path.relative_to(PACKAGE)}: {node.module} {private}")
    assert offenders == []


def test_no_flat_module_is_left_at_the_top():
    top = sorted(p.stem for p in PACKAGE.glob("*.py"))
    assert top == ["__init__", "__main__", "cli", "detections", "draw", "errors", "paths",
                   "progress"]


@pytest.mark.parametrize("module", [m for m in MODULES if not m.startswith("tecktrack.train")])
def test_docstring_examples_run(module):
    result = doctest.testmod(importlib.import_module(module),
                             optionflags=doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS)
    assert result.failed == 0


ROWS = ["0 0.5 0.5 0.2 0.2", "0 1.0005 0.5 0.2 0.2", "0 1.002 0.5 0.2 0.2", "1.5 0.5 0.5 0.2 0.2",
        "-1 0.5 0.5 0.2 0.2", "0 nan 0.5 0.2 0.2", "0 0.5 0.5 -0.0005 0.2", "0 0.5 0.5 -0.01 0.2",
        "9007199254740992 0.5 0.5 0.2 0.2", "0 0.5 0.5 inf 0.2", "0 0.5 0.5 0.2",
        "0 \u0660.5 0.5 0.2 0.2", "0 \uff10.5 0.5 0.2 0.2", "\ufeff0 0.5 0.5 0.2 0.2",
        "0 0x1p-1 0.5 0.2 0.2",
        # polygon rows: read as their boxes, or refused alike
        "0 0.1 0.1 0.3 0.1 0.2 0.4", "0 0.1 0.1 0.3 0.1 0.2 0.4 0.5", "0 0.1 0.1 0.3 0.1 0.2 1.4",
        "0 0.1 0.1 0.3 0.1 0.2 0.4\n1 0.5 0.5 0.2 0.2", "0 0.1 0.1 0.3 0.1 0.2 x"]


@pytest.mark.parametrize("row", ROWS)
def test_the_per_file_and_the_columnar_reader_accept_and_refuse_the_same_rows(tmp_path, row):
    from tecktrack.datasets import read_label_files, read_yolo_labels
    from tecktrack.errors import TeckTrackError

    path = tmp_path / "a.txt"
    path.write_text(row + "\n", encoding="utf-8")
    outcomes = []
    for read in (lambda: read_yolo_labels(path, 100, 100).xyxy,
                 lambda: read_label_files(["a"], [path]).detections(0, 100, 100).xyxy):
        try:
            outcomes.append(read().round(3).tolist())
        except TeckTrackError as exc:
            outcomes.append(type(exc).__name__)
    assert outcomes[0] == outcomes[1]


def test_a_utf8_bom_is_accepted_and_non_ascii_digits_are_refused_with_the_line(tmp_path):
    from tecktrack.datasets import read_yolo_labels
    from tecktrack.errors import FormatError

    path = tmp_path / "a.txt"
    path.write_bytes(b"\xef\xbb\xbf0 0.5 0.5 0.2 0.2\n")
    assert read_yolo_labels(path, 10, 10).class_ids.tolist() == [0]
    path.write_text("0 0.5 0.5 0.2 0.2\n1 \u0660.5 0.5 0.2 0.2\n", encoding="utf-8")
    with pytest.raises(FormatError, match=r"a.txt:2: non-number"):
        read_yolo_labels(path, 10, 10)
