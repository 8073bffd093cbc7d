"""The weight update fused into the backward pass, int64 index paths, and what a layer stores.

The fused kernel must equal the backward kernel followed by the optimiser's kernel bit for bit
(same operations, same order); int64 row pointers and permutation must give the same numbers
as int32 ones (a tiny layer forced to int64); both are checked against the dense reference.
"""
import numpy as np
import pytest
import scipy.sparse as sp

from setcourse import MLP
from setcourse.callbacks import Callback
from setcourse.nn import kernels, layers
from setcourse.nn.layers import SparseLayer
from setcourse.nn.optim import SGD

F32 = np.float32


def random_csr(n_rows, n_cols, density, seed, index=np.int32):
    m = sp.random(n_rows, n_cols, density=density, format="csr", random_state=seed, dtype=F32)
    m.sort_indices()
    indptr = m.indptr.astype(index)
    t_indptr, order = kernels.group_by_column(m.indices.astype(np.int32), n_cols, indptr[:1])
    rows = np.repeat(np.arange(n_rows, dtype=np.int32), np.diff(m.indptr))
    return m, indptr, m.indices.astype(np.int32), t_indptr, rows[order], order


# Shapes whose per-row and per-column counts are not multiples of the groups of 4 and 8.
SHAPES = [(37, 23, 0.3, 5), (9, 30, 0.4, 64), (200, 150, 0.07, 64), (5, 3, 1.0, 2)]


def interleaved(values, velocity):
    """``values`` and ``velocity`` as the strided views of one ``(nnz, 2)`` array, the layout
    of a sparse layer (:attr:`SparseLayer.data`)."""
    pair = np.empty((values.size, 2), F32)
    pair[:, 0], pair[:, 1] = values, velocity
    return pair[:, 0], pair[:, 1]


@pytest.mark.parametrize("with_dx", [True, False])
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("index", [np.int32, np.int64])
@pytest.mark.parametrize("layout", ["contiguous", "interleaved"])
def test_fused_update_is_backward_then_decoupled_sgd_bit_for_bit(shape, with_dx, index, layout):
    n_out, n_in, density, blocks = shape
    rng = np.random.default_rng(n_out)
    m, indptr, indices, t_indptr, t_indices, t_perm = random_csr(n_out, n_in, density, 1, index)
    batch = 19
    delta = rng.normal(size=(n_out, batch)).astype(F32)
    x = np.maximum(rng.normal(size=(n_in, batch)), 0).astype(F32)
    velocity = (rng.normal(size=m.nnz) * 0.1).astype(F32)
    lr, mu, decay = F32(0.05), F32(0.9), F32(2e-4)
    mode = kernels.RELU_FROM_OUTPUT if with_dx else kernels.NO_DERIVATIVE

    def dx_array():
        return np.zeros((n_in, batch), F32) if with_dx else kernels.EMPTY_ROWS

    data, grad, bias_grad, dx = m.data.copy(), np.zeros(m.nnz, F32), np.zeros(n_out, F32), dx_array()
    kernels.sparse_backward(indptr, indices, t_indptr, t_indices, t_perm, data, delta, x, grad,
                            bias_grad, dx, mode, kernels.EMPTY_ROWS, F32(0), 0.7, np.uint64(3),
                            blocks, velocity.copy(), *kernels.GRADIENT_ONLY)
    v_ref = velocity.copy()
    kernels.sgd_momentum_decoupled_update(data, grad, v_ref, lr, mu, decay)

    fused, v_fused, bias_fused, dx_fused = m.data.copy(), velocity.copy(), np.zeros(n_out, F32), dx_array()
    if layout == "interleaved":
        fused, v_fused = interleaved(fused, v_fused)
        assert fused.strides == v_fused.strides == (8,)
    kernels.sparse_backward(indptr, indices, t_indptr, t_indices, t_perm, fused, delta, x,
                            kernels.NO_GRADIENT, bias_fused, dx_fused, mode, kernels.EMPTY_ROWS,
                            F32(0), 0.7, np.uint64(3), blocks, v_fused,
                            kernels.DECOUPLED_UPDATE, lr, mu, decay)
    np.testing.assert_array_equal(fused, data)
    np.testing.assert_array_equal(v_fused, v_ref)
    np.testing.assert_array_equal(bias_fused, bias_grad)
    np.testing.assert_array_equal(np.asarray(dx_fused), np.asarray(dx))
    # and the gradient itself against the dense product
    rows = np.repeat(np.arange(n_out), np.diff(m.indptr))
    np.testing.assert_allclose(grad, (delta @ x.T)[rows, m.indices], rtol=1e-4, atol=1e-5)
    if with_dx:  # the input gradient used the weights before the update
        np.testing.assert_allclose(dx_fused, (m.T @ delta) * (x > 0) / F32(0.7), rtol=1e-4,
                                   atol=1e-5)


