"""Imaging conditions applied to a finished scene: lighting, contrast, colour cast, blur, noise.

Lighting modes and their probabilities: normal (0.5), dark (0.2), washed out (0.2) and
harsh contrast (0.1); every image also gets an illumination gradient and a colour cast.
About a fifth of the images are defocused (Gaussian blur) and one in twelve has motion blur.
"""

from __future__ import annotations

import cv2
import numpy as np

LIGHTING_MODES = ("normal", "dark", "washed_out", "harsh")
_MODE_P = np.array([0.5, 0.2, 0.2, 0.1])


def _affine(rng: np.random.Generator, mode: str) -> tuple[float, float]:
    """Gain and offset of a lighting mode: ``out = in * gain + offset``."""
    if mode == "dark":
        return rng.uniform(0.3, 0.55), 0.0
    if mode == "washed_out":
        c = rng.uniform(0.4, 0.6)
        return c, (1 - c) * rng.uniform(170, 230)
    if mode == "harsh":
        s = rng.uniform(1.2, 1.5)
        return s, 128 * (1 - s)
    return 1.0, 0.0


def _lighting(rng: np.random.Generator, img: np.ndarray, mode: str) -> np.ndarray:
    """Illumination ramp x colour cast x mode gain, plus mode offset and sensor noise."""
    h, w = img.shape[:2]
    theta = rng.uniform(0, 2 * np.pi)
    g = rng.uniform(0.0, 0.5)
    ramp = np.float32(g * np.sin(theta)) * (np.arange(h, dtype=np.float32) / h - 0.5)[:, None] \
        + np.float32(g * np.cos(theta)) * (np.arange(w, dtype=np.float32) / w - 0.5)[None, :]
    cast = rng.uniform(0.9, 1.1, 3)
    gain, offset = _affine(rng, mode)
    noise = rng.standard_normal((h, w), dtype=np.float32)
    noise *= np.float32(rng.uniform(1, 6))
    noise += np.float32(offset)
    f = img.astype(np.float32)
    f *= (ramp + np.float32(1.0))[..., None]
    f *= (cast * gain).astype(np.float32)
    f += noise[..., None]
    np.clip(f, 0, 255, out=f)
    return f.astype(np.uint8)


def _blur(rng: np.random.Generator, img: np.ndarray) -> np.ndarray:
    r = rng.random()
    if r < 0.2:
        return cv2.GaussianBlur(img, (0, 0), float(rng.uniform(0.7, 1.6)))
    if r < 0.28:
        k = int(rng.integers(5, 10))
        kernel = np.zeros((k, k), np.float32)
        kernel[k // 2] = 1.0 / k
        rot = cv2.getRotationMatrix2D(((k - 1) / 2, (k - 1) / 2), float(rng.uniform(0, 180)), 1)
        kernel = cv2.warpAffine(kernel, rot, (k, k))
        return cv2.filter2D(img, -1, kernel / kernel.sum())
    return img


def apply_conditions(rng: np.random.Generator, img: np.ndarray,
                     mode: str | None = None) -> np.ndarray:
    """Return ``img`` under random imaging conditions (the input is not modified).

    Parameters
    ----------
    rng : numpy.random.Generator
        The only source of randomness.
    img : ndarray (h, w, 3) uint8
        BGR scene.
    mode : str, optional
        Force a lighting mode from :data:`LIGHTING_MODES`; drawn at random when omitted.

    Examples
    --------
    >>> img = np.full((32, 32, 3), 128, np.uint8)
    >>> dark = apply_conditions(np.random.default_rng(0), img, mode="dark")
    >>> float(dark.mean()) < 100
    True
    """
    if mode is None:
        mode = LIGHTING_MODES[int(rng.choice(len(LIGHTING_MODES), p=_MODE_P))]
    elif mode not in LIGHTING_MODES:
        raise ValueError(f"mode must be one of {LIGHTING_MODES}, got {mode!r}")
    return _blur(rng, _lighting(rng, img, mode))
