r"""Free energy and pseudo-likelihood of a Bernoulli RBM, batch-major in, float64 out.

Summing the hidden units out of :math:`p(v, h) \propto e^{-E(v, h)}` gives
:math:`p(v) = e^{-F(v)} / Z` with the free energy

.. math:: F(v) = -b^\top v - \sum_j \log\left(1 + e^{c_j + W_{:j}^\top v}\right)

so free energies are log-probabilities up to the one constant :math:`\log Z`.
"""
import numpy as np

_CHUNK = 4096


def softplus(x):
    """:math:`\\log(1 + e^x)` in float64, without overflow."""
    return np.logaddexp(0.0, np.asarray(x, dtype=np.float64))


def feature_major_chunks(X, chunk=_CHUNK):
    """``(start, x)`` for consecutive row chunks of ``X``, each ``x`` float32 ``(n_features, rows)``."""
    for start in range(0, X.shape[0], chunk):
        yield start, np.ascontiguousarray(X[start:start + chunk].T, dtype=np.float32)


def free_energy(weights, visible_bias, hidden_bias, X):
    """:math:`F(v)` of each row of ``X`` ``(n_samples, n_visible)``; returns float64 ``(n_samples,)``."""
    out = np.empty(X.shape[0], dtype=np.float64)
    b = visible_bias.astype(np.float64)
    for start, x in feature_major_chunks(X):
        z = weights.hidden_input(x, hidden_bias)
        out[start:start + x.shape[1]] = -(b @ x) - softplus(z).sum(axis=0)
    return out


def pseudo_log_likelihood(weights, visible_bias, hidden_bias, X, rng):
    r"""Stochastic pseudo-log-likelihood, as :meth:`sklearn.neural_network.BernoulliRBM.score_samples`.

    For each sample one visible unit :math:`i` is drawn uniformly and flipped
    (:math:`\tilde v_i = 1 - v_i`); then

    .. math:: \mathrm{PL}(v) = n_{visible} \cdot \log \sigma\big(F(\tilde v) - F(v)\big)

    an unbiased estimate (over :math:`i`) of :math:`\sum_i \log p(v_i \mid v_{-i})`.
    """
    n, n_visible = X.shape
    flipped = np.array(X, dtype=np.float32, copy=True)
    unit = rng.integers(0, n_visible, size=n)
    rows = np.arange(n)
    flipped[rows, unit] = 1 - flipped[rows, unit]
    gap = (free_energy(weights, visible_bias, hidden_bias, flipped)
           - free_energy(weights, visible_bias, hidden_bias, X))
    return n_visible * -softplus(-gap)
