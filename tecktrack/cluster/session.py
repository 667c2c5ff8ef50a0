"""Hand shards to Dask workers: connect, map a function over shards, report what ran.

:func:`cluster_session` opens a :class:`ClusterSession` on ``local`` / ``local:N`` (a
``LocalCluster`` started for the run: one worker process per core, one thread each), on a
scheduler address, or on a ``distributed.Client`` the caller already holds (left open).
It prints the dashboard link once on entry and, on a successful exit, one closing line:
how many shards ran, how many were retried (their worker died) and on how many workers.

Dask is imported here only, and only when a session opens: without ``--cluster`` nothing
imports it.
"""

from __future__ import annotations

import logging
import secrets
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TextIO

from tecktrack.cluster.address import ClusterAddress, is_off, parse_address
from tecktrack.cluster.cache import worker_address
from tecktrack.errors import ClusterError, TeckTrackError

__all__ = ["ClusterSession", "cluster_session", "shard", "wants_cluster"]

#: Images per shard unless a command's ``--shard-size`` says otherwise.
DEFAULT_SHARD_SIZE = 256

#: Seconds to wait for a scheduler address to answer.
CONNECT_TIMEOUT = 30
#: Seconds a failed run waits for its shards still running before cleaning up.
SETTLE_S = 60


def shard(items: Sequence[Any], size: int = DEFAULT_SHARD_SIZE) -> list[list[Any]]:
    """Consecutive slices of ``items`` of ``size`` items (the last may be shorter).

    Examples
    --------
    >>> shard(list(range(5)), 2)
    [[0, 1], [2, 3], [4]]
    """
    if int(size) < 1:
        raise ClusterError(f"--shard-size must be >= 1, got {size}")
    items = list(items)
    return [items[i:i + int(size)] for i in range(0, len(items), int(size))]


def _run_shard(fn: Callable[[Any], Any], payload: Any) -> tuple[str, Any]:
    """Worker side of one shard: the result and the worker that produced it."""
    return worker_address(), fn(payload)


