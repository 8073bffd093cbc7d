"""DST: Dynamic Sparse Training with trainable masked layers (Liu et al., ICLR 2020).

Each layer keeps *dense* weights and one trainable threshold per output neuron; weights below
their neuron's threshold are masked out in the forward pass, and the step function is
back-propagated with a long-tailed straight-through estimator, so both the weights and the
thresholds learn. Sparsity is not fixed: it emerges from a penalty on low thresholds.
"""
import numpy as np
import scipy.sparse as sp

from .._validation import Interval
from ..nn.layers import Layer, he_uniform_limits
from .base import EvolutionStrategy


def step_derivative(x):
    r"""DST's long-tailed straight-through estimate of :math:`\frac{d}{dx}\,\mathrm{step}(x)`.

    .. math::
        H'(x) \approx \begin{cases} 2 - 4|x| & |x| \le 0.4 \\ 0.4 & 0.4 < |x| \le 1 \\
        0 & |x| > 1 \end{cases}
    """
    ax = np.abs(np.asarray(x, dtype=np.float32))
    out = np.where(ax <= 1.0, np.float32(0.4), np.float32(0.0))
    near = ax <= 0.4
    out[near] = 2.0 - 4.0 * ax[near]
    return out


class DSTLayer(Layer):
    r"""Fully connected layer with a trainable per-neuron threshold mask (dense by nature).

    Forward, for output neuron :math:`i` (here :math:`W` is output-major, ``(n_out, n_in)``,
    as stored; the public accessors ``weights``, ``to_dense()``, ``active_mask()`` give the
    ``(n_in, n_out)`` transpose, as every layer does):

    .. math::
        M_{ij} = \mathrm{step}(|W_{ij}| - t_i), \qquad z = (W \odot M)\, x + b .

    Backward, with :math:`G = \delta x^\top` the gradient with respect to :math:`W \odot M`
    and :math:`H'` the :func:`step_derivative` at :math:`|W_{ij}| - t_i`:

    .. math::
        \frac{\partial L}{\partial W_{ij}} = G_{ij}\,(M_{ij} + |W_{ij}|\, H'_{ij}), \qquad
        \frac{\partial L}{\partial t_i} = -\sum_j G_{ij} W_{ij} H'_{ij}
        - \alpha\, e^{-t_i},

    the last term being the gradient of the sparsity penalty :math:`\alpha \sum_i e^{-t_i}`
    (not included in the reported loss). If a forward pass finds at most ``reset_ratio`` of
    the layer's weights active, all its thresholds are reset to 0 first (as the reference).

    Attributes
    ----------
    dense_weights_t : (n_out, n_in) float32
        The trainable :math:`W`, stored output-major; ``weights`` is the effective
        :math:`W \odot M` as ``(n_in, n_out)`` (a copy).
    threshold : (n_out,) float32
        :math:`t`, initialised to 0.
    weight_grad, weight_velocity : (n_out, n_in) float32, aligned with ``dense_weights_t``.
    threshold_grad, threshold_velocity : (n_out,) float32
    mask_t : (n_out, n_in) bool
        The mask of the last forward pass, output-major.
    nnz : int
        Active (unmasked) weights at the current parameters.
    """

    sparse = False

    def __init__(self, n_in, n_out, rng, init="actual_fan_in", alpha=5e-4, reset_ratio=0.01):
        super().__init__(n_in, n_out)
        # Same draw as DenseLayer: a DST model starts from the dense model of the same seed.
        limit = he_uniform_limits(np.full(n_out, n_in), init, n_in).astype(np.float32)
        weights = rng.uniform(-1, 1, size=(n_out, n_in)).astype(np.float32) * limit[:, None]
        self._set_weights(weights, np.zeros_like(weights), alpha, reset_ratio)

    def _set_weights(self, weights, velocity, alpha, reset_ratio):
        self.dense_weights_t = np.ascontiguousarray(weights, dtype=np.float32)
        self.weight_grad = np.zeros_like(self.dense_weights_t)
        self.weight_velocity = np.ascontiguousarray(velocity, dtype=np.float32)
        self.threshold = np.zeros(self.n_out, dtype=np.float32)
        self.threshold_grad = np.zeros(self.n_out, dtype=np.float32)
        self.threshold_velocity = np.zeros(self.n_out, dtype=np.float32)
        self.alpha = alpha
        self.reset_ratio = reset_ratio
        self.mask_t = None
        self._masked = None

    # -- mask -------------------------------------------------------------------------------
    def active_mask_t(self):
        """:math:`|W| > t` at the current parameters, output-major ``(n_out, n_in)`` bool."""
        return np.abs(self.dense_weights_t) > self.threshold[:, None]

    def active_mask(self):
        """Which connections are active, ``(n_in, n_out)`` bool (a view of a new array)."""
        return self.active_mask_t().T

    @property
    def nnz(self):
        return int(np.count_nonzero(self.active_mask_t()))

    @property
    def weights(self):
        """Effective weights :math:`W \\odot M` as ``(n_in, n_out)`` (a copy)."""
        return self.to_dense()

    def to_dense(self):
        """Effective weights :math:`W \\odot M` as ``(n_in, n_out)`` (a copy)."""
        return (self.dense_weights_t * self.active_mask_t()).T.copy()

    def weight_values(self):
        return self.dense_weights_t

    def parameters(self):
        return [(self.dense_weights_t, self.weight_grad, self.weight_velocity),
                (self.bias, self.bias_grad, self.bias_velocity),
                (self.threshold, self.threshold_grad, self.threshold_velocity)]

    # -- products ---------------------------------------------------------------------------
    def linear(self, x):
        mask = self.active_mask_t()
        if np.count_nonzero(mask) <= self.reset_ratio * mask.size:
            self.threshold[:] = 0.0  # the reference's rescue of an over-pruned layer
            mask = self.active_mask_t()
        self.mask_t = mask
        self._masked = self.dense_weights_t * mask
        z = self._masked @ x
        z += self.bias[:, None]
        return z

    def store_gradients(self, delta):
        """Gradients of the weights, thresholds (incl. the penalty) and bias."""
        grad = delta @ self.input.T  # dL/d(W * M), dense: DST is dense by nature
        abs_w = np.abs(self.dense_weights_t)
        slope = step_derivative(abs_w - self.threshold[:, None])
        grad_slope = grad * slope
        self.threshold_grad[:] = -np.einsum("ij,ij->i", grad_slope, self.dense_weights_t)
        self.threshold_grad -= np.float32(self.alpha) * np.exp(-self.threshold)
        np.multiply(grad_slope, abs_w, out=grad_slope)
        np.multiply(grad, self.mask_t, out=grad)
        np.add(grad, grad_slope, out=self.weight_grad)
        np.sum(delta, axis=1, out=self.bias_grad)

    def input_gradient(self, delta, out=None):
        return np.matmul(self._masked.T, delta, out=out)

    def to_scipy(self):
        """Effective weights as a scipy CSR matrix ``(n_in, n_out)``."""
        return sp.csr_matrix(self.to_dense())

    def parameter_bytes(self):
        """Dense weights, thresholds and bias: DST keeps the whole matrix."""
        return self.dense_weights_t.nbytes + self.threshold.nbytes + self.bias.nbytes

    # -- checkpoints: ``weights`` (effective, output-major) is kept for readers of the file;
    # the trainable state is ``dense_weights`` and the thresholds ---------------------------
    def state_arrays(self):
        return {**super().state_arrays(), "weights": self.dense_weights_t * self.active_mask_t(),
                "velocity": self.weight_velocity, "dense_weights": self.dense_weights_t,
                "threshold": self.threshold, "threshold_velocity": self.threshold_velocity}

    @classmethod
    def state_spec(cls, n_in, n_out):
        full = ((n_out, n_in), (np.dtype(np.float32),))
        row = ((n_out,), (np.dtype(np.float32),))
        return {**super().state_spec(n_in, n_out), "weights": full, "velocity": full,
                "dense_weights": full, "threshold": row, "threshold_velocity": row}

    @classmethod
    def check_state(cls, arrays, n_in, n_out, prefix=""):
        """As :meth:`Layer.check_state`, and ``weights`` must be the :math:`W \\odot M` that
        ``dense_weights`` and ``threshold`` give (it is redundant: a mismatch is a damaged or
        edited file)."""
        super().check_state(arrays, n_in, n_out, prefix)
        dense, threshold = arrays["dense_weights"], arrays["threshold"]
        effective = dense * (np.abs(dense) > threshold[:, None])
        differ = effective != arrays["weights"]
        if differ.any():
            row, col = map(int, np.argwhere(differ)[0])
            raise ValueError(
                f"{prefix}weights disagrees with dense_weights and threshold at "
                f"{int(differ.sum())} position(s), first ({row}, {col}): "
                f"{arrays['weights'][row, col]} instead of {effective[row, col]}")

    def restore_checked(self, arrays):
        super().restore_checked(arrays)
        self.weight_velocity[...] = arrays["velocity"]
        self.dense_weights_t[...] = arrays["dense_weights"]
        self.threshold[...] = arrays["threshold"]
        self.threshold_velocity[...] = arrays["threshold_velocity"]


