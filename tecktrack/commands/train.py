"""``tecktrack train``: train a demo detector (needs the ``[train]`` extra: torch)."""

from __future__ import annotations

import argparse
import os
import shlex
import sys


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "train", help="train a demo detector (n: model 1, s: model 2) and export it to ONNX",
        description="Train the small (n) or larger (s) TeckTrack demo detector on the train "
                    "split of DATA_YAML, export model.onnx (YOLOv8 output layout) and "
                    "model.yaml (names, input size, seed, command, val mAP) into --out. "
                    "Needs torch: pip install 'tecktrack[train]'.",
    )
    parser.add_argument("--data", required=True, help="ultralytics-style data.yaml")
    parser.add_argument("--extra-train", action="append", default=[], metavar="DATA_YAML",
                        help="another data.yaml whose train split joins the training images "
                             "(repeatable; e.g. more synthetic images from another seed)")
    parser.add_argument("--size", required=True, choices=("n", "s"),
                        help="network size: n (model 1, smaller) or s (model 2, larger)")
    parser.add_argument("--epochs", type=int, default=None,
                        help="passes over the train split (default: 18 for n, 22 for s: "
                             "the shipped models' schedule on 4,200 images, see make models)")
    parser.add_argument("--seed", type=int, default=0, help="seed of init, shuffling, augmentation")
    parser.add_argument("--batch-size", type=int, default=8, help="images per step (default 8)")
    parser.add_argument("--repeat-threshold", type=float, default=0.0, metavar="T",
                        help="class-balanced sampling: images holding a class present in "
                             "fewer than this fraction of training images are drawn up to "
                             "sqrt(T/f) times as often (LVIS repeat factors; default 0: off)")
    parser.add_argument("--threads", type=int, default=2,
                        help="torch CPU threads (default 2); results are reproducible for a "
                             "given seed and thread count")
    parser.add_argument("--out", default=None,
                        help="model folder to create (default: models/demo-<size>); "
                             "an existing model is never overwritten")
    parser.add_argument("--val-every", type=int, default=0, metavar="K",
                        help="print val mAP every K epochs (default 0: only at the end)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars or epoch lines")
    parser.set_defaults(func=_train)
    check = subparsers.add_parser(
        "check-model", help="measure a trained model's mAP (val + an unseen seed) and record it",
        description="Run tecktrack predict + tecktrack evaluate on the val split of DATA_YAML "
                    "and on a synthetic dataset rendered with --unseen-seed, and record both "
                    "under 'training' in MODEL/model.yaml.",
    )
    check.add_argument("model", metavar="MODEL", help="model folder written by tecktrack train")
    check.add_argument("--data", required=True, help="the data.yaml the model was trained on")
    check.add_argument("--unseen-seed", type=int, default=7,
                       help="synthetic seed never used in training (default 7)")
    check.add_argument("--unseen-images", type=int, default=400,
                       help="images rendered with that seed (default 400)")
    check.add_argument("--unseen-split", default="train",
                       help="split of the unseen dataset to measure (default train: 70%%)")
    check.set_defaults(func=_check)


def _train(args: argparse.Namespace) -> int:
    from tecktrack.errors import TeckTrackError

    # Idle OpenMP threads sleep instead of spinning: on a shared CPU, spinning threads
    # burnt 5x the CPU time per step for the same work.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    try:
        import torch  # noqa: F401
    except ImportError:
        raise TeckTrackError("training needs torch: pip install 'tecktrack[train]'") from None
    from tecktrack.paths import models_dir
    from tecktrack.train.engine import TrainConfig
    from tecktrack.train.pipeline import DEFAULT_EPOCHS, train_detector

    epochs = args.epochs if args.epochs is not None else DEFAULT_EPOCHS[args.size]
    if not 0.0 <= args.repeat_threshold <= 1.0:
        raise TeckTrackError(f"--repeat-threshold must be in [0, 1], got {args.repeat_threshold}")
    if args.threads < 1:
        raise TeckTrackError(f"--threads must be at least 1, got {args.threads}")
    if epochs < 1 or args.batch_size < 1:
        raise TeckTrackError(f"--epochs and --batch-size must be at least 1, got {epochs} "
                             f"and {args.batch_size}")
    out = args.out or str(models_dir() / f"demo-{args.size}")
    argv = ["tecktrack", "train", "--data", args.data, "--size", args.size, "--epochs",
            str(epochs), "--seed", str(args.seed)]
    argv += ["--batch-size", str(args.batch_size)] if args.batch_size != 8 else []
    argv += ["--repeat-threshold", str(args.repeat_threshold)] if args.repeat_threshold else []
    argv += ["--threads", str(args.threads)] if args.threads != 2 else []
    for extra in args.extra_train:
        argv += ["--extra-train", extra]
    command = shlex.join(argv + (["--out", args.out] if args.out else []))

    def report(log, metrics) -> None:
        if args.quiet:
            return
        line = (f"epoch {log.epoch}/{epochs}: loss {log.loss:.3f} (cls {log.cls:.3f}, "
                f"box {log.box:.3f}) lr {log.lr:.2e} {log.seconds:.0f} s")
        if metrics is not None:
            line += f"; val mAP50 {metrics['mAP50']:.3f} mAP50-95 {metrics['mAP50-95']:.3f}"
        print(line, flush=True)

    config = TrainConfig(size=args.size, epochs=epochs, seed=args.seed,
                         batch_size=args.batch_size, repeat_threshold=args.repeat_threshold,
                         threads=args.threads)
    result = train_detector(args.data, out, config, command, quiet=args.quiet, on_epoch=report,
                            val_every=args.val_every, extra_train=args.extra_train)
    print(f"wrote {result.folder}/model.onnx and model.yaml after "
          f"{result.seconds / 60:.1f} min; val mAP50 {result.metrics['mAP50']:.3f}, "
          f"mAP50-95 {result.metrics['mAP50-95']:.3f}", file=sys.stdout)
    return 0


def _check(args: argparse.Namespace) -> int:
    from tecktrack.commands.model_check import check_model

    training = check_model(args.model, args.data, args.unseen_seed, args.unseen_images,
                           args.unseen_split)
    for key in ("val", "unseen"):
        figures = training[key]
        print(f"{key}: mAP50 {figures['mAP50']:.3f}, mAP50-95 {figures['mAP50-95']:.3f}")
    print(f"recorded in {args.model}/model.yaml")
    return 0
