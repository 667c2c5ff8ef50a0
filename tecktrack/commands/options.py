"""Argument helpers the sub-commands share: the ``--model`` option and the detector settings.

Every command that runs a detector declares ``--model`` (and, where it has them, ``--conf``,
``--iou``, ``--backend``) through these helpers, so the flags read the same everywhere.
"""

from __future__ import annotations

import argparse

__all__ = ["MODEL_HELP", "add_detector_options", "add_model_option", "add_quiet_option"]

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
                         iou: float | None = 0.45, backend: bool = True,
                         conf_help: str | None = None) -> None:
    """Add ``--conf`` (and ``--iou`` unless ``iou=None``, ``--backend`` unless False).

    Examples
    --------
    >>> p = argparse.ArgumentParser(); add_detector_options(p, conf=0.5, iou=None)
    >>> vars(p.parse_args([]))
    {'conf': 0.5, 'backend': 'auto'}
    """
    parser.add_argument("--conf", type=float, default=conf,
                        help=conf_help or f"score threshold ({conf:g})")
    if iou is not None:
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
