"""``tecktrack track``: detect and track objects across frames; a run folder plus tracks.txt."""

from __future__ import annotations

import argparse

from tecktrack.commands.infer import add_run_options, run_pipeline


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``track``."""
    parser = subparsers.add_parser(
        "track", help="detect and track objects (ByteTrack) over a video/folder/camera/udp://",
        description="Run the inference pipeline with ByteTrack on SOURCE (video file, image "
                    "folder, camera index or udp://host:port). Writes a new run folder as "
                    "`infer` does plus tracks.txt (MOTChallenge: frame,id,x,y,w,h,conf,-1,-1,-1, "
                    "frames from 1) and prints the metrics (with active_tracks, tracks_started, "
                    "tracks_ended) as JSON. Score tracks.txt with `tecktrack evaluate-tracks`.")
    add_run_options(parser, conf=0.1)
    parser.set_defaults(func=_track)


def _track(args: argparse.Namespace) -> int:
    return run_pipeline(args, track=True)
