"""Activation functions: value and derivative, on arrays of any shape.

``backward(z, grad)`` receives the pre-activation ``z`` and ``dL/da`` and returns ``dL/dz``.
Between the passes a hidden layer keeps at most ``z`` (sigmoid and tanh recompute ``f(z)``),
and ReLU keeps nothing: with hidden layers of 330,000 neurons every kept array costs 170 MB.
:class:`ActivationDropout` is a hidden layer's activation with inverted dropout, for one batch.
"""
import numpy as np

from . import kernels


class Activation:
    """Base class: a named element-wise function with its derivative."""

    name = "activation"
    # Whether backward needs the pre-activation ``z`` (ReLU does not: ``a > 0`` suffices).
    needs_pre_activation = True

    def forward(self, z):
        raise NotImplementedError

    def backward(self, z, grad):
        raise NotImplementedError

    def forward_dropout(self, z, keep_probability, seed, pre):
        """``dropout(f(z))`` as a new array; the mask is a pure function of ``seed`` (see kernels).

        ``pre`` is where ``z`` is kept for backward, or an array without rows (not kept).
        """
        if pre.shape[0]:
            pre[...] = z
        a = np.array(self.forward(z), dtype=np.float32, copy=True)
        kernels.dropout_inplace(a, keep_probability, seed)
        return a

    def backward_dropout(self, grad, a, pre, keep_probability, seed):
        """``dL/dz`` from ``dL/da`` for ``a = dropout(f(z))``; may overwrite ``grad``."""
        # Dropout is linear: its backward is the same mask and scale, re-generated.
        kernels.dropout_inplace(grad, keep_probability, seed)
        return self.backward(pre, grad)

    def __repr__(self):
        return f"{type(self).__name__}()"


class PiecewiseLinear(Activation):
    r"""ReLU family: :math:`f(z) = z` for :math:`z > 0`, :math:`f(z) = s\,z` otherwise.

    Its dropout versions run in one fused kernel (inside the sparse product for sparse
    layers). For ReLU the backward needs only the output: :math:`a > 0` exactly where the
    unit was active and kept, so nothing but ``a`` is kept between the passes.
    """

    def __init__(self, negative_slope=0.0, name="relu"):
        self.negative_slope = float(negative_slope)
        self.name = name

    @property
    def needs_pre_activation(self):
        return self.negative_slope != 0.0

    @property
    def derivative_mode(self):
        """How a kernel turns ``dL/da`` into ``dL/dz`` (see :mod:`setcourse.nn.kernels`)."""
        return (kernels.FROM_PRE_ACTIVATION if self.needs_pre_activation
                else kernels.RELU_FROM_OUTPUT)

    def forward(self, z):
        if self.negative_slope == 0.0:
            return np.maximum(z, 0, dtype=z.dtype)
        return np.where(z > 0, z, z * np.float32(self.negative_slope))

    def backward(self, z, grad):
        if self.negative_slope == 0.0:
            return grad * (z > 0)
        return grad * np.where(z > 0, np.float32(1.0), np.float32(self.negative_slope))

    def forward_dropout(self, z, keep_probability, seed, pre):
        out = np.empty_like(z)
        kernels.piecewise_linear_dropout(z, np.float32(self.negative_slope), keep_probability,
                                         np.uint64(seed), out, pre)
        return out

    def backward_dropout(self, grad, a, pre, keep_probability, seed):
        kernels.piecewise_linear_dropout_backward(grad, a, pre, self.derivative_mode,
                                                  np.float32(self.negative_slope),
                                                  keep_probability, np.uint64(seed))
        return grad

    def __repr__(self):
        return f"{type(self).__name__}(negative_slope={self.negative_slope}, name={self.name!r})"


