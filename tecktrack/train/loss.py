"""Target assignment and the training loss of the anchor-free head.

Assignment (FCOS centre sampling): a grid cell is a positive for a ground-truth box when
its centre lies inside the box and within ``radius`` strides of the box centre; the cell
holding the box centre is always a positive, so boxes smaller than a stride still get one.
A cell claimed by several boxes takes the smallest. Loss: quality focal loss on the class
logits (target = IoU of the predicted box with its ground truth, so the class probability
also ranks localisation quality, as the YOLOv8 layout has no objectness) plus GIoU on
the positives' boxes.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from tecktrack.train.net import STRIDE, decode_ltrb

__all__ = ["assign", "aligned_giou", "detection_loss"]


def assign(points: torch.Tensor, gt_boxes: torch.Tensor, gt_mask: torch.Tensor,
           grid_width: int, stride: int = STRIDE,
           radius: float = 2.5) -> tuple[torch.Tensor, torch.Tensor]:
    """Match grid cells to ground-truth boxes.

    Parameters
    ----------
    points : Tensor
        ``(N, 2)`` cell centres in pixels (row-major, ``grid_width`` cells per row).
    gt_boxes : Tensor
        ``(B, G, 4)`` pixel corners, padded.
    gt_mask : Tensor
        ``(B, G)`` True for real boxes.

    Returns
    -------
    foreground : Tensor
        ``(B, N)`` bool, cells that have a box.
    gt_index : Tensor
        ``(B, N)`` int64 index of the matched box in ``G`` (0 for background).

    Examples
    --------
    >>> from tecktrack.train.net import anchor_points
    >>> pts = anchor_points(32, 32, 8)
    >>> fg, idx = assign(pts, torch.tensor([[[0.0, 0.0, 6.0, 6.0]]]), torch.tensor([[True]]), 4)
    >>> fg.nonzero().tolist()
    [[0, 0]]
    """
    px, py = points[:, 0], points[:, 1]
    x1, y1, x2, y2 = (gt_boxes[..., k, None] for k in range(4))
    inside = (px > x1) & (px < x2) & (py > y1) & (py < y2)
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    reach = radius * stride
    near = ((px - cx).abs() < reach) & ((py - cy).abs() < reach)
    rows = (cy / stride).floor().clamp(0, points.shape[0] // grid_width - 1)
    cols = (cx / stride).floor().clamp(0, grid_width - 1)
    centre_cell = (rows * grid_width + cols).long()
    cells = torch.arange(points.shape[0], device=points.device)
    candidate = ((inside & near) | (cells == centre_cell)) & gt_mask[..., None]
    area = ((x2 - x1) * (y2 - y1)).expand_as(candidate)
    area = torch.where(candidate, area, torch.full_like(area, float("inf")))
    best_area, gt_index = area.min(dim=1)
    return torch.isfinite(best_area), gt_index


def aligned_giou(a: torch.Tensor, b: torch.Tensor,
                 eps: float = 1e-7) -> tuple[torch.Tensor, torch.Tensor]:
    """Element-wise IoU and generalised IoU of two ``(M, 4)`` corner-box tensors.

    Differentiable torch counterpart of :func:`tecktrack.detections.box_iou`'s diagonal,
    needed because the loss back-propagates through it.

    Examples
    --------
    >>> iou, giou = aligned_giou(torch.tensor([[0.0, 0, 2, 2]]), torch.tensor([[1.0, 0, 3, 2]]))
    >>> round(iou.item(), 4), round(giou.item(), 4)
    (0.3333, 0.3333)
    """
    lt = torch.maximum(a[:, :2], b[:, :2])
    rb = torch.minimum(a[:, 2:], b[:, 2:])
    inter = (rb - lt).clamp(min=0).prod(dim=1)
    area_a = (a[:, 2:] - a[:, :2]).clamp(min=0).prod(dim=1)
    area_b = (b[:, 2:] - b[:, :2]).clamp(min=0).prod(dim=1)
    union = area_a + area_b - inter + eps
    iou = inter / union
    hull = (torch.maximum(a[:, 2:], b[:, 2:]) - torch.minimum(a[:, :2], b[:, :2])).prod(dim=1)
    return iou, iou - (hull - union) / (hull + eps)


def detection_loss(cls_logits: torch.Tensor, ltrb: torch.Tensor, points: torch.Tensor,
                   gt_boxes: torch.Tensor, gt_classes: torch.Tensor, gt_mask: torch.Tensor,
                   grid_width: int, box_weight: float = 2.0,
                   ) -> tuple[torch.Tensor, dict[str, float]]:
    """Quality focal loss + weighted GIoU loss, both normalised by the positive count.

    Parameters
    ----------
    cls_logits : Tensor
        ``(B, N, nc)`` raw class logits.
    ltrb : Tensor
        ``(B, N, 4)`` predicted side distances in stride units.
    points : Tensor
        ``(N, 2)`` cell centres in pixels.
    gt_boxes, gt_classes, gt_mask : Tensor
        Padded ground truth ``(B, G, 4)``, ``(B, G)``, ``(B, G)``.

    Returns
    -------
    loss : Tensor
        Scalar to back-propagate.
    parts : dict
        ``{"cls": ..., "box": ..., "positives": ...}`` as floats, for logging.

    Examples
    --------
    >>> from tecktrack.train.net import anchor_points
    >>> pts = anchor_points(16, 16, 8)
    >>> loss, parts = detection_loss(torch.zeros(1, 4, 2), torch.ones(1, 4, 4), pts,
    ...     torch.tensor([[[0.0, 0, 8, 8]]]), torch.tensor([[1]]), torch.tensor([[True]]), 2)
    >>> parts["positives"]
    1.0
    """
    fg, gt_index = assign(points, gt_boxes, gt_mask, grid_width)
    num_pos = max(float(fg.sum()), 1.0)
    matched = torch.gather(gt_boxes, 1, gt_index[..., None].expand(-1, -1, 4))[fg]
    labels = torch.gather(gt_classes, 1, gt_index)[fg]
    pred = decode_ltrb(points, ltrb)[fg]
    iou, giou = aligned_giou(pred, matched)
    target = torch.zeros_like(cls_logits)
    target[fg] = F.one_hot(labels, cls_logits.shape[-1]).to(target.dtype) * (
        iou.detach().clamp(min=0.0)[:, None])
    prob = torch.sigmoid(cls_logits)
    bce = F.binary_cross_entropy_with_logits(cls_logits, target, reduction="none")
    cls_loss = (bce * (prob - target).abs().pow(2.0)).sum() / num_pos
    box_loss = (1.0 - giou).sum() / num_pos
    loss = cls_loss + box_weight * box_loss
    parts = {"cls": cls_loss.item(), "box": box_loss.item(), "positives": float(fg.sum())}
    return loss, parts
