r"""Is a degree distribution heavy-tailed? A discrete power-law fit and a likelihood-ratio test.

The method of Clauset, Shalizi and Newman (SIAM Review 51, 2009), for integer data:

1. For a lower bound :math:`x_{min}`, the discrete power law
   :math:`p(x) = x^{-\alpha} / \zeta(\alpha, x_{min})` (:math:`x \ge x_{min}`, Hurwitz zeta) is
   fitted by maximum likelihood; :math:`x_{min}` is the value whose fit has the smallest
   Kolmogorov–Smirnov distance to the data in the tail :math:`x \ge x_{min}`.
2. On the same tail a light-tailed alternative is fitted by maximum likelihood: a Poisson, or a
   binomial with a known number of trials (the Erdős–Rényi degree law), both truncated to
   :math:`x \ge x_{min}`.
3. Vuong's test compares them: :math:`R = \sum_i \ln p_{pl}(x_i) - \ln p_{alt}(x_i)`, normalised by
   :math:`\sigma\sqrt{n}`; :math:`R > 0` favours the power law, and the two-sided p-value
   :math:`\mathrm{erfc}(|R| / (\sigma\sqrt{2n}))` says whether the sign can be trusted.
4. A power law is only a meaningful description over a wide range of values (Stumpf & Porter,
   Science 2012): when the test cannot decide and the tail spans less than ``min_decades``
   decades (:math:`x_{max} < 10\,x_{min}`), there is no evidence of a heavy tail. This is what
   rejects light-tailed data: for binomial samples the KS search settles on a short stretch of
   the far tail where a steep power law (:math:`\alpha \approx 20`) and the binomial look alike.

What it can and cannot conclude is spelled out by :meth:`HeavyTailResult.summary`.

One concept in one file (over 350 lines): the fit, the alternatives and the test are read
together, step by step as above.
"""
from dataclasses import dataclass, field

import numpy as np
from scipy import optimize, special, stats

from .._validation import check_positive_int

#: The power-law exponent is searched in (1, ALPHA_MAX]; steeper tails are not heavy anyway.
ALPHA_MAX = 200.0
_ALPHA_MIN = 1.0 + 1e-6


def log_hurwitz_zeta(alpha, q):
    r"""Natural log of the Hurwitz zeta function :math:`\zeta(\alpha, q) = \sum_{k\ge0} (k + q)^{-\alpha}`.

    Stays finite where ``scipy.special.zeta`` underflows (steep exponents, large ``q``) by
    factoring out :math:`q^{-\alpha}` and summing the series directly.
    """
    value = special.zeta(alpha, q)
    if 1e-280 < value < np.inf:
        return float(np.log(value))
    return log_zeta_series(alpha, q)


def log_zeta_series(alpha, q):
    r""":math:`\ln\zeta(\alpha, q)` summed directly in log space, for steep tails.

    :math:`\zeta(\alpha, q) = q^{-\alpha} \sum_k (1 + k/q)^{-\alpha}`; terms below
    :math:`e^{-40}` times the first are left out. Used only where ``scipy.special.zeta``
    underflows, i.e. :math:`\alpha \ln q > 645`, where that takes at most
    :math:`q^{1.062}` terms; the count is capped at two million for safety.
    """
    count = min(int(q * np.expm1(40.0 / alpha)) + 2, 2_000_000)
    terms = -alpha * np.log1p(np.arange(count) / q)
    return float(-alpha * np.log(q) + special.logsumexp(terms))


