"""Compare a model's class names with a dataset's, by name, before scoring one on the other."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

from tecktrack.errors import DatasetError

__all__ = ["ClassNamesWarning", "NameComparison", "compare_class_names"]


class ClassNamesWarning(UserWarning):
    """Model and dataset name some classes differently (the ids still line up)."""


def _normal(name: str) -> str:
    return name.strip().lower().replace("_", " ").replace("-", " ")


@dataclass(frozen=True)
class NameComparison:
    """How a model's names line up with a dataset's.

    Attributes
    ----------
    renamed : list of (int, str, str)
        ``(id, model name, dataset name)`` where the spelling differs and neither name is used
        at another id (``aeroplane`` / ``airplane``): the ids still mean the same thing.
    moved : list of (int, str, str)
        Same id, different name, and one of the names sits at another id in the other list:
        scoring by id would credit one class's boxes to another.
    model_only, data_only : int
        Classes beyond the other list's length.
    """

    renamed: list[tuple[int, str, str]] = field(default_factory=list)
    moved: list[tuple[int, str, str]] = field(default_factory=list)
    model_only: int = 0
    data_only: int = 0


def compare_class_names(model_names: Sequence[str], data_names: Sequence[str], *,
                        source: str | None = None, strict: bool = True) -> NameComparison:
    """Compare by name (case, ``_`` and ``-`` ignored); warn about renamed classes, refuse moved.

    Raises
    ------
    DatasetError
        With ``strict``, when a class name sits at different ids in the two lists (the order
        differs in a way that would mis-score), listing the pairs; also when the dataset has
        classes the model does not (ids beyond the model's classes can never be detected).

    Examples
    --------
    >>> import warnings
    >>> with warnings.catch_warnings(record=True) as w:
    ...     warnings.simplefilter("always")
    ...     c = compare_class_names(["person", "aeroplane"], ["person", "airplane"])
    >>> c.renamed
    [(1, 'aeroplane', 'airplane')]
    >>> print(w[0].message)
    model and dataset name 1 class(es) differently (id: model/dataset): 1: aeroplane/airplane
    """
    model_norm = [_normal(n) for n in model_names]
    data_norm = [_normal(n) for n in data_names]
    renamed, moved = [], []
    for i in range(min(len(model_norm), len(data_norm))):
        if model_norm[i] == data_norm[i]:
            continue
        pair = (i, model_names[i], data_names[i])
        elsewhere = model_norm[i] in data_norm or data_norm[i] in model_norm
        (moved if elsewhere else renamed).append(pair)
    result = NameComparison(renamed, moved, max(0, len(model_names) - len(data_names)),
                            max(0, len(data_names) - len(model_names)))
    listed = "; ".join(f"{i}: {m}/{d}" for i, m, d in moved[:10])
    if moved and strict:
        raise DatasetError(f"the model's class order differs from the dataset's, which would "
                           f"mis-score {len(moved)} class(es) (id: model/dataset): {listed}",
                           source)
    if result.data_only and strict:
        raise DatasetError(f"the dataset has {len(data_names)} classes, the model "
                           f"{len(model_names)}: ids {len(model_names)}..{len(data_names) - 1} "
                           "can never be detected", source)
    if renamed:
        listed = "; ".join(f"{i}: {m}/{d}" for i, m, d in renamed[:20])
        warnings.warn(f"model and dataset name {len(renamed)} class(es) differently "
                      f"(id: model/dataset): {listed}", ClassNamesWarning, stacklevel=2)
    return result
