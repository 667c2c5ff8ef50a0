"""Darknet ``.weights`` checked against its cfg: how many floats the cfg implies.

OpenCV's Darknet importer loads a truncated weights file without a word and the network then
predicts nothing; :func:`check_darknet_weights` refuses such a file, naming both sizes.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from tecktrack.errors import ModelError

__all__ = ["check_darknet_weights", "darknet_weight_count"]

# Layers that carry no weights and keep the channel count of their input.
_PASS_THROUGH = frozenset({"shortcut", "maxpool", "upsample", "dropout", "yolo", "region",
                           "avgpool", "softmax", "reorg"})


def _sections(text: str) -> list[tuple[str, dict[str, str]]]:
    sections: list[tuple[str, dict[str, str]]] = []
    for raw in text.splitlines():
        line = re.split(r"[#;]", raw, maxsplit=1)[0].strip()
        if line.startswith("["):
            sections.append((line.strip("[]").strip().lower(), {}))
        elif "=" in line and sections:
            key, value = line.split("=", 1)
            sections[-1][1][key.strip()] = value.strip()
    return sections


def darknet_weight_count(cfg: str | Path) -> int | None:
    """Float32 values a weights file for ``cfg`` holds, or None for layers this cannot count.

    Counts convolutions (bias, or bias + scale + mean + variance with ``batch_normalize``,
    then ``filters x in/groups x size x size``), following channels through ``route``.

    Examples
    --------
    >>> import tempfile
    >>> p = Path(tempfile.mkdtemp()) / "a.cfg"
    >>> _ = p.write_text("[net]\\nchannels=3\\n[convolutional]\\nbatch_normalize=1\\n"
    ...                  "filters=8\\nsize=3\\n[convolutional]\\nfilters=2\\nsize=1\\n")
    >>> darknet_weight_count(p)   # 8*4 + 8*3*9, then 2 + 2*8
    266
    """
    sections = _sections(Path(cfg).read_text(encoding="utf-8", errors="replace"))
    if not sections or sections[0][0] not in ("net", "network"):
        return None
    try:
        channels = int(sections[0][1].get("channels", 3))
        per_layer: list[int] = []
        total = 0
        for kind, opts in sections[1:]:
            if kind in ("convolutional", "conv"):
                filters, size = int(opts.get("filters", 1)), int(opts.get("size", 1))
                groups = int(opts.get("groups", 1))
                total += filters * (4 if int(opts.get("batch_normalize", 0)) else 1)
                total += filters * (channels // groups) * size * size
                channels = filters
            elif kind == "route":
                ids = [int(x) for x in opts["layers"].split(",")]
                ids = [i if i >= 0 else len(per_layer) + i for i in ids]
                channels = sum(per_layer[i] for i in ids) // int(opts.get("groups", 1))
            elif kind not in _PASS_THROUGH:
                return None
            per_layer.append(channels)
    except (KeyError, ValueError, IndexError):
        return None
    return total


def check_darknet_weights(cfg: str | Path, weights: str | Path) -> None:
    """Refuse a weights file shorter than its header plus the floats ``cfg`` implies.

    Raises
    ------
    ModelError
        Naming the weights file, its size and the size the cfg needs.
    """
    count = darknet_weight_count(cfg)
    weights = Path(weights)
    size = weights.stat().st_size
    if count is None or size < 12:
        if size < 12:
            raise ModelError(f"weights file of {size} bytes has no Darknet header", weights)
        return
    major, minor, _ = np.fromfile(weights, dtype=np.int32, count=3).tolist()
    header = 12 + (8 if major * 10 + minor >= 2 else 4)
    needed = header + 4 * count
    if size < needed:
        raise ModelError(f"truncated weights: {size:,} bytes, but {Path(cfg).name} needs "
                         f"{needed:,} ({count:,} weights + a {header}-byte header)", weights)
