"""Tracking in the inference pipeline: tracks.txt, metrics, config, drop_rate, CLI, drawing."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tecktrack.cli import main
from tecktrack.datasets.mot import read_mot
from tecktrack.detections import Detections, xywh_to_xyxy
from tecktrack.draw import draw_detections
from tecktrack.errors import FormatError
from tecktrack.inference import InferenceService
from tecktrack.metrics.mot import evaluate_tracks
from tecktrack.synth import generate_video


class GroundTruthDetector:
    """A stand-in model whose detections are the video's gt.txt boxes (frame by frame)."""

    names = ["a", "b", "c", "d", "e", "f", "g", "h"]

    def __init__(self, gt_path: Path):
        self.gt = read_mot(gt_path)
        self.calls = 0

    def preprocess(self, frame):
        index = self.calls              # the reader thread calls this once per frame, in order
        self.calls += 1
        return None, index

    def forward(self, blob):
        return []

    def post_process(self, outputs, index):
        return index

    def nms(self, index):
        rows = self.gt[self.gt.frames == self._frame_number(index)]
        return Detections(xywh_to_xyxy(rows.xywh), rows.classes, np.full(len(rows), 0.9))

    def decode_batch(self, outputs, infos, conf=None):   # the pipeline's post-processing stages
        return list(infos)

    def suppress(self, index, info):
        return self.nms(index)

    drop_rate = 1

    def _frame_number(self, index: int) -> int:
        return index * self.drop_rate + 1      # the kept frames' positions in the source


@pytest.fixture(scope="module")
def video(tmp_path_factory) -> Path:
    return generate_video(tmp_path_factory.mktemp("v") / "clip.mp4", frames=60, fps=20,
                          seed=4, size=(256, 160), quiet=True)


def _run(video: Path, tmp_path: Path, drop_rate: int = 1, **kwargs):
    model = GroundTruthDetector(video.parent / "gt.txt")
    model.drop_rate = drop_rate
    service = InferenceService(model, runs_dir=tmp_path / "runs", drop_rate=drop_rate,
                               quiet=True, **kwargs)
    return service.run_inference(video)


def test_tracked_run_writes_tracks_txt_that_scores_near_perfect(video, tmp_path):
    result = _run(video, tmp_path, track=True, save_frames=True)
    tracks = read_mot(result.run_dir / "tracks.txt")
    gt = read_mot(video.parent / "gt.txt")
    assert tracks.frames.min() == 1 and tracks.num_frames == 60
    summary = evaluate_tracks(gt, tracks)
    assert summary["IDF1"] > 0.9 and summary["MOTA"] > 0.9, summary
    m = result.metrics
    assert m["tracks_started"] >= len(np.unique(gt.ids)) - 1
    assert m["active_tracks"] >= 1 and m["tracked_boxes"] == len(tracks)
    assert m["tracks_ended"] >= 0 and m["track_ms"] > 0
    config = json.loads((result.run_dir / "config.json").read_text())
    assert config["tracker"]["tracker_type"] == "bytetrack"
    assert config["tracker"]["frame_rate"] == 20.0            # from the video file
    assert all(r.detections.tracker_ids is not None for r in result.frames)
    assert len(list((result.run_dir / "frames").glob("*.jpg"))) == 60


def test_drop_rate_keeps_source_frame_numbers(video, tmp_path):
    result = _run(video, tmp_path, drop_rate=3, track=True)
    tracks = read_mot(result.run_dir / "tracks.txt")
    assert set(np.unique(tracks.frames) % 3) == {1}         # indices 0, 3, 6, ... + 1
    gt = read_mot(video.parent / "gt.txt")
    kept = gt[(gt.frames - 1) % 3 == 0]
    assert evaluate_tracks(kept, tracks)["IDF1"] > 0.85


def test_untracked_runs_are_unchanged(video, tmp_path):
    result = _run(video, tmp_path)
    assert not (result.run_dir / "tracks.txt").exists()
    assert "tracks_started" not in result.metrics
    assert "tracker" not in json.loads((result.run_dir / "config.json").read_text())
    assert all(r.detections.tracker_ids is None for r in result.frames)


