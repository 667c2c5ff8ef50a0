"""One policy for an unreadable image in predict, dataset stats, evaluate and infer (#21):
skip it, count it, name the file, exit 1 at the end; libjpeg's own stderr message is caught
(it used to land on the progress bar's line)."""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path

import cv2
import numpy as np
import pytest
from inference_support import demo_or_tiny_model

from tecktrack.cli import main
from tecktrack.datasets.images import ImageWarning, decode_image, read_image
from tecktrack.errors import FormatError

pytestmark = pytest.mark.timeout(180)


def _jpeg_bytes() -> bytes:
    rng = np.random.default_rng(0)
    ok, buf = cv2.imencode(".jpg", rng.integers(0, 255, (48, 64, 3), dtype=np.uint8))
    assert ok
    return buf.tobytes()


@pytest.fixture()
def folder(tmp_path: Path) -> Path:
    """Three good images and one JPEG cut after its first 200 bytes (libjpeg complains)."""
    root = tmp_path / "ds"
    (root / "images/val").mkdir(parents=True)
    (root / "labels/val").mkdir(parents=True)
    for stem in ("a", "b", "d"):
        cv2.imwrite(str(root / f"images/val/{stem}.jpg"), np.full((48, 64, 3), 90, np.uint8))
        (root / f"labels/val/{stem}.txt").write_text("0 0.5 0.5 0.5 0.5\n")
    (root / "images/val/c.jpg").write_bytes(_jpeg_bytes()[:200])
    (root / "labels/val/c.txt").write_text("0 0.5 0.5 0.5 0.5\n")
    (root / "data.yaml").write_text("path: .\ntrain: images/val\nval: images/val\n"
                                    "names: [thing]\n")
    return root


def test_decoder_messages_are_caught_not_printed(folder: Path, capfd) -> None:
    image, said = decode_image(folder / "images/val/c.jpg")
    assert image is None and "Premature end of JPEG file" in said
    with pytest.raises(FormatError, match="c.jpg: not an image .*Premature end of JPEG"):
        read_image(folder / "images/val/c.jpg")
    assert "Premature" not in capfd.readouterr().err


def test_each_decode_says_only_its_own_messages(folder: Path) -> None:
    """The sink is kept from call to call (one per process): what one image made libjpeg
    say is gone before the next image is decoded."""
    bad, good = folder / "images/val/c.jpg", folder / "images/val/a.jpg"
    said = [decode_image(path)[1] for path in (bad, bad, good, bad)]
    assert said[0] and said[1] == said[3] == said[0]
    assert said[0].count("Premature end of JPEG file") == 1
    assert said[2] == ""


def test_a_forked_child_catches_its_own_messages(folder: Path) -> None:
    """A child forked after the parent made its sink makes its own file (sharing the
    parent's, the two would write at one shared offset and empty each other's messages)."""
    import multiprocessing

    bad, good = folder / "images/val/c.jpg", folder / "images/val/a.jpg"
    assert decode_image(bad)[1]  # the parent's sink exists now
    with multiprocessing.get_context("fork").Pool(1) as pool:
        said, child_file = pool.apply(_said_and_sink, (str(bad),))
    assert said.count("Premature end of JPEG file") == 1
    assert child_file != _said_and_sink(str(good))[1]
    assert decode_image(good)[1] == ""


def _said_and_sink(path: str) -> tuple[str, tuple[int, int]]:
    """What decoding ``path`` said, and (device, inode) of the file that caught it."""
    from tecktrack.datasets import images

    said = decode_image(path)[1]
    info = os.fstat(images._SINK[1])
    return said, (info.st_dev, info.st_ino)


