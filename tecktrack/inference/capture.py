"""Frames from a video file, an image folder, a camera or a ``udp://`` MPEG-TS stream.

:meth:`VideoPreprocessor.capture_video` yields ``(frame_index, frame)`` pairs, where
``frame_index`` is the 0-based position of the frame in its source and ``frame`` is a BGR
``uint8`` image of shape ``(height, width, 3)``.

``drop_rate`` N keeps one frame in N: the frames whose source index is a multiple of N
(0, N, 2N, ...), so a kept frame keeps its source index and its outputs line up with the
source. ``drop_rate=1`` keeps every frame. Dropped video frames are still decoded (inter-frame
codecs need them) but not colour-converted; dropped folder images are not read at all.

Files, folders and cameras are read with OpenCV (FFmpeg backend for files); UDP streams
with PyAV (see :mod:`tecktrack.inference.udp_receiver`), which ends the stream after ``timeout``
seconds without packets. ``decoder_threads`` sets the video decoder's threads for files and
UDP streams (default: FFmpeg's own choice, about one per core); the
:class:`~tecktrack.inference.InferenceService` asks for 1, so that decoding runs in its
reader thread, on the core the network leaves free, and frames leave the decoder as soon as
their packets are in (frame threading holds a few back; the same pixels either way).
:attr:`VideoPreprocessor.stats` counts what was read and dropped and says why the source
ended. :attr:`VideoPreprocessor.ready` is set once the source is open (a UDP port bound), and
:meth:`VideoPreprocessor.cancel` ends a UDP stream from another thread.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tecktrack.datasets.images import decode_image, list_images
from tecktrack.errors import StreamError

__all__ = ["UDP_COUNTERS", "CaptureStats", "VideoPreprocessor", "describe_source"]


@dataclass
class CaptureStats:
    """What one :meth:`VideoPreprocessor.capture_video` pass read.

    ``end_reason`` is ``"running"`` while frames flow, then ``"end"`` (source exhausted),
    ``"stalled"`` (UDP: no packets for ``timeout`` seconds) or ``"stopped"`` (the consumer
    closed the generator early). ``datagrams_rejected`` counts UDP datagrams that were not
    MPEG-TS and were dropped; ``datagrams_duplicated`` repeats dropped,
    ``datagrams_reordered`` datagrams put back in order, ``continuity_gaps`` holes left by
    lost datagrams (see :mod:`tecktrack.inference.ts_sequencer`), ``datagrams_overflowed``
    datagrams dropped because the receive queue was full (the network fell behind the
    sender by :data:`~tecktrack.inference.udp_receiver.FIFO_BYTES`). ``unreadable`` names the
    folder images that could not be decoded (skipped, one ``"path: why"`` each), as
    ``predict`` skips them.
    """

    frames_read: int = 0
    frames_dropped_by_rate: int = 0
    datagrams_rejected: int = 0
    datagrams_duplicated: int = 0
    datagrams_reordered: int = 0
    continuity_gaps: int = 0
    datagrams_overflowed: int = 0
    end_reason: str = "running"
    unreadable: list[str] = field(default_factory=list)


#: The UDP receiver's counters a run reports (``CaptureStats`` fields, metrics keys).
UDP_COUNTERS = ("datagrams_rejected", "datagrams_duplicated", "datagrams_reordered",
                "continuity_gaps", "datagrams_overflowed")


def describe_source(source: str | int | Path) -> str:
    """Classify ``source`` as ``"udp"``, ``"camera"``, ``"folder"`` or ``"file"``.

    Examples
    --------
    >>> describe_source("udp://127.0.0.1:5000"), describe_source(0), describe_source("0")
    ('udp', 'camera', 'camera')
    """
    if isinstance(source, bool):
        raise StreamError(f"not a video source: {source!r}")
    if isinstance(source, int) or (isinstance(source, str) and source.isdigit()):
        return "camera"
    text = str(source)
    if "://" in text:
        if text.lower().startswith("udp://"):
            return "udp"
        raise StreamError("only udp:// URLs are supported as network sources", text)
    return "folder" if Path(text).is_dir() else "file"


class VideoPreprocessor:
    """Read frames from any supported source, keeping one frame in ``drop_rate``.

    Parameters
    ----------
    timeout : float
        UDP streams end after this many seconds without a packet (also the wait for a
        stream that has not started yet).
    ready : threading.Event, optional
        Set once the source is open (a UDP port bound); default a fresh event
        (:attr:`ready`).
    decoder_threads : int, optional
        Threads of the video decoder (files and UDP streams); default FFmpeg's choice.

    Examples
    --------
    >>> import tempfile, cv2, numpy as np
    >>> folder = tempfile.mkdtemp()
    >>> for i in range(5):
    ...     _ = cv2.imwrite(f"{folder}/{i:06d}.png", np.full((4, 4, 3), i, np.uint8))
    >>> pre = VideoPreprocessor()
    >>> [i for i, _ in pre.capture_video(folder, drop_rate=2)]
    [0, 2, 4]
    >>> pre.stats.frames_read, pre.stats.frames_dropped_by_rate, pre.stats.end_reason
    (5, 2, 'end')
    """

    def __init__(self, timeout: float = 5.0, ready: threading.Event | None = None,
                 decoder_threads: int | None = None):
        if not timeout > 0:
            raise StreamError(f"timeout must be > 0 seconds, got {timeout}")
        if decoder_threads is not None and (isinstance(decoder_threads, bool) or not isinstance(
                decoder_threads, int | np.integer) or decoder_threads < 1):
            raise StreamError(f"decoder_threads must be an integer >= 1, got {decoder_threads!r}")
        self.timeout = float(timeout)
        self.decoder_threads = None if decoder_threads is None else int(decoder_threads)
        self.stats = CaptureStats()
        self.ready = ready if ready is not None else threading.Event()
        self._cancel = threading.Event()

    def cancel(self) -> None:
        """End a UDP stream being read in another thread (within 0.1 s), as a stall would.

        Files, folders and cameras stop when their consumer stops asking for frames.
        """
        self._cancel.set()

    def capture_video(self, source: str | int | Path,
                      drop_rate: int = 1) -> Iterator[tuple[int, np.ndarray]]:
        """Yield ``(frame_index, frame)`` for every ``drop_rate``-th frame of ``source``.

        Parameters
        ----------
        source : str, int or Path
            Video file, image folder (sorted by file name), camera index (``0`` or ``"0"``)
            or ``udp://host:port``.
        drop_rate : int
            Keep one frame in N (``1`` keeps all); see the module docstring.

        Raises
        ------
        StreamError
            Unknown source, unreadable video file, bad ``drop_rate`` (an unreadable image in a
            folder is skipped and listed in ``stats.unreadable``).
        """
        if isinstance(drop_rate, bool) or not isinstance(drop_rate, int | np.integer) \
                or drop_rate < 1:
            raise StreamError(f"drop_rate must be an integer >= 1, got {drop_rate!r}")
        kind = describe_source(source)
        self.stats = CaptureStats()
        self._cancel.clear()
        readers = {"udp": self._udp, "camera": self._camera, "folder": self._folder,
                   "file": self._file}
        return self._run(readers[kind](source, int(drop_rate)))

    def _run(self, frames: Iterator[tuple[int, np.ndarray]]) -> Iterator[tuple[int, np.ndarray]]:
        try:
            yield from frames
        except GeneratorExit:
            self.stats.end_reason = "stopped"
            frames.close()
            raise
        if self.stats.end_reason == "running":
            self.stats.end_reason = "end"

    def _keep(self, index: int, drop_rate: int) -> bool:
        self.stats.frames_read += 1
        if index % drop_rate:
            self.stats.frames_dropped_by_rate += 1
            return False
        return True

    def _udp(self, source: str, drop_rate: int) -> Iterator[tuple[int, np.ndarray]]:
        from tecktrack.inference.udp_receiver import receive_indexed_frames

        counters: dict[str, int] = {}
        frames = receive_indexed_frames(str(source), self.timeout, counters, ready=self.ready,
                                        cancel=self._cancel, threads=self.decoder_threads)
        try:
            for index, frame in frames:
                if self._keep(index, drop_rate):
                    yield index, frame
        finally:
            frames.close()
            for name in UDP_COUNTERS:
                setattr(self.stats, name, counters.get(name, 0))
        self.stats.end_reason = "stalled"

    def _folder(self, source: str | Path, drop_rate: int) -> Iterator[tuple[int, np.ndarray]]:
        files = list_images(source)  # recursive, like every image-folder reader
        if not files:
            raise StreamError("no images in folder", source)
        self.ready.set()
        for index, path in enumerate(files):
            if not self._keep(index, drop_rate):
                continue
            frame, said = decode_image(path)
            if frame is None:
                why = " ".join(said.split())
                self.stats.unreadable.append(
                    f"{path}: not an image (cannot be decoded{': ' + why if why else ''})")
                continue
            yield index, frame

    def _file(self, source: str | Path, drop_rate: int) -> Iterator[tuple[int, np.ndarray]]:
        import cv2

        if not Path(source).is_file():
            raise StreamError("no such video file or image folder", source)
        params = [] if self.decoder_threads is None else \
            [cv2.CAP_PROP_N_THREADS, self.decoder_threads]
        yield from self._capture(cv2.VideoCapture(str(source), cv2.CAP_FFMPEG, params), source,
                                 drop_rate)

    def _camera(self, source: str | int, drop_rate: int) -> Iterator[tuple[int, np.ndarray]]:
        import cv2

        yield from self._capture(cv2.VideoCapture(int(source)), f"camera {source}", drop_rate)

    def _capture(self, capture, name: str | Path,
                 drop_rate: int) -> Iterator[tuple[int, np.ndarray]]:
        try:
            if not capture.isOpened():
                raise StreamError("cannot open video source", name)
            self.ready.set()
            index = 0
            while capture.grab():
                if self._keep(index, drop_rate):
                    ok, frame = capture.retrieve()
                    if not ok:
                        raise StreamError(f"cannot decode frame {index}", name)
                    yield index, frame
                index += 1
            if index == 0:  # FFmpeg opens some files it then cannot read (text named .png)
                raise StreamError("no frame could be read (not a readable video or image)",
                                  name)
        finally:
            capture.release()
