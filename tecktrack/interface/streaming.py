"""Stream a video through the InferenceService over UDP on loopback, and always clean up.

:func:`stream_video` is the live demo in one call: it picks a free loopback port, starts
:meth:`InferenceService.run_inference` on ``udp://127.0.0.1:<port>`` in a thread, waits
until the receiver has bound the port (an event it sets after ``bind``), sends the video
with :func:`tecktrack.interface.send_video` at its pace and waits for the receiver to end
(the stream stalls for ``service.timeout`` seconds after the last frame). Whatever fails, the
sender has stopped and the receiver thread has ended (or is reported as stuck) when it
returns.

Examples
--------
>>> from tecktrack.inference import InferenceService                      # doctest: +SKIP
>>> from tecktrack.model import load_model                                # doctest: +SKIP
>>> service = InferenceService(load_model("demo-n"), timeout=2.0, quiet=True)  # doctest: +SKIP
>>> video = "data/synth-video/video.mp4"
>>> run = stream_video(service, video, fps=25, max_frames=50)            # doctest: +SKIP
>>> run.sent, run.result.metrics["total_frames"]                          # doctest: +SKIP
(50, 50)
"""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from tecktrack.errors import StreamError
from tecktrack.inference.service import InferenceResult, InferenceService
from tecktrack.inference.udp_url import UdpAddress
from tecktrack.interface.udp_sender import send_video

__all__ = ["StreamRun", "free_udp_port", "frame_table", "stream_video", "wait_until_bound"]

#: Extra seconds the receiver may take after its stall timeout before it counts as stuck.
_JOIN_MARGIN_S = 30.0


@dataclass(frozen=True)
class StreamRun:
    """Outcome of :func:`stream_video`: frames sent, the service's result, the URL used."""

    sent: int
    result: InferenceResult
    url: str


def free_udp_port(host: str = "127.0.0.1") -> int:
    """A UDP port on ``host`` (IPv4 or IPv6) that was free a moment ago.

    Examples
    --------
    >>> 1024 <= free_udp_port() <= 65535
    True
    """
    family, _, _, _, sockaddr = socket.getaddrinfo(host, 0, type=socket.SOCK_DGRAM)[0]
    with socket.socket(family, socket.SOCK_DGRAM) as sock:
        sock.bind(sockaddr)
        return int(sock.getsockname()[1])


def wait_until_bound(port: int, host: str = "127.0.0.1", limit_s: float = 10.0) -> bool:
    """Wait until something listens on the UDP port (binding it fails); False after ``limit_s``.

    This probes by binding the port itself, so it can take the port for an instant from a
    receiver binding at the same moment; :func:`stream_video` waits on the receiver's own
    ``ready`` event instead. Use this only for a receiver in another process.

    Examples
    --------
    >>> with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
    ...     s.bind(("127.0.0.1", 0))
    ...     wait_until_bound(s.getsockname()[1], limit_s=1.0)
    True
    >>> wait_until_bound(free_udp_port(), limit_s=0.1)
    False
    """
    deadline = time.monotonic() + limit_s
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            try:
                probe.bind((host, port))
            except OSError:
                return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.02)


class _Receiver(threading.Thread):
    """Runs the service on one URL in the background and keeps its result or error."""

    def __init__(self, service: InferenceService, url: str):
        super().__init__(name="tecktrack-stream-receiver", daemon=True)
        self.service, self.url = service, url
        self.ready = threading.Event()
        self.result: InferenceResult | None = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.result = self.service.run_inference(self.url, ready=self.ready)
        except BaseException as exc:  # handed to the caller by stream_video
            self.error = exc

    def wait_ready(self, limit_s: float) -> bool:
        """True once the port is bound; False when the receiver ended first or time ran out."""
        deadline = time.monotonic() + limit_s
        while not self.ready.wait(0.05):
            if not self.is_alive() or time.monotonic() >= deadline:
                return self.ready.is_set()
        return True


def stream_video(service: InferenceService, video: str | Path, *, fps: float | None = None,
                 max_frames: int | None = None, host: str = "127.0.0.1",
                 port: int | None = None, bind_timeout: float = 10.0) -> StreamRun:
    """Send ``video`` over UDP to ``service`` on ``host`` and return what it measured.

    Parameters
    ----------
    service : InferenceService
        The receiving service; its ``timeout`` is the stall that ends the stream.
    video : str or Path
        Video file (or image-sequence pattern) to send; even frame sizes.
    fps : float, optional
        Sending pace (default the video's frame rate).
    max_frames : int, optional
        Send only the first ``max_frames`` frames.
    host : str
        Loopback (default) or another local address to stream on.
    port : int, optional
        UDP port (default: a free one).
    bind_timeout : float
        Seconds to wait for the receiver to listen before giving up.

    Returns
    -------
    StreamRun

    Raises
    ------
    StreamError
        The video cannot be sent (missing, odd frame size: raised after the receiver has
        ended), or the receiver never listened, failed, or did not end after the stream.
    """
    port = port if port is not None else free_udp_port(host)
    url = UdpAddress(host, port).url  # udp://[::1]:port for IPv6 hosts
    receiver = _Receiver(service, url)
    receiver.start()
    sent, bound = 0, False
    try:
        bound = receiver.wait_ready(bind_timeout)
        if bound:
            sent = send_video(video, url, fps=fps, max_frames=max_frames)
    finally:
        # The sender has returned (or raised): the stream stalls and the receiver ends
        # within its timeout. Wait for it in every case so nothing is left running.
        receiver.join(service.timeout + bind_timeout + _JOIN_MARGIN_S)
    if receiver.is_alive():
        raise StreamError("the receiver did not end after the stream stopped", url)
    if receiver.error is not None:
        raise receiver.error
    if not bound:
        raise StreamError(f"the receiver did not listen within {bind_timeout} s", url)
    if receiver.result is None:
        raise StreamError("the receiver ended without a result", url)
    return StreamRun(sent, receiver.result, url)


def frame_table(result: InferenceResult) -> pd.DataFrame:
    """One row per processed frame: ``frame, detections, latency_ms`` (sorted by frame).

    Examples
    --------
    >>> from tecktrack.detections import Detections
    >>> from tecktrack.inference import FrameResult
    >>> r = InferenceResult([FrameResult(1, Detections.empty(), 8, 8, 0.002),
    ...                      FrameResult(0, Detections([[0, 0, 1, 1]], [0], [0.5]), 8, 8, 0.001)],
    ...                     {}, Path("."))
    >>> frame_table(r).values.tolist()
    [[0.0, 1.0, 1.0], [1.0, 0.0, 2.0]]
    """
    frames = sorted(result.frames, key=lambda f: f.index)
    return pd.DataFrame({
        "frame": [f.index for f in frames],
        "detections": [len(f.detections) for f in frames],
        "latency_ms": [f.latency_s * 1000.0 for f in frames],
    })