class ClusterSession:
    """A connected Dask client plus the counts of one run (shards, retries, workers).

    Build one with :func:`cluster_session`; :meth:`map` runs a function over shards.
    """

    def __init__(self, client: Any, *, quiet: bool = False, stream: TextIO | None = None):
        self.client = client
        self.quiet = quiet
        self.stream = stream or sys.stderr
        self.shards = 0
        self.retried = 0
        self.workers: set[str] = set()

    @property
    def n_workers(self) -> int:
        """Workers connected to the scheduler now."""
        return len(self.client.scheduler_info(n_workers=-1).get("workers", {}))

    def map(self, fn: Callable[[Any], Any], payloads: Sequence[Any], *,
            desc: str = "shards") -> list[Any]:
        """``[fn(p) for p in payloads]`` on the workers, results in payload order.

        ``fn`` must be a module-level function importable on the workers. A tqdm bar counts
        finished shards. A shard whose worker dies is rerun by the scheduler (counted in
        :attr:`retried`); a shard that raises fails the run with its own exception (a
        :class:`~tecktrack.errors.TeckTrackError` stays one), the other shards cancelled.

        Examples
        --------
        >>> with cluster_session("local:1", quiet=True) as s:        # doctest: +SKIP
        ...     s.map(abs, [-1, 2])
        [1, 2]
        """
        from distributed import as_completed

        from tecktrack.progress import progress

        if not payloads:
            return []
        run = f"{desc.replace(' ', '-')}-{secrets.token_hex(4)}"
        keys = [f"{run}-{i:06d}" for i in range(len(payloads))]
        futures = [self.client.submit(_run_shard, fn, p, key=k, pure=False)
                   for k, p in zip(keys, payloads, strict=True)]
        index = {f.key: i for i, f in enumerate(futures)}
        results: list[Any] = [None] * len(futures)
        try:
            done = as_completed(futures, with_results=False)
            for future in progress(done, total=len(futures), desc=desc, quiet=self.quiet,
                                   unit="shard"):
                worker, value = self._result(future, keys)
                results[index[future.key]] = value
                self.workers.add(worker)
            self.retried += self._retries(keys)
        except BaseException:
            self._settle(futures)
            raise
        finally:
            self.client.cancel(futures)
        self.shards += len(futures)
        return results

    def _settle(self, futures: Sequence[Any]) -> None:
        """After a failed shard: cancel the shards not yet started and let the running ones
        end (at most :data:`SETTLE_S`), so that the caller's clean-up of the staging folders
        cannot race a shard still writing into its own (Dask cannot interrupt a running task).
        """
        from distributed import wait

        keys = {f.key for f in futures}
        try:
            busy = {k for ks in self.client.processing().values() for k in ks} & keys
        except Exception:  # a scheduler that no longer answers: wait for every shard
            busy = keys
        self.client.cancel([f for f in futures if f.key not in busy])
        try:
            wait([f for f in futures if f.key in busy], timeout=SETTLE_S)
        except TimeoutError:
            pass

    def _result(self, future: Any, keys: Sequence[str]) -> tuple[str, Any]:
        from distributed import KilledWorker

        try:
            return future.result()
        except KilledWorker as exc:
            raise ClusterError(f"shard {keys.index(future.key)} killed every worker that ran "
                               f"it ({exc}); see the workers' logs") from None
        except TeckTrackError:
            raise
        except OSError as exc:
            raise ClusterError(f"shard {keys.index(future.key)} failed on a worker: {exc}",
                               getattr(exc, "filename", None)) from None

    def _retries(self, keys: Sequence[str]) -> int:
        """Times the scheduler had to rerun these tasks because their worker died."""

        # defined here so that it travels by value: the scheduler needs no tecktrack
        def suspicious(dask_scheduler: Any = None, keys: Sequence[str] = ()) -> int:
            tasks = dask_scheduler.tasks
            return int(sum(tasks[k].suspicious for k in keys if k in tasks))

        return int(self.client.run_on_scheduler(suspicious, keys=list(keys)))

    def closing_line(self) -> str:
        """``cluster: N shards ran, R retried, on W workers``.

        Examples
        --------
        >>> s = ClusterSession(None); s.shards, s.workers = 4, {"a", "b"}
        >>> s.closing_line()
        'cluster: 4 shards ran, 0 retried, on 2 workers'
        """
        w = len(self.workers)
        return (f"cluster: {self.shards} shards ran, {self.retried} retried, "
                f"on {w} worker{'s' if w != 1 else ''}")

    def say(self, text: str) -> None:
        """One line on the session's stream (stderr: stdout stays as a local run's)."""
        print(text, file=self.stream, flush=True)


#: Housekeeping intervals of local clusters: the event-loop tick monitor (default 20 ms: it
#: only warns about a blocked loop), the worker memory monitor (100 ms: pausing and spilling
#: react within a second instead) and work stealing (100 ms: shards of images last seconds).
QUIET_LOOPS = {"distributed.admin.tick.interval": "1s",
               "distributed.worker.memory.monitor-interval": "1s",
               "distributed.scheduler.work-stealing-interval": "1s"}


def worker_environ() -> dict[str, Any]:
    """Dask's environment for new worker processes, less ``MALLOC_TRIM_THRESHOLD_``.

    Dask sets that variable to 65536 so long-lived workers give memory back; for image
    work it makes glibc unmap and re-fault the per-image buffers (+37 % page faults, about
    10-20 % more CPU per image in a measurement), so local clusters leave it at glibc's
    default. ``OMP_NUM_THREADS=1`` and friends stay (one thread per worker).
    """
    import dask

    env = dict(dask.config.get("distributed.nanny.pre-spawn-environ", {}) or {})
    env.pop("MALLOC_TRIM_THRESHOLD_", None)
    return env


def local_config() -> dict[str, Any]:
    """Dask configuration of the LocalClusters TeckTrack starts (``local``, ``local:N``).

    Worker processes start without ``MALLOC_TRIM_THRESHOLD_`` (:func:`worker_environ`) and
    without the statistical profiler (a thread sampling the running task's stack every
    10 ms: a few per cent of CPU per image; the dashboard's profile page stays empty).
    The housekeeping loops tick every second instead of every 20-100 ms (:data:`QUIET_LOOPS`):
    on an idle 2-worker cluster they took 0.68 CPU-seconds per 10 s (scheduler, nannies and
    workers), 0.20 with these settings: a core-share that shards of images can use.

    Examples
    --------
    >>> local_config()["distributed.worker.profile.enabled"]
    False
    >>> local_config()["distributed.admin.tick.interval"]
    '1s'
    """
    return {"distributed.nanny.pre-spawn-environ": worker_environ(),
            "distributed.worker.profile.enabled": False, **QUIET_LOOPS}


