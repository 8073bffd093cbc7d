"""The layer stack: forward and backward through hidden layers and the classifier.

Activations are feature-major, ``(n_features, batch)``. Each hidden layer's output is
``a = dropout(f(z))``, computed by an :class:`~setcourse.nn.activations.ActivationDropout`
that the layer may fuse into its own kernel; the classifier returns the logits ``z``. The
forward pass returns those steps, and the backward pass needs them back: they hold what the
activations' derivatives need (the kept pre-activations, the dropout seeds).
"""
import numpy as np

from .activations import ActivationDropout

#: an evaluation forward (``training=False``) holds at most about this many bytes of
#: activations: a larger batch is cut into column chunks (results unchanged: every sample is
#: computed on its own); below it, one pass as ever
EVAL_MAX_BYTES = 2**30
ACTIVATION_BYTES = 4  # float32


def training_activation_bytes(sizes, batch_size, keeps_pre=False, release_from=None):
    r"""Peak bytes of activations in a training step of an MLP of layer ``sizes``.

    The forward pass keeps each layer's input (float32 ``(n_in, batch)``); the backward of
    layer :math:`l` holds its delta ``(n_{l+1}, batch)`` and input gradient ``(n_l, batch)`` at
    once, then frees its input if it has at least ``release_from`` bytes (default
    :data:`~setcourse.nn.layers.RELEASE_INPUT_BYTES`; smaller inputs stay until the next
    step). With every input released (large layers):

    .. math::
        4 B \max\Big(\sum_{i < L} n_i + n_L,\;
        \max_{1 \le l < L} \Big(\sum_{i \le l} n_i + n_{l+1} + n_l\Big)\Big)

    :math:`n_0` the features (the batch itself), :math:`n_L` the classes, :math:`B` the
    batch. ``keeps_pre``: leaky activations also keep their pre-activation, 4 B more per
    hidden neuron and sample.
    """
    from .layers import RELEASE_INPUT_BYTES
    release_from = RELEASE_INPUT_BYTES if release_from is None else release_from
    sizes = [int(n) for n in sizes]
    batch = int(batch_size)
    kept = sizes[:-1]  # the input of each layer, alive after the forward pass
    best = sum(kept) + sizes[-1]
    alive = list(kept)
    for layer in range(len(sizes) - 2, 0, -1):  # backward of layer l >= 1 (l = 0: no dx)
        best = max(best, sum(alive) + sizes[layer + 1] + sizes[layer])
        if ACTIVATION_BYTES * batch * sizes[layer] >= release_from:
            alive[layer] = 0
    if keeps_pre:
        best += sum(sizes[1:-1])
    return ACTIVATION_BYTES * batch * best


def evaluation_chunk(sizes, batch_size):
    """Samples an evaluation forward of ``batch_size`` computes at once: all of them, unless
    one layer's input and output exceed :data:`EVAL_MAX_BYTES` (then fewer, at least 1)."""
    widest = max(a + b for a, b in zip(sizes[:-1], sizes[1:]))
    return int(min(batch_size, max(1, EVAL_MAX_BYTES // (ACTIVATION_BYTES * widest))))


def forward(layers, activations, x, keep_probability=1.0, seeds=None, training=False,
            buffers=None):
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
    buffers : ActivationBuffers, optional
        Reused storage for the large activation blocks of this step and its backward pass
        (training only: an evaluation's outputs go to the caller).

    Returns
    -------
    logits, steps : the logits and the list of :class:`ActivationDropout`, one per hidden layer
        (empty when not training).
    """
    if not training:
        sizes = [layers[0].n_in] + [layer.n_out for layer in layers]
        chunk = evaluation_chunk(sizes, x.shape[1])
        if chunk < x.shape[1]:
            # A huge model: column chunks, each layer's input dropped once used (see above).
            for layer in layers:
                layer.update_with = None
            parts = [_evaluate(layers, activations, np.ascontiguousarray(x[:, c:c + chunk]))
                     for c in range(0, x.shape[1], chunk)]
            return np.concatenate(parts, axis=1), []
    steps = []
    a = x
    for index, layer in enumerate(layers[:-1]):
        seed = seeds[index] if keep_probability < 1 else np.uint64(0)
        step = ActivationDropout(activations[index], keep_probability, seed, training,
                                 buffers if training else None)
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


def _evaluate(layers, activations, x):
    """Logits of ``x`` without dropout, each layer's input released as soon as it is used."""
    a = x
    for index, layer in enumerate(layers[:-1]):
        a = layer.forward(a, ActivationDropout(activations[index], 1.0, np.uint64(0), False))
        layer.input = None
    logits = layers[-1].forward(a)
    layers[-1].input = None
    return logits


def backward(layers, steps, grad):
    """Back-propagate ``grad`` = dL/dlogits through ``layers``; fills every layer's gradients.

    ``steps`` are those :func:`forward` returned for the same batch.
    """
    for index in range(len(layers) - 1, -1, -1):
        step = steps[index - 1] if index > 0 else None
        grad = layers[index].backward(grad, need_input_grad=index > 0, input_step=step)