@dataclass
class PowerLawFit:
    r"""A discrete power law :math:`p(x) = x^{-\alpha}/\zeta(\alpha, x_{min})` fitted to a tail.

    Attributes
    ----------
    alpha : float
        Maximum-likelihood exponent.
    alpha_se : float
        Its asymptotic standard error, :math:`1/\sqrt{n_{tail}\,\partial^2_\alpha \ln\zeta(\alpha, x_{min})}`.
    xmin : int
        Lower bound of the tail (chosen by the KS distance unless given).
    xmax : int
        Largest sample.
    n_tail : int
        Number of samples :math:`\ge x_{min}`.
    n : int
        Number of positive samples the fit was chosen from.
    ks_distance : float
        Largest gap between the empirical and the fitted CDF on the tail.
    """

    alpha: float
    alpha_se: float
    xmin: int
    xmax: int
    n_tail: int
    n: int
    ks_distance: float

    @property
    def decades(self):
        r"""Width of the tail in decades, :math:`\log_{10}(x_{max} / x_{min})`."""
        return float(np.log10(self.xmax / self.xmin))

    def log_pmf(self, x):
        """Log-probability of each ``x >= xmin`` under the fitted law."""
        x = np.asarray(x, dtype=np.float64)
        return -self.alpha * np.log(x) - log_hurwitz_zeta(self.alpha, self.xmin)

    def pmf(self, x):
        return np.exp(self.log_pmf(x))


def _fit_alpha(n, sum_log, xmin):
    """Maximum-likelihood exponent for ``n`` tail samples with ``sum(log x) = sum_log``."""
    def negative_loglik(alpha):
        return alpha * sum_log + n * log_hurwitz_zeta(alpha, xmin)

    result = optimize.minimize_scalar(negative_loglik, bounds=(_ALPHA_MIN, ALPHA_MAX),
                                      method="bounded", options={"xatol": 1e-7})
    return float(result.x)


def _alpha_standard_error(alpha, xmin, n):
    """Asymptotic standard error from the curvature of the log-likelihood (Clauset et al. eq. 3.6)."""
    h = 1e-4 * max(1.0, alpha)
    low = alpha - h if alpha - h > 1 else alpha  # zeta(alpha, q) diverges at alpha <= 1
    values = [log_hurwitz_zeta(low + i * h, xmin) for i in range(3)]
    curvature = (values[0] - 2 * values[1] + values[2]) / h**2
    return float(1 / np.sqrt(n * curvature)) if curvature > 0 and n > 0 else float("nan")


def fit_discrete_power_law(samples, xmin=None, min_tail=50):
    """Fit a discrete power law to the tail of positive integer ``samples``.

    Parameters
    ----------
    samples : (n,) int array
        Values < 1 (e.g. neurons without connections) are ignored.
    xmin : int, optional
        Lower bound of the tail; by default the candidate with the smallest KS distance among
        the distinct values that leave at least ``min_tail`` samples in the tail.
    min_tail : int
        Smallest tail considered when choosing ``xmin`` (estimates from fewer points are
        unreliable; Clauset et al. suggest about 50).

    Returns
    -------
    PowerLawFit
    """
    check_positive_int("min_tail", min_tail)
    samples = np.asarray(samples)
    if samples.ndim != 1 or (samples.size and not np.all(np.mod(samples, 1) == 0)):
        raise ValueError("samples must be a 1-D array of integers (e.g. degrees)")
    positive = samples[samples >= 1].astype(np.int64)
    if positive.size < 2:
        raise ValueError(f"need at least 2 samples >= 1 to fit a power law; got {positive.size}")
    top = int(positive.max())
    counts = np.bincount(positive, minlength=top + 1).astype(np.float64)
    values = np.arange(top + 1, dtype=np.float64)
    # Suffix sums give every candidate's tail size and sum of logs in one pass.
    tail_count = np.cumsum(counts[::-1])[::-1]
    tail_log = np.cumsum((counts * np.log(np.maximum(values, 1)))[::-1])[::-1]
    if xmin is not None:
        if not 1 <= int(xmin) <= top:
            raise ValueError(f"xmin must be in [1, {top}] (the largest sample); got {xmin!r}")
        candidates = [int(xmin)]
    else:
        distinct = np.flatnonzero(counts)
        candidates = [int(x) for x in distinct if tail_count[x] >= min(min_tail, positive.size)]
        if len(candidates) > 1:
            candidates = candidates[:-1]  # a one-value tail fits any exponent perfectly
    best = None
    for x0 in candidates:
        n_tail = int(tail_count[x0])
        alpha = _fit_alpha(n_tail, tail_log[x0], x0)
        log_pmf = -alpha * np.log(values[x0:]) - log_hurwitz_zeta(alpha, x0)
        model_cdf = np.cumsum(np.exp(log_pmf))
        data_cdf = np.cumsum(counts[x0:]) / n_tail
        distance = float(np.max(np.abs(data_cdf - model_cdf)))
        if best is None or distance < best[0]:
            best = (distance, x0, alpha, n_tail)
    distance, x0, alpha, n_tail = best
    return PowerLawFit(alpha, _alpha_standard_error(alpha, x0, n_tail), x0, top, n_tail,
                       int(positive.size), distance)


