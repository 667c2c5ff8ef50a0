"""``tecktrack val``: predict a dataset split and score it, in COCO's or Ultralytics' convention."""

from __future__ import annotations

import argparse

from tecktrack.commands.options import (
    add_device_option,
    add_model_option,
    add_quiet_option,
)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "val", help="validate a model on a data.yaml split (COCO-exact or yolo val numbers)",
        description="Predict every image of a data.yaml split at conf 0.001 / IoU 0.7 and "
                    "score it. --convention coco (default): the exact COCO engine (12 numbers, "
                    "per-class table). --convention ultralytics: yolo val's numbers (multi-label "
                    "boxes, Ultralytics' matching and AP). Writes the PR curves and the "
                    "confusion matrix as PNG to OUT, and with --json the numbers.")
    add_model_option(parser)
    parser.add_argument("--data", required=True, metavar="DATA_YAML",
                        help="Ultralytics-style data.yaml")
    parser.add_argument("--split", default="val", help="split to validate (val)")
    parser.add_argument("--convention", choices=("coco", "ultralytics"), default="coco",
                        help="coco: pycocotools-exact; ultralytics: yolo val's numbers (coco)")
    parser.add_argument("--json", default=None, metavar="OUT",
                        help="write summary, per_class and params as JSON (a new file)")
    parser.add_argument("--force", action="store_true", help="let --json replace a file")
    parser.add_argument("--out", default=None, metavar="DIR",
                        help="folder for the plots (default: a new results/runs/val-* folder)")
    parser.add_argument("--conf", type=float, default=0.001, help="score threshold (0.001)")
    parser.add_argument("--iou", type=float, default=0.7, help="NMS IoU threshold (0.7)")
    parser.add_argument("--max-det", type=int, default=300, metavar="N",
                        help="most detections per image (300)")
    parser.add_argument("--imgsz", default=None, metavar="N|WxH",
                        help="input size for models with dynamic input shape")
    parser.add_argument("--batch", type=int, default=16, metavar="N",
                        help="yolo val's batch (16): with --convention ultralytics on a dynamic "
                             "export the images of a batch share a rect shape, as in yolo val")
    parser.add_argument("--backend", choices=("auto", "opencv", "onnxruntime"), default="auto",
                        help="inference backend (auto)")
    add_device_option(parser)
    parser.add_argument("--half", action="store_true", help="run the network in float16")
    add_quiet_option(parser)
    parser.set_defaults(func=_val)


def _plots(result, out) -> list:
    import matplotlib

    matplotlib.use("Agg")
    from tecktrack.lab.plots import confusion_heatmap, pr_curves_plot
    from tecktrack.lab.report import save_figure
    from tecktrack.metrics import confusion_matrix, pr_curves

    curves = pr_curves(result.gt, result.preds, names=result.names)
    maps = result.per_class.set_index("class")["mAP50"]
    saved = [save_figure(pr_curves_plot({"PR curves at IoU 0.5": curves},
                                        {"PR curves at IoU 0.5": maps}), "pr_curves", out)]
    cm = confusion_matrix(result.gt, result.preds, conf=0.25, iou=0.45, names=result.names)
    saved.append(save_figure(confusion_heatmap(cm, "confusion matrix (conf 0.25, IoU 0.45)"),
                             "confusion_matrix", out))
    return saved


def _val(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    import pandas as pd

    from tecktrack.errors import EvaluationError
    from tecktrack.inference.validation import validate
    from tecktrack.metrics.report import frame_records, write_report
    from tecktrack.model import load_model
    from tecktrack.paths import new_run_dir

    model = load_model(args.model, conf=args.conf, iou=args.iou, max_det=args.max_det,
                       imgsz=args.imgsz, backend=args.backend, device=args.device,
                       half=args.half)
    print(f"{model} on {model.device} ({model.backend.provider}), conf {model.conf:g}, "
          f"IoU {model.iou:g}, {args.convention} convention")
    if args.batch < 1:
        raise EvaluationError(f"--batch must be at least 1, got {args.batch}")
    result = validate(model, args.data, split=args.split, convention=args.convention,
                      quiet=args.quiet, batch=args.batch)
    for problem in result.skipped:
        print(f"skipped: {problem}")
    if result.background:
        print(f"note: {result.background} image(s) without a label file counted as background")
    if result.duplicates:
        print(f"note: {result.duplicates} repeated label row(s) left out (one box each, as "
              "Ultralytics reads them)")
    for key, value in result.summary.items():
        print(f"{key:>10s} = {value:.4f}")
    with pd.option_context("display.max_rows", None, "display.width", 120,
                           "display.float_format", "{:.3f}".format):
        print(result.per_class.to_string(index=False))
    out = Path(args.out) if args.out else new_run_dir(prefix="val-")
    for path in _plots(result, out):
        print(f"plot: {path}")
    if args.json:
        report = {"convention": result.convention, "model": str(args.model),
                  "data": str(args.data), "split": args.split, "summary": result.summary,
                  "per_class": frame_records(result.per_class.reset_index(drop=True), "row"),
                  "params": {"conf": model.conf, "iou": model.iou, "max_det": model.max_det,
                             "device": model.device, "batch": args.batch},
                  "images": len(result.gt), "background_images": result.background,
                  "duplicate_labels": result.duplicates,
                  "skipped": result.skipped}
        path = write_report(args.json, json.loads(json.dumps(report, default=float)),
                            inputs=(args.model, args.data), force=args.force)
        print(f"wrote {path}")
    return 1 if result.skipped else 0
