"""``tecktrack compare``: two models on the same ground truth, with the interval of the
difference (paired bootstrap over images) and the TIDE error breakdown of each."""

from __future__ import annotations

import argparse
from pathlib import Path

#: What ``compare`` writes into ``--out``.
OUTPUTS = ("compare.json", "compare.csv", "compare_pr_curves.png", "compare_pr_grid.png",
           "compare_errors.png", "compare_class_ap.png")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "compare", help="compare two models: COCO numbers, interval of the difference, errors",
        description="Evaluate two models' predictions (--pred A --pred B) against the same "
                    "ground truth. GT and PRED take every form 'tecktrack evaluate' reads. "
                    "Writes OUT/compare.json (12 COCO numbers per model with 95%% intervals, "
                    "the difference B - A with its interval and the share of resamples in "
                    "which B beats A, TIDE dAP per error type), OUT/compare.csv and PNGs: "
                    "mean PR curves overlaid, per-class PR grid, dAP bars, per-class AP "
                    "differences with intervals.",
    )
    parser.add_argument("--gt", required=True, metavar="GT",
                        help="COCO ground-truth .json, data.yaml, or YOLO label folder")
    parser.add_argument("--pred", required=True, action="append", metavar="PRED",
                        help="predictions of a model (give it twice: A, then B)")
    parser.add_argument("--names", nargs=2, default=None, metavar=("A", "B"),
                        help="display names of the two models (default: the file names)")
    parser.add_argument("--bootstrap", type=int, default=1000, metavar="N",
                        help="image resamples for the intervals (1000; 0: none)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the resamples (0)")
    parser.add_argument("--out", required=True, metavar="DIR", help="folder for the outputs")
    parser.add_argument("--force", action="store_true",
                        help="replace outputs already in DIR (never an input)")
    parser.add_argument("--classes", default=None, metavar="DATA_YAML",
                        help="data.yaml with the class names (and, for label folders, images)")
    parser.add_argument("--images", default=None, metavar="DIR|DATA_YAML",
                        help="images giving the sizes of a YOLO label folder")
    parser.add_argument("--split", default="val", help="data.yaml split to evaluate (val)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(func=_compare)


def _model_names(args: argparse.Namespace) -> tuple[str, str]:
    if args.names:
        a, b = args.names
    else:
        a, b = (Path(p).stem or Path(p).name for p in args.pred)
    return (a, b) if a != b else (f"A ({a})", f"B ({b})")


def _targets(args: argparse.Namespace) -> list[Path]:
    """The output paths, checked: no input among them, none existing without --force."""
    from tecktrack.errors import EvaluationError

    out = Path(args.out)
    paths = [out / name for name in OUTPUTS]
    inputs = {Path(p).resolve() for p in [args.gt, *args.pred]}
    for path in paths:
        if path.resolve() in inputs:
            raise EvaluationError("an output would overwrite an input file; refusing", path)
    existing = [p.name for p in paths if p.exists()]
    if existing and not args.force:
        raise EvaluationError(f"{len(existing)} output(s) exist already ({', '.join(existing)});"
                              " pass --force to replace them", out)
    return paths


def _load(args: argparse.Namespace):
    from tecktrack.errors import EvaluationError
    from tecktrack.metrics.loaders import load_inputs

    loaded = [load_inputs(args.gt, p, images=args.images, names=args.classes, split=args.split,
                          quiet=args.quiet) for p in args.pred]
    if list(loaded[0].gt) != list(loaded[1].gt):
        raise EvaluationError("the two predictions were read against different image sets",
                              args.gt)
    return loaded


def _csv_frame(comparison):
    import pandas as pd

    summary = comparison.summary_table()
    classes = comparison.class_table()
    classes.index = [f"AP[{c}]" for c in classes.index]
    errors = comparison.errors_table()
    errors.index = [f"dAP {e}" if e in comparison.errors[comparison.names[0]].dap else str(e)
                    for e in errors.index]
    a, b = comparison.names
    errors["diff"] = errors[b] - errors[a]
    frame = pd.concat([summary, classes, errors])
    frame.index.name = "quantity"
    return frame


def _figures(comparison, inputs, paths: list[Path]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from tecktrack.lab import eval_plots
    from tecktrack.metrics import pr_curves

    gt = inputs[0].gt
    curves = {n: pr_curves(gt, i.preds, names=i.names, areas=i.areas, iscrowd=i.iscrowd,
                           exact=i.exact)
              for n, i in zip(comparison.names, inputs, strict=True)}
    maps = {n: comparison.evaluations[n].per_class.set_index("class")["mAP50"]
            for n in comparison.names}
    a, b = comparison.names
    figures = [eval_plots.mean_pr_plot(curves, maps), eval_plots.pr_curves_grid(curves, maps),
               eval_plots.error_bars_plot(comparison.errors_table()),
               eval_plots.class_diff_plot(comparison.class_table(),
                                          f"per-class AP (0.50:0.95): {b} - {a}, 95% interval")]
    for fig, path in zip(figures, paths, strict=True):
        fig.savefig(path, dpi=110, bbox_inches="tight")
        plt.close(fig)


def _compare(args: argparse.Namespace) -> int:
    import json

    import pandas as pd

    from tecktrack.errors import EvaluationError
    from tecktrack.metrics import compare_models

    if len(args.pred) != 2:
        raise EvaluationError(f"give --pred exactly twice (model A, then B), got "
                              f"{len(args.pred)}")
    if args.bootstrap < 0:
        raise EvaluationError(f"--bootstrap must be >= 0, got {args.bootstrap}")
    paths = _targets(args)
    inputs = _load(args)
    for name, i in zip(("A", "B"), inputs, strict=True):
        for note in i.notes:
            print(f"note ({name}): {note}")
    names = _model_names(args)
    first = inputs[0]
    comparison = compare_models(
        first.gt, {n: i.preds for n, i in zip(names, inputs, strict=True)},
        n_resamples=args.bootstrap, seed=args.seed, names=first.names, areas=first.areas,
        iscrowd=first.iscrowd, quiet=args.quiet,
        exact={n: i.exact for n, i in zip(names, inputs, strict=True)})
    report = {**comparison.to_dict(), "inputs": {"gt": str(args.gt),
                                                 "pred": [str(p) for p in args.pred]},
              "notes": [n for i in inputs for n in i.notes]}
    paths[0].parent.mkdir(parents=True, exist_ok=True)
    paths[0].write_text(json.dumps(report, indent=2, allow_nan=False), encoding="utf-8")
    _csv_frame(comparison).to_csv(paths[1], float_format="%.6f")
    _figures(comparison, inputs, paths[2:])
    with pd.option_context("display.width", 140, "display.max_columns", 20,
                           "display.float_format", "{:.3f}".format):
        interval = (f"95% intervals from {comparison.n_resamples} paired image resamples, "
                    f"seed {args.seed}" if comparison.n_resamples else "no intervals")
        print(f"{names[1]} - {names[0]} ({interval}):")
        print(comparison.summary_table().to_string())
        print("\nTIDE dAP (AP50 gained by fixing each error type alone):")
        print(comparison.errors_table().to_string())
    print("\nwrote " + ", ".join(str(p) for p in paths))
    return 0
