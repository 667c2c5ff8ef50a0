"""``predict_images`` with the next image decoded while the last one is predicted: the same
files as one image after the other, decoding on the calling thread, errors that come out;
``tecktrack val`` the same way round (decoding on the helper): the same scores."""

from __future__ import annotations

import json
import shutil
import threading
from pathlib import Path

import numpy as np
import pytest

from tecktrack.cli import main
from tecktrack.datasets.images import ImageWarning
from tecktrack.inference import batch
from tecktrack.inference.batch import STAGES, predict_images, source_images
from tecktrack.model import load_model
from tecktrack.synth import generate_dataset

REPO = Path(__file__).resolve().parents[1]
#: What says how long a run took and how it was timed (everything else must be equal).
TIMING = ("mean_ms_per_image", "wall_ms_per_image", "overlap")


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    """Synthetic scenes in two sub-folders, one file that is not an image, one JPEG cut in
    half (it decodes, with libjpeg's complaint)."""
    tmp = tmp_path_factory.mktemp("overlap")
    data = generate_dataset(tmp / "ds", n_images=9, size=320, seed=5, quiet=True)
    rendered = sorted((data.parent / "images").rglob("*.jpg"))
    root = tmp / "images"
    for i, path in enumerate(rendered):
        (root / f"part{i % 2}").mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, root / f"part{i % 2}" / f"{i:02d}.jpg")
    (root / "part0" / "03.jpg").write_bytes(b"not a jpeg")
    whole = (root / "part1" / "05.jpg").read_bytes()
    (root / "part1" / "05.jpg").write_bytes(whole[:len(whole) // 2])
    return root


@pytest.fixture(scope="module")
def model():
    return load_model(REPO / "models" / "demo-n", threads=1)


def _tree(out: Path) -> dict[str, bytes]:
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*"))
            if p.is_file() and p.name != "summary.json"}


def _run(model, folder: Path, out: Path, overlap: bool) -> dict:
    with pytest.warns(ImageWarning, match="05.jpg"):
        return predict_images(model, *source_images(folder), out, save_images=True,
                              quiet=True, overlap=overlap)


def test_the_same_files_and_summary_as_one_image_after_the_other(model, folder, tmp_path):
    plain = _run(model, folder, tmp_path / "plain", overlap=False)
    overlapped = _run(model, folder, tmp_path / "overlapped", overlap=True)
    files = _tree(tmp_path / "plain")
    assert files == _tree(tmp_path / "overlapped")
    n_files = len(source_images(folder)[0])
    assert len([f for f in files if f.startswith("labels/")]) == n_files - 1  # not the bad one
    assert plain["detections"] > 0 and len(plain["unreadable"]) == 1
    assert "03.jpg" in plain["unreadable"][0]
    assert (plain["overlap"], overlapped["overlap"]) == (False, True)
    for summary in (plain, overlapped):
        assert set(summary["mean_ms_per_image"]) == {*STAGES, "total"}
        assert summary["mean_ms_per_image"]["forward"] > 0
        assert summary["mean_ms_per_image"]["read"] > 0
        assert summary["wall_ms_per_image"] > 0
    written = json.loads((tmp_path / "overlapped" / "summary.json").read_text())
    assert written == overlapped
    for summary in (plain, overlapped):
        for key in TIMING:
            summary.pop(key)
    assert plain == overlapped


def test_decoding_stays_on_the_calling_thread_and_predicting_moves(model, folder, tmp_path,
                                                                    monkeypatch):
    """Every image is decoded on the caller's thread (where the stderr capture cannot catch
    a progress bar); all but the last are predicted on the helper."""
    reads, predicts = [], []
    read_image, predict_one = batch.read_image, batch._predict_one

    def spy_read(path):
        reads.append(threading.get_ident())
        return read_image(path)

    def spy_predict(*args):
        predicts.append(threading.get_ident())
        return predict_one(*args)

    monkeypatch.setattr(batch, "read_image", spy_read)
    monkeypatch.setattr(batch, "_predict_one", spy_predict)
    _run(model, folder, tmp_path / "out", overlap=True)
    me = threading.get_ident()
    n_files = len(source_images(folder)[0])
    assert len(reads) == n_files and set(reads) == {me}
    assert len(predicts) == n_files - 1 and predicts[-1] == me
    assert me not in predicts[:-1] and len(set(predicts[:-1])) == 1


def test_an_error_while_predicting_comes_out_and_the_next_run_works(model, folder, tmp_path,
                                                                    monkeypatch):
    calls = []
    forward = model.forward

    def failing(blob):
        calls.append(threading.get_ident())
        if len(calls) == 3:
            raise RuntimeError("the network broke")
        return forward(blob)

    monkeypatch.setattr(model, "forward", failing)
    with pytest.raises(RuntimeError, match="the network broke"):  # before the cut JPEG
        predict_images(model, *source_images(folder), tmp_path / "a", quiet=True, overlap=True)
    assert calls[2] != threading.get_ident()   # it broke on the helper thread
    monkeypatch.setattr(model, "forward", forward)
    summary = _run(model, folder, tmp_path / "b", overlap=True)
    assert summary["images"] == len(source_images(folder)[0]) - 1


def test_the_cli_turns_it_off(folder, tmp_path, capsys):
    out = tmp_path / "cli"
    code = main(["predict", "--quiet", "--model", str(REPO / "models" / "demo-n"),
                 "--source", str(folder), "--out", str(out), "--no-overlap"])
    assert code == 1                                            # the unreadable image
    summary = json.loads((out / "summary.json").read_text())
    assert summary["overlap"] is False
    assert summary["images"] == len(source_images(folder)[0]) - 1
    printed = capsys.readouterr()
    assert "overlapped" not in printed.out and "05.jpg" in printed.err


def test_a_run_with_no_readable_image(model, tmp_path):
    root = tmp_path / "bad"
    root.mkdir()
    (root / "x.jpg").write_bytes(b"nope")
    summary = predict_images(model, *source_images(root), tmp_path / "out", quiet=True,
                             overlap=True)
    assert summary["images"] == 0 and len(summary["unreadable"]) == 1
    assert not np.isnan(summary["wall_ms_per_image"])


# -- tecktrack val ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def val_yaml(tmp_path_factory) -> Path:
    """A synthetic dataset whose val split is a list file: eight images, one listed twice,
    one that is not an image."""
    tmp = tmp_path_factory.mktemp("val")
    data = generate_dataset(tmp / "ds", n_images=12, size=320, seed=5, quiet=True)
    root = data.parent
    train = sorted((root / "images" / "train").glob("*.jpg"))
    broken = root / "images" / "extra" / "broken.jpg"  # outside the train folder
    broken.parent.mkdir()
    broken.write_bytes(b"not a jpeg")
    listed = [*train[:4], train[1], broken, *train[4:]]
    (root / "val.txt").write_text("".join(f"./{p.relative_to(root).as_posix()}\n"
                                          for p in listed))
    text = data.read_text().replace("val: images/val", "val: val.txt")
    (root / "listed.yaml").write_text(text)
    return root / "listed.yaml"


def test_val_gives_the_same_scores_with_and_without_the_overlap(model, val_yaml,
                                                                monkeypatch):
    from tecktrack.inference import validation

    reads = []
    imread = validation.imread_or_none

    def spy(path):
        reads.append((Path(path).name, threading.get_ident()))
        return imread(path)

    monkeypatch.setattr(validation, "imread_or_none", spy)
    results = {}
    for overlap in (False, True):
        monkeypatch.setattr(model, "overlap", overlap)
        reads.clear()
        results[overlap] = validation.validate(model, val_yaml, quiet=True)
        names = [name for name, _ in reads]
        assert len(names) == len(set(names)) == 9          # the twice-listed image once
        threads = {ident for _, ident in reads[1:]}
        assert (threading.get_ident() in threads) is not overlap  # read on the helper
    plain, overlapped = results[False], results[True]
    assert plain.summary == overlapped.summary and plain.summary["map50"] >= 0
    assert list(plain.preds) == list(overlapped.preds) and len(plain.preds) == 8
    assert sum(len(det) for det in plain.preds.values()) > 0
    for key, det in plain.preds.items():
        assert det.xyxy.tobytes() == overlapped.preds[key].xyxy.tobytes()
        assert det.scores.tobytes() == overlapped.preds[key].scores.tobytes()
    assert plain.skipped == overlapped.skipped and "broken.jpg" in plain.skipped[0]
    assert plain.background == overlapped.background


# -- the notebooks' predict_split -----------------------------------------------------------
def test_predict_split_gives_the_same_predictions_with_and_without_the_overlap(
        model, val_yaml, monkeypatch):
    from tecktrack.datasets import Dataset
    from tecktrack.lab import predictions
    from tecktrack.model import image_files

    dataset = Dataset.from_yaml(val_yaml)
    split = "train"                                 # image folders: every file an image
    reads, detects = [], []
    read_image, predict = image_files.read_image, model.predict

    def spy_read(path):
        reads.append(threading.get_ident())
        return read_image(path)

    def spy_predict(frame):
        detects.append(threading.get_ident())
        return predict(frame)

    monkeypatch.setattr(image_files, "read_image", spy_read)
    monkeypatch.setattr(model, "predict", spy_predict)
    runs = {}
    for overlap in (False, True):
        monkeypatch.setattr(model, "overlap", overlap)
        reads.clear()
        detects.clear()
        runs[overlap] = predictions.predict_split(model, dataset, split)
        me = threading.get_ident()
        assert set(reads) == {me}                    # decoding: always the calling thread
        assert (me in detects[:-1]) is not overlap   # predicting: the helper, when overlapped
    plain, overlapped = runs[False], runs[True]
    assert plain.sizes == overlapped.sizes and len(plain.sizes) == 8
    assert list(plain.preds) == list(overlapped.preds)
    for stem, det in plain.preds.items():
        assert det.xyxy.tobytes() == overlapped.preds[stem].xyxy.tobytes()
        assert det.scores.tobytes() == overlapped.preds[stem].scores.tobytes()


def test_detector_driven_cleaning_scores_the_same_either_way(model, val_yaml, monkeypatch):
    """``score_images`` (``tecktrack clean``) through the same file loop."""
    from tecktrack.cleaning.plan import score_images

    images = sorted((val_yaml.parent / "images" / "train").glob("*.jpg"))
    scores = {}
    for overlap in (False, True):
        monkeypatch.setattr(model, "overlap", overlap)
        scores[overlap] = score_images(model, images, quiet=True)
    assert scores[False].tobytes() == scores[True].tobytes()
    assert (scores[True] > 0).any() and len(scores[True]) == 8
