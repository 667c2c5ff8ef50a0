"""Argument helpers the sub-commands share: the ``--model`` option and the detector settings.

Every command that runs a detector declares ``--model`` (and, where it has them, ``--conf``,
``--iou``, ``--backend``) through these helpers, so the flags read the same everywhere.
"""

from __future__ import annotations

import argparse

__all__ = ["MODEL_HELP", "add_cluster_option", "add_detector_options", "add_device_option",
           "add_model_option", "add_nms_options", "add_quiet_option", "cluster_from_args",
           "model_settings"]

#: What ``--model`` accepts, in every command's help.
MODEL_HELP = "model name under models/, a model folder, or a .onnx/.cfg file"


def add_model_option(parser: argparse.ArgumentParser, *, required: bool = True,
                     help: str | None = None) -> None:
    """Add ``--model NAME_OR_PATH`` (a name under ``models/``, a folder, a .onnx/.cfg file).

    Examples
    --------
    >>> p = argparse.ArgumentParser(); add_model_option(p)
    >>> p.parse_args(["--model", "demo-n"]).model
    'demo-n'
    """
    parser.add_argument("--model", required=required, default=None, metavar="NAME_OR_PATH",
                        help=help or MODEL_HELP)


def add_detector_options(parser: argparse.ArgumentParser, *, conf: float = 0.25,
                         iou: float | str | None = 0.45, backend: bool = True,
                         conf_help: str | None = None) -> None:
    """Add ``--conf`` (and ``--iou`` unless ``iou=None``, ``--backend`` unless False).

    ``iou="model"`` leaves ``--iou`` unset by default so that the model's own default applies
    (0.7 for Ultralytics exports, 0.45 for the others).

    Examples
    --------
    >>> p = argparse.ArgumentParser(); add_detector_options(p, conf=0.5, iou=None)
    >>> vars(p.parse_args([]))
    {'conf': 0.5, 'backend': 'auto'}
    """
    parser.add_argument("--conf", type=float, default=conf,
                        help=conf_help or f"score threshold ({conf:g})")
    if iou == "model":
        parser.add_argument("--iou", type=float, default=None,
                            help="NMS IoU threshold (default: 0.7 for Ultralytics exports, as "
                                 "Ultralytics; 0.45 for Darknet and other models)")
    elif iou is not None:
        parser.add_argument("--iou", type=float, default=iou, help=f"NMS IoU threshold ({iou:g})")
    if backend:
        parser.add_argument("--backend", choices=("auto", "opencv", "onnxruntime"),
                            default="auto",
                            help="inference backend (auto: ONNX Runtime for .onnx, OpenCV for "
                                 "Darknet)")


def add_quiet_option(parser: argparse.ArgumentParser) -> None:
    """Add ``--quiet`` (no progress bar).

    Examples
    --------
    >>> p = argparse.ArgumentParser(); add_quiet_option(p)
    >>> p.parse_args(["--quiet"]).quiet
    True
    """
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def add_cluster_option(parser: argparse.ArgumentParser) -> None:
    """Add ``--cluster ADDRESS`` and ``--shard-size N`` (run the batch step on Dask workers).

    The default of ``--cluster`` is ``$TECKTRACK_CLUSTER`` (read when the command runs).

    Examples
    --------
    >>> p = argparse.ArgumentParser(); add_cluster_option(p)
    >>> a = p.parse_args(["--cluster", "local:2"]); a.cluster, a.shard_size
    ('local:2', 256)
    """
    parser.add_argument("--cluster", default=None, metavar="ADDRESS",
                        help="run on a Dask cluster, with the same outputs: 'local' (one "
                             "worker per core), 'local:N', or a scheduler address such as "
                             "tcp://host:8786 ('none': this machine; default "
                             "$TECKTRACK_CLUSTER). Paths must be visible to every worker")
    parser.add_argument("--shard-size", type=int, default=256, metavar="N",
                        help="images per shard on a cluster (default 256)")


def cluster_from_args(args: argparse.Namespace) -> str | None:
    """The cluster a command runs on: ``--cluster``, else ``$TECKTRACK_CLUSTER``, else None.

    Examples
    --------
    >>> cluster_from_args(argparse.Namespace(cluster="none", shard_size=256)) is None
    True
    """
    from tecktrack.cluster.address import default_cluster, is_off, parse_address
    from tecktrack.errors import TeckTrackError

    value = args.cluster if args.cluster is not None else default_cluster()
    if is_off(value):
        return None
    if args.shard_size < 1:
        raise TeckTrackError(f"--shard-size must be >= 1, got {args.shard_size}")
    parse_address(value)
    return value


def add_device_option(parser: argparse.ArgumentParser) -> None:
    """Add ``--device auto|cpu|cuda[:N]`` (default ``cpu``).

    Examples
    --------
    >>> p = argparse.ArgumentParser(); add_device_option(p)
    >>> p.parse_args(["--device", "cuda:1"]).device
    'cuda:1'
    """
    parser.add_argument("--device", default="cpu", metavar="auto|cpu|cuda[:N]",
                        help="where the network runs (cpu): cuda needs onnxruntime-gpu "
                             "(extra 'gpu') or an OpenCV built with CUDA for Darknet; auto "
                             "takes a GPU when one is usable and says which provider ran")


def add_nms_options(parser: argparse.ArgumentParser) -> None:
    """Add ``--max-det``, ``--agnostic-nms``, ``--classes`` and ``--half`` (Ultralytics' names).

    Examples
    --------
    >>> p = argparse.ArgumentParser(); add_nms_options(p)
    >>> a = p.parse_args(["--classes", "person,2", "--agnostic-nms"])
    >>> a.classes, a.agnostic_nms, a.max_det, a.half
    ('person,2', True, 300, False)
    """
    parser.add_argument("--max-det", type=int, default=300, metavar="N",
                        help="most detections kept per image (300)")
    parser.add_argument("--agnostic-nms", action="store_true",
                        help="class-agnostic NMS (a box suppresses boxes of any class)")
    parser.add_argument("--classes", default=None, metavar="IDS|NAMES",
                        help="keep only these classes, ids or names, comma-separated "
                             "(e.g. 0,2 or person,car)")
    parser.add_argument("--half", action="store_true",
                        help="run the network in float16 (ONNX Runtime converts a float32 "
                             "model in memory; needs the onnx package)")


def model_settings(args: argparse.Namespace) -> dict:
    """``load_model`` keyword arguments from whichever of these options a parser declared.

    Examples
    --------
    >>> model_settings(argparse.Namespace(conf=0.3, iou=None, device="cpu"))
    {'conf': 0.3, 'iou': None, 'device': 'cpu'}
    """
    names = {"backend": "backend", "conf": "conf", "iou": "iou", "imgsz": "imgsz",
             "threads": "threads", "max_det": "max_det", "agnostic_nms": "agnostic",
             "classes": "classes", "half": "half", "device": "device"}
    return {key: getattr(args, attr) for attr, key in names.items() if hasattr(args, attr)}
