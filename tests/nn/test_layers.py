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
