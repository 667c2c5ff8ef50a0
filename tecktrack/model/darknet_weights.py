"""Darknet ``.weights`` checked against its cfg: how many floats the cfg implies.

OpenCV's Darknet importer loads a truncated weights file without a word and the network then
predicts nothing; :func:`check_darknet_weights` refuses such a file, naming both sizes.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np

from tecktrack.errors import ModelError
from tecktrack.model.model_warning import ModelWarning

__all__ = ["cfg_line", "cfg_sections", "check_darknet_weights", "darknet_weight_count"]

# Layers that carry no weights and keep the channel count of their input.
_PASS_THROUGH = frozenset({"shortcut", "maxpool", "upsample", "dropout", "yolo", "region",
                           "avgpool", "softmax", "reorg"})


class _Section(dict):
    """One ``[kind]`` section of a cfg: ``key -> value``, with the line of each key."""

    def __init__(self, kind: str):
        super().__init__()
        self.kind, self.lines = kind, {}

    def number(self, key: str, default: int, cfg: Path) -> int:
        """The whole number under ``key`` (``default`` when absent); a typo names its line."""
        value = self.get(key)
        if value is None:
            return default
        try:
            return int(value)
        except ValueError:
            raise ModelError(f"[{self.kind}] {key}: expected a whole number, got {value!r}",
                             cfg, self.lines[key]) from None


def cfg_sections(text: str) -> list[_Section]:
    """The ``[kind]`` sections of a Darknet cfg's text, each ``key -> value`` with the line of
    each key in ``lines`` (comments stripped; a repeated key keeps its last value and line).

    Examples
    --------
    >>> net = cfg_sections("[net]\\n# size\\nwidth=32\\nheight = 16\\n")[0]
    >>> net.kind, net["height"], net.lines["height"]
    ('net', '16', 4)
    """
    sections: list[_Section] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = re.split(r"[#;]", raw, maxsplit=1)[0].strip()
        if line.startswith("["):
            sections.append(_Section(line.strip("[]").strip().lower()))
        elif "=" in line and sections:
            key, value = (part.strip() for part in line.split("=", 1))
            sections[-1][key] = value
            sections[-1].lines[key] = number
    return sections


def cfg_line(cfg: str | Path, token: str) -> int | None:
    """The first line of ``cfg`` holding ``token`` (outside comments), or None.

    Examples
    --------
    >>> import tempfile
    >>> p = Path(tempfile.mkdtemp()) / "a.cfg"
    >>> _ = p.write_text("[net]\\nwidth=32\\n[convolutonal]\\n")
    >>> cfg_line(p, "convolutonal")
    3
    """
    text = Path(cfg).read_text(encoding="utf-8", errors="replace")
    for number, raw in enumerate(text.splitlines(), start=1):
        if token in re.split(r"[#;]", raw, maxsplit=1)[0]:
            return number
    return None


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
    cfg = Path(cfg)
    sections = cfg_sections(cfg.read_text(encoding="utf-8", errors="replace"))
    if not sections or sections[0].kind not in ("net", "network"):
        return None
    channels = sections[0].number("channels", 3, cfg)
    per_layer: list[int] = []
    total = 0
    for opts in sections[1:]:
        if opts.kind in ("convolutional", "conv"):
            filters, size = opts.number("filters", 1, cfg), opts.number("size", 1, cfg)
            groups = opts.number("groups", 1, cfg)
            total += filters * (4 if opts.number("batch_normalize", 0, cfg) else 1)
            total += filters * (channels // max(groups, 1)) * size * size
            channels = filters
        elif opts.kind == "route":
            try:
                ids = [int(x) for x in opts["layers"].split(",")]
                ids = [i if i >= 0 else len(per_layer) + i for i in ids]
                channels = sum(per_layer[i] for i in ids) // max(opts.number("groups", 1, cfg),
                                                                  1)
            except (KeyError, ValueError, IndexError):
                return None  # OpenCV's importer names what is wrong with a route
        elif opts.kind not in _PASS_THROUGH:
            return None
        per_layer.append(channels)
    return total


def check_darknet_weights(cfg: str | Path, weights: str | Path) -> None:
    """Refuse a weights file shorter than its header plus the floats ``cfg`` implies, and warn
    (:class:`ModelWarning`) when it is longer: the cfg is then likely not the one the weights
    were trained with (OpenCV reads the floats it needs and ignores the rest, silently).

    Raises
    ------
    ModelError
        Naming the weights file, its size and the size the cfg needs; or a cfg value that is
        not a whole number, naming the cfg and its line.
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
    if size > needed:
        warnings.warn(f"{weights}: {size - needed:,} bytes more than {Path(cfg).name} needs "
                      f"({needed:,}): is this cfg the one these weights were trained with?",
                      ModelWarning, stacklevel=3)