def _fit_truncated(log_pmf, bounds):
    """Maximise ``sum(log_pmf(theta))`` over a scalar ``theta`` in ``bounds`` (a concave family)."""
    result = optimize.minimize_scalar(lambda theta: -np.sum(log_pmf(theta)), bounds=bounds,
                                      method="bounded", options={"xatol": 1e-9})
    return float(result.x)


def _log_mass_from(log_pmf_of, xmin, upper):
    """Log of the probability of ``x >= xmin``, summed in log space (``logsf`` underflows to -inf)."""
    return special.logsumexp(log_pmf_of(np.arange(xmin, upper + 1, dtype=np.float64)))


def fit_truncated_poisson(tail, xmin):
    r"""Poisson :math:`\lambda` fitted by maximum likelihood to ``tail`` (all :math:`\ge x_{min}`).

    Returns ``(lambda, per-sample log-likelihoods)``.
    """
    tail = np.asarray(tail, dtype=np.float64)

    def log_pmf(log_lam):
        lam = np.exp(log_lam)
        # Beyond max(xmin, lambda) + 40 sqrt(lambda) + 50 the Poisson terms are negligible.
        upper = int(max(xmin, lam) + 40 * np.sqrt(lam) + 50)
        norm = _log_mass_from(lambda k: stats.poisson.logpmf(k, lam), xmin, upper)
        return stats.poisson.logpmf(tail, lam) - norm

    # The truncated Poisson is an exponential family in log(lambda): a single maximum.
    log_lam = _fit_truncated(log_pmf, (np.log(1e-3), np.log(2 * tail.max() + 10)))
    return float(np.exp(log_lam)), log_pmf(log_lam)


def fit_truncated_binomial(tail, xmin, n_trials):
    r"""Binomial :math:`p` (``n_trials`` known) fitted by maximum likelihood to ``tail`` (:math:`\ge x_{min}`).

    Returns ``(p, per-sample log-likelihoods)``.
    """
    tail = np.asarray(tail, dtype=np.float64)
    if tail.size and tail.max() > n_trials:
        raise ValueError(f"n_trials must be >= the largest sample ({int(tail.max())}); got {n_trials}")

    def log_pmf(logit):
        p = special.expit(logit)
        norm = _log_mass_from(lambda k: stats.binom.logpmf(k, n_trials, p), xmin, n_trials)
        return stats.binom.logpmf(tail, n_trials, p) - norm

    # An exponential family in logit(p): a single maximum.
    logit = _fit_truncated(log_pmf, (-30.0, 30.0))
    return float(special.expit(logit)), log_pmf(logit)


