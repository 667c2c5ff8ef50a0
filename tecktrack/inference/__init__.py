"""Inference service: frame capture, the :class:`InferenceService` pipeline, online metrics,
the batch prediction writer.

Sources are image folders, video files, camera indices and ``udp://host:port`` MPEG-TS
streams (:class:`VideoPreprocessor`); the pipeline writes a run folder per run.

Examples
--------
>>> from tecktrack.inference import InferenceService                  # doctest: +SKIP
>>> InferenceService(model).run_inference("data/synth-video/video.mp4")  # doctest: +SKIP
"""

from tecktrack.inference.batch import STAGES, predict_images, source_images
from tecktrack.inference.capture import CaptureStats, VideoPreprocessor, describe_source
from tecktrack.inference.online_metrics import ResourceSampler, RunTimings, summarise
from tecktrack.inference.service import (
    FrameResult,
    InferenceResult,
    InferenceService,
    pipeline_threads,
)
from tecktrack.inference.udp_receiver import DatagramFile, is_mpegts_datagram, receive_frames
from tecktrack.inference.udp_url import TS_PACKET_PAYLOAD, UdpAddress, parse_udp_url
from tecktrack.inference.writer import save_predictions, write_image

__all__ = [
    "STAGES", "TS_PACKET_PAYLOAD", "CaptureStats", "DatagramFile", "FrameResult",
    "InferenceResult", "InferenceService", "ResourceSampler", "RunTimings", "UdpAddress",
    "VideoPreprocessor", "describe_source", "is_mpegts_datagram", "parse_udp_url",
    "pipeline_threads", "predict_images", "receive_frames", "save_predictions", "source_images",
    "summarise", "write_image",
]
