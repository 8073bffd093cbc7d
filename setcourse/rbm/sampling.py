r"""Block Gibbs sampling and the contrastive-divergence statistics of a Bernoulli RBM.

With energy :math:`E(v, h) = -b^\top v - c^\top h - v^\top W h` the two conditionals factorise:

.. math::
    p(h_j = 1 \mid v) = \sigma(c_j + W_{:j}^\top v), \qquad
    p(v_i = 1 \mid h) = \sigma(b_i + W_{i:} h)

CD-k (Hinton 2002) estimates the log-likelihood gradient
:math:`\langle v_i h_j\rangle_{data} - \langle v_i h_j\rangle_{model}` with a chain of ``k``
Gibbs steps started at the data; persistent CD (Tieleman 2008) continues the chains of the
previous update instead. All arrays are feature-major: ``(n_units, batch)`` float32.
"""
from dataclasses import dataclass

import numpy as np
from scipy.special import expit


def sigmoid(x):
    """Logistic function, in place on float32 ``x`` (returns it)."""
    return expit(x, out=x)


def bernoulli(p, rng):
    """Binary float32 sample of independent Bernoulli(``p``) units (``u < p``, u ~ U[0, 1))."""
    return (rng.random(p.shape, dtype=np.float32) < p).astype(np.float32)


def hidden_probabilities(weights, hidden_bias, v):
    """:math:`p(h = 1 \\mid v)`, ``(n_hidden, batch)``."""
    return sigmoid(weights.hidden_input(v, hidden_bias))


def visible_probabilities(weights, visible_bias, h):
    """:math:`p(v = 1 \\mid h)`, ``(n_visible, batch)``."""
    return sigmoid(weights.visible_input(h, visible_bias))


@dataclass
class Chain:
    """The end of a Gibbs chain and what CD needs from it.

    Attributes
    ----------
    v : (n_visible, batch)
        Last visible state (binary, or probabilities when the visible units are mean-field).
    h_probabilities : (n_hidden, batch)
        :math:`p(h \\mid v)` at that state: the negative statistics use it.
    h : (n_hidden, batch)
        A binary sample of it (where a persistent chain continues).
    first_reconstruction : (n_visible, batch)
        :math:`p(v \\mid h_0)` of the first step: the reconstruction of the chain's start.
    """

    v: np.ndarray
    h_probabilities: np.ndarray
    h: np.ndarray
    first_reconstruction: np.ndarray


def gibbs_chain(weights, visible_bias, hidden_bias, h, k, rng, sample_visible=True):
    """Run ``k`` steps :math:`h \\to v \\to h` from the binary hidden state ``h``.

    Each step draws :math:`v \\sim p(v \\mid h)` (or keeps the probabilities when
    ``sample_visible`` is False, the original SET-RBM's mean-field reconstruction), then
    :math:`h \\sim p(h \\mid v)`. Uniforms are drawn from ``rng`` in a fixed order: all of
    ``v`` (if sampled), then all of ``h``, step after step.

    Returns
    -------
    Chain
    """
    first = None
    for _ in range(k):
        pv = visible_probabilities(weights, visible_bias, h)
        if first is None:
            first = pv
        v = bernoulli(pv, rng) if sample_visible else pv
        ph = hidden_probabilities(weights, hidden_bias, v)
        h = bernoulli(ph, rng)
    return Chain(v=v, h_probabilities=ph, h=h, first_reconstruction=first)


@dataclass
class Statistics:
    r"""Sums over a batch of one phase: :math:`\sum_b h_{jb} v_{ib}` per connection, and of v, h.

    ``weights`` is aligned with the weight values (flat for sparse weights, ``(n_hidden,
    n_visible)`` for dense); ``count`` is the number of samples summed.
    """

    weights: np.ndarray
    visible: np.ndarray
    hidden: np.ndarray
    count: int


def phase_statistics(weights, h_probabilities, v):
    """:class:`Statistics` of visible states ``v`` with hidden probabilities (Hinton's guide)."""
    s, s_h = weights.statistics(h_probabilities, v)
    return Statistics(s, v.sum(axis=1, dtype=np.float32), s_h, v.shape[1])


def cd_gradient(positive, negative):
    r"""The CD estimate of the mean log-likelihood gradient (an ascent direction).

    .. math::
        \hat\nabla_{W} = \frac{\sum h^+ v^+}{n^+} - \frac{\sum h^- v^-}{n^-}, \quad
        \hat\nabla_b = \bar v^+ - \bar v^-, \quad \hat\nabla_c = \bar h^+ - \bar h^-

    Returns ``(dW, db, dc)`` float32, ``dW`` aligned with the weight values.
    """
    inv_p, inv_n = np.float32(1.0 / positive.count), np.float32(1.0 / negative.count)
    return (positive.weights * inv_p - negative.weights * inv_n,
            positive.visible * inv_p - negative.visible * inv_n,
            positive.hidden * inv_p - negative.hidden * inv_n)
