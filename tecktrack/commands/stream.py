"""``tecktrack stream send``: play a video file into a UDP port as MPEG-TS (a stand-in camera)."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``stream`` with its ``send`` sub-command."""
    parser = subparsers.add_parser(
        "stream", help="UDP video streams (send a video file as a live MPEG-TS stream)",
        description="Tools for live UDP MPEG-TS streams.")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    send = actions.add_parser(
        "send", help="send VIDEO to udp://host:port as H.264 MPEG-TS at the video's pace",
        description="Encode VIDEO as H.264 in MPEG-TS and send it to URL in 1316-byte "
                    "datagrams, one frame every 1/FPS seconds, like a network camera. "
                    "Exits 1 when the destination answered with ICMP 'port unreachable' "
                    "(nothing listening).")
    send.add_argument("video", metavar="VIDEO", help="a video file OpenCV can read")
    send.add_argument("url", metavar="URL", help="destination, e.g. udp://127.0.0.1:5000")
    send.add_argument("--fps", type=float, default=None,
                      help="sending pace in frames per second (default: the video's own)")
    send.add_argument("--loop", action="store_true",
                      help="start over at the end of the video until Ctrl-C")
    send.add_argument("--max-frames", type=int, default=None, metavar="N",
                      help="stop after N frames")
    send.set_defaults(func=_send)


def _send(args: argparse.Namespace) -> int:
    import sys

    from tecktrack.interface.udp_sender import send_video

    counters: dict[str, int] = {}
    try:
        sent = send_video(args.video, args.url, fps=args.fps, loop=args.loop,
                          max_frames=args.max_frames, counters=counters)
    except KeyboardInterrupt:
        print("stopped")
        return 0
    refused, datagrams = counters["datagrams_refused"], counters["datagrams_sent"]
    if refused:
        print(f"{args.url} refused the stream: {refused} ICMP 'port unreachable' answers to "
              f"{datagrams} datagrams of {sent} frames (is anything listening there?)",
              file=sys.stderr)
        return 1
    print(f"sent {sent} frames to {args.url} ({datagrams} datagrams)")
    return 0
