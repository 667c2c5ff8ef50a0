"""The demo detector network: a compact CSP backbone, an FPN neck and one stride-8 head.

Two sizes share one design: ``n`` ("model 1", smaller) and ``s`` ("model 2", larger).
The head is anchor-free: every cell of the stride-8 grid predicts per-class logits and
the distances from its centre to the four box sides (``l, t, r, b`` in stride units,
through ``exp``). :class:`ExportWrapper` turns that into the YOLOv8 output layout.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

__all__ = ["SIZES", "NetConfig", "DemoDetector", "ExportWrapper", "build_net", "anchor_points"]

#: Head stride in pixels: the only output level.
STRIDE = 8


@dataclass(frozen=True)
class NetConfig:
    """Widths and depths of one network size.

    Parameters
    ----------
    widths : tuple of int
        Channels after the stem and each stride-2 stage (strides 2, 4, 8, 16, 32).
    depths : tuple of int
        Bottlenecks in the CSP block of the stages at strides 4, 8, 16, 32.
    neck : int
        Channels of the stride-8 feature map the head reads.
    """

    widths: tuple[int, int, int, int, int]
    depths: tuple[int, int, int, int]
    neck: int


#: The two shipped sizes.
SIZES: dict[str, NetConfig] = {
    "n": NetConfig(widths=(12, 16, 32, 64, 96), depths=(1, 1, 1, 1), neck=32),
    "s": NetConfig(widths=(16, 32, 64, 128, 192), depths=(1, 2, 2, 1), neck=64),
}


class ConvBN(nn.Sequential):
    """Conv2d (no bias) + BatchNorm + ReLU."""

    def __init__(self, cin: int, cout: int, k: int = 3, s: int = 1):
        super().__init__(
            nn.Conv2d(cin, cout, k, s, k // 2, bias=False),
            nn.BatchNorm2d(cout),
            nn.ReLU(inplace=True),
        )


class Bottleneck(nn.Module):
    """Two 3x3 convolutions with a residual connection."""

    def __init__(self, c: int):
        super().__init__()
        self.body = nn.Sequential(ConvBN(c, c), ConvBN(c, c))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class CSPBlock(nn.Module):
    """YOLOv8-style C2f block: split, chain of bottlenecks on one half, concat all, 1x1."""

    def __init__(self, cin: int, cout: int, n: int):
        super().__init__()
        self.half = cout // 2
        self.expand = ConvBN(cin, 2 * self.half, 1)
        self.blocks = nn.ModuleList(Bottleneck(self.half) for _ in range(n))
        self.merge = ConvBN((2 + n) * self.half, cout, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        parts = list(self.expand(x).split(self.half, dim=1))
        for block in self.blocks:
            parts.append(block(parts[-1]))
        return self.merge(torch.cat(parts, dim=1))


class DemoDetector(nn.Module):
    """Backbone (strides 2-32), top-down FPN to stride 8, decoupled anchor-free head.

    ``forward`` returns ``(cls_logits, ltrb)`` of shapes ``(B, N, nc)`` and ``(B, N, 4)``,
    ``N = (H/8) * (W/8)`` in row-major grid order; ``ltrb`` are positive distances in
    stride units.

    Examples
    --------
    >>> net = build_net("n", num_classes=3)
    >>> cls, ltrb = net(torch.zeros(1, 3, 64, 64))
    >>> tuple(cls.shape), tuple(ltrb.shape)
    ((1, 64, 3), (1, 64, 4))
    """

    def __init__(self, config: NetConfig, num_classes: int):
        super().__init__()
        w, d = config.widths, config.depths
        self.num_classes = num_classes
        self.stem = ConvBN(3, w[0], 3, 2)
        self.stages = nn.ModuleList(
            nn.Sequential(ConvBN(w[i], w[i + 1], 3, 2), CSPBlock(w[i + 1], w[i + 1], d[i]))
            for i in range(4)
        )
        self.lat16 = CSPBlock(w[4] + w[3], w[3], 1)
        self.lat8 = CSPBlock(w[3] + w[2], config.neck, 1)
        self.up = nn.Upsample(scale_factor=2, mode="nearest")
        c = config.neck
        self.cls_branch = nn.Sequential(ConvBN(c, c), nn.Conv2d(c, num_classes, 1))
        self.reg_branch = nn.Sequential(ConvBN(c, c), nn.Conv2d(c, 4, 1))
        self._init_bias()

    def _init_bias(self, prior: float = 0.01) -> None:
        cls_out = self.cls_branch[-1]
        nn.init.constant_(cls_out.bias, -math.log((1 - prior) / prior))
        nn.init.normal_(self.reg_branch[-1].weight, std=0.01)
        nn.init.constant_(self.reg_branch[-1].bias, 0.0)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The stride-8 feature map the head reads."""
        x = self.stem(x)
        x = self.stages[0](x)
        p8 = self.stages[1](x)
        p16 = self.stages[2](p8)
        p32 = self.stages[3](p16)
        f16 = self.lat16(torch.cat([self.up(p32), p16], dim=1))
        return self.lat8(torch.cat([self.up(f16), p8], dim=1))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        f = self.features(x)
        cls = self.cls_branch(f).flatten(2).transpose(1, 2)
        raw = self.reg_branch(f).flatten(2).transpose(1, 2)
        ltrb = torch.exp(raw.clamp(max=6.0))
        return cls, ltrb


