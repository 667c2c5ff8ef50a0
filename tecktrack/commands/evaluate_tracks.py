"""``tecktrack evaluate-tracks``: HOTA, CLEAR and Identity metrics of a MOTChallenge tracks file."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``evaluate-tracks``."""
    parser = subparsers.add_parser(
        "evaluate-tracks", help="score tracks against ground truth (HOTA, MOTA, IDF1; TrackEval-"
                                "exact)",
        description="Evaluate a MOTChallenge tracker file (frame,id,x,y,w,h,conf,...) against a "
                    "MOTChallenge ground-truth file (rows with column 7 = 0 are ignored). Prints "
                    "HOTA, DetA, AssA, LocA (means over alpha 0.05..0.95), MOTA, MOTP, IDF1, "
                    "IDP, IDR (fractions) and IDSW, class-agnostic, as TrackEval computes them.")
    parser.add_argument("--gt", required=True, metavar="GT", help="ground truth, e.g. gt.txt")
    parser.add_argument("--pred", required=True, metavar="PRED",
                        help="tracker output, e.g. a run folder's tracks.txt")
    parser.add_argument("--iou", type=float, default=0.5,
                        help="IoU of a CLEAR / Identity match (0.5)")
    parser.add_argument("--json", default=None, metavar="OUT",
                        help="write every metric as JSON (a new file; see --force)")
    parser.add_argument("--force", action="store_true",
                        help="let --json replace an existing file (never an input)")
    parser.set_defaults(func=_evaluate_tracks)


def _evaluate_tracks(args: argparse.Namespace) -> int:
    from tecktrack.errors import EvaluationError
    from tecktrack.metrics.mot import MOT_SUMMARY_KEYS, evaluate_track_files
    from tecktrack.metrics.report import write_report

    if not 0.0 < args.iou <= 1.0:
        raise EvaluationError(f"--iou must be in (0, 1], got {args.iou}")
    summary = evaluate_track_files(args.gt, args.pred, threshold=args.iou)
    width = max(len(k) for k in summary)
    for key, value in summary.items():
        text = f"{value:.4f}" if isinstance(value, float) else str(value)
        marker = "" if key in MOT_SUMMARY_KEYS else "  "
        print(f"{marker}{key:<{width}}  {text}")
    if args.json:
        path = write_report(args.json, summary, inputs=(args.gt, args.pred), force=args.force)
        print(f"wrote {path}")
    return 0
