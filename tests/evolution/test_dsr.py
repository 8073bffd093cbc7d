"""DSR: global threshold pruning, adaptive threshold, regrowth shared by surviving weights."""
from types import SimpleNamespace

import numpy as np
import pytest

from setcourse.evolution import DSR
from setcourse.evolution.dsr import adapt_threshold, dsr_prune
from setcourse import MLP


def two_layers(make_layer):
    # Layer A (4 -> 3): weights at positions 0 and 2 are below H = 1e-3.
    a = make_layer(4, 3, [0, 1, 2, 5, 7], [5e-4, 0.5, -2e-4, 0.3, -0.4], velocity=[1] * 5)
    # Layer B (4 -> 4): two of eight below H.
    b = make_layer(4, 4, list(range(8)), [1e-4, -1e-4, 0.2, 0.2, -0.2, 0.2, 0.2, 0.2],
                   velocity=[2] * 8)
    return a, b


def rewired(make_layer, n_prune_target):
    a, b = two_layers(make_layer)
    strategy = DSR(n_prune_target=n_prune_target)
    strategy.threshold_, strategy.n_prune_target_, strategy.n_pruned_ = 1e-3, n_prune_target, []
    before = [a.positions().copy(), b.positions().copy()]
    total = strategy.rewire([a, b], np.random.default_rng(0))
    return strategy, (a, b), before, total


def test_prune_below_threshold_keeps_at_least_one():
    assert dsr_prune([0.5, -1e-4, 2e-3, 0.0], 1e-3).tolist() == [True, False, True, False]
    assert dsr_prune([1e-5, -1e-5], 1e-3).tolist() == [True, False]


def test_threshold_halves_doubles_or_stays():
    assert adapt_threshold(1e-3, 120, 100) == 5e-4  # > 1.1 N_p
    assert adapt_threshold(1e-3, 80, 100) == 2e-3  # < 0.9 N_p
    assert adapt_threshold(1e-3, 110, 100) == 1e-3  # within the band
    assert adapt_threshold(1e-3, 90, 100) == 1e-3


def test_rewire_regrows_in_proportion_to_surviving_weights(make_layer):
    strategy, (a, b), before, total = rewired(make_layer, n_prune_target=10)
    # K = 4 pruned; survivors 3 and 6 -> shares 4/3 and 8/3 -> (1, 3).
    assert total == 4
    assert (a.nnz, b.nnz) == (5 - 2 + 1, 8 - 2 + 3)
    for layer, old, pruned in ((a, before[0], [0, 2]), (b, before[1], [0, 1])):
        positions = layer.positions()
        assert np.all(np.diff(positions) > 0)  # sorted, no duplicates
        new = np.setdiff1d(positions, old)
        assert not np.intersect1d(new, pruned).size  # just-pruned positions excluded
        is_new = np.isin(positions, new)
        assert np.all(layer.data[is_new] == 0) and np.all(layer.weight_velocity[is_new] == 0)
        assert np.all(layer.weight_velocity[~is_new] != 0)
    # to_dense is (n_in, n_out): position out * n_in + in = 1 is [in 1, out 0]
    assert a.to_dense()[1, 0] == pytest.approx(0.5) and a.to_dense()[3, 1] == pytest.approx(-0.4)
    # 4 pruned < 0.9 * 10: the threshold doubles.
    assert strategy.threshold_ == pytest.approx(2e-3)


def test_rewire_halves_threshold_when_too_many_pruned(make_layer):
    strategy, *_ = rewired(make_layer, n_prune_target=3)
    assert strategy.threshold_ == pytest.approx(5e-4)


def test_full_layer_passes_its_share_to_the_other(make_layer):
    # Layer A (2 -> 2) has 3 of 4 positions; one is pruned and may not come back there, so
    # A can take only 1 (its one empty position); B takes the rest.
    a = make_layer(2, 2, [0, 1, 2], [1e-4, 0.5, 0.5])
    b = make_layer(10, 10, [0, 1, 2, 3], [1e-4, 1e-4, 1e-4, 0.5])
    strategy = DSR()
    strategy.threshold_, strategy.n_prune_target_, strategy.n_pruned_ = 1e-3, 4, []
    assert strategy.rewire([a, b], np.random.default_rng(1)) == 4
    # Shares 2 : 1 of 4 -> (2.67, 1.33); A holds 1, the excess goes to B.
    assert (a.nnz, b.nnz) == (3, 4)
    assert a.positions().tolist() == [1, 2, 3]


def test_schedule_rewires_every_period_but_not_at_step_zero():
    strategy = DSR(update_period=5, stop_fraction=0.5)
    model = SimpleNamespace(step_=0, layers_=[])
    strategy.setup(model, steps_per_epoch=10, epochs=4)
    updates = [s for s in range(40) if strategy.is_update_step(s)]
    assert updates == [5, 10, 15, 20]


def test_fit_keeps_total_nnz_and_adapts_threshold(tiny_data):
    X, y = tiny_data
    model = MLP(hidden=(64, 64), topology=DSR(update_period=10, n_prune_target=150),
                epsilon=4, epochs=3, batch_size=32, seed=0).fit(X, y)
    nnz = [sum(row[:-1]) for row in model.history_["nnz"]]
    assert len(set(nnz)) == 1
    assert len(model.strategy_.n_pruned_) == 4  # steps 10, 20, 30, 40 of 45
    assert model.strategy_.threshold_ != 1e-3
    for layer in model.layers_[:-1]:
        assert layer.sparse and np.all(np.diff(layer.positions()) > 0)


def test_bad_parameters_name_themselves(tiny_data):
    X, y = tiny_data
    for bad, name in ((DSR(update_period=0), "update_period"),
                      (DSR(initial_threshold=-1.0), "initial_threshold"),
                      (DSR(n_prune_target=0), "n_prune_target"),
                      (DSR(tolerance=1.5), "tolerance")):
        with pytest.raises(ValueError, match=name):
            MLP(hidden=(16,), topology=bad, epochs=1, epsilon=2).fit(X, y)
