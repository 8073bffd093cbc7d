r"""The one product the MLP's kernels lack: :math:`W h + b` through the transpose index.

An RBM multiplies by its weights in both directions. The visible-to-hidden product
:math:`W^\top v + c` is the MLP's forward product (:func:`setcourse.nn.kernels.sparse_forward`,
rows = hidden neurons) and the statistics :math:`\sum_b v_{ib} h_{jb}` at the stored positions
are its SDDMM (:func:`setcourse.nn.kernels.sparse_backward` without an input gradient). The
hidden-to-visible product is the MLP's input gradient, but the backward kernel computes it
fused with a weight gradient the RBM does not want there; this kernel is the plain product.
"""
from .. import _threads  # noqa: F401  (sets the OpenMP wait policy before numba loads)
import numpy as np  # noqa: E402
from numba import njit, prange  # noqa: E402


@njit(parallel=True, cache=True, fastmath=True, nogil=True)
def transpose_product(t_indptr, t_indices, t_perm, data, bias, h, out):
    r"""``out = W h + bias`` from the transpose index of the CSR of :math:`W^\top`.

    .. math:: \mathrm{out}_{ib} = \mathrm{bias}_i + \sum_{j \in N(i)} W_{ij}\, h_{jb}

    Parameters
    ----------
    t_indptr : (n_visible + 1,) int array
        Connections of visible neuron ``i`` are ``t_indptr[i]:t_indptr[i + 1]``.
    t_indices : (nnz,) int32 array
        Hidden neuron of each connection in that order.
    t_perm : (nnz,) int array
        Where each connection's value sits in ``data`` (the row-major CSR of :math:`W^\top`).
    data : (nnz,) float32 array
    bias : (n_visible,) float32 array
    h : (n_hidden, batch) float32, C-contiguous
    out : (n_visible, batch) float32, written

    Rows of ``out`` are independent (one visible neuron each), so the loop over them runs in
    parallel without races.
    """
    batch = h.shape[1]
    for i in prange(t_indptr.size - 1):
        row = out[i]
        b = bias[i]
        for c in range(batch):
            row[c] = b
        k = t_indptr[i]
        end = t_indptr[i + 1]
        # Two connections per pass over the row: half the loads and stores of ``out[i]``.
        while k + 1 < end:
            w0 = data[t_perm[k]]
            w1 = data[t_perm[k + 1]]
            h0 = h[t_indices[k]]
            h1 = h[t_indices[k + 1]]
            for c in range(batch):
                row[c] += w0 * h0[c] + w1 * h1[c]
            k += 2
        if k < end:
            w0 = data[t_perm[k]]
            h0 = h[t_indices[k]]
            for c in range(batch):
                row[c] += w0 * h0[c]


def warm_up():
    """Compile (or load from cache) the kernel on a tiny input."""
    index = np.zeros(1, dtype=np.int32)
    indptr = np.array([0, 1], dtype=np.int32)
    one = np.ones(1, dtype=np.float32)
    transpose_product(indptr, index, index, one, one, np.ones((1, 2), np.float32),
                      np.empty((1, 2), np.float32))
