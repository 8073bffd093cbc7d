"""Gradients: the float64 reference against finite differences, the engine against the reference."""
import numpy as np
import pytest

from nn.reference import forward_backward, forward_loss
from nn.helpers import (built_model, dense_grads, dense_state, engine_step, reference_activations,
                     tiny_data)

ACTIVATIONS = ["relu", "leaky_relu", "all_relu", "sigmoid", "tanh"]


@pytest.mark.parametrize("loss", ["cross_entropy", "mse"])
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_reference_matches_finite_differences(activation, loss):
    model = built_model(activation=activation, loss=loss, topology="fixprob", seed=3)
    X, y = tiny_data(n=7)
    weights, biases, masks = dense_state(model)
    # Non-zero biases keep neurons without inputs off ReLU's kink at 0.
    biases = [np.random.default_rng(l).normal(0, 0.3, b.size) for l, b in enumerate(biases)]
    acts = reference_activations(model)
    _, grads_w, grads_b = forward_backward(weights, biases, masks, X.astype(np.float64), y,
                                           acts, loss)
    rng = np.random.default_rng(0)
    eps = 1e-6
    for l, (w, m) in enumerate(zip(weights, masks)):
        rows, cols = np.nonzero(m)
        for k in rng.choice(rows.size, size=min(6, rows.size), replace=False):
            i, j = rows[k], cols[k]
            old = w[i, j]
            w[i, j] = old + eps
            up = forward_loss(weights, biases, masks, X, y, acts, loss)
            w[i, j] = old - eps
            down = forward_loss(weights, biases, masks, X, y, acts, loss)
            w[i, j] = old
            assert grads_w[l][i, j] == pytest.approx((up - down) / (2 * eps), rel=1e-4, abs=1e-8)
        b = biases[l]
        for i in range(min(3, b.size)):
            old = b[i]
            b[i] = old + eps
            up = forward_loss(weights, biases, masks, X, y, acts, loss)
            b[i] = old - eps
            down = forward_loss(weights, biases, masks, X, y, acts, loss)
            b[i] = old
            assert grads_b[l][i] == pytest.approx((up - down) / (2 * eps), rel=1e-4, abs=1e-8)


@pytest.mark.parametrize("topology", ["fixprob", "dense", "dense_blas"])
@pytest.mark.parametrize("loss", ["cross_entropy", "mse"])
@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("dropout", [0.0, 0.4])
def test_engine_matches_dense_masked_reference(topology, activation, loss, dropout):
    model = built_model(activation=activation, loss=loss, topology=topology.split("_")[0],
                        dropout=dropout, seed=5, hidden=(16, 9))
    if topology == "dense_blas":  # large dense layers multiply by BLAS; small ones by kernels
        assert all(layer.uses_kernels for layer in model.layers_)
        for layer in model.layers_:
            layer.uses_kernels = False
    X, y = tiny_data(n=13)
    weights, biases, masks = dense_state(model)
    loss_engine, drop_masks = engine_step(model, X, y)
    loss_ref, grads_w, grads_b = forward_backward(
        weights, biases, masks, X.astype(np.float64), y, reference_activations(model), loss,
        drop_masks)
    assert loss_engine == pytest.approx(loss_ref, rel=1e-4)
    for layer, g_engine, g_ref, gb_ref in zip(model.layers_, dense_grads(model), grads_w, grads_b):
        np.testing.assert_allclose(g_engine, g_ref, rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(layer.bias_grad, gb_ref, rtol=1e-4, atol=1e-6)


def test_sparse_forward_equals_dense_masked_product():
    model = built_model(topology="fixprob", hidden=(40, 30), epsilon=3.0, seed=1)
    X, _ = tiny_data(n=9)
    weights, biases, masks = dense_state(model)
    layer = model.layers_[0]
    z = layer.forward(np.ascontiguousarray(X.T))
    np.testing.assert_allclose(z.T, X @ (weights[0] * masks[0]).T + biases[0], rtol=1e-5,
                               atol=1e-5)


def test_dropout_mask_rate_and_scale():
    from setcourse.nn.kernels import dropout_inplace
    values = np.ones((200, 500), dtype=np.float32)
    dropout_inplace(values, 0.7, np.uint64(12345))
    kept = values > 0
    assert kept.mean() == pytest.approx(0.7, abs=0.01)
    np.testing.assert_allclose(values[kept], 1 / 0.7, rtol=1e-6)
    again = np.ones((200, 500), dtype=np.float32)
    dropout_inplace(again, 0.7, np.uint64(12345))
    np.testing.assert_array_equal(values, again)


def test_dropout_mask_has_no_row_column_or_neighbour_structure():
    from setcourse.nn.kernels import dropout_inplace
    keep, n = 0.7, 512
    mask = np.ones((n, n), dtype=np.float32)
    dropout_inplace(mask, keep, np.uint64(2024))
    kept = mask > 0
    sigma = np.sqrt(keep * (1 - keep) / n)  # binomial spread of a row's or column's mean
    assert np.abs(kept.mean(axis=1) - keep).max() < 5 * sigma
    assert np.abs(kept.mean(axis=0) - keep).max() < 5 * sigma
    for a, b in ((kept[:, 1:], kept[:, :-1]), (kept[1:], kept[:-1])):  # neighbours
        assert (a & b).mean() == pytest.approx(keep * keep, abs=0.005)
    other = np.ones((n, n), dtype=np.float32)
    dropout_inplace(other, keep, np.uint64(2025))  # another seed: an independent mask
    assert (kept & (other > 0)).mean() == pytest.approx(keep * keep, abs=0.005)
