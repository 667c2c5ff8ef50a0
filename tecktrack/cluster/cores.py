"""How many CPU cores this process may use: the count every thread and worker number reads.

``os.cpu_count()`` counts the machine's cores, not the ones this process gets: a process
pinned with ``taskset`` (or a Slurm / Kubernetes CPU set) runs on fewer, and a container given
``--cpus 2`` on a 64-core host has a CPU quota of two cores. Sizing thread pools from the
machine's count then puts many threads on few cores, where they queue behind each other.
:func:`usable_cores` takes the smallest of the three (Python 3.13's
``os.process_cpu_count()`` covers only the affinity).

Examples
--------
>>> usable_cores() >= 1
True
"""

from __future__ import annotations

import math
import os
from pathlib import Path

__all__ = ["cgroup_cpu_limit", "cgroup_v2_file", "usable_cores"]

#: Where cgroups are mounted, and cgroup v1's quota and period (microseconds per period).
_CGROUP_ROOT = Path("/sys/fs/cgroup")
_CGROUP_V1 = (_CGROUP_ROOT / "cpu" / "cpu.cfs_quota_us", _CGROUP_ROOT / "cpu" / "cpu.cfs_period_us")


def usable_cores() -> int:
    """Cores this process may run on: the smallest of the machine's count, the CPU affinity
    and the container's CPU quota (rounded up), at least 1.

    Examples
    --------
    >>> 1 <= usable_cores() <= (os.cpu_count() or 1)
    True
    """
    cores = os.cpu_count() or 1
    try:
        cores = min(cores, len(os.sched_getaffinity(0)))
    except AttributeError:  # no affinity on this platform (macOS, Windows)
        pass
    limit = cgroup_cpu_limit()
    if limit is not None:
        cores = min(cores, math.ceil(limit))
    return max(1, cores)


def cgroup_cpu_limit(v2: Path | None = None,
                     v1: tuple[Path, Path] = _CGROUP_V1) -> float | None:
    """The container's CPU quota in cores (``quota / period``), or ``None`` when there is
    none or it cannot be read (no cgroup file, ``max``, ``-1``, anything malformed).

    ``v2`` is cgroup v2's ``cpu.max`` (default: :func:`cgroup_v2_file`); cgroup v1's files
    are read where it is missing.

    Examples
    --------
    >>> import tempfile
    >>> f = Path(tempfile.mkdtemp()) / "cpu.max"
    >>> _ = f.write_text("150000 100000\\n")
    >>> cgroup_cpu_limit(f, (f, f)), cgroup_cpu_limit(f.with_name("none"), (f, f))
    (1.5, None)
    """
    try:
        quota, period = (v2 or cgroup_v2_file()).read_text().split()[:2]
    except (OSError, ValueError):
        try:
            quota, period = (path.read_text().strip() for path in v1)
        except (OSError, ValueError):
            return None
    try:
        quota_us, period_us = float(quota), float(period)
    except ValueError:  # "max": no quota
        return None
    if quota_us <= 0 or period_us <= 0:  # cgroup v1 writes -1 for no quota
        return None
    return quota_us / period_us


def cgroup_v2_file(membership: Path = Path("/proc/self/cgroup"),
                   root: Path = _CGROUP_ROOT) -> Path:
    """This process's own cgroup v2 ``cpu.max`` (its ``0::/path`` line in
    ``/proc/self/cgroup``, under the mount ``root``), else the one at ``root`` itself (a
    container sees its own cgroup there).

    Examples
    --------
    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp()); (d / "slice").mkdir()
    >>> _ = (d / "slice/cpu.max").write_text("max")
    >>> _ = (d / "cgroup").write_text("0::/slice\\n")
    >>> cgroup_v2_file(d / "cgroup", d).relative_to(d).as_posix()
    'slice/cpu.max'
    """
    try:
        lines = membership.read_text().splitlines()
    except OSError:
        lines = []
    for line in lines:
        if line.startswith("0::"):
            own = root / line[3:].strip().lstrip("/") / "cpu.max"
            if own.is_file():
                return own
    return root / "cpu.max"
