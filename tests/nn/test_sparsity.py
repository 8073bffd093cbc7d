"""Where a layer's connections are: Erdős–Rényi, ERK and uniform densities, position sampling."""
import tracemalloc

import numpy as np
import pytest

from setcourse.nn.layers import SparseLayer
from setcourse.nn.sparsity import (erdos_renyi_density, erk_densities, layer_densities,
                                   sample_empty_positions)


def test_erdos_renyi_layer_has_exactly_the_expected_connections():
    rng = np.random.default_rng(0)
    p = erdos_renyi_density(20, 784, 1000)
    assert p == pytest.approx(20 * 1784 / 784000)
    layer = SparseLayer(784, 1000, p, rng)
    assert layer.nnz == round(p * 784 * 1000) == 35680
    positions = layer.positions()
    assert np.unique(positions).size == positions.size


def test_large_layer_is_built_without_a_dense_array():
    tracemalloc.start()
    layer = SparseLayer(20000, 20000, erdos_renyi_density(20, 20000, 20000), np.random.default_rng(0))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert layer.nnz == 800000
    dense_bytes = 20000 * 20000 * 4
    assert peak < dense_bytes / 20, f"peak {peak / 1e6:.0f} MB is close to dense {dense_bytes / 1e6:.0f} MB"


def test_sampling_refuses_more_than_the_free_positions():
    with pytest.raises(ValueError, match="count"):
        sample_empty_positions(2, 2, 5, np.random.default_rng(0))


def test_erk_meets_the_target_density_and_caps_at_one():
    shapes = [(784, 1000), (1000, 1000), (1000, 10)]
    densities = erk_densities(shapes, 0.05)
    total = sum(a * b for a, b in shapes)
    assert sum(d * a * b for d, (a, b) in zip(densities, shapes)) == pytest.approx(0.05 * total)
    assert max(densities) <= 1
    # smaller layers get a higher density, as in ERK
    assert densities[1] < densities[0]
    uniform = layer_densities(shapes, "uniform", density=0.1)
    assert uniform == [0.1, 0.1, 1.0]


def test_the_dense_hidden_layer_note_works_from_python_dash_c_and_dash_m():
    """warn_explicit once asked ``__main__``'s loader for source and raised ImportError there."""
    import subprocess
    import sys
    code = ("import numpy as np; from setcourse import MLP; "
            "X = np.random.default_rng(0).random((30, 8), dtype=np.float32); "
            "MLP(hidden=(20,), epsilon=20, epochs=1, batch_size=10).fit(X, np.arange(30) % 2)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "hidden layer 0" in done.stderr and "so this layer is dense" in done.stderr
