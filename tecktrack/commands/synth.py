"""``tecktrack synth``: render the synthetic logistics world (dataset, folders, video)."""

from __future__ import annotations

import argparse


def _dataset(args: argparse.Namespace) -> int:
    from tecktrack.synth import generate_dataset

    path = generate_dataset(args.out, n_images=args.images, seed=args.seed, size=args.size,
                            label_noise=args.label_noise, quiet=args.quiet)
    print(path)
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``tecktrack synth {dataset,folders,video,world}``."""
    parser = subparsers.add_parser(
        "synth", help="render the deterministic synthetic dataset, folders or video",
        description="Render TeckTrack's synthetic logistics world. Same seed and version "
                    "give the same bytes; outputs never overwrite existing files.")
    sub = parser.add_subparsers(dest="synth_command", metavar="WHAT", required=True)

    ds = sub.add_parser("dataset", help="YOLO dataset with data.yaml and 70/15/15 splits")
    ds.add_argument("out", metavar="OUT", help="new output folder")
    ds.add_argument("--images", type=int, default=1200, help="number of images (default 1200)")
    ds.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    ds.add_argument("--size", type=int, default=320, help="square image side (default 320)")
    ds.add_argument("--label-noise", type=float, default=0.0, metavar="FRACTION",
                    help="corrupt the labels of this fraction of images, with a manifest "
                         "label_noise.json (default 0)")
    ds.add_argument("--quiet", action="store_true", help="no progress bar")
    ds.set_defaults(func=_dataset)