def vuong_test(loglik_a, loglik_b):
    r"""Vuong's likelihood-ratio test between two non-nested models fitted to the same samples.

    Parameters
    ----------
    loglik_a, loglik_b : (n,) arrays
        Per-sample log-likelihoods under each model.

    Returns
    -------
    ratio : float
        :math:`R = \sum_i (\ell_{a,i} - \ell_{b,i})`; positive favours model ``a``.
    normalised : float
        :math:`R / (\sigma \sqrt{n})`, asymptotically standard normal when both models are
        equally close to the truth (:math:`\sigma` is the standard deviation of the differences).
    p_value : float
        Two-sided, :math:`\mathrm{erfc}(|R| / (\sigma\sqrt{2n}))`: small values mean the sign of
        ``R`` is not a fluctuation.
    """
    difference = np.asarray(loglik_a, dtype=np.float64) - np.asarray(loglik_b, dtype=np.float64)
    n = difference.size
    ratio = float(difference.sum())
    sigma = float(difference.std())
    if n == 0 or sigma == 0:
        return ratio, 0.0, 1.0
    normalised = ratio / (sigma * np.sqrt(n))
    return ratio, float(normalised), float(special.erfc(abs(normalised) / np.sqrt(2)))


@dataclass
class LikelihoodRatio:
    """Power law against one light-tailed alternative on the same tail (see :func:`vuong_test`)."""

    alternative: str
    parameters: dict
    ratio: float
    normalised_ratio: float
    p_value: float

    def favours(self, significance=0.1):
        """``"power law"``, the alternative's name, or ``None`` when the test cannot tell."""
        if self.p_value >= significance:
            return None
        return "power law" if self.ratio > 0 else self.alternative


@dataclass
class HeavyTailResult:
    """The power-law fit and its likelihood-ratio comparisons; read :meth:`summary`."""

    fit: PowerLawFit
    comparisons: list
    n_samples: int
    n_below_one: int
    min_tail: int = 50
    significance: float = 0.1
    min_decades: float = 1.0
    notes: list = field(default_factory=list)

    @property
    def primary(self):
        """The comparison the verdict rests on: the binomial if fitted, else the Poisson."""
        return self.comparisons[-1]

    @property
    def verdict(self):
        """``"heavy-tailed"``, ``"not heavy-tailed"`` or ``"inconclusive"``."""
        if self.fit.n_tail < self.min_tail:
            return "inconclusive"
        winner = self.primary.favours(self.significance)
        if winner is None:
            return "not heavy-tailed" if self.fit.decades < self.min_decades else "inconclusive"
        return "heavy-tailed" if winner == "power law" else "not heavy-tailed"

    def summary(self):
        """A plain-language report: the fit, the test, the verdict and its limits."""
        fit = self.fit
        share = fit.n_tail / max(fit.n, 1)
        lines = [f"Heavy-tail check on {self.n_samples} values "
                 f"({self.n_below_one} below 1 left out: a power law needs x >= 1).",
                 f"Power law fitted to the tail x >= xmin = {fit.xmin}: {fit.n_tail} values "
                 f"({share:.0%} of those >= 1), up to xmax = {fit.xmax} "
                 f"({fit.decades:.2g} decades).",
                 f"  exponent alpha = {fit.alpha:.3g} ± {fit.alpha_se:.2g} (maximum likelihood); "
                 f"KS distance D = {fit.ks_distance:.3f}"]
        for test in self.comparisons:
            params = ", ".join(f"{k} = {v:.4g}" for k, v in test.parameters.items())
            winner = test.favours(self.significance)
            reading = ("the difference could be chance" if winner is None
                       else f"the {winner} fits the tail better")
            lines.append(f"Power law vs {test.alternative} ({params}) on the same tail: "
                         f"R = {test.ratio:.3g}, normalised R = {test.normalised_ratio:.3g}, "
                         f"p = {test.p_value:.3g} -> {reading}.")
        verdict = self.verdict
        short = fit.decades < self.min_decades
        if verdict == "heavy-tailed":
            text = (f"heavy-tailed: above {fit.xmin} a power law describes the data better than "
                    f"the {self.primary.alternative}.")
            if short or not 2 < fit.alpha < 3:
                text += (" The tail is heavier than the light-tailed law, but "
                         + (f"it spans only {fit.decades:.2g} decades" if short
                            else f"alpha = {fit.alpha:.3g} is outside 2..3")
                         + ": call it heavy-tailed, not scale-free.")
        elif verdict == "not heavy-tailed" and self.primary.favours(self.significance):
            text = (f"not heavy-tailed: above {fit.xmin} the {self.primary.alternative} describes "
                    "the data better than a power law.")
        elif verdict == "not heavy-tailed":
            text = (f"not heavy-tailed: the power law fits only the short stretch {fit.xmin}..."
                    f"{fit.xmax} (less than {self.min_decades:g} decade), where a steep power law "
                    f"(alpha = {fit.alpha:.3g}) and the {self.primary.alternative} look alike and "
                    "the likelihood ratio cannot tell them apart: no evidence of a heavy tail.")
        elif fit.n_tail < self.min_tail:
            text = (f"inconclusive: only {fit.n_tail} values in the tail (fewer than "
                    f"{self.min_tail}), too few to tell the models apart.")
        else:
            text = (f"inconclusive: p = {self.primary.p_value:.2g} >= {self.significance}, the "
                    "data cannot tell the two models apart.")
        lines.append("Verdict: " + text)
        lines.extend(self.notes)
        lines.append(
            "What this can tell you: which of the two models describes the tail better, and how "
            "steeply the tail falls (scale-free networks typically have 2 < alpha < 3; the larger "
            "alpha, the lighter the tail).")
        lines.append(
            "What it cannot: that the values ARE power-law distributed (no goodness-of-fit test "
            "was run, and other heavy-tailed laws such as the log-normal were not compared); "
            f"anything about values below xmin = {fit.xmin}; and with a small tail or "
            f"p >= {self.significance} it cannot decide at all.")
        return "\n".join(lines)

    def __str__(self):
        return self.summary()


