r"""Annealed importance sampling (AIS) of an RBM's partition function (Salakhutdinov & Murray 2008).

The target is :math:`p_B(v) = p^*_B(v) / Z_B` with :math:`p^*_B(v) = e^{-F(v)}`. AIS walks
from a tractable base model :math:`A` (no weights, visible biases :math:`b_A`: the base-rate
model of the training data's marginals) to :math:`B` through

.. math::
    p^*_\beta(v) = e^{(1-\beta)\, b_A^\top v + \beta\, b^\top v}
                   \prod_j \left(1 + e^{\beta (c_j + W_{:j}^\top v)}\right),
    \qquad 0 = \beta_0 < \beta_1 < \dots < \beta_K = 1

(an RBM with weights :math:`\beta W`, so each :math:`T_\beta` is one block Gibbs sweep). Each of
:math:`M` independent runs draws :math:`v_1 \sim p_A`, then :math:`v_{k+1} \sim T_{\beta_k}(v_k)`,
and carries the importance weight

.. math:: w = \prod_{k=1}^{K} \frac{p^*_{\beta_k}(v_k)}{p^*_{\beta_{k-1}}(v_k)}, \qquad
          \hat Z_B = Z_A \cdot \frac{1}{M}\sum_m w^{(m)},\quad
          Z_A = 2^{n_h} \prod_i (1 + e^{b_{A,i}})

:math:`\hat Z_B` is unbiased, so :math:`\log \hat Z_B` tends to *under*-estimate
:math:`\log Z_B` (Jensen) and the log-likelihoods computed with it to over-estimate. The
reported interval is Salakhutdinov & Murray's :math:`\log(\hat r \pm 3\hat\sigma)` with
:math:`\hat r` the mean weight and :math:`\hat\sigma` its standard error.
"""
from dataclasses import dataclass, field

import numpy as np
from scipy.special import expit, logsumexp

from . import kernels
from .energy import softplus
from .sampling import bernoulli

#: Salakhutdinov & Murray's schedule: 500 betas in [0, 0.5), 4,000 in [0.5, 0.9), 10,000 in [0.9, 1].
SCHEDULE = ((0.0, 500), (0.5, 4000), (0.9, 10000))


def default_betas(n_betas=14500):
    """``n_betas + 1`` inverse temperatures from 0 to 1, shaped like Salakhutdinov & Murray's."""
    n_betas = int(n_betas)
    if n_betas < 3:
        raise ValueError(f"n_betas must be an integer >= 3; got {n_betas!r}")
    total = sum(n for _, n in SCHEDULE)
    counts = [max(1, round(n_betas * n / total)) for _, n in SCHEDULE[:-1]]
    counts.append(n_betas - sum(counts))
    edges = [start for start, _ in SCHEDULE] + [1.0]
    parts = [np.linspace(edges[i], edges[i + 1], counts[i], endpoint=False)
             for i in range(len(counts))]
    return np.concatenate(parts + [np.array([1.0])])


def base_rate_biases(X, smoothing=1.0):
    r"""Visible biases of the base-rate model: :math:`b_{A,i} = \operatorname{logit} \hat p_i`,
    :math:`\hat p_i = (\sum_n x_{ni} + \alpha) / (N + 2\alpha)` (``α = smoothing``), float64."""
    X = np.asarray(X, dtype=np.float64)
    p = (X.sum(axis=0) + smoothing) / (X.shape[0] + 2 * smoothing)
    return np.log(p) - np.log1p(-p)


@dataclass(frozen=True)
class AISResult:
    """An AIS estimate of :math:`\\log Z` and its uncertainty.

    Attributes
    ----------
    log_z : float
        :math:`\\log \\hat Z = \\log Z_A + \\log \\frac1M \\sum_m w^{(m)}`.
    log_z_low, log_z_high : float
        :math:`\\log Z_A + \\log(\\hat r \\mp 3\\hat\\sigma)` (``low`` is ``-inf`` when
        :math:`\\hat r \\le 3\\hat\\sigma`).
    log_z_sd : float
        Bootstrap standard deviation of :math:`\\log \\hat Z` over the runs.
    effective_sample_size : float
        :math:`(\\sum w)^2 / \\sum w^2`, between 1 and ``n_chains``.
    log_z_base : float
        :math:`\\log Z_A`.
    n_chains, n_betas : int
    log_weights : (n_chains,) float64
    """

    log_z: float
    log_z_low: float
    log_z_high: float
    log_z_sd: float
    effective_sample_size: float
    log_z_base: float
    n_chains: int
    n_betas: int
    log_weights: np.ndarray = field(repr=False)

    def __str__(self):
        return (f"log Z = {self.log_z:.3f} (+/- 3 sd: [{self.log_z_low:.3f}, "
                f"{self.log_z_high:.3f}]; bootstrap sd {self.log_z_sd:.3f}; "
                f"{self.n_chains} runs, {self.n_betas} betas, ESS {self.effective_sample_size:.0f})")


