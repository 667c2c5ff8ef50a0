"""``tecktrack infer``: detect on a video, image folder, camera or UDP stream; print metrics."""

from __future__ import annotations

import argparse

from tecktrack.commands.options import (
    add_detector_options,
    add_device_option,
    add_model_option,
    add_quiet_option,
)

SOURCE_HELP = "video file, image folder, camera index or udp://host:port"


def add_run_options(parser: argparse.ArgumentParser, *, conf: float = 0.25) -> None:
    """SOURCE, --model and the pipeline options ``infer`` and ``track`` share."""
    parser.add_argument("source", metavar="SOURCE", help=SOURCE_HELP)
    add_model_option(parser)
    parser.add_argument("--drop-rate", type=int, default=1, metavar="N",
                        help="keep one frame in N (default 1: every frame)")
    add_detector_options(parser, conf=conf, iou="model")
    add_device_option(parser)
    parser.add_argument("--timeout", type=float, default=5.0,
                        help="UDP: end the run after this many seconds without packets (5)")
    parser.add_argument("--max-run-s", type=float, default=None, metavar="S",
                        help="stop the run after S seconds of wall time (default: no limit)")
    parser.add_argument("--save-frames", action="store_true",
                        help="also write annotated frames/<index>.jpg")
    parser.add_argument("--threads", type=int, default=None, metavar="N",
                        help="network threads (default: all cores but one, left to the "
                             "reader and saver threads)")
    parser.add_argument("--runs-dir", default=None, metavar="DIR",
                        help="parent of the run folder (default results/runs)")
    parser.add_argument("--helper-nice", type=int, default=None, metavar="N",
                        help="nice value added to the reader and saver threads, 0-19 "
                             "(default: the service's HELPER_NICE, 10: they wait for the free "
                             "core instead of preempting the network; 0 leaves them as they "
                             "are, for a machine whose other programs keep every core busy)")
    parser.add_argument("--tracker", default=None, metavar="YAML",
                        help="ByteTrack settings (an Ultralytics-style bytetrack.yaml; "
                             "default: its defaults)")
    add_quiet_option(parser)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``infer``."""
    parser = subparsers.add_parser(
        "infer", help="run a detector over a video/folder/camera/udp:// stream with metrics",
        description="Run the inference pipeline on SOURCE (video file, image folder, camera "
                    "index or udp://host:port). Writes a new results/runs/<run-id>/ folder "
                    "(config.json, labels/<index>.txt, optional frames/<index>.jpg, "
                    "metrics.json; with --track also tracks.txt) and prints the metrics as "
                    "JSON. Images of a folder that cannot be decoded are skipped and named "
                    "(metrics unreadable_images); the exit status is then 1.")
    add_run_options(parser)
    parser.add_argument("--track", action="store_true",
                        help="also track objects across frames (ByteTrack; see --tracker) and "
                             "write tracks.txt")
    parser.set_defaults(func=_infer)


def run_pipeline(args: argparse.Namespace, track: bool) -> int:
    """Build the model and service from ``args`` and run SOURCE; print the metrics JSON."""
    import json

    from tecktrack.inference.cores import HELPER_NICE
    from tecktrack.inference.service import InferenceService, pipeline_threads
    from tecktrack.inference.track_stage import tracker_config
    from tecktrack.model import load_model

    tracking = tracker_config((args.tracker or True) if track else False)  # before the model
    model = load_model(args.model, backend=args.backend, conf=args.conf, iou=args.iou,
                       threads=args.threads or pipeline_threads(), device=args.device)
    if args.device != "cpu":
        import sys

        print(f"device: {model.device} ({model.backend.provider})", file=sys.stderr)
    service = InferenceService(model, drop_rate=args.drop_rate, save_frames=args.save_frames,
                               timeout=args.timeout, runs_dir=args.runs_dir, keep_frames=False,
                               quiet=args.quiet, max_run_s=args.max_run_s, track=tracking,
                               helper_nice=HELPER_NICE if args.helper_nice is None
                               else args.helper_nice or None)
    result = service.run_inference(args.source)
    print(json.dumps({"run_dir": str(result.run_dir), "metrics": result.metrics}, indent=2))
    unreadable = result.metrics.get("unreadable_images", [])
    for problem in unreadable:
        print(f"skipped: {problem}")
    return 1 if unreadable else 0


def _infer(args: argparse.Namespace) -> int:
    return run_pipeline(args, track=args.track or args.tracker is not None)
