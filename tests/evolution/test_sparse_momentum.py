"""Sparse Momentum: magnitude pruning, momentum shares with capacity overflow, momentum growth."""
from types import SimpleNamespace

import numpy as np
import pytest

from setcourse.evolution import SparseMomentum
from setcourse.evolution.sparse_momentum import (accumulate_gradient, momentum_horizon,
                                                 momentum_shares, prune_counts)
from setcourse import MLP


def optimizer(momentum=0.9, lr=0.01, weight_decay=0.0, weight_decay_mode="decoupled"):
    """What Sparse Momentum reads of the model's optimiser."""
    return SimpleNamespace(momentum=momentum, lr=lr, weight_decay=weight_decay,
                           weight_decay_mode=weight_decay_mode)


def test_prune_counts_round_up_and_spare_nearly_dense_growing_layers():
    assert prune_counts([4, 5, 7], 0.5, [0.1, 0.1, 0.1], [0.3, 0.3, 0.4]).tolist() == [2, 3, 4]
    # Layer 1 is 90 % dense (sparsity 0.1 < 0.2) with share 0.6 > 1/2: it prunes at rate 0.1.
    assert prune_counts([10, 10], 0.5, [0.1, 0.9], [0.4, 0.6]).tolist() == [5, 1]
    # ... but not if its share is small (it is not "growing").
    assert prune_counts([10, 10], 0.5, [0.1, 0.9], [0.6, 0.4]).tolist() == [5, 5]


def test_shares_are_normalised_mean_momentum():
    assert momentum_shares([1.0, 3.0]).tolist() == [0.25, 0.75]
    assert momentum_shares([0.0, 0.0]).tolist() == [0.5, 0.5]


def test_horizon_and_gradient_accumulation():
    assert momentum_horizon(0.9) == 66 and momentum_horizon(0.0) == 1
    rng = np.random.default_rng(0)
    buffer = rng.normal(size=(5, 7)).astype(np.float32)
    expected = 0.9 * buffer
    delta = rng.normal(size=(5, 3)).astype(np.float32)
    x = rng.normal(size=(7, 3)).astype(np.float32)
    expected += delta @ x.T
    accumulate_gradient(buffer, delta, x, 0.9)
    assert np.allclose(buffer, expected, atol=1e-5)


def test_redistribution_with_capacity_overflow(make_layer):
    # Layer A (4 -> 4): 8 weights, |momentum| 1; layer B (6 -> 1): 4 of 6 positions, |momentum| 3.
    a = make_layer(4, 4, [0, 1, 2, 3, 4, 5, 10, 15], [0.1, 0.6, -0.7, 0.05, 0.8, -0.4, 0.3, 0.2],
                   velocity=[1, -1, 1, -1, 1, -1, 1, -1], traced=True)
    b = make_layer(6, 1, [0, 1, 2, 3], [0.5, -0.05, 0.2, 0.01], velocity=[3, -3, 3, 3],
                   traced=True)
    buffer_a = np.arange(16, dtype=np.float32).reshape(4, 4)  # largest |M| at high positions
    buffer_b = np.array([[0, 1, 0, 0, 9, 5]], np.float32)
    shares = momentum_shares([1.0, 3.0])
    counts = SparseMomentum.rewire([a, b], [buffer_a, buffer_b], 0.5, shares)
    # Removed ceil(0.5*8) = 4 and ceil(0.5*4) = 2: 6 in all. Shares 0.25 : 0.75 ask (1.5, 4.5),
    # but B can take floor(0.99 * (2 + 2)) = 3; its excess 1.5 goes to A: (3, 3).
    assert counts.tolist() == [3, 3]
    assert (a.nnz, b.nnz) == (7, 5)
    # A dropped |w| 0.05, 0.1, 0.2, 0.3 (pos 3, 0, 15, 10) and grows the top |M| among the
    # positions not kept: 15 (just dropped: keeps 0.2 and its momentum), 14, 13 (new, zero).
    assert a.positions().tolist() == [1, 2, 4, 5, 13, 14, 15]
    assert a.data.tolist() == pytest.approx([0.6, -0.7, 0.8, -0.4, 0, 0, 0.2])
    assert a.weight_velocity.tolist() == [-1, 1, 1, -1, 0, 0, -1]
    # B dropped 0.01 and -0.05 (pos 3, 1); grows pos 4 (|M| 9), 5 (|M| 5) and 1 (|M| 1, kept).
    assert b.positions().tolist() == [0, 1, 2, 4, 5]
    assert b.data.tolist() == pytest.approx([0.5, -0.05, 0.2, 0.0, 0.0])
    assert b.weight_velocity.tolist() == [3, -3, 3, 0, 0]


def test_nearly_dense_growing_layer_prunes_less(make_layer):
    # B (2 -> 3) holds 5 of 6 positions (sparsity 0.17 < 0.2) and has the larger share: it
    # prunes ceil(0.17 * 5) = 1, not 3, and has room for floor(0.99 * 2) = 1.
    a = make_layer(4, 4, [0, 5, 10, 15], [0.1, -0.4, 0.3, 0.2], traced=True)
    b = make_layer(2, 3, [0, 1, 2, 3, 4], [0.5, -0.05, 0.2, 0.01, -0.3], traced=True)
    buffers = [np.ones((4, 4), np.float32), np.ones((3, 2), np.float32)]
    counts = SparseMomentum.rewire([a, b], buffers, 0.5, np.array([0.25, 0.75]))
    assert counts.tolist() == [2, 1] and a.nnz + b.nnz == 9


