r"""The visible-hidden weights of an RBM, truly sparse or dense, behind one set of products.

:math:`W` is ``(n_visible, n_hidden)`` (rows = visible = the layer's inputs) in everything
handed out (``to_dense()``, ``to_scipy()``); both classes store its transpose, hidden-major
(the sparse one as the CSR of :class:`~setcourse.nn.layers.SparseLayer`, with visible =
input and hidden = output; the dense one as ``weights_t`` ``(n_hidden, n_visible)``), and
give the RBM three products on feature-major arrays:

.. math::
    \mathrm{hidden\_input}(v) = W^\top v + c, \qquad
    \mathrm{visible\_input}(h) = W h + b, \qquad
    \mathrm{statistics}(h, v)_{ji} = \sum_b h_{jb}\, v_{ib}

the last one only at the stored connections ``(j, i)`` (an SDDMM), in the order of the
weight values. ``v`` is ``(n_visible, batch)``, ``h`` is ``(n_hidden, batch)``.
"""
import numpy as np
import scipy.sparse as sp

from ..nn import kernels as nn_kernels
from ..nn.layers import SparseLayer
from . import kernels

# Blocks of the SDDMM kernel: many more than threads, so a static schedule balances.
_BLOCKS = 64


def normal_weights(size, init_std, rng):
    """``size`` float32 weights drawn from :math:`\\mathcal{N}(0, \\sigma^2)`, ``σ = init_std``."""
    return (rng.standard_normal(size) * init_std).astype(np.float32)


class SparseWeights(SparseLayer):
    r"""Truly sparse RBM weights: an Erdős–Rényi :class:`~setcourse.nn.layers.SparseLayer`.

    Every weight, at initialisation and when SET regrows a connection
    (:func:`setcourse.evolution.set.set_evolve_layer` calls :meth:`sample_weights`), is drawn
    from :math:`\mathcal{N}(0, \sigma^2)` with :math:`\sigma` = ``init_std`` (the original
    SET-RBM: ``randn() / 20``, :math:`\sigma = 0.05`).

    Parameters
    ----------
    n_visible, n_hidden : int
    density : float in (0, 1)
        Connection probability; ``round(density * n_visible * n_hidden)`` connections.
    rng : numpy.random.Generator
    init_std : float > 0
    """

    def __init__(self, n_visible, n_hidden, density, rng, init_std=0.05):
        self.init_std = float(init_std)  # before the base class draws the first weights
        super().__init__(n_visible, n_hidden, density, rng)

    def sample_weights(self, rows, rng, init=None):
        """New weights for connections of hidden neurons ``rows``: :math:`\\mathcal{N}(0, σ^2)`.

        ``init`` names one of the MLP's He fan-in rules, which an RBM does not use.
        """
        if init is not None:
            raise ValueError(f"RBM weights are drawn from N(0, init_std^2); the MLP's init rule "
                             f"{init!r} does not apply")
        return normal_weights(np.size(rows), self.init_std, rng)

    def hidden_input(self, v, bias):
        """:math:`W^\\top v + c`, ``(n_hidden, batch)`` for ``v`` ``(n_visible, batch)``."""
        out = np.empty((self.n_out, v.shape[1]), dtype=np.float32)
        nn_kernels.sparse_forward(self.indptr, self.indices, self.data, bias, v, out,
                                  nn_kernels.EMPTY_ROWS, np.float32(0), 1.0, np.uint64(0),
                                  False)
        return out

    def visible_input(self, h, bias):
        """:math:`W h + b`, ``(n_visible, batch)`` for ``h`` ``(n_hidden, batch)``."""
        out = np.empty((self.n_in, h.shape[1]), dtype=np.float32)
        kernels.transpose_product(self.t_indptr, self.t_indices, self.t_perm, self.data, bias,
                                  h, out)
        return out

    def statistics(self, h, v):
        r"""``(s, s_h)``: :math:`s_k = \sum_b h_{jb} v_{ib}` per connection, :math:`s_h = \sum_b h`."""
        s = np.empty(self.nnz, dtype=np.float32)
        s_h = np.empty(self.n_out, dtype=np.float32)
        # The MLP's backward kernel without an input gradient: SDDMM over hidden rows + row sums.
        nn_kernels.sparse_backward(self.indptr, self.indices, self.t_indptr, self.t_indices,
                                   self.t_perm, self.data, h, v, s, s_h,
                                   nn_kernels.EMPTY_ROWS, nn_kernels.NO_DERIVATIVE,
                                   nn_kernels.EMPTY_ROWS, np.float32(0), 1.0, np.uint64(0),
                                   _BLOCKS, self.weight_velocity, *nn_kernels.GRADIENT_ONLY)
        return s, s_h

    def weight_array(self):
        """The weight values, flat, aligned with :meth:`statistics` (a view)."""
        return self.data

    def to_dense(self):
        """:math:`W` as a dense ``(n_visible, n_hidden)`` float32 array, for tests and tiny demos."""
        dense = np.zeros((self.n_in, self.n_out), dtype=np.float32)
        dense[self.indices, self.row_of_each()] = self.data
        return dense

    def visible_degrees(self):
        """Connections of each visible neuron, ``(n_visible,)``."""
        return self.out_degrees()

    def hidden_degrees(self):
        """Connections of each hidden neuron, ``(n_hidden,)``."""
        return self.in_degrees()


