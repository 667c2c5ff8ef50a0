"""``tecktrack predict``: run a detector over an image or a folder of images."""

from __future__ import annotations

import argparse

from tecktrack.commands.options import (
    add_cluster_option,
    add_detector_options,
    add_device_option,
    add_model_option,
    add_nms_options,
    add_quiet_option,
    cluster_from_args,
    model_settings,
)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "predict", help="run a YOLO detector on images; write YOLO labels + summary.json",
        description="Run a model (name under models/, a folder, or a .onnx/.cfg file) on an "
                    "image or a folder of images. Writes OUT/labels/<stem>.txt (class cx cy w h "
                    "conf; an empty file when nothing is detected), optional annotated images in "
                    "OUT/images, and OUT/summary.json (images, detections, mean ms per image by "
                    "stage).",
    )
    add_model_option(parser)
    parser.add_argument("--source", required=True, metavar="IMAGE|DIR",
                        help="an image file or a folder of images (searched recursively)")
    parser.add_argument("--out", default=None, metavar="DIR",
                        help="output folder (default: a new results/runs/predict-* folder)")
    add_detector_options(parser, iou="model")
    add_nms_options(parser)
    add_device_option(parser)
    parser.add_argument("--imgsz", default=None, metavar="N|WxH",
                        help="input size for models with dynamic input shape")
    parser.add_argument("--threads", type=int, default=None, help="backend thread count")
    parser.add_argument("--save-images", action="store_true",
                        help="also write annotated images to OUT/images")
    parser.add_argument("--no-overlap", dest="overlap", action="store_false",
                        help="decode, predict and write one image after the other (default: "
                             "decode the next image while a helper thread predicts the last "
                             "one, where the process may use more than one core)")
    add_quiet_option(parser)
    add_cluster_option(parser)  # --cluster, --shard-size (#16)
    parser.set_defaults(func=_predict)


def _output_folder(out: str | None):
    from pathlib import Path

    from tecktrack.errors import DatasetError
    from tecktrack.paths import new_run_dir

    if out is None:
        return new_run_dir(prefix="predict-")
    folder = Path(out)
    if (folder / "summary.json").exists() or (folder / "labels").exists():
        raise DatasetError("already holds prediction results; choose another --out", folder)
    return folder


def _predict(args: argparse.Namespace) -> int:
    from tecktrack.inference.batch import predict_images, source_images
    from tecktrack.model import load_model

    cluster = cluster_from_args(args)
    images, root = source_images(args.source)
    model = load_model(args.model, **model_settings(args))
    out = _output_folder(args.out)
    summary = predict_images(model, images, root, out, save_images=args.save_images,
                             quiet=args.quiet, cluster=cluster, shard_size=args.shard_size,
                             overlap=None if args.overlap else False)
    ms = summary["mean_ms_per_image"]
    overlapped = (f"; {summary['wall_ms_per_image']:.1f} ms/image with decoding overlapped"
                  if summary["overlap"] else "")
    print(f"{summary['images']} images, {summary['detections']} detections "
          f"({model.backend_name}, {ms['total']:.1f} ms/image, forward {ms['forward']:.1f} ms"
          f"{overlapped})")
    if args.device != "cpu":
        print(f"device: {model.device} ({model.backend.provider})")
    for problem in summary["unreadable"]:
        print(f"skipped: {problem}")
    print(f"results: {out}")
    return 1 if summary["unreadable"] else 0
