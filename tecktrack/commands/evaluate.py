"""``tecktrack evaluate``: COCO summary, YOLO per-class table, P/R and confusion from files."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "evaluate", help="score predictions against ground truth (COCO-exact mAP, P/R, confusion)",
        description="Evaluate predictions against ground truth. GT and PRED are either a COCO "
                    "ground-truth JSON and a COCO results JSON, or YOLO: GT a data.yaml (its "
                    "--split) or a label folder (sizes from --images), PRED a folder of "
                    "<stem>.txt files 'class cx cy w h conf'. Prints the 12 COCO numbers, the "
                    "per-class table and precision/recall at --conf/--iou. Images that "
                    "cannot be read are left out and named; the exit status is then 1.",
    )
    parser.add_argument("--gt", required=True, metavar="GT",
                        help="COCO ground-truth .json, data.yaml, or YOLO label folder")
    parser.add_argument("--pred", required=True, metavar="PRED",
                        help="COCO results .json or folder of YOLO prediction .txt files")
    parser.add_argument("--names", default=None, metavar="DATA_YAML",
                        help="data.yaml with the class names (and, for label folders, images)")
    parser.add_argument("--images", default=None, metavar="DIR|DATA_YAML",
                        help="images giving the sizes of a YOLO label folder")
    parser.add_argument("--split", default="val", help="data.yaml split to evaluate (val)")
    parser.add_argument("--iou", type=float, default=0.5,
                        help="IoU threshold of the P/R table and confusion matrix (0.5)")
    parser.add_argument("--conf", type=float, default=0.5,
                        help="score threshold of the P/R table and confusion matrix (0.5)")
    parser.add_argument("--ap", choices=("coco", "voc"), default="coco",
                        help="AP interpolation: COCO 101-point or VOC all-point (coco)")
    parser.add_argument("--json", default=None, metavar="OUT",
                        help="write summary, per_class, precision_recall and confusion as JSON "
                             "(a new file; see --force)")
    parser.add_argument("--force", action="store_true",
                        help="let --json replace an existing file (never an input)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(func=_evaluate)


def _check_thresholds(args: argparse.Namespace) -> None:
    from tecktrack.errors import EvaluationError

    if not 0.0 < args.iou <= 1.0:
        raise EvaluationError(f"--iou must be in (0, 1], got {args.iou}")
    if not 0.0 <= args.conf <= 1.0:
        raise EvaluationError(f"--conf must be in [0, 1], got {args.conf}")


def _evaluate(args: argparse.Namespace) -> int:
    import pandas as pd

    from tecktrack.metrics import confusion_matrix, evaluate, precision_recall
    from tecktrack.metrics.loaders import load_inputs
    from tecktrack.metrics.report import evaluation_report, write_report

    _check_thresholds(args)
    inputs = load_inputs(args.gt, args.pred, images=args.images, names=args.names,
                         split=args.split, quiet=args.quiet)
    for note in inputs.notes:
        print(f"note: {note}")
    common = {"names": inputs.names, "iscrowd": inputs.iscrowd, "exact": inputs.exact}
    ev = evaluate(inputs.gt, inputs.preds, areas=inputs.areas, ap_method=args.ap, **common)
    pr = precision_recall(inputs.gt, inputs.preds, conf=args.conf, iou=args.iou,
                          areas=inputs.areas, **common)
    cm = confusion_matrix(inputs.gt, inputs.preds, conf=args.conf, iou=args.iou, **common)
    print(ev.format_summary())
    with pd.option_context("display.max_rows", None, "display.width", 120,
                           "display.float_format", "{:.3f}".format):
        print(f"\nper class (P, R at conf {ev.conf:.3f}, best mean F1 at IoU 0.5):")
        print(ev.yolo_table().to_string(index=False))
        print(f"\nprecision / recall at conf >= {args.conf:g}, IoU >= {args.iou:g}:")
        print(pr.to_string())
    if args.json:
        report = evaluation_report(ev, pr, cm, conf=args.conf, iou=args.iou, notes=inputs.notes)
        path = write_report(args.json, report, inputs=(args.gt, args.pred), force=args.force)
        print(f"\nwrote {path}")
    for problem in inputs.unreadable:
        print(f"skipped: {problem}")
    return 1 if inputs.unreadable else 0
