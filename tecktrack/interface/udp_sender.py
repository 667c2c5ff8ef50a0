"""The UDP sender: a video file sent as MPEG-TS datagrams at its pace.

The sender (:func:`send_video`) is the stand-in for a surveillance camera: it reads a video
file with OpenCV, encodes H.264 (``libx264``, falling back to MPEG-2) into MPEG-TS and sends
it in datagrams of at most 1316 bytes (whole 188-byte transport packets), one frame every
``1 / fps`` seconds. The receiver is :mod:`tecktrack.inference.udp_receiver`.

The datagrams leave through TeckTrack's own *connected* UDP socket rather than FFmpeg's
``udp://`` output, so that a host that does not resolve is one clear :class:`StreamError`
(FFmpeg answered "Input/output error" from deep inside PyAV) and an ICMP "port unreachable"
(nothing listens on that port) is counted instead of lost: FFmpeg reported "60 frames sent"
to a closed port. A refusal is reported by the kernel on the *next* send, which is then
tried once more. Only hosts that answer with ICMP (loopback, most LANs) can be counted; a
firewall that drops silently cannot.
"""

from __future__ import annotations

import io
import socket
import time
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import numpy as np

from tecktrack.errors import StreamError
from tecktrack.inference.udp_url import TS_PACKET_PAYLOAD, UdpAddress, parse_udp_url

__all__ = ["send_video"]

_TS = 188