def summarise(log_weights, log_z_base, n_betas, rng, n_bootstrap=1000):
    """:class:`AISResult` of the runs' log importance weights."""
    log_w = np.asarray(log_weights, dtype=np.float64)
    m = log_w.size
    top = log_w.max()
    w = np.exp(log_w - top)  # scaled so the largest weight is 1: no overflow
    mean = w.mean()
    se = w.std(ddof=1) / np.sqrt(m) if m > 1 else np.inf
    log_mean = np.log(mean) + top
    low = np.log(mean - 3 * se) + top if mean > 3 * se else -np.inf
    high = np.log(mean + 3 * se) + top
    resampled = log_w[rng.integers(0, m, size=(n_bootstrap, m))]
    sd = float(np.std(logsumexp(resampled, axis=1) - np.log(m)))
    return AISResult(log_z=float(log_z_base + log_mean), log_z_low=float(log_z_base + low),
                     log_z_high=float(log_z_base + high), log_z_sd=sd,
                     effective_sample_size=float(w.sum() ** 2 / (w ** 2).sum()),
                     log_z_base=float(log_z_base), n_chains=int(m), n_betas=int(n_betas),
                     log_weights=log_w)


def ais_log_partition(weights, visible_bias, hidden_bias, base_biases=None, n_chains=100,
                      betas=14500, rng=None):
    """Estimate :math:`\\log Z` of an RBM by AIS from the base-rate model.

    Parameters
    ----------
    weights : SparseWeights or DenseWeights
        Anything with ``hidden_input(v, c)`` and ``visible_input(h, b)`` on feature-major
        float32 arrays, ``n_in`` = visible and ``n_out`` = hidden.
    visible_bias, hidden_bias : (n_visible,), (n_hidden,) arrays
    base_biases : (n_visible,) array, optional
        Visible biases :math:`b_A` of the base model (see :func:`base_rate_biases`); zeros
        (the uniform distribution) when not given.
    n_chains : int
        Independent AIS runs :math:`M`.
    betas : int or increasing array from 0 to 1
        The number of intermediate distributions for :func:`default_betas`, or the schedule.
    rng : numpy.random.Generator, optional

    Returns
    -------
    AISResult
    """
    rng = np.random.default_rng() if rng is None else rng
    betas = default_betas(betas) if np.ndim(betas) == 0 else np.asarray(betas, dtype=np.float64)
    if betas.ndim != 1 or betas.size < 2 or betas[0] != 0 or betas[-1] != 1 or np.any(
            np.diff(betas) <= 0):
        raise ValueError("betas must increase strictly from 0 to 1")
    n_visible, n_hidden = weights.n_in, weights.n_out
    b = np.asarray(visible_bias, dtype=np.float64)
    c = np.asarray(hidden_bias, dtype=np.float32)
    b_a = np.zeros(n_visible) if base_biases is None else np.asarray(base_biases, np.float64)
    if b_a.shape != (n_visible,):
        raise ValueError(f"base_biases must have shape ({n_visible},); got {b_a.shape}")
    b32, zero = b.astype(np.float32), np.zeros(n_visible, dtype=np.float32)
    log_z_base = softplus(b_a).sum() + n_hidden * np.log(2.0)
    v = bernoulli(np.broadcast_to(expit(b_a).astype(np.float32)[:, None], (n_visible, n_chains)),
                  rng)
    linear = (b - b_a) @ v  # (b - b_A)^T v per run: log p*_beta's linear part changes by it
    log_w = np.zeros(n_chains)
    h = np.empty((n_hidden, n_chains), dtype=np.float32)
    x = weights.hidden_input(v, c)
    for k in range(1, betas.size):
        lo, hi = betas[k - 1], betas[k]
        log_w += (hi - lo) * linear
        # log p*_hi(v_k) - log p*_lo(v_k), and the hidden half of T_hi, in one pass.
        kernels.ais_hidden_step(x, hi, hi - lo, rng.random(h.shape, dtype=np.float32), h, log_w)
        if k == betas.size - 1:
            break
        kernels.ais_visible_step(weights.visible_input(h, zero), b32, b_a, hi,
                                 rng.random(v.shape, dtype=np.float32), v, linear)
        x = weights.hidden_input(v, c)
    return summarise(log_w, log_z_base, betas.size - 1, rng)
