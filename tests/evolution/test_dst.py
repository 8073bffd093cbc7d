"""DST: masked forward, long-tailed straight-through estimator, threshold gradient and penalty."""
import numpy as np
import pytest

from setcourse.evolution import DST
from setcourse.evolution.dst import DSTLayer, step_derivative
from setcourse import MLP


def layer_with(weights, threshold, alpha=0.0):
    weights = np.asarray(weights, np.float32)
    layer = DSTLayer(weights.shape[1], weights.shape[0], np.random.default_rng(0), alpha=alpha)
    layer.dense_weights_t[...] = weights
    layer.threshold[...] = threshold
    return layer


def test_step_derivative_values():
    x = np.array([0.0, 0.2, -0.2, 0.4, -0.4, 0.41, 1.0, -1.0, 1.01, -3.0], np.float32)
    expected = [2.0, 1.2, 1.2, 0.4, 0.4, 0.4, 0.4, 0.4, 0.0, 0.0]
    assert step_derivative(x).tolist() == pytest.approx(expected)


def test_forward_masks_weights_below_their_neurons_threshold():
    layer = layer_with([[0.5, -0.2, 0.05], [1.0, -1.5, 0.3]], [0.1, 1.2])
    x = np.array([[1.0], [2.0], [3.0]], np.float32)
    z = layer.forward(x)
    assert layer.mask_t.tolist() == [[True, True, False], [False, True, False]]
    assert layer.active_mask().tolist() == [[True, False], [True, True], [False, False]]
    assert z.ravel().tolist() == pytest.approx([0.5 - 0.4, -3.0])
    assert layer.nnz == 3 and np.allclose(layer.weights, [[0.5, 0], [-0.2, -1.5], [0, 0]])
    assert layer.to_scipy().shape == (3, 2) and layer.to_scipy().nnz == 3


def test_thresholds_reset_when_at_most_one_percent_survives():
    rng = np.random.default_rng(0)
    layer = layer_with(rng.uniform(-1, 1, (20, 10)), 0.0)
    layer.threshold[:] = 0.995  # keeps ~0.5 % of the weights
    layer.forward(np.ones((10, 1), np.float32))
    assert np.all(layer.threshold == 0) and layer.mask_t.all()


def test_backward_matches_the_formula_on_a_hand_built_case():
    # W = [[0.5, -0.2, 0.05]], t = 0.1: |W| - t = (0.4, 0.1, -0.05), H' = (0.4, 1.6, 1.8).
    layer = layer_with([[0.5, -0.2, 0.05]], [0.1], alpha=0.01)
    x = np.array([[1.0, 0.0], [2.0, 1.0], [-1.0, 2.0]], np.float32)
    delta = np.array([[1.0, -2.0]], np.float32)
    layer.forward(x)
    dx = layer.backward(delta)
    g = delta @ x.T  # dL/d(W*M) = (1, 0, -5)
    assert g.ravel().tolist() == [1.0, 0.0, -5.0]
    # dL/dW = G (M + |W| H') = (1 * (1 + 0.5*0.4), 0, -5 * (0 + 0.05*1.8))
    assert layer.weight_grad.ravel().tolist() == pytest.approx([1.2, 0.0, -0.45])
    # dL/dt = -sum G W H' - alpha e^{-t} = -(1*0.5*0.4 + 0 + (-5)(0.05)(1.8)) - 0.01 e^{-0.1}
    assert layer.threshold_grad[0] == pytest.approx(-(0.2 - 0.45) - 0.01 * np.exp(-0.1))
    assert layer.bias_grad.tolist() == [-1.0]
    assert np.allclose(dx, np.array([[0.5], [-0.2], [0.0]]) @ delta)


def objective(layer, x, r):
    """A loss whose dL/dz = r, plus DST's penalty alpha * sum exp(-t)."""
    z = layer.forward(x)
    return float(np.sum(r * z) + layer.alpha * np.exp(-layer.threshold.astype(np.float64)).sum())


def test_gradients_match_finite_differences_where_the_step_is_flat():
    # Every |W| - t is outside [-1, 1]: the mask cannot change under small perturbations and
    # the estimator is 0, so the backward pass is the true gradient of the objective.
    # Row 0 all masked (|W| - t < -1), row 1 mixed, row 2 all active (|W| - t > 1).
    w = [[0.3, 1.4, -1.2, 0.9], [3.5, -0.5, 3.2, -0.8], [0.4, -0.7, 0.2, 1.1]]
    layer = layer_with(w, [2.5, 2.0, -1.5], alpha=0.05)
    rng = np.random.default_rng(1)
    x = rng.normal(size=(4, 5)).astype(np.float32)
    r = rng.normal(size=(3, 5)).astype(np.float32)
    objective(layer, x, r)
    layer.backward(r)
    eps = 1e-2
    assert layer.mask_t.tolist() == [[False] * 4, [True, False, True, False], [True] * 4]
    for i, j in np.ndindex(3, 4):
        saved = layer.dense_weights_t[i, j]
        layer.dense_weights_t[i, j] = saved + eps
        up = objective(layer, x, r)
        layer.dense_weights_t[i, j] = saved - eps
        down = objective(layer, x, r)
        layer.dense_weights_t[i, j] = saved
        assert layer.weight_grad[i, j] == pytest.approx((up - down) / (2 * eps), rel=1e-3, abs=1e-4)
    for i in range(3):
        saved = layer.threshold[i]
        layer.threshold[i] = saved + eps
        up = objective(layer, x, r)
        layer.threshold[i] = saved - eps
        down = objective(layer, x, r)
        layer.threshold[i] = saved
        assert layer.threshold_grad[i] == pytest.approx((up - down) / (2 * eps), rel=1e-3)