def test_bad_tracker_yaml_fails_before_a_run_folder(video, tmp_path):
    bad = tmp_path / "t.yaml"
    bad.write_text("track_bufer: 3\n")
    with pytest.raises(FormatError, match="track_bufer"):
        _run(video, tmp_path, track=bad)
    assert not (tmp_path / "runs").exists()


def test_track_and_infer_track_cli(video, tmp_path, capsys, monkeypatch):
    import tecktrack.model as model_module

    monkeypatch.setattr(model_module, "load_model",
                        lambda *a, **k: GroundTruthDetector(video.parent / "gt.txt"))
    yaml = tmp_path / "bt.yaml"
    yaml.write_text("tracker_type: bytetrack\ntrack_buffer: 10\n")
    assert main(["track", str(video), "--model", "x", "--runs-dir", str(tmp_path / "a"),
                 "--tracker", str(yaml), "--quiet"]) == 0
    out = json.loads(capsys.readouterr().out)
    run = Path(out["run_dir"])
    assert (run / "tracks.txt").is_file() and out["metrics"]["tracks_started"] > 0
    assert json.loads((run / "config.json").read_text())["tracker"]["track_buffer"] == 10
    assert main(["infer", str(video), "--model", "x", "--runs-dir", str(tmp_path / "b"),
                 "--track", "--quiet"]) == 0
    assert (Path(json.loads(capsys.readouterr().out)["run_dir"]) / "tracks.txt").is_file()
    yaml.write_text("tracker_type: deepsort\n")
    assert main(["track", str(video), "--model", "x", "--tracker", str(yaml)]) == 2
    assert "bt.yaml: tracker_type 'deepsort' is not supported" in capsys.readouterr().err


def test_tracked_boxes_are_drawn_with_ids_and_trails():
    img = np.zeros((80, 120, 3), np.uint8)
    plain = Detections([[10, 10, 50, 50], [60, 10, 90, 40]], [0, 1], [0.9, 0.2])
    tracked = Detections(plain.xyxy, plain.class_ids, plain.scores, tracker_ids=[7, -1])
    a = draw_detections(img, plain, ["x", "y"])
    b = draw_detections(img, tracked, ["x", "y"])
    assert not np.array_equal(a, b)
    assert not b[25:41, 85:91].any()                       # the untracked box is not drawn
    assert a[25:41, 85:91].any()
    c = draw_detections(img, tracked, ["x", "y"], trails={7: np.array([[20., 70], [40, 75]])})
    assert c[65:80].any() and not b[65:80].any()


def test_run_inference_api_tracks_when_asked(tmp_path, repo_root):
    import shutil

    from tecktrack.interface.api.app import ServiceConfig, create_app

    data, models = tmp_path / "data", tmp_path / "models"
    clip = generate_video(data / "v" / "clip.mp4", frames=12, fps=10, seed=1, size=(128, 96),
                          quiet=True)
    demo = repo_root / "models" / "demo-n"
    if (demo / "model.onnx").is_file():
        shutil.copytree(demo, models / "m")
    else:
        from inference_support import build_detector
        build_detector(models / "m")
    app = create_app(ServiceConfig((data,), models, runs_dir=tmp_path / "runs"))
    client = app.test_client()
    body = {"source": str(clip.relative_to(data)), "model": "m", "conf": 0.1}
    answer = client.post("/run_inference", json={**body, "track": True})
    assert answer.status_code == 200, answer.get_json()
    metrics = answer.get_json()["metrics"]
    assert {"active_tracks", "tracks_started", "tracks_ended"} <= set(metrics)
    runs = sorted((tmp_path / "runs").iterdir())
    assert (runs[-1] / "tracks.txt").is_file()
    plain = client.post("/run_inference", json=body).get_json()["metrics"]
    assert "tracks_started" not in plain
    refused = client.post("/run_inference", json={**body, "track": "yes"})
    assert refused.status_code == 400 and refused.get_json()["field"] == "track"
