"""The layer stack: forward and backward through hidden layers and the classifier.

Activations are feature-major, ``(n_features, batch)``. Each hidden layer's output is
``a = dropout(f(z))``, computed by an :class:`~setcourse.nn.activations.ActivationDropout`
that the layer may fuse into its own kernel; the classifier returns the logits ``z``. The
forward pass returns those steps, and the backward pass needs them back: they hold what the
activations' derivatives need (the kept pre-activations, the dropout seeds).
"""
import numpy as np

from .activations import ActivationDropout


def forward(layers, activations, x, keep_probability=1.0, seeds=None, training=False):
    """Logits ``(n_out, batch)`` of ``layers`` for ``x`` ``(n_in, batch)``, and the hidden steps.

    Parameters
    ----------
    layers : list of Layer
        Hidden layers, then the classifier.
    activations : list of Activation
        One per hidden layer.
    keep_probability : float in (0, 1]
        Dropout keep probability of every hidden layer (1: no dropout).
    seeds : (n_hidden,) uint64 array, optional
        Seeds of the hidden layers' dropout masks for this batch (needed when
        ``keep_probability < 1``).
    training : bool
        Keep what :func:`backward` needs; when False the layers' kept inputs are released.

    Returns
    -------
    logits, steps : the logits and the list of :class:`ActivationDropout`, one per hidden layer
        (empty when not training).
    """
    steps = []
    a = x
    for index, layer in enumerate(layers[:-1]):
        seed = seeds[index] if keep_probability < 1 else np.uint64(0)
        step = ActivationDropout(activations[index], keep_probability, seed, training)
        a = layer.forward(a, step)
        steps.append(step)
    logits = layers[-1].forward(a)
    if not training:
        # Inputs are kept for backward only: don't hold an evaluation chunk's activations.
        # An evaluation also ends the training step: no layer stays armed to update its
        # weights in a later backward pass (see SGD.step).
        for layer in layers:
            layer.input = None
            if getattr(layer, "update_with", None) is not None:
                layer.update_with = None
        steps = []
    return logits, steps


def backward(layers, steps, grad):
    """Back-propagate ``grad`` = dL/dlogits through ``layers``; fills every layer's gradients.

    ``steps`` are those :func:`forward` returned for the same batch.
    """
    for index in range(len(layers) - 1, -1, -1):
        step = steps[index - 1] if index > 0 else None
        grad = layers[index].backward(grad, need_input_grad=index > 0, input_step=step)
