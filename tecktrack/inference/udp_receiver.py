"""Receive an MPEG-TS video stream on ``udp://host:port`` with an exact stall timeout.

A thread drains the UDP socket into a bounded in-memory FIFO and keeps only datagrams that
look like MPEG-TS (a whole number of 188-byte packets, each starting with the 0x47 sync
byte); anything else is counted and dropped before the demuxer sees it. The FIFO is read as a
file by PyAV (FFmpeg's MPEG-TS demuxer and decoder); when no datagram arrives for ``timeout``
seconds the file reports end-of-file, so the stream ends cleanly and the decoder is flushed.

Why not ``cv2.VideoCapture("udp://...")`` (OpenCV's FFmpeg backend)? It does honour
``CAP_PROP_READ_TIMEOUT_MSEC``, but it cannot force the input format, and with random
datagrams on the port its probe failed: 0 of 100 frames, where this receiver decodes the
stream. FFmpeg's own ``udp://`` reader through PyAV was tried too: through garbage it decoded
only 13-28 of 40 frames, and its interrupt-based timeout sometimes took two timeouts to end a
stall.

Between the socket and the FIFO a :class:`~tecktrack.inference.ts_sequencer.TsSequencer` drops
repeated datagrams and puts swapped ones back in order by their continuity counters, and
frames are numbered by their presentation time (PTS), so a lost frame leaves a hole in the
numbers instead of shifting every later frame: frame numbers match the source.
"""

from __future__ import annotations

import errno
import io
import queue
import socket
import threading
import time
from collections.abc import Iterator

import numpy as np

from tecktrack.errors import StreamError
from tecktrack.inference.ts_sequencer import TsSequencer
from tecktrack.inference.udp_url import UdpAddress, parse_udp_url

__all__ = ["DatagramFile", "is_mpegts_datagram", "receive_frames", "receive_indexed_frames"]

_TS = 188
_SYNC = 0x47
_POLL_S = 0.1
#: Bytes held between the socket and a busy demuxer before datagrams are dropped.
FIFO_BYTES = 64 * 1024 * 1024
_RCVBUF = 8 * 1024 * 1024
_BIND_RETRY_S = 1.0
#: Longest a datagram waits for a missing predecessor (capped at a quarter of the timeout).
HOLD_S = 0.2


def is_mpegts_datagram(data: bytes) -> bool:
    """True when ``data`` is whole 188-byte transport packets, each starting with 0x47.

    Examples
    --------
    >>> is_mpegts_datagram(bytes([0x47]) + bytes(187)), is_mpegts_datagram(b"hello")
    (True, False)
    """
    count = len(data) // _TS
    return count > 0 and len(data) == count * _TS and data[::_TS] == bytes([_SYNC]) * count


def _bind(address: UdpAddress) -> socket.socket:
    """Bind a UDP socket; a port held by someone else for under a second is waited out."""
    try:
        family, _, _, _, sockaddr = socket.getaddrinfo(
            address.host, address.port, type=socket.SOCK_DGRAM)[0]
    except OSError as exc:
        raise StreamError(f"cannot resolve the UDP address: {exc}", address.url) from exc
    deadline = time.monotonic() + _BIND_RETRY_S
    while True:
        sock = socket.socket(family, socket.SOCK_DGRAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, _RCVBUF)
            sock.bind(sockaddr)
        except OSError as exc:
            sock.close()
            if exc.errno == errno.EADDRINUSE and time.monotonic() < deadline:
                time.sleep(0.05)  # e.g. a "is it bound yet?" probe holding it for an instant
                continue
            raise StreamError(f"cannot listen on the UDP port: {exc}", address.url) from exc
        sock.settimeout(_POLL_S)
        return sock


