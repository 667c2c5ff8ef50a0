"""How the stream pipeline's threads share the CPU cores with the network.

The network (``Model.forward``) is the pipeline's bottleneck and gets every core but one
(:func:`~tecktrack.inference.pipeline_threads`); the reader and saver threads share the core
left. Two things kept them off it less than that suggests, on 2 cores with demo-n:

* OpenCV's own thread pool: ``cv2.resize`` of a 640x480 frame is split across
  ``cv2.getNumThreads()`` threads (every core by default), so half of every resize ran on the
  network's core. :func:`opencv_threads` gives OpenCV one thread while a run is going (the
  reader's core), for networks that do not run on OpenCV themselves.
* The scheduler: a helper thread woken while the other helper held the free core was put on
  the network's core and preempted the forward pass (0.25-0.5 ms lost per 3.6 ms forward).
  :func:`yield_to_network` raises a helper thread's nice value (the reader's once the network
  has its first frame), so that it waits for the free core instead of interrupting the
  network; the CPU time it gets over a run does not change while there is a core for it.

Examples
--------
>>> import cv2
>>> before = cv2.getNumThreads()
>>> with opencv_threads(1):
...     cv2.getNumThreads()
1
>>> cv2.getNumThreads() == before
True
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Iterator

__all__ = ["HELPER_NICE", "opencv_threads", "yield_to_network"]

#: Nice value added to the reader and saver threads (see :func:`yield_to_network`).
HELPER_NICE = 10

_LOCK = threading.Lock()
_USERS = 0
_SAVED: int | None = None


@contextlib.contextmanager
def opencv_threads(count: int) -> Iterator[None]:
    """Run the body with ``cv2.setNumThreads(count)``; the previous value comes back after.

    OpenCV's thread count is process-wide: overlapping bodies (two runs at once) share one
    setting, and the value from before the first one is restored when the last one ends.

    Examples
    --------
    >>> with opencv_threads(1), opencv_threads(1):
    ...     pass
    """
    import cv2

    global _USERS, _SAVED
    with _LOCK:
        if _USERS == 0:
            _SAVED = cv2.getNumThreads()
            cv2.setNumThreads(int(count))
        _USERS += 1
    try:
        yield
    finally:
        with _LOCK:
            _USERS -= 1
            if _USERS == 0 and _SAVED is not None:
                cv2.setNumThreads(_SAVED)
                _SAVED = None


def yield_to_network(nice: int | None = HELPER_NICE) -> bool:
    """Raise the calling thread's nice value by ``nice``; True when it was changed.

    On Linux a nice value belongs to a thread, so this lowers the priority of the calling
    helper thread only (and of threads it starts afterwards), never the network's. ``None``
    or ``0`` leaves the thread as it is; where the platform has no per-thread nice value
    (not Linux) or refuses, nothing changes.

    Examples
    --------
    >>> yield_to_network(None)
    False
    """
    if not nice or not sys.platform.startswith("linux"):
        return False
    tid = threading.get_native_id()
    try:
        current = os.getpriority(os.PRIO_PROCESS, tid)
        os.setpriority(os.PRIO_PROCESS, tid, min(19, current + int(nice)))
    except OSError:
        return False
    return True