def test_window_accumulates_the_last_steps_of_non_final_epochs(make_layer):
    layer = make_layer(3, 2, [0, 4], [0.5, -0.5], traced=True)
    model = SimpleNamespace(step_=0, layers_=[layer], optimizer_=optimizer(momentum=0.5))
    strategy = SparseMomentum(momentum_horizon=3)
    strategy.setup(model, steps_per_epoch=5, epochs=2)
    rng = np.random.default_rng(0)
    grads = []
    for step in range(10):
        layer.input = rng.normal(size=(3, 2)).astype(np.float32)
        layer.delta = rng.normal(size=(2, 2)).astype(np.float32)
        grads.append(layer.delta @ layer.input.T)
        assert strategy.before_update(model, step) is False
        assert layer.delta is None  # released after use
        if step == 4:
            expected = 0.25 * grads[2] + 0.5 * grads[3] + grads[4]
            assert np.allclose(strategy.buffers_[0], expected, atol=1e-6)
            assert strategy.dense_buffer_bytes_ == 4 * 6
            saved = strategy.buffers_[0].copy()
    # The last epoch never rewires: nothing is accumulated there.
    assert np.array_equal(strategy.buffers_[0], saved)


def test_fit_keeps_total_nnz_moves_weights_between_layers_and_frees_buffers(tiny_data):
    X, y = tiny_data
    model = MLP(hidden=(64, 64), topology="sparse_momentum", epsilon=4, epochs=4,
                batch_size=32, seed=0).fit(X, y)
    rows = model.history_["nnz"]
    assert len({sum(row[:-1]) for row in rows}) == 1
    assert rows[0][:2] != rows[-1][:2]  # redistribution moved weights between layers
    strategy = model.strategy_
    assert strategy.buffers_ is None and strategy.dense_buffer_bytes_ == 4 * (40 * 64 + 64 * 64)
    assert 0.005 < strategy.prune_rate_ < 0.5 and sum(strategy.layer_shares_) == pytest.approx(1)
    for layer in model.layers_[:-1]:
        assert layer.sparse and np.all(np.diff(layer.positions()) > 0)


def test_bad_parameters_name_themselves(tiny_data):
    X, y = tiny_data
    for bad, name in ((SparseMomentum(prune_rate=1.0), "prune_rate"),
                      (SparseMomentum(decay="linear"), "decay"),
                      (SparseMomentum(momentum_horizon=0), "momentum_horizon")):
        with pytest.raises(ValueError, match=name):
            MLP(hidden=(16,), topology=bad, epochs=1, epsilon=2).fit(X, y)


# -- held against the reference (TimDettmers/sparse_learning) --------------------------------
def reference_momentum(grads, weights, shape, mu, l2):
    """sparse_learning's momentum, ported: the dense PyTorch SGD buffer of each weight matrix,
    ``M <- mu M + (g + l2 w)`` from the first step on, never reset (the mask only zeroes the
    weights: ``sparselearning/core.py:347-357``; the buffer is read by ``get_momentum_for_weight``,
    ``core.py:516-524``). ``grads``: the dense gradient of each step; ``weights``: the active
    ``(positions, values)`` of each step (the rest are 0)."""
    buffer = np.zeros(shape, np.float64)
    out = []
    for g, (positions, values) in zip(grads, weights):
        w = np.zeros(shape[0] * shape[1], np.float64)
        w[positions] = values
        buffer = mu * buffer + g + l2 * w.reshape(shape)
        out.append(buffer.copy())
    return out


class RecordingMomentum(SparseMomentum):
    """Sparse Momentum that records what the reference port needs, step by step."""

    def setup(self, model, steps_per_epoch, epochs):
        super().setup(model, steps_per_epoch, epochs)
        self.grads, self.weights, self.at_rewiring = [], [], []

    def before_update(self, model, step):
        layers = self._traced(model)
        self.grads.append([layer.delta.astype(np.float64) @ layer.input.T.astype(np.float64)
                           for layer in layers])
        self.weights.append([(layer.positions(), layer.data.astype(np.float64))
                             for layer in layers])
        return super().before_update(model, step)

    def at_epoch_end(self, model, epoch):
        layers = self._traced(model)
        before = [layer.positions() for layer in layers]
        buffers = [b.copy() for b in self.buffers_]
        super().at_epoch_end(model, epoch)
        self.at_rewiring.append((model.step_, buffers, before,
                                 [layer.positions() for layer in layers],
                                 [layer.weight_velocity.copy() for layer in layers]))