class ActivationDropout:
    """One hidden layer's ``a = dropout(f(z))`` for one batch, keeping what backward needs.

    Made by the model per layer and forward pass; layers either call :meth:`forward` on
    their ``z`` or run it fused inside their own kernel (see ``SparseLayer.forward``).

    Parameters
    ----------
    activation : Activation
    keep_probability : float in (0, 1]
        1 means no dropout (evaluation).
    seed : numpy.uint64
        Seed of this layer's counter-based dropout mask for this batch.
    training : bool
        Keep ``z`` for the backward pass when the activation needs it.
    buffers : ActivationBuffers, optional
        Where this step's layer and the layer above take their large arrays from (reused
        between training steps); plain ``np.empty`` without.
    """

    def __init__(self, activation, keep_probability=1.0, seed=np.uint64(0), training=False,
                 buffers=None):
        self.activation = activation
        self.keep_probability = float(keep_probability)
        self.seed = np.uint64(seed)
        self.training = training
        self.buffers = buffers
        self.pre = kernels.EMPTY_ROWS

    def empty(self, shape):
        """An uninitialised float32 array of ``shape`` (from :attr:`buffers` if any)."""
        if self.buffers is None:
            return np.empty(shape, dtype=np.float32)
        return self.buffers.empty(shape)

    def pre_buffer(self, shape):
        """Storage for ``z`` of ``shape`` if backward will need it, else an empty array."""
        if self.training and self.activation.needs_pre_activation:
            self.pre = self.empty(shape)
        return self.pre

    def forward(self, z):
        """``a = dropout(f(z))`` (a new array)."""
        return self.activation.forward_dropout(z, self.keep_probability, self.seed,
                                               self.pre_buffer(z.shape))

    def backward(self, grad, a):
        """``dL/dz`` from ``dL/da`` and the output ``a``; may overwrite ``grad``."""
        return self.activation.backward_dropout(grad, a, self.pre, self.keep_probability,
                                                self.seed)


class Sigmoid(Activation):
    r""":math:`\sigma(z) = 1 / (1 + e^{-z})`, :math:`\sigma' = \sigma (1 - \sigma)`."""

    name = "sigmoid"

    def forward(self, z):
        # Written via tanh: no overflow warning for large |z|.
        return (0.5 * (np.tanh(0.5 * z) + 1.0)).astype(z.dtype, copy=False)

    def backward(self, z, grad):
        a = self.forward(z)
        return grad * a * (1 - a)


class Tanh(Activation):
    r""":math:`\tanh(z)`, derivative :math:`1 - \tanh^2`."""

    name = "tanh"

    def forward(self, z):
        return np.tanh(z)

    def backward(self, z, grad):
        a = np.tanh(z)
        return grad * (1 - a * a)


class Identity(Activation):
    """:math:`f(z) = z` (used for the classifier's logits)."""

    name = "identity"

    def forward(self, z):
        return z

    def backward(self, z, grad):
        return grad


ACTIVATIONS = ("relu", "leaky_relu", "all_relu", "sigmoid", "tanh")


def hidden_activations(name, n_hidden, alpha=0.6):
    """One activation object per hidden layer.

    ``all_relu`` (Curci, Mocanu & Pechenizkiy, "Truly sparse neural networks at scale",
    2021) alternates the sign of the negative slope: :math:`-\\alpha z` on odd hidden layers
    and :math:`\\alpha z` on even ones (counting from 1). ``leaky_relu`` uses slope ``alpha``
    everywhere.
    """
    if name == "relu":
        return [PiecewiseLinear(0.0, "relu") for _ in range(n_hidden)]
    if name == "leaky_relu":
        return [PiecewiseLinear(alpha, "leaky_relu") for _ in range(n_hidden)]
    if name == "all_relu":
        return [PiecewiseLinear(-alpha if (i + 1) % 2 else alpha, "all_relu")
                for i in range(n_hidden)]
    if name == "sigmoid":
        return [Sigmoid() for _ in range(n_hidden)]
    if name == "tanh":
        return [Tanh() for _ in range(n_hidden)]
    raise ValueError(f"activation must be one of {', '.join(ACTIVATIONS)}; got {name!r}")
