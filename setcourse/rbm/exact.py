r"""Exact partition function, log-likelihood and its gradient of tiny RBMs, by enumeration.

The oracles of the tests (and of small classroom demos). One layer is enumerated, the other
summed out analytically: with :math:`n_v \le n_h`

.. math::
    \log Z = \log \sum_{v \in \{0,1\}^{n_v}} e^{-F(v)}, \qquad
    F(v) = -b^\top v - \sum_j \operatorname{softplus}(c_j + W_{:j}^\top v)

and symmetrically over :math:`h` otherwise, so the cost is :math:`2^{\min(n_v, n_h)}`. All in
float64 on dense ``W`` of shape ``(n_visible, n_hidden)``.
"""
import numpy as np
from scipy.special import expit, logsumexp

from .energy import softplus

#: Largest layer enumerated: 2^20 states, about 10^6 rows.
MAX_ENUMERATED = 20


def all_states(n):
    """Every binary vector of length ``n``, ``(2**n, n)`` float64, in counting order."""
    if not 0 <= n <= MAX_ENUMERATED:
        raise ValueError(f"n must be in [0, {MAX_ENUMERATED}] to enumerate 2**n states; got {n}")
    codes = np.arange(2 ** n, dtype=np.int64)[:, None]
    return ((codes >> np.arange(n)) & 1).astype(np.float64)


def dense_parameters(model):
    """``(W, b, c)`` of a fitted :class:`~setcourse.rbm.model.RBM` as float64, ``W`` ``(n_v, n_h)``."""
    W = np.asarray(model.weights_.to_dense(), dtype=np.float64)
    return (W, model.intercept_visible_.astype(np.float64),
            model.intercept_hidden_.astype(np.float64))


def _check(W, b, c):
    W, b, c = (np.asarray(a, dtype=np.float64) for a in (W, b, c))
    if W.ndim != 2 or b.shape != (W.shape[0],) or c.shape != (W.shape[1],):
        raise ValueError(f"W must be (n_visible, n_hidden) with b (n_visible,) and c (n_hidden,); "
                         f"got W {W.shape}, b {b.shape}, c {c.shape}")
    if min(W.shape) > MAX_ENUMERATED:
        raise ValueError(f"exact enumeration needs min(n_visible, n_hidden) <= {MAX_ENUMERATED}; "
                         f"got {W.shape}")
    return W, b, c


def free_energy(W, b, c, V):
    """:math:`F(v)` of each row of ``V`` ``(n, n_visible)``, float64."""
    V = np.asarray(V, dtype=np.float64)
    return -(V @ b) - softplus(V @ W + c).sum(axis=1)


def log_partition(W, b, c):
    """Exact :math:`\\log Z`, enumerating the smaller layer."""
    W, b, c = _check(W, b, c)
    if W.shape[0] <= W.shape[1]:
        return float(logsumexp(-free_energy(W, b, c, all_states(W.shape[0]))))
    # Over h: -F(h) = c^T h + sum_i softplus(b_i + W_i: h).
    H = all_states(W.shape[1])
    return float(logsumexp(H @ c + softplus(H @ W.T + b).sum(axis=1)))


def log_likelihood(W, b, c, X):
    """Exact :math:`\\log p(v) = -F(v) - \\log Z` of each row of ``X``."""
    return -free_energy(W, b, c, X) - log_partition(W, b, c)


def visible_distribution(W, b, c):
    """``(states, p)``: every visible state and its probability (needs ``n_visible`` small)."""
    W, b, c = _check(W, b, c)
    states = all_states(W.shape[0])
    log_p = -free_energy(W, b, c, states)
    return states, np.exp(log_p - logsumexp(log_p))


def expected_statistics(W, b, c, V, weights=None):
    r"""``(E[v h^T], E[v], E[h])`` under the empirical (or weighted) distribution of ``V``,
    with :math:`h` averaged analytically: :math:`E[v_i h_j] = E[v_i\, \sigma(c_j + W_{:j}^\top v)]`."""
    V = np.asarray(V, dtype=np.float64)
    weights = np.full(V.shape[0], 1.0 / V.shape[0]) if weights is None else weights
    ph = expit(V @ W + c)
    return (V * weights[:, None]).T @ ph, weights @ V, weights @ ph


def log_likelihood_gradient(W, b, c, X):
    r"""Exact gradient of the mean log-likelihood of ``X``: data term minus model term.

    .. math::
        \frac{\partial \overline{\log p}}{\partial W_{ij}}
          = \langle v_i\, p(h_j{=}1 \mid v)\rangle_{X} - \langle v_i\, p(h_j{=}1 \mid v)\rangle_{p},
        \quad \text{and likewise } \partial b_i = \langle v_i\rangle_X - \langle v_i\rangle_p,\
        \partial c_j = \langle p(h_j{=}1 \mid v)\rangle_X - \langle p(h_j{=}1 \mid v)\rangle_p

    Returns ``(dW (n_v, n_h), db (n_v,), dc (n_h,))``; needs ``n_visible`` small.
    """
    W, b, c = _check(W, b, c)
    data = expected_statistics(W, b, c, X)
    states, p = visible_distribution(W, b, c)
    model = expected_statistics(W, b, c, states, p)
    return tuple(d - m for d, m in zip(data, model))
