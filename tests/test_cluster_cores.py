"""``tecktrack.cluster.usable_cores``: the machine's count, the affinity and the container's quota,
and the thread and worker counts that read it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tecktrack.cluster import cores as cpus
from tecktrack.cluster.cores import cgroup_cpu_limit, cgroup_v2_file, usable_cores


def _files(tmp_path: Path, v2: str | None, quota: str | None = None,
           period: str | None = None) -> tuple[Path, tuple[Path, Path]]:
    """A cgroup v2 ``cpu.max`` and v1 quota/period files holding these texts (None: absent)."""
    paths = tmp_path / "cpu.max", (tmp_path / "cfs_quota_us", tmp_path / "cfs_period_us")
    for path, text in zip((paths[0], *paths[1]), (v2, quota, period), strict=True):
        if text is not None:
            path.write_text(text)
    return paths


@pytest.mark.parametrize("v2,v1,want", [
    ("200000 100000\n", None, 2.0),                      # docker --cpus 2
    ("50000 100000\n", None, 0.5),
    ("max 100000\n", None, None),                        # no quota
    (None, ("150000\n", "100000\n"), 1.5),               # cgroup v1
    (None, ("-1\n", "100000\n"), None),                  # v1's "no quota"
    (None, None, None),                                  # no cgroup files at all
    ("garbage\n", ("oops\n", "100000\n"), None),         # unreadable both ways
    ("0 100000\n", None, None),
])
def test_cgroup_quota_in_cores(tmp_path: Path, v2, v1, want) -> None:
    quota, period = v1 if v1 else (None, None)
    v2_path, v1_paths = _files(tmp_path, v2, quota, period)
    assert cgroup_cpu_limit(v2_path, v1_paths) == want


def test_the_process_own_cgroup_is_read_before_the_root(tmp_path: Path) -> None:
    """A process in a nested cgroup v2 (a systemd slice, a Slurm job without its own
    namespace) has its quota in its own folder; a container sees its cgroup at the root."""
    (tmp_path / "job/step").mkdir(parents=True)
    (tmp_path / "job/step/cpu.max").write_text("300000 100000\n")
    (tmp_path / "cpu.max").write_text("max 100000\n")
    membership = tmp_path / "cgroup"
    membership.write_text("1:cpu:/\n0::/job/step\n")
    assert cgroup_v2_file(membership, tmp_path) == tmp_path / "job/step/cpu.max"
    assert cgroup_cpu_limit(cgroup_v2_file(membership, tmp_path), (tmp_path / "none",) * 2) == 3
    membership.write_text("0::/\n")
    assert cgroup_v2_file(membership, tmp_path) == tmp_path / "cpu.max"
    membership.write_text("0::/gone\n")                  # listed but not mounted here
    assert cgroup_v2_file(membership, tmp_path) == tmp_path / "cpu.max"
    assert cgroup_v2_file(tmp_path / "no-proc", tmp_path) == tmp_path / "cpu.max"


def test_the_smallest_count_wins_and_a_quota_rounds_up(monkeypatch) -> None:
    monkeypatch.setattr(os, "cpu_count", lambda: 64)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(8)), raising=False)
    monkeypatch.setattr(cpus, "cgroup_cpu_limit", lambda: None)
    assert usable_cores() == 8                            # taskset / CPU set
    monkeypatch.setattr(cpus, "cgroup_cpu_limit", lambda: 1.5)
    assert usable_cores() == 2                            # --cpus 1.5: two cores in turn
    monkeypatch.setattr(cpus, "cgroup_cpu_limit", lambda: 0.25)
    assert usable_cores() == 1
    monkeypatch.setattr(os, "cpu_count", lambda: None)    # unknown: one core
    monkeypatch.setattr(cpus, "cgroup_cpu_limit", lambda: None)
    assert usable_cores() == 1


def test_without_affinity_the_machine_count_is_used(monkeypatch) -> None:
    monkeypatch.delattr(os, "sched_getaffinity", raising=False)   # macOS, Windows
    monkeypatch.setattr(os, "cpu_count", lambda: 6)
    monkeypatch.setattr(cpus, "cgroup_cpu_limit", lambda: None)
    assert usable_cores() == 6


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity") or (os.cpu_count() or 1) < 2,
                    reason="needs CPU affinity and two cores")
def test_a_process_pinned_to_one_core_sizes_everything_for_one() -> None:
    """``taskset -c 0``: the stream pipeline's network threads, the API's per-run threads, the
    overlap of ``predict_batch`` and a ``local`` cluster all see one core, while
    ``os.cpu_count()`` still says more."""
    code = ("import os; os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})\n"
            "from tecktrack.inference.service import pipeline_threads\n"
            "from tecktrack.interface.api.app import request_threads\n"
            "from tecktrack.model.overlap import spare_core\n"
            "from tecktrack.cluster.address import ClusterAddress\n"
            "print(os.cpu_count(), pipeline_threads(), request_threads(1), spare_core(),"
            " ClusterAddress('local').n_local_workers())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=Path(__file__).resolve().parents[1]).stdout.split()
    assert int(out[0]) >= 2
    assert out[1:] == ["1", "1", "False", "1"]
