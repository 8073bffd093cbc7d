"""One LocalCluster of 2 worker processes for the module that needs it, tiny data for all."""
import pytest


@pytest.fixture(scope="session")
def client(tmp_path_factory):
    """Two worker processes made by the sweep's local_cluster (one thread, numba at one)."""
    distributed = pytest.importorskip("distributed")
    from setcourse.sweep import local_cluster
    cluster = local_cluster(2, env={"SETCOURSE_DATA": str(tmp_path_factory.mktemp("data"))},
                            dashboard_address=None)
    with distributed.Client(cluster) as client:
        yield client
    cluster.close()