class DatagramFile(io.RawIOBase):
    """A read-only file of the MPEG-TS datagrams arriving on a UDP port, in order.

    ``read`` blocks until data arrives and returns ``b""`` (end of file) once ``timeout``
    seconds pass without an MPEG-TS datagram (rejected garbage is not activity), or as soon
    as ``cancel`` is set. ``ready`` (optional) is set once the port is bound.
    Counters: ``accepted`` (passed on), ``rejected`` (not MPEG-TS), ``overflowed`` (dropped
    because the FIFO held ``FIFO_BYTES``), and from the sequencer ``duplicated``,
    ``reordered`` and ``gaps`` (see :mod:`tecktrack.inference.ts_sequencer`).

    Examples
    --------
    >>> with DatagramFile(UdpAddress("127.0.0.1", 0), timeout=0.2) as f:  # any free port
    ...     f.read(10), f.stalled
    (b'', True)
    """

    def __init__(self, address: UdpAddress, timeout: float, fifo_bytes: int = FIFO_BYTES,
                 *, ready: threading.Event | None = None,
                 cancel: threading.Event | None = None):
        super().__init__()
        self.timeout = float(timeout)
        self.accepted = self.rejected = self.overflowed = 0
        self.stalled = False
        self._sequencer = TsSequencer(hold_s=min(HOLD_S, self.timeout / 4))
        self._fifo: queue.Queue[bytes] = queue.Queue()
        self._fifo_bytes, self._held = fifo_bytes, 0
        self._held_lock = threading.Lock()
        self._pending = memoryview(b"")
        self._stop = threading.Event()
        self._cancel = cancel if cancel is not None else threading.Event()
        self._sock = _bind(address)
        if ready is not None:
            ready.set()
        self._thread = threading.Thread(target=self._drain, name="tecktrack-udp", daemon=True)
        self._thread.start()

    @property
    def duplicated(self) -> int:
        return self._sequencer.duplicated

    @property
    def reordered(self) -> int:
        return self._sequencer.reordered

    @property
    def gaps(self) -> int:
        return self._sequencer.gaps

    def _drain(self) -> None:
        sequencer, sock, timeout = self._sequencer, self._sock, _POLL_S
        while not self._stop.is_set():
            deadline = sequencer.next_deadline()
            wait = _POLL_S if deadline is None else \
                min(_POLL_S, max(0.001, deadline - time.monotonic()))
            try:
                if wait != timeout:  # two system calls each: only when it changes
                    sock.settimeout(wait)
                    timeout = wait
                data = sock.recv(65536)
            except TimeoutError:
                self._queue(sequencer.expire(time.monotonic()))
                continue
            except OSError:
                return
            if not is_mpegts_datagram(data):
                self.rejected += 1
                continue
            self._queue(sequencer.push(data, time.monotonic()))

    def _queue(self, datagrams: list[bytes]) -> None:
        for data in datagrams:
            with self._held_lock:
                if self._held + len(data) > self._fifo_bytes:
                    self.overflowed += 1
                    continue
                self._held += len(data)
            self.accepted += 1
            self._fifo.put(data)

    def readable(self) -> bool:
        return True

    def _next_datagram(self) -> bytes | None:
        deadline = time.monotonic() + self.timeout
        while not self._cancel.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                break
            try:
                return self._fifo.get(timeout=min(_POLL_S, left))
            except queue.Empty:
                continue
        return None

    def readinto(self, buffer) -> int:
        if not self._pending:
            if self.stalled:
                return 0
            data = self._next_datagram()
            if data is None:
                self.stalled = True
                return 0
            with self._held_lock:
                self._held -= len(data)
            self._pending = memoryview(data)
        count = min(len(buffer), len(self._pending))
        buffer[:count] = self._pending[:count]
        self._pending = self._pending[count:]
        return count

    def close(self) -> None:
        # also called (by io's finaliser) on an object whose bind failed in __init__
        if not self.closed:
            self._stop.set()
            thread, sock = getattr(self, "_thread", None), getattr(self, "_sock", None)
            if thread is not None:
                thread.join()
            if sock is not None:
                sock.close()
        super().close()


def receive_frames(url: str, timeout: float = 5.0,
                   counters: dict[str, int] | None = None) -> Iterator[np.ndarray]:
    """Yield BGR frames from an MPEG-TS stream on ``udp://host:port`` until it stalls.

    The frames of :func:`receive_indexed_frames`, without their numbers.

    Examples
    --------
    >>> for frame in receive_frames("udp://127.0.0.1:5000", timeout=5):  # doctest: +SKIP
    ...     print(frame.shape)
    (240, 320, 3)
    """
    frames = receive_indexed_frames(url, timeout, counters)
    try:
        for _, frame in frames:
            yield frame
    finally:
        frames.close()