@pytest.mark.parametrize("batch_size, steps_per_epoch", [(96, 5), (32, 15)])
def test_momentum_and_growth_are_the_references_across_epochs(tiny_data, batch_size,
                                                               steps_per_epoch):
    # Fewer steps per epoch than the horizon K = 66: the momentum must run on across epoch
    # ends. The reference's buffer, ported, is matched within 1e-3 (float32 vs float64);
    # restarting it every epoch (the old window) is off by far more.
    X, y = tiny_data
    lr, mu, l2 = 0.05, 0.9, 2e-4
    strategy = RecordingMomentum()
    model = MLP(hidden=(64, 64), topology=strategy, epsilon=4, epochs=4, lr=lr, momentum=mu,
                weight_decay=l2, weight_decay_mode="l2", batch_size=batch_size, seed=0)
    model.fit(X, y)
    assert len(strategy.grads) == 4 * steps_per_epoch and len(strategy.at_rewiring) == 3
    layers = [layer for layer in model.layers_ if layer.keeps_delta]
    for index, layer in enumerate(layers):
        shape = (layer.n_out, layer.n_in)
        reference = reference_momentum([g[index] for g in strategy.grads],
                                       [w[index] for w in strategy.weights], shape, mu, l2)
        for epoch, (step, buffers, before, after, velocity) in enumerate(strategy.at_rewiring):
            ref = reference[step - 1]
            ours = buffers[index]
            scale = np.abs(ref).max()
            assert np.abs(ours - ref).max() <= 1e-3 * scale
            if epoch > 0:  # the old window restarted every epoch: only this epoch's steps
                restarted = reference[step - 1] - mu ** steps_per_epoch * reference[
                    step - 1 - steps_per_epoch]
                assert np.abs(restarted - ref).max() > 0.05 * scale
            # Growth: every truly new connection has a larger |M| than any position left empty.
            before_i, after_i, velocity_i = before[index], after[index], velocity[index]
            new = np.setdiff1d(after_i, before_i)
            empty = np.setdiff1d(np.arange(layer.n_out * layer.n_in), after_i)
            flat = np.abs(ref).ravel()
            assert new.size > 0 and flat[new].min() >= flat[empty].max() - 1e-6 * scale
            # ... and starts with the momentum that selected it, in the optimiser's units.
            new_velocity = velocity_i[np.searchsorted(after_i, new)]
            assert np.allclose(new_velocity, -lr * ref.ravel()[new], atol=1e-3 * lr * scale)
    assert strategy.buffers_ is None  # freed after the last rewiring


def test_a_new_weight_keeps_the_momentum_that_selected_it(make_layer):
    # One new connection under a constant gradient g = 1 (lr 0.01, mu 0.9), its momentum in
    # steady state M = g / (1 - mu) = 10 when it was selected. The reference (heavy-ball form
    # of its SGD buffer: M <- mu M + g, w <- w - lr M) moves it by lr * 10 per step at once.
    from setcourse.nn.optim import SGD
    lr, mu, steps = 0.01, 0.9, 15
    layer = make_layer(2, 2, [0, 3], [0.5, -0.5], traced=True)
    buffer = np.array([[0.0, 10.0], [0.0, 0.0]], np.float32)  # |M| largest at position 1
    drop = np.array([True, False])
    counts = SparseMomentum.rewire([layer], [buffer], 0.5, np.array([1.0]), lr=lr)
    assert counts.tolist() == [1] and layer.positions().tolist() == [1, 3]
    assert layer.weight_velocity.tolist() == pytest.approx([-lr * 10.0, 0.0])
    optimizer = SGD(lr, mu, weight_decay=0.0, weight_decay_mode="l2")
    momentum, reference = 10.0, 0.0
    for _ in range(steps):
        layer.weight_grad[:] = [1.0, 0.0]
        optimizer.step([layer])
        momentum = mu * momentum + 1.0
        reference -= lr * momentum
    assert layer.data[0] == pytest.approx(reference, rel=1e-5)
    # Zero momentum (RigL's rule) lags mu / (1 - mu) = 9 steps: 0.52 x the reference here.
    zero = -lr * sum((1 - mu ** k) / (1 - mu) for k in range(1, steps + 1))
    assert zero / reference == pytest.approx(0.5236, abs=1e-3)
    assert drop.any()


def test_window_of_k_steps_is_the_references_momentum_within_its_tolerance(tiny_data):
    # 69 steps per epoch > K = 66: the buffer starts 66 steps before the rewiring; what it
    # misses weighs mu^66 < 1e-3 of the gradients it holds (the docstring's promise).
    X, y = tiny_data
    strategy = RecordingMomentum()
    model = MLP(hidden=(32,), topology=strategy, epsilon=4, epochs=2, lr=0.05,
                weight_decay=0.0, batch_size=7, seed=0).fit(X, y)
    layer = model.layers_[0]
    step, buffers, *_ = strategy.at_rewiring[0]
    assert step == 69 and strategy.horizon_ == 66
    reference = reference_momentum([g[0] for g in strategy.grads],
                                   [w[0] for w in strategy.weights],
                                   (layer.n_out, layer.n_in), 0.9, 0.0)[step - 1]
    error = np.linalg.norm(buffers[0] - reference) / np.linalg.norm(reference)
    assert error <= 1e-3
