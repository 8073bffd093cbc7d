"""Enumeration oracles of tiny RBMs: log Z three ways, the exact gradient, AIS within its error."""
import numpy as np
import pytest
from scipy.special import logsumexp

from setcourse.rbm import ais_log_partition, base_rate_biases, default_betas, exact

from rbm.reference import binary_data, dense_state, tiny_model


def random_parameters(n_visible, n_hidden, seed, scale=1.0):
    rng = np.random.default_rng(seed)
    return (rng.normal(0, scale, (n_visible, n_hidden)), rng.normal(0, 0.5, n_visible),
            rng.normal(0, 0.5, n_hidden))


@pytest.mark.parametrize("shape", [(8, 6), (5, 9)])
def test_log_partition_by_either_layer_equals_the_joint_sum(shape):
    W, b, c = random_parameters(*shape, seed=1)
    V, H = exact.all_states(shape[0]), exact.all_states(shape[1])
    # Minus the joint energy of all 2^(n_v + n_h) pairs: no free energy, no analytic sum.
    neg_energy = (V @ b)[:, None] + (H @ c)[None, :] + V @ W @ H.T
    expected = logsumexp(neg_energy)
    assert exact.log_partition(W, b, c) == pytest.approx(expected, abs=1e-10)
    # The other side: the same Z through the transposed model.
    assert exact.log_partition(W.T, c, b) == pytest.approx(expected, abs=1e-10)


def test_visible_distribution_sums_to_one_and_matches_log_likelihood():
    W, b, c = random_parameters(8, 6, seed=2)
    states, p = exact.visible_distribution(W, b, c)
    assert p.sum() == pytest.approx(1.0, abs=1e-12)
    np.testing.assert_allclose(np.log(p), exact.log_likelihood(W, b, c, states), atol=1e-10)


def test_exact_gradient_equals_finite_differences_of_the_exact_log_likelihood():
    W, b, c = random_parameters(8, 6, seed=3)
    X = binary_data(25, 8, seed=3)
    dW, db, dc = exact.log_likelihood_gradient(W, b, c, X)
    step = 1e-5

    def mean_ll(W_, b_, c_):
        return exact.log_likelihood(W_, b_, c_, X).mean()

    for grad, which in ((dW, 0), (db, 1), (dc, 2)):
        numeric = np.zeros_like(grad)
        for index in np.ndindex(grad.shape):
            params = [W.copy(), b.copy(), c.copy()]
            params[which][index] += step
            up = mean_ll(*params)
            params[which][index] -= 2 * step
            numeric[index] = (up - mean_ll(*params)) / (2 * step)
        np.testing.assert_allclose(grad, numeric, atol=1e-7)


def test_model_free_energy_and_dense_parameters_match_the_enumeration():
    model = tiny_model()
    W, mask, b, c = dense_state(model)
    W2, b2, c2 = exact.dense_parameters(model)
    np.testing.assert_array_equal(W, W2)
    X = exact.all_states(8)
    np.testing.assert_allclose(model.free_energy(X), exact.free_energy(W, b, c, X), atol=1e-5)


def test_default_betas_follow_salakhutdinov_murray():
    betas = default_betas(14500)
    assert betas.size == 14501 and betas[0] == 0 and betas[-1] == 1
    assert np.all(np.diff(betas) > 0)
    assert np.sum(betas < 0.5) == 500 and np.sum((betas >= 0.5) & (betas < 0.9)) == 4000
    small = default_betas(29)
    assert small.size == 30 and np.all(np.diff(small) > 0)


@pytest.mark.parametrize("topology", ["fixprob", "dense"])
def test_ais_agrees_with_the_exact_log_partition_within_its_stated_error(topology):
    model = tiny_model(topology=topology, epsilon=2.0, weight_std=1.0)
    W, _, b, c = dense_state(model)
    truth = exact.log_partition(W, b, c)
    X = binary_data(200, 8, seed=5)
    result = ais_log_partition(model.weights_, model.intercept_visible_, model.intercept_hidden_,
                               base_rate_biases(X), n_chains=200, betas=2000,
                               rng=np.random.default_rng(0))
    assert result.log_z_low <= truth <= result.log_z_high, str(result)
    assert abs(result.log_z - truth) < 0.05
    assert 0 < result.log_z_sd < 0.05
    assert 1 <= result.effective_sample_size <= 200


def test_ais_from_the_uniform_base_and_a_few_betas_still_brackets_the_truth():
    model = tiny_model(epsilon=2.0, weight_std=0.5)
    W, _, b, c = dense_state(model)
    result = model.estimate_log_partition(n_chains=400, betas=300, seed=1)
    assert result.log_z_low <= exact.log_partition(W, b, c) <= result.log_z_high, str(result)


def test_average_log_likelihood_uses_the_interval_the_right_way_round():
    model = tiny_model(epsilon=2.0)
    W, _, b, c = dense_state(model)
    X = binary_data(50, 8, seed=6)
    result = model.estimate_log_partition(X, n_chains=100, betas=500)
    mean, low, high = model.average_log_likelihood(X, result)
    assert low <= mean <= high
    assert low <= exact.log_likelihood(W, b, c, X).mean() <= high
    np.testing.assert_allclose(model.log_likelihood(X, exact.log_partition(W, b, c)),
                               exact.log_likelihood(W, b, c, X), atol=1e-5)


def test_enumeration_refuses_large_layers():
    with pytest.raises(ValueError, match="min\\(n_visible, n_hidden\\) <= 20"):
        exact.log_partition(np.zeros((21, 22)), np.zeros(21), np.zeros(22))


@pytest.mark.parametrize("topology", ["fixprob", "dense"])
def test_ais_on_a_wide_visible_layer_agrees_with_enumerating_the_hidden_layer(topology):
    # 300 visible units (every kernel path over many rows), 10 hidden: exact over 2^10 states.
    model = tiny_model(n_visible=300, n_hidden=10, topology=topology, epsilon=3.0,
                       weight_std=0.3, bias_std=1.0)
    W, _, b, c = dense_state(model)
    truth = exact.log_partition(W, b, c)
    result = model.estimate_log_partition(n_chains=100, betas=3000, seed=4)  # uniform base
    assert result.log_z_low <= truth <= result.log_z_high, str(result)
    assert abs(result.log_z - truth) < 3 * result.log_z_sd + 0.02, str(result)
