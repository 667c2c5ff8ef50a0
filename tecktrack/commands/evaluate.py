"""``tecktrack evaluate``: COCO summary, YOLO per-class table, P/R and confusion from files."""

from __future__ import annotations

import argparse
from pathlib import Path

from tecktrack.commands.options import add_cluster_option


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
    parser.add_argument("--errors", action="store_true",
                        help="TIDE error breakdown (dAP of Cls, Loc, Both, Dupe, Bkg, Miss, "
                             "FalsePos, FalseNeg) and AP by object size per class; adds "
                             "'errors', 'error_counts' and 'per_class_size' to --json")
    parser.add_argument("--bootstrap", type=int, default=0, metavar="N",
                        help="95%% intervals of the 12 COCO numbers and per-class AP from N "
                             "image resamples (0: none); adds 'bootstrap' to --json")
    parser.add_argument("--seed", type=int, default=0, help="seed of the resamples (0)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    add_cluster_option(parser)  # --cluster, --shard-size (#16)
    parser.set_defaults(func=_evaluate)


def _check_thresholds(args: argparse.Namespace) -> None:
    from tecktrack.errors import EvaluationError

    if not 0.0 < args.iou <= 1.0:
        raise EvaluationError(f"--iou must be in (0, 1], got {args.iou}")
    if not 0.0 <= args.conf <= 1.0:
        raise EvaluationError(f"--conf must be in [0, 1], got {args.conf}")
    if args.bootstrap < 0:
        raise EvaluationError(f"--bootstrap must be >= 0, got {args.bootstrap}")


def _print_frame(frame, title: str) -> None:
    import pandas as pd

    with pd.option_context("display.max_rows", None, "display.width", 120,
                           "display.float_format", "{:.3f}".format):
        print(f"\n{title}")
        print(frame.to_string())


def _explain(args: argparse.Namespace, inputs, ev, report: dict) -> None:
    """--errors and --bootstrap: print the tables and add them to the JSON report."""
    from tecktrack.metrics import bootstrap_intervals, class_size_table, error_breakdown
    from tecktrack.metrics.report import frame_records

    if args.errors:
        errors = error_breakdown(inputs.gt, inputs.preds, names=inputs.names,
                                 iscrowd=inputs.iscrowd, exact=inputs.exact)
        _print_frame(errors.table(), f"TIDE errors (AP50 {errors.ap50:.3f}; dAP = AP50 gained "
                                     "by fixing that kind alone):")
        sizes = class_size_table(ev)
        _print_frame(sizes.set_index("class"), "AP by object size and AR@100 per class:")
        report.update(errors=errors.to_dict(), error_counts=dict(errors.counts),
                      per_class_size=frame_records(sizes, "class_id"))
    if args.bootstrap:
        boot = bootstrap_intervals(inputs.gt, inputs.preds, n_resamples=args.bootstrap,
                                   seed=args.seed, names=inputs.names, areas=inputs.areas,
                                   iscrowd=inputs.iscrowd, quiet=args.quiet,
                                   exact=inputs.exact)
        _print_frame(boot.summary_intervals(), f"95% intervals over {args.bootstrap} image "
                                               f"resamples (seed {args.seed}):")
        _print_frame(boot.class_intervals().set_index("class"), "per-class AP intervals:")
        report["bootstrap"] = boot.to_dict()


def _evaluate(args: argparse.Namespace) -> int:
    import pandas as pd

    from tecktrack.commands.options import cluster_from_args
    from tecktrack.errors import EvaluationError
    from tecktrack.metrics import confusion_matrix, evaluate, precision_recall
    from tecktrack.metrics.loaders import load_inputs
    from tecktrack.metrics.report import evaluation_report, write_report

    _check_thresholds(args)
    if args.json:   # refuse before any long work, as write_report would afterwards
        target = Path(args.json).resolve()
        if any(target == Path(p).resolve() for p in (args.gt, args.pred)):
            raise EvaluationError("--json would overwrite an input file; refusing", args.json)
        if target.exists() and not args.force:
            raise EvaluationError("--json file exists already; pass --force to replace it",
                                  args.json)
    inputs = load_inputs(args.gt, args.pred, images=args.images, names=args.names,
                         split=args.split, quiet=args.quiet)
    for note in inputs.notes:
        print(f"note: {note}")
    common = {"names": inputs.names, "iscrowd": inputs.iscrowd, "exact": inputs.exact}
    cluster = cluster_from_args(args)
    if cluster is not None:  # matched on Dask workers, reduced here: the same numbers (#16)
        ev, pr, cm = _on_cluster(inputs, args, cluster)
    else:
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
    report = evaluation_report(ev, pr, cm, conf=args.conf, iou=args.iou, notes=inputs.notes)
    _explain(args, inputs, ev, report)
    if args.json:
        path = write_report(args.json, report, inputs=(args.gt, args.pred), force=args.force)
        print(f"\nwrote {path}")
    for problem in inputs.unreadable:
        print(f"skipped: {problem}")
    return 1 if inputs.unreadable else 0


def _on_cluster(inputs, args: argparse.Namespace, cluster: str):
    from tecktrack.metrics.sharded import evaluate_sharded

    r = evaluate_sharded(inputs.gt, inputs.preds, names=inputs.names, areas=inputs.areas,
                         iscrowd=inputs.iscrowd, ap_method=args.ap, exact=inputs.exact,
                         conf=args.conf, iou=args.iou, cluster=cluster,
                         shard_size=args.shard_size, quiet=args.quiet)
    return r.evaluation, r.precision_recall, r.confusion
