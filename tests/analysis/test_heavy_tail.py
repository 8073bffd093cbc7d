import numpy as np
import pytest
from scipy import special, stats

from setcourse.analysis.heavy_tail import (fit_discrete_power_law, fit_truncated_binomial,
                                           fit_truncated_poisson, heavy_tail_test,
                                           log_hurwitz_zeta, log_zeta_series, vuong_test)


@pytest.mark.parametrize("alpha,q", [(5.0, 3.0), (20.0, 10.0), (100.0, 400.0), (60.0, 50.0)])
def test_zeta_series_matches_scipy_where_scipy_is_finite(alpha, q):
    assert log_zeta_series(alpha, q) == pytest.approx(np.log(special.zeta(alpha, q)), rel=1e-12)


def test_log_zeta_survives_underflow():
    # Recurrence zeta(a, q) = q^-a + zeta(a, q + 1), deep in the underflow regime.
    a, q = 150.0, 1000.0
    assert special.zeta(a, q) == 0.0
    left = log_hurwitz_zeta(a, q)
    right = np.logaddexp(-a * np.log(q), log_hurwitz_zeta(a, q + 1))
    assert np.isfinite(left) and left == pytest.approx(right, rel=1e-12)


@pytest.mark.parametrize("alpha", [2.2, 2.5, 3.0])
def test_power_law_fit_recovers_zipf_exponent(alpha):
    rng = np.random.default_rng(int(alpha * 10))
    samples = rng.zipf(alpha, size=4000)
    fit = fit_discrete_power_law(samples)
    assert abs(fit.alpha - alpha) < max(3 * fit.alpha_se, 0.05)
    assert fit.alpha_se == pytest.approx((fit.alpha - 1) / np.sqrt(fit.n_tail), rel=0.35)
    result = heavy_tail_test(samples)
    assert result.verdict == "heavy-tailed"
    assert result.primary.ratio > 0


def test_fitted_alpha_maximises_the_likelihood():
    samples = np.random.default_rng(5).zipf(2.7, size=1000)
    fit = fit_discrete_power_law(samples, xmin=2)
    tail = samples[samples >= 2]

    def loglik(a):
        return -a * np.log(tail).sum() - tail.size * np.log(special.zeta(a, 2))

    grid = np.linspace(fit.alpha - 0.05, fit.alpha + 0.05, 11)
    assert loglik(fit.alpha) >= max(loglik(a) for a in grid) - 1e-9


def test_xmin_found_above_a_light_bulk():
    rng = np.random.default_rng(7)
    bulk = rng.poisson(3, size=3000)
    tail = rng.zipf(2.5, size=20000)
    tail = tail[tail >= 12][:1500]
    fit = fit_discrete_power_law(np.concatenate([bulk[bulk < 12], tail]))
    assert 8 <= fit.xmin <= 16
    assert abs(fit.alpha - 2.5) < 0.25


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("n,p", [(1000, 0.02), (784, 0.05), (100, 0.3)])
def test_binomial_samples_are_rejected(seed, n, p):
    samples = np.random.default_rng(seed).binomial(n, p, size=3000)
    result = heavy_tail_test(samples, n_trials=n)
    assert result.verdict == "not heavy-tailed"
    assert "not heavy-tailed" in result.summary()


def test_vuong_hand_computed():
    a = np.array([1.0, 1.0, 1.0, -1.0])
    ratio, normalised, p = vuong_test(a, np.zeros(4))
    sigma = np.sqrt(1 - 0.25)
    assert ratio == 2.0
    assert normalised == pytest.approx(2 / (sigma * 2))
    assert p == pytest.approx(special.erfc(normalised / np.sqrt(2)))
    assert vuong_test(a, a) == (0.0, 0.0, 1.0)


def test_truncated_fits_recover_parameters():
    rng = np.random.default_rng(11)
    poisson = rng.poisson(10.0, size=40000)
    tail = poisson[poisson >= 8]
    lam, loglik = fit_truncated_poisson(tail, 8)
    assert lam == pytest.approx(10.0, rel=0.03)
    # The normalisation agrees with scipy's survival function where that is finite.
    assert np.allclose(loglik, stats.poisson.logpmf(tail, lam) - stats.poisson.logsf(7, lam))
    binomial = rng.binomial(200, 0.1, size=40000)
    tail = binomial[binomial >= 25]
    p, loglik = fit_truncated_binomial(tail, 25, 200)
    assert p == pytest.approx(0.1, rel=0.05)
    assert np.allclose(loglik, stats.binom.logpmf(tail, 200, p) - stats.binom.logsf(24, 200, p))
    with pytest.raises(ValueError, match="n_trials"):
        fit_truncated_binomial(np.array([30.0]), 25, 20)


def test_summary_states_limits_and_small_tails_are_inconclusive():
    rng = np.random.default_rng(2)
    result = heavy_tail_test(rng.zipf(2.5, size=30), min_tail=50)
    assert result.verdict == "inconclusive"
    text = result.summary()
    assert "What this can tell you" in text and "What it cannot" in text
    assert "too few" in text


def test_bad_input():
    with pytest.raises(ValueError, match="samples must be"):
        fit_discrete_power_law(np.array([1.5, 2.0]))
    with pytest.raises(ValueError, match="at least 2"):
        fit_discrete_power_law(np.array([0, 0, 3]))
    with pytest.raises(ValueError, match="xmin must be"):
        fit_discrete_power_law(np.array([1, 2, 3]), xmin=9)
    with pytest.raises(ValueError, match="significance"):
        heavy_tail_test(np.array([1, 2, 3]), significance=1.5)
    with pytest.raises(ValueError, match="min_tail"):
        heavy_tail_test(np.array([1, 2, 3]), min_tail=0)
    with pytest.raises(ValueError, match="min_decades"):
        heavy_tail_test(np.array([1, 2, 3]), min_decades=-1)


def test_layer_degrees_heavy_tail_uses_the_binomial(trained):
    from setcourse.analysis.degrees import layer_degrees
    model, _, _ = trained
    result = layer_degrees(model.layers_[0]).heavy_tail("out", min_tail=10)
    assert result.primary.alternative == "binomial"
    assert result.primary.parameters["n"] == 20