def test_every_layer_is_masked_and_sparsity_emerges(tiny_data):
    X, y = tiny_data
    model = MLP(hidden=(64, 64), topology=DST(alpha=2e-2), epochs=4, batch_size=32, lr=0.05,
                seed=0).fit(X, y)
    assert all(isinstance(layer, DSTLayer) for layer in model.layers_)
    totals = [sum(row) for row in model.history_["nnz"]]
    dense = 40 * 64 + 64 * 64 + 64 * 3
    assert totals[-1] < totals[0] < dense  # thresholds rise: fewer active weights each epoch
    assert not model.is_sparse  # dense by nature: BLAS does the products
    assert model.parameter_bytes() >= 4 * dense


def test_dst_starts_from_the_dense_model_of_the_same_seed(tiny_data):
    X, y = tiny_data
    dst = MLP(hidden=(100,), topology="dst", epochs=1, seed=3)
    dense = MLP(hidden=(100,), topology="dense", epochs=1, seed=3)
    dst.build(40, 3)
    dense.build(40, 3)
    assert isinstance(dst.layers_[-1], DSTLayer)  # DST.make_layer: the classifier too
    assert np.array_equal(dst.layers_[0].dense_weights_t, dense.layers_[0].weights_t)


def test_bad_parameters_name_themselves(tiny_data):
    X, y = tiny_data
    for bad, name in ((DST(alpha=-1.0), "alpha"), (DST(reset_ratio=1.0), "reset_ratio")):
        with pytest.raises(ValueError, match=name):
            MLP(hidden=(16,), topology=bad, epochs=1).fit(X, y)


# -- held against the reference (junjieliu2910/DynamicSparseTraining) -----------------------
def reference_dst_steps(w, b, t, x, r, alpha, lr, mu, weight_decay, steps):
    """The reference's training step for one ``MaskedMLP`` under the loss ``sum(r * z)``,
    ported to numpy (float64): forward and mask ``mnist/model/binarization.py:49-66`` (reset
    of the thresholds at a keep ratio <= 0.01), the step's estimator ``binarization.py:8-23``,
    the penalty ``alpha * sum(exp(-t))`` ``mnist/trainer/trainer.py:36-38``, and
    ``torch.optim.SGD(model.parameters(), lr, momentum, weight_decay)`` ``mnist/train.py:72``:
    every parameter (weights, bias, threshold) gets ``d = g + weight_decay * p``,
    ``buf = d`` at the first step then ``buf = mu * buf + d``, ``p -= lr * buf``."""
    params = [np.array(w, np.float64), np.array(b, np.float64), np.array(t, np.float64)]
    buffers = [None, None, None]
    history = []
    for _ in range(steps):
        w, b, t = params
        shifted = np.abs(w) - t[:, None]
        mask = (shifted > 0).astype(np.float64)
        if mask.sum() / mask.size <= 0.01:
            t[:] = 0.0
            shifted = np.abs(w)
            mask = (shifted > 0).astype(np.float64)
        a = np.abs(shifted)
        slope = np.where(a <= 0.4, 2 - 4 * a, np.where(a <= 1, 0.4, 0.0))
        g_masked = r @ x.T  # dL/d(W * mask)
        grads = [g_masked * (mask + np.sign(w) * w * slope),
                 r.sum(axis=1),
                 -(g_masked * w * slope).sum(axis=1) - alpha * np.exp(-t)]
        for i, (p, g) in enumerate(zip(params, grads)):
            d = g + weight_decay * p
            buffers[i] = d.copy() if buffers[i] is None else mu * buffers[i] + d
            p -= lr * buffers[i]
        history.append([p.copy() for p in params])
    return history


@pytest.mark.parametrize("decay_biases", [True, False])
def test_weight_decay_of_weights_bias_and_thresholds_is_the_references(decay_biases):
    # The reference decays every parameter through PyTorch's SGD (L2 in the gradient): our
    # weight_decay_mode="l2", decay_biases=True is that rule, step for step. Without decaying
    # the biases and thresholds (what DST did before decay_biases existed) they drift away.
    from setcourse.nn.optim import SGD
    rng = np.random.default_rng(3)
    w = rng.uniform(-0.6, 0.6, (3, 4))
    x = rng.normal(size=(4, 5))
    r = rng.normal(size=(3, 5)) * 0.3
    alpha, lr, mu, decay, steps = 0.2, 0.05, 0.9, 0.05, 20
    layer = layer_with(w, [0.1, 0.0, 0.2], alpha=alpha)
    layer.bias[:] = [0.3, -0.2, 0.1]
    reference = reference_dst_steps(w, layer.bias, layer.threshold, x, r, alpha, lr, mu,
                                    decay, steps)
    optimizer = SGD(lr, mu, decay, weight_decay_mode="l2", decay_biases=decay_biases)
    x32, r32 = x.astype(np.float32), r.astype(np.float32)
    worst = 0.0
    for expected in reference:
        layer.forward(x32)
        layer.backward(r32, need_input_grad=False)
        optimizer.step([layer])
        ours = [layer.dense_weights_t, layer.bias, layer.threshold]
        worst = max(worst, max(np.abs(o - e).max() for o, e in zip(ours, expected)))
    # The thresholds moved (penalty, estimator and decay all act) and masked some weights.
    assert np.abs(reference[-1][2] - [0.1, 0.0, 0.2]).min() > 0.02
    if decay_biases:
        assert worst < 1e-5
    else:
        assert worst > 1e-3
