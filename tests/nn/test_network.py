"""The layer stack's passes (nn.network) are what the estimator runs."""
import numpy as np

from nn.helpers import built_model
from setcourse.nn import network


def test_network_passes_equal_the_model_s_and_release_inputs_when_evaluating():
    model = built_model(dropout=0.0, seed=3)
    x = np.random.default_rng(0).normal(size=(12, 9)).astype(np.float32)
    logits, steps = network.forward(model.layers_, model.activations_, x)
    np.testing.assert_array_equal(logits, model.forward(x))
    assert steps == [] and all(layer.input is None for layer in model.layers_)
    logits, steps = network.forward(model.layers_, model.activations_, x, training=True)
    assert len(steps) == len(model.layers_) - 1
    grad = np.ones_like(logits) / x.shape[1]
    network.backward(model.layers_, steps, grad)
    assert all(np.any(layer.weight_grad) for layer in model.layers_)