def test_int64_layer_computes_what_the_int32_layer_does(monkeypatch):
    rng = np.random.default_rng(0)
    small = SparseLayer(41, 29, 0.3, np.random.default_rng(4))
    monkeypatch.setattr(layers, "INT64_CONNECTIONS", 1)
    wide = SparseLayer(41, 29, 0.3, np.random.default_rng(4))
    assert small.indptr.dtype == np.int32 and small.t_perm.dtype == np.int32
    assert wide.indptr.dtype == wide.t_indptr.dtype == wide.t_perm.dtype == np.int64
    assert wide.indices.dtype == wide.t_indices.dtype == np.int32  # widths stay int32
    np.testing.assert_array_equal(wide.data, small.data)
    x = rng.normal(size=(41, 13)).astype(F32)
    np.testing.assert_array_equal(wide.forward(x), small.forward(x))
    np.testing.assert_allclose(wide.forward(x), wide.to_dense().T @ x + wide.bias[:, None],
                               rtol=1e-5, atol=1e-5)
    delta = rng.normal(size=(29, 13)).astype(F32)
    np.testing.assert_array_equal(wide.backward(delta), small.backward(delta))
    np.testing.assert_array_equal(wide.weight_grad, small.weight_grad)
    # rewiring keeps the int64 index
    keep = np.ones(wide.nnz, bool)
    keep[:3] = False
    wide.replace_connections(keep, wide.empty_positions(3, rng), rng=rng)
    assert wide.indptr.dtype == wide.t_perm.dtype == np.int64
    assert wide.stored_bytes() == sum(count * dtype.itemsize for _, dtype, count, _ in
                                      SparseLayer.storage(41, 29, wide.nnz))


def fit(params, X, y):
    return MLP(**params).fit(X, y)


def state(model):
    return [np.array(a) for layer in model.layers_ for _, a in sorted(layer.state_arrays().items())]


@pytest.mark.parametrize("index_limit", [2**31, 1])
def test_training_with_the_fused_update_is_bit_identical(monkeypatch, index_limit):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 30)).astype(F32)
    y = np.abs(X[:, :3]).argmax(axis=1)
    params = dict(hidden=(40, 31, 22), epsilon=4, topology="set", dropout=0.3, batch_size=32,
                  epochs=3, seed=2, weight_decay_mode="decoupled", lr=0.05)
    monkeypatch.setattr(layers, "INT64_CONNECTIONS", index_limit)
    fused = fit(params, X, y)
    assert all(layer._weight_grad is None for layer in fused.layers_ if layer.sparse)
    monkeypatch.setattr(SparseLayer, "fuses_update", property(lambda self: False))
    plain = fit(params, X, y)
    assert all(layer._weight_grad is not None for layer in plain.layers_ if layer.sparse)
    for a, b in zip(state(fused), state(plain)):
        np.testing.assert_array_equal(a, b)
    assert fused.history_["train_loss"] == plain.history_["train_loss"]


def test_l2_and_traced_layers_keep_their_gradients():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(64, 12)).astype(F32)
    y = rng.integers(0, 3, 64)
    l2 = MLP(hidden=(10, 8), epsilon=2, weight_decay_mode="l2", epochs=1, batch_size=16).fit(X, y)
    assert all(layer.update_with is None for layer in l2.layers_)
    rigl = MLP(hidden=(10, 8), epsilon=2, topology="rigl", epochs=1, batch_size=16).fit(X, y)
    assert all(not layer.fuses_update for layer in rigl.layers_)


def test_an_evaluation_disarms_and_a_later_backward_stores_gradients():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(64, 12)).astype(F32)
    y = rng.integers(0, 3, 64)
    model = MLP(hidden=(10, 8), epsilon=2, epochs=1, batch_size=16).fit(X, y)
    sparse = [layer for layer in model.layers_ if layer.sparse]
    assert all(isinstance(layer.update_with, SGD) for layer in sparse)  # armed by the last step
    model.decision_function(X[:5])
    assert all(layer.update_with is None for layer in sparse)
    before = [layer.data.copy() for layer in sparse]
    logits = model.forward(np.ascontiguousarray(X[:8].T), training=True)
    _, grad = model.loss_.loss_and_grad(logits, y[:8])
    model.backward(grad)
    for layer, data in zip(sparse, before):
        np.testing.assert_array_equal(layer.data, data)  # no update outside a step
        assert layer._weight_grad is not None and layer.weight_grad.any()


def test_a_fused_layer_stores_twenty_bytes_per_connection():
    layer = SparseLayer(300, 200, 0.05, np.random.default_rng(0))
    per_connection = sum(dtype.itemsize for _, dtype, _, per in
                         SparseLayer.storage(300, 200, layer.nnz) if per == "connection")
    assert per_connection == 20
    assert layer.stored_bytes() == (20 * layer.nnz + 4 * 201 + 12 * 200 + 4 * 301)
    layer.weight_grad  # a gradient made on demand is counted
    assert layer.stored_bytes() == 24 * layer.nnz + 4 * 201 + 12 * 200 + 4 * 301


def test_no_step_keeps_a_gradient_array_not_even_the_first_of_an_epoch(monkeypatch):
    # Each epoch's evaluation (and a callback's) disarms the fused update; the training loop
    # re-arms it before every step: the first of a fit and of an epoch allocate no gradient.
    rng = np.random.default_rng(3)
    X = rng.normal(size=(200, 20)).astype(F32)
    y = np.abs(X[:, :3]).argmax(axis=1)
    params = dict(hidden=(30, 20), epsilon=4, topology="set", batch_size=32, epochs=3, seed=4)
    made = []
    original = SparseLayer.gradient_array

    def counting(self):
        made.append(self)
        return original(self)

    class EvaluateMidEpoch(Callback):
        def on_batch_end(self, model, epoch, batch, logs):
            if batch == 2:
                model.decision_function(X[:10])

    monkeypatch.setattr(SparseLayer, "gradient_array", counting)
    fit_args = dict(validation_data=(X[:50], y[:50]), callbacks=[EvaluateMidEpoch()])
    fused = MLP(**params).fit(X, y, **fit_args)
    assert made == []
    monkeypatch.setattr(SparseLayer, "fuses_update", property(lambda self: False))
    plain = MLP(**params).fit(X, y, **fit_args)
    assert made  # the plain path does store gradients
    for a, b in zip(state(fused), state(plain)):
        np.testing.assert_array_equal(a, b)
    assert fused.history_["test_loss"] == plain.history_["test_loss"]
