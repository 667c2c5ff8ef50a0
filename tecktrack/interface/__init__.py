"""Interface service: the UDP sender, the streaming demo, and the HTTP API (:mod:`.api`).

Examples
--------
>>> from tecktrack.interface import send_video, stream_video          # doctest: +SKIP
>>> send_video("data/synth-video/video.mp4", "udp://127.0.0.1:5000")   # doctest: +SKIP
"""

from tecktrack.interface.streaming import (
    StreamRun,
    frame_table,
    free_udp_port,
    stream_video,
    wait_until_bound,
)
from tecktrack.interface.udp_sender import send_video

__all__ = ["StreamRun", "free_udp_port", "frame_table", "send_video", "stream_video",
           "wait_until_bound"]
