"""One public orientation: every layer hands out its weights as (n_in, n_out)."""
import numpy as np
import pytest

from setcourse.evolution.dst import DSTLayer
from setcourse.nn.layers import DenseLayer, SparseLayer


def layers(n_in=7, n_out=5):
    rng = np.random.default_rng(0)
    dst = DSTLayer(n_in, n_out, rng)
    dst.threshold[:] = 0.3  # some weights masked
    return [SparseLayer(n_in, n_out, 0.4, rng), DenseLayer(n_in, n_out, rng), dst]


@pytest.mark.parametrize("layer", layers(), ids=lambda layer: type(layer).__name__)
def test_to_dense_and_to_scipy_agree_and_are_inputs_by_outputs(layer):
    dense = layer.to_dense()
    assert dense.shape == (layer.n_in, layer.n_out) == layer.to_scipy().shape
    np.testing.assert_array_equal(layer.to_scipy().toarray(), dense)
    x = np.random.default_rng(1).normal(size=(layer.n_in, 3)).astype(np.float32)
    np.testing.assert_allclose(layer.forward(x), dense.T @ x + layer.bias[:, None],
                               rtol=1e-5, atol=1e-5)
    dense[...] = 0  # a copy
    assert layer.to_dense().any()


def test_dense_weights_are_a_view_of_the_output_major_storage():
    layer = DenseLayer(7, 5, np.random.default_rng(0))
    assert layer.weights.shape == (7, 5) and layer.weights_t.shape == (5, 7)
    assert np.shares_memory(layer.weights, layer.weights_t)
    layer.weights[2, 3] = 9.0
    assert layer.weights_t[3, 2] == 9.0


def test_dst_mask_and_effective_weights_are_inputs_by_outputs():
    layer = layers()[2]
    assert layer.active_mask().shape == (7, 5) == layer.weights.shape
    np.testing.assert_array_equal(layer.active_mask(), layer.active_mask_t().T)
    np.testing.assert_array_equal(layer.weights != 0, layer.active_mask())


@pytest.mark.parametrize("layer", layers(), ids=lambda layer: type(layer).__name__)
def test_state_arrays_restore_an_identical_layer(layer):
    rng = np.random.default_rng(5)
    for value, _, velocity in layer.parameters():
        velocity[...] = rng.normal(size=velocity.shape)
    layer.bias[:] = rng.normal(size=layer.n_out)
    fresh = type(layer)(layer.n_in, layer.n_out, *([0.4] if layer.sparse else []),
                        np.random.default_rng(9))
    fresh.restore({k: np.array(v) for k, v in layer.state_arrays().items()})
    for (a, _, va), (b, _, vb) in zip(layer.parameters(), fresh.parameters()):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(va, vb)
    np.testing.assert_array_equal(layer.to_dense(), fresh.to_dense())


def test_sparse_values_and_velocities_are_interleaved_and_move_together():
    rng = np.random.default_rng(2)
    layer = SparseLayer(40, 30, 0.2, rng)
    layer.weight_velocity[:] = rng.normal(size=layer.nnz)
    # one (nnz, 2) buffer: value k and velocity k share a cache line
    assert layer.data.strides == layer.weight_velocity.strides == (8,)
    pairs = layer.data.base
    assert pairs is layer.weight_velocity.base and pairs.shape == (layer.nnz, 2)
    assert (layer.weight_velocity.__array_interface__["data"][0]
            - layer.data.__array_interface__["data"][0]) == 4
    layer.data[3] = 7.0
    assert layer.to_dense()[layer.indices[3], layer.row_of_each()[3]] == 7.0
    pairs = dict(zip(layer.positions(), zip(layer.data, layer.weight_velocity)))
    keep = rng.random(layer.nnz) > 0.3
    grown = layer.empty_positions(10, rng)
    layer.replace_connections(keep, grown, np.full(10, 0.5, np.float32))
    after = dict(zip(layer.positions(), zip(layer.data, layer.weight_velocity)))
    assert {p: after[p] for p in np.asarray(list(pairs))[keep]} == {
        p: pairs[p] for p in np.asarray(list(pairs))[keep]}
    assert all(after[p] == (0.5, 0.0) for p in grown)
    assert layer.data.strides == (8,) and layer.nnz == keep.sum() + 10
    with pytest.raises(AttributeError):
        layer.data = np.zeros(layer.nnz, np.float32)  # the views cannot be replaced
