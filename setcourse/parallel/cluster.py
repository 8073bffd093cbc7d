"""Where the run happens: a Dask client, the server's worker and the training workers."""
import contextlib

from ..sweep.runner import connect as connect_cluster


@contextlib.contextmanager
def connect(n_workers, scheduler_address=None, client=None):
    """A connected ``distributed.Client``: ``client`` as given (left open), one to
    ``scheduler_address``, or a LocalCluster of its own (closed at the end).

    The local cluster is the sweep's (:func:`~setcourse.sweep.runner.connect`: one process per
    worker, one thread each, numba/OpenMP/BLAS at one thread set before they load), with
    ``n_workers + 1`` processes: the parameter server gets its own, as the original's master
    is an MPI rank of its own.
    """
    with connect_cluster(n_workers + 1, scheduler_address, client, threads_per_run=1,
                         dashboard_address=None) as (own, _):
        yield own


def worker_addresses(client):
    """The addresses of the cluster's workers now, sorted."""
    return sorted(client.scheduler_info(n_workers=-1)["workers"])


def place(client, n_workers, timeout=120):
    """``(server_address, [training worker addresses])`` for ``n_workers`` training workers.

    With more workers than ``n_workers`` the server gets one of its own; with exactly
    ``n_workers`` it shares the first (its actor runs in a thread of its own there, beside
    the training task, and the kernels release the GIL).
    """
    client.wait_for_workers(n_workers, timeout=timeout)
    workers = worker_addresses(client)
    if len(workers) > n_workers:
        return workers[0], workers[1:n_workers + 1]
    return workers[0], workers[:n_workers]


#: seconds between checks that the server's worker is still there while waiting on it
CHECK_SERVER_EVERY = 2.0


class ServerLost(RuntimeError):
    """The worker holding the parameter-server actor left the cluster."""


def call_server(server, method, *args, client=None):
    """``server.method(*args)``'s result, waited for as long as the server's worker lives.

    A call to an actor whose worker was killed may wait for ever (Dask does not always fail
    it), which would hold a worker's only thread; so the wait is cut into slices and the
    server's worker is looked for in the cluster after each. Raises :class:`ServerLost`.
    """
    from distributed import get_client
    future = getattr(server, method)(*args)
    while True:
        try:
            return future.result(timeout=CHECK_SERVER_EVERY)
        except TimeoutError:
            present = worker_addresses(client or get_client())
            if server._address not in present:  # the address Dask placed the actor at
                raise ServerLost(f"the parameter server's worker {server._address} left "
                                 f"during {method}") from None
