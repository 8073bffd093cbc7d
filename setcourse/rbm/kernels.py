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




# -- annealed importance sampling ------------------------------------------------------------
_F32 = np.float32
# Beyond |80| the logistic is 0 or 1 in float32, and exp(80) still fits: clipping keeps every
# value finite, which fastmath assumes.
_CLIP = _F32(80.0)


@njit(cache=True, nogil=True, fastmath=True)
def _exp_neg_clipped(z):
    """:math:`e^{-z}` with ``z`` clipped to [-80, 80] (float32)."""
    return np.exp(-min(max(z, -_CLIP), _CLIP))


#: Below this :math:`|\delta x|` the log-weight increment is a float32 power series.
_SERIES = _F32(0.05)


@njit(inline="always")
def _expm1_series(t):
    """:math:`e^t - 1` for :math:`|t| < 0.05` (four terms: relative error below 1e-8)."""
    return t * (_F32(1.0) + t * (_F32(0.5) + t * (_F32(1.0 / 6.0) + t * _F32(1.0 / 24.0))))


@njit(inline="always")
def _log1p_series(t):
    r""":math:`\log(1 + t)` for :math:`|t| < 0.052` (four terms: relative error below 1e-7)."""
    return t * (_F32(1.0) - t * (_F32(0.5) - t * (_F32(1.0 / 3.0) - t * _F32(0.25))))


# No fastmath where the log weights are summed: the increments are tiny differences added up
# over thousands of steps.
@njit(cache=True, nogil=True)
def ais_hidden_step(x, beta, step, uniforms, h, log_w):
    r"""The hidden half of one AIS step at :math:`\beta`, in place.

    For pre-activations ``x`` :math:`= c + W^\top v` ``(n_hidden, n_chains)`` and
    :math:`p = \sigma(\beta x)`:

    .. math::
        \log w \mathrel{+}= \sum_j \left[\operatorname{softplus}(\beta x_j)
            - \operatorname{softplus}((\beta - \delta) x_j)\right]
          = -\sum_j \operatorname{log1p}\!\left(p_j \operatorname{expm1}(-\delta x_j)\right)

    with :math:`\delta` = ``step``. The right-hand side keeps the relative precision of the
    small difference, where the left-hand side would cancel. For :math:`|\delta x| < 0.05`
    (every term of the default schedules) it runs as float32 power series, 4x faster than
    the library's ``log1p``/``expm1``; larger steps use float64 (there :math:`p` near 1 and
    :math:`\operatorname{expm1}` near -1 would cancel in float32). The sums are float64.
    Then ``h = uniforms < p``, the hidden sample of :math:`T_\beta`.
    """
    n_hidden, n_chains = x.shape
    b32, d32 = _F32(beta), _F32(step)
    for j in range(n_hidden):
        for m in range(n_chains):
            z = x[j, m]
            p = _F32(1.0) / (_F32(1.0) + _exp_neg_clipped(b32 * z))
            t = -d32 * z
            if abs(t) < _SERIES:
                log_w[m] -= np.float64(_log1p_series(p * _expm1_series(t)))
            else:
                z64 = np.float64(z)
                p64 = 1.0 / (1.0 + np.exp(-beta * z64))
                log_w[m] -= np.log1p(p64 * np.expm1(-step * z64))
            h[j, m] = _F32(1.0) if uniforms[j, m] < p else _F32(0.0)


@njit(cache=True, nogil=True, fastmath=True)
def ais_visible_step(y, visible_bias, base_bias, beta, uniforms, v, linear):
    r"""The visible half of :math:`T_\beta`, in place: ``v = uniforms < σ(β (y + b) + (1 - β) b_A)``
    for ``y`` :math:`= W h` ``(n_visible, n_chains)``; ``linear[m]`` :math:`= (b - b_A)^\top v_m`."""
    n_visible, n_chains = y.shape
    b32 = _F32(beta)
    for m in range(n_chains):
        linear[m] = 0.0
    for i in range(n_visible):
        b = _F32(visible_bias[i])
        a = _F32(base_bias[i])
        offset = b32 * b + (_F32(1.0) - b32) * a
        gap = np.float64(b) - np.float64(a)
        for m in range(n_chains):
            # u < sigma(pre) as such: with u = 0 (probability 2^-24) the division-free
            # u (1 + e^-pre) < 1 would switch on a unit of probability ~0.
            p = _F32(1.0) / (_F32(1.0) + _exp_neg_clipped(b32 * y[i, m] + offset))
            value = _F32(1.0) if uniforms[i, m] < p else _F32(0.0)
            v[i, m] = value
            linear[m] += gap * value


def warm_up():
    """Compile (or load from cache) the kernels on tiny inputs."""
    index = np.zeros(1, dtype=np.int32)
    indptr = np.array([0, 1], dtype=np.int32)
    one = np.ones(1, dtype=np.float32)
    grid = np.ones((1, 2), np.float32)
    values = np.ones((2, 2), np.float32)[:, 0]  # interleaved values (1 row would be contiguous)
    transpose_product(indptr, index, index, values, one, grid, np.empty((1, 2), np.float32))
    ais_hidden_step(grid, 0.5, 0.1, grid, grid.copy(), np.zeros(2))
    ais_visible_step(grid, one, np.zeros(1), 0.5, grid, grid.copy(), np.zeros(2))
