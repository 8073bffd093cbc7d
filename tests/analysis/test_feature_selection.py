"""Feature-selection statistics on hand-built cases with known answers, and on a real fit."""
import numpy as np
import pytest

from setcourse import MLP
from setcourse.analysis.feature_selection import (FeatureSelectionRecorder, feature_selection,
                                                  feature_variance)


def test_perfectly_aligned_connections_give_r_one_and_the_group_means():
    variance = np.arange(10.0)
    connections = 2 * np.arange(10) + 3
    stats = feature_selection(connections, variance, fraction=0.2)
    assert stats.r == pytest.approx(1.0)
    assert stats.least_varying == pytest.approx((3 + 5) / 2)
    assert stats.most_varying == pytest.approx((19 + 21) / 2)


def test_reversed_connections_give_r_minus_one():
    variance = np.array([0.0, 1.0, 2.0, 3.0])
    stats = feature_selection(np.array([9, 6, 3, 0]), variance, fraction=0.25)
    assert stats.r == pytest.approx(-1.0)
    assert (stats.least_varying, stats.most_varying) == (9.0, 0.0)


def test_r_matches_the_textbook_formula():
    rng = np.random.default_rng(0)
    c, v = rng.integers(0, 40, 100), rng.random(100)
    expected = np.sum((c - c.mean()) * (v - v.mean())) / np.sqrt(
        np.sum((c - c.mean()) ** 2) * np.sum((v - v.mean()) ** 2))
    assert feature_selection(c, v).r == pytest.approx(expected)


def test_constant_connections_have_no_correlation():
    assert np.isnan(feature_selection(np.full(5, 3), np.arange(5.0)).r)


@pytest.mark.parametrize("kwargs, message", [
    (dict(connections=np.ones(3), variance=np.ones(4)), "same length"),
    (dict(connections=np.ones(4), variance=np.arange(4.0), fraction=0.0), "fraction"),
    (dict(connections=np.ones(4), variance=np.arange(4.0), fraction=0.7), "fraction"),
])
def test_bad_arguments_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        feature_selection(**kwargs)


def test_feature_variance_is_per_column():
    X = np.array([[0.0, 1.0], [2.0, 1.0]])
    np.testing.assert_allclose(feature_variance(X), [1.0, 0.0])
    with pytest.raises(ValueError, match="2-D"):
        feature_variance(np.ones(3))


def test_recorder_keeps_one_entry_per_epoch_and_counts_the_first_layer():
    rng = np.random.default_rng(1)
    X = rng.random((120, 30)).astype(np.float32)
    X[:, :10] = 0.5  # constant inputs: no information
    y = (X[:, 10:].sum(axis=1) > 10).astype(int)
    recorder = FeatureSelectionRecorder(feature_variance(X))
    model = MLP(hidden=(40,), topology="set", epsilon=5, epochs=3, batch_size=20, seed=0)
    model.fit(X, y, callbacks=[recorder])
    assert recorder.epochs_ == [0, 1, 2, 3]
    assert len(recorder.r_) == 4
    final = model.weight_matrices()[0]
    np.testing.assert_array_equal(recorder.connections_[-1], np.diff(final.tocsr().indptr))
    assert set(recorder.as_dict()) == {"epoch", "r", "least_varying", "most_varying"}


def test_pruned_counts_are_the_connections_that_survive_sets_pruning():
    from setcourse.evolution.set import set_prune
    rng = np.random.default_rng(2)
    X = rng.random((100, 20)).astype(np.float32)
    y = (X.sum(axis=1) > 10).astype(int)
    recorder = FeatureSelectionRecorder(feature_variance(X), pruned_by=0.3)
    ends = []

    from setcourse.callbacks import Callback

    class Final(Callback):
        def before_evolution(self, model, epoch):
            layer = model.layers_[0]
            keep = set_prune(layer.data, 0.3)
            ends.append(np.bincount(layer.indices[keep], minlength=layer.n_in))

    model = MLP(hidden=(30,), topology="set", epsilon=4, epochs=2, batch_size=20, seed=0)
    model.fit(X, y, callbacks=[recorder, Final()])
    assert recorder.epochs_ == [0, 1, 2]
    np.testing.assert_array_equal(recorder.connections_[1], ends[0])
    np.testing.assert_array_equal(recorder.connections_[2], ends[1])
    assert recorder.connections_[1].sum() < model.nnz_[0]  # pruned: fewer than stored