def receive_indexed_frames(url: str, timeout: float = 5.0,
                           counters: dict[str, int] | None = None, *,
                           ready: threading.Event | None = None,
                           cancel: threading.Event | None = None,
                           threads: int | None = None
                           ) -> Iterator[tuple[int, np.ndarray]]:
    """Yield ``(frame_number, bgr_frame)`` from an MPEG-TS stream on ``udp://host:port``.

    The stream ends cleanly when no datagram arrives for ``timeout`` seconds (a sender that
    finished, died, or never started) or when ``cancel`` is set. Non-MPEG-TS datagrams are
    dropped, repeated ones too, swapped ones are put back in order; packets the decoder
    cannot use (corrupted, or before the first keyframe) are skipped. Frame numbers count
    from the first frame decoded, by presentation time: a frame lost on the way leaves a
    hole, the frames after it keep their source numbers.

    Parameters
    ----------
    url : str
        ``udp://host:port`` to listen on.
    timeout : float
        Seconds of silence that end the stream.
    counters : dict, optional
        Filled at the end with ``datagrams``, ``datagrams_rejected``,
        ``datagrams_overflowed``, ``datagrams_duplicated``, ``datagrams_reordered`` and
        ``continuity_gaps``.
    ready : threading.Event, optional
        Set as soon as the port is bound (before the first frame).
    cancel : threading.Event, optional
        Ends the stream (within 0.1 s) when set.
    threads : int, optional
        Decoder threads; default FFmpeg's choice (frame and slice threads, about one per
        core). With 1 the decoding runs in the calling thread and each frame leaves the
        decoder as soon as its packet is in; the pixels are the same.

    Raises
    ------
    StreamError
        A bad URL or a port that cannot be bound.

    Examples
    --------
    >>> for n, frame in receive_indexed_frames("udp://127.0.0.1:5000"):  # doctest: +SKIP
    ...     print(n, frame.shape)
    0 (240, 320, 3)
    """
    if not timeout > 0:
        raise StreamError(f"timeout must be > 0 seconds, got {timeout}", url)
    source = DatagramFile(parse_udp_url(url), timeout, ready=ready, cancel=cancel)
    try:
        yield from _numbered(_decode_file(source, threads))
    finally:
        source.close()
        if counters is not None:
            counters.update(datagrams=source.accepted, datagrams_rejected=source.rejected,
                            datagrams_overflowed=source.overflowed,
                            datagrams_duplicated=source.duplicated,
                            datagrams_reordered=source.reordered, continuity_gaps=source.gaps)


def _numbered(frames: Iterator[tuple[float | None, np.ndarray]]
              ) -> Iterator[tuple[int, np.ndarray]]:
    """Number frames by ``seconds * rate`` from the first; never backwards, never twice.

    A frame without a time, or one that goes back (the sender restarted), takes the next
    number and the count goes on from it.
    """
    origin, last = None, -1
    for seconds, frame in frames:
        if seconds is None:
            number = last + 1
        else:
            if origin is None:
                origin = seconds - (last + 1)
            number = int(round(seconds - origin))
            if number <= last:
                origin, number = seconds - (last + 1), last + 1
        last = number
        yield number, frame


def _open(source: DatagramFile):
    import av

    try:
        container = av.open(source, format="mpegts", options={"analyzeduration": "1000000"})
    except (av.error.InvalidDataError, EOFError):
        return None
    if not container.streams.video:
        container.close()
        return None
    return container


def _frame_clock(stream):
    """Seconds-times-rate of a decoded frame (its number since 0), or ``None`` when unknown."""
    rate = stream.guessed_rate or stream.average_rate or stream.codec_context.framerate
    base = stream.time_base
    if not rate or not base:
        return lambda frame: None

    def clock(frame) -> float | None:  # a PTS that wraps (33 bits) goes back: renumbered
        return None if frame.pts is None else float(frame.pts * base * rate)

    return clock


def _decode_file(source: DatagramFile, threads: int | None = None
                 ) -> Iterator[tuple[float | None, np.ndarray]]:
    import av
    from av.video.reformatter import VideoReformatter

    container = _open(source)
    if container is None:
        return
    try:
        stream = container.streams.video[0]
        if threads is None:
            stream.thread_type = "AUTO"
        else:
            stream.codec_context.thread_count = int(threads)
        clock = _frame_clock(stream)
        # one reformatter keeps its swscale context from frame to frame (to_ndarray(format=)
        # made a new one per frame: 0.21 vs 0.13 ms per 640x480 frame, the same pixels)
        reformatter = VideoReformatter()

        def bgr(frame) -> np.ndarray:
            return reformatter.reformat(frame, format="bgr24").to_ndarray()

        for packet in _packets(container, stream):
            try:
                frames = packet.decode()
            except av.error.InvalidDataError:
                continue
            for frame in frames:
                yield clock(frame), bgr(frame)
        for frame in _flush(stream):
            yield clock(frame), bgr(frame)
    finally:
        container.close()


def _packets(container, stream):
    import av

    try:
        yield from container.demux(stream)
    except (av.error.InvalidDataError, EOFError):
        return


def _flush(stream):
    import av

    try:
        return stream.codec_context.decode(None)
    except (av.error.InvalidDataError, EOFError):
        return []
