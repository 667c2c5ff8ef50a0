"""VideoPreprocessor over folders and files; drop_rate semantics; source validation."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from inference_support import colour_frame, write_folder, write_video

from tecktrack.errors import StreamError
from tecktrack.inference.capture import VideoPreprocessor, describe_source
from tecktrack.inference.udp_url import parse_udp_url


@pytest.fixture(scope="module")
def video(tmp_path_factory):
    return write_video(tmp_path_factory.mktemp("video") / "clip.mp4", 23)


@pytest.mark.parametrize("drop_rate", [1, 2, 5, 23, 40])
def test_file_keeps_every_nth_frame_with_its_source_index(video, drop_rate):
    pre = VideoPreprocessor()
    indices = [i for i, _ in pre.capture_video(video, drop_rate)]
    assert indices == list(range(0, 23, drop_rate))
    assert pre.stats.frames_read == 23
    assert pre.stats.frames_dropped_by_rate == 23 - len(indices)
    assert pre.stats.end_reason == "end"


def test_file_frames_are_the_source_frames(video):
    frames = dict(VideoPreprocessor().capture_video(video, 3))
    for index, frame in frames.items():
        assert frame.dtype == np.uint8 and frame.shape == (64, 96, 3)
        expected_red = colour_frame(index)[..., 2].astype(int)
        # mp4v is lossy: compare the flat background's red level away from the counter text
        assert abs(int(np.median(frame[:20, :, 2])) - int(expected_red[0, 0])) <= 8


def test_folder_is_sorted_by_name_and_skips_non_images(tmp_path):
    folder = write_folder(tmp_path / "imgs", 6)
    (folder / "notes.txt").write_text("not an image")
    pre = VideoPreprocessor()
    got = list(pre.capture_video(folder, 2))
    assert [i for i, _ in got] == [0, 2, 4]
    assert np.array_equal(got[1][1], colour_frame(2))  # PNG is lossless
    assert (pre.stats.frames_read, pre.stats.frames_dropped_by_rate) == (6, 3)


def test_unreadable_image_names_the_file(tmp_path):
    folder = write_folder(tmp_path / "imgs", 2)
    (folder / "000001.png").write_bytes(b"not a png")
    capture = VideoPreprocessor()
    frames = list(capture.capture_video(folder))      # #21: skipped, counted and named
    assert [index for index, _ in frames] == [0]
    assert len(capture.stats.unreadable) == 1
    assert "000001.png: not an image" in capture.stats.unreadable[0]


def test_empty_folder_and_missing_file_are_errors(tmp_path):
    with pytest.raises(StreamError, match="no images in folder"):
        list(VideoPreprocessor().capture_video(tmp_path))
    with pytest.raises(StreamError, match="no such video file"):
        list(VideoPreprocessor().capture_video(tmp_path / "missing.mp4"))


def test_a_file_that_is_not_a_video_is_an_error(tmp_path):
    bogus = tmp_path / "bogus.mp4"
    bogus.write_bytes(b"\x00" * 64)
    with pytest.raises(StreamError, match="cannot open video source"):
        list(VideoPreprocessor().capture_video(bogus))


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "2"])
def test_drop_rate_must_be_a_positive_integer(video, bad):
    with pytest.raises(StreamError, match="drop_rate must be an integer >= 1"):
        VideoPreprocessor().capture_video(video, bad)


def test_closing_early_releases_and_says_stopped(video):
    pre = VideoPreprocessor()
    frames = pre.capture_video(video)
    next(frames)
    frames.close()
    assert pre.stats.end_reason == "stopped"
    assert pre.stats.frames_read == 1


def test_source_kinds(tmp_path, video):
    assert describe_source(video) == "file"
    assert describe_source(tmp_path) == "folder"
    assert describe_source(3) == "camera"
    assert describe_source("udp://127.0.0.1:9") == "udp"
    for url in ("http://example.com/a.mp4", "rtsp://cam/1", "file:///etc/passwd"):
        with pytest.raises(StreamError, match="only udp:// URLs"):
            describe_source(url)


def test_missing_camera_is_a_clear_error():
    # index 99 exists on no test machine; OpenCV fails to open it
    with pytest.raises(StreamError, match="camera 99: cannot open video source"):
        list(VideoPreprocessor().capture_video(99))


@pytest.mark.parametrize("url,message", [
    ("udp://127.0.0.1", "needs a host and a port"),
    ("udp://:5000", "needs a host and a port"),
    ("udp://127.0.0.1:70000", "bad port"),
    ("udp://127.0.0.1:5000/path", "without path"),
    ("udp://127.0.0.1:5000?fifo_size=1", "without path, query"),
    ("tcp://127.0.0.1:5000", "scheme 'tcp'"),
])
def test_bad_udp_urls(url, message):
    with pytest.raises(StreamError, match=message):
        parse_udp_url(url)


def test_timeout_must_be_positive():
    with pytest.raises(StreamError, match="timeout must be > 0"):
        VideoPreprocessor(timeout=0)


def test_inputs_are_not_modified(tmp_path):
    folder = write_folder(tmp_path / "imgs", 3)
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    for _, frame in VideoPreprocessor().capture_video(folder):
        frame[:] = 0  # consumers may scribble on frames; files must stay as they were
    assert before == {p.name: p.read_bytes() for p in folder.iterdir()}
    assert cv2.imread(str(folder / "000002.png")).any()


def test_folder_source_is_searched_recursively_like_every_image_folder(tmp_path):
    from tecktrack.datasets import list_images

    (tmp_path / "sub").mkdir()
    for name, value in (("a.png", 10), ("sub/b.PNG", 20), ("c.jpg", 30)):
        cv2.imwrite(str(tmp_path / name), np.full((8, 8, 3), value, np.uint8))
    frames = list(VideoPreprocessor().capture_video(str(tmp_path)))
    assert [i for i, _ in frames] == [0, 1, 2]
    assert [int(f[0, 0, 0]) for _, f in frames] == [10, 30, 20]  # a.png, c.jpg, sub/b.PNG
    assert len(frames) == len(list_images(tmp_path))


@pytest.mark.parametrize("url", ["udp://127.0.0.1:5000", "udp://localhost:6000",
                                 "udp://[::1]:5000", "udp://[fe80::1]:1234"])
def test_udp_urls_round_trip_through_their_canonical_form(url):
    address = parse_udp_url(url)
    assert address.url == url and parse_udp_url(address.url) == address


def test_a_receiver_whose_bind_fails_raises_once_and_closes_quietly():
    import socket

    from tecktrack.inference.udp_receiver import DatagramFile
    from tecktrack.inference.udp_url import UdpAddress

    holder = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    holder.bind(("127.0.0.1", 0))
    receiver = DatagramFile.__new__(DatagramFile)
    try:
        with pytest.raises(StreamError, match="cannot listen on the UDP port"):
            receiver.__init__(UdpAddress("127.0.0.1", holder.getsockname()[1]), timeout=0.1)
    finally:
        holder.close()
    receiver.close()   # what io's finaliser and a with-block do; it raised AttributeError
    assert receiver.closed
