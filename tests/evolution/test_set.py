"""SET's pruning on hand-built layers, and the invariants of a whole evolution step."""
import math

import numpy as np
import pytest

from nn.helpers import built_model, tiny_data
from setcourse.evolution.set import n_to_remove, set_evolve_layer, set_prune
from setcourse.callbacks import Callback

# 6 negative and 5 positive weights; zeta = 0.3 removes round(1.8) = 2 negatives closest to
# zero (-0.02, -0.1) and round(1.5) = 2 positives closest to zero (0.01, 0.05).
WEIGHTS = np.array([-0.9, -0.1, -0.5, 0.05, 0.3, -0.02, 0.8, 0.2, -0.3, 0.01, -0.7])
EXPECTED_KEEP = np.array([1, 0, 1, 0, 1, 0, 1, 1, 1, 0, 1], dtype=bool)


def keep_half_most_negative(weights, zeta):
    """Wrong variant seen in public code: keeps only the ceil(r/2) most negative weights."""
    keep = set_prune(weights, zeta)
    neg = np.flatnonzero(weights < 0)
    keep[neg] = False
    keep[neg[np.argsort(weights[neg])][:math.ceil(neg.size / 2)]] = True
    return keep


def keep_k_minus_one_most_negative(weights, zeta):
    """Wrong variant seen in public code: an off-by-one keeps only k-1 most negative."""
    keep = set_prune(weights, zeta)
    neg = np.flatnonzero(weights < 0)
    k = neg.size - n_to_remove(zeta, neg.size)
    keep[neg] = False
    keep[neg[np.argsort(weights[neg])][:k - 1]] = True
    return keep


def prune_by_magnitude(weights, zeta):
    """Not SET: ignores the sign and removes the 2*zeta smallest |w|."""
    keep = np.ones(weights.size, dtype=bool)
    keep[np.argsort(np.abs(weights))[:n_to_remove(zeta, weights.size)]] = False
    return keep


def assert_prunes_like_set(prune):
    np.testing.assert_array_equal(prune(WEIGHTS, 0.3), EXPECTED_KEEP)
    positives = np.array([0.4, 0.1, 0.3, 0.2])
    np.testing.assert_array_equal(prune(positives, 0.5), [True, False, True, False])
    np.testing.assert_array_equal(prune(WEIGHTS, 0.0), np.ones(WEIGHTS.size, bool))


def test_set_prune_removes_exactly_the_expected_positions():
    assert_prunes_like_set(set_prune)


@pytest.mark.parametrize("wrong", [keep_half_most_negative, keep_k_minus_one_most_negative,
                                   prune_by_magnitude])
def test_known_wrong_variants_fail_the_same_check(wrong):
    with pytest.raises(AssertionError):
        assert_prunes_like_set(wrong)


def test_set_prune_edge_cases():
    assert set_prune(np.zeros(0), 0.3).size == 0
    keep = set_prune(-np.arange(1, 11, dtype=float), 0.3)  # all negative
    np.testing.assert_array_equal(np.flatnonzero(~keep), [0, 1, 2])


def test_evolution_keeps_nnz_no_duplicates_and_aligned_momentum():
    model = built_model(topology="set", hidden=(30, 20), epsilon=3.0, seed=2)
    layer = model.layers_[0]
    rng = np.random.default_rng(0)
    layer.weight_velocity[:] = rng.normal(size=layer.nnz).astype(np.float32)
    before = dict(zip(layer.positions().tolist(), zip(layer.data, layer.weight_velocity)))
    nnz = layer.nnz
    n_rewired = set_evolve_layer(layer, 0.3, model.rng_)
    positions = layer.positions()
    assert layer.nnz == nnz and n_rewired > 0
    assert np.unique(positions).size == positions.size
    assert np.all(np.diff(positions) > 0)
    assert positions.max() < layer.n_in * layer.n_out
    kept = new = 0
    for pos, value, velocity in zip(positions.tolist(), layer.data, layer.weight_velocity):
        if pos in before and before[pos][0] == value:
            assert before[pos][1] == velocity
            kept += 1
        else:
            assert velocity == 0
            new += 1
    assert new >= n_rewired - 2  # a regrown position may coincide with a pruned one
    # transpose index still describes the same connections
    dense = layer.to_dense()
    delta = rng.normal(size=(layer.n_out, 5)).astype(np.float32)
    layer.input = rng.normal(size=(layer.n_in, 5)).astype(np.float32)
    dx = layer.backward(delta)
    np.testing.assert_allclose(dx, dense @ delta, rtol=1e-5, atol=1e-5)  # dense: (n_in, n_out)


def test_regrowth_is_uniform_over_empty_positions():
    from setcourse.nn.sparsity import sample_empty_positions
    rng = np.random.default_rng(0)
    occupied = np.array([0, 3, 5, 6], dtype=np.int64)
    counts = np.zeros(10)
    for _ in range(4000):
        counts[sample_empty_positions(2, 5, 2, rng, occupied)] += 1
    assert counts[occupied].sum() == 0
    free = np.setdiff1d(np.arange(10), occupied)
    expected = 4000 * 2 / free.size
    assert np.all(np.abs(counts[free] - expected) < 5 * np.sqrt(expected))


def test_nnz_constant_over_a_training_run():
    X, y = tiny_data(n=200, n_features=20, n_classes=4)

    class Record(Callback):
        def __init__(self):
            self.before, self.after = [], []

        def before_evolution(self, model, epoch):
            self.before.append(model.layers_[0].positions())

        def on_epoch_end(self, model, epoch, logs):
            self.after.append(model.layers_[0].positions())

    from setcourse import MLP
    record = Record()
    model = MLP(hidden=(40, 40), epsilon=4, epochs=4, batch_size=32, seed=0)
    model.fit(X, y, callbacks=[record])
    nnz = np.array(model.history_["nnz"])
    assert (nnz == nnz[0]).all()
    changed = [np.setdiff1d(a, b).size for a, b in zip(record.after, record.before)]
    assert all(c > 0 for c in changed[:-1]) and changed[-1] == 0  # no evolution after the last
