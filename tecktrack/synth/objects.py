"""Drawers for the labelled object classes of the synthetic logistics world.

Every drawer has the signature ``draw(rng, w, h) -> (patch, mask)``: a BGR uint8 patch of
shape ``(h, w, 3)`` and a uint8 mask (255 where the object is, 0 where the scene shows
through). Drawers only use OpenCV primitives and NumPy, so they are fast and deterministic
for a given generator state.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

import cv2
import numpy as np

Drawer = Callable[[np.random.Generator, int, int], tuple[np.ndarray, np.ndarray]]

#: Class names, in class-id order (id = index).
CLASS_NAMES: list[str] = [
    "cardboard box",
    "wood pallet",
    "license plate",
    "traffic cone",
    "barcode",
    "freight container",
    "road sign",
    "qr code",
]

#: Relative class frequency: a long tail, most common / rarest = 14.
CLASS_WEIGHTS: np.ndarray = np.array([0.35, 0.20, 0.13, 0.10, 0.08, 0.06, 0.055, 0.025])

#: Range of width / height per class (log-uniform inside it).
CLASS_ASPECTS: list[tuple[float, float]] = [
    (0.8, 1.5),   # cardboard box
    (1.1, 3.0),   # wood pallet (top view below 2, front view above)
    (2.0, 4.7),   # license plate (US to EU)
    (0.55, 0.75),  # traffic cone
    (1.3, 2.2),   # barcode
    (1.0, 2.6),   # freight container (door end to long side)
    (1.0, 1.0),   # road sign
    (1.0, 1.0),   # qr code
]

#: Classes that may be drawn slightly rotated in a scene.
ROTATABLE: frozenset[int] = frozenset({0, 2, 4, 7})

_FONT = cv2.FONT_HERSHEY_SIMPLEX
_FONT_BOLD = cv2.FONT_HERSHEY_DUPLEX
_LETTERS = "ABCDEFGHJKLMNPRSTUVWXYZ"


def _canvas(w: int, h: int, color: tuple[int, int, int] = (0, 0, 0)) -> np.ndarray:
    img = np.empty((h, w, 3), np.uint8)
    img[:] = color
    return img


def _shade(color: np.ndarray | tuple, factor: float) -> tuple[int, int, int]:
    c0, c1, c2 = (min(255, max(0, int(float(c) * factor))) for c in color)
    return c0, c1, c2


def _fit_text(img: np.ndarray, text: str, box: tuple[int, int, int, int],
              color: tuple[int, int, int], font: int = _FONT_BOLD) -> None:
    """Write ``text`` centred inside ``box = (x1, y1, x2, y2)``, scaled to fit."""
    x1, y1, x2, y2 = box
    bw, bh = x2 - x1, y2 - y1
    if bw < 4 or bh < 4:
        return
    (tw, th), _ = cv2.getTextSize(text, font, 1.0, 1)
    scale = min(bw / max(tw, 1), bh / max(th, 1)) * 0.9
    thick = max(1, int(round(scale * 1.6)))
    (tw, th), _ = cv2.getTextSize(text, font, scale, thick)
    org = (x1 + (bw - tw) // 2, y1 + (bh + th) // 2)
    cv2.putText(img, text, org, font, scale, color, thick, cv2.LINE_AA)


def _grain(rng: np.random.Generator, img: np.ndarray, strength: float, horizontal: bool) -> None:
    """Add wood-like grain: random darker streaks along one axis (in place)."""
    h, w = img.shape[:2]
    n = h if horizontal else w
    streak = rng.normal(0.0, strength, n).astype(np.float32)
    streak = cv2.GaussianBlur(streak.reshape(-1, 1), (1, 3), 0).ravel()
    factor = 1.0 + (streak[:, None, None] if horizontal else streak[None, :, None])
    np.multiply(img, factor, out=img, casting="unsafe")


def draw_cardboard_box(rng: np.random.Generator, w: int, h: int) -> tuple[np.ndarray, np.ndarray]:
    """A brown carton seen slightly from above: front, top and side faces with packing tape.

    Examples
    --------
    >>> patch, mask = draw_cardboard_box(np.random.default_rng(0), 40, 30)
    >>> patch.shape, mask.shape, bool(mask.any())
    ((30, 40, 3), (30, 40), True)
    """
    base = np.array([rng.uniform(55, 95), rng.uniform(110, 155), rng.uniform(160, 210)])
    d = int(round(w * rng.uniform(0.12, 0.25)))
    t = int(round(h * rng.uniform(0.15, 0.3)))
    img = _canvas(w, h)
    mask = np.zeros((h, w), np.uint8)
    front = np.array([[0, t], [w - 1 - d, t], [w - 1 - d, h - 1], [0, h - 1]], np.int32)
    top = np.array([[0, t], [d, 0], [w - 1, 0], [w - 1 - d, t]], np.int32)
    side = np.array([[w - 1 - d, t], [w - 1, 0], [w - 1, h - 1 - t], [w - 1 - d, h - 1]], np.int32)
    for poly, f in ((front, 1.0), (top, 1.18), (side, 0.72)):
        cv2.fillPoly(img, [poly], _shade(base, f))
        cv2.fillPoly(mask, [poly], 255)
    tape = _shade(base, rng.uniform(1.15, 1.35))
    tw = max(1, int(round((w - d) * rng.uniform(0.08, 0.16))))
    cx = (w - d) // 2
    cv2.rectangle(img, (cx - tw // 2, t), (cx + tw // 2, h - 1), tape, -1)
    cv2.line(img, (cx + d // 2, 0), (cx, t), tape, max(1, tw // 2))
    edge = _shade(base, 0.55)
    for poly in (front, top, side):
        cv2.polylines(img, [poly], True, edge, 1, cv2.LINE_AA)
    if rng.random() < 0.5 and w > 24:
        sx, sy = int(w * 0.08), int(t + (h - t) * 0.55)
        cv2.rectangle(img, (sx, sy), (sx + int(w * 0.22), sy + int((h - t) * 0.25)),
                      (235, 235, 235), -1)
    return img, mask


def draw_wood_pallet(rng: np.random.Generator, w: int, h: int) -> tuple[np.ndarray, np.ndarray]:
    """A wooden pallet: front view (deck, three blocks, gaps) when wide, else top view (planks).

    Examples
    --------
    >>> patch, mask = draw_wood_pallet(np.random.default_rng(0), 60, 24)
    >>> bool((mask == 0).any())   # the fork openings show the scene behind
    True
    """
    wood = (rng.uniform(95, 140), rng.uniform(150, 190), rng.uniform(185, 225))
    img = _canvas(w, h, _shade(wood, 1.0))
    _grain(rng, img, 0.12, horizontal=True)
    mask = np.zeros((h, w), np.uint8)
    dark = _shade(wood, 0.5)
    if w >= 2 * h:
        deck = max(2, int(round(h * rng.uniform(0.22, 0.3))))
        bw = max(2, int(round(w * rng.uniform(0.12, 0.17))))
        mask[:deck] = 255
        mask[h - deck:] = 255
        for x in (0, (w - bw) // 2, w - bw):
            mask[:, x:x + bw] = 255
            cv2.rectangle(img, (x, deck), (x + bw - 1, h - deck), _shade(wood, 0.85), -1)
        cv2.line(img, (0, deck), (w - 1, deck), dark, 1)
        cv2.line(img, (0, h - deck), (w - 1, h - deck), dark, 1)
    else:
        n = int(rng.integers(5, 8))
        gap = max(1, int(round(w / n * rng.uniform(0.25, 0.45))))
        plank = (w - gap * (n - 1)) / n
        xs = np.arange(w)
        on = (np.floor(xs / (plank + gap)) * (plank + gap) + plank) > xs
        mask[:, on] = 255
        cross = max(2, int(round(h * 0.14)))
        for y in (0, (h - cross) // 2, h - cross):
            mask[y:y + cross] = 255
            img[y:y + cross] = _shade(wood, 0.8)
            cv2.line(img, (0, y), (w - 1, y), dark, 1)
    return img, mask


def _plate_text(rng: np.random.Generator, eu: bool) -> str:
    letters = "".join(rng.choice(list(_LETTERS), 3))
    digits = "".join(str(d) for d in rng.integers(0, 10, 3 if eu else 4))
    return f"{letters[:2]} {digits} {letters[2]}" if eu else f"{letters}{digits}"


def draw_license_plate(rng: np.random.Generator, w: int, h: int) -> tuple[np.ndarray, np.ndarray]:
    """A vehicle number plate: EU style (blue strip, long) or US style (short), with text.

    Examples
    --------
    >>> patch, _ = draw_license_plate(np.random.default_rng(0), 94, 20)
    >>> patch.shape
    (20, 94, 3)
    """
    eu = w / h > 3.2
    yellow = rng.random() < 0.35
    bg = (40, 200, 240) if yellow else (240, 240, 238)
    img = _canvas(w, h, bg)
    mask = np.full((h, w), 255, np.uint8)
    border = max(1, h // 12)
    cv2.rectangle(img, (0, 0), (w - 1, h - 1), (20, 20, 20), border)
    x0 = border
    if eu:
        strip = max(2, int(round(w * 0.08)))
        cv2.rectangle(img, (border, border), (strip, h - 1 - border), (150, 50, 10), -1)
        x0 = strip + 1
    _fit_text(img, _plate_text(rng, eu), (x0 + 1, border + 1, w - border - 1, h - border - 1),
              (15, 15, 15))
    return img, mask


def draw_traffic_cone(rng: np.random.Generator, w: int, h: int) -> tuple[np.ndarray, np.ndarray]:
    """An orange traffic cone with white reflective bands on a dark square base.

    Examples
    --------
    >>> _, mask = draw_traffic_cone(np.random.default_rng(0), 20, 30)
    >>> bool(mask[0, 0] == 0 and mask[-1, 10] == 255)
    True
    """
    img = _canvas(w, h)
    mask = np.zeros((h, w), np.uint8)
    base_h = max(2, int(round(h * rng.uniform(0.08, 0.12))))
    orange = (rng.uniform(0, 30), rng.uniform(90, 140), rng.uniform(225, 255))
    cv2.rectangle(img, (0, h - base_h), (w - 1, h - 1), (30, 40, 60), -1)
    mask[h - base_h:] = 255
    top_w = w * rng.uniform(0.12, 0.2)
    bot_w = w * 0.84
    cx = (w - 1) / 2
    yb = h - base_h

    def half(y: float) -> float:
        return (top_w + (bot_w - top_w) * y / max(yb, 1)) / 2

    body = np.array([[cx - top_w / 2, 0], [cx + top_w / 2, 0],
                     [cx + bot_w / 2, yb], [cx - bot_w / 2, yb]], np.float64)
    cv2.fillPoly(img, [np.round(body).astype(np.int32)], _shade(orange, 1.0))
    cv2.fillPoly(mask, [np.round(body).astype(np.int32)], 255)
    for y0, y1 in ((0.3, 0.42), (0.58, 0.7)):
        a, b = y0 * yb, y1 * yb
        band = np.array([[cx - half(a), a], [cx + half(a), a], [cx + half(b), b],
                         [cx - half(b), b]])
        cv2.fillPoly(img, [np.round(band).astype(np.int32)], (235, 235, 235))
    shade = np.array([[cx + top_w / 4, 0], [cx + top_w / 2, 0], [cx + bot_w / 2, yb],
                      [cx + bot_w / 4, yb]])
    overlay = img.copy()
    cv2.fillPoly(overlay, [np.round(shade).astype(np.int32)], (0, 0, 0))
    cv2.addWeighted(overlay, 0.25, img, 0.75, 0, dst=img)
    return img, mask


def draw_barcode(rng: np.random.Generator, w: int, h: int) -> tuple[np.ndarray, np.ndarray]:
    """A 1-D barcode on a white label: bars of random widths, digits underneath when large.

    Examples
    --------
    >>> patch, _ = draw_barcode(np.random.default_rng(0), 60, 36)
    >>> int(patch.min()) < 50 and int(patch.max()) > 200
    True
    """
    img = _canvas(w, h, (245, 245, 245))
    mask = np.full((h, w), 255, np.uint8)
    widths = rng.integers(1, 4, 48)
    pattern = np.repeat(np.arange(48) % 2 == 0, widths)
    pattern = np.concatenate([[False] * 6, [True, False, True], pattern, [True, False, True],
                              [False] * 6])
    cols = pattern[(np.arange(w) * len(pattern)) // w]
    bar_bottom = int(round(h * (0.78 if h >= 24 else 0.92)))
    pad = max(1, h // 12)
    img[pad:bar_bottom, cols] = 15
    if h >= 24:
        digits = "".join(str(d) for d in rng.integers(0, 10, 12))
        _fit_text(img, digits, (int(w * 0.08), bar_bottom, int(w * 0.92), h - 1), (15, 15, 15),
                  _FONT)
    return img, mask


_CONTAINER_COLORS = [(40, 40, 170), (140, 70, 20), (60, 120, 40), (30, 110, 220),
                     (150, 150, 150), (30, 60, 110), (200, 200, 200)]


def draw_freight_container(rng: np.random.Generator, w: int,
                           h: int) -> tuple[np.ndarray, np.ndarray]:
    """A corrugated shipping container: long side with ribs, or door end with locking bars.

    Examples
    --------
    >>> patch, mask = draw_freight_container(np.random.default_rng(0), 100, 40)
    >>> bool(mask.all())
    True
    """
    color = np.array(_CONTAINER_COLORS[int(rng.integers(len(_CONTAINER_COLORS)))], np.float64)
    color = color * rng.uniform(0.8, 1.1)
    img = _canvas(w, h, _shade(color, 1.0))
    mask = np.full((h, w), 255, np.uint8)
    rail = max(1, int(round(h * 0.06)))
    if w / h > 1.6:
        period = max(2.0, w / rng.uniform(20, 34))
        phase = (np.arange(w) % period) / period
        factor = np.where(phase < 0.5, 1.08, 0.82).astype(np.float32)
        np.multiply(img, factor[None, :, None], out=img, casting="unsafe")
    else:
        cv2.line(img, (w // 2, 0), (w // 2, h - 1), _shade(color, 0.5), max(1, w // 40))
        for fx in (0.15, 0.35, 0.65, 0.85):
            x = int(w * fx)
            cv2.line(img, (x, rail), (x, h - 1 - rail), _shade(color, 0.6), max(1, w // 60))
    img[:rail] = _shade(color, 0.6)
    img[h - rail:] = _shade(color, 0.6)
    corner = max(1, int(round(min(w, h) * 0.07)))
    for x, y in ((0, 0), (w - corner, 0), (0, h - corner), (w - corner, h - corner)):
        img[y:y + corner, x:x + corner] = _shade(color, 0.45)
    if h >= 30:
        code = "".join(rng.choice(list(_LETTERS), 4)) + " " + "".join(
            str(d) for d in rng.integers(0, 10, 6))
        _fit_text(img, code, (int(w * 0.06), rail + 2, int(w * 0.5), rail + 2 + int(h * 0.14)),
                  (235, 235, 235), _FONT)
    return img, mask


def _sign_shape(kind: int, w: int, h: int) -> np.ndarray:
    if kind == 1:  # warning triangle
        return np.array([[w / 2, 0], [w - 1, h - 1], [0, h - 1]])
    if kind == 3:  # stop octagon
        a = np.deg2rad(22.5 + 45 * np.arange(8))
        return np.stack([(w - 1) / 2 * (1 + np.cos(a)), (h - 1) / 2 * (1 + np.sin(a))], 1)
    a = np.linspace(0, 2 * np.pi, 32, endpoint=False)
    return np.stack([(w - 1) / 2 * (1 + np.cos(a)), (h - 1) / 2 * (1 + np.sin(a))], 1)


def draw_road_sign(rng: np.random.Generator, w: int, h: int) -> tuple[np.ndarray, np.ndarray]:
    """A road sign: speed limit, warning triangle, blue mandatory arrow or stop octagon.

    Examples
    --------
    >>> _, mask = draw_road_sign(np.random.default_rng(0), 32, 32)
    >>> bool(mask[16, 16] == 255 and mask[0, 0] == 0)
    True
    """
    kind = int(rng.integers(4))
    img = _canvas(w, h)
    mask = np.zeros((h, w), np.uint8)
    shape = np.round(_sign_shape(kind, w, h)).astype(np.int32)
    cv2.fillPoly(mask, [shape], 255)
    ring = max(1, int(round(min(w, h) * 0.11)))
    center = ((w - 1) / 2, (h - 1) / 2)
    inner = np.round((shape - center) * (1 - 2.2 * ring / min(w, h)) + center).astype(np.int32)
    if kind == 2:
        cv2.fillPoly(img, [shape], (170, 90, 20))
        cx = w // 2
        cv2.arrowedLine(img, (cx, int(h * 0.78)), (cx, int(h * 0.22)), (250, 250, 250),
                        max(1, w // 8), cv2.LINE_AA, tipLength=0.4)
    elif kind == 3:
        cv2.fillPoly(img, [shape], (30, 30, 200))
        _fit_text(img, "STOP", (int(w * 0.14), int(h * 0.3), int(w * 0.86), int(h * 0.7)),
                  (250, 250, 250))
    else:
        cv2.fillPoly(img, [shape], (30, 30, 210))
        cv2.fillPoly(img, [inner], (245, 245, 245))
        if kind == 0:
            text = str(int(rng.choice([20, 30, 40, 50, 60, 70, 80])))
            _fit_text(img, text, (int(w * 0.25), int(h * 0.3), int(w * 0.75), int(h * 0.7)),
                      (20, 20, 20))
        else:
            _fit_text(img, "!", (int(w * 0.4), int(h * 0.35), int(w * 0.6), int(h * 0.85)),
                      (20, 20, 20))
    return img, mask


@lru_cache(maxsize=64)
def _qr_modules(k: int) -> np.ndarray:
    """A real QR code (uint8 modules incl. quiet zone) encoding ``TeckTrack-<k>``."""
    encoder = cv2.QRCodeEncoder.create()
    return encoder.encode(f"TeckTrack-{k:04d}")


def draw_qr_code(rng: np.random.Generator, w: int, h: int) -> tuple[np.ndarray, np.ndarray]:
    """A real, decodable QR code (cv2.QRCodeEncoder) on a white sticker.

    Examples
    --------
    >>> patch, _ = draw_qr_code(np.random.default_rng(0), 100, 100)
    >>> cv2.QRCodeDetector().detectAndDecode(patch)[0].startswith("TeckTrack-")
    True
    """
    modules = _qr_modules(int(rng.integers(64)))
    gray = cv2.resize(modules, (w, h), interpolation=cv2.INTER_NEAREST if min(w, h) >= 40
                      else cv2.INTER_AREA)
    gray = np.where(gray > 127, 245, 15).astype(np.uint8) if min(w, h) >= 40 else gray
    img = cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR)
    return img, np.full((h, w), 255, np.uint8)


#: Drawer per class id.
DRAWERS: list[Drawer] = [
    draw_cardboard_box,
    draw_wood_pallet,
    draw_license_plate,
    draw_traffic_cone,
    draw_barcode,
    draw_freight_container,
    draw_road_sign,
    draw_qr_code,
]


def render_object(rng: np.random.Generator, class_id: int, w: int,
                  h: int) -> tuple[np.ndarray, np.ndarray]:
    """Draw class ``class_id`` at ``w`` x ``h`` pixels, supersampled when small.

    Small objects are drawn at a multiple of their size and reduced with area
    interpolation, so their details stay recognisable instead of aliasing. The returned
    mask is binary (0/255).

    Examples
    --------
    >>> patch, mask = render_object(np.random.default_rng(0), 3, 12, 18)
    >>> patch.shape, sorted(np.unique(mask).tolist())
    ((18, 12, 3), [0, 255])
    """
    factor = int(np.clip(np.ceil(48 / max(min(w, h), 1)), 1, 4))
    patch, mask = DRAWERS[class_id](rng, w * factor, h * factor)
    if factor > 1:
        patch = cv2.resize(patch, (w, h), interpolation=cv2.INTER_AREA)
        mask = cv2.resize(mask, (w, h), interpolation=cv2.INTER_AREA)
    mask = np.where(mask >= 128, 255, 0).astype(np.uint8)
    return patch, mask
