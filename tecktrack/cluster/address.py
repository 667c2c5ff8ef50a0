"""What ``--cluster`` accepts: ``local``, ``local:N`` or a Dask scheduler address.

``TECKTRACK_CLUSTER`` gives the command-line default; ``none`` (or an empty value) means
one machine, no Dask.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from tecktrack.cluster.cores import usable_cores
from tecktrack.errors import ClusterError

__all__ = ["ENV_VAR", "ClusterAddress", "default_cluster", "parse_address"]

#: Environment variable holding the default ``--cluster`` value of the commands.
ENV_VAR = "TECKTRACK_CLUSTER"

_HOST_PORT = re.compile(r"^[A-Za-z0-9_.\-\[\]:]+:\d+$")
_OFF = ("", "none", "off")


@dataclass(frozen=True)
class ClusterAddress:
    """A parsed cluster address.

    Attributes
    ----------
    kind : {"local", "scheduler"}
        A ``LocalCluster`` started for the run, or an existing scheduler.
    workers : int or None
        Worker processes of a local cluster (``None``: one per core).
    address : str or None
        The scheduler address, e.g. ``tcp://host:8786``.
    """

    kind: str
    workers: int | None = None
    address: str | None = None

    def n_local_workers(self) -> int:
        """Workers a local cluster starts: ``workers`` or one per core.

        Examples
        --------
        >>> ClusterAddress("local", 3).n_local_workers()
        3
        """
        return self.workers or usable_cores()


def parse_address(text: str) -> ClusterAddress:
    """Parse ``local``, ``local:N``, ``tcp://host:port`` (any Dask scheme) or ``host:port``.

    Raises
    ------
    ClusterError
        Anything else, or ``local:N`` with N < 1.

    Examples
    --------
    >>> parse_address("local:2")
    ClusterAddress(kind='local', workers=2, address=None)
    >>> parse_address("tcp://10.0.0.5:8786").address
    'tcp://10.0.0.5:8786'
    """
    value = str(text).strip()
    low = value.lower()
    if low == "local":
        return ClusterAddress("local")
    if low.startswith("local:"):
        count = low.partition(":")[2]
        if not count.isdigit() or int(count) < 1:
            raise ClusterError(f"--cluster local:N needs a worker count N >= 1, got {value!r}")
        return ClusterAddress("local", int(count))
    if "://" in value or _HOST_PORT.match(value):
        return ClusterAddress("scheduler", address=value)
    raise ClusterError(f"--cluster must be 'local', 'local:N' or a scheduler address such as "
                       f"tcp://host:8786, got {value!r}")


def default_cluster() -> str | None:
    """The ``TECKTRACK_CLUSTER`` value, or ``None`` when unset, empty or ``none``.

    Examples
    --------
    >>> default_cluster() in (None, os.environ.get(ENV_VAR, "").strip())
    True
    """
    value = os.environ.get(ENV_VAR, "").strip()
    return None if value.lower() in _OFF else value


def is_off(value: object) -> bool:
    """True for ``None`` and the strings that mean "no cluster" (``none``, ``off``, empty)."""
    return value is None or (isinstance(value, str) and value.strip().lower() in _OFF)
