"""``tecktrack mine``: hard negatives, misclassifications and label issues of a prediction run."""

from __future__ import annotations

import argparse
from typing import Any

from tecktrack.commands.options import add_cluster_option, add_model_option, add_quiet_option


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "mine", help="rank the images a detector gets most wrong, its class confusions and "
                     "likely label errors",
        description="Match prediction files (class cx cy w h conf) to a labelled dataset by file "
                    "stem across all splits and print three rankings, best first: hard "
                    "negatives (per-image loss with components), misclassifications (classes "
                    "by count, with what they were confused with) and label issues.",
    )
    parser.add_argument("--pred", required=True, help="prediction folder (<stem>.txt or labels/)")
    parser.add_argument("--gt", required=True, help="data.yaml, dataset folder or label folder")
    parser.add_argument("--top", type=int, default=10, help="entries per ranking (default 10)")
    parser.add_argument("--json", default=None, help="also write the rankings to this new file")
    parser.add_argument("--iou", type=float, default=0.5, help="IoU for a match (default 0.5)")
    parser.add_argument("--lambda-no-obj", type=float, default=2.0,
                        help="cost of a missed object (default 2)")
    add_model_option(parser, required=False,
                     help="detector (name under models/ or path) for a second look at the "
                          "label-issue candidates: zoomed crops around unmatched labels and "
                          "unlabelled detections are re-run (recommended: the model that "
                          "made --pred)")
    parser.add_argument("--images", default=None,
                        help="images for the second look (folder or data.yaml; default: the "
                             "--gt dataset)")
    parser.add_argument("--zoom", type=float, default=4.0,
                        help="second-look window side as a multiple of the box (default 4)")
    add_quiet_option(parser)
    add_cluster_option(parser)  # --cluster, --shard-size (#16)
    parser.set_defaults(func=_mine)


def _mine(args: argparse.Namespace) -> int:
    from tecktrack.commands.options import cluster_from_args
    from tecktrack.errors import TeckTrackError
    from tecktrack.mining.hard_negatives import HardNegativeMining
    from tecktrack.mining.pipeline import mine, write_summary

    if args.top < 1:
        raise TeckTrackError(f"--top must be >= 1, got {args.top}")
    if args.zoom < 1:
        raise TeckTrackError(f"--zoom must be >= 1, got {args.zoom}")
    if args.images and not args.model:
        raise TeckTrackError("--images is only used by the second look: add --model")
    try:
        miner = HardNegativeMining(iou_threshold=args.iou, lambda_no_obj=args.lambda_no_obj)
    except ValueError as exc:
        raise TeckTrackError(str(exc)) from None
    summary = mine(args.pred, args.gt, top=args.top, miner=miner, quiet=args.quiet,
                   model=args.model, images=args.images, zoom=args.zoom,
                   cluster=cluster_from_args(args), shard_size=args.shard_size)
    _print(summary)
    if args.json:
        try:
            path = write_summary(summary, args.json)
        except FileExistsError:
            raise TeckTrackError(f"{args.json}: --json file exists already; refusing to "
                                 "overwrite it (choose a new name)") from None
        print(f"wrote {path}")
    return 0


def _print(summary: dict[str, Any]) -> None:
    unpaired = summary["unpaired"]
    print(f"{summary['images']} images paired by stem "
          f"({unpaired['predictions_without_labels']} prediction files without a labelled "
          f"image, {unpaired['labelled_images_without_predictions']} labelled images without "
          f"predictions: left out)")
    print("\nhard negatives (image, loss, box/objectness/classification/false_positive/missed):")
    for r in summary["hard_negatives"]:
        print(f"  {r['image']:<24} {r['loss']:8.3f}   {r['box']:.3f} {r['objectness']:.3f} "
              f"{r['classification']:.3f} {r['false_positive']:.3f} {r['missed']:.3f}")
    print("\nmisclassifications (class, count, confused with):")
    for r in summary["misclassifications"]:
        pairs = ", ".join(f"{k} x{v}" for k, v in r["confused_with"].items())
        print(f"  {r['class']!s:<16} {r['count']:6d}   {pairs}")
    print("\nlabel issues (image, score, reason):")
    for r in summary["label_issues"]:
        print(f"  {r['image']:<24} {r['score']:.3f}   {r['reason']}")