def _local_cluster(address: ClusterAddress) -> Any:
    import dask
    from distributed import LocalCluster

    with dask.config.set(local_config()):
        # CRITICAL: a task that raises is logged by its worker at ERROR ("Compute Failed" and a
        # traceback on stderr) before the client re-raises it as the run's one-line error
        return LocalCluster(n_workers=address.n_local_workers(), threads_per_worker=1,
                            processes=True, dashboard_address=":0",
                            silence_logs=logging.CRITICAL)


def _connect(address: ClusterAddress) -> Any:
    from distributed import Client

    _check_host(str(address.address))
    try:
        return Client(address.address, timeout=CONNECT_TIMEOUT)
    except (OSError, TimeoutError) as exc:
        raise ClusterError(f"cannot reach the Dask scheduler at {address.address}: {exc}") \
            from None


def _check_host(address: str) -> None:
    """Refuse at once a ``tcp``/``tls`` scheduler address whose host name does not resolve
    (``processes:2``, ``lcoal:2``), instead of waiting :data:`CONNECT_TIMEOUT` seconds for it."""
    import socket

    from distributed.comm.addressing import parse_address as dask_address
    from distributed.comm.addressing import parse_host_port

    try:
        scheme, location = dask_address(address)
        host, port = parse_host_port(location) if scheme in ("tcp", "tls") else (None, None)
    except ValueError:
        return  # Dask says what is wrong with it
    if host is None:
        return
    try:
        socket.getaddrinfo(host, port)
    except (socket.gaierror, UnicodeError):
        raise ClusterError(f"cannot reach the Dask scheduler at {address}: no host is called "
                           f"{host!r} (a cluster on this machine is --cluster local or "
                           "local:N)") from None


@contextmanager
def cluster_session(cluster: Any, *, quiet: bool = False,
                    stream: TextIO | None = None) -> Iterator[ClusterSession]:
    """Open a :class:`ClusterSession` on ``cluster``; close what was opened here.

    Parameters
    ----------
    cluster : str, distributed.Client or ClusterSession
        ``local``, ``local:N``, a scheduler address, a client (kept open), or a session
        (reused as is: its caller prints the lines).
    quiet : bool
        No progress bar.
    stream : file, optional
        Where the dashboard link and the closing line go (default stderr).

    Examples
    --------
    >>> with cluster_session("local:2") as session:                      # doctest: +SKIP
    ...     session.map(abs, [-1, -2])
    [1, 2]
    """
    if isinstance(cluster, ClusterSession):
        yield cluster
        return
    try:
        import distributed
    except ImportError:
        raise ClusterError("--cluster needs Dask: pip install 'tecktrack[cluster]' (or "
                           "'dask[distributed]')") from None

    if isinstance(cluster, distributed.Client):
        session = ClusterSession(cluster, quiet=quiet, stream=stream)
        session.say(f"cluster: dashboard {cluster.dashboard_link}")
        yield session
        session.say(session.closing_line())
        return
    address = parse_address(cluster)
    local = _local_cluster(address) if address.kind == "local" else None
    try:
        client = distributed.Client(local) if local is not None else _connect(address)
        try:
            session = ClusterSession(client, quiet=quiet, stream=stream)
            session.say(f"cluster: {address.address or cluster} ({session.n_workers} workers), "
                        f"dashboard {client.dashboard_link}")
            yield session
            session.say(session.closing_line())
        finally:
            client.close()
    finally:
        if local is not None:
            local.close()


def wants_cluster(cluster: Any) -> bool:
    """True when ``cluster`` asks for a cluster (not ``None``/``none``/``off``/empty).

    Examples
    --------
    >>> wants_cluster(None), wants_cluster("none"), wants_cluster("local:2")
    (False, False, True)
    """
    return not is_off(cluster)
