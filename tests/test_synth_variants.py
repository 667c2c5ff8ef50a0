"""Label-noise and contaminated-folders variants: manifests agree with the files written."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tecktrack.cli import main
from tecktrack.datasets.yolo import read_yolo_labels
from tecktrack.detections import Detections, box_iou
from tecktrack.errors import DatasetError
from tecktrack.synth import CLASS_NAMES, generate_dataset, generate_folders
from tecktrack.synth.folders import plan_folders
from tecktrack.synth.noise import NOISE_KINDS, corrupt_labels

SIZE = 160


def labels_by_name(root: Path) -> dict[str, Detections]:
    return {p.name: read_yolo_labels(p, SIZE, SIZE, n_classes=len(CLASS_NAMES))
            for p in root.glob("labels/*/*.txt")}


@pytest.fixture(scope="module")
def clean_and_noisy(tmp_path_factory) -> tuple[Path, Path]:
    base = tmp_path_factory.mktemp("noise")
    clean = generate_dataset(base / "clean", n_images=48, size=SIZE, seed=4, quiet=True)
    noisy = generate_dataset(base / "noisy", n_images=48, size=SIZE, seed=4, label_noise=0.25,
                             quiet=True)
    return clean.parent, noisy.parent


def same(a: Detections, b: Detections) -> bool:
    return (len(a) == len(b) and np.array_equal(a.class_ids, b.class_ids)
            and np.allclose(a.xyxy, b.xyxy, atol=1e-3))


def check_entry(entry: dict, clean: Detections, noisy: Detections) -> None:
    """The written labels differ from the clean ones exactly as the entry says."""
    kind, b = entry["kind"], entry["box_index"]
    others = np.arange(len(clean)) != b
    if kind == "box_missing":
        assert same(noisy, clean[others])
        assert entry["noisy"] is None and entry["clean"]["class_id"] == clean.class_ids[b]
    elif kind == "spurious_box":
        assert same(noisy[np.arange(len(clean))], clean) and len(noisy) == len(clean) + 1
        assert entry["clean"] is None
        assert np.allclose(noisy.xyxy[-1], entry["noisy"]["xyxy"], atol=0.01)
    else:
        assert len(noisy) == len(clean) and same(noisy[others], clean[others])
        if kind == "class_swapped":
            assert noisy.class_ids[b] != clean.class_ids[b]
            assert noisy.class_ids[b] == entry["noisy"]["class_id"]
            assert np.allclose(noisy.xyxy[b], clean.xyxy[b], atol=1e-3)
        else:
            assert kind == "box_shifted" and noisy.class_ids[b] == clean.class_ids[b]
            assert box_iou(noisy.xyxy[b:b + 1], clean.xyxy[b:b + 1])[0, 0] < 0.5


def test_noisy_images_are_the_clean_images(clean_and_noisy):
    clean, noisy = clean_and_noisy
    for path in clean.glob("images/*/*.jpg"):
        assert path.read_bytes() == (noisy / path.relative_to(clean)).read_bytes()


def test_label_noise_manifest_agrees_with_written_labels(clean_and_noisy):
    clean, noisy = clean_and_noisy
    manifest = json.loads((noisy / "label_noise.json").read_text())
    assert manifest["n_corrupted"] == 12 == len(manifest["images"])
    assert sum(manifest["kinds"].values()) == 12 and set(manifest["kinds"]) == set(NOISE_KINDS)
    a, b = labels_by_name(clean), labels_by_name(noisy)
    changed = {name for name in a if not same(a[name], b[name])}
    assert changed == {e["label"] for e in manifest["images"]}
    for entry in manifest["images"]:
        assert entry["image"][:6] == entry["label"][:6]
        assert (noisy / "images" / entry["split"] / entry["image"]).is_file()
        check_entry(entry, a[entry["label"]], b[entry["label"]])
    assert not (clean / "label_noise.json").exists()


def test_every_noise_kind_occurs_and_inputs_are_kept():
    rng = np.random.default_rng(0)
    labels = [Detections(np.array([[10, 10, 40, 50], [60, 60, 90, 100]], np.float32)
                         + rng.integers(0, 30), [0, 3]) for _ in range(40)]
    copies = [Detections(d.xyxy.copy(), d.class_ids.copy()) for d in labels]
    noisy, manifest = corrupt_labels(labels, 0.5, seed=1, size=SIZE)
    assert manifest["kinds"] == {k: 5 for k in NOISE_KINDS}
    for entry in manifest["images"]:
        i = int(entry["image"][:6])
        check_entry(entry, labels[i], noisy[i])
    assert all(same(a, b) for a, b in zip(labels, copies, strict=True))


def test_images_without_boxes_get_a_spurious_box():
    noisy, manifest = corrupt_labels([Detections.empty(with_scores=False)] * 8, 1.0, seed=0,
                                     size=SIZE)
    assert {e["kind"] for e in manifest["images"]} == {"spurious_box"}
    assert all(len(d) == 1 for d in noisy)


@pytest.fixture(scope="module")
def folders(tmp_path_factory) -> Path:
    return generate_folders(tmp_path_factory.mktemp("folders") / "f", n_images=30,
                            contamination=0.2, size=SIZE, seed=2, quiet=True)


def test_folders_manifest_agrees_with_files(folders):
    manifest = json.loads((folders / "manifest.json").read_text())
    filed = {p.name: p.parent.name for p in folders.glob("*/*.jpg")}
    assert len(filed) == 30 and set(filed.values()) == {"positive", "background"}
    assert manifest["n_misfiled"] == 6 == len(manifest["misfiled"])
    positive, misfiled = plan_folders(30, 0.2, seed=2)
    truth = {f"{i:06d}.jpg": "positive" if p else "background"
             for i, p in enumerate(positive.tolist())}
    listed = {e["image"]: e for e in manifest["misfiled"]}
    for name, folder in filed.items():
        if name in listed:
            assert listed[name]["folder"] == folder != listed[name]["true_folder"]
            assert listed[name]["true_folder"] == truth[name]
        else:
            assert folder == truth[name]
    assert manifest["n_positive"] == 15 and manifest["target"] == CLASS_NAMES[0]


def test_folders_are_deterministic(folders, tmp_path):
    again = generate_folders(tmp_path / "again", n_images=30, contamination=0.2, size=SIZE,
                             seed=2, quiet=True)
    for path in folders.rglob("*"):
        if path.is_file():
            assert path.read_bytes() == (again / path.relative_to(folders)).read_bytes()


def test_folders_cli_and_bad_target(tmp_path, capsys):
    assert main(["synth", "folders", str(tmp_path / "f"), "--images", "4", "--size", "96",
                 "--quiet"]) == 0
    assert len(list((tmp_path / "f").glob("*/*.jpg"))) == 4
    with pytest.raises(DatasetError, match="target"):
        generate_folders(tmp_path / "g", n_images=2, target="pallet", quiet=True)
    assert main(["synth", "folders", str(tmp_path / "h"), "--contamination", "2"]) == 2
    assert "contamination" in capsys.readouterr().err