class DST(EvolutionStrategy):
    r"""Dynamic Sparse Training: trainable per-neuron thresholds mask dense weights.

    Every layer (the classifier included, as in the paper) becomes a :class:`DSTLayer`:

    .. math::
        M = \mathrm{step}(|W| - t), \qquad
        \min_{W, t}\ L\big((W \odot M)\big) + \alpha \sum_{\text{layers}} \sum_i e^{-t_i},

    with the step function back-propagated by the long-tailed estimator
    :func:`step_derivative`. The mask is recomputed at every forward pass; thresholds start
    at 0 (all weights active) and a layer keeping at most 1 % of its weights has its
    thresholds reset to 0. Sparsity is not set, it emerges from :math:`\alpha`: watch
    ``history_["nnz"]`` per epoch.

    **Dense by nature.** DST trains the full weight matrix and its gradient: memory and time
    are those of a dense network (more, for the mask), whatever the sparsity reached. It is
    here to compare, not to scale.

    **Weight decay.** The reference trains :math:`W`, :math:`b` and :math:`t` with
    ``torch.optim.SGD(model.parameters(), lr, momentum, weight_decay)`` (``mnist/train.py:72``,
    ``cifar/train.py:93``): L2 in the gradient of every parameter, the thresholds included
    (:math:`t` is pulled towards 0, against the penalty). ``MLP(weight_decay_mode="l2",
    decay_biases=True)`` is that rule; it is tested step for step against a port of the
    reference's layer, penalty and optimiser. At :math:`\lambda = 2\cdot10^{-4}` its pull on a
    threshold, :math:`\lambda t`, is 4-33 % of the penalty's :math:`\alpha e^{-t}` for
    :math:`t` from 0.1 to 0.5: it matters. The engine's default, ``decoupled``, decays them
    too, but by :math:`\lambda` per step whatever the learning rate, :math:`(1-\mu)/\eta`
    times the ``l2`` pull (2x at lr 0.05, 10x at 0.01). Measured on 40-128-128-3, 15 epochs,
    lr 0.05, seed 0 (densities of the 3 layers at the end): ``l2`` 0.64/0.51/0.53, ``l2``
    without decaying biases and thresholds 0.64/0.50/0.47, ``decoupled`` 0.63/0.51/0.67.
    For a comparison with the reference, use ``l2`` with ``decay_biases=True``.

    **Saving.** A checkpoint holds each layer's effective weights :math:`W \odot M` (as
    ``weights``) plus :math:`W` and :math:`t`. :meth:`make_layer` builds every layer as a
    :class:`DSTLayer`, the classifier included, so a loaded model resumes training with every
    layer's thresholds.

    Parameters
    ----------
    alpha : float >= 0
        Penalty strength (reference: 5e-4 for the MNIST MLPs).
    reset_ratio : float in [0, 1)
        Keep ratio at or below which a layer's thresholds are reset (reference: 0.01).

    References
    ----------
    Code: github.com/junjieliu2910/DynamicSparseTraining (commit 595c91e): ``MaskedMLP``
    (``mnist/model/binarization.py:26-66``), the estimator (``binarization.py:8-23``).
    J. Liu, Z. Xu, R. Shi, R. C. C. Cheung and H. K. H. So, "Dynamic sparse training: find
    efficient sparse network from scratch with trainable masked layers", ICLR 2020.
    """

    name = "dst"
    RULES = {"alpha": Interval(0, None), "reset_ratio": Interval(0, 1, high_open=True)}

    def __init__(self, alpha=5e-4, reset_ratio=0.01):
        self.alpha = alpha
        self.reset_ratio = reset_ratio

    def make_layer(self, n_in, n_out, density, rng, init):
        """A :class:`DSTLayer` for every layer; ``density`` is ignored (DST starts dense)."""
        return DSTLayer(n_in, n_out, rng, init, self.alpha, self.reset_ratio)

    def setup(self, model, steps_per_epoch, epochs):
        super().setup(model, steps_per_epoch, epochs)
        for index, layer in enumerate(model.layers_):
            if not isinstance(layer, DSTLayer):
                raise TypeError(f"DST trains the DSTLayers its make_layer builds; layer {index} "
                                f"is a {type(layer).__name__}: build the model with topology=DST")