def _connect(address: UdpAddress) -> socket.socket:
    """A UDP socket connected to ``address`` (so ICMP refusals reach it), or a StreamError."""
    try:
        family, _, _, _, sockaddr = socket.getaddrinfo(
            address.host, address.port, type=socket.SOCK_DGRAM)[0]
    except (OSError, UnicodeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise StreamError(f"cannot resolve host {address.host!r}: {reason}",
                          address.url) from None
    sock = socket.socket(family, socket.SOCK_DGRAM)
    try:
        sock.connect(sockaddr)
    except OSError as exc:
        sock.close()
        raise StreamError(f"cannot send to this address: {exc.strerror or exc}",
                          address.url) from None
    return sock


class _DatagramSink(io.RawIOBase):
    """The muxer's output file: whole transport packets sent as datagrams of <= 1316 bytes.

    ``sent`` counts datagrams handed to the network, ``refused`` the ICMP "port unreachable"
    answers the kernel reported (each on the send after the refused one).
    """

    def __init__(self, sock: socket.socket, url: str):
        super().__init__()
        self.sock, self.url = sock, url
        self.sent = self.refused = 0
        self.error: StreamError | None = None
        self._pending = bytearray()

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        self._pending += data
        whole = len(self._pending) // _TS * _TS
        for start in range(0, whole, TS_PACKET_PAYLOAD):
            self._send(bytes(self._pending[start:min(start + TS_PACKET_PAYLOAD, whole)]))
        del self._pending[:whole]
        return len(data)

    def _send(self, datagram: bytes) -> None:
        for _ in range(2):  # the refusal belongs to an earlier datagram: try this one again
            try:
                self.sock.send(datagram)
            except ConnectionRefusedError:
                self.refused += 1
                continue
            except OSError as exc:
                if self.error is None:
                    self.error = StreamError(f"cannot send: {exc.strerror or exc}", self.url)
                return
            self.sent += 1
            return


def _output_stream(container, fps: Fraction, width: int, height: int):
    import av

    codec = "libx264" if "libx264" in av.codecs_available else "mpeg2video"
    stream = container.add_stream(codec, rate=fps)
    stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
    stream.codec_context.gop_size = max(1, round(float(fps)))
    if codec == "libx264":
        stream.options = {"preset": "ultrafast", "tune": "zerolatency"}
    else:
        stream.bit_rate = 8_000_000
    return stream


def _video_frames(path: Path, loop: bool) -> Iterator[np.ndarray]:
    import cv2

    while True:
        capture = cv2.VideoCapture(str(path))
        if not capture.isOpened():
            raise StreamError("cannot open video", path)
        count = 0
        try:
            while True:
                ok, frame = capture.read()
                if not ok:
                    break
                count += 1
                yield frame
        finally:
            capture.release()
        if count == 0:
            raise StreamError("video has no frames", path)
        if not loop:
            return


def _video_fps(path: Path) -> float:
    import cv2

    capture = cv2.VideoCapture(str(path))
    try:
        if not capture.isOpened():
            raise StreamError("cannot open video", path)
        return float(capture.get(cv2.CAP_PROP_FPS) or 0.0)
    finally:
        capture.release()


def send_video(video: str | Path, url: str, *, fps: float | None = None, loop: bool = False,
               max_frames: int | None = None, counters: dict[str, int] | None = None) -> int:
    """Send ``video`` as MPEG-TS to ``udp://host:port`` at ``fps`` frames per second.

    Parameters
    ----------
    video : str or Path
        A video file OpenCV can read, or an image-sequence pattern such as
        ``frames/%06d.png``. Its width and height must be even (H.264 4:2:0).
    url : str
        Destination ``udp://host:port``.
    fps : float, optional
        Sending pace; default the video's own frame rate (25 when the file does not say).
    loop : bool
        Start over at the end of the file, until ``max_frames`` or Ctrl-C.
    max_frames : int, optional
        Stop after this many frames.
    counters : dict, optional
        Filled with ``datagrams_sent`` and ``datagrams_refused`` (ICMP "port unreachable"
        answers: nothing was listening on the port when they arrived).

    Returns
    -------
    int
        Frames sent.

    Raises
    ------
    StreamError
        A video that cannot be read, a bad URL, a host that does not resolve, a send that
        fails for another reason than a refusal.

    Examples
    --------
    >>> send_video("data/synth-video/video.mp4", "udp://127.0.0.1:5000")  # doctest: +SKIP
    300
    """
    import av

    path = Path(video)
    address = parse_udp_url(url)
    pace = float(fps) if fps is not None else (_video_fps(path) or 25.0)
    if not 0 < pace <= 1000:
        raise StreamError(f"fps must be in (0, 1000], got {pace}", path)
    if max_frames is not None and (isinstance(max_frames, bool) or int(max_frames) != max_frames
                                   or max_frames < 1):
        raise StreamError(f"max_frames must be a whole number >= 1 (or None: all), "
                          f"got {max_frames!r}", path)
    frames = _video_frames(path, loop)
    rate = Fraction(pace).limit_denominator(1001)
    sent = 0
    with _connect(address) as sock:
        sink = _DatagramSink(sock, address.url)
        try:
            with av.open(sink, mode="w", format="mpegts",
                         buffer_size=TS_PACKET_PAYLOAD) as container:
                stream = None
                start = time.perf_counter()
                for frame in frames:
                    if max_frames is not None and sent >= max_frames:
                        break
                    if stream is None:
                        stream = _output_stream(container, rate, *_even_size(frame, path))
                    _sleep_until(start + sent / pace)
                    image = av.VideoFrame.from_ndarray(frame, format="bgr24")
                    image.pts = sent
                    container.mux(stream.encode(image))
                    if sink.error is not None:
                        raise sink.error
                    sent += 1
                if stream is not None:
                    container.mux(stream.encode(None))
        finally:
            if counters is not None:
                counters.update(datagrams_sent=sink.sent, datagrams_refused=sink.refused)
    return sent


def _even_size(frame: np.ndarray, path: Path) -> tuple[int, int]:
    height, width = frame.shape[:2]
    if width % 2 or height % 2:
        raise StreamError(f"H.264 needs even frame sizes, got {width}x{height}", path)
    return width, height


def _sleep_until(deadline: float) -> None:
    delay = deadline - time.perf_counter()
    if delay > 0:
        time.sleep(delay)
