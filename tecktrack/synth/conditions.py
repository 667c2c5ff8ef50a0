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


def _lighting(rng: np.random.Generator, img: np.ndarray, mode: str) -> np.ndarray:
    h, w = img.shape[:2]
    f = img.astype(np.float32)
    theta = rng.uniform(0, 2 * np.pi)
    g = np.float32(rng.uniform(0.0, 0.5))
    ramp = (np.cos(theta) * (np.arange(w, dtype=np.float32) / w - 0.5))[None, :] + \
        (np.sin(theta) * (np.arange(h, dtype=np.float32) / h - 0.5))[:, None]
    gain = (1 + g * ramp)[..., None] * rng.uniform(0.9, 1.1, 3).astype(np.float32)
    f *= gain
    if mode == "dark":
        f *= np.float32(rng.uniform(0.3, 0.55))
    elif mode == "washed_out":
        c = np.float32(rng.uniform(0.4, 0.6))
        f = f * c + (1 - c) * np.float32(rng.uniform(170, 230))
    elif mode == "harsh":
        f = (f - 128) * np.float32(rng.uniform(1.2, 1.5)) + 128
    f += rng.standard_normal((h, w, 1), dtype=np.float32) * np.float32(rng.uniform(1, 6))
    return np.clip(f, 0, 255).astype(np.uint8)


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
