"""RigL: drop the smallest weights, grow the largest mini-batch gradients, on a schedule."""
import math
import tracemalloc
from types import SimpleNamespace

import numpy as np
import pytest

from setcourse.evolution import RigL
from setcourse.evolution.growth import TracedSparseLayer
from setcourse.evolution.rigl import rigl_update_layer
from setcourse import MLP


def test_drops_smallest_and_grows_largest_gradient_among_positions_not_kept(make_layer):
    # Layer 4 -> 3 with one sample: dL/dW = delta x^T, |G| = outer(|delta|, |x|).
    layer = make_layer(4, 3, [0, 1, 5, 6, 8, 11], [0.9, -0.01, 0.5, 0.02, -0.7, 0.3],
                       velocity=[1, 1, 1, 1, 1, 1], traced=True)
    layer.input = np.array([[1.0], [0.5], [-2.0], [0.1]], np.float32)
    layer.delta = np.array([[1.0], [2.0], [3.0]], np.float32)
    # |G| = [[1, .5, 2, .1], [2, 1, 4, .2], [3, 1.5, 6, .3]]; drop n = floor(0.5 * 6) = 3:
    # |w| 0.01, 0.02, 0.3 at positions 1, 6, 11. Positions not kept: all but 0, 5, 8; the
    # largest |G| there: 10 (6), 2 (2), 6 (4).
    assert rigl_update_layer(layer, 0.5, np.random.default_rng(0)) == 3
    assert layer.positions().tolist() == [0, 2, 5, 6, 8, 10]
    assert layer.data.tolist() == pytest.approx([0.9, 0.0, 0.5, 0.02, -0.7, 0.0])
    assert layer.weight_velocity.tolist() == [1, 0, 1, 1, 1, 0]  # 6 regrown: kept as it was


@pytest.mark.parametrize("chunk_elements", [1, 13, 200])
def test_chunked_update_equals_unchunked(make_layer, chunk_elements):
    rng = np.random.default_rng(5)
    positions = np.sort(rng.choice(30 * 20, 90, replace=False))
    values = rng.normal(size=90)
    x = rng.normal(size=(20, 8)).astype(np.float32)
    delta = rng.normal(size=(30, 8)).astype(np.float32)
    results = []
    for chunk in (chunk_elements, 1 << 22):
        layer = make_layer(20, 30, positions, values, traced=True)
        layer.input, layer.delta = x, delta
        rigl_update_layer(layer, 0.3, np.random.default_rng(9), chunk)
        results.append((layer.positions(), layer.data.copy()))
    assert np.array_equal(results[0][0], results[1][0])
    assert np.array_equal(results[0][1], results[1][1])


def test_default_update_never_holds_a_dense_gradient():
    # Temporaries scale with nnz (30 000 here, ~80 bytes each with the int64 positions),
    # never with n_in * n_out: the dense float32 gradient would take 24 MB.
    rng = np.random.default_rng(2)
    layer = TracedSparseLayer(2000, 3000, 0.005, rng)
    layer.input = rng.normal(size=(2000, 32)).astype(np.float32)
    layer.delta = rng.normal(size=(3000, 32)).astype(np.float32)
    tracemalloc.start()
    rigl_update_layer(layer, 0.3, rng)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 4 * 2000 * 3000 / 5
    assert layer.nnz == 30_000


def test_schedule_period_stop_and_cosine_decay():
    strategy = RigL(drop_fraction=0.3, update_period=5, stop_fraction=0.75)
    strategy.setup(SimpleNamespace(step_=0, layers_=[]), steps_per_epoch=10, epochs=4)
    assert [s for s in range(40) if strategy.is_update_step(s)] == [0, 5, 10, 15, 20, 25, 30]
    assert strategy.fraction_at(0.3, 0) == pytest.approx(0.3)
    assert strategy.fraction_at(0.3, 10) == pytest.approx(0.15 * (1 + math.cos(math.pi / 3)))
    assert strategy.fraction_at(0.3, 30) == pytest.approx(0.0)
    constant = RigL(decay="constant", update_period=5)
    constant.setup(SimpleNamespace(step_=0, layers_=[]), steps_per_epoch=10, epochs=4)
    assert constant.fraction_at(0.3, 25) == 0.3


def test_optimiser_step_is_skipped_exactly_on_update_steps(tiny_data):
    X, y = tiny_data
    skipped = []

    class Recorder(RigL):
        def before_update(self, model, step):
            skip = super().before_update(model, step)
            skipped.append(skip)
            return skip

    model = MLP(hidden=(64, 64), topology=Recorder(update_period=4), epsilon=4, epochs=2,
                batch_size=32, seed=0).fit(X, y)
    # 30 steps, stop at floor(0.75 * 30) = 22: updates at 0, 4, ..., 20.
    assert [i for i, s in enumerate(skipped) if s] == [0, 4, 8, 12, 16, 20]
    assert model.strategy_.n_updates_ == 6


def test_fit_keeps_each_layers_nnz_and_changes_the_topology(tiny_data):
    X, y = tiny_data
    model = MLP(hidden=(64, 64), topology=RigL(update_period=3), epsilon=4, epochs=1,
                batch_size=32, seed=0)
    model.build(40, 3)
    before = [layer.positions().copy() for layer in model.layers_[:-1]]
    model.fit(X, y)
    for layer, old in zip(model.layers_[:-1], before):
        assert layer.nnz == old.size and layer.data.size == layer.nnz  # sparse storage kept
        assert np.all(np.diff(layer.positions()) > 0)
        assert not np.array_equal(layer.positions(), old)
        assert layer.delta is None  # not kept beyond the step


def test_bad_parameters_name_themselves(tiny_data):
    X, y = tiny_data
    for bad, name in ((RigL(drop_fraction=1.0), "drop_fraction"),
                      (RigL(update_period=0), "update_period"),
                      (RigL(stop_fraction=2.0), "stop_fraction"),
                      (RigL(decay="step"), "decay"),
                      (RigL(chunk_elements=0), "chunk_elements")):
        with pytest.raises(ValueError, match=name):
            MLP(hidden=(16,), topology=bad, epochs=1, epsilon=2).fit(X, y)
