"""The strategy base class: a new rule needs only its drop/grow step (and a table of rules)."""
import numpy as np
import pytest

from setcourse import MLP
from setcourse._validation import Interval
from setcourse.evolution import DST, EvolutionStrategy, FixProb, RigL, SET, SparseMomentum
from setcourse.evolution.dst import DSTLayer
from setcourse.evolution.growth import TracedSparseLayer
from setcourse.evolution.rewire import drop_smallest, rewire_layer
from setcourse.nn.layers import DenseLayer, SparseLayer


class DropSmallestGrowRandom(EvolutionStrategy):
    """A made-up rule: at each epoch end drop the smallest |w| and regrow at random."""

    name = "drop_smallest_grow_random"
    RULES = {"fraction": Interval(0, 1)}

    def __init__(self, fraction=0.2):
        self.fraction = fraction

    def at_epoch_end(self, model, epoch):
        for layer in model.layers_:
            if layer.sparse:
                drop = drop_smallest(layer.data, int(self.fraction * layer.nnz))
                grow = layer.empty_positions(int(drop.sum()), model.rng_)
                rewire_layer(layer, drop, grow)


def test_a_custom_strategy_needs_only_its_rule(tiny_data):
    X, y = tiny_data
    strategy = DropSmallestGrowRandom(fraction=0.25)
    model = MLP(hidden=(64, 64), topology=strategy, epsilon=4, epochs=3, batch_size=32,
                seed=0).fit(X, y)
    assert [type(layer) for layer in model.layers_] == [SparseLayer, SparseLayer, DenseLayer]
    assert model.history_["nnz"][0] == model.history_["nnz"][-1]  # constant count
    assert strategy.get_params() == {"fraction": 0.25}
    assert repr(strategy) == "DropSmallestGrowRandom(fraction=0.25)"
    with pytest.raises(ValueError, match=r"fraction must be a number in \[0, 1\]; got 2"):
        MLP(hidden=(16,), topology=DropSmallestGrowRandom(2), epochs=1).fit(X, y)


def test_make_layer_is_dense_at_full_density_and_the_strategy_s_layer_below():
    rng = np.random.default_rng(0)
    for strategy, sparse_type in ((FixProb(), SparseLayer), (SET(), SparseLayer),
                                  (RigL(), TracedSparseLayer),
                                  (SparseMomentum(), TracedSparseLayer)):
        assert type(strategy.make_layer(20, 10, 0.3, rng, "actual_fan_in")) is sparse_type
        assert type(strategy.make_layer(20, 10, 1.0, rng, "actual_fan_in")) is DenseLayer
    for density in (0.3, 1.0, 2.5):
        assert type(DST().make_layer(20, 10, density, rng, "actual_fan_in")) is DSTLayer


def test_layers_say_whether_they_keep_their_delta(tiny_data):
    X, y = tiny_data
    model = MLP(hidden=(64,), topology="rigl", epsilon=4, epochs=1, seed=0).build(40, 3)
    assert [layer.keeps_delta for layer in model.layers_] == [True, False]


def test_strategies_have_no_sparse_flag_and_layers_keep_its_meaning():
    for strategy in (FixProb(), SET(), RigL(), DST()):
        assert not hasattr(strategy, "sparse")
    assert SparseLayer.sparse and TracedSparseLayer.sparse
    assert not DenseLayer.sparse and not DSTLayer.sparse


def test_dst_setup_refuses_layers_it_did_not_build(tiny_data):
    X, y = tiny_data
    model = MLP(hidden=(16,), topology="fixprob", epsilon=2, epochs=1,
                seed=0).build(40, 3)
    model.strategy_ = DST()
    layers = list(model.layers_)
    with pytest.raises(TypeError, match="DST trains the DSTLayers"):
        model.strategy_.setup(model, 10, 1)
    assert model.layers_ == layers  # not rewritten


def test_set_parameters_are_checked_once_by_set(tiny_data):
    X, y = tiny_data
    with pytest.raises(ValueError, match=r"zeta must be a number in \[0, 1\); got 1.0"):
        MLP(hidden=(16,), zeta=1.0).fit(X, y)
    with pytest.raises(ValueError, match="regrow_init must be one of init, zero, dense_fan_in, actual_fan_in; got 'one'"):
        MLP(hidden=(16,), regrow_init="one").fit(X, y)
    # not SET: SET's parameters are not used, and not checked
    MLP(hidden=(16,), topology="dense", zeta=1.0, epochs=1).fit(X, y)
