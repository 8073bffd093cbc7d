import numpy as np
import pytest
import scipy.sparse as sp
from scipy import stats

from setcourse.nn.layers import DenseLayer, SparseLayer
from setcourse import MLP
from setcourse.analysis.degrees import (degree_distribution, erdos_renyi_expectation, in_degrees,
                                        layer_degrees, network_degrees, out_degrees)
from setcourse.analysis.pattern import connection_pattern


@pytest.mark.parametrize("shape", [(7, 5), (30, 12), (12, 30)])
def test_sparse_layer_degrees_match_dense_count(shape):
    rng = np.random.default_rng(0)
    layer = SparseLayer(*shape, density=0.3, rng=rng)
    # to_dense may hide a zero weight; build the mask from the indices instead.
    mask = np.zeros(shape, dtype=bool)
    mask[layer.indices, layer.row_of_each()] = True
    assert np.array_equal(in_degrees(layer), mask.sum(axis=0))
    assert np.array_equal(out_degrees(layer), mask.sum(axis=1))
    scipy_matrix = layer.to_scipy()
    assert np.array_equal(in_degrees(scipy_matrix), mask.sum(axis=0))
    assert np.array_equal(out_degrees(scipy_matrix), mask.sum(axis=1))
    assert np.array_equal(connection_pattern(layer).toarray(), mask.astype(int))


def test_scipy_formats_duplicates_and_stored_zeros():
    rows = np.array([0, 0, 2, 2, 1])
    cols = np.array([1, 1, 0, 3, 3])  # (0, 1) twice: one connection
    data = np.array([1.0, 2.0, 0.0, 5.0, 1.0])  # (2, 0) stored as 0: still a connection
    coo = sp.coo_matrix((data, (rows, cols)), shape=(3, 4))
    expected_in = np.array([1, 1, 0, 2])
    expected_out = np.array([1, 1, 2])
    for matrix in (coo, coo.tocsr(), coo.tocsc(), coo.tolil()):
        assert np.array_equal(in_degrees(matrix), expected_in)
        assert np.array_equal(out_degrees(matrix), expected_out)


def test_numpy_and_dense_layer():
    weights = np.array([[0.0, 1.0], [2.0, 0.0], [3.0, 4.0]])
    assert np.array_equal(in_degrees(weights), [2, 2])
    assert np.array_equal(out_degrees(weights), [1, 1, 2])
    dense = DenseLayer(4, 3, np.random.default_rng(0))
    assert np.array_equal(in_degrees(dense), [4, 4, 4])
    assert np.array_equal(out_degrees(dense), [3, 3, 3, 3])


def test_degree_distribution_counts():
    values = np.array([0, 2, 2, 5, 1, 2])
    k, counts = degree_distribution(values)
    assert np.array_equal(k, np.arange(6))
    assert np.array_equal(counts, [1, 1, 3, 0, 0, 1])
    k, counts = degree_distribution(values, max_degree=8)
    assert k[-1] == 8 and counts.sum() == values.size
    with pytest.raises(ValueError, match="degrees must be >= 0"):
        degree_distribution(np.array([1, -1]))


def test_erdos_renyi_expectation_is_binomial():
    k = np.arange(11)
    expected = erdos_renyi_expectation(k, 50, 10, 0.3)
    assert np.allclose(expected, 50 * stats.binom.pmf(k, 10, 0.3))
    assert expected.sum() == pytest.approx(50)
    with pytest.raises(ValueError, match="p must be"):
        erdos_renyi_expectation(k, 50, 10, 1.5)


def test_erdos_renyi_layer_follows_the_expectation():
    layer = SparseLayer(2000, 1500, density=0.02, rng=np.random.default_rng(3))
    stats_ = layer_degrees(layer)
    assert stats_.nnz == layer.nnz
    assert stats_.in_degrees.mean() == pytest.approx(layer.nnz / 1500)
    k, counts = stats_.distribution("in")
    _, expected = stats_.expectation("in", k)
    # Total variation distance between the histogram and the binomial is small.
    assert 0.5 * np.abs(counts / 1500 - expected / 1500).sum() < 0.08
    row = stats_.summary_rows()[0]
    assert row["er_mean"] == pytest.approx(2000 * stats_.density)
    assert abs(row["std"] - row["er_std"]) < 0.1 * row["er_std"]


def test_layer_degrees_summary_and_network(trained):
    model, _, _ = trained
    all_layers = network_degrees(model)
    assert [d.nnz for d in all_layers] == model.nnz_
    text = all_layers[0].summary()
    assert "64 -> 20" in text and "ER mean" in text
    with pytest.raises(ValueError, match="direction"):
        all_layers[0].degrees("sideways")
    with pytest.raises(ValueError, match="network must be"):
        network_degrees(42)
    with pytest.raises(ValueError, match="layer must be"):
        in_degrees("not a layer")


def test_masked_dense_layer_uses_its_mask(digits):
    # DST's layers are dense matrices with a mask (sparse=False, active_mask()).
    from setcourse.evolution.dst import DST
    from setcourse.analysis.nnstd import nnstd

    X, y, _, _ = digits
    model = MLP(hidden=(16,), topology=DST(alpha=5e-2), epsilon=3, epochs=2, lr=0.05)
    model.fit(X[:300], y[:300])
    for layer in model.layers_:
        mask = layer.active_mask()  # (n_in, n_out), the public orientation
        assert mask.shape == (layer.n_in, layer.n_out)
        assert np.array_equal(in_degrees(layer), mask.sum(axis=0))
        assert np.array_equal(out_degrees(layer), mask.sum(axis=1))
        assert np.array_equal(connection_pattern(layer).toarray(), mask.astype(int))
    assert nnstd(model, [layer.active_mask() for layer in model.layers_]) == 0.0


def test_initial_degrees_keeps_the_degrees_at_initialisation():
    from setcourse.analysis.degrees import InitialDegrees
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((64, 20)).astype(np.float32), rng.integers(0, 3, 64)
    model = MLP(hidden=(30,), topology="set", epsilon=3, zeta=0.5, epochs=2, seed=0)
    initial = InitialDegrees()
    model.fit(X, y, callbacks=[initial])
    assert len(initial.degrees_) == len(model.layers_)
    after = [layer_degrees(layer) for layer in model.layers_]
    for before_layer, after_layer in zip(initial.degrees_, after):
        assert before_layer.nnz == after_layer.nnz  # SET moves connections, keeps their number
    # What was recorded is the state before training: SET rewired the hidden layer since.
    assert not np.array_equal(initial.degrees_[0].in_degrees, after[0].in_degrees)