def test_a_partly_decodable_jpeg_warns(tmp_path: Path, capfd) -> None:
    data = _jpeg_bytes()
    path = tmp_path / "half.jpg"
    path.write_bytes(data[:len(data) // 2])
    with pytest.warns(ImageWarning, match="half.jpg: the decoder said"):
        assert read_image(path).shape == (48, 64, 3)
    assert "Premature" not in capfd.readouterr().err


def test_dataset_stats_skips_counts_and_exits_1(folder: Path, capfd) -> None:
    out = folder / "stats.json"
    assert main(["dataset", "stats", str(folder / "data.yaml"), "--split", "val", "--json",
                 str(out), "--quiet"]) == 1
    data = json.loads(out.read_text())
    assert data["images"] == 3 and data["unreadable_images"] == 1
    assert "c.jpg" in data["unreadable_examples"][0]
    err = capfd.readouterr().err
    assert "skipped 1 unreadable images" in err and "c.jpg" in err


def test_evaluate_skips_counts_and_exits_1(folder: Path, tmp_path: Path, capfd) -> None:
    pred = tmp_path / "pred"
    pred.mkdir()
    for stem in ("a", "b", "c"):
        (pred / f"{stem}.txt").write_text("0 0.5 0.5 0.5 0.5 0.9\n")
    assert main(["evaluate", "--gt", str(folder / "data.yaml"), "--pred", str(pred),
                 "--quiet"]) == 1
    captured = capfd.readouterr()
    assert "1 unreadable image(s) left out of the evaluation" in captured.out
    assert "skipped: " in captured.out and "c.jpg" in captured.out
    assert "Premature" not in captured.err


def test_predict_and_infer_skip_count_and_exit_1(folder: Path, repo_root: Path,
                                                 tmp_path: Path, capfd) -> None:
    model = demo_or_tiny_model(repo_root, tmp_path)
    images = folder / "images/val"
    assert main(["predict", "--source", str(images), "--model", str(model), "--out",
                 str(tmp_path / "pred"), "--quiet"]) == 1
    out = capfd.readouterr()
    assert "skipped: " in out.out and "c.jpg" in out.out
    assert "Premature" not in out.err
    assert main(["infer", str(images), "--model", str(model), "--runs-dir",
                 str(tmp_path / "runs"), "--quiet"]) == 1
    out = capfd.readouterr()
    printed = json.loads(out.out[:out.out.rindex("}") + 1])
    assert printed["metrics"]["total_frames"] == 3
    assert "c.jpg" in printed["metrics"]["unreadable_images"][0]
    assert "skipped: " in out.out
    assert "Premature" not in out.err
    run_dir = Path(printed["run_dir"])
    assert (run_dir / "metrics.json").is_file() and len(list((run_dir / "labels").iterdir())) == 3


def test_clean_images_do_not_warn(folder: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert read_image(folder / "images/val/a.jpg").shape == (48, 64, 3)


def _png_claiming(width: int, height: int) -> bytes:
    """A 1 KB PNG whose header claims ``width x height`` pixels (a decompression bomb)."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2,
                                                             0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\0" * 1000)) + chunk(b"IEND", b""))


def test_an_image_claiming_too_many_pixels_is_unreadable_not_a_crash(folder: Path,
                                                                     repo_root: Path,
                                                                     tmp_path: Path,
                                                                     capfd) -> None:
    """OpenCV raises (rather than returning None) for a header past CV_IO_MAX_IMAGE_PIXELS:
    the image is skipped and named like any other unreadable one (it escaped as a cv2.error
    traceback from ``infer`` and a 500 from the API)."""
    bomb = folder / "images/val/e.png"
    bomb.write_bytes(_png_claiming(100_000, 100_000))
    image, said = decode_image(bomb)
    assert image is None and "claims more pixels than OpenCV decodes" in said
    assert "/" not in said  # OpenCV's own source paths stay out of the message
    with pytest.raises(FormatError, match="e.png: not an image .*claims more pixels"):
        read_image(bomb)
    (folder / "images/val/c.jpg").unlink()
    model = demo_or_tiny_model(repo_root, tmp_path)
    assert main(["infer", str(folder / "images/val"), "--model", str(model), "--runs-dir",
                 str(tmp_path / "runs"), "--quiet"]) == 1
    out = capfd.readouterr()
    printed = json.loads(out.out[:out.out.rindex("}") + 1])
    assert printed["metrics"]["total_frames"] == 3
    assert "e.png" in printed["metrics"]["unreadable_images"][0]
    assert "Traceback" not in out.err and "cv2.error" not in out.err


def test_a_single_file_that_yields_no_frame_is_an_error(tmp_path: Path) -> None:
    """FFmpeg opens a text file named .png, then reads nothing: the run is refused as for any
    file that is not a readable video (it ended as an empty run, ``end_reason: end``)."""
    from tecktrack.errors import StreamError
    from tecktrack.inference.capture import VideoPreprocessor

    for name, data in (("text.png", b"not an image at all\n" * 20),
                       ("bomb.png", _png_claiming(100_000, 100_000))):
        path = tmp_path / name
        path.write_bytes(data)
        with pytest.raises(StreamError, match="no frame could be read"):
            list(VideoPreprocessor(timeout=1.0).capture_video(str(path)))
