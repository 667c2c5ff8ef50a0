"""Errors a user can act on.

Every error TeckTrack raises for bad input is a :class:`TeckTrackError` subclass whose
message names the file, line or field and what is wrong. The CLI prints the message
(no traceback) and exits with status 2.
"""

from __future__ import annotations

from pathlib import Path


class TeckTrackError(Exception):
    """Base class of every error TeckTrack raises for input a user can fix."""


class LocatedError(TeckTrackError):
    """An error tied to a place: ``path[:line]: message``.

    Parameters
    ----------
    message : str
        What is wrong, in words a user can act on.
    path : str or Path, optional
        The file (or folder) at fault.
    line : int, optional
        1-based line number inside ``path``.

    Examples
    --------
    >>> str(LocatedError("expected 5 columns, got 3", "labels/a.txt", 2))
    'labels/a.txt:2: expected 5 columns, got 3'
    """

    def __init__(self, message: str, path: str | Path | None = None, line: int | None = None):
        self.message = message
        self.path = None if path is None else str(path)
        self.line = line
        super().__init__(self._format())

    def _format(self) -> str:
        if self.path is None:
            return self.message
        where = self.path if self.line is None else f"{self.path}:{self.line}"
        return f"{where}: {self.message}"


class FormatError(LocatedError):
    """A label, prediction, YAML or JSON file that does not follow its format."""


class DatasetError(LocatedError):
    """A dataset layout problem: missing folders, unreadable images, bad data.yaml."""


class ModelError(LocatedError):
    """A model that cannot be found, read, or run, or whose outputs make no sense."""


class EvaluationError(LocatedError):
    """Inputs to the metrics engine that cannot be evaluated as given."""


class StreamError(LocatedError):
    """A video or UDP source that cannot be opened or read."""


class ClusterError(LocatedError):
    """A cluster that cannot be reached, or a worker that cannot read or write a path."""
