"""The synthetic video and the default world."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from tecktrack.cli import main
from tecktrack.datasets.yolo import read_yolo_labels
from tecktrack.detections import box_iou
from tecktrack.errors import DatasetError
from tecktrack.synth import CLASS_NAMES, ensure_default_world, generate_video
from tecktrack.synth import world as world_module

W, H = 192, 128


@pytest.fixture(scope="module")
def video(tmp_path_factory) -> Path:
    return generate_video(tmp_path_factory.mktemp("video") / "clip.mp4", frames=40, fps=10,
                          seed=1, size=(W, H), quiet=True)


def read_frames(path: Path) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(frame)
    cap.release()
    return frames


def test_frame_count_size_and_label_count(video):
    frames = read_frames(video)
    assert len(frames) == 40 and frames[0].shape == (H, W, 3)
    labels = sorted((video.parent / "labels").iterdir())
    assert [p.name for p in labels] == [f"{i:06d}.txt" for i in range(40)]
    meta = json.loads(video.with_suffix(".json").read_text())
    assert meta["frames"] == 40 and meta["fps"] == 10 and meta["names"] == CLASS_NAMES
    assert cv2.VideoCapture(str(video)).get(cv2.CAP_PROP_FPS) == pytest.approx(10)


def labels_of(video: Path) -> list:
    return [read_yolo_labels(p, W, H, n_classes=len(CLASS_NAMES))
            for p in sorted((video.parent / "labels").iterdir())]


def test_labels_track_moving_objects(video):
    labels = labels_of(video)
    assert all(len(d) for d in labels)
    assert not np.allclose(labels[0].xyxy[:2], labels[-1].xyxy[:2])
    matched = total = 0
    for a, b in zip(labels, labels[1:], strict=False):
        iou = box_iou(a.xyxy, b.xyxy) * (a.class_ids[:, None] == b.class_ids[None, :])
        matched += int((iou.max(axis=1) > 0.5).sum()) if len(b) else 0
        total += len(a)
    assert matched >= 0.9 * total  # boxes move a few pixels per frame, keeping their class


def test_everything_that_moves_is_inside_a_label(video):
    frames, labels = read_frames(video), labels_of(video)
    for t in range(0, 39, 6):
        inside = np.zeros((H, W), bool)
        for d in (labels[t], labels[t + 1]):
            for x1, y1, x2, y2 in np.round(d.xyxy).astype(int):
                inside[max(y1 - 1, 0):y2 + 1, max(x1 - 1, 0):x2 + 1] = True
        changed = np.abs(frames[t + 1].astype(int) - frames[t].astype(int)).max(axis=2) > 20
        assert changed.sum() > 0.005 * changed.size  # motion between consecutive frames
        assert changed[~inside].sum() < 0.05 * changed.sum()  # and it happens in the boxes


def test_video_is_deterministic(video, tmp_path):
    again = generate_video(tmp_path / "clip.mp4", frames=40, fps=10, seed=1, size=(W, H),
                           quiet=True)
    assert again.read_bytes() == video.read_bytes()
    for p in (video.parent / "labels").iterdir():
        assert p.read_bytes() == (tmp_path / "labels" / p.name).read_bytes()


def test_video_refuses_existing_outputs_and_bad_names(video, tmp_path, capsys):
    with pytest.raises(DatasetError, match="already exists"):
        generate_video(video, frames=2, size=(W, H), quiet=True)
    assert main(["synth", "video", str(tmp_path / "v.avi"), "--frames", "2"]) == 2
    assert ".mp4" in capsys.readouterr().err
    assert main(["synth", "video", str(tmp_path / "v.mp4"), "--frames", "3", "--width", "96",
                 "--height", "64", "--quiet"]) == 0
    assert len(read_frames(tmp_path / "v.mp4")) == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["gt.txt", "labels", "v.json", "v.mp4"]


@pytest.fixture
def tiny_world(monkeypatch):
    small = {
        "dataset": {"folder": "synth", "meta": "synth.json",
                    "params": {"n_images": 5, "seed": 0, "size": 96, "label_noise": 0.0}},
        "noisy": {"folder": "synth-noisy", "meta": "synth.json",
                  "params": {"n_images": 5, "seed": 1, "size": 96, "label_noise": 0.2}},
        "folders": {"folder": "synth-folders", "meta": "manifest.json",
                    "params": {"n_images": 4, "seed": 0, "size": 96, "contamination": 0.25}},
        "video": {"folder": "synth-video", "meta": "video.json",
                  "params": {"frames": 3, "fps": 25, "seed": 0, "size": (96, 64)}},
    }
    monkeypatch.setattr(world_module, "DEFAULT_WORLD", small)
    return small


def test_default_world_created_then_reused_then_refreshed(tiny_world, tmp_path):
    world = ensure_default_world(tmp_path, quiet=True)
    assert world == {"dataset": tmp_path / "synth" / "data.yaml",
                     "noisy": tmp_path / "synth-noisy" / "data.yaml",
                     "folders": tmp_path / "synth-folders",
                     "video": tmp_path / "synth-video" / "video.mp4"}
    assert all(p.exists() for p in world.values())
    assert (tmp_path / "synth-noisy" / "label_noise.json").is_file()
    stamp = world["dataset"].stat().st_mtime_ns
    assert ensure_default_world(tmp_path, quiet=True) == world
    assert world["dataset"].stat().st_mtime_ns == stamp  # reused, not rewritten
    meta = tmp_path / "synth" / "synth.json"
    meta.write_text(meta.read_text().replace('"version": ', '"version": -'))
    ensure_default_world(tmp_path, quiet=True)  # an older version of ours is regenerated
    assert '"version": -' not in meta.read_text()


def test_default_world_never_touches_foreign_folders(tiny_world, tmp_path):
    foreign = tmp_path / "synth" / "mine.txt"
    foreign.parent.mkdir()
    foreign.write_text("user data")
    with pytest.raises(DatasetError, match="not made by tecktrack synth"):
        ensure_default_world(tmp_path, quiet=True)
    assert foreign.read_text() == "user data"


def test_gt_txt_holds_the_label_boxes_with_persistent_ids(video):
    from tecktrack.datasets.mot import read_mot

    gt = read_mot(video.parent / "gt.txt")
    meta = json.loads(video.with_suffix(".json").read_text())
    assert meta["gt"] == "gt.txt"
    for t in range(meta["frames"]):
        labels = read_yolo_labels(video.parent / "labels" / f"{t:06d}.txt", W, H)
        rows = gt[gt.frames == t + 1]
        assert len(rows) == len(labels)
        # same boxes (up to YOLO's 6-decimal rounding) and same classes, as sets
        order = np.lexsort(np.round(rows.xyxy, 2).T[::-1])
        lab = np.lexsort(np.round(labels.xyxy.astype(np.float64), 2).T[::-1])
        np.testing.assert_allclose(rows.xyxy[order], labels.xyxy[lab], atol=1e-3)
        assert rows.classes[order].tolist() == labels.class_ids[lab].tolist()
        assert np.all((rows.visibility >= 0.3) & (rows.visibility <= 1))
    ids = np.unique(gt.ids)
    for i in ids:                 # one class per id; a fully visible object moves <= 5 px
        mine = gt[gt.ids == i]
        assert len(set(mine.classes.tolist())) == 1
        full = mine[mine.visibility == 1.0]
        step = np.diff(full.frames) == 1
        centre = full.xywh[:, :2] + full.xywh[:, 2:] / 2
        moved = np.abs(np.diff(centre, axis=0))[step]
        same_size = np.all(np.diff(full.xywh[:, 2:], axis=0)[step] == 0, axis=1)
        assert np.all(moved[same_size] <= 5.0)
    first, last = ({i: f(gt.frames[gt.ids == i]) for i in ids} for f in (np.min, np.max))
    assert any(v > 1 for v in first.values())                # someone enters later
    assert any(v < meta["frames"] for v in last.values())    # someone leaves (or is hidden)


def test_gt_ids_cross_and_occlude(tmp_path):
    from tecktrack.datasets.mot import read_mot

    video = generate_video(tmp_path / "v.mp4", frames=100, fps=10, seed=1, size=(W, H),
                           quiet=True)
    gt = read_mot(video.parent / "gt.txt")
    overlapping = [f for f in np.unique(gt.frames)
                   if (lambda b: (box_iou(b, b) > 0).sum() > len(b))(gt[gt.frames == f].xyxy)]
    assert overlapping                                       # boxes of two ids overlap
    assert np.any(gt.visibility < 1.0)                       # someone is partly hidden
