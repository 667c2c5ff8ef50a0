"""``tecktrack clean``: find misfiled images in positive/background folders with a detector."""

from __future__ import annotations

import argparse
import shlex
from pathlib import Path

from tecktrack.commands.options import add_detector_options, add_model_option, add_quiet_option


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "clean", help="find (and move, with undo) misfiled images in a positive/background "
                      "folder layout using a detector",
        description="FOLDER holds background/ and one positive sub-folder. A detector decides "
                    "per image (a detection with confidence >= --conf, of --class or any class)."
                    " Prints TP/TN/FP/FN and the images to move. Dry run by default; --apply "
                    "moves them and writes a manifest (source, destination, sha256) beside "
                    "FOLDER; --undo MANIFEST restores; --resume MANIFEST finishes an "
                    "interrupted --apply. Nothing is deleted or overwritten. When FOLDER holds "
                    "the manifest.json of `tecktrack synth folders`, the precision and recall "
                    "of the proposed moves are printed too. `tecktrack clean apply --review "
                    "FILE` applies the accepted decisions of a review file (JSON lines written "
                    "by the review queue of notebook 06) to the label files, with a record that "
                    "--undo / --resume take as well.",
    )
    parser.add_argument("folder", help="folder with background/ and the positive folder, or "
                                       "`apply` with --review FILE")
    parser.add_argument("--review", metavar="FILE", default=None,
                        help="with `apply`: the review file whose accepted decisions (Apply "
                             "suggestion, Delete box) change the label files")
    add_model_option(parser, required=False)
    parser.add_argument("--class", dest="class_name", default=None,
                        help="only detections of this class count (default: any class)")
    add_detector_options(parser, conf=0.5, iou=None, conf_help="confidence threshold (0.5)")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--apply", action="store_true", help="move the files, write a manifest")
    mode.add_argument("--undo", metavar="MANIFEST", help="restore the moves of a manifest")
    mode.add_argument("--resume", metavar="MANIFEST", help="finish an interrupted --apply")
    add_quiet_option(parser)
    parser.set_defaults(func=_clean)


def _clean(args: argparse.Namespace) -> int:
    from tecktrack.cleaning.moves import apply_manifest, undo_manifest
    from tecktrack.cleaning.review import is_review_record, resume_review, undo_review
    from tecktrack.errors import TeckTrackError

    bare_apply = args.folder == "apply" and not Path(args.folder).is_dir()
    if args.review is not None or bare_apply and not (args.undo or args.resume):
        return _apply_review(args)
    if args.undo or args.resume:
        path = args.undo or args.resume
        if is_review_record(path):
            done = (undo_review(path, quiet=args.quiet) if args.undo
                    else resume_review(path, quiet=args.quiet))
        else:
            done = (undo_manifest(path, quiet=args.quiet) if args.undo
                    else apply_manifest(path, quiet=args.quiet))
        print(", ".join(f"{k}: {v}" for k, v in done.items()))
        return 0
    if not args.model:
        raise TeckTrackError("--model is required (except with --undo or --resume)")
    if not 0 <= args.conf <= 1:
        raise TeckTrackError(f"--conf must be in [0, 1], got {args.conf}")
    frame = _decide(args)
    moves = frame[frame["move_to"] != ""]
    if not args.apply:
        print("dry run: nothing moved (use --apply)")
        return 0
    if moves.empty:
        print("nothing to move")
        return 0
    return _apply(args, moves)


def _decide(args: argparse.Namespace):
    from tecktrack.cleaning.plan import (
        classify_images,
        folder_layout,
        misfiled_scores,
        outcome_counts,
        score_images,
    )
    from tecktrack.model import load_model

    layout = folder_layout(args.folder)
    model = load_model(args.model, backend=args.backend, conf=min(args.conf, 0.05))
    scores = score_images(model, layout.images, class_name=args.class_name, quiet=args.quiet)
    frame = classify_images(layout, scores, args.conf)
    counts = outcome_counts(frame)
    print(f"{len(frame)} images: " + ", ".join(f"{k} {v}" for k, v in counts.items())
          + f" (folders as labels; positive folder: {layout.positive.name}/)")
    moves = frame[frame["move_to"] != ""]
    print(f"{len(moves)} to move:")
    for row in moves.itertuples():
        print(f"  {row.outcome}  {row.image} -> {row.move_to}  (score {row.score:.3f})")
    links = frame[frame["linked"] & frame["outcome"].isin(["FN", "FP"])]
    if len(links):
        print(f"{len(links)} flagged image(s) left in place because they are symbolic links "
              f"(a move would move the file each points to), e.g. {links['image'].iloc[0]}")
    truth = Path(args.folder) / "manifest.json"
    if truth.is_file():
        s = misfiled_scores(frame, truth)
        print(f"against {truth}: precision {s['precision']:.3f}, recall {s['recall']:.3f} "
              f"({s['correct']} of {s['flagged']} flagged are among {s['misfiled']} misfiled)")
    return frame


def _apply(args: argparse.Namespace, moves) -> int:
    from tecktrack.cleaning.moves import apply_manifest, write_manifest

    manifest = write_manifest(list(zip(moves["image"], moves["move_to"], strict=True)),
                              args.folder)
    print(f"manifest: {manifest}")
    done = apply_manifest(manifest, quiet=args.quiet)
    print(", ".join(f"{k}: {v}" for k, v in done.items()))
    print(f"undo with: tecktrack clean {shlex.quote(str(args.folder))} --undo "
          f"{shlex.quote(str(manifest))}")
    return 0


def _apply_review(args: argparse.Namespace) -> int:
    import json

    from tecktrack.cleaning.review import apply_review
    from tecktrack.errors import TeckTrackError

    if args.folder != "apply" or args.review is None:
        raise TeckTrackError("a review file is applied with `tecktrack clean apply --review FILE`")
    if args.apply or args.undo or args.resume or args.model:
        raise TeckTrackError("`clean apply --review` takes no --apply/--undo/--resume/--model "
                             "(undo with `tecktrack clean apply --undo RECORD`)")
    record = apply_review(args.review, quiet=args.quiet)
    data = json.loads(record.read_text(encoding="utf-8"))
    print(f"applied {data['decisions']} accepted decision(s) to {data['files']} label file(s)")
    print(f"record: {record}")
    print(f"undo with: tecktrack clean apply --undo {shlex.quote(str(record))}")
    return 0
