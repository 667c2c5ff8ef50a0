"""A batched constant-velocity Kalman filter on boxes, predicting over any time step.

The state of each track is ``[cx, cy, a, h, vcx, vcy, va, vh]`` (centre, aspect ratio
w / h, height and their velocities per frame); the measurement is ``[cx, cy, a, h]``. The
noise model is ByteTrack's (and Ultralytics'): standard deviations proportional to the box
height, 1/20 for positions and 1/160 for velocities. A prediction over ``dt`` frames uses
the transition ``x + dt * v`` and ``dt`` times the one-frame process noise (velocity noise
accumulating as a random walk), so a dropped frame or a skipped stride (``drop_rate``) moves
the box as far as the object moved, not one frame's worth. Every operation works on all
tracks at once: ``mean`` is ``(n, 8)`` and ``cov`` is ``(n, 8, 8)``.
"""

from __future__ import annotations

import numpy as np

__all__ = ["initiate", "predict", "update", "xyxy_to_xyah", "xyah_to_xyxy"]

_POS = 1.0 / 20
_VEL = 1.0 / 160


def xyxy_to_xyah(boxes: np.ndarray) -> np.ndarray:
    """Corner boxes to ``cx, cy, w / h, h`` (float64).

    Examples
    --------
    >>> xyxy_to_xyah(np.array([[0.0, 0, 4, 2]]))
    array([[2., 1., 2., 2.]])
    """
    b = np.asarray(boxes, np.float64).reshape(-1, 4)
    w = b[:, 2] - b[:, 0]
    h = b[:, 3] - b[:, 1]
    return np.stack([b[:, 0] + w / 2, b[:, 1] + h / 2, w / np.maximum(h, 1e-9), h], axis=1)


def xyah_to_xyxy(xyah: np.ndarray) -> np.ndarray:
    """``cx, cy, w / h, h`` (the first 4 state columns) back to corner boxes.

    Examples
    --------
    >>> xyah_to_xyxy(np.array([[2.0, 1, 2, 2]]))
    array([[0., 0., 4., 2.]])
    """
    s = np.asarray(xyah, np.float64).reshape(-1, xyah.shape[-1])
    w = s[:, 2] * s[:, 3]
    half = np.stack([w / 2, s[:, 3] / 2], axis=1)
    return np.concatenate([s[:, 0:2] - half, s[:, 0:2] + half], axis=1)


def _diag(std: np.ndarray) -> np.ndarray:
    n, k = std.shape
    out = np.zeros((n, k, k))
    idx = np.arange(k)
    out[:, idx, idx] = std * std
    return out


def initiate(measurement: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """New tracks from ``(n, 4)`` xyah measurements: zero velocity, wide uncertainty.

    Examples
    --------
    >>> mean, cov = initiate(np.array([[10.0, 10, 0.5, 20]]))
    >>> mean.shape, cov.shape, float(cov[0, 0, 0])
    ((1, 8), (1, 8, 8), 4.0)
    """
    z = np.asarray(measurement, np.float64).reshape(-1, 4)
    h = z[:, 3]
    mean = np.concatenate([z, np.zeros_like(z)], axis=1)
    std = np.stack([2 * _POS * h, 2 * _POS * h, np.full_like(h, 1e-2), 2 * _POS * h,
                    10 * _VEL * h, 10 * _VEL * h, np.full_like(h, 1e-5), 10 * _VEL * h], axis=1)
    return mean, _diag(std)


_PREDICT_STD = np.array([_POS, _POS, 0.0, _POS, _VEL, _VEL, 0.0, _VEL])
_UPDATE_STD = np.array([_POS, _POS, 0.0, _POS])


def _transition(dt: float) -> np.ndarray:
    f = np.eye(8)
    f[np.arange(4), np.arange(4) + 4] = dt
    return f


def predict(mean: np.ndarray, cov: np.ndarray, dt: float = 1.0
            ) -> tuple[np.ndarray, np.ndarray]:
    """Predict every track ``dt`` frames ahead (``dt`` may be fractional).

    Examples
    --------
    >>> mean = np.array([[0.0, 0, 1, 10, 2, 0, 0, 0]])
    >>> m, c = predict(mean, np.repeat(np.eye(8)[None], 1, 0), dt=3)
    >>> m[0, :2].tolist(), bool(c[0, 0, 0] > 1)
    ([6.0, 0.0], True)
    """
    if len(mean) == 0:
        return mean, cov
    dt = float(dt)
    std = mean[:, 3:4] * _PREDICT_STD  # sized by the height before the step, as ByteTrack's
    std[:, 2] = 1e-2
    std[:, 6] = 1e-5
    mean = mean.copy()
    mean[:, :4] += dt * mean[:, 4:]
    f = _transition(dt)
    out = f @ cov @ f.T
    idx = np.arange(8)
    out[:, idx, idx] += dt * std * std
    return mean, out


def update(mean: np.ndarray, cov: np.ndarray, measurement: np.ndarray
           ) -> tuple[np.ndarray, np.ndarray]:
    """Correct each track with its ``(n, 4)`` xyah measurement (row-aligned).

    Examples
    --------
    >>> mean, cov = initiate(np.array([[10.0, 10, 0.5, 20]]))
    >>> m, _ = update(mean, cov, np.array([[12.0, 10, 0.5, 20]]))
    >>> 10 < float(m[0, 0]) < 12
    True
    """
    if len(mean) == 0:
        return mean, cov
    z = np.asarray(measurement, np.float64).reshape(-1, 4)
    r = mean[:, 3:4] * _UPDATE_STD
    r[:, 2] = 1e-1
    s = cov[:, :4, :4].copy()
    idx = np.arange(4)
    s[:, idx, idx] += r * r
    pht = cov[:, :, :4]                                    # P H^T, (n, 8, 4)
    gain = np.linalg.solve(s, pht.transpose(0, 2, 1)).transpose(0, 2, 1)   # S symmetric
    innovation = z - mean[:, :4]
    new_mean = mean + np.einsum("nij,nj->ni", gain, innovation)
    new_cov = cov - gain @ pht.transpose(0, 2, 1)          # P - K H P
    return new_mean, new_cov