def build_net(size: str, num_classes: int) -> DemoDetector:
    """Build the ``n`` or ``s`` network for ``num_classes`` classes.

    Examples
    --------
    >>> sum(p.numel() for p in build_net("n", 8).parameters()) < 1_000_000
    True
    """
    if size not in SIZES:
        raise ValueError(f"size must be one of {sorted(SIZES)}, got {size!r}")
    return DemoDetector(SIZES[size], num_classes)


def anchor_points(height: int, width: int, stride: int = STRIDE) -> torch.Tensor:
    """Pixel centres ``(N, 2)`` of the head's grid cells in row-major order.

    Examples
    --------
    >>> anchor_points(16, 16, 8).tolist()
    [[4.0, 4.0], [12.0, 4.0], [4.0, 12.0], [12.0, 12.0]]
    """
    ys = (torch.arange(height // stride, dtype=torch.float32) + 0.5) * stride
    xs = (torch.arange(width // stride, dtype=torch.float32) + 0.5) * stride
    gy, gx = torch.meshgrid(ys, xs, indexing="ij")
    return torch.stack([gx.flatten(), gy.flatten()], dim=1)


def decode_ltrb(points: torch.Tensor, ltrb: torch.Tensor, stride: int = STRIDE) -> torch.Tensor:
    """Corner boxes ``(..., N, 4)`` in pixels from grid centres and side distances.

    Examples
    --------
    >>> decode_ltrb(torch.tensor([[4.0, 4.0]]), torch.ones(1, 4), 8).tolist()
    [[-4.0, -4.0, 12.0, 12.0]]
    """
    d = ltrb * stride
    return torch.cat([points - d[..., :2], points + d[..., 2:]], dim=-1)


class ExportWrapper(nn.Module):
    """The network with a YOLOv8-layout output ``(1, 4 + nc, N)`` for ONNX export.

    Rows 0-3 are box centre x, y, width, height in network-input pixels, rows 4.. the
    per-class sigmoid probabilities (no objectness).

    Examples
    --------
    >>> wrapped = ExportWrapper(build_net("n", 2).eval(), 64, 64)
    >>> tuple(wrapped(torch.zeros(1, 3, 64, 64)).shape)
    (1, 6, 64)
    """

    def __init__(self, net: DemoDetector, height: int, width: int):
        super().__init__()
        self.net = net
        self.register_buffer("points", anchor_points(height, width))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        cls, ltrb = self.net(images)
        boxes = decode_ltrb(self.points, ltrb)
        cxcy = (boxes[..., :2] + boxes[..., 2:]) / 2
        wh = boxes[..., 2:] - boxes[..., :2]
        out = torch.cat([cxcy, wh, torch.sigmoid(cls)], dim=-1)
        return out.transpose(1, 2)