def heavy_tail_test(samples, n_trials=None, xmin=None, min_tail=50, significance=0.1,
                    min_decades=1.0):
    """Fit a power law to the tail of ``samples`` and test it against light-tailed laws.

    Parameters
    ----------
    samples : (n,) int array
        E.g. the in-degrees of a layer's neurons.
    n_trials : int, optional
        Number of possible connections per neuron (``n_in`` for in-degrees): adds the
        truncated binomial (the Erdős–Rényi law) as the alternative the verdict rests on.
        Without it the truncated Poisson is used.
    xmin : int, optional
        Fix the tail's lower bound instead of choosing it by the KS distance.
    min_tail : int
        Fewest tail samples for choosing ``xmin`` and for a verdict.
    significance : float in (0, 1)
        p-value below which the likelihood ratio's sign is trusted (0.1 in Clauset et al.).
    min_decades : float >= 0
        When the likelihood ratio cannot decide, a tail narrower than this many decades
        counts as no evidence of a heavy tail (verdict ``"not heavy-tailed"``).

    Returns
    -------
    HeavyTailResult
    """
    if not 0 < significance < 1:
        raise ValueError(f"significance must be in (0, 1); got {significance!r}")
    if not min_decades >= 0:
        raise ValueError(f"min_decades must be >= 0; got {min_decades!r}")
    samples = np.asarray(samples)
    fit = fit_discrete_power_law(samples, xmin=xmin, min_tail=min_tail)
    tail = samples[samples >= fit.xmin].astype(np.float64)
    power_law = fit.log_pmf(tail)
    lam, poisson = fit_truncated_poisson(tail, fit.xmin)
    comparisons = [LikelihoodRatio("Poisson", {"lambda": lam}, *vuong_test(power_law, poisson))]
    if n_trials is not None:
        p, binomial = fit_truncated_binomial(tail, fit.xmin, int(n_trials))
        comparisons.append(LikelihoodRatio("binomial", {"n": int(n_trials), "p": p},
                                           *vuong_test(power_law, binomial)))
    notes = []
    if fit.alpha >= ALPHA_MAX * 0.999:
        notes.append(f"Note: alpha reached its search limit ({ALPHA_MAX:g}); the tail falls faster "
                     "than any power law.")
    return HeavyTailResult(fit, comparisons, int(samples.size), int(np.sum(samples < 1)),
                           min_tail, significance, min_decades, notes)
