"""Notebook helpers: split predictions, augmented versions, notebook tables, the UDP demo."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
from inference_support import build_detector, write_video

from tecktrack.augment.analysis import augmentation_analysis
from tecktrack.cleaning.plan import classify_images, folder_layout, misfiled_scores
from tecktrack.datasets.dataset import Dataset
from tecktrack.detections import Detections
from tecktrack.errors import DatasetError, StreamError
from tecktrack.inference.service import InferenceService
from tecktrack.interface.streaming import frame_table, stream_video
from tecktrack.lab import (
    annotated,
    augmentation_summary,
    augmented_versions,
    cleaning_sweep,
    label_issue_hits,
    label_noise,
    move_plan,
    pick_examples,
    predict_split,
    sample_items,
    sample_layout,
    scored_versions,
)
from tecktrack.mining.hard_negatives import HardNegativeMining
from tecktrack.model import load_model


class CornerDetector:
    """One box in the top-left quarter of whatever frame it gets, plus a faint class-1 box."""

    names = ["box", "cone"]

    def __init__(self) -> None:
        self.shapes: list[tuple[int, ...]] = []

    def predict(self, frame: np.ndarray) -> Detections:
        self.shapes.append(frame.shape)
        h, w = frame.shape[:2]
        return Detections([[0, 0, w / 2, h / 2], [w / 2, h / 2, w, h]], [0, 1], [0.9, 0.2])


@pytest.fixture
def dataset(tmp_path) -> Path:
    """data.yaml with 6 val images (sizes vary) and 2 train images; 000003 has no labels."""
    root = tmp_path / "ds"
    for split, stems in (("val", range(6)), ("train", range(10, 12))):
        (root / "images" / split).mkdir(parents=True)
        (root / "labels" / split).mkdir(parents=True)
        for i in stems:
            width = 40 + 8 * (i % 3)
            cv2.imwrite(str(root / "images" / split / f"{i:06d}.png"),
                        np.full((32, width, 3), 10 * i, np.uint8))
            if i != 3:
                (root / "labels" / split / f"{i:06d}.txt").write_text("0 0.25 0.25 0.5 0.5\n")
    (root / "data.yaml").write_text("path: .\ntrain: images/train\nval: images/val\n"
                                    "names: [box, cone]\n")
    return root / "data.yaml"


# -- split predictions ------------------------------------------------------------------
def test_predict_split_keeps_labels_and_predictions_by_sorted_stem(dataset):
    det = CornerDetector()
    sp = predict_split(det, dataset, "val")
    assert sp.stems == [f"{i:06d}" for i in range(6)] == list(sp.gt) == list(sp.preds)
    assert sp.names == ["box", "cone"]
    assert [s[:2] for s in det.shapes] == [(32, 40 + 8 * (i % 3)) for i in range(6)]
    assert sp.sizes == [(40 + 8 * (i % 3), 32) for i in range(6)]
    assert len(sp.gt["000003"]) == 0 and sp.gt["000003"].scores is None
    assert sp.gt["000001"].xyxy.tolist() == [[0, 0, 24, 16]]
    assert sp.item("000002").image_path.name == "000002.png"
    with pytest.raises(DatasetError, match="not among the 6"):
        sp.item("000099")


def test_split_tables_give_the_same_losses_as_per_image_mining(dataset):
    sp = predict_split(CornerDetector(), dataset, "val")
    pred, gt = sp.tables()
    miner = HardNegativeMining()
    table = miner.image_losses(pred, gt)
    one_by_one = [miner.compute_loss(sp.preds[s], sp.gt[s], *size)
                  for s, size in zip(sp.stems, sp.sizes, strict=True)]
    assert table["image"].tolist() == sp.stems
    assert np.allclose(table["loss"], one_by_one)
    assert table.loc[3, "missed"] == 0 and table.loc[0, "missed"] == 0


def test_sample_items_is_seeded_sorted_and_checked(dataset):
    ds = Dataset.from_yaml(dataset)
    a = [it.stem for it in sample_items(ds, "val", 3, seed=1)]
    assert a == sorted(a) and len(set(a)) == 3
    assert a == [it.stem for it in sample_items(ds, "val", 3, seed=1)]
    others = {tuple(it.stem for it in sample_items(ds, "val", 3, seed=s)) for s in range(2, 8)}
    assert len(others | {tuple(a)}) > 1
    assert len(sample_items(ds, "val", 100)) == 6
    assert [it.split for it in sample_items(ds, None)].count("train") == 2
    with pytest.raises(DatasetError, match="at least 1"):
        sample_items(ds, "val", 0)
    with pytest.raises(DatasetError, match="no split 'test'"):
        sample_items(ds, "test")


def test_predict_split_sample_predicts_only_the_sample(dataset):
    det = CornerDetector()
    sp = predict_split(det, dataset, "val", n_images=2, seed=0)
    assert len(det.shapes) == 2 and len(sp.gt) == 2
    assert sp.stems == [it.stem for it in sample_items(Dataset.from_yaml(dataset), "val", 2, 0)]


# -- augmented versions -----------------------------------------------------------------
def test_augmented_versions_and_scores_match_the_augmentation_analysis(dataset):
    image = dataset.parent / "images" / "val" / "000001.png"
    labels = dataset.parent / "labels" / "val" / "000001.txt"
    ops = "flip,rotate,brightness,resize"
    analysis = augmentation_analysis(CornerDetector(), [(image, labels)], ops, seed=7)
    versions = scored_versions(CornerDetector(), image, labels, ops, seed=7)
    assert [v.type for v in versions] == ["original", "flip", "rotate", "brightness", "resize"]
    assert versions[0].loss == pytest.approx(analysis["original_loss"].iloc[0])
    assert [v.loss for v in versions[1:]] == pytest.approx(analysis["augmented_loss"].tolist())
    # the resize drew the same scale as the analysis: same output size
    scale = analysis["params"].iloc[3]["resize"]
    assert versions[4].image.shape[1] == round(48 * scale)
    plain = augmented_versions(image, labels, ops, seed=7)
    assert all(np.array_equal(a.image, v.image) for (_, a), v in zip(plain, versions[1:],
                                                                      strict=True))
    other = augmented_versions(image, labels, ops, seed=8)
    assert not np.array_equal(other[1][1].image, plain[1][1].image)


def test_annotated_filters_by_score_and_class(tmp_path):
    path = tmp_path / "black.png"
    cv2.imwrite(str(path), np.zeros((100, 100, 3), np.uint8))
    names = ["box", "cone"]
    both = annotated(CornerDetector(), path, names)            # boxes: [0, 0, 50, 50] (0.9)
    strong = annotated(CornerDetector(), path, names, 0.5)     # and [50, 50, 100, 100] (0.2)
    cone_edge, box_edge = (slice(60, 95), slice(48, 53)), (slice(5, 45), slice(48, 53))
    assert both[cone_edge].any() and both[box_edge].any()
    assert not strong[cone_edge].any() and strong[box_edge].any()
    assert not annotated(CornerDetector(), path, names, 0.5, class_id=1).any()
    assert annotated(CornerDetector(), path, names, class_id=1)[cone_edge].any()


# -- notebook tables --------------------------------------------------------------------
def test_label_noise_reads_the_synth_manifest_format(tmp_path):
    path = tmp_path / "label_noise.json"
    path.write_text(json.dumps({"images": [
        {"image": "000010.jpg", "split": "train", "kind": "box_missing", "box_index": 0},
        {"image": "000004.jpg", "split": "val", "kind": "spurious_box", "box_index": 2},
        {"image": "000004.jpg", "split": "val", "kind": "box_shifted", "box_index": 1},
        {"image": "000002.jpg", "split": "val", "kind": "box_shifted", "box_index": 0},
    ]}))
    assert label_noise(path, "val").values.tolist() == [
        ["000002", "val", "box_shifted"], ["000004", "val", "box_shifted+spurious_box"]]
    assert len(label_noise(path)) == 3
    (tmp_path / "bad.json").write_text(json.dumps({"misfiled": []}))
    with pytest.raises(DatasetError, match="bad.json: not a label-noise manifest"):
        label_noise(tmp_path / "bad.json")


def test_label_issue_hits_marks_truth_and_precision_at_k():
    issues = pd.DataFrame({"image": ["a", "b", "c", "d"], "score": [0.9, 0.8, 0.7, 0.6]})
    noise = pd.DataFrame({"image": ["a", "c", "z"], "split": "val",
                          "kind": ["box_missing", "class_swapped", "box_shifted"]})
    out = label_issue_hits(issues, noise)
    assert out["true_kind"].tolist() == ["box_missing", "", "class_swapped", ""]
    assert out["precision_at_k"].tolist() == [1.0, 0.5, pytest.approx(2 / 3), 0.5]
    assert "true_kind" not in issues


def test_augmentation_summary_by_type_in_first_seen_order():
    analysis = pd.DataFrame({
        "image": ["x", "x", "y", "y"], "original_loss": [1.0, 1.0, 3.0, 3.0],
        "augmented_loss": [2.0, 1.0, 2.0, 5.0], "type": ["rotate", "flip", "rotate", "flip"]})
    s = augmentation_summary(analysis)
    assert s.index.tolist() == ["rotate", "flip"]
    assert s.loc["rotate"].tolist() == [2, 2.0, 2.0, 0.0, 1, 1]
    assert s.loc["flip"].tolist() == [2, 2.0, 3.0, 1.0, 1, 0]


@pytest.fixture
def folders(tmp_path) -> Path:
    root = tmp_path / "folders"
    for folder, names in (("positive", ["a", "b", "c"]), ("background", ["d", "e", "f"])):
        (root / folder).mkdir(parents=True)
        for n in names:
            cv2.imwrite(str(root / folder / f"{n}.jpg"), np.zeros((8, 8, 3), np.uint8))
    (root / "manifest.json").write_text(json.dumps({"misfiled": [
        {"image": "b.jpg", "folder": "positive"}, {"image": "e.jpg", "folder": "background"}]}))
    return root


def test_move_plan_lists_only_moves_relative_fp_first(folders):
    layout = folder_layout(folders)
    names = [p.name for p in layout.images]            # a..f sorted by path: background first
    scores = np.array([0.1 if n in "de" else 0.9 if n == "f" else 0.2 if n == "b" else 0.8
                       for n in (x[0] for x in names)])
    frame = classify_images(layout, scores, 0.5)
    plan = move_plan(frame, folders)
    assert plan.values.tolist() == [["FP", "background/f.jpg", "positive/f.jpg", 0.9],
                                    ["FN", "positive/b.jpg", "background/b.jpg", 0.2]]


def test_cleaning_sweep_matches_classify_and_misfiled_scores(folders):
    layout = folder_layout(folders)
    scores = np.linspace(0.1, 0.9, len(layout.images))
    sweep = cleaning_sweep(layout, scores, [0.3, 0.6], folders / "manifest.json")
    for row in sweep.itertuples():
        frame = classify_images(layout, scores, row.conf)
        counts = frame["outcome"].value_counts()
        assert (row.TP, row.FN) == (counts.get("TP", 0), counts.get("FN", 0))
        s = misfiled_scores(frame, folders / "manifest.json")
        assert (row.move_precision, row.move_recall) == (s["precision"], s["recall"])
    assert list(cleaning_sweep(layout, scores, [0.5]).columns) == ["conf", "TP", "TN", "FP",
                                                                   "FN"]


def test_pick_examples_caps_each_outcome_in_fixed_order():
    frame = pd.DataFrame({"name": list("abcdefg"),
                          "outcome": ["FN", "TP", "TP", "TP", "TN", "FN", "TP"]})
    picked = pick_examples(frame, 2, seed=3)
    assert picked["outcome"].tolist() == ["TP", "TP", "TN", "FN", "FN"]
    assert picked.equals(pick_examples(frame, 2, seed=3))
    assert set(picked["name"][:2]) <= {"b", "c", "d", "g"}
    with pytest.raises(ValueError, match="at least 1"):
        pick_examples(frame, 0)


def test_sample_layout_is_a_seeded_sorted_subset(folders):
    layout = folder_layout(folders)
    small = sample_layout(layout, 4, seed=2)
    assert len(small.images) == 4 and list(small.images) == sorted(small.images)
    assert set(small.images) <= set(layout.images) and small.positive == layout.positive
    assert sample_layout(layout, None) is layout and sample_layout(layout, 99) is layout
    with pytest.raises(ValueError):
        sample_layout(layout, 0)


# -- UDP demo ---------------------------------------------------------------------------
def _receivers() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "tecktrack-stream-receiver"]


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    return load_model(build_detector(tmp_path_factory.mktemp("model") / "tiny"))


@pytest.mark.timeout(60)
def test_stream_video_runs_the_service_and_ends_it(tiny_model, tmp_path):
    video = write_video(tmp_path / "clip.mp4", 20, width=96, height=64)
    service = InferenceService(tiny_model, timeout=0.5, runs_dir=tmp_path / "runs", quiet=True)
    run = stream_video(service, video, fps=100, max_frames=15)
    assert run.sent == 15 and run.url.startswith("udp://127.0.0.1:")
    assert run.result.metrics["total_frames"] == 15
    assert run.result.metrics["end_reason"] == "stalled"
    table = frame_table(run.result)
    assert table["frame"].tolist() == list(range(15))
    assert table["detections"].sum() == run.result.metrics["total_detections"]
    assert (table["latency_ms"] > 0).all()
    assert not _receivers()


@pytest.mark.timeout(60)
def test_stream_video_stops_everything_when_the_sender_fails(tiny_model, tmp_path):
    for i in range(3):                                   # H.264 refuses odd frame sizes
        cv2.imwrite(str(tmp_path / f"{i:06d}.png"), np.zeros((47, 63, 3), np.uint8))
    service = InferenceService(tiny_model, timeout=0.5, runs_dir=tmp_path / "runs", quiet=True)
    with pytest.raises(StreamError, match="even frame sizes"):
        stream_video(service, tmp_path / "%06d.png", fps=50)
    assert not _receivers()
    with pytest.raises(StreamError, match="cannot open video"):
        stream_video(service, tmp_path / "missing.mp4")
    assert not _receivers()
    runs = sorted((tmp_path / "runs").iterdir())
    assert len(runs) == 2 and all(json.loads((r / "metrics.json").read_text())["total_frames"]
                                  == 0 for r in runs)
