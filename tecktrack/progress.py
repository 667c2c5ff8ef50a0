"""Progress bars that stay quiet when nobody is watching."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import TypeVar

from tqdm import tqdm

T = TypeVar("T")


def progress(iterable: Iterable[T], total: int | None = None, desc: str | None = None,
             quiet: bool = False, unit: str = "it") -> Iterable[T]:
    """Wrap ``iterable`` in a tqdm bar, disabled when ``quiet`` or stderr is not a TTY.

    Examples
    --------
    >>> sum(progress(range(3), quiet=True))
    3
    """
    disable = quiet or not sys.stderr.isatty()
    return tqdm(iterable, total=total, desc=desc, disable=disable, unit=unit, leave=False)
