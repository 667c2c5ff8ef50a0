"""The warning of the model wing: something about a model TeckTrack worked around or doubts.

Its own module so that the lowest modules of the wing (the Darknet weights check) can warn
without importing the backends.
"""

from __future__ import annotations

__all__ = ["ModelWarning"]


class ModelWarning(UserWarning):
    """Something about a model TeckTrack worked around (fallback backend, generic names) or
    doubts (a weights file longer than its cfg needs).

    Examples
    --------
    >>> issubclass(ModelWarning, UserWarning)
    True
    """
