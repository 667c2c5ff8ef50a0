"""``tecktrack synth``: render the synthetic logistics world (dataset, folders, video)."""

from __future__ import annotations

import argparse

from tecktrack.commands.options import add_cluster_option


def _dataset(args: argparse.Namespace) -> int:
    from tecktrack.commands.options import cluster_from_args
    from tecktrack.synth import generate_dataset

    print(generate_dataset(args.out, n_images=args.images, seed=args.seed, size=args.size,
                           label_noise=args.label_noise, quiet=args.quiet,
                           workers=args.workers, cluster=cluster_from_args(args),
                           shard_size=args.shard_size))
    return 0


def _folders(args: argparse.Namespace) -> int:
    from tecktrack.synth import generate_folders

    print(generate_folders(args.out, n_images=args.images, contamination=args.contamination,
                           seed=args.seed, size=args.size, target=args.target, quiet=args.quiet,
                           workers=args.workers))
    return 0


def _video(args: argparse.Namespace) -> int:
    from tecktrack.synth import generate_video

    print(generate_video(args.out, frames=args.frames, fps=args.fps, seed=args.seed,
                         size=(args.width, args.height), quiet=args.quiet))
    return 0


def _world(args: argparse.Namespace) -> int:
    from tecktrack.synth import ensure_default_world

    for name, path in ensure_default_world(args.root, quiet=args.quiet).items():
        print(f"{name}: {path}")
    return 0


def _common(parser: argparse.ArgumentParser, seed: bool = True, workers: bool = False) -> None:
    if seed:
        parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    if workers:
        parser.add_argument("--workers", type=int, default=None,
                            help="worker processes (default: up to 2); output is identical")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def _add_dataset(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("dataset", help="YOLO dataset with data.yaml and 70/15/15 splits")
    p.add_argument("out", metavar="OUT", help="new output folder")
    p.add_argument("--images", type=int, default=1200, help="number of images (default 1200)")
    p.add_argument("--size", type=int, default=320, help="square image side (default 320)")
    p.add_argument("--label-noise", type=float, default=0.0, metavar="FRACTION",
                   help="corrupt the labels of this fraction of images and list them in "
                        "OUT/label_noise.json (default 0)")
    _common(p, workers=True)
    add_cluster_option(p)  # --cluster, --shard-size (#16)
    p.set_defaults(func=_dataset)


def _add_folders(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("folders", help="positive/ and background/ folders, a known fraction "
                                       "misfiled (manifest.json)")
    p.add_argument("out", metavar="OUT", help="new output folder")
    p.add_argument("--images", type=int, default=400, help="number of images (default 400)")
    p.add_argument("--contamination", type=float, default=0.1, metavar="FRACTION",
                   help="fraction of images filed in the wrong folder (default 0.1)")
    p.add_argument("--size", type=int, default=320, help="square image side (default 320)")
    p.add_argument("--target", default="cardboard box",
                   help="class name the positives show (default: cardboard box)")
    _common(p, workers=True)
    p.set_defaults(func=_folders)


def _add_video(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("video", help="mp4 of moving objects, YOLO labels per frame in "
                                     "<folder of OUT.mp4>/labels/, MOT ground truth in gt.txt")
    p.add_argument("out", metavar="OUT.mp4", help="new video file")
    p.add_argument("--frames", type=int, default=300, help="number of frames (default 300)")
    p.add_argument("--fps", type=float, default=25, help="frame rate (default 25)")
    p.add_argument("--width", type=int, default=480, help="frame width (default 480)")
    p.add_argument("--height", type=int, default=320, help="frame height (default 320)")
    _common(p)
    p.set_defaults(func=_video)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``tecktrack synth {dataset,folders,video,world}``."""
    parser = subparsers.add_parser(
        "synth", help="render the deterministic synthetic dataset, folders or video",
        description="Render TeckTrack's synthetic logistics world. The same seed and version "
                    "give the same bytes; nothing existing is ever overwritten.")
    sub = parser.add_subparsers(dest="synth_command", metavar="WHAT", required=True)
    _add_dataset(sub)
    _add_folders(sub)
    _add_video(sub)
    world = sub.add_parser("world", help="create the default world under data/ where missing")
    world.add_argument("--root", default=None, help="parent folder (default: data/)")
    _common(world, seed=False)
    world.set_defaults(func=_world)
