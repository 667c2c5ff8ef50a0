"""``tecktrack dataset stats|check``: explore and validate a YOLO dataset."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from tecktrack.errors import TeckTrackError


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``dataset`` with its ``stats`` and ``check`` sub-commands."""
    parser = subparsers.add_parser(
        "dataset", help="statistics and checks of a YOLO dataset (data.yaml)",
        description="Explore (stats) or validate (check) a dataset described by an "
                    "ultralytics-style data.yaml with images/ and labels/ folders.",
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    stats = actions.add_parser(
        "stats", help="class counts, box sizes, COCO size buckets, objects per image",
        description="Print per-class instance and image counts, COCO size buckets and objects "
                    "per image; bad label lines and unreadable images are skipped and counted "
                    "(run `check` to list them); exit 1 when an image was unreadable.")
    stats.add_argument("data_yaml", metavar="DATA_YAML", help="the dataset's data.yaml")
    stats.add_argument("--split", default=None, help="only this split (default: all splits)")
    stats.add_argument("--json", metavar="OUT", default=None,
                       help="also write the statistics to this new JSON file")
    stats.add_argument("--quiet", action="store_true", help="no progress bar")
    stats.set_defaults(func=_stats)
    check = actions.add_parser(
        "check", help="list every bad label line and missing label file; exit 1 if any",
        description="Validate every image and label file of every split: bad label lines, "
                    "missing label files, unreadable images, images sharing a file stem, "
                    "label files without an image; zero-size and clipped boxes are warnings. "
                    "Prints one file:line: message per finding; exit status 1 when there is "
                    "any problem (warnings alone exit 0).")
    check.add_argument("data_yaml", metavar="DATA_YAML", help="the dataset's data.yaml")
    check.add_argument("--quiet", action="store_true", help="no progress bar")
    check.set_defaults(func=_check)


def _stats(args: argparse.Namespace) -> int:
    from tecktrack.datasets.dataset import Dataset

    dataset = Dataset.from_yaml(args.data_yaml)
    stats = dataset.stats(args.split, quiet=args.quiet)
    summary = {"data_yaml": str(Path(args.data_yaml).resolve()), "split": args.split,
               **stats.summary(), "background_images": dataset.background_images(args.split)}
    _print_stats(summary, stats.overlap_notes())
    if args.json:
        out = Path(args.json)
        if out.exists():
            raise TeckTrackError(f"refusing to overwrite an existing file: {out}")
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(summary, indent=2), encoding="utf-8")
        print(f"wrote {out}")
    return 1 if summary["unreadable_images"] else 0


def _print_stats(summary: dict, notes: list[str]) -> None:
    split = summary["split"] or "all splits"
    background = summary.get("background_images", 0)
    # a data.yaml dataset counts an image without label file as labelled (background), so
    # unlabelled_images is 0 there: the first line says how many have no file either way
    missing = max(summary["unlabelled_images"], background)
    print(f"{summary['data_yaml']} ({split}): {summary['images']} images "
          f"({missing} without label file), {summary['boxes']} boxes")
    if background and not summary["unlabelled_images"]:
        print(f"{background} images have no label file: background (no objects), as "
              "Ultralytics reads them")
    for note in notes:
        print(note)
    print("\nclass                      instances   images")
    for row in summary["classes"]:
        if row["instances"]:
            print(f"  {row['class_id']:>3} {row['name']:<22} {row['instances']:8d} "
                  f"{row['images']:8d}")
    empty = sum(1 for row in summary["classes"] if not row["instances"])
    if empty:
        print(f"  ({empty} classes without instances)")
    buckets = ", ".join(f"{k} {v}" for k, v in summary["size_buckets"].items())
    print(f"\nCOCO size buckets: {buckets}")
    per_image = ", ".join(f"{k}: {v}" for k, v in summary["objects_per_image"].items())
    print(f"objects per image (objects: images): {per_image}")
    if summary["skipped_label_lines"]:
        print(f"\nskipped {summary['skipped_label_lines']} bad label lines (not counted above; "
              f"`tecktrack dataset check` lists them all), first:", file=sys.stderr)
        for example in summary["skipped_examples"][:3]:
            print(f"  {example}", file=sys.stderr)
    if summary["box_notes"]:
        print(f"\nnote: {summary['box_notes']}", file=sys.stderr)
    if summary["unreadable_images"]:
        print(f"\nskipped {summary['unreadable_images']} unreadable images (not counted "
              "above), first:", file=sys.stderr)
        for example in summary["unreadable_examples"][:3]:
            print(f"  {example}", file=sys.stderr)


def _check(args: argparse.Namespace) -> int:
    import pandas as pd

    from tecktrack.datasets.dataset import WARNING_KINDS, Dataset

    dataset = Dataset.from_yaml(args.data_yaml)
    found = dataset.check(quiet=args.quiet)
    n_images = len({item.image_path for item in dataset.items()})
    for row in found.itertuples(index=False):
        where = row.path if pd.isna(row.line) else f"{row.path}:{row.line}"
        warning = "warning: " if row.kind in WARNING_KINDS else ""
        print(f"{where}: {warning}{row.message}")
    counts = found["kind"].value_counts()
    n_warnings = int(found["kind"].isin(WARNING_KINDS).sum())
    n_problems = len(found) - n_warnings
    warned = "".join(f"; {counts[kind]} {what}" for kind, what in (
        ("box", "box warnings (zero-size or clipped)"),
        ("duplicate_label", "repeated label lines (one object each)")) if counts.get(kind, 0))
    background = dataset.background_images()
    if background:
        print(f"{background} images without a label file: background (no objects), as "
              "Ultralytics reads them")
    if not n_problems:
        print(f"no problems in {n_images} images{warned}")
        return 0
    extra = "".join(f", {counts[kind]} {what}" for kind, what in (
        ("duplicate_stem", "images sharing a stem"),
        ("orphan_label", "label files without an image")) if counts.get(kind, 0))
    print(f"{n_problems} problems in {n_images} images: "
          f"{counts.get('label', 0)} bad label lines, "
          f"{counts.get('missing_label', 0)} missing label files, "
          f"{counts.get('image', 0)} unreadable images{extra}{warned}")
    return 1
