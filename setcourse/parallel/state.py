"""A model's state as plain arrays: what travels between the driver, the server and workers.

Only the layers' public API is used (``state_arrays``, ``restore``, ``weight_values``,
``positions``, ``set_connections``), so the engine's layers can change underneath.
"""
import numpy as np

from ..model import MLP


def build_model(params, n_features, n_classes, n_samples=None):
    """A freshly built :class:`~setcourse.MLP` of ``params`` (its own seeded initial state)."""
    return MLP(**params).build(n_features, n_classes, n_samples=n_samples)


def layer_states(model):
    """Copies of every layer's :meth:`state_arrays` (topology, weights, velocities, biases)."""
    return [{name: np.array(array, copy=True) for name, array in layer.state_arrays().items()}
            for layer in model.layers_]


def restore_states(model, states):
    """Put :func:`layer_states` back into ``model``'s layers (checked by ``restore``)."""
    if len(states) != len(model.layers_):
        raise ValueError(f"{len(states)} layer states for a model of {len(model.layers_)} layers")
    for layer, state in zip(model.layers_, states):
        layer.restore(state)


def weight_values(model):
    """Copies of each layer's ``(weights, bias)``; the weights aligned with its storage."""
    return [(layer.weight_values().copy(), layer.bias.copy()) for layer in model.layers_]


def set_weight_values(model, values):
    """Write :func:`weight_values` of the same topology into ``model`` in place."""
    for layer, (weights, bias) in zip(model.layers_, values):
        layer.weight_values()[...] = weights
        layer.bias[...] = bias


def gradients(model):
    """Copies of each layer's ``(weight_grad, bias_grad)`` after a backward pass."""
    return [(layer.weight_grad.copy(), layer.bias_grad.copy()) for layer in model.layers_]


def topology(model):
    """Each layer's sorted connection positions (``out * n_in + in``); ``None`` if dense."""
    return [layer.positions() if layer.sparse else None for layer in model.layers_]


def state_positions(state, n_in):
    """The sorted positions (``out * n_in + in``) of a sparse layer's state arrays."""
    indptr = np.asarray(state["indptr"], dtype=np.int64)
    rows = np.repeat(np.arange(indptr.size - 1, dtype=np.int64), np.diff(indptr))
    return rows * n_in + state["indices"]