class DenseWeights:
    """Fully connected RBM weights, stored ``weights_t`` ``(n_hidden, n_visible)`` float32; BLAS.

    Same interface as :class:`SparseWeights` (``n_in`` = visible, ``n_out`` = hidden, so
    the degree and memory tools of :mod:`setcourse.analysis` read both alike).
    """

    sparse = False

    def __init__(self, n_visible, n_hidden, rng, init_std=0.05):
        self.n_in = int(n_visible)
        self.n_out = int(n_hidden)
        self.init_std = float(init_std)
        self.weights_t = normal_weights(self.n_out * self.n_in, init_std, rng).reshape(
            self.n_out, self.n_in)
        self.weight_velocity = np.zeros_like(self.weights_t)

    @property
    def weights(self):
        """:math:`W` ``(n_visible, n_hidden)``: a view of ``weights_t``."""
        return self.weights_t.T

    @property
    def nnz(self):
        return self.weights_t.size

    @property
    def density(self):
        return 1.0

    def hidden_input(self, v, bias):
        """:math:`W^\\top v + c`, ``(n_hidden, batch)``."""
        out = self.weights_t @ v
        out += bias[:, None]
        return out

    def visible_input(self, h, bias):
        """:math:`W h + b`, ``(n_visible, batch)``."""
        out = self.weights_t.T @ h
        out += bias[:, None]
        return out

    def statistics(self, h, v):
        """``(h @ v.T, h.sum(1))``: the statistics of every connection and of the hidden biases."""
        return h @ v.T, h.sum(axis=1)

    def weight_array(self):
        """The stored weights ``(n_hidden, n_visible)``, aligned with :meth:`statistics`."""
        return self.weights_t

    def visible_degrees(self):
        return np.full(self.n_in, self.n_out, dtype=np.int64)

    def hidden_degrees(self):
        return np.full(self.n_out, self.n_in, dtype=np.int64)

    def in_degrees(self):
        return self.hidden_degrees()

    def out_degrees(self):
        return self.visible_degrees()

    def to_scipy(self):
        """:math:`W` as a scipy CSR matrix ``(n_visible, n_hidden)``."""
        return sp.csr_matrix(self.weights)

    def to_dense(self):
        """:math:`W` ``(n_visible, n_hidden)`` (a copy)."""
        return np.ascontiguousarray(self.weights)

    def parameter_bytes(self):
        return self.weights_t.nbytes


def warm_up():
    """Compile (or load) every kernel the RBM uses, outside any timing."""
    nn_kernels.warm_up()
    kernels.warm_up()
