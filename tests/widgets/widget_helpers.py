"""Shared by the widget tests: sizes, a small dashboard, reading the status line, CSR checks."""
import re

import numpy as np

from setcourse import widgets as W
from setcourse.nn.sparsity import erdos_renyi_density, n_connections

HIDDEN = (48, 48)
PNG = b"\x89PNG"


def dashboard(digits, **kwargs):
    kwargs = {"hidden": HIDDEN, "epochs": 2, "epsilon": 10, **kwargs}
    return W.SETDashboard(*digits, image_shape=(8, 8), **kwargs)


def status_field(status, name):
    match = re.search(rf"{name}=([\d-]+)", status)
    assert match, f"no {name}= in status {status!r}"
    return match.group(1)


def expected_nnz(sizes, epsilon):
    """Connections of an Erdős–Rényi MLP computed from the formula, layer by layer."""
    total = 0
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        p = erdos_renyi_density(epsilon, n_in, n_out)
        total += n_in * n_out if p >= 1 else n_connections(p, n_in, n_out)
    return total


def check_consistent(model):
    """Every sparse layer is a valid CSR with a matching transpose index."""
    for layer in model.layers_:
        if not layer.sparse:
            continue
        assert layer.indptr[0] == 0 and layer.indptr[-1] == layer.data.size
        assert np.all(np.diff(layer.indptr) >= 0)
        positions = layer.positions()
        assert np.all(np.diff(positions) > 0), "connections not sorted and distinct"
        assert layer.weight_velocity.shape == layer.data.shape
        np.testing.assert_array_equal(np.bincount(layer.indices, minlength=layer.n_in),
                                      layer.out_degrees())
