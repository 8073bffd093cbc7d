"""The index kernels of a sparse layer against numpy: CSR from positions, positions, transpose."""
import numpy as np
import pytest

from setcourse.nn import kernels
from setcourse.nn.layers import SparseLayer


@pytest.mark.parametrize("index", [np.int32, np.int64])
@pytest.mark.parametrize("n_rows, n_cols, count", [(7, 5, 0), (7, 5, 1), (13, 11, 60),
                                                   (40, 3, 100), (1, 300, 299)])
def test_index_kernels_match_numpy(n_rows, n_cols, count, index):
    rng = np.random.default_rng(count)
    positions = np.sort(rng.choice(n_rows * n_cols, size=count, replace=False)).astype(np.int64)
    indptr = np.zeros(n_rows + 1, dtype=index)
    indices = np.empty(count, dtype=np.int32)
    kernels.split_positions(positions, n_cols, indptr, indices)
    rows = positions // n_cols
    np.testing.assert_array_equal(indices, positions % n_cols)
    np.testing.assert_array_equal(indptr, np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=n_rows))]))
    assert indptr.dtype == index
    out = np.empty(count, dtype=np.int64)
    kernels.linear_positions(indptr, indices, n_cols, out)
    np.testing.assert_array_equal(out, positions)
    t_indptr, t_indices, t_perm = kernels.transpose_index(indptr, indices, n_cols)
    order = np.argsort(indices, kind="stable")  # by column, rows ascending within
    np.testing.assert_array_equal(t_perm, order)
    np.testing.assert_array_equal(t_indices, rows[order])
    np.testing.assert_array_equal(t_indptr, np.concatenate([[0], np.cumsum(np.bincount(indices, minlength=n_cols))]))
    assert t_indptr.dtype == t_perm.dtype == index and t_indices.dtype == np.int32
    # the same as the general counting sort the dense layer and the RBM use
    g_indptr, g_perm = kernels.group_by_column(indices, n_cols, indptr[:1])
    np.testing.assert_array_equal(g_indptr, t_indptr)
    np.testing.assert_array_equal(g_perm, t_perm)


def test_a_layer_refuses_positions_outside_its_shape():
    layer = SparseLayer(4, 3, 0.5, np.random.default_rng(0))
    with pytest.raises(ValueError, match=r"positions must be in 0..11 for a 4 -> 3 layer"):
        layer.set_connections(np.array([3, 12]), np.zeros(2, np.float32))
    layer.set_connections(np.array([0, 11]), np.ones(2, np.float32))
    assert layer.positions().tolist() == [0, 11] and layer.in_degrees().tolist() == [1, 0, 1]
