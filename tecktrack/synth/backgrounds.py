"""Cluttered, textured backgrounds and unlabelled distractor shapes.

Backgrounds mix a low-frequency colour field, fine grain and a surface pattern (asphalt,
concrete tiles, brick wall, warehouse racking, gravel), then add clutter (lines, blobs,
scribbled text). Distractors are drawn into the background and never labelled: shapes that
share a colour, pattern or outline with a class without being one (sources of false
positives for the analyses).
"""

from __future__ import annotations

import cv2
import numpy as np

_BASES = [  # BGR base colour per surface kind
    (90, 90, 92),     # asphalt
    (165, 170, 172),  # concrete tiles
    (70, 85, 150),    # brick wall
    (120, 130, 135),  # warehouse racking
    (95, 120, 125),   # gravel / dirt
]


def _low_frequency(rng: np.random.Generator, w: int, h: int, amplitude: float) -> np.ndarray:
    """Smooth multiplicative field around 1, shape (h, w), float32."""
    cells = rng.uniform(-amplitude, amplitude, (5, 5)).astype(np.float32)
    field = cv2.resize(cells, (w, h), interpolation=cv2.INTER_CUBIC)
    field += np.float32(1.0)
    return field


def _pattern(rng: np.random.Generator, img: np.ndarray, kind: int, base: np.ndarray) -> None:
    """Draw the surface pattern of ``kind`` (surface colour ``base``) in place."""
    h, w = img.shape[:2]
    dark = tuple(int(c) for c in (base * 0.6))
    if kind == 1:
        step = int(rng.integers(48, 110))
        for x in range(int(rng.integers(step)), w, step):
            cv2.line(img, (x, 0), (x, h - 1), dark, 1)
        for y in range(int(rng.integers(step)), h, step):
            cv2.line(img, (0, y), (w - 1, y), dark, 1)
    elif kind == 2:
        bh = int(rng.integers(10, 22))
        bw = bh * 2 + int(rng.integers(4, 12))
        for row, y in enumerate(range(0, h, bh)):
            cv2.line(img, (0, y), (w - 1, y), (170, 170, 170), 1)
            for x in range((row % 2) * bw // 2, w, bw):
                cv2.line(img, (x, y), (x, y + bh), (170, 170, 170), 1)
    elif kind == 3:
        shelf = int(rng.integers(50, 100))
        for y in range(int(rng.integers(20, shelf)), h, shelf):
            cv2.rectangle(img, (0, y), (w - 1, y + 5), (40, 110, 200), -1)
        for x in range(int(rng.integers(10, 60)), w, int(rng.integers(90, 160))):
            cv2.rectangle(img, (x, 0), (x + 6, h - 1), (140, 80, 30), -1)
    elif kind == 0 and rng.random() < 0.7:
        x = int(rng.integers(w))
        cv2.line(img, (x, 0), (x + int(rng.integers(-40, 40)), h - 1), (210, 220, 225),
                 int(rng.integers(3, 7)))


def _clutter(rng: np.random.Generator, img: np.ndarray, count: int) -> None:
    """Random muted lines, blobs, polygons and scribbles (in place)."""
    h, w = img.shape[:2]
    for _ in range(count):
        kind = int(rng.integers(4))
        color = tuple(int(c) for c in rng.integers(30, 200, 3))
        p = rng.integers(0, [w, h, w, h])
        if kind == 0:
            cv2.line(img, (int(p[0]), int(p[1])), (int(p[2]), int(p[3])), color,
                     int(rng.integers(1, 4)), cv2.LINE_AA)
        elif kind == 1:
            axes = (int(rng.integers(3, 30)), int(rng.integers(3, 30)))
            cv2.ellipse(img, (int(p[0]), int(p[1])), axes, float(rng.uniform(0, 180)), 0, 360,
                        color, -1, cv2.LINE_AA)
        elif kind == 2:
            pts = (p[:2] + rng.integers(-30, 30, (int(rng.integers(3, 6)), 2))).astype(np.int32)
            cv2.fillPoly(img, [pts], color, cv2.LINE_AA)
        else:
            text = "".join(rng.choice(list("abcdefghkmnoprstuvwxyz0123456789"), 5))
            cv2.putText(img, text, (int(p[0]), int(p[1])), cv2.FONT_HERSHEY_PLAIN,
                        float(rng.uniform(0.6, 1.4)), color, 1, cv2.LINE_AA)


def render_background(rng: np.random.Generator, w: int, h: int,
                      clutter: tuple[int, int] = (6, 18)) -> np.ndarray:
    """A textured, cluttered BGR background of ``w`` x ``h`` pixels.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of randomness (the only one).
    w, h : int
        Size in pixels.
    clutter : (int, int)
        Range of the number of clutter shapes.

    Examples
    --------
    >>> bg = render_background(np.random.default_rng(0), 64, 48)
    >>> bg.shape, bg.dtype.name
    ((48, 64, 3), 'uint8')
    """
    kind = int(rng.integers(len(_BASES)))
    base = np.asarray(_BASES[kind], np.float32) * rng.uniform(0.8, 1.2, 3).astype(np.float32)
    grain = rng.standard_normal((h, w), dtype=np.float32)
    grain *= np.float32(rng.uniform(4, 14))
    field = _low_frequency(rng, w, h, 0.25)[..., None] * base
    field += grain[..., None]
    np.clip(field, 0, 255, out=field)
    img = field.astype(np.uint8)
    _pattern(rng, img, kind, base)
    _clutter(rng, img, int(rng.integers(*clutter)))
    return img


def _distractor_patch(rng: np.random.Generator, kind: int, s: int) -> np.ndarray:
    """Draw distractor ``kind`` of side ~``s`` into a (patch, mask) pair stacked as BGRA."""
    if kind == 0:  # orange ball: the colour of a cone, not its shape
        img = np.zeros((s, s, 4), np.uint8)
        cv2.circle(img, (s // 2, s // 2), s // 2 - 1, (10, 120, 240, 255), -1, cv2.LINE_AA)
    elif kind == 1:  # regular checkerboard: looks like a QR code, has no finder patterns
        n = int(rng.integers(4, 9))
        cells = (np.add.outer(np.arange(n), np.arange(n)) % 2 * 230 + 15).astype(np.uint8)
        gray = cv2.resize(cells, (s, s), interpolation=cv2.INTER_NEAREST)
        img = cv2.cvtColor(gray, cv2.COLOR_GRAY2BGRA)
        img[..., 3] = 255
    elif kind == 2:  # evenly spaced coloured stripes: barcode-like rhythm, wrong look
        w, h = s, max(6, s // 2)
        color = rng.integers(0, 160, 3)
        period = max(3, s // int(rng.integers(5, 10)))
        img = np.zeros((h, w, 4), np.uint8)
        img[:, :, :3] = 200
        img[:, (np.arange(w) % period) < period // 2, :3] = color
        img[..., 3] = 255
    elif kind == 3:  # sign-like red ring with nothing inside
        img = np.zeros((s, s, 4), np.uint8)
        cv2.circle(img, (s // 2, s // 2), s // 2 - 1, (30, 30, 200, 255), max(1, s // 9),
                   cv2.LINE_AA)
    elif kind == 4:  # a single loose plank: pallet wood, not a pallet
        w, h = s, max(4, s // 5)
        img = np.zeros((h, w, 4), np.uint8)
        img[:] = (110, 165, 200, 255)
    else:  # plain white card with a few letters: plate-like, no border or layout
        w, h = s, max(6, s // 3)
        img = np.zeros((h, w, 4), np.uint8)
        img[:] = (235, 235, 235, 255)
        text = "".join(rng.choice(list("xyzwq"), 3))
        cv2.putText(img, text, (2, h - 2), cv2.FONT_HERSHEY_PLAIN, max(0.5, h / 14),
                    (90, 90, 90, 255), 1, cv2.LINE_AA)
    return img


#: Number of distractor kinds (see :func:`paint_distractors`).
N_DISTRACTOR_KINDS = 6


def paint_distractors(rng: np.random.Generator, img: np.ndarray, count: int) -> None:
    """Paint ``count`` unlabelled distractor shapes onto ``img`` in place.

    Kinds: orange ball, regular checkerboard, even stripes, empty red ring, loose plank,
    plain lettered card. Each borrows one cue from a class but is not that class.

    Examples
    --------
    >>> img = np.zeros((64, 64, 3), np.uint8)
    >>> paint_distractors(np.random.default_rng(0), img, 3)
    >>> bool(img.any())
    True
    """
    h, w = img.shape[:2]
    for _ in range(count):
        s = int(np.exp(rng.uniform(np.log(12), np.log(max(13, min(w, h) // 4)))))
        patch = _distractor_patch(rng, int(rng.integers(N_DISTRACTOR_KINDS)), s)
        ph, pw = patch.shape[:2]
        if ph >= h or pw >= w:
            continue
        x = int(rng.integers(0, w - pw))
        y = int(rng.integers(0, h - ph))
        region = img[y:y + ph, x:x + pw]
        on = patch[..., 3] > 127
        region[on] = patch[..., :3][on]
