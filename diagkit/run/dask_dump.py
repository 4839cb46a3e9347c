"""``diag dump --dask``: connect, read every worker, and leave the cluster as it was (the
Client diag made is closed; nothing is registered on the workers)."""

from __future__ import annotations

from diagkit.dumping.dask_cluster import connect, dump_cluster
from diagkit.model.dask_dump import ClusterDump
from diagkit.run.header import Header


def dump_dask(address: str, timeout: float, interval: float, command: list[str]) -> ClusterDump:
    result = Header(command).cluster_dump(address)
    client = connect(address, timeout)
    try:
        return dump_cluster(client, address, interval, result)
    finally:
        client.close()
