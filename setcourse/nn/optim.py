"""SGD with momentum and weight decay over the layers' ``(value, grad, velocity)`` triples."""
import numpy as np

from . import kernels

#: How weight decay enters the update (see :class:`SGD`).
WEIGHT_DECAY_MODES = ("decoupled", "l2")


class SGD:
    r"""Stochastic gradient descent with momentum and weight decay.

    ``weight_decay_mode="decoupled"`` (the original SET tutorial's rule, ``set_mlp.py``):

    .. math::
        v \leftarrow \mu v - \eta\, g, \qquad w \leftarrow w + v - \lambda w

    the decay shrinks every weight by :math:`\lambda` per step, whatever the learning rate.
    ``weight_decay_mode="l2"`` (the PyTorch convention):

    .. math::
        v \leftarrow \mu v - \eta\,(g + \lambda w), \qquad w \leftarrow w + v

    the decay goes through the momentum: in steady state it shrinks a weight by
    :math:`\eta\lambda / (1 - \mu)` per step, :math:`10^{-4}` at :math:`\eta = 0.05`,
    :math:`\mu = 0.9`, :math:`\lambda = 2\cdot10^{-4}`, half the decoupled rule's
    :math:`2\cdot10^{-4}`. Measured on the tutorial's Fashion-MNIST protocol (60 epochs, SET):
    the correlation of input connections with pixel variance is +0.13 with ``l2`` and +0.20
    with ``decoupled`` at the same accuracy; ``l2`` at :math:`\lambda = 4\cdot10^{-4}`
    matches ``decoupled`` (+0.22): what matters is the strength.

    Gradients are batch means for every layer type, so one learning rate means the same for
    dense and sparse models. ``decay_biases`` decays the biases (and any other parameter a
    layer has, e.g. DST's thresholds) too, as the original and DST's reference do.
    """

    def __init__(self, lr=0.01, momentum=0.9, weight_decay=2e-4, weight_decay_mode="decoupled",
                 decay_biases=True):
        if weight_decay_mode not in WEIGHT_DECAY_MODES:
            raise ValueError(f"weight_decay_mode must be one of {', '.join(WEIGHT_DECAY_MODES)}; "
                             f"got {weight_decay_mode!r}")
        self.lr = lr
        self.momentum = momentum
        self.weight_decay = weight_decay
        self.weight_decay_mode = weight_decay_mode
        self.decay_biases = bool(decay_biases)

    def step(self, layers):
        """Update every layer's parameters in place; arm the layers that fuse the update.

        A layer whose :attr:`~setcourse.nn.layers.Layer.fuses_update` is true (a plain sparse
        layer) is armed here for its next backward pass: that pass applies this step's rule
        to each weight as soon as its gradient is summed (the same operations in the same
        order as here, so bit-identical) and keeps no gradient array; the next call of
        ``step`` then updates only its biases. The arming lasts one backward pass and an
        evaluation forward (``training=False``) clears it, so a backward outside training
        (a gradient check) stores gradients as usual. When a step is skipped (RigL's update
        steps) the layers are not armed; RigL's layers never fuse anyway.
        """
        lr, mu = np.float32(self.lr), np.float32(self.momentum)
        update = (kernels.sgd_momentum_decoupled_update if self.weight_decay_mode == "decoupled"
                  else kernels.sgd_momentum_update)
        for layer in layers:
            done = getattr(layer, "weights_updated", False)
            for i, (value, grad, velocity) in enumerate(layer.parameters()):
                if i == 0 and done:
                    continue  # applied by the backward pass
                decay = np.float32(self.weight_decay if (i == 0 or self.decay_biases) else 0.0)
                update(value.reshape(-1), grad.reshape(-1), velocity.reshape(-1), lr, mu, decay)
            if done:
                layer.weights_updated = False
        self.arm(layers)

    def arm(self, layers):
        """Arm the layers that fuse the update for their next backward pass (see :meth:`step`).

        The training loop arms them before every step, since an evaluation disarms them: the
        first step of a fit and the first after an evaluation keep no gradient array either
        (4 bytes per connection, 1.5 GB at 10 million neurons, that would otherwise be
        allocated at the top of the activations' peak).
        """
        if not self.fuses:
            return
        for layer in layers:
            if layer.fuses_update:
                layer.release_gradient()
                layer.update_with = self

    @property
    def fuses(self):
        """Whether layers may apply this optimiser's weight update in their backward pass:
        the decoupled rule only (see :mod:`setcourse.nn.kernels`: the L2 rule's rounding is
        not reproducible inside another kernel)."""
        return self.weight_decay_mode == "decoupled"

    def fused_rule(self):
        """``(rule, lr, momentum, weight_decay)`` for the backward kernel that updates in place
        (:func:`~setcourse.nn.kernels.sparse_backward`), as :meth:`step` would."""
        return (kernels.DECOUPLED_UPDATE, np.float32(self.lr), np.float32(self.momentum),
                np.float32(self.weight_decay))
