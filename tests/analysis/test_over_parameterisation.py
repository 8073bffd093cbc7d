import numpy as np
import pytest

from setcourse import MLP
from setcourse.analysis.over_parameterisation import InTimeOverParameterisation, merge_positions
from setcourse.callbacks import Callback


@pytest.mark.parametrize("sizes", [(0, 5), (5, 0), (50, 40), (1000, 3), (3, 1000)])
def test_merge_positions_is_the_sorted_union(sizes):
    rng = np.random.default_rng(sum(sizes))
    a = np.unique(rng.integers(0, 2000, size=sizes[0])).astype(np.int64)
    b = np.unique(rng.integers(0, 2000, size=sizes[1])).astype(np.int64)
    merged = merge_positions(a, b)
    assert merged.dtype == np.int64
    assert np.array_equal(merged, np.union1d(a, b))


class Snapshots(Callback):
    """Reference: every layer's positions at every hook, unioned at the end with sets."""

    def on_train_begin(self, model):
        self.sets = [set() for _ in model.layers_]
        self._take(model)

    def _take(self, model):
        for positions, layer in zip(self.sets, model.layers_):
            if layer.sparse:
                positions.update(layer.positions().tolist())

    def on_batch_end(self, model, epoch, batch, logs):
        self._take(model)

    def on_epoch_end(self, model, epoch, logs):
        self._take(model)


def test_rates_against_snapshots(digits):
    X, y, _, _ = digits
    itop, snapshots = InTimeOverParameterisation(), Snapshots()
    model = MLP(hidden=(20, 20), epsilon=3, epochs=4, zeta=0.3, seed=2)
    model.fit(X[:400], y[:400], callbacks=[itop, snapshots])
    for seen, reference, layer in zip(itop.seen_, snapshots.sets, model.layers_):
        assert np.array_equal(seen, np.array(sorted(reference), dtype=np.int64))
        assert np.all(np.isin(layer.positions(), seen))
    sizes = [layer.n_in * layer.n_out for layer in model.layers_]
    expected = sum(len(s) for s in snapshots.sets) / sum(sizes)
    assert itop.rate() == pytest.approx(expected)
    assert len(itop.rates_) == 4 and itop.rates_ == sorted(itop.rates_)
    # Each SET step regrows about zeta of the connections (rounding: one more per sign and layer).
    density = sum(model.nnz_) / sum(sizes)
    slack = 2 * len(sizes) / sum(sizes)
    assert density < itop.rates_[0] <= density * (1 + 0.3) + slack
    assert itop.rates_[0] < itop.rates_[-1] <= density * (1 + 0.3 * 3) + 3 * slack
    # The last epoch does not evolve.
    assert itop.rates_[-1] == itop.rates_[-2]


def test_fixed_topology_rate_is_density(digits):
    X, y, _, _ = digits
    itop = InTimeOverParameterisation()
    model = MLP(hidden=(20,), topology="fixprob", epsilon=3, epochs=2).fit(X[:200], y[:200],
                                                                            callbacks=[itop])
    assert itop.layer_rates() == pytest.approx([layer.density for layer in model.layers_])


def test_dense_model(digits):
    X, y, _, _ = digits
    itop = InTimeOverParameterisation()
    MLP(hidden=(8,), topology="dense", epochs=1).fit(X[:100], y[:100], callbacks=[itop])
    assert itop.layer_rates() == [1.0, 1.0]
    assert np.isnan(itop.rate())


@pytest.mark.parametrize("topology", ["rigl", "dst"])
def test_strategies_rewiring_within_epochs(digits, topology):
    # RigL rewires every few batches (new index arrays), DST changes its mask every batch.
    from setcourse.evolution import STRATEGIES

    X, y, _, _ = digits
    options = {"rigl": {"update_period": 2}, "dst": {"alpha": 5e-2}}[topology]
    itop, snapshots = InTimeOverParameterisation(), MaskSnapshots()
    model = MLP(hidden=(16,), topology=STRATEGIES[topology](**options), epsilon=3, epochs=2,
                lr=0.05, batch_size=32)
    model.fit(X[:256], y[:256], callbacks=[itop, snapshots])
    tracked = [seen for seen in itop.seen_ if seen is not None]
    assert tracked
    for seen, reference in zip(itop.seen_, snapshots.sets):
        if seen is not None:
            assert np.array_equal(seen, np.array(sorted(reference), dtype=np.int64))
    assert 0 < itop.rate() <= 1


class MaskSnapshots(Snapshots):
    """Reference for any layer type: the positions of its effective non-zero pattern."""

    def _take(self, model):
        for positions, layer in zip(self.sets, model.layers_):
            if layer.sparse:
                positions.update(layer.positions().tolist())
            elif hasattr(layer, "active_mask"):
                positions.update(np.flatnonzero(layer.active_mask().T).tolist())  # out * n_in + in
