"""``tecktrack augment``: box-aware augmentation of chosen dataset images, or a balance plan."""

from __future__ import annotations

import argparse

from tecktrack.commands.options import add_cluster_option


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "augment", help="augment chosen images of a dataset (flip, blur, resize, rotate, "
                        "brightness, contrast, copy_paste) or plan class-balanced oversampling",
        description="Write augmented copies of the chosen images with updated YOLO labels to "
                    "OUT/images and OUT/labels, plus OUT/augmentations.csv. Never overwrites. "
                    "Ops: comma-separated items, each an op with an optional ':value', "
                    "chained with '+', e.g. flip,rotate:15,blur+contrast. With --balance, "
                    "images are chosen by a class-balanced oversampling plan instead: an "
                    "image planned for k copies gets the first k items of --ops.",
    )
    parser.add_argument("data", help="the dataset's data.yaml")
    parser.add_argument("--images", help="folder of images, list file (one name a line) or "
                                         "the JSON of `tecktrack mine --json`")
    parser.add_argument("--ops", required=True, help="e.g. flip,rotate,blur,resize,brightness,"
                                                     "contrast,rotate90,copy_paste")
    parser.add_argument("--out", required=True, help="output folder (files are never replaced)")
    parser.add_argument("--seed", type=int, default=0, help="seed of random parameters")
    parser.add_argument("--min-visibility", type=float, default=0.3,
                        help="rotation drops boxes with less of them left visible (default 0.3)")
    parser.add_argument("--balance", action="store_true",
                        help="choose images and copy counts by class-balanced oversampling")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    add_cluster_option(parser)  # --cluster, --shard-size (#16)
    parser.set_defaults(func=_augment)


def _augment(args: argparse.Namespace) -> int:
    from tecktrack.augment.apply import parse_ops
    from tecktrack.augment.dataset import augment_dataset, dataset_images, select_images
    from tecktrack.commands.options import cluster_from_args
    from tecktrack.errors import TeckTrackError

    if bool(args.images) == bool(args.balance):
        raise TeckTrackError("give exactly one of --images LIST_OR_DIR and --balance")
    parse_ops(args.ops)
    if args.balance:
        stems, ops = _balance_plan(args)
        if not stems:
            print("classes are already balanced: nothing to augment")
            return 0
    else:
        stems, ops = select_images(args.images, dataset_images(args.data)), args.ops
    log = augment_dataset(args.data, stems, ops, args.out, seed=args.seed,
                          min_visibility=args.min_visibility, quiet=args.quiet,
                          cluster=cluster_from_args(args), shard_size=args.shard_size)
    print(f"wrote {len(log)} augmented images to {args.out}/images, labels to {args.out}/labels")
    print(f"boxes dropped (too little left visible after rotation, or no free place or no "
          f"pixel to cut for copy_paste): {int(log['dropped'].sum())}")
    print(f"log: {args.out}/augmentations.csv")
    return 0


def _balance_plan(args: argparse.Namespace) -> tuple[list[str], dict[str, str]]:
    from tecktrack.augment.oversample import oversampling_plan
    from tecktrack.mining.sources import load_ground_truth

    items = [i.strip() for i in args.ops.split(",") if i.strip()]
    gt, names = load_ground_truth(args.data)
    plan, summary = oversampling_plan(gt, max_copies=len(items), names=names)
    print("class box counts before / after the oversampling plan:")
    print(summary.to_string(index=False))
    ops = {row.image: ",".join(items[:row.copies]) for row in plan.itertuples()}
    return list(plan["image"]), ops
