"""Scale out: hand a batch step's shards to Dask workers, with the outputs of one machine.

The wing knows no model and no file format. A batch step (predict, evaluate, mine, augment,
synth) splits its work into shards of image paths, gives :meth:`ClusterSession.map` a
module-level function, and reduces the compact results on the client. Workers keep objects
between shards with :func:`worker_cache` (a detector is loaded once per worker), write
files under a staging folder (:func:`new_stage`) that the client :func:`commit`\\ s only once
every shard succeeded, and :func:`check_readable` fails a run naming the path and the worker
before anything is written.

Dask (the ``cluster`` extra) is imported only when a session opens.

Examples
--------
>>> parse_address("local:2").workers
2
>>> shard(["a.jpg", "b.jpg", "c.jpg"], 2)
[['a.jpg', 'b.jpg'], ['c.jpg']]
"""

from tecktrack.cluster.address import ENV_VAR, ClusterAddress, default_cluster, parse_address
from tecktrack.cluster.cache import file_key, worker_address, worker_cache
from tecktrack.cluster.cores import cgroup_cpu_limit, cgroup_v2_file, usable_cores
from tecktrack.cluster.session import (
    DEFAULT_SHARD_SIZE,
    ClusterSession,
    cluster_session,
    shard,
    wants_cluster,
)
from tecktrack.cluster.staging import (
    MANIFEST,
    PARTIAL,
    check_readable,
    commit,
    discard,
    new_stage,
    start_run,
    write_manifest,
)

__all__ = [
    "DEFAULT_SHARD_SIZE",
    "ENV_VAR",
    "MANIFEST",
    "PARTIAL",
    "ClusterAddress",
    "ClusterSession",
    "cgroup_cpu_limit",
    "cgroup_v2_file",
    "check_readable",
    "cluster_session",
    "commit",
    "default_cluster",
    "discard",
    "file_key",
    "new_stage",
    "parse_address",
    "shard",
    "start_run",
    "usable_cores",
    "wants_cluster",
    "worker_address",
    "worker_cache",
    "write_manifest",
]
