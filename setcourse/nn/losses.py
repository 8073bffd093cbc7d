"""Losses on feature-major outputs ``(n_classes, batch)``; gradients are batch means.

Each loss owns the output non-linearity, so that its gradient with respect to the
pre-activation ``z`` is computed in one correct step (the original tutorial code applied the
sigmoid derivative to an already-activated output).
"""
import numpy as np

from . import kernels
from .activations import Sigmoid

LOSSES = ("cross_entropy", "mse")


def softmax(z):
    """Column-wise softmax of ``z`` (classes x batch), shifted for stability."""
    e = np.exp(z - z.max(axis=0, keepdims=True))
    return e / e.sum(axis=0, keepdims=True)


def one_hot(y, n_classes, dtype=np.float32):
    """Feature-major one-hot matrix ``(n_classes, len(y))``."""
    out = np.zeros((n_classes, y.size), dtype=dtype)
    out[y, np.arange(y.size)] = 1
    return out


class CrossEntropy:
    r"""Softmax + cross-entropy: :math:`L = -\frac1B \sum_b \log \mathrm{softmax}(z_b)_{y_b}`.

    :math:`\partial L / \partial z = (\mathrm{softmax}(z) - Y) / B`.
    """

    name = "cross_entropy"

    def output(self, z):
        return softmax(z)

    def loss_and_grad(self, z, y):
        """Mean loss and ``dL/dz`` for logits ``z`` (classes, batch) and int labels ``y`` (batch,)."""
        z = np.ascontiguousarray(z, dtype=np.float32)
        grad = np.empty_like(z)
        loss = kernels.softmax_cross_entropy(z, np.asarray(y, dtype=np.int64), grad)
        return float(loss), grad

    def loss(self, z, y):
        p = softmax(z)
        return float(-np.mean(np.log(np.maximum(p[y, np.arange(y.size)], 1e-30))))


class MeanSquaredError:
    r"""Output non-linearity ``f`` (sigmoid by default) + squared error to one-hot targets.

    :math:`L = \frac{1}{2B} \sum_b \lVert f(z_b) - Y_b \rVert^2`, so
    :math:`\partial L / \partial z = (f(z) - Y)\, f'(z) / B`.
    """

    name = "mse"

    def __init__(self, output_activation=None):
        self.output_activation = output_activation or Sigmoid()

    def output(self, z):
        return self.output_activation.forward(z)

    def loss_and_grad(self, z, y):
        batch = y.size
        a = self.output_activation.forward(z)
        diff = a - one_hot(y, z.shape[0], z.dtype)
        loss = float(0.5 * np.sum(diff * diff) / batch)
        grad = self.output_activation.backward(z, diff) / batch
        return loss, grad.astype(np.float32, copy=False)

    def loss(self, z, y):
        diff = self.output(z) - one_hot(y, z.shape[0], z.dtype)
        return float(0.5 * np.sum(diff * diff) / y.size)


def make_loss(name):
    """Loss object from its name (``cross_entropy`` or ``mse``)."""
    if name == "cross_entropy":
        return CrossEntropy()
    if name == "mse":
        return MeanSquaredError()
    raise ValueError(f"loss must be one of {', '.join(LOSSES)}; got {name!r}")
